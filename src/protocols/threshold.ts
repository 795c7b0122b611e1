/**
 * `thresholdSum`: a dropout-tolerant sum by Shamir t-of-n sharing over GF(2^127 − 1)
 * (protocols.md §5).
 *
 * 1. Deal: party i shares its encoded input with a fresh random polynomial f_i of degree t − 1,
 *    f_i(0) = x_i, and sends f_i(j) to party j (evaluation point = 1 + j's canonical index).
 * 2. Agree on dealers: every party reports (to everyone still present) the set of dealers whose
 *    shares it holds; Q = the dealers held by every reporter. A party whose share set is not a
 *    superset of Q cannot contribute and says so.
 * 3. Publish: party j sends T_j = Σ_{i∈Q} f_i(j) with a hash of Q. A point computed over a
 *    different Q aborts the run (the dealer reports are point-to-point, so a party that reports
 *    different dealer sets to different peers could otherwise make honest parties output sums
 *    over different dealers).
 * 4. Reconstruct: with r ≥ t points, check that all lie on one polynomial of degree t − 1 (any
 *    tampered share or partial sum breaks it when r > t); with r ≥ t + 2 the inconsistent points are
 *    named (up to ⌊(r − t)/2⌋ of them). S = the polynomial at 0.
 *
 * Up to n − t parties may drop after dealing; the sum then covers the dealers in Q, which the
 * result lists. At most t − 1 colluders learn nothing about an honest input. With exactly t points
 * there is no redundancy: a tampered point cannot be detected.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { CheatingDetectedError, ErrorCode, InvalidArgumentError, ValueError } from '../errors.js';
import type { Group } from '../group/group.js';
import { expectArray, expectBytes, expectRecord, expectString } from '../wire/shape.js';
import type { PlainData } from '../wire/codec.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { bytesEqual } from '../crypto/bytes.js';
import { checkDegree, decodeField, evaluationPoints, fVecAddInPlace, lagrangeAtZero, shamirShare, type ShamirPoint, type SumInput } from './math/index.js';
import { checkGroup, checkSumOptions, fieldFromBytes, fieldToBytes, prepareRun, roundOptions, type SumOptions, type SumResult } from './common.js';

/** Options of {@link thresholdSum}. */
export interface ThresholdSumOptions extends SumOptions {
  /** Reconstruction threshold t, 2 ≤ t ≤ n. Default ⌊n/2⌋ + 1. All parties must agree. */
  readonly t?: number;
}

async function sendTolerant(group: Group, round: string, to: readonly string[], payload: (peer: string) => PlainData): Promise<void> {
  await Promise.all(to.map((peer) => group.send(peer, round, payload(peer)).catch(() => undefined)));
}

const qHash = (q: readonly string[]): Uint8Array => new Uint8Array(createHash('sha256').update(JSON.stringify(q)).digest());

/**
 * Dropout-tolerant secure sum (Shamir t-of-n). Completes as long as at least t parties remain
 * after dealing; detects tampered shares or partial sums when more than t points are available.
 *
 * @param group - the group from `joinGroup`.
 * @param input - the value to sum.
 * @param options - `t` and the common options; every party must pass the same `t`.
 * @returns the sum of the inputs of `contributors` (the agreed dealers).
 * @throws {@link CheatingDetectedError} `TAMPERING_DETECTED` (culprits named when the redundancy
 *   allows); {@link ValueError} `TOO_FEW_PARTIES` when fewer than t remain.
 * @example
 * const { sum, contributors } = await thresholdSum(group, counts, { t: 3 });
 */
