/**
 * `thresholdSum`: a dropout-tolerant sum by Shamir t-of-n sharing over a prime field
 * (protocols.md §5): GF(2^61 − 1) when the encoding fits it, else GF(2^127 − 1).
 *
 * Field. Both are Mersenne primes with cheap reduction. GF(2^61 − 1) runs on typed arrays (no
 * BigInt per element) and puts 8 bytes per element on the wire; GF(2^127 − 1) uses one BigInt per
 * element and 16 bytes. `field: 'auto'` (the default) takes p = 2^61 − 1 whenever the safety
 * inequality of the encoding holds for it — log2 p ≥ log2 n + log2 B + f + 2, and with
 * d·log2 10 for f when the input has decimal entries, evaluated exactly as n·B·S·4 ≤ p — so every
 * sum decodes exactly (ints and decimals bit for bit); otherwise (a large bound B, many fractional
 * bits, decimals with many places) it takes p = 2^127 − 1. With the defaults (B = 2^31, f = 16)
 * p61 fits groups of up to 4095 parties. The field in use is agreed with the other parameters in the
 * first (echo) round: parties that would use different fields abort with `SHAPE_MISMATCH`.
 *
 * 1. Deal: party i shares its encoded input with a fresh random polynomial f_i of degree t − 1,
 *    f_i(0) = x_i, and sends f_i(j) to party j (evaluation point = 1 + j's canonical index), in
 *    the same flight as its shape-and-parameters statement, which every party compares with its
 *    own ({@link _exchangeShapes}: no echo, tolerant of parties that vanish — a party whose
 *    statement does not arrive is no dealer, as if it had dropped out before dealing). A long
 *    vector in GF(2^61 − 1) is dealt in pieces once the statements are compared, and published
 *    and reconstructed in pieces (see `runInPieces`).
 * 2. Agree on dealers: every party reports (to everyone still present) the signed set of dealers
 *    whose shares it holds; Q = the dealers held by every reporter. A peer whose shape statement
 *    did not arrive in time gets a "went on without you" note instead (and, in the pieces path,
 *    in place of deal piece 0): a late party that took every statement and share then ends with
 *    `TOO_FEW_PARTIES` naming nobody, instead of waiting for reports nobody sends it and naming
 *    the parties that completed without it (review26 R26-1).
 * 3. Confirm: Q must have at least `minContributors` dealers (default and floor: min(n, t + 1)),
 *    checked before anything depends on it. Then every party sends a hash of Q and a commitment to
 *    its partial sum over Q (see step 4), signed, with the signed dealer reports it computed Q
 *    from. A party goes on only if at least m = ⌈(n + t) / 2⌉ parties (itself included) confirmed
 *    the same Q and nobody it heard from confirmed another one. A differing confirmation is
 *    explained: one that is not the intersection of its author's own forwarded reports names its
 *    author (`TAMPERING_DETECTED`, its signed confirmation and reports as evidence); two different
 *    signed reports of one party name that party (`EQUIVOCATION`, both reports as evidence); a
 *    difference nobody can be blamed for (a report lost to a crash) aborts naming nobody
 *    (`TAMPERING_DETECTED`).
 * 4. Publish: party j sends T_j = Σ_{i∈Q} f_i(j) to the parties that confirmed Q, with the opening
 *    of its commitment and the signed confirmations it counted.
 * 5. Reconstruct: each publication must open its author's commitment (`COMMITMENT_MISMATCH`
 *    otherwise), and every forwarded confirmation must be the one this party holds of that party
 *    (`EQUIVOCATION` otherwise, both signed confirmations as evidence); then only publishers that
 *    all counted each other's confirmations are used, at least m of them ({@link PublishChecks}:
 *    why every honest party that completes has the same sum, review9 I1). With r ≥ m > t points,
 *    check that all lie on one polynomial of degree t − 1 (a tampered share or partial sum breaks
 *    it when at least t of the points are honest; colluders holding more points can shift the sum
 *    only by an offset they committed to blind); with r ≥ t + 2 the owners of the
 *    inconsistent points (up to ⌊(r − t)/2⌋ of them) are reported as `suspects`, never named in
 *    `peers`: a point is off when its owner tampered with its partial sum or when a dealer dealt
 *    its owner a bad share, which nothing here tells apart. S = the polynomial at 0.
 *
 * Privacy. A coalition of up to t − 1 parties learns nothing about honest inputs beyond the
 * published sum over Q, and Q always holds at least two parties outside the coalition (or is
 * everyone), because:
 *
 * - *The floor.* Whoever reports a small dealer set shrinks Q (Q is an intersection: a report
 *   "I lack p's share" is believed — that is dropout tolerance). Without a floor one malicious
 *   reporter could report `[victim]` and receive T_j = f_victim(j) from everyone: the victim's
 *   input. With |Q| ≥ t + 1, at most t − 1 of Q are colluders, so at least two honest dealers are
 *   in every published sum. (|Q| = n, everyone, is the plain sum of all inputs.)
 * - *The quorum.* Partial sums over two different dealer sets Q ≠ Q' would let the coalition
 *   subtract one sum from the other — a cheater that reports differently to two groups of honest
 *   parties, while the network keeps the groups apart, would get that. An honest party confirms one
 *   Q to everyone; two sets of m confirmations overlap in 2m − n ≥ t parties, more than the t − 1
 *   colluders, so only one Q can ever gather a quorum: every published T_j covers the same Q.
 *
 * Liveness: up to n − max(m, minContributors) parties may drop (before dealing, or after it) and
 * the sum still completes; it then covers the dealers in Q, which the result lists. A party that
 * freezes with its sockets open (SIGSTOP, a paused VM, a path cut without a reset) is such a
 * dropout too: no flight waits for a send to it past half the round deadline (`sendTolerant`).
 * A dropout whose last message of a step reached some parties only leaves the honest parties
 * waiting for it in different steps; the tolerant rounds keep them together ({@link gatherTolerant},
 * trial T1): the partial-sum round ends once it holds quorum − 1 and the missing confirmers are
 * silent, and the other rounds give a missing party that is alive and held up by a silent one one
 * more round deadline instead of dropping it.
 * Reconstruction needs m publishers (more than t), so there is always redundancy for the degree
 * check. Except (review26 R26-2, a limit): a dropout whose dealer report reaches some parties
 * only, while it lacks a dealer the others hold (it missed that dealer's share: a second dropout
 * crashed while dealing, or the share came late), makes their dealer sets differ as a withheld
 * report does (README, "one live party can abort a run"): every party aborts, naming nobody, with
 * as few as two dropouts (n = 6, t = 2: test/review26/two-crashes.test.ts), or one dropout and
 * one share late at it (its report must still come in time: a shorter deadline of its own, or a
 * race). One crash with every share on time never does it (its report then lacks nobody the
 * others hold), nor crashes between flights. Converging needs a second confirmation round
 * before anything is published.
 *
 * Retry. No run of thresholdSum can be retried safely with the same inputs once it failed, not
 * even without the `peers` of a `CheatingDetectedError` (review9 P1): a party that stops is only a
 * dropout to the others, who may confirm, publish and complete without it (a cheater that sends a
 * false confirmation to some parties only is named by them while the others publish to it); they
 * then take no part in a retry, which, being dropout-tolerant, completes without them — and any
 * run's dealer set can be shrunk by a colluder's report down to its floor. The coalition then
 * holds two sums whose difference is an honest input. Dropout tolerance is this protocol's retry.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { AbortedError, CheatingDetectedError, ErrorCode, GroupError, InvalidArgumentError, ValueError } from '../errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { encodeEvidence } from '../group/echo.js';
import type { Group } from '../group/group.js';
import { MAX_TIMER_MS } from '../channel/channel.js';
import { expectArray, expectBytes, expectRecord, expectString } from '../wire/shape.js';
import { encodeMessage, type PlainData } from '../wire/codec.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { bytesEqual } from '../crypto/bytes.js';
import {
  checkDegree,
  checkDegree61,
  decodeField,
  decodeField61,
  describeShape,
  evaluationPoints,
  f61AddInPlace,
  f61FromBigInts,
  f61ToBigInts,
  f61ToBytes,
  f61Zeros,
  fitsModulus,
  fVecAddInPlace,
  lagrangeAtZero,
  lagrangeAtZero61,
  shamirShare,
  shamirShare61,
  type DegreeCheck,
  type EncodingParams,
  type Field61Vector,
  type Shape,
  type SumInput,
  type SumInputLike,
  type SumOutputOf,
  _mirrorOutput,
  type SumOutput,
} from './math/index.js';
import {
  PIECE_ELEMENTS,
  checkGroup,
  checkSumOptions,
  exchangePieces,
  pieceBytes,
  pieceCount,
  field61FromBytes,
  fieldFromBytes,
  fieldToBytes,
  encodeRun,
  refusedBeforeRun,
  roundOptions,
  statedParams,
  seedHex,
  type LocalRun,
  type SumOptions,
  type SumResult,
} from './common.js';
import { shapeDigest } from './math/index.js';
import { _f61AddInto, _f61SubInto, f61FromBytes } from './math/field61.js';
import { ShareSpill, type SpillTarget } from './spill.js';

/** A dealer report signed by its author. */
interface SignedReport {
  readonly from: string;
  readonly d: string[];
  readonly sig: Uint8Array;
}

/** A dealer report `{t, s, e, r, from, d}`: session, the group's epoch, run, author, dealers held. */
function reportStatement(group: Group, runId: string, from: string, d: readonly string[]): Uint8Array {
  return encodeMessage({ t: 'coupler/1 dealers', s: group.sessionId, e: group.epoch, r: runId, from, d: [...d] });
}

/**
 * A dealer-set confirmation `{t, s, e, r, from, q, c}`: the hash of the dealer set its author
 * agreed on, and its commitment to the partial sum it will publish over that set (see
 * {@link partialCommitment}).
 */
function confirmStatement(group: Group, runId: string, from: string, q: Uint8Array, c: Uint8Array): Uint8Array {
  return encodeMessage({ t: 'coupler/1 dealer set', s: group.sessionId, e: group.epoch, r: runId, from, q, c });
}

