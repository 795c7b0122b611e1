/**
 * Baselines, for comparisons and teaching only. Each refuses to run unless the caller passes
 * `acknowledgeInsecure: true`.
 *
 * - {@link ringSecureSum}: the classic ring secure sum (Clifton et al. 2002, protocols.md §1) and,
 *   with `passes: k`, the k-secure sum (Sheikh et al. 2009, §2): each input is split into k
 *   segments and the ring runs k times. Two neighbours of a party learn its input by subtracting;
 *   any party can add an undetectable offset.
 * - {@link plainSum}: no privacy at all — every party sends its encoded input to every other (a
 *   long one in pieces, added up as they arrive). The reference point for benchmarks over the
 *   same channels.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { Group } from '../group/group.js';
import { expectBytes, expectRecord } from '../wire/shape.js';
import { _mirrorOutput, decodeRing64, r64AddBytesInPlace, r64AddInPlace, r64Random, r64SubInPlace, r64ToBytes, r64Zeros, type SumInputLike, type SumOutputOf } from './math/index.js';
import {
  PIECE_ELEMENTS,
  checkGroup,
  checkSumOptions,
  exchangePieces,
  pieceBytes,
  pieceCount,
  prepareRun,
  refusedBeforeRun,
  requireInsecureAck,
  ringFromBytes,
  roundOptions,
  seedHex,
  type PreparedRun,
  type SumOptions,
  type SumResult,
} from './common.js';

/** Options of the baselines: the explicit acknowledgement is required. */
export interface BaselineOptions extends SumOptions {
  /** Must be `true`: this protocol is insecure under collusion (or gives no privacy at all). */
  readonly acknowledgeInsecure: boolean;
}

/** Options of {@link ringSecureSum}. */
export interface RingSumOptions extends BaselineOptions {
  /** Ring passes (segments per input). 1 = Clifton's ring; k > 1 = k-secure sum. Default 1. */
  readonly passes?: number;
}

/**
 * Ring secure sum (Clifton) / k-secure sum (Sheikh), in the canonical order of the roster.
 * The first party masks with a random R and, after the last pass, announces S = V − R.
 * INSECURE under collusion of two neighbours. Baseline only.
 *
 * @throws {@link ValueError} `PARAMETERS_UNSAFE` unless `acknowledgeInsecure: true`.
 */
export async function ringSecureSum<I extends SumInputLike<I>>(group: Group, input: I, options: RingSumOptions): Promise<SumResult<SumOutputOf<I>>> {
  checkGroup(group);
  const { o, passes } = refusedBeforeRun(group, 'ring', () => {
    requireInsecureAck(options, 'ringSecureSum');
    const o = checkSumOptions(group, options) as RingSumOptions;
    const passes = o.passes ?? 1;
    if (!Number.isSafeInteger(passes) || passes < 1 || passes > 64) throw new InvalidArgumentError('"passes" must be an integer in 1..64');
    return { o, passes };
  });
  const run = await prepareRun(group, 'ring', input, o, 'ring64', { passes });
  const r = await run.progress.around(() => ringPasses(group, run, o, passes));
  return { ...r, sum: _mirrorOutput(input, r.sum) as SumOutputOf<I> };
}

