/**
 * The relayed opening (`opening: 'relay'`): the relay adds the parties' masked partial sums and
 * streams one sum back, so each party moves ≈ 8L up and 9L down instead of (n − 1)·8L, and the
 * relay's link n·17L instead of n·(n − 1)·8L. The relay learns nothing and cannot change the sum
 * unnoticed: the check is the aggregated opening's (`sumcheck.ts`), with the relay as the one
 * aggregator. The argument, the attacks and the relay's bound: docs/design.md, "The aggregating
 * relay"; the relay's side: `relay/aggregate.ts`; the wire format: `relay/aggregate-wire.ts`.
 *
 * Rounds below `<round>` (message rounds between the parties, over their end-to-end channels):
 * 1. `c` (echo, 2): p's signed {c_last, k_p, rk}: its upload's hash chain, its mask commitment
 *    and the relay key it was given — while the upload and the answer stream run.
 * 2. `mask` (1): σ_p, once p holds and checked the relay's signed answer and the shape agreement
 *    (`gate`) passed.
 * 3. `check` (echo, 2): p's signed {v, f}: v = hash of the relay's answer statement, f = the
 *    fingerprint of every chunk of U_p under weights drawn from all σ.
 * 4. `dispute` (1, only after a rejection): the relay statement held, the chunk hashes, and the
 *    first failing chunk of U_p.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { CheatingDetectedError, ErrorCode, GroupError, InvalidArgumentError, ValueError, type CheatingEvidence } from '../errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { bytesEqual, decodeBase64Strict, encodeBase64 } from '../crypto/bytes.js';
import { echoBroadcast, encodeEvidence } from '../group/echo.js';
import type { Group, RoundOptions } from '../group/group.js';
import { MIN_OPENING_BYTES_PER_SECOND } from '../group/commit.js';
import { withDeadline } from '../channel/driver.js';
import { decodeMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectBytes, expectRecord, expectUint } from '../wire/shape.js';
import { r64FromBytes, r64ToBytes, r64Zeros, type Ring64Vector } from './math/index.js';
import { carriesFromBytes, carriesToBytes, carriesZeros, carryWidth, fingerprintAdd, fingerprintFromBytes, fingerprintToBytes, r64AddWithCarries, r64Fingerprint, FINGERPRINT_BYTES } from './math/fingerprint.js';
import { checkPoint, maskCommitment, maskInPlace, MASK_DOMAIN, MASK_SEED_BYTES, openMasks, unmaskInPlace } from './sumcheck.js';
import { _SeedStream } from './math/prg.js';
import type { SeededPartial } from './additive.js';
import {
  AGGREGATE_CHUNK_ELEMENTS,
  AGGREGATE_WIRE_STATEMENT,
  aggregateChunkCount,
  aggregateChunkLength,
  answerChainStart,
  answerChunkHash,
  answerStatement,
  chainNext,
  chainStart,
  chunkHash,
  encodeUploadChunk,
  uploadStatement,
} from '../relay/aggregate-wire.js';
import { openRelayAggregation, RelayAggregateMismatchError, RelayOpeningError, type AggregateAnswer } from '../relay/aggregate-client.js';
import { RelayError, isTransientRefusal } from '../relay/protocol.js';

/** Statement types the parties sign in the relayed opening. */
export const RELAY_OPENING_STATEMENT = {
  /** `{t, s, e, r, from, c, k, rk}`: the upload's hash chain, the mask commitment, the relay key. */
  commit: 'coupler/1 relay opening commit',
  /** `{t, s, e, r, from, v, f}`: the hash of the relay's answer statement and the chunk fingerprints. */
  check: 'coupler/1 relay opening check',
} as const;

/** Smallest vector for which the default opening of a fully relayed group is `'relay'` (below it the broadcast's extra bytes cost less than the relayed opening's extra message rounds). */
export const RELAY_OPENING_MIN_ELEMENTS = AGGREGATE_CHUNK_ELEMENTS;

const AGG_TAG = 'coupler/1 relay opening aggregation';
const WEIGHT_TAG = Buffer.from('coupler/1 relay opening chunk weights\0', 'utf8');