/** A signed confirmation as received (directly, or forwarded with a partial sum). */
interface SignedConfirmation {
  readonly from: string;
  readonly q: Uint8Array;
  readonly c: Uint8Array;
  readonly sig: Uint8Array;
}

/** The SHA-256 of `bytes`. */
function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/**
 * The commitment to a partial sum, in the author's signed confirmation: SHA-256 over the session,
 * epoch, run, author, a fresh 32-byte nonce and the SHA-256 of each piece of the partial sum's
 * bytes (one piece for a short vector; {@link PIECE_ELEMENTS} elements each in the pieces path, so
 * that every piece is checked as it arrives, also from a party that stops publishing midway).
 */
function partialCommitment(group: Group, runId: string, from: string, nonce: Uint8Array, pieceHashes: readonly Uint8Array[]): Uint8Array {
  return sha256(encodeMessage({ t: 'coupler/1 partial sum', s: group.sessionId, e: group.epoch, r: runId, from, n: nonce, h: [...pieceHashes] }));
}

/** @internal The wire statements of thresholdSum's confirmations and commitments (adversary fixtures build them by hand). */
export const _thresholdStatements = { confirmStatement, partialCommitment } as const;

/** This party's partial sum, committed: what its confirmation states and its publication opens. */
interface CommittedPartial {
  readonly c: Uint8Array;
  readonly nonce: Uint8Array;
  readonly pieceHashes: Uint8Array[];
}

/** Commit to `bytes` (the partial sum), cut into pieces of `pieceBytes` bytes. */
function commitPartial(group: Group, runId: string, bytes: Uint8Array, pieceBytesEach: number): CommittedPartial {
  const pieceHashes: Uint8Array[] = [];
  for (let at = 0; at < bytes.length || pieceHashes.length === 0; at += pieceBytesEach) pieceHashes.push(sha256(bytes.subarray(at, Math.min(bytes.length, at + pieceBytesEach))));
  const nonce = new Uint8Array(randomBytes(32));
  return { c: partialCommitment(group, runId, group.localId, nonce, pieceHashes), nonce, pieceHashes };
}

/** Parse and verify a signed dealer report; undefined when the signature does not verify. */
function parseReport(group: Group, runId: string, value: PlainData, ctx: { what: string; peer: string }): SignedReport | undefined {
  const rec = expectRecord(value, ctx, ['from', 'd', 'sig']);
  const from = expectString(rec.from, 'from', ctx, 64, PARTY_ID_PATTERN);
  const d = expectArray(rec.d, 'd', ctx, group.parties.length).map((x) => expectString(x, 'dealer', ctx, 64, PARTY_ID_PATTERN));
  const sig = expectBytes(rec.sig, 'sig', ctx, 64);
  // Only a party of this group or view signs reports here (a roster member a retry left out
  // reports nothing in its runs).
  const entry = group.parties.includes(from) ? group.roster.get(from) : undefined;
  if (entry === undefined || !ed25519Verify(reportStatement(group, runId, from, d), sig, entry.publicKey)) return undefined;
  return { from, d, sig };
}

/**
 * A peer confirmed another dealer set than this party. Name whoever is certainly at fault:
 * the peer itself when its signed confirmation is not the hash of the intersection of the signed
 * reports it forwarded (its own among them) — its own statements contradict each other, evidence
 * anyone can check with the roster; else a party that signed two different reports (one to this
 * party, one to the peer). Returns when neither holds: the reports reaching the two differed
 * (a report lost to a crash), which nobody can be blamed for.
 * @throws {@link CheatingDetectedError} `TAMPERING_DETECTED` / `EQUIVOCATION`, or
 *   {@link GroupError} when the peer forwards a forged report or no report of its own.
 */