async function ringPasses(group: Group, run: PreparedRun<Uint32Array>, o: RingSumOptions, passes: number): Promise<SumResult> {
  run.progress.phase('share');
  const ro = roundOptions(o);
  const order = group.parties;
  const me = order.indexOf(group.localId);
  const next = order[(me + 1) % order.length]!;
  const prev = order[(me - 1 + order.length) % order.length]!;
  // k segments of x: k − 1 random, the last fixes the sum.
  const segments: Uint32Array[] = [];
  const last = run.encoded.slice();
  for (let p = 0; p < passes - 1; p++) {
    const s = r64Random(run.length);
    r64SubInPlace(last, s);
    segments.push(s);
  }
  segments.push(last);
  let sum: Uint32Array;
  if (me === 0) {
    const r = r64Random(run.length);
    let v = r.slice();
    for (let p = 0; p < passes; p++) {
      r64AddInPlace(v, segments[p]!);
      await group.send(next, `${run.runId}/pass${p}`, { v: r64ToBytes(v) }, ro);
      const msg = await group.receive(prev, `${run.runId}/pass${p}`, ro);
      const ctx = { what: 'ring value', peer: prev };
      v = ringFromBytes(expectBytes(expectRecord(msg, ctx, ['v']).v, 'v', ctx), run.length, 'ring value', prev).slice();
    }
    sum = r64SubInPlace(v, r);
    await group.sendToAll(`${run.runId}/result`, { v: r64ToBytes(sum) }, group.peers, ro);
  } else {
    for (let p = 0; p < passes; p++) {
      const msg = await group.receive(prev, `${run.runId}/pass${p}`, ro);
      const ctx = { what: 'ring value', peer: prev };
      const v = ringFromBytes(expectBytes(expectRecord(msg, ctx, ['v']).v, 'v', ctx), run.length, 'ring value', prev).slice();
      r64AddInPlace(v, segments[p]!);
      await group.send(next, `${run.runId}/pass${p}`, { v: r64ToBytes(v) }, ro);
    }
    const first = order[0]!;
    const msg = await group.receive(first, `${run.runId}/result`, ro);
    const ctx = { what: 'ring result', peer: first };
    sum = ringFromBytes(expectBytes(expectRecord(msg, ctx, ['v']).v, 'v', ctx), run.length, 'ring result', first);
  }
  return {
    sum: decodeRing64(run.shape, sum, run.params),
    protocol: passes === 1 ? 'ringSecureSum' : `kSecureSum(k=${passes})`,
    contributors: group.parties,
    runId: run.runId,
    seed: seedHex(run.seed),
    elapsedMs: Date.now() - run.startedAt,
  };
}

/**
 * No privacy: every party sends its encoded input to every other party and adds them up. The
 * benchmark baseline (same channels, same encoding, no secret sharing). Baseline only.
 *
 * @throws {@link ValueError} `PARAMETERS_UNSAFE` unless `acknowledgeInsecure: true`.
 */
export async function plainSum<I extends SumInputLike<I>>(group: Group, input: I, options: BaselineOptions): Promise<SumResult<SumOutputOf<I>>> {
  checkGroup(group);
  const o = refusedBeforeRun(group, 'plain', () => {
    requireInsecureAck(options, 'plainSum');
    return checkSumOptions(group, options);
  });
  const run = await prepareRun(group, 'plain', input, o, 'ring64');
  const r = await run.progress.around(async () => {
    run.progress.phase('open');
    const round = `${run.runId}/value`;
    if (run.length > PIECE_ELEMENTS) {
      // A long vector goes in pieces, added up as they arrive (memory ≈ input + sum, not n·8L).
      // The sum is accumulated in the encoded input itself: each piece is added once this party's
      // own piece has been copied out to the channels (see exchangePieces).
      const sum = run.encoded;
      const bytes = r64ToBytes(sum);
      const pieceLength = PIECE_ELEMENTS * 8;
      await exchangePieces(
        group,
        {
          round,
          count: pieceCount(run.length),
          from: group.peers,
          bytesPerPeer: bytes.length,
          send: (i) => group.sendToAll(`${round}/p${i}`, bytes.subarray(i * pieceLength, Math.min(bytes.length, (i + 1) * pieceLength))),
          onPiece: (i, got) => {
            const at = i * PIECE_ELEMENTS;
            const n = Math.min(PIECE_ELEMENTS, run.length - at);
            const target = sum.subarray(2 * at, 2 * (at + n));
            r64AddBytesInPlace(target, [...got].map(([peer, piece]) => pieceBytes(piece, n, 'plain value piece', i, peer)));
          },
        },
        roundOptions(o),
      );
      return plainResult(group, run, sum);
    }
    await group.sendToAll(round, { v: r64ToBytes(run.encoded) }, group.peers, roundOptions(o));
    const got = await group.gather(round, roundOptions(o));
    const sum = r64Zeros(run.length);
    r64AddInPlace(sum, run.encoded);
    for (const [peer, msg] of got) {
      const ctx = { what: 'plain value', peer };
      r64AddInPlace(sum, ringFromBytes(expectBytes(expectRecord(msg, ctx, ['v']).v, 'v', ctx), run.length, 'plain value', peer));
    }
    return plainResult(group, run, sum);
  });
  return { ...r, sum: _mirrorOutput(input, r.sum) as SumOutputOf<I> };
}

function plainResult(group: Group, run: PreparedRun<Uint32Array>, sum: Uint32Array): SumResult {
  return {
    // The sum is this run's own (the encoded input or a fresh vector): decoded in place.
    sum: decodeRing64(run.shape, sum, run.params, true),
    protocol: 'plainSum',
    contributors: group.parties,
    runId: run.runId,
    seed: seedHex(run.seed),
    elapsedMs: Date.now() - run.startedAt,
  };
}