/**
 * The relay cheated, and this party is sure of it: `TAMPERING_DETECTED` (an answer that is not the
 * sum of the committed uploads, or a signed answer that misreports a member or belongs to another
 * aggregation) or `EQUIVOCATION` (two different signed answers). `peers` is empty — the relay is
 * not a party; `relayUrl` and `relayKey` name it, and `evidence.statements` holds its signed
 * answers (`{signer: 'relay', statement, signature}` encoded as the parties' evidence is).
 * (An answer signed for another aggregation convicts the relay only over `wss://`: over `ws://`
 * the path can replay one, and it is a {@link RelayOpeningError}.)
 */
export class RelayCheatingError extends CheatingDetectedError {
  /** The relay's URL. */
  readonly relayUrl: string;
  /** The key it signed its answer with (the one every party echoed). */
  readonly relayKey: Uint8Array;
  constructor(code: typeof ErrorCode.TAMPERING_DETECTED | typeof ErrorCode.EQUIVOCATION, relayUrl: string, relayKey: Uint8Array, message: string, evidence: CheatingEvidence) {
    super(code, `${message} (relay ${relayUrl})`, evidence, { peers: [] });
    this.relayUrl = relayUrl;
    this.relayKey = Uint8Array.from(relayKey);
  }
}

/** The aggregation id of a run's opening: unique per (session, epoch, round, members). @internal */
export function aggregationId(group: Group, round: string): string {
  return createHash('sha256').update(encodeMessage([AGG_TAG, group.sessionId, group.epoch, round, [...group.parties]])).digest('hex');
}

/** The fingerprint seed of chunk `i`: SHA-256(tag ‖ check point ‖ i). @internal */
export function chunkWeightSeed(point: Uint8Array, i: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(i, 0);
  return new Uint8Array(createHash('sha256').update(WEIGHT_TAG).update(point).update(b).digest());
}

/** `{t, s, e, r, from, c, k, rk}`. @internal */
export function relayCommitStatement(session: string, epoch: Uint8Array, round: string, from: string, c: Uint8Array, k: Uint8Array, rk: Uint8Array): Uint8Array {
  return encodeMessage({ t: RELAY_OPENING_STATEMENT.commit, s: session, e: epoch, r: round, from, c, k, rk });
}