function explainDealerSplit(
  group: Group,
  runId: string,
  peer: string,
  confirmation: { readonly q: Uint8Array; readonly c: Uint8Array; readonly sig: Uint8Array },
  forwarded: PlainData[],
  mine: ReadonlyMap<string, SignedReport>,
): void {
  const ctx = { what: 'forwarded dealer report', peer };
  const evidence = (r: SignedReport): Uint8Array =>
    encodeEvidence({ signer: r.from, statement: reportStatement(group, runId, r.from, r.d), signature: r.sig });
  const reports = forwarded.map((item) => {
    const theirs = parseReport(group, runId, item, ctx);
    if (theirs === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" forwarded a dealer report that its author never signed`, { peer });
    return theirs;
  });
  const own = reports.find((r) => r.from === peer);
  if (own === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" confirmed a dealer set without its own dealer report`, { peer });
  let q = new Set(own.d);
  for (const r of reports) q = new Set(r.d.filter((d) => q.has(d)));
  if (!bytesEqual(qHash(group.parties.filter((p) => q.has(p))), confirmation.q)) {
    const signed = encodeEvidence({ signer: peer, statement: confirmStatement(group, runId, peer, confirmation.q, confirmation.c), signature: confirmation.sig });
    throw new CheatingDetectedError(
      ErrorCode.TAMPERING_DETECTED,
      `party "${peer}" confirmed a dealer set that is not the intersection of the dealer reports it presented; this party published nothing (parties it sent a true confirmation to may have: to them this party is a dropout)`,
      { description: 'a signed dealer-set confirmation whose hash differs from the intersection of the signed dealer reports its author forwarded with it', statements: [signed, ...reports.map(evidence)] },
      { peer },
    );
  }
  for (const theirs of reports) {
    const ours = mine.get(theirs.from);
    if (ours === undefined || JSON.stringify(ours.d) === JSON.stringify(theirs.d)) continue;
    throw new CheatingDetectedError(
      ErrorCode.EQUIVOCATION,
      `party "${theirs.from}" reported different dealer sets to different parties`,
      { description: 'two dealer reports signed by the same party for the same run, with different dealer sets', statements: [evidence(ours), evidence(theirs)] },
      { peer: theirs.from },
    );
  }
}

/** Options of {@link thresholdSum}. */
export interface ThresholdSumOptions extends SumOptions {
  /** Reconstruction threshold t, 2 ≤ t ≤ n. Default ⌊n/2⌋ + 1. All parties must agree. */
  readonly t?: number;
  /**
   * The prime field of the sharing. `'auto'` (default): GF(2^61 − 1) when the encoding is safe in
   * it (n·B·2^f·4 ≤ 2^61 − 1, and n·B·10^d·4 ≤ 2^61 − 1 for decimal inputs — e.g. up to 4095
   * parties with the default B = 2^31, f = 16), else GF(2^127 − 1). `'p61'`: GF(2^61 − 1), typed
   * arrays, 8-byte elements, about (n − 1)·16·L bytes sent per party (deal + publish); refused with
   * `PARAMETERS_UNSAFE` (before anything is sent) when unsafe. `'p127'`: GF(2^127 − 1), one BigInt
   * per element, 16-byte elements, about (n − 1)·32·L bytes per party and many times slower; it
   * fits every bound the encoding accepts (log2 n + log2 B + f + 2 ≤ 127). Sums are exact in
   * either field. The field actually used is agreed in the first round: parties that would use
   * different fields abort with `SHAPE_MISMATCH`.
   */
  readonly field?: 'auto' | 'p61' | 'p127';
  /**
   * The fewest dealers the sum may cover: the run aborts (`TOO_FEW_PARTIES`, before any partial
   * sum is published) when fewer parties' shares reached every remaining party. At least
   * min(n, t + 1) — the floor below which a coalition of t − 1 parties could isolate one honest
   * input (refused with `PARAMETERS_UNSAFE`); at most n (no dropouts accepted). Default the floor.
   * All parties must agree.
   */
  readonly minContributors?: number;
  /**
   * Where this party keeps the shares it receives until the dealer set is agreed, for a vector of
   * at least {@link SPILL_MIN_ELEMENTS} elements (shorter ones stay in memory). Every received
   * piece is added to a running sum as it arrives and also kept, so that a dealer left out of the
   * dealer set can be subtracted again. A directory (default: the OS temporary directory): a
   * temporary file there, encrypted under a key drawn for the run and held only in memory
   * (ChaCha20-Poly1305), unlinked as soon as it is opened — about n·8L bytes written, read back
   * only for a dealer left out. `false`: in memory, (n·8L bytes more than the file). A directory
   * that cannot hold the file, or a write that fails (disk full), falls back to memory with a
   * warning (`process.emitWarning`, code `COUPLER_SPILL_FALLBACK`). Local to this party.
   */
  readonly spill?: SpillTarget;
}

/**
 * Vectors at least this long (2^20 elements, 8 MiB per share) keep their received shares in a
 * spill file ({@link ThresholdSumOptions.spill}); shorter ones in memory, where the file would save
 * little and cost a file and its writes.
 */
export const SPILL_MIN_ELEMENTS = 2 ** 20;

/**
 * @internal The length from which thresholdSum spills, and an observer of each run's spill (tests
 * lower the length to exercise the file on short vectors and watch it; the library never changes
 * either).
 */
export const _spillPolicy: { minElements: number; onSpill?: ((spill: ShareSpill, party: string) => void) | undefined } = { minElements: SPILL_MIN_ELEMENTS };

/**
 * The least number of dealers a thresholdSum may sum over: min(n, t + 1). With up to t − 1
 * colluders, t + 1 dealers leave at least two honest inputs in every published sum.
 */
export function thresholdDealerFloor(n: number, t: number): number {
  return Math.min(n, t + 1);
}

/**
 * How many parties (the party itself included) must confirm the same dealer set before a party
 * publishes its partial sum: ⌈(n + t) / 2⌉, so that two confirming sets overlap in at least t
 * parties — more than t − 1 colluders — and no two different dealer sets can both be confirmed.
 */
export function thresholdQuorum(n: number, t: number): number {
  return Math.ceil((n + t) / 2);
}

/** A point of a shared vector in either field. */
interface Point<V> {
  readonly x: bigint;
  readonly y: V;
}

/**
 * What thresholdSum needs of its field: sharing, byte codecs, vector addition, the degree check,
 * reconstruction and decoding.
 * @internal exported for the adversarial test fixture.
 */
export interface _ThresholdField<V> {
  readonly name: 'p61' | 'p127';
  share(secret: V, t: number, xs: readonly bigint[]): V[];
  toBytes(v: V): Uint8Array;
  fromBytes(bytes: Uint8Array, length: number, what: string, peer: string): V;
  zeros(length: number): V;
  addInPlace(acc: V, v: V): void;
  checkDegree(points: readonly Point<V>[], t: number): DegreeCheck;
  lagrangeAtZero(points: readonly Point<V>[]): V;
  decode(shape: Shape, v: V, params: EncodingParams): SumOutput;
  /** Slow conversions, for tests. */
  toBigInts(v: V): bigint[];
  fromBigInts(values: bigint[]): V;
}

/** GF(2^61 − 1) on typed arrays. @internal */
export const _FIELD_P61: _ThresholdField<Field61Vector> = Object.freeze({
  name: 'p61' as const,
  share: shamirShare61,
  toBytes: f61ToBytes,
  fromBytes: field61FromBytes,
  zeros: f61Zeros,
  addInPlace: (acc: Field61Vector, v: Field61Vector) => void f61AddInPlace(acc, v),
  checkDegree: checkDegree61,
  lagrangeAtZero: lagrangeAtZero61,
  decode: decodeField61,
  toBigInts: f61ToBigInts,
  fromBigInts: f61FromBigInts,
});

/** GF(2^127 − 1) on bigint. @internal */
export const _FIELD_P127: _ThresholdField<bigint[]> = Object.freeze({
  name: 'p127' as const,
  share: shamirShare,
  toBytes: fieldToBytes,
  fromBytes: fieldFromBytes,
  zeros: (length: number) => new Array<bigint>(length).fill(0n),
  addInPlace: (acc: bigint[], v: bigint[]) => void fVecAddInPlace(acc, v),
  checkDegree,
  lagrangeAtZero,
  decode: (shape: Shape, v: bigint[], params: EncodingParams) => decodeField(shape, v, params),
  toBigInts: (v: bigint[]) => v.slice(),
  fromBigInts: (values: bigint[]) => values.slice(),
});

/** A shape without decimal entries: {@link fitsModulus} then checks the 2^f budget only. */
const FLOAT_SHAPE: Shape = Object.freeze({ kind: 'scalar', entries: Object.freeze([Object.freeze({ name: '', type: 'float', kind: 'scalar', length: 1 })]) });

/**
 * The field thresholdSum uses for these options and this input (every party computes the same
 * from the agreed options and shape; the echo round checks it).
 * @throws {@link InvalidArgumentError} for an unknown `field`; {@link ValueError} for parameters
 *   refused whatever the field, or for an input whose shape is invalid (when the shape matters).
 * @internal exported for the adversarial test fixture.
 */
export function _thresholdField(parties: number, input: SumInput, o: ThresholdSumOptions): 'p61' | 'p127' {
  const requested: unknown = o.field ?? 'auto';
  if (requested !== 'auto' && requested !== 'p61' && requested !== 'p127') {
    throw new InvalidArgumentError('"field" must be "auto", "p61" or "p127"');
  }
  if (requested !== 'auto') return requested; // an unsafe 'p61' is refused by prepareRun
  const params: EncodingParams = {
    parties,
    modulus: 'p61',
    ...(o.fractionalBits === undefined ? {} : { fractionalBits: o.fractionalBits }),
    ...(o.bound === undefined ? {} : { bound: o.bound }),
    ...(o.maxElements === undefined ? {} : { maxElements: o.maxElements }),
    ...(o.decimalPlaces === undefined ? {} : { decimalPlaces: o.decimalPlaces }),
  };
  // Safe for any input (floats, ints and decimals)? Otherwise it depends on whether this input
  // has decimal entries (scaled by 10^d rather than 2^f): look at its shape.
  if (fitsModulus(params)) return 'p61';
  if (!fitsModulus(params, FLOAT_SHAPE)) return 'p127'; // unsafe even without decimals
  const shape = describeShape(input, o.maxElements);
  return fitsModulus(params, shape) ? 'p61' : 'p127';
}

/**
 * Sends of one run not complete yet, per peer: when each started (oldest first; a peer's sends
 * complete in order). See {@link sendTolerant}.
 */
interface StuckPeers {
  readonly pending: Map<string, number[]>;
  /** How long a flight waits for its sends: half the round deadline. */
  readonly waitMs: number;
  /** A peer whose oldest pending send is this old (the round deadline) is sent nothing more. */
  readonly skipMs: number;
}

/** A run's record of pending sends, empty, for the deadline of its rounds. */
function stuckPeers(group: Group, ro: { timeoutMs?: number }): StuckPeers {
  const ms = ro.timeoutMs ?? group.roundTimeoutMs;
  return { pending: new Map(), waitMs: Math.max(1, Math.floor(ms / 2)), skipMs: ms };
}

/**
 * Send `payload(peer)` to each of `to`, tolerating peers that fail: a send that fails (a lost
 * peer) is ignored, and the flight waits for its sends for half the round deadline at most. A send
 * completes only once the socket took the bytes: to a party that is frozen (SIGSTOP, a paused VM,
 * a path cut without a reset) it never does once the kernel buffers toward it are full, a few MiB,
 * and waiting for it stopped this party's flights to everyone — the others dropped this party, and
 * a flight of one message (the deal of a short vector) hung without any deadline. Half the
 * deadline, so that the next flight still reaches the others within theirs. A peer behind still
 * gets the next flights (queued: a slow party may still take them in time), until a send to it has
 * been pending for a whole round deadline: from then on it is sent nothing more in the run, as if
 * it had dropped out (it could not take this run's messages in time), and what stays queued for it
 * is what this party sent it within one round deadline. A peer already known to have left is
 * skipped: a send to it fails only after its notice's verdict (asking the party the notice blames,
 * up to half the round deadline), for an error thrown away here.
 */
async function sendTolerant(group: Group, round: string, to: readonly string[], payload: (peer: string) => PlainData, stuck: StuckPeers): Promise<void> {
  const now = Date.now();
  const sends: Promise<void>[] = [];
  const lost = group.lostPeers;
  for (const peer of to) {
    if (lost.includes(peer)) continue;
    let started = stuck.pending.get(peer);
    if (started === undefined) stuck.pending.set(peer, (started = []));
    if (started.length > 0 && now - started[0]! >= stuck.skipMs) continue;
    started.push(now);
    const queue = started;
    sends.push(
      group
        .send(peer, round, payload(peer))
        .catch(() => undefined)
        .then(() => void queue.shift()),
    );
  }
  if (sends.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(sends), new Promise<void>((resolve) => (timer = setTimeout(resolve, stuck.waitMs)))]);
  clearTimeout(timer);
}

/**
 * One tolerant round of thresholdSum ({@link Group.gatherSome}: at least `minimum` of `from`
 * within the deadline, else its `TimeoutError`), ended so that the honest parties leave each step
 * together when a party vanished with its last message at some of them only (trial T1). Before,
 * they waited for it in different steps, each for a deadline counted from a different moment, and
 * the next step (or run) compared messages arriving exactly at the others' deadline.
 *
 * - `endWhenSilent` (the partial-sum round, whose deadline is two round deadlines): once the
 *   minimum is in and a quarter of a round deadline has passed (in a run without a dropout the
 *   last ones are in by then), the missing parties are probed (half a round deadline; again every half
 *   deadline while the round lasts) and the round ends as soon as each is silent here or alive
 *   and waiting only for silent parties — instead of waiting out the deadline for a partial sum
 *   it does not need from a party that is gone, while the others, which got it, start the next run.
 * - `waitForHeldUp` (the shape, deal, dealer-report and confirmation rounds): the parties still
 *   missing at half the deadline are probed (a quarter deadline per wave of the trace); at the
 *   deadline, with the minimum in, a missing one that is alive and held up — it says it waits for
 *   a party that is silent here, or for one held up in turn (the vanished party, in this step or
 *   the one before, or still in the previous run) — gets one more round deadline, at most,
 *   counted from this deadline; the round ends as soon as those came. The others (silent, waiting
 *   for nobody, or for live parties only) are not waited for, exactly as before: a round without
 *   a held-up party ends at its deadline, not a probe later.
 *
 * Either way only the time a party stops waiting changes: what it sends, to whom, and what it
 * accepts are the same (the quorum and floor arguments in the module notes do not depend on when a
 * round ends). Bounded: at most one more round deadline per round.
 */
async function gatherTolerant(
  group: Group,
  round: string,
  minimum: number,
  options: { timeoutMs?: number; signal?: AbortSignal; from: readonly string[] },
  how: { readonly roundMs: number; readonly endWhenSilent?: boolean; readonly waitForHeldUp?: boolean },
): Promise<Map<string, PlainData>> {
  const me = group.localId;
  const probeMs = Math.max(1, Math.floor(how.roundMs / 2));
  const got = new Map<string, PlainData>();
  const take = (peer: string, msg: PlainData): void => void got.set(peer, msg);
  const missing = (): string[] => options.from.filter((p) => !got.has(p) && !group.lostPeers.includes(p));
  const ordered = (): Map<string, PlainData> => new Map(options.from.filter((p) => got.has(p)).map((p) => [p, got.get(p)!]));
  /** `work` until it settles or `stop` aborts (then `undefined`); the caller's signal still throws. */
  const stoppable = async <T>(work: (signal: AbortSignal) => Promise<T>, stop: AbortController): Promise<T | undefined> => {
    const onAbort = (): void => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) stop.abort();
    try {
      return await work(stop.signal);
    } catch (err) {
      if (err instanceof AbortedError && stop.signal.aborted && options.signal?.aborted !== true) return undefined;
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  };
  type Trace = Awaited<ReturnType<Group['_traceMissing']>>;
  const waitsOf = (trace: Trace, m: string): readonly string[] => (trace.waiting.get(m) ?? []).filter((q) => q !== m && q !== me);

  // The round itself, ended early (endWhenSilent) once it holds the minimum and the missing
  // parties are gone or held up by parties that are gone.
  const first = new AbortController();
  let ended = false;
  let wake: (() => void) | undefined;
  let probing = false;
  // Not before a quarter of a round deadline into the round: in a run without a dropout the last
  // partial sums come within moments of the others, and probing at once (as soon as the minimum was
  // in) sent a probe per party and run that nobody needed — most of them never read, the run being
  // over. A party that left at once still leaves by three quarters of a round deadline (a quarter,
  // then the probe's half), before the others' next shape deadline.
  const graceUntil = Date.now() + Math.max(1, Math.floor(how.roundMs / 4));
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const endIfGone = async (): Promise<void> => {
    if (!how.endWhenSilent || probing || ended || got.size < minimum) return;
    const wait = graceUntil - Date.now();
    if (wait > 0) {
      graceTimer ??= setTimeout(() => {
        graceTimer = undefined;
        endIfGone().catch(() => undefined);
      }, wait);
      return;
    }
    probing = true;
    for (;;) {
      if (ended) return;
      const names = missing();
      if (names.length === 0) return;
      const trace = await group._traceMissing(round, names, probeMs);
      if (ended) return;
      const silent = new Set(trace.silent);
      const gone = (m: string): boolean => silent.has(m) || (trace.waiting.has(m) && waitsOf(trace, m).length > 0 && waitsOf(trace, m).every((q) => silent.has(q)));
      if (missing().every(gone)) {
        first.abort();
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, probeMs);
        wake = () => (clearTimeout(timer), resolve());
      });
      wake = undefined;
    }
  };
  // waitForHeldUp: the missing parties are probed from half the deadline on (a quarter deadline
  // per wave of the trace), so that at the deadline the verdict is in and a round whose missing
  // parties are not held up ends exactly when it did before. (Probed only after the deadline, the
  // few ms of the probe moved the others' next message past a late party's own deadline.)
  let early: Promise<{ names: string[]; trace: Trace }> | undefined;
  const timeoutMs = options.timeoutMs ?? group.roundTimeoutMs;
  const earlyTimer = how.waitForHeldUp
    ? setTimeout(() => {
        const names = missing();
        if (names.length > 0) early = group._traceMissing(round, names, Math.max(1, Math.floor(timeoutMs / 4))).then((trace) => ({ names, trace }));
      }, Math.floor(timeoutMs / 2))
    : undefined;
  try {
    await stoppable(
      (signal) =>
        group.gatherSome(round, minimum, {
          ...options,
          signal,
          onMessage: (peer, msg) => {
            take(peer, msg);
            endIfGone().catch(() => undefined);
          },
        }),
      first,
    );
  } finally {
    ended = true;
    wake?.();
    clearTimeout(earlyTimer);
    clearTimeout(graceTimer);
  }
  if (!how.waitForHeldUp || got.size < minimum) return ordered();
  const late = missing();
  if (late.length === 0) return ordered();

  // The deadline passed with the minimum in: one more round deadline, at most, for a missing party
  // that is alive and held up; the rest are not waited for.
  const traced = (await early) ?? { names: late, trace: await group._traceMissing(round, late, Math.max(1, Math.floor(timeoutMs / 4))) };
  const { trace } = traced;
  // Held up: alive, and waiting for a silent party or for one held up in turn (a fixpoint over the
  // answers). A party that waits only for parties alive and free — this one's peers in this round,
  // or a late statement's author waiting for the reports of the parties that wait for its
  // statement (a cycle) — is not: it is slow, a dropout here as before (review26 R26-1, split).
  const silent = new Set(trace.silent);
  const held = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of trace.waiting.keys()) {
      if (held.has(m) || !waitsOf(trace, m).some((q) => silent.has(q) || held.has(q))) continue;
      held.add(m);
      grew = true;
    }
  }
  const heldUp = missing().filter((m) => held.has(m));
  if (heldUp.length === 0) return ordered();
  const more = new AbortController();
  await stoppable(
    (signal) =>
      group.gatherSome(round, 0, {
        timeoutMs: how.roundMs,
        signal,
        from: heldUp,
        onMessage: (peer, msg) => {
          take(peer, msg);
          if (heldUp.every((p) => got.has(p) || group.lostPeers.includes(p))) more.abort();
        },
      }),
    more,
  );
  return ordered();
}

