/**
 * `dkSecureSum`: segment redistribution over a k-regular share graph, then committed and opened
 * partial sums (protocols.md §3, the form to ship; the paper's ring pass leaks and is not used).
 *
 * 1. Every party derives the same share graph from the run seed: each party sends
 *    segments to k − 1 receivers and receives from k − 1 senders (ring offsets on a
 *    permutation seeded by the coin-tossed run seed, see `prepareRun`).
 * 2. Party p splits x_p into k segments (k − 1 as PRG seeds, sent to its receivers; it keeps the
 *    last one) and sums what it holds into T_p.
 * 3. T_p is committed, echo-checked and opened; S = Σ T_p. Default for n ≥ 4 the aggregated
 *    opening (`opening: 'aggregate'`, see `aggregate.ts`): each of n chunks of the masked T_p is
 *    summed by one aggregator and checked by a fingerprint drawn after the answers; below 4
 *    parties, or with `opening: 'broadcast'`, every T_p goes to every party.
 *
 * Collusion threshold: x_v stays hidden unless the coalition holds all of v's k − 1 receivers and
 * all of v's k − 1 senders; the smallest coalition that learns some party's input has
 * `collusionThreshold(n, k) = min(2(k − 1), n − 1)` members. k = n is additive n-out-of-n sharing.
 * Bytes per party: segments k − 1 seeds (or k − 1 vectors with `shares: 'vector'`), constant in n;
 * opening ≈ 17L·(n − 1)/n < 17L with the aggregated opening, also constant in n (plus echo
 * rounds of O(n) small signed values per party), against (n − 1)·8L with `opening: 'broadcast'`.
 * Integrity of the aggregated opening does not depend on who aggregates (see `sumcheck.ts`).
 * @module
 */
import { InvalidArgumentError, ValueError, ErrorCode } from '../errors.js';
import type { Group } from '../group/group.js';
import { collusionThreshold, receivers, senders, shareGraph, type SumInputLike, type SumOutputOf } from './math/index.js';
import { SeededPartial, checkOpening, collectAdditive, dealAdditive, openPartials, relayHint, resolveOpening, ring64Result, shareVectorPieces, type SecureSumOptions } from './additive.js';
import { PIECE_ELEMENTS, agreeRun, checkGroup, checkSumOptions, encodeRun, refusedBeforeRun, roundOptions, seedFor, type SumResult } from './common.js';

/** Options of {@link dkSecureSum}. */
export interface DkSecureSumOptions extends SecureSumOptions {
  /** Segments per input, 2 ≤ k ≤ n. Default min(n, 4). All parties must agree. */
  readonly k?: number;
}

/**
 * dk-secure sum: each input is split into k segments spread over a coin-tossed k-regular
 * graph. Bytes per party are constant in n (segment phase: k − 1 seeds; opening: the aggregated
 * opening, default for n ≥ 4); privacy holds against coalitions smaller than
 * `collusionThreshold(n, k)`.
 *
 * @param group - the group from `joinGroup`.
 * @param input - the value to sum (see {@link secureSum}; leave it unchanged until the sum returns).
 * @param options - `k`, `opening` and the common options; every party must pass the same `k`
 *   and `opening` (default `'aggregate'` for n ≥ 4, `'broadcast'` below).
 * @returns the sum, identical at every honest party.
 * @throws as {@link secureSum} (with the aggregated opening, {@link CheatingDetectedError}
 *   names an aggregator whose chunk sum is not the sum of the committed partial sums, or a party
 *   whose fingerprint is not that of its committed partial sum);
 *   {@link ValueError} `PARAMETERS_UNSAFE` for k outside 2..n.
 * @example
 * const { sum } = await dkSecureSum(group, histogram, { k: 4 });
 */
export async function dkSecureSum<I extends SumInputLike<I>>(group: Group, input: I, options: DkSecureSumOptions = {}): Promise<SumResult<SumOutputOf<I>>> {
  checkGroup(group);
  const n = group.parties.length;
  const { o, k, mode, requested } = refusedBeforeRun(group, 'dk', () => {
    const o = checkSumOptions(group, options) as DkSecureSumOptions;
    const k = o.k ?? Math.min(n, 4);
    if (typeof k !== 'number' || !Number.isSafeInteger(k)) throw new InvalidArgumentError('"k" must be an integer');
    if (k < 2 || k > n) throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, `"k" must be in 2..${n} for ${n} parties, got ${k}`);
    const mode = o.shares ?? 'seed';
    if (mode !== 'seed' && mode !== 'vector') throw new InvalidArgumentError('"shares" must be "seed" or "vector"');
    return { o, k, mode, requested: checkOpening(group, o.opening) };
  });
  const fallback = n >= 4 ? 'aggregate' : 'broadcast';
  const local = encodeRun(group, 'dk', input, o, 'ring64', { k, shares: mode, threshold: collusionThreshold(n, k), opening: requested ?? fallback });
  const hint = requested === undefined ? relayHint(group, local.length) : undefined;
  const run = await agreeRun(group, local, o, hint);
  const sum = await run.progress.around(async () => {
    const opening = await resolveOpening(requested, hint, fallback, Promise.resolve(run));
    run.progress.phase('share');
    const graph = shareGraph(group.parties, k, seedFor(run.seed, 'dk share graph'));
    const to = receivers(graph, group.localId);
    const from = senders(graph, group.localId);
    // Seeds only, and an opening that keeps the sum where the partial sum was: keep what the
    // partial sum is made of, so the opening can rebuild it (see SeededPartial).
    const source = mode === 'seed' && opening !== 'broadcast' ? new SeededPartial(input, run.params) : undefined;
    // Long share vectors go in pieces, as secureSum's: one message of 8L bytes passed
    // maxMessageBytes (L > 2^25 at the defaults) and failed every honest dealer.
    const partial =
      mode === 'vector' && run.length > PIECE_ELEMENTS
        ? await shareVectorPieces(group, `${run.runId}/segment`, run.encoded, to, from, run.length, o)
        : await collectAdditive(group, `${run.runId}/segment`, await dealAdditive(group, `${run.runId}/segment`, run.encoded, to, mode, source, roundOptions(o)), from, run.length, o, source);
    run.progress.phase('open');
    return openPartials(group, `${run.runId}/partial`, partial, run.length, o, opening, undefined, source);
  });
  return ring64Result(group, input, run, sum, 'dkSecureSum');
}