/** `{t, s, e, r, from, v, f}`. @internal */
export function relayCheckStatement(session: string, epoch: Uint8Array, round: string, from: string, v: Uint8Array, f: Uint8Array): Uint8Array {
  return encodeMessage({ t: RELAY_OPENING_STATEMENT.check, s: session, e: epoch, r: round, from, v, f });
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/**
 * Whether this party can run the relayed opening: the group was joined with a relay and every one
 * of its channels runs through it. @internal
 */
export function allChannelsRelayed(group: Group): boolean {
  return group._relayUrl !== undefined && group.stats().every((s) => s.path === 'relay');
}

/**
 * The relayed opening of this party's committed partial sum `partial` (L = `length` elements):
 * returns S = Σ_p T_p, identical at every honest party that returns. `partial` is consumed (masked
 * in place). Nothing before the mask opening depends on `partial` unmasked, so a caller may start
 * this before its shape agreement completes and pass the agreement as `gate`.
 *
 * With `rebuild` (the input and seed shares `partial` was made of), the answer is received over
 * `partial` itself and U_p is rebuilt chunk by chunk for the fingerprints (and a dispute), each
 * chunk checked against the hash it was uploaded under; a rebuilt chunk that differs (the
 * caller's input changed during the run) throws {@link ValueError} `VALUE_INVALID`.
 *
 * @throws {@link RelayCheatingError} naming the relay (certain); {@link CheatingDetectedError}
 *   naming a party (certain, signed evidence); {@link RelayOpeningError} naming the relay when it
 *   failed without proof (a timeout, a cut, a malformed message, a key that differs between
 *   parties; `suspects` lists the parties its report concerns); `RelayError` when it refuses;
 *   {@link TimeoutError}/{@link GroupError} naming missing or lost peers.
 * @internal used by `openPartials`.
 */
export async function openRelayed(
  group: Group,
  round: string,
  partial: Ring64Vector,
  length: number,
  options: RoundOptions = {},
  gate?: Promise<unknown>,
  rebuild?: SeededPartial,
): Promise<Ring64Vector> {
  const relayUrl = group._relayUrl;
  if (relayUrl === undefined) throw new InvalidArgumentError('opening "relay" needs a group joined with a relay (transport "relay")');
  const me = group.localId;
  const session = group.sessionId;
  const epoch = group.epoch;
  const sk = group.identity.secretKey;
  const parties = group.parties;
  const n = parties.length;
  const width = carryWidth(n);
  const agg = aggregationId(group, round);
  const count = aggregateChunkCount(length);
  const lastLen = 8 * aggregateChunkLength(length, count - 1);
  const chunkOf = (b: Uint8Array, i: number): Uint8Array => b.subarray(8 * i * AGGREGATE_CHUNK_ELEMENTS, 8 * Math.min(length, (i + 1) * AGGREGATE_CHUNK_ELEMENTS));

  // 1. Mask, and hash the masked vector into the chain the upload will carry.
  const sigma = new Uint8Array(randomBytes(MASK_SEED_BYTES));
  maskInPlace(partial, sigma);
  const mine = r64ToBytes(partial);
  const hashes = new Uint8Array(32 * count);
  const chains = new Uint8Array(32 * count);
  let c = chainStart(session, agg, me, length, parties);
  for (let i = 0; i < count; i++) {
    const h = chunkHash(i, chunkOf(mine, i));
    c = chainNext(c, h);
    hashes.set(h, 32 * i);
    chains.set(c, 32 * i);
  }
  const cLast = c;

  // 2. The relay: admission, then upload and answer stream (into `view`), under one deadline.
  // With `rebuild`, the view is `partial` itself: answer chunk i overwrites U_p's chunk i, which
  // has been copied into its upload message by then (the relay cannot sum chunk i before it), and
  // U_p is rebuilt from what it was made of for the fingerprints (and a dispute).
  const view = rebuild === undefined ? r64Zeros(length) : partial;
  let uploaded = -1;
  const viewBytes = r64ToBytes(view);
  const viewCarries = carriesZeros(length, n);
  let answerChain = answerChainStart(session, agg);
  const roundMs = options.timeoutMs ?? group.roundTimeoutMs;
  const openingMs = roundMs + Math.ceil((1000 * 17 * length) / MIN_OPENING_BYTES_PER_SECOND);
  const openedAt = Date.now();
  // While it waits for the relay (admission, then the answer), this party waits for the other
  // members' uploads: its probe answers say so, or a relay that answers it late got it named by
  // the members ahead, whose mask round has only the round deadline (review8 R8-7).
  const others = parties.filter((p) => p !== me);
  const conn = await group._waitingOn(others, admitRetrying(openedAt + openingMs, options.signal, gate, {
    relayUrl,
    identity: group.identity,
    roster: group.roster,
    sessionId: session,
    localId: me,
    agg,
    parties,
    length,
    admissionTimeoutMs: roundMs,
    onChunk: (i, sum, carries) => {
      const at = i * AGGREGATE_CHUNK_ELEMENTS;
      const len = sum.length / 8;
      if (view === partial && i > uploaded) {
        throw new RelayOpeningError(ErrorCode.PROTOCOL_VIOLATION, relayUrl, `relayed opening: the relay sent the sum of chunk ${i} before this party uploaded that chunk (relay ${relayUrl})`);
      }
      if (carriesFromBytes(carries, len, width, n - 1, viewCarries, at) === undefined) {
        throw new RelayOpeningError(ErrorCode.PROTOCOL_VIOLATION, relayUrl, `relayed opening: the relay sent a carry of ${n} or more in chunk ${i} (relay ${relayUrl})`);
      }
      viewBytes.set(sum, 8 * at);
      answerChain = chainNext(answerChain, answerChunkHash(i, sum, carries));
    },
  })).catch((err: unknown) => {
    // A member that comes after the aggregation ended gets the relay's abort at admission, with
    // the same evidence the others got (a party's signed upload of the wrong size names it).
    throw blameUpload(group, err, agg, length, count);
  });
  const rk = conn.relayKey;
  let answer: AggregateAnswer;
  let committed: Map<string, PlainData>;
  try {
    const k = maskCommitment(group, round, me, sigma);
    const echo = echoBroadcast(group, `${round}/c`, { c: cLast, k, rk, sig: ed25519Sign(relayCommitStatement(session, epoch, round, me, cLast, k, rk), sk) }, options);
    const upload = conn.upload((i) => {
      const payload = chunkOf(mine, i);
      uploaded = Math.max(uploaded, i);
      const st = uploadStatement(session, agg, me, i, payload.length, chains.subarray(32 * i, 32 * i + 32));
      return encodeUploadChunk(i, ed25519Sign(st, sk), payload);
    });
    const answered = group._waitingOn(others, withDeadline(conn.answer, openingMs, () => noAnswer(round, relayUrl, openingMs, conn.waiting()), options.signal));
    [committed, , answer] = await Promise.all([echo, upload, answered]);
  } catch (err) {
    conn.close();
    throw blameUpload(group, err, agg, length, count);
  }
  conn.close();

  // 3. The answer: signed by the relay over what this party received, every member's entry its
  // own signed last chunk, and (after the echo) the chain that member committed to.
  const relayEvidence = (st: Uint8Array, sig: Uint8Array): Uint8Array => encodeEvidence({ signer: `relay ${encodeBase64(rk)}`, statement: st, signature: sig });
  const expected = answerStatement(session, agg, parties, length, answer.members, answerChain);
  if (!ed25519Verify(expected, answer.signature, rk)) {
    // A signed statement of another aggregation is a replay. Over wss:// only the relay can have
    // sent it (TLS authenticates the relay's end), so it is the relay's for certain; over ws://
    // anyone on the path can replay a statement the relay signed for an earlier aggregation (every
    // answer crosses the network in clear), so it proves nothing against the relay. One of this
    // aggregation over other chunks than this party received may be the path's doing as well (the
    // answer chunks are not authenticated before the relay's signature): no proof either.
    const replay = ed25519Verify(answer.statement, answer.signature, rk) && !isAnswerOf(answer.statement, session, agg, parties, length);
    if (replay && !/^wss:/i.test(relayUrl)) {
      throw new RelayOpeningError(
        ErrorCode.PROTOCOL_VIOLATION,
        relayUrl,
        `relayed opening of round "${round}": the answer is one the relay signed for another aggregation — replayed by the relay or, over ws://, by the path to it (relay ${relayUrl})`,
      );
    }
    if (replay) {
      throw new RelayCheatingError(ErrorCode.TAMPERING_DETECTED, relayUrl, rk, `relayed opening of round "${round}": the relay answered with a statement it signed for another aggregation (a replay)`, {
        description: 'a relay-signed answer statement of another session, aggregation, member list or length',
        statements: [relayEvidence(answer.statement, answer.signature)],
      });
    }
    throw new RelayOpeningError(ErrorCode.PROTOCOL_VIOLATION, relayUrl, `relayed opening of round "${round}": the relay's signed answer is not over the answer chunks this party received — the relay or the path to it altered them (relay ${relayUrl})`);
  }
  const evidence = [relayEvidence(expected, answer.signature)];
  parties.forEach((q, idx) => {
    const m = answer.members[idx]!;
    const ok = m.i === count - 1 && m.len === lastLen && ed25519Verify(uploadStatement(session, agg, q, m.i, m.len, m.c), m.sig, group.roster.get(q)!.publicKey) && (q !== me || bytesEqual(m.c, cLast));
    if (!ok) {
      throw new RelayCheatingError(ErrorCode.TAMPERING_DETECTED, relayUrl, rk, `relayed opening of round "${round}": the relay's signed answer misreports the upload of "${q}"`, {
        description: "a relay-signed answer whose entry for a member is not that member's signed last upload chunk",
        statements: evidence,
      });
    }
  });
  const maskCommitments = new Map<string, Uint8Array>();
  const chainOf = new Map<string, Uint8Array>();
  const commitEvidence = new Map<string, Uint8Array>();
  const otherKeys: string[] = [];
  for (const p of parties) {
    const ctx = { what: `commitment of round "${round}"`, peer: p };
    const rec = expectRecord(committed.get(p)!, ctx, ['c', 'k', 'rk', 'sig']);
    const cp = expectBytes(rec.c, 'c', ctx, 32);
    const kp = expectBytes(rec.k, 'k', ctx, 32);
    const rkp = expectBytes(rec.rk, 'rk', ctx, 32);
    const st = relayCommitStatement(session, epoch, round, p, cp, kp, rkp);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a commitment with an invalid signature in round "${round}"`, { peer: p });
    if (!bytesEqual(rkp, rk)) otherKeys.push(p);
    maskCommitments.set(p, kp);
    chainOf.set(p, cp);
    commitEvidence.set(p, encodeEvidence({ signer: p, statement: st, signature: sig }));
  }
  if (otherKeys.length > 0) {
    throw new RelayOpeningError(
      ErrorCode.PROTOCOL_VIOLATION,
      relayUrl,
      `relayed opening of round "${round}": ${otherKeys.map((p) => `"${p}"`).join(', ')} report a different relay key than this party was given — the relay gave different keys, or they misreport it (relay ${relayUrl})`,
      { suspects: otherKeys },
    );
  }
  parties.forEach((q, idx) => {
    const m = answer.members[idx]!;
    if (bytesEqual(m.c, chainOf.get(q)!)) return;
    throw new CheatingDetectedError(
      ErrorCode.COMMITMENT_MISMATCH,
      `party "${q}" uploaded to the relay another vector than the one it committed to in round "${round}"`,
      {
        description: "the party's signed last upload chunk (as the relay reports it, in its signed answer) ends a hash chain other than the one the party's signed commitment names",
        statements: [commitEvidence.get(q)!, encodeEvidence({ signer: q, statement: uploadStatement(session, agg, q, m.i, m.len, m.c), signature: m.sig }), ...evidence],
      },
      { peer: q },
    );
  });

  // 4. Masks, opened only now: every honest party's view of the answer is fixed.
  if (gate !== undefined) await gate;
  const sigmas = await openMasks(group, `${round}/mask`, sigma, maskCommitments, round, options);
  const point = checkPoint(group, round, sigmas);

  // 5. Check: echo {v, f} (signed); every party derives the same verdict from the echoed data.
  const span = (i: number): [number, number] => [i * AGGREGATE_CHUNK_ELEMENTS, Math.min(length, (i + 1) * AGGREGATE_CHUNK_ELEMENTS)];
  const f = new Uint8Array(FINGERPRINT_BYTES * count);
  const fingerprintChunk = (i: number, u: Ring64Vector): void => f.set(fingerprintToBytes(r64Fingerprint(chunkWeightSeed(point, i), u)), FINGERPRINT_BYTES * i);
  if (rebuild === undefined) {
    for (let i = 0; i < count; i++) {
      const [a, b] = span(i);
      fingerprintChunk(i, partial.subarray(2 * a, 2 * b));
    }
  } else rebuildChunks(round, rebuild, sigma, length, count, hashes, fingerprintChunk);
  const v = sha256(expected);
  const echoed = await echoBroadcast(group, `${round}/check`, { v, f, sig: ed25519Sign(relayCheckStatement(session, epoch, round, me, v, f), sk) }, options);
  const checks = new Map<string, { v: Uint8Array; f: bigint[]; evidence: Uint8Array }>();
  for (const p of parties) {
    const ctx = { what: `check of round "${round}"`, peer: p };
    const rec = expectRecord(echoed.get(p)!, ctx, ['v', 'f', 'sig']);
    const vp = expectBytes(rec.v, 'v', ctx, 32);
    const fpBytes = expectBytes(rec.f, 'f', ctx, FINGERPRINT_BYTES * count);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    const st = relayCheckStatement(session, epoch, round, p, vp, fpBytes);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a check with an invalid signature in round "${round}"`, { peer: p });
    const fp: bigint[] = [];
    for (let i = 0; i < count; i++) {
      const x = fingerprintFromBytes(fpBytes.subarray(FINGERPRINT_BYTES * i, FINGERPRINT_BYTES * (i + 1)));
      if (x === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a malformed check in round "${round}"`, { peer: p });
      fp.push(x);
    }
    checks.set(p, { v: vp, f: fp, evidence: encodeEvidence({ signer: p, statement: st, signature: sig }) });
  }
  const agreed = parties.every((p) => bytesEqual(checks.get(p)!.v, v));
  let failing = -1;
  if (agreed) {
    for (let i = 0; i < count && failing < 0; i++) {
      const [a, b] = span(i);
      let claimed = 0n;
      for (const p of parties) claimed = fingerprintAdd(claimed, checks.get(p)!.f[i]!);
      if (r64Fingerprint(chunkWeightSeed(point, i), view.subarray(2 * a, 2 * b), viewCarries.subarray(a, b)) !== claimed) failing = i;
    }
    if (failing < 0) {
      // The sum goes back in `partial`'s buffer (U_p is not needed any more): the caller decodes
      // while only one L-vector of the opening is alive.
      unmaskInPlace(view, parties.map((p) => sigmas.get(p)!));
      if (view !== partial) partial.set(view);
      return partial;
    }
  }

  // 6. Dispute: present the relay's statement held, open the chunk hashes and the failing chunk.
  let opened: Uint8Array = new Uint8Array(0);
  if (failing >= 0 && rebuild === undefined) opened = chunkOf(mine, failing);
  else if (failing >= 0 && rebuild !== undefined) {
    rebuildChunks(round, rebuild, sigma, length, failing + 1, hashes, (i, u) => {
      if (i === failing) opened = Uint8Array.from(r64ToBytes(u));
    });
  }
  await group.sendToAll(`${round}/dispute`, { st: expected, rs: answer.signature, h: hashes, i: failing < 0 ? count : failing, u: opened }, group.peers, options);
  const disputes = await group.gather(`${round}/dispute`, options);
  const presented = new Map<string, { st: Uint8Array; rs: Uint8Array; h: Uint8Array; u: Uint8Array }>([[me, { st: expected, rs: answer.signature, h: hashes, u: opened }]]);
  for (const [p, msg] of disputes) {
    const ctx = { what: `dispute of round "${round}"`, peer: p };
    const rec = expectRecord(msg, ctx, ['st', 'rs', 'h', 'i', 'u']);
    if (expectUint(rec.i, 'i', ctx, count) !== (failing < 0 ? count : failing)) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" disputes another chunk than the echoed check fails in round "${round}"`, { peer: p });
    presented.set(p, {
      st: expectBytes(rec.st, 'st', ctx, undefined, 1024 * 1024),
      rs: expectBytes(rec.rs, 'rs', ctx, 64),
      h: expectBytes(rec.h, 'h', ctx, 32 * count),
      u: expectBytes(rec.u, 'u', ctx, failing < 0 ? 0 : 8 * aggregateChunkLength(length, failing)),
    });
  }
  // A party whose statement the relay never signed, or that is not the one its check names.
  for (const p of parties) {
    const x = presented.get(p)!;
    if (ed25519Verify(x.st, x.rs, rk) && bytesEqual(sha256(x.st), checks.get(p)!.v)) continue;
    throw new CheatingDetectedError(ErrorCode.TAMPERING_DETECTED, `party "${p}" claimed an answer of the relay that the relay did not sign, in round "${round}"`, {
      description: "the party's signed check names an answer statement it cannot present with the relay's signature",
      statements: [checks.get(p)!.evidence],
    }, { peer: p });
  }
  // A party whose check names a statement the relay signed for another aggregation (an earlier
  // run's answer, kept by any member): two such statements are no equivocation of the relay's.
  for (const p of parties) {
    const x = presented.get(p)!;
    if (isAnswerOf(x.st, session, agg, parties, length)) continue;
    throw new CheatingDetectedError(ErrorCode.TAMPERING_DETECTED, `party "${p}" claimed as this aggregation's answer a statement the relay signed for another aggregation, in round "${round}"`, {
      description: "the party's signed check names a relay-signed answer statement of another session, aggregation, member list or length",
      statements: [checks.get(p)!.evidence, relayEvidence(x.st, x.rs)],
    }, { peer: p });
  }
  // Two different answers, both signed by the relay.
  const other = parties.find((p) => !bytesEqual(presented.get(p)!.st, expected));
  if (other !== undefined) {
    throw new RelayCheatingError(ErrorCode.EQUIVOCATION, relayUrl, rk, `relayed opening of round "${round}": the relay sent different answers to different parties`, {
      description: 'two answer statements of the same aggregation, both signed by the relay',
      statements: [relayEvidence(expected, answer.signature), relayEvidence(presented.get(other)!.st, presented.get(other)!.rs)],
    });
  }
  // Every view is the same: open chunk `failing` of every U_p against its committed chain.
  const [a, b] = span(failing);
  const sum = new Uint32Array(2 * (b - a));
  const carries = carriesZeros(b - a, n);
  for (const p of parties) {
    const x = presented.get(p)!;
    let cp = chainStart(session, agg, p, length, parties);
    for (let i = 0; i < count; i++) cp = chainNext(cp, x.h.subarray(32 * i, 32 * i + 32));
    if (!bytesEqual(cp, chainOf.get(p)!) || !bytesEqual(chunkHash(failing, x.u), x.h.subarray(32 * failing, 32 * failing + 32))) {
      throw new CheatingDetectedError(ErrorCode.COMMITMENT_MISMATCH, `party "${p}" opened a chunk that does not match its commitment in round "${round}"`, {
        description: 'the opened chunk and chunk hashes do not hash to the echo-checked upload chain',
        statements: [commitEvidence.get(p)!],
      }, { peer: p });
    }
    r64AddWithCarries(sum, carries, r64FromBytes(Uint8Array.from(x.u)));
  }
  const sumBytes = r64ToBytes(sum);
  if (!bytesEqual(sumBytes, viewBytes.subarray(8 * a, 8 * b)) || !bytesEqual(carriesToBytes(carries, width), carriesToBytes(viewCarries.subarray(a, b), width))) {
    throw new RelayCheatingError(ErrorCode.TAMPERING_DETECTED, relayUrl, rk, `relayed opening of round "${round}": the relay's sum of chunk ${failing} is not the sum of the committed uploads`, {
      description: "the relay-signed answer's chunk differs from the sum of the parties' opened chunks, each matching its signed upload chain",
      statements: evidence,
    });
  }
  for (const p of parties) {
    const x = presented.get(p)!;
    if (r64Fingerprint(chunkWeightSeed(point, failing), r64FromBytes(Uint8Array.from(x.u))) === checks.get(p)!.f[failing]) continue;
    throw new CheatingDetectedError(ErrorCode.TAMPERING_DETECTED, `party "${p}" published a fingerprint that is not the fingerprint of its committed upload in round "${round}"`, {
      description: 'a signed check whose fingerprint of the failing chunk differs from the one recomputed from the opened chunk',
      statements: [checks.get(p)!.evidence],
    }, { peer: p });
  }
  throw new CheatingDetectedError(ErrorCode.TAMPERING_DETECTED, `the relayed opening of round "${round}" failed its check, but no culprit could be determined`, {
    description: 'check rejected; every presented answer, opening and fingerprint verified',
    statements: [],
  });
}

/**
 * Rebuild this party's masked value U = T + PRG(σ) chunk by chunk (relay chunks, in order) from
 * what T was made of, for chunks 0..`upTo` − 1, checking each against the chunk hash this party
 * uploaded under, and hand each to `onChunk(i, u)` (`u` is reused).
 * @throws {@link ValueError} `VALUE_INVALID` when a chunk differs from the uploaded one: the
 *   caller changed its input while the sum ran (nothing depending on it has been sent).
 */
function rebuildChunks(round: string, source: SeededPartial, sigma: Uint8Array, length: number, upTo: number, hashes: Uint8Array, onChunk: (i: number, u: Ring64Vector) => void): void {
  const read = source.reader();
  const mask = new _SeedStream(sigma, MASK_DOMAIN, AGGREGATE_CHUNK_ELEMENTS);
  const block = r64Zeros(Math.min(AGGREGATE_CHUNK_ELEMENTS, Math.max(1, length)));
  for (let i = 0; i < upTo; i++) {
    const u = block.subarray(0, 2 * aggregateChunkLength(length, i));
    read(u);
    mask.apply(u, 'add');
    if (!bytesEqual(chunkHash(i, r64ToBytes(u)), hashes.subarray(32 * i, 32 * (i + 1)))) {
      throw new ValueError(
        ErrorCode.VALUE_INVALID,
        `input changed while round "${round}" ran: this party's partial sum, rebuilt from its input, no longer matches the one it uploaded (leave the input unchanged until the sum returns)`,
      );
    }
    onChunk(i, u);
  }
}

/** Whether `st` decodes as an answer statement of the aggregation (session, id, members, length). */
function isAnswerOf(st: Uint8Array, session: string, agg: string, parties: readonly string[], length: number): boolean {
  let body: PlainData;
  try {
    body = decodeMessage(st, st.length);
  } catch {
    return false;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof Uint8Array) return false;
  const r = body as Record<string, PlainData>;
  const ps = r.parties;
  return (
    r.t === AGGREGATE_WIRE_STATEMENT.answer &&
    r.s === session &&
    r.a === agg &&
    r.len === length &&
    Array.isArray(ps) &&
    ps.length === parties.length &&
    ps.every((q, k) => q === parties[k])
  );
}

/** First and longest wait between two admission attempts after a transient refusal (ms). */
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2_000;

/**
 * Admission to the relay's aggregation, retried with backoff after a transient refusal (the relay
 * is full, a slot is still held) until `deadlineAt`: a busy relay queues sums instead of failing them.
 */
async function admitRetrying(
  deadlineAt: number,
  signal: AbortSignal | undefined,
  gate: Promise<unknown> | undefined,
  o: Parameters<typeof openRelayAggregation>[0],
): Promise<Awaited<ReturnType<typeof openRelayAggregation>>> {
  let delay = RETRY_INITIAL_MS;
  for (;;) {
    try {
      return await openRelayAggregation({ ...o, admissionTimeoutMs: Math.max(1, Math.min(o.admissionTimeoutMs, deadlineAt - Date.now())) });
    } catch (err) {
      if (err instanceof RelayAggregateMismatchError) throw await blameMismatch(err, gate, o.agg);
      const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
      if (!(err instanceof RelayError) || !isTransientRefusal(err.reason) || Date.now() + wait >= deadlineAt || signal?.aborted) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(2 * delay, RETRY_MAX_MS);
    }
  }
}

/**
 * The relay did not answer in time. When it said whom it waits for (a member not admitted, not
 * uploading or not reading), those members are the suspects: the relay's word, which it could
 * make up, so nobody is named for certain.
 */
function noAnswer(round: string, relayUrl: string, ms: number, waiting: readonly string[]): RelayOpeningError {
  const who = waiting.length === 0 ? '' : `; the relay reported waiting for ${waiting.map((p) => `"${p}"`).join(', ')}`;
  return new RelayOpeningError(ErrorCode.TIMEOUT, relayUrl, `relayed opening of round "${round}": no answer from the relay within ${ms} ms${who} (relay ${relayUrl})`, { suspects: [...waiting] });
}

/**
 * Another member opened the aggregation first with another member list or length, under its own
 * signature (verified by the client). The id fixes the members; the length is this party's, which
 * the shape agreement (`gate`, when still running) makes every honest party's: once it passes, an
 * admission with another length or list is one no honest member signs, and names its signer. A
 * failing agreement is the error to report instead (it is thrown from here).
 */
async function blameMismatch(err: RelayAggregateMismatchError, gate: Promise<unknown> | undefined, agg: string): Promise<CheatingDetectedError> {
  if (gate !== undefined) await gate;
  const q = err.conflict.signer;
  return new CheatingDetectedError(
    ErrorCode.TAMPERING_DETECTED,
    `party "${q}" opened the relayed aggregation ${agg.slice(0, 16)} with another member list or length than the run agreed on (${err.message})`,
    {
      description: "the party's own signed admission request to this aggregation, naming another member list or length than the echo-agreed ones, as the relay refused this party with it",
      statements: [encodeEvidence({ signer: q, statement: err.conflict.statement, signature: err.conflict.signature })],
    },
    { peer: q, cause: err },
  );
}

/**
 * An upload the relay reports as the wrong size, with the member's own signature on it, names the
 * member for certain; any other failure is passed on as it is.
 */
function blameUpload(group: Group, err: unknown, agg: string, length: number, count: number): unknown {
  if (!(err instanceof RelayOpeningError) || err.abort?.reason !== 'upload-size' || err.abort.party === undefined || err.abort.ev === undefined) return err;
  const q = err.abort.party;
  const ev = err.abort.ev;
  const c = decodeBase64Strict(ev.c);
  const sig = decodeBase64Strict(ev.sig);
  if (c === undefined || c.length !== 32 || sig === undefined || sig.length !== 64) return err;
  const st = uploadStatement(group.sessionId, agg, q, ev.i, ev.len, c);
  const wrong = ev.i >= count || ev.len !== 8 * aggregateChunkLength(length, ev.i);
  if (!wrong || !ed25519Verify(st, sig, group.roster.get(q)!.publicKey)) return err;
  return new CheatingDetectedError(
    ErrorCode.TAMPERING_DETECTED,
    `party "${q}" uploaded a chunk of the wrong size to the relay (chunk ${ev.i}: ${ev.len} bytes; ${count} chunks of ${length} elements expected)`,
    { description: "the party's own signature on an upload chunk of the wrong size or index, as the relay reported it", statements: [encodeEvidence({ signer: q, statement: st, signature: sig })] },
    { peer: q },
  );
}