/**
 * `TOO_FEW_PARTIES` in a dropout-tolerant run names nobody for what it did not observe itself
 * (review9 W1, W2; the floor check still names, after probing, a party absent from the whole run
 * here). Whom this party misses
 * are parties the others may have dropped as late, or that dropped this party (it is late at
 * them: they completed without it and answer probes "waiting for nobody"), or whose absence is
 * only another party's claim (a report "I lack its share", which dropout tolerance believes): none
 * of it is a fault this party observed. They are listed in the message (ids only), never in
 * `peers`, which would blame them in this party's abort notice and in the error callers act on.
 */
function tooFew(message: string, what: string, missing: readonly string[]): ValueError {
  const list = missing.length === 0 ? '' : `; ${what} ${missing.slice(0, 16).map((p) => `"${p}"`).join(', ')}${missing.length > 16 ? ', …' : ''} (not named: a dropout, or dropped by the others, or another party's claim)`;
  return new ValueError(ErrorCode.TOO_FEW_PARTIES, `${message}${list}`, { peers: [] });
}

const qHash = (q: readonly string[]): Uint8Array => new Uint8Array(createHash('sha256').update(JSON.stringify(q)).digest());

/**
 * Dropout-tolerant secure sum (Shamir t-of-n). Completes as long as at least
 * max(⌈(n + t)/2⌉, `minContributors`) parties remain (one dropout whose dealer report reaches some
 * parties only and lacks a share they hold aborts the run naming nobody: see the module notes,
 * "Liveness"); every honest party that completes gets the
 * same sum (partial sums are committed before any is published and cross-checked, see the module
 * notes); a tampered share or partial sum is detected when at least t of the points used are
 * honest, and a colluding majority of the points can shift the sum only by an offset it chose
 * blind.
 * Shares live in GF(2^61 − 1) (8-byte elements on typed arrays) whenever the encoding fits it,
 * else in GF(2^127 − 1) (16-byte BigInt elements); see {@link ThresholdSumOptions.field}.
 *
 * @param group - the group from `joinGroup`.
 * @param input - the value to sum.
 * @param options - `t`, `field` and the common options; every party must pass the same `t` and
 *   encoding options (and end up in the same field).
 * @returns the sum of the inputs of `contributors` (the agreed dealers).
 * @throws {@link CheatingDetectedError} `TAMPERING_DETECTED` (from the degree check: the owners
 *   of the inconsistent points as `suspects` when the redundancy allows, nobody in `peers`; from
 *   a false confirmation or a mislabelled partial sum: its author named), `COMMITMENT_MISMATCH`
 *   naming a party whose published partial sum is not the one it committed to, `EQUIVOCATION`
 *   naming a party that reported different dealer sets, or committed to different partial sums,
 *   to different parties; {@link ValueError} `TOO_FEW_PARTIES` — before any partial sum is published — when
 *   fewer than `minContributors` dealers reached every remaining party or fewer than
 *   {@link thresholdQuorum} parties confirmed the dealer set (and when fewer than that many
 *   publishers that counted each other's confirmations arrive) — naming in `peers` only a party whose shape statement never reached this party (probed
 *   as at a deadline), never a party that another's report left out, that was late, or that went
 *   on without this party —, `PARAMETERS_UNSAFE` for `minContributors` below {@link thresholdDealerFloor}, and
 *   for `field: 'p61'` with parameters it cannot hold, `SHAPE_MISMATCH` when the parties disagree
 *   on the shape or parameters (field included).
 *
 * Do not retry a failed run with the same inputs (not even on `group.without(err.peers)` of a
 * `CheatingDetectedError`): the others may have completed it without this party, and the two
 * sums can differ by one honest input (see the module notes, "Retry").
 * @example
 * const { sum, contributors } = await thresholdSum(group, counts, { t: 3 });
 */
export async function thresholdSum<I extends SumInputLike<I>>(group: Group, input: I, options: ThresholdSumOptions = {}): Promise<SumResult<SumOutputOf<I>>> {
  checkGroup(group);
  const n = group.parties.length;
  const { o, t, minContributors, field } = refusedBeforeRun(group, 'threshold', () => {
    const o = checkSumOptions(group, options) as ThresholdSumOptions;
    const t = o.t ?? Math.floor(n / 2) + 1;
    if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw new InvalidArgumentError('"t" must be an integer');
    if (t < 2 || t > n) throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, `"t" must be in 2..${n} for ${n} parties (t = 1 gives no privacy), got ${t}`);
    const floor = thresholdDealerFloor(n, t);
    const minContributors = o.minContributors ?? floor;
    if (typeof minContributors !== 'number' || !Number.isSafeInteger(minContributors)) throw new InvalidArgumentError('"minContributors" must be an integer');
    if (minContributors < floor) {
      throw new ValueError(
        ErrorCode.PARAMETERS_UNSAFE,
        `"minContributors" must be at least ${floor} for t = ${t} and ${n} parties (fewer dealers would let ${t - 1} colluders isolate one honest input), got ${minContributors}`,
      );
    }
    if (minContributors > n) throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, `"minContributors" must be at most ${n} (the number of parties), got ${minContributors}`);
    if (o.spill !== undefined && o.spill !== false && (typeof o.spill !== 'string' || o.spill.length === 0)) {
      throw new InvalidArgumentError('"spill" must be a directory path or false');
    }
    return { o, t, minContributors, field: _thresholdField(n, input, o) };
  });
  const extra = { t, minContributors };
  const r = field === 'p61' ? await dealAndRun(group, encodeRun(group, 'threshold', input, o, 'p61', extra), _FIELD_P61, t, minContributors, o) : await dealAndRun(group, encodeRun(group, 'threshold', input, o, 'p127', extra), _FIELD_P127, t, minContributors, o);
  return { ...r, sum: _mirrorOutput(input, r.sum) as SumOutputOf<I> };
}