export async function thresholdSum(group: Group, input: SumInput, options: ThresholdSumOptions = {}): Promise<SumResult> {
  checkGroup(group);
  const o = checkSumOptions(group, options) as ThresholdSumOptions;
  const n = group.parties.length;
  const t = o.t ?? Math.floor(n / 2) + 1;
  if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw new InvalidArgumentError('"t" must be an integer');
  if (t < 2 || t > n) throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, `"t" must be in 2..${n} for ${n} parties (t = 1 gives no privacy), got ${t}`);
  const run = await prepareRun(group, 'threshold', input, o, 'p127', { t });
  const ro = roundOptions(o);
  const xs = evaluationPoints(n);
  const xOf = new Map(group.parties.map((p, i) => [p, xs[i]!]));

  // 1. Deal.
  const shares = shamirShare(run.encoded, t, xs);
  const myIndex = group.parties.indexOf(group.localId);
  const held = new Map<string, bigint[]>([[group.localId, shares[myIndex]!]]);
  await sendTolerant(group, `${run.runId}/deal`, group.peers, (peer) => ({ y: fieldToBytes(shares[group.parties.indexOf(peer)]!) }));
  const dealt = await group.gatherSome(`${run.runId}/deal`, t - 1, ro);
  for (const [peer, msg] of dealt) {
    const ctx = { what: 'Shamir share', peer };
    held.set(peer, fieldFromBytes(expectBytes(expectRecord(msg, ctx, ['y']).y, 'y', ctx), run.length, 'Shamir share', peer));
  }

  // 2. Agree on the dealers.
  const present = group.peers.filter((p) => !group.lostPeers.includes(p));
  const mySet = group.parties.filter((p) => held.has(p));
  await sendTolerant(group, `${run.runId}/dealers`, present, () => ({ d: mySet }));
  const reports = await group.gatherSome(`${run.runId}/dealers`, t - 1, { ...ro, from: present });
  let q = new Set(mySet);
  for (const [peer, msg] of reports) {
    const ctx = { what: 'dealer report', peer };
    const list = expectArray(expectRecord(msg, ctx, ['d']).d, 'd', ctx, n).map((d) => expectString(d, 'dealer', ctx, 64, PARTY_ID_PATTERN));
    const theirs = new Set(list);
    q = new Set([...q].filter((d) => theirs.has(d)));
  }
  const Q = group.parties.filter((p) => q.has(p));
  if (Q.length === 0) throw new ValueError(ErrorCode.TOO_FEW_PARTIES, 'no dealer is held by every remaining party');

  // 3. Publish partial sums over Q.
  const partial = new Array<bigint>(run.length).fill(0n);
  for (const d of Q) fVecAddInPlace(partial, held.get(d)!);
  const myQ = qHash(Q);
  const reporters = [...reports.keys()];
  await sendTolerant(group, `${run.runId}/partial`, reporters, () => ({ q: myQ, y: fieldToBytes(partial) }));
  const published = await group.gatherSome(`${run.runId}/partial`, t - 1, { ...ro, from: reporters });

  // 4. Check and reconstruct.
  const points: ShamirPoint[] = [{ x: xOf.get(group.localId)!, y: partial }];
  const owners: string[] = [group.localId];
  for (const [peer, msg] of published) {
    const ctx = { what: 'partial sum', peer };
    const rec = expectRecord(msg, ctx, ['q', 'y']);
    if (!bytesEqual(expectBytes(rec.q, 'q', ctx, 32), myQ)) {
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        `"${peer}" summed over a different set of dealers than this party: the dealer reports disagreed (a party reported different dealer sets to different parties, or a report was lost)`,
        { description: 'partial sums computed over different agreed dealer sets; aborted so that honest parties cannot output different sums', statements: [] },
      );
    }
    points.push({ x: xOf.get(peer)!, y: fieldFromBytes(expectBytes(rec.y, 'y', ctx), run.length, 'partial sum', peer) });
    owners.push(peer);
  }
  if (points.length < t) {
    throw new ValueError(ErrorCode.TOO_FEW_PARTIES, `only ${points.length} consistent partial sums, ${t} needed`, {
      peers: group.parties.filter((p) => !owners.includes(p)),
    });
  }
  if (points.length > t) {
    const check = checkDegree(points, t);
    if (!check.ok) {
      const culprits = (check.suspects ?? []).map((i) => owners[i]!);
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        culprits.length > 0
          ? `inconsistent partial sums from ${culprits.map((c) => `"${c}"`).join(', ')} (a tampered share or partial sum)`
          : 'the partial sums do not lie on one polynomial (a tampered share or partial sum); too little redundancy to name the culprit',
        { description: `Shamir degree check failed over ${points.length} points with t = ${t}`, statements: [] },
        { peers: culprits },
      );
    }
  }
  const sum = lagrangeAtZero(points.slice(0, Math.max(t, points.length)));
  return {
    sum: decodeField(run.shape, sum, run.params),
    protocol: 'thresholdSum',
    contributors: Q,
    runId: run.runId,
    elapsedMs: Date.now() - run.startedAt,
  };
}