/**
 * Deal in the same message flight as the shape statement, then steps 1–5. Why dealing before the
 * shapes are compared is safe: each share is one point of a fresh random polynomial of degree
 * t − 1 through this party's own input, with this party's own t; fewer than t of them reveal
 * nothing, whether or not the run then aborts on a shape or parameter mismatch (and a peer gets
 * exactly one share per dealer either way).
 */
async function dealAndRun<V>(group: Group, local: LocalRun<V>, F: _ThresholdField<V>, t: number, minContributors: number, o: ThresholdSumOptions): Promise<SumResult> {
  return local.progress.around(async () => {
    const xs = evaluationPoints(group.parties.length);
    local.progress.phase('share');
    if (F.name === 'p61' && local.length > PIECE_ELEMENTS) return runInPieces(group, local as unknown as LocalRun<Field61Vector>, t, minContributors, o, stuckPeers(group, roundOptions(o)));
    const shares = F.share(local.encoded, t, xs);
    const stuck = stuckPeers(group, roundOptions(o));
    const dealing = sendTolerant(group, `${local.runId}/deal`, group.peers, (peer) => ({ y: F.toBytes(shares[group.parties.indexOf(peer)]!) }), stuck);
    const agreed = await _exchangeShapes(group, local, t - 1, roundOptions(o), stuck);
    await dealing;
    return runThreshold(group, local, agreed, F, t, minContributors, o, shares[group.parties.indexOf(group.localId)]!, stuck);
  });
}

/**
 * The shape agreement of thresholdSum, tolerant of parties that vanish (issue 17, item 5(b)):
 * every party sends every peer its shape and parameter statement (in the flight of its deal) and
 * compares what arrives with its own. A difference aborts naming the parties that differ
 * (`SHAPE_MISMATCH`), as in the other sums. A party whose statement does not arrive (it vanished
 * while dealing, or before) is not waited for past the round: it is a non-dealer here and its
 * reports are not counted, and the dealer-set quorum of step 3 decides the run as for any dropout.
 *
 * Why no echo broadcast is needed (the other sums echo their shape statement): thresholdSum uses
 * nobody's statement except to compare it with its own, and every party publishes only to
 * parties it compared equal and that confirmed its dealer set; a party that sends different
 * statements to different parties gains only a different shape for its own input. Without the
 * echo there is no run-seed coin toss either — thresholdSum draws nothing from it; its
 * `SumResult.seed` is a digest of the run and the agreed dealer set.
 *
 * @returns the parties this party compared equal (itself included), in canonical order.
 * @throws {@link ValueError} `SHAPE_MISMATCH`; {@link TimeoutError} naming the missing parties when
 *   fewer than `minimum` peers sent a statement in time.
 * @internal exported for the adversarial test fixture.
 */
export async function _exchangeShapes<V>(
  group: Group,
  local: LocalRun<V>,
  minimum: number,
  ro: { timeoutMs?: number; signal?: AbortSignal },
  stuck: StuckPeers = stuckPeers(group, ro),
): Promise<string[]> {
  const round = `${local.runId}/shape`;
  const mine = { shape: shapeDigest(local.shape), params: local.descriptor };
  await sendTolerant(group, round, group.peers, () => mine, stuck);
  const got = await gatherTolerant(group, round, minimum, { ...ro, from: group.peers }, { roundMs: ro.timeoutMs ?? group.roundTimeoutMs, waitForHeldUp: true });
  const disagree: string[] = [];
  for (const [party, value] of got) {
    // Parameters first (the protocol revision is among them), as in the echoed agreement: another
    // release is a mismatch, not a malformed statement.
    const params = statedParams(value);
    if (params !== undefined && params !== mine.params) {
      disagree.push(party);
      continue;
    }
    const ctx = { what: 'shape agreement', peer: party };
    const rec = expectRecord(value, ctx, ['shape', 'params']);
    if (expectString(rec.shape, 'shape', ctx, 128) !== mine.shape || expectString(rec.params, 'params', ctx, 1024) !== mine.params) disagree.push(party);
  }
  if (disagree.length > 0) {
    throw new ValueError(
      ErrorCode.SHAPE_MISMATCH,
      `parties ${disagree.map((d) => `"${d}"`).join(', ')} disagree with this party on the shape of the values or the protocol parameters`,
      { peers: disagree },
    );
  }
  group._noteLocalFailure(undefined);
  return group.parties.filter((p) => p === group.localId || got.has(p));
}

/**
 * Steps 2 and 3 (see the module notes): report the dealers this party holds, intersect the signed
 * reports into Q, enforce the floor, and confirm Q with a quorum before anything that depends on
 * it is published.
 * @returns Q (canonical order), its hash, and the peers that confirmed it.
 */
async function agreeDealers(
  group: Group,
  run: LocalRun<unknown>,
  agreed: readonly string[],
  held: { has(dealer: string): boolean },
  t: number,
  minContributors: number,
  ro: { timeoutMs?: number; signal?: AbortSignal },
  stuck: StuckPeers,
  commitTo: (Q: readonly string[]) => CommittedPartial,
): Promise<AgreedDealers> {
  const n = group.parties.length;
  // 2. Agree on the dealers.
  const present = agreed.filter((p) => p !== group.localId && !group.lostPeers.includes(p));
  const mySet = group.parties.filter((p) => held.has(p));
  const myReport: SignedReport = { from: group.localId, d: mySet, sig: ed25519Sign(reportStatement(group, run.runId, group.localId, mySet), group.identity.secretKey) };
  // A peer whose statement did not reach this party in time gets the note instead of a report: it
  // may have taken every statement and share (they went at once) and wait for reports nobody sends
  // it; at its deadline the parties that completed without it answered "waiting for nobody" and it
  // named them all, honest and done (review26 R26-1).
  const without = group.peers.filter((p) => !agreed.includes(p));
  await sendTolerant(group, `${run.runId}/dealers`, [...present, ...without], (peer) => (present.includes(peer) ? { d: mySet, sig: myReport.sig } : WENT_ON), stuck);
  const roundMs = ro.timeoutMs ?? group.roundTimeoutMs;
  const gathered = await gatherTolerant(group, `${run.runId}/dealers`, t - 1, { ...ro, from: present }, { roundMs, waitForHeldUp: true });
  const reports = new Map<string, PlainData>();
  const wentOnWithout: string[] = [];
  const signedReports = new Map<string, SignedReport>([[group.localId, myReport]]);
  let q = new Set(mySet);
  for (const [peer, msg] of gathered) {
    const ctx = { what: 'dealer report', peer };
    const rec = expectRecord(msg, ctx, ['d', 'sig', 'out']);
    if (wentOn(rec, ctx)) {
      wentOnWithout.push(peer);
      continue;
    }
    const report = parseReport(group, run.runId, { from: peer, d: rec.d ?? null, sig: rec.sig ?? null }, ctx);
    if (report === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" sent a dealer report with an invalid signature`, { peer });
    reports.set(peer, msg);
    signedReports.set(peer, report);
    const theirs = new Set(report.d);
    q = new Set([...q].filter((d) => theirs.has(d)));
  }
  if (reports.size < t - 1) throw wentOnTooFew(group, wentOnWithout, `only ${reports.size} dealer reports reached this party, ${t - 1} needed`);
  const Q = group.parties.filter((p) => q.has(p));
  // The floor comes before anything that depends on Q leaves this party.
  if (Q.length < minContributors) {
    // Named: only parties whose shape statement never reached this party (absent from the whole
    // run here), and only as a deadline names a missing party — probed, and not when it says it
    // waits for another live party. A dealer left out because another party reported lacking its
    // share is that party's claim, which dropout tolerance believes and nothing here can check
    // (naming it let one reporter get honest dealers named at every honest party: review9 W1); a
    // dealer whose share or piece came late is a dropout, not a fault seen here (under load the
    // late pieces of honest dealers got them named).
    const err = tooFew(
      `only ${Q.length} dealers are held by every remaining party, ${minContributors} needed (minContributors); this party published nothing`,
      'not in the dealer set:',
      group.parties.filter((p) => !q.has(p)),
    );
    const absent = group.parties.filter((p) => !agreed.includes(p));
    if (absent.length === 0) throw err;
    // A statement that reached this party after the tolerant gather (filed, not taken), up to the
    // end of the probe, is not "absent from the whole run": its sender is not named (review17 R17-5).
    const stalled = group._spareArrived(await group._stalled(`${run.runId}/shape`, absent, ro.timeoutMs ?? group.roundTimeoutMs), `${run.runId}/shape`);
    throw new ValueError(ErrorCode.TOO_FEW_PARTIES, `${err.message}; no shape statement from ${absent.map((p) => `"${p}"`).join(', ')} (${stalled.message})`, {
      peers: stalled.peers,
      suspects: stalled.suspects,
    });
  }

  // 3. Confirm Q, with the commitment to this party's partial sum over it: a quorum of identical
  // dealer sets, and no conflicting one, before publishing.
  const myQ = qHash(Q);
  const committed = commitTo(Q);
  const reporters = [...reports.keys()];
  const used = [...signedReports.values()].map((r) => ({ from: r.from, d: r.d, sig: r.sig }));
  const myConfirmation = ed25519Sign(confirmStatement(group, run.runId, group.localId, myQ, committed.c), group.identity.secretKey);
  await sendTolerant(group, `${run.runId}/confirm`, reporters, () => ({ q: myQ, c: committed.c, rep: used, sig: myConfirmation }), stuck);
  const quorum = thresholdQuorum(n, t);
  const confirms = await gatherTolerant(group, `${run.runId}/confirm`, 0, { ...ro, from: reporters }, { roundMs, waitForHeldUp: true });
  const confirmers: string[] = [];
  const confirmations = new Map<string, SignedConfirmation>([[group.localId, { from: group.localId, q: myQ, c: committed.c, sig: myConfirmation }]]);
  for (const [peer, msg] of confirms) {
    const ctx = { what: 'dealer-set confirmation', peer };
    const rec = expectRecord(msg, ctx, ['q', 'c', 'rep', 'sig']);
    const theirQ = expectBytes(rec.q, 'q', ctx, 32);
    const c = expectBytes(rec.c, 'c', ctx, 32);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    // Every confirmation is verified: the commitment in it is what the peer's partial sum is
    // checked against, and it is forwarded to the others as the peer's own signed statement.
    if (!ed25519Verify(confirmStatement(group, run.runId, peer, theirQ, c), sig, group.roster.get(peer)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" sent a dealer-set confirmation with an invalid signature`, { peer });
    }
    if (!bytesEqual(theirQ, myQ)) {
      explainDealerSplit(group, run.runId, peer, { q: theirQ, c, sig }, expectArray(rec.rep, 'rep', ctx, n), signedReports);
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        `"${peer}" agreed on a different set of dealers than this party: different dealer reports reached the two (a report lost to a crash); this party published nothing (the others may have: to them this party is a dropout)`,
        { description: 'different agreed dealer sets, each consistent with the signed reports its holder presented; aborted before publishing so that no two partial sums over different dealer sets exist', statements: [] },
      );
    }
    confirmers.push(peer);
    confirmations.set(peer, { from: peer, q: theirQ, c, sig });
  }
  if (confirmers.length + 1 < quorum) {
    throw tooFew(
      `only ${confirmers.length + 1} parties confirmed the dealer set to this party, ${quorum} needed; this party published nothing`,
      'no confirmation from',
      group.parties.filter((p) => p !== group.localId && !confirmers.includes(p)),
    );
  }

  // Parties this party sent its confirmation to whose own did not reach it in time: they may
  // count this party as a confirmer and wait for its partial sum; they get the note instead.
  return { Q, myQ, confirmers, late: reporters.filter((p) => !confirmers.includes(p)), confirmations, committed };
}

/** What steps 2–3 agreed (see {@link agreeDealers}). */
interface AgreedDealers {
  /** The dealer set, in canonical order. */
  readonly Q: string[];
  /** Its hash. */
  readonly myQ: Uint8Array;
  /** The peers that confirmed Q to this party in time. */
  readonly confirmers: string[];
  /** The peers this party confirmed to whose confirmation came too late (they get the note). */
  readonly late: string[];
  /** The signed confirmations counted: this party's own and each confirmer's. */
  readonly confirmations: ReadonlyMap<string, SignedConfirmation>;
  /** This party's committed partial sum. */
  readonly committed: CommittedPartial;
}

/**
 * The note a party sends, in place of its partial sum, to a party that confirmed the dealer set to
 * it too late to be counted (review9 W2b): "I went on without you". Without it that party waited
 * for partial sums that never came and named, by `TIMEOUT`, the parties that completed without it
 * (they answer probes "waiting for nobody"). A note is not a point; a party left with fewer than t
 * points ends with `TOO_FEW_PARTIES` naming nobody. (A cheater can send the note instead of its
 * partial sum and go unnamed — as it can by withholding its report or confirmation, F3.)
 */
const WENT_ON = { out: true } as const;

/** Whether a partial-sum message is the {@link WENT_ON} note (checked: `out` is `true` alone, or absent). */
function wentOn(rec: Record<string, PlainData>, ctx: { what: string; peer: string }): boolean {
  if (rec.out === undefined) return false;
  if (rec.out !== true || Object.keys(rec).length !== 1) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${ctx.peer}" sent a malformed ${ctx.what}`, { peer: ctx.peer });
  }
  return true;
}

/**
 * `TOO_FEW_PARTIES` naming nobody for a party that peers `wentOnWithout` went on without (they
 * sent the {@link WENT_ON} note: this party's shape statement, or its deal, did not reach them in
 * time), leaving it short of what it needs (review26 R26-1).
 */
function wentOnTooFew(group: Group, wentOnWithout: readonly string[], what: string): ValueError {
  return tooFew(
    `${what}: ${wentOnWithout.length} ${wentOnWithout.length === 1 ? 'party' : 'parties'} went on without this party (its statement or deal reached them too late); this party published nothing`,
    'went on without this party:',
    group.parties.filter((p) => wentOnWithout.includes(p)),
  );
}

/** Steps 1–5 of the protocol, in field F, among the parties `agreed` (see {@link _exchangeShapes}). */
async function runThreshold<V>(
  group: Group,
  run: LocalRun<V>,
  agreed: readonly string[],
  F: _ThresholdField<V>,
  t: number,
  minContributors: number,
  o: ThresholdSumOptions,
  ownShare: V,
  stuck: StuckPeers,
): Promise<SumResult> {
  const n = group.parties.length;
  const ro = roundOptions(o);
  const xs = evaluationPoints(n);
  const xOf = new Map(group.parties.map((p, i) => [p, xs[i]!]));

  // 1. Collect the shares dealt to this party (sent with the shape statement, see dealAndRun) by
  // the parties whose shape statement matched; a party that vanished before stating it is no dealer.
  const held = new Map<string, V>([[group.localId, ownShare]]);
  const dealt = await gatherTolerant(group, `${run.runId}/deal`, t - 1, { ...ro, from: agreed.filter((p) => p !== group.localId) }, { roundMs: ro.timeoutMs ?? group.roundTimeoutMs, waitForHeldUp: true });
  for (const [peer, msg] of dealt) {
    const ctx = { what: 'Shamir share', peer };
    held.set(peer, F.fromBytes(expectBytes(expectRecord(msg, ctx, ['y']).y, 'y', ctx), run.length, 'Shamir share', peer));
  }

  // 2–3. Agree on the dealers and confirm them, with a commitment to the partial sum over them.
  let partial: V | undefined;
  let partialBytes: Uint8Array | undefined;
  const agreement = await agreeDealers(group, run, agreed, held, t, minContributors, ro, stuck, (Q) => {
    partial = F.zeros(run.length);
    for (const d of Q) F.addInPlace(partial, held.get(d)!);
    partialBytes = F.toBytes(partial);
    return commitPartial(group, run.runId, partialBytes, Infinity);
  });
  const { Q, myQ, confirmers, late } = agreement;

  // 4. Publish partial sums over Q to the parties that confirmed it, opening the commitment.
  run.progress.phase('open');
  const publication = { q: myQ, y: partialBytes!, ...PublishChecks.opening(agreement, group.localId) };
  await sendTolerant(group, `${run.runId}/partial`, [...confirmers, ...late], (peer) => (late.includes(peer) ? WENT_ON : publication), stuck);
  const quorum = thresholdQuorum(n, t);
  const published = await gatherTolerant(group, `${run.runId}/partial`, quorum - 1, { ...ro, ...publishDeadline(group, ro), from: confirmers }, { roundMs: ro.timeoutMs ?? group.roundTimeoutMs, endWhenSilent: true });

  // 5. Check (commitments, forwarded confirmations) and reconstruct.
  const checks = new PublishChecks(group, run.runId, agreement, 1, t);
  const pointOf = new Map<string, Point<V>>([[group.localId, { x: xOf.get(group.localId)!, y: partial! }]]);
  for (const [peer, msg] of published) {
    const ctx = { what: 'partial sum', peer };
    const rec = expectRecord(msg, ctx, ['q', 'y', 'out', 'n', 'h', 'cf']);
    if (wentOn(rec, ctx)) continue;
    checkLabel(rec.q, myQ, ctx);
    checks.opening(peer, rec, ctx);
    const y = expectBytes(rec.y, 'y', ctx);
    checks.piece(peer, 0, y);
    pointOf.set(peer, { x: xOf.get(peer)!, y: F.fromBytes(y, run.length, 'partial sum', peer) });
  }
  const owners = checks.usable([...pointOf.keys()]);
  const sum = reconstruct(group, F, owners.map((p) => pointOf.get(p)!), owners, t);
  return thresholdResult(group, run, F.decode(run.shape, sum, run.params), Q);
}

/**
 * The checks of step 5 that make every honest party that completes reach the same sum (review9
 * I1). Before them, colluders holding several of the points a party reconstructed from sent
 * theirs after the honest ones, chosen to pass the degree check, and different ones to different
 * honest parties: two honest parties accepted different wrong sums, nobody named. Now:
 *
 * - Each party commits to its partial sum in its signed confirmation ({@link partialCommitment})
 *   and opens it when it publishes: a partial sum (or a piece of one) that is not the committed
 *   one names its sender (`COMMITMENT_MISMATCH`, its signed confirmation as evidence). So a
 *   colluder fixes its point before any honest partial sum is published.
 * - Each publication forwards the signed confirmations its sender counted; a party that signed two
 *   different confirmations for the run is named (`EQUIVOCATION`, both as evidence). So no party
 *   gives two honest parties different points where either sees the other's view.
 * - A party reconstructs only from publishers that each counted all the others' confirmations
 *   (the set is pruned until that holds), and only from at least m = {@link thresholdQuorum} of
 *   them. Then any two honest parties that complete share at least 2m − n ≥ t points, among them
 *   an honest publisher h that counted every point of both sets: both checked each shared point's
 *   commitment against h's forwarded copy, so the shared points are the same at both, and two
 *   polynomials of degree t − 1 that agree on t points are one. A colluder's point is fixed before
 *   it saw the honest ones: what it can shift the sum by is what changing its own input does.
 *
 * Cost: liveness needs m publishers after the confirmations (before: t) — the dropouts tolerated
 * in all stay n − m; a publication carries the counted confirmations (about 170 bytes each).
 */
class PublishChecks {
  readonly #group: Group;
  readonly #runId: string;
  readonly #agreed: AgreedDealers;
  readonly #count: number;
  readonly #quorum: number;
  /** A signed confirmation per party, as first known here (counted ones first, then forwarded). */
  readonly #known = new Map<string, SignedConfirmation>();
  /** Each publisher's committed piece hashes. */
  readonly #hashes = new Map<string, readonly Uint8Array[]>();
  /** Each publisher's counted confirmers, as it forwarded them. */
  readonly #counted = new Map<string, ReadonlySet<string>>();
  /** The last {@link PublishChecks.usable} answer, by its owners. */
  #lastUsable: { key: string; U: string[] } | undefined;

  constructor(group: Group, runId: string, agreed: AgreedDealers, count: number, t: number) {
    this.#group = group;
    this.#runId = runId;
    this.#agreed = agreed;
    this.#count = count;
    this.#quorum = thresholdQuorum(group.parties.length, t);
    for (const [p, c] of agreed.confirmations) this.#known.set(p, c);
  }

  /** What this party sends with its publication (piece 0): its opening and the confirmations it counted. */
  static opening(agreed: AgreedDealers, me: string): { n: Uint8Array; h: Uint8Array[]; cf: PlainData[] } {
    const cf = [...agreed.confirmations.values()].filter((c) => c.from !== me).map((c) => ({ from: c.from, q: c.q, c: c.c, sig: c.sig }));
    return { n: agreed.committed.nonce, h: agreed.committed.pieceHashes, cf };
  }

  #evidence(c: SignedConfirmation): Uint8Array {
    return encodeEvidence({ signer: c.from, statement: confirmStatement(this.#group, this.#runId, c.from, c.q, c.c), signature: c.sig });
  }

  #mismatch(peer: string, what: string): CheatingDetectedError {
    return new CheatingDetectedError(
      ErrorCode.COMMITMENT_MISMATCH,
      `"${peer}" published ${what} that is not the one it committed to in its signed confirmation`,
      { description: 'a signed dealer-set confirmation whose partial-sum commitment the published partial sum does not open', statements: [this.#evidence(this.#agreed.confirmations.get(peer)!)] },
      { peer },
    );
  }

  /** The first message of `peer`'s publication: check its opening, and the confirmations it forwards. */
  opening(peer: string, rec: Record<string, PlainData>, ctx: { what: string; peer: string }): void {
    const group = this.#group;
    const nonce = expectBytes(rec.n, 'n', ctx, 32);
    const list = expectArray(rec.h, 'h', ctx, this.#count);
    if (list.length !== this.#count) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" sent a malformed ${ctx.what}: ${list.length} piece hashes, ${this.#count} expected`, { peer });
    const hashes = list.map((h) => expectBytes(h, 'h', ctx, 32));
    if (!bytesEqual(partialCommitment(group, this.#runId, peer, nonce, hashes), this.#agreed.confirmations.get(peer)!.c)) throw this.#mismatch(peer, 'a partial sum');
    const forwarded = expectArray(rec.cf, 'cf', ctx, group.parties.length);
    const counted = new Set<string>();
    const fctx = { what: 'forwarded dealer-set confirmation', peer };
    for (const item of forwarded) {
      const e = expectRecord(item, fctx, ['from', 'q', 'c', 'sig']);
      const from = expectString(e.from, 'from', fctx, 128);
      if (from === peer || counted.has(from) || !group.parties.includes(from)) {
        throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" forwarded a malformed list of the confirmations it counted`, { peer });
      }
      const c: SignedConfirmation = { from, q: expectBytes(e.q, 'q', fctx, 32), c: expectBytes(e.c, 'c', fctx, 32), sig: expectBytes(e.sig, 'sig', fctx, 64) };
      const known = this.#known.get(from);
      // A copy of a statement already verified here needs no second verification.
      const same = known !== undefined && bytesEqual(known.q, c.q) && bytesEqual(known.c, c.c) && bytesEqual(known.sig, c.sig);
      if (!same && !ed25519Verify(confirmStatement(group, this.#runId, from, c.q, c.c), c.sig, group.roster.get(from)!.publicKey)) {
        throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" forwarded a dealer-set confirmation that "${from}" never signed`, { peer });
      }
      // It counted only confirmations of the set it confirmed itself (its label says which).
      if (!bytesEqual(c.q, this.#agreed.myQ)) {
        throw new CheatingDetectedError(
          ErrorCode.TAMPERING_DETECTED,
          `"${peer}" forwarded as counted a confirmation of another dealer set than the one it confirmed`,
          { description: 'a publication forwarding a signed confirmation of another dealer set as counted', statements: [this.#evidence(c)] },
          { peer },
        );
      }
      counted.add(from);
      if (known === undefined) this.#known.set(from, c);
      else if (!same && !bytesEqual(known.c, c.c)) {
        throw new CheatingDetectedError(
          ErrorCode.EQUIVOCATION,
          `"${from}" signed two different confirmations for this run (different partial-sum commitments to different parties)`,
          { description: 'two dealer-set confirmations signed by the same party for the same run, with different partial-sum commitments', statements: [this.#evidence(known), this.#evidence(c)] },
          { peer: from },
        );
      }
    }
    this.#hashes.set(peer, hashes);
    this.#counted.set(peer, counted);
  }

  /** Piece `i` of `peer`'s partial sum must be the committed one (its opening came first). */
  piece(peer: string, i: number, bytes: Uint8Array): void {
    const h = this.#hashes.get(peer)?.[i];
    if (h === undefined || !bytesEqual(sha256(bytes), h)) throw this.#mismatch(peer, i === 0 && this.#count === 1 ? 'a partial sum' : `piece ${i} of its partial sum`);
  }

  /**
   * The publishers (this party first, then `owners`' order) whose points may be used together:
   * each publisher must have counted every other one's confirmation; the one in most conflicts
   * (pairs where either did not count the other) is left out until none remain (ties: the last in
   * canonical order). At least the quorum must remain.
   * @throws {@link ValueError} `TOO_FEW_PARTIES` naming nobody.
   */
  usable(owners: readonly string[]): string[] {
    // The same owners piece after piece (the pieces path): computed once.
    const key = owners.join('\n');
    if (this.#lastUsable?.key === key) return this.#lastUsable.U;
    const me = this.#group.localId;
    const order = new Map(this.#group.parties.map((p, i) => [p, i]));
    const alive = new Set(owners);
    // A conflict between x and y: one of them did not count the other's confirmation. It is
    // charged to both ends, and the party in most conflicts is left out first (never this party,
    // which counted every publisher it gathered from). Charged to the party that lacked the other
    // alone, one party confirming to this party only (withholding from the rest, or late to them)
    // got every other publisher left out instead of itself (review11 R11-1). O(r²) in all.
    const conflicts = new Map<string, string[]>(owners.map((x) => [x, []]));
    const lacks = (y: string, x: string): boolean => y !== me && !this.#counted.get(y)!.has(x);
    for (let i = 0; i < owners.length; i++) {
      for (let j = i + 1; j < owners.length; j++) {
        const [x, y] = [owners[i]!, owners[j]!];
        if (lacks(x, y) || lacks(y, x)) {
          conflicts.get(x)!.push(y);
          conflicts.get(y)!.push(x);
        }
      }
    }
    const count = new Map(owners.map((x) => [x, conflicts.get(x)!.length]));
    for (;;) {
      let worst: string | undefined;
      let most = 0;
      for (const [y, m] of count) {
        if (y === me || !alive.has(y) || m === 0) continue;
        if (m > most || (m === most && order.get(y)! > order.get(worst!)!)) {
          most = m;
          worst = y;
        }
      }
      if (worst === undefined) break;
      alive.delete(worst);
      for (const y of conflicts.get(worst)!) count.set(y, count.get(y)! - 1);
    }
    const U = owners.filter((p) => alive.has(p));
    if (U.length < this.#quorum) {
      throw tooFew(
        `only ${U.length} partial sums from parties that all counted each other's confirmations, ${this.#quorum} needed (so that every party that completes has the same sum)`,
        'no usable partial sum from',
        this.#group.parties.filter((p) => !U.includes(p)),
      );
    }
    this.#lastUsable = { key, U };
    return U;
  }
}

/**
 * The deadline of the partial-sum round: two round deadlines. A party that had every confirmation
 * at once starts waiting for partial sums while parties that missed one wait out the confirmation
 * round's whole deadline before they publish; with one deadline it timed out just as they
 * published and named them, done and honest (review11 R11-2).
 */
function publishDeadline(group: Group, ro: { timeoutMs?: number }): { timeoutMs: number } {
  return { timeoutMs: Math.min(2 * (ro.timeoutMs ?? group.roundTimeoutMs), MAX_TIMER_MS) };
}

/** The partial sum's dealer-set label `q` must be the Q this party and its sender confirmed. */
function checkLabel(q: PlainData | undefined, myQ: Uint8Array, ctx: { what: string; peer: string }): void {
  if (!bytesEqual(expectBytes(q, 'q', ctx, 32), myQ)) {
    // It confirmed this Q a round ago: a partial sum over another set is a lie of its own.
    throw new CheatingDetectedError(
      ErrorCode.TAMPERING_DETECTED,
      `"${ctx.peer}" published a partial sum over another dealer set than the one it confirmed`,
      { description: 'a partial sum labelled with a dealer set other than the confirmed one', statements: [] },
      { peer: ctx.peer },
    );
  }
}

/**
 * Step 5 on one set of points (the whole vectors, or one piece of each): at least t of them; with
 * more than t, all must lie on one polynomial of degree t − 1 (inconsistent points named when the
 * redundancy allows); the secret at 0.
 */
function reconstruct<V>(group: Group, F: _ThresholdField<V>, points: readonly Point<V>[], owners: readonly string[], t: number): V {
  if (points.length < t) {
    throw tooFew(`only ${points.length} partial sums, ${t} needed`, 'no partial sum from', group.parties.filter((p) => !owners.includes(p)));
  }
  if (points.length > t) {
    const check = F.checkDegree(points, t);
    if (!check.ok) {
      // Suspects, never named: a point off the polynomial is its owner's tampered partial sum or
      // a bad share some dealer dealt that owner, and nothing here tells which (no verifiable
      // secret sharing). Named in `peers`, the receiver of a bad share would be left out of the
      // documented retry (group.without(err.peers)) — after every partial sum was published, to
      // the dealer too: the two sums it then holds differ by the receiver's input.
      const suspects = (check.suspects ?? []).map((i) => owners[i]!);
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        suspects.length > 0
          ? `inconsistent partial sums from ${suspects.map((c) => `"${c}"`).join(', ')} (a partial sum tampered by its sender, or a share tampered by a dealer of that sender: suspects, nobody named)`
          : 'the partial sums do not lie on one polynomial (a tampered share or partial sum); too little redundancy to name the culprit',
        { description: `Shamir degree check failed over ${points.length} points with t = ${t}`, statements: [] },
        { peers: [], suspects },
      );
    }
  }
  return F.lagrangeAtZero(points);
}

function thresholdResult(group: Group, run: LocalRun<unknown>, sum: SumOutput, Q: string[]): SumResult {
  return {
    sum,
    protocol: 'thresholdSum',
    contributors: Q,
    runId: run.runId,
    seed: seedHex(createHash('sha256').update(encodeMessage(['coupler/1 threshold run', group.sessionId, group.epoch, run.runId, Q])).digest()),
    elapsedMs: Date.now() - run.startedAt,
  };
}

/**
 * thresholdSum of a long vector in GF(2^61 − 1), in pieces ({@link exchangePieces}): the same
 * steps, with the vectors of steps 1, 4 and 5 exchanged 1 MiB at a time under flow control.
 *
 * 1. After the shape statements (the number of pieces follows from the agreed length; a long
 *    vector is not dealt before they are compared, unlike a short one), each piece of the input is
 *    shared on its own (a fresh polynomial per element, as in one message) and each agreed peer
 *    gets its share piece; this party's own share overwrites its input piece. Every piece received
 *    is checked and added to that running sum at once, and kept (this party's own share piece
 *    too) in a {@link ShareSpill} — an encrypted temporary file for long vectors, else memory —
 *    until the dealer set is agreed: step 2 may drop a dealer whose share reached this party but
 *    not another one (or this party itself), and its share must then be left out of the partial
 *    sum. A dealer whose piece does not arrive is dropped for the rest of the deal and is no dealer
 *    here, as a dealer that vanished before dealing.
 * 4. The partial sum over Q is the running sum less the pieces of every dealer outside Q, read
 *    back from the spill (only after a dropout or a lost share); the spill is then closed, its file
 *    gone. It is published piece by piece, each labelled with Q.
 * 5. Each piece is checked and reconstructed from the points of the parties that published it
 *    (a party that vanishes while publishing is not waited for in later pieces, as long as t
 *    points remain), into the partial sum's own memory; a check that fails names the inconsistent
 *    points of that piece.
 *
 * Memory per party ≈ the input and the encoded input (which becomes the running sum, then the
 * partial sum, then the sum), plus pieces in flight: 2·8L (with the spill in memory, n·8L more).
 */
async function runInPieces(group: Group, local: LocalRun<Field61Vector>, t: number, minContributors: number, o: ThresholdSumOptions, stuck: StuckPeers): Promise<SumResult> {
  const ro = roundOptions(o);
  const me = group.localId;
  const L = local.length;
  const count = pieceCount(L);
  const evalPoints = evaluationPoints(group.parties.length);
  const xOf = new Map(group.parties.map((p, i) => [p, evalPoints[i]!]));
  const agreed = await _exchangeShapes(group, local, t - 1, ro, stuck);

  // 1. Deal and collect, piece by piece: every piece received (and this party's own share piece)
  // is added to the running sum in `own` and kept in the spill, until Q is known.
  const peers = agreed.filter((p) => p !== me);
  const own = local.encoded;
  const spill = new ShareSpill(L >= _spillPolicy.minElements ? o.spill : false);
  let dealers: AgreedDealers;
  let partialBytes: Uint8Array | undefined;
  try {
    _spillPolicy.onSpill?.(spill, me);
    const dropped = new Set<string>();
    const wentOnDeal = new Set<string>();
    const without = group.peers.filter((p) => !agreed.includes(p));
    const dealRound = `${local.runId}/deal`;
    const xs = [me, ...peers].map((p) => xOf.get(p)!);
    await exchangePieces(
      group,
      {
        round: dealRound,
        count,
        from: peers,
        bytesPerPeer: 8 * L,
        send: (i) => {
          const at = i * PIECE_ELEMENTS;
          const m = Math.min(PIECE_ELEMENTS, L - at);
          const shares = shamirShare61(own.subarray(2 * at, 2 * (at + m)), t, xs);
          own.set(shares[0]!, 2 * at);
          // To every agreed peer whose channel is up, also one this party dropped as a dealer: its
          // share of this party's input keeps this party in the peer's dealer set. A peer whose
          // statement came too late gets the note with piece 0 (it waits for pieces nobody sends
          // it; review26 R26-1).
          return sendTolerant(group, `${dealRound}/p${i}`, i === 0 ? [...peers, ...without] : peers, (peer) => (without.includes(peer) ? WENT_ON : f61ToBytes(shares[1 + peers.indexOf(peer)]!)), stuck);
        },
        onPiece: (i, got) => {
          const at = i * PIECE_ELEMENTS;
          const m = Math.min(PIECE_ELEMENTS, L - at);
          const sum = own.subarray(2 * at, 2 * (at + m));
          // Every piece is checked before any of them is added or kept. Only as piece 0: the note.
          const notes: string[] = [];
          const pieces: (readonly [string, Field61Vector])[] = [];
          for (const [peer, msg] of got) {
            if (i === 0 && !(msg instanceof Uint8Array)) {
              const ctx = { what: 'Shamir share piece 0', peer };
              if (wentOn(expectRecord(msg, ctx, ['out']), ctx)) notes.push(peer);
              else throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `"${peer}" sent a malformed ${ctx.what}`, { peer });
              continue;
            }
            pieces.push([peer, field61FromBytes(pieceBytes(msg, m, 'Shamir share piece', i, peer), m, 'Shamir share piece', peer)] as const);
          }
          if (notes.length > 0) {
            for (const peer of notes) wentOnDeal.add(peer);
            const left = peers.filter((p) => !dropped.has(p) && !wentOnDeal.has(p) && got.has(p)).length;
            if (left < t - 1) throw wentOnTooFew(group, [...wentOnDeal], `only ${left} dealers' share pieces reach this party, ${t - 1} needed`);
          }
          spill.put(me, f61ToBytes(sum));
          for (const [peer, piece] of pieces) {
            spill.put(peer, f61ToBytes(piece));
            _f61AddInto(sum, sum, piece);
          }
          return notes;
        },
        tolerant: { minimum: t - 1, onDrop: (peer) => dropped.add(peer) },
      },
      ro,
    );
    const held = new Set([me, ...peers.filter((p) => !dropped.has(p))]);

    // 2–3. Agree on the dealers and confirm them, with a commitment to the partial sum over them:
    // the running sum less every dealer it holds pieces of outside Q (one this party dropped
    // mid-deal, or whose share did not reach another reporter).
    dealers = await agreeDealers(group, local, agreed, held, t, minContributors, ro, stuck, (Q) => {
      const inQ = new Set(Q);
      for (const d of [me, ...peers]) {
        if (inQ.has(d)) continue;
        for (let i = 0; i < spill.count(d); i++) {
          const at = i * PIECE_ELEMENTS;
          const sum = own.subarray(2 * at, 2 * Math.min(L, at + PIECE_ELEMENTS));
          _f61SubInto(sum, sum, f61FromBytes(spill.read(d, i)));
        }
      }
      partialBytes = f61ToBytes(own);
      return commitPartial(group, local.runId, partialBytes, 8 * PIECE_ELEMENTS);
    });
    local.progress.phase('open');
  } finally {
    spill.close();
  }
  const { Q, myQ, confirmers, late } = dealers;
  const partial = own;
  const publishRound = `${local.runId}/partial`;
  const checks = new PublishChecks(group, local.runId, dealers, count, t);
  const opening = PublishChecks.opening(dealers, me);
  const quorum = thresholdQuorum(group.parties.length, t);
  await exchangePieces(
    group,
    {
      round: publishRound,
      count,
      from: confirmers,
      bytesPerPeer: 8 * L,
      // (The parties that confirmed too late get the note with piece 0, and nothing after it.)
      send: (i) =>
        sendTolerant(
          group,
          `${publishRound}/p${i}`,
          i === 0 ? [...confirmers, ...late] : confirmers,
          (peer) => {
            if (late.includes(peer)) return WENT_ON;
            const y = partialBytes!.subarray(8 * i * PIECE_ELEMENTS, 8 * Math.min(L, (i + 1) * PIECE_ELEMENTS));
            // Piece 0 opens the commitment and forwards the confirmations this party counted.
            return i === 0 ? { q: myQ, y, ...opening } : { q: myQ, y };
          },
          stuck,
        ),
      // 5. Check and reconstruct each piece into the partial sum's memory (this party's own piece i
      // has been sent when this runs).
      onPiece: (i, got) => {
        const at = i * PIECE_ELEMENTS;
        const m = Math.min(PIECE_ELEMENTS, L - at);
        const mine = partial.subarray(2 * at, 2 * (at + m));
        const pointOf = new Map<string, Point<Field61Vector>>([[me, { x: xOf.get(me)!, y: mine }]]);
        const wentOnWithout: string[] = [];
        for (const [peer, msg] of got) {
          const ctx = { what: `partial sum piece ${i}`, peer };
          const rec = expectRecord(msg, ctx, i === 0 ? ['q', 'y', 'out', 'n', 'h', 'cf'] : ['q', 'y']);
          // Only as piece 0: a party that published piece 0 to this one has counted it.
          if (i === 0 && wentOn(rec, ctx)) {
            wentOnWithout.push(peer);
            continue;
          }
          checkLabel(rec.q, myQ, ctx);
          if (i === 0) checks.opening(peer, rec, ctx);
          const y = pieceBytes(rec.y ?? null, m, 'partial sum piece', i, peer);
          checks.piece(peer, i, y);
          pointOf.set(peer, { x: xOf.get(peer)!, y: field61FromBytes(y, m, 'partial sum piece', peer) });
        }
        const owners = checks.usable([...pointOf.keys()]);
        mine.set(reconstruct(group, _FIELD_P61, owners.map((p) => pointOf.get(p)!), owners, t));
        return wentOnWithout;
      },
      tolerant: { minimum: quorum - 1, onDrop: () => undefined },
    },
    { ...ro, ...publishDeadline(group, ro) },
  );
  return thresholdResult(group, local, decodeField61(local.shape, partial, local.params, true), Q);
}
