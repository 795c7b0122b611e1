/**
 * The aggregated opening of committed partial sums: every party ends with S = Σ_p T_p, as with
 * commit-then-open, but sends ≈ 2·8L bytes instead of (n − 1)·8L (L = vector length), so the
 * bytes per party no longer grow with n. Used by `secureSum` and `dkSecureSum` with
 * `opening: 'aggregate'`.
 *
 * The index range [0, L) is split into n contiguous chunks; chunk c is summed by one aggregator,
 * a(c) = parties[c] (canonical order). Integrity does not rest on the aggregators: they sum
 * MASKED values and are checked by a random linear fingerprint drawn after they answered
 * (`sumcheck.ts` has the argument). Rounds (below `<round>`):
 *
 * 1. `c` (echo broadcast, 2 message rounds): p masks its partial sum, U_p = T_p + PRG(σ_p) with a
 *    fresh secret σ_p, commits to U_p chunk by chunk — a Merkle tree over the leaves
 *    `SHA-256(tag, session, epoch, round, p, c ‖ nonce_c ‖ U_p[c])`, nonce_c derived from a secret
 *    32-byte master nonce — and echo-broadcasts the root with a commitment to σ_p.
 * 2. `pieces` (no round of its own: sent right after p's echo digest of the roots, once every root
 *    has arrived): p sends every peer q the piece U_p[a⁻¹(q)] of q's chunk, with its nonce and
 *    Merkle proof, under an Ed25519 signature over `{session, epoch, round, from, to, [(chunk,
 *    SHA-256(piece))]}`. q checks it against p's echoed root.
 * 3. `sums` (1 round): a(c) adds its chunk over all parties as integers — Ŝ_c mod 2^64 and the
 *    carries κ_c (1 byte per element for n ≤ 256) — and sends both to every peer, with a
 *    signature over `{…, c, SHA-256(Ŝ_c ‖ κ_c)}`.
 * 4. `mask` (1 round): once p holds every chunk's answer, it opens σ_p; everyone checks each
 *    opening against its commitment and derives the fingerprint weights from all σ.
 * 5. `check` (echo broadcast, 2 message rounds): p broadcasts a signed `{ok, v, f}`: `ok` (every
 *    piece and answer it received was well formed and verified), `v` = SHA-256 of the hashes of
 *    the n chunk answers it holds, `f` = F_w(U_p), the fingerprint of its committed masked value.
 *    Everyone derives the same verdict from the echoed data and its (then identical) view: accept
 *    iff every `ok` holds, every `v` is equal, and F_w(Ŝ + 2^64·κ) = Σ_p f_p. An accepting party
 *    returns S = Ŝ − Σ_p PRG(σ_p).
 * 6. `dispute` (only after a rejection, 1 round, O(n·L) bytes per party): every party opens U_p
 *    (value + master nonce) to everyone, with the signed statements it holds (the chunk answers it
 *    received; the pieces that failed its check) — for long vectors as a header and parts of
 *    {@link AGGREGATE_PART_ELEMENTS} (`disputeParts`), under one deadline for its 8L·(n − 1) bytes
 *    (as one message it exceeded `maxMessageBytes` beyond L = 2^25 and failed every honest
 *    sender). Each opening is taken in as it arrives (leaves, fingerprint, its share of the true
 *    chunk sums): a receiver holds one L-vector of sums, not n openings. Everyone recomputes every commitment, every true
 *    chunk answer and every fingerprint, then names the first culprit in a fixed order: an opening
 *    that does not match its root (`COMMITMENT_MISMATCH`); a signed piece that is not the
 *    committed piece (`COMMITMENT_MISMATCH`, the signed statement as evidence); an aggregator that
 *    signed two different answers for its chunk (`EQUIVOCATION`, both statements) or an answer
 *    that is not the sum of the committed pieces (`TAMPERING_DETECTED`, its statement); a party
 *    whose signed `f` is not the fingerprint of its committed value, or whose `ok`/`v` claims a
 *    failure the opened values contradict (`TAMPERING_DETECTED`, its check statement).
 *
 * Bytes sent per party: pieces 8L·(n−1)/n, answers 8L·(n−1)/n plus the carries, L·(n−1)/n for
 * n ≤ 256: ≈ 17L·(n−1)/n < 17L (the earlier two-aggregator design sent 8L·(3n−4)/n < 24L), plus
 * per piece message 32 + 32·⌈log2 n⌉ bytes of nonce and proof and a 64-byte signature, the mask
 * openings (32 bytes per peer) and the two echo rounds. Message rounds: 6.
 *
 * Security (static adversary; SHA-256 collision resistance, Ed25519 unforgeability, ChaCha20 as a
 * PRG): every accepting honest party returns the same S, and S = Σ_p T_p + Δ where Δ is zero unless
 * some party cheated, and is in any case fixed before anything about the honest inputs could be
 * seen — so it is no more than what a party achieves by changing its own input. Whoever
 * aggregates, and whatever the run seed: the earlier design, where a chunk's primary and secondary
 * aggregator could together replace that chunk after seeing it, is gone (see `sumcheck.ts`). A
 * change Δ ≠ 0 is detected (probability ≥ 1 − 2^-89) and its author named with signed evidence,
 * unless a false fingerprint covers it — the aggregator's own (an aggregator alone can shift the
 * sum by a blind offset, as by changing its input) or a colluder's; a rejection names a culprit,
 * unless a party stops answering (a timeout naming it) or sends a malformed or unsigned message
 * (aborts at the receiver, naming it; the others get that party's abort notice and name nobody,
 * as the sender still answers them). The last mask opener sees every other σ first, so a
 * cheater knows whether the check will catch it and can take one of these exits instead of the
 * evidence (README, what is not protected).
 *
 * @module
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { CheatingDetectedError, CouplerError, ErrorCode, GroupError, ValueError } from '../errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { bytesEqual } from '../crypto/bytes.js';
import { echoBroadcast, encodeEvidence, type SignedStatement } from '../group/echo.js';
import type { Group, RoundOptions } from '../group/group.js';
import { MIN_OPENING_BYTES_PER_SECOND, deferred, timeUntil, type Deferred } from '../group/commit.js';
import { decodeMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectArray, expectBytes, expectRecord, expectString, expectUint } from '../wire/shape.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { r64FromBytes, r64ToBytes, r64Zeros, type Ring64Vector } from './math/index.js';
import {
  carriesFromBytes,
  carriesToBytes,
  carriesZeros,
  carryWidth,
  fingerprintAdd,
  fingerprintFromBytes,
  fingerprintToBytes,
  r64AddWithCarries,
  r64Fingerprint,
  R64FingerprintStream,
  type Carries,
} from './math/fingerprint.js';
import { _SeedStream } from './math/prg.js';
import type { SeededPartial } from './additive.js';
import { MASK_DOMAIN, MASK_SEED_BYTES, checkPoint, maskCommitment, maskInPlace, openMasks, unmaskInPlace } from './sumcheck.js';

/** Statement types signed in the aggregated opening. */
export const AGGREGATE_STATEMENT = {
  /** A sender's piece to one aggregator: `{t, s, e, r, from, to, items: [{c, h}]}`. */
  pieces: 'coupler/1 aggregate pieces',
  /** An aggregator's chunk answer: `{t, s, e, r, from, c, h}`, h = {@link sumHash} of the sum and carries. */
  sum: 'coupler/1 aggregate sum',
  /** A party's check: `{t, s, e, r, from, ok, v, f}` (f: the fingerprint of its masked value). */
  check: 'coupler/1 aggregate check',
} as const;

const LEAF_TAG = 'coupler/1 aggregate leaf';
const NODE_TAG = Buffer.from('coupler/1 aggregate node\0', 'utf8');
const NONCE_TAG = Buffer.from('coupler/1 aggregate nonce\0', 'utf8');
const PIECE_TAG = Buffer.from('coupler/1 aggregate piece\0', 'utf8');

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

const u32 = (x: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, false);
  return b;
};

/** Bytes of chunk c of a ring vector's byte view. */
function chunkBytes(layout: AggregateLayout, bytes: Uint8Array, c: number): Uint8Array {
  return bytes.subarray(8 * layout.start[c]!, 8 * layout.start[c + 1]!);
}

// ---------------------------------------------------------------------------------------------
// Chunk commitments: a Merkle tree over per-chunk leaves.

/** Nonce of chunk c, derived from the master nonce (one-way: revealing one reveals no other). @internal */
export function chunkNonce(master: Uint8Array, c: number): Uint8Array {
  return sha256(NONCE_TAG, master, u32(c));
}

/** Leaf of chunk c of `party`'s value: SHA-256(msgpack[tag, session, epoch, round, party, c] ‖ nonce ‖ bytes). @internal */
export function leafHash(session: string, epoch: Uint8Array, round: string, party: string, c: number, nonce: Uint8Array, bytes: Uint8Array): Uint8Array {
  return sha256(encodeMessage([LEAF_TAG, session, epoch, round, party, c]), nonce, bytes);
}

const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array => sha256(NODE_TAG, l, r);

/**
 * Every level of the Merkle tree over `leaves` (level 0 = leaves, last = [root]). An odd last
 * node is promoted unchanged. @internal
 */
export function merkleLevels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  const levels: Uint8Array[][] = [[...leaves]];
  while (levels[levels.length - 1]!.length > 1) {
    const prev = levels[levels.length - 1]!;
    const next: Uint8Array[] = [];
    for (let i = 0; i < prev.length; i += 2) next.push(i + 1 < prev.length ? nodeHash(prev[i]!, prev[i + 1]!) : prev[i]!);
    levels.push(next);
  }
  return levels;
}

/** The sibling path of leaf `index`. @internal */
export function merkleProof(levels: readonly Uint8Array[][], index: number): Uint8Array[] {
  const proof: Uint8Array[] = [];
  let i = index;
  for (let d = 0; d < levels.length - 1; d++) {
    const sib = i ^ 1;
    if (sib < levels[d]!.length) proof.push(levels[d]![sib]!);
    i >>= 1;
  }
  return proof;
}

/** The root implied by `leaf` at `index` of an n-leaf tree and `proof`; undefined for a proof of the wrong length. @internal */
export function merkleRootFromProof(leaf: Uint8Array, index: number, n: number, proof: readonly Uint8Array[]): Uint8Array | undefined {
  let h = leaf;
  let i = index;
  let size = n;
  let k = 0;
  while (size > 1) {
    if ((i ^ 1) < size) {
      const sib = proof[k++];
      if (sib === undefined) return undefined;
      h = (i & 1) === 1 ? nodeHash(sib, h) : nodeHash(h, sib);
    }
    i >>= 1;
    size = Math.ceil(size / 2);
  }
  return k === proof.length ? h : undefined;
}

/** Everything a party commits to in the aggregated opening. @internal */
export interface ChunkCommitment {
  readonly master: Uint8Array;
  readonly nonces: Uint8Array[];
  readonly levels: Uint8Array[][];
  readonly root: Uint8Array;
}

/** Commit to `bytes` (a party's T_p) chunk by chunk under `master`. @internal */
export function commitChunks(group: Group, round: string, party: string, layout: AggregateLayout, bytes: Uint8Array, master: Uint8Array): ChunkCommitment {
  const nonces = Array.from({ length: layout.n }, (_, c) => chunkNonce(master, c));
  const epoch = group.epoch;
  const leaves = nonces.map((nonce, c) => leafHash(group.sessionId, epoch, round, party, c, nonce, chunkBytes(layout, bytes, c)));
  const levels = merkleLevels(leaves);
  return { master, nonces, levels, root: levels[levels.length - 1]![0]! };
}

/** A piece on the wire: chunk bytes, nonce, Merkle proof. @internal */
export interface Piece {
  readonly v: Uint8Array;
  readonly n: Uint8Array;
  readonly pr: Uint8Array[];
}

/** The piece of chunk c of a committed value. @internal */
export function pieceOf(layout: AggregateLayout, bytes: Uint8Array, commit: ChunkCommitment, c: number): Piece {
  return { v: chunkBytes(layout, bytes, c), n: commit.nonces[c]!, pr: merkleProof(commit.levels, c) };
}

/** SHA-256 of a piece of chunk c, as signed in the pieces statement. @internal */
export function pieceHash(c: number, piece: Piece): Uint8Array {
  return sha256(PIECE_TAG, u32(c), piece.n, u32(piece.pr.length), ...piece.pr, piece.v);
}


// ---------------------------------------------------------------------------------------------
// Layout: chunks and their aggregators.

/** Who aggregates which chunk of the index range, identical at every party. @internal */
export interface AggregateLayout {
  /** Number of parties (= chunks). */
  readonly n: number;
  /** Vector length L. */
  readonly length: number;
  /** Chunk c is [start[c], start[c + 1]); n + 1 entries. */
  readonly start: readonly number[];
  /** The aggregator of each chunk (canonical order: parties[c]). */
  readonly aggregator: readonly string[];
  /** The chunk each party aggregates. */
  readonly chunkOf: ReadonlyMap<string, number>;
}

/**
 * The layout of the aggregated opening: chunk boundaries ⌊c·L/n⌋, aggregators in canonical order
 * (who aggregates no longer matters for integrity, so nothing is drawn at random).
 * @internal
 */
export function aggregateLayout(parties: readonly string[], length: number): AggregateLayout {
  const n = parties.length;
  const start = Array.from({ length: n + 1 }, (_, c) => Math.floor((c * length) / n));
  return { n, length, start, aggregator: [...parties], chunkOf: new Map(parties.map((p, c) => [p, c])) };
}

// ---------------------------------------------------------------------------------------------
// Signed statements.

/** `{t, s, e, r, from, to, items}`: what a pieces message carries. @internal */
export function piecesStatement(session: string, epoch: Uint8Array, round: string, from: string, to: string, items: { c: number; h: Uint8Array }[]): Uint8Array {
  return encodeMessage({ t: AGGREGATE_STATEMENT.pieces, s: session, e: epoch, r: round, from, to, items: items.map((i) => ({ c: i.c, h: i.h })) });
}

/** `{t, s, e, r, from, c, h}`: an aggregator's chunk answer. @internal */
export function sumStatement(session: string, epoch: Uint8Array, round: string, from: string, c: number, h: Uint8Array): Uint8Array {
  return encodeMessage({ t: AGGREGATE_STATEMENT.sum, s: session, e: epoch, r: round, from, c, h });
}

/** `{t, s, e, r, from, ok, v, f}`: a party's check. @internal */
export function checkStatement(session: string, epoch: Uint8Array, round: string, from: string, ok: boolean, v: Uint8Array, f: Uint8Array): Uint8Array {
  return encodeMessage({ t: AGGREGATE_STATEMENT.check, s: session, e: epoch, r: round, from, ok, v, f });
}

/** SHA-256 over the concatenated chunk-answer hashes (the `v` of a check). @internal */
export function viewHash(hashes: readonly Uint8Array[]): Uint8Array {
  return sha256(...hashes);
}

/** SHA-256 of a chunk answer: the sum bytes and the carry bytes (lengths fixed by the layout). @internal */
export function sumHash(sum: Uint8Array, carries: Uint8Array): Uint8Array {
  return sha256(u32(sum.length), sum, carries);
}

// ---------------------------------------------------------------------------------------------
// Long chunks in parts.

/**
 * Elements per part when pieces and chunk answers are streamed (2^17: 1 MiB of ring elements).
 * A layout whose largest chunk is at most this long sends each piece and answer as one message.
 */
export const AGGREGATE_PART_ELEMENTS = 1 << 17;
/** Parts a party sends ahead of the ones it has received from every peer. */
const PART_WINDOW = 2;

/** Elements [x0, x1) of part `k` of a chunk of `span` elements (empty past its end). @internal */
export function partRange(span: number, k: number): [number, number] {
  const x0 = Math.min(span, k * AGGREGATE_PART_ELEMENTS);
  return [x0, Math.min(span, x0 + AGGREGATE_PART_ELEMENTS)];
}

/** Part `k` of a chunk's bytes. */
function partOf(bytes: Uint8Array, k: number): Uint8Array {
  const [x0, x1] = partRange(bytes.length / 8, k);
  return bytes.subarray(8 * x0, 8 * x1);
}

/**
 * One message per peer under `<base>` (a header), then `parts` messages `<base>/<k>` per peer,
 * with flow control: a party sends part k only once it has received part k − 2 from every peer, so
 * no party holds more than a few parts of any peer's stream whatever the speeds (the rule of
 * `commitThenOpenPieces`). Every wait shares the caller's deadline.
 */
class PartStream {
  readonly #received: Deferred[];
  constructor(
    readonly group: Group,
    readonly base: string,
    readonly parts: number,
    /** The run's options: every send is bound by its deadline and signal. */
    readonly options: RoundOptions = {},
  ) {
    this.#received = Array.from({ length: parts }, deferred);
  }

  /** Send the header and the parts to every peer: per peer, or with `shared` the same to all (encoded once). */
  async send(headerFor: (q: string) => PlainData, partFor: (q: string, k: number) => PlainData, shared = false): Promise<void> {
    const g = this.group;
    const o = this.options;
    await Promise.all(g.peers.map((q) => g.send(q, this.base, headerFor(q), o)));
    for (let k = 0; k < this.parts; k++) {
      if (k >= PART_WINDOW) await this.#received[k - PART_WINDOW]!.promise;
      if (shared) await g.sendToAll(`${this.base}/${k}`, partFor('', k), g.peers, o);
      else await Promise.all(g.peers.map((q) => g.send(q, `${this.base}/${k}`, partFor(q, k), o)));
    }
  }

  /** Every peer's header. */
  headers(options: RoundOptions, deadline: number): Promise<Map<string, PlainData>> {
    return this.group.gather(this.base, { ...options, timeoutMs: timeUntil(deadline) });
  }

  /** Every peer's parts, in order (all peers' part k before any part k + 1). */
  async receive(options: RoundOptions, deadline: number, onPart: (peer: string, k: number, msg: PlainData) => void): Promise<void> {
    try {
      for (let k = 0; k < this.parts; k++) {
        const got = await this.group.gather(`${this.base}/${k}`, { ...options, timeoutMs: timeUntil(deadline) });
        for (const [p, msg] of got) onPart(p, k, msg);
        this.#received[k]!.resolve();
      }
    } catch (err) {
      for (const d of this.#received) d.reject(err);
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing.

function parsePiece(value: PlainData | undefined, ctx: { what: string; peer: string }, n: number, maxBytes: number): Piece {
  const rec = expectRecord(value ?? null, ctx, ['v', 'n', 'pr']);
  const depth = Math.ceil(Math.log2(Math.max(n, 1))) + 1;
  return {
    v: expectBytes(rec.v, 'v', ctx, undefined, maxBytes),
    n: expectBytes(rec.n, 'n', ctx, 32),
    pr: expectArray(rec.pr, 'pr', ctx, depth).map((x) => expectBytes(x, 'pr', ctx, 32)),
  };
}

interface Parsed {
  readonly signer: string;
  readonly statement: Uint8Array;
  readonly signature: Uint8Array;
  readonly body: Record<string, PlainData>;
}

/** One party's echoed check. */
interface Check {
  readonly ok: boolean;
  readonly v: Uint8Array;
  readonly f: bigint;
  readonly evidence: SignedStatement;
}

// ---------------------------------------------------------------------------------------------
// Rebuilding this party's committed value.

/** Elements per block when a party's own masked value is rebuilt (2^16: 512 KiB). */
const REBUILD_ELEMENTS = 1 << 16;

/**
 * Rebuild this party's committed masked value U = T + PRG(σ) block by block from what T was made
 * of, checking each chunk against the leaf this party committed to, and hand each block to
 * `onBlock(at, u)` (elements [at, at + u.length / 2); `u` is reused). The rebuilt value is
 * exactly the committed one, or this throws.
 * @throws {@link ValueError} `VALUE_INVALID` when a chunk differs from the committed one: the
 *   caller changed its input while the sum ran (nothing depending on the rebuilt value has been
 *   sent).
 */
function rebuildCommitted(
  group: Group,
  round: string,
  layout: AggregateLayout,
  source: SeededPartial,
  sigma: Uint8Array,
  commit: ChunkCommitment,
  onBlock: (at: number, u: Ring64Vector) => void,
): void {
  const read = source.reader();
  const mask = new _SeedStream(sigma, MASK_DOMAIN, REBUILD_ELEMENTS);
  const block = r64Zeros(Math.min(REBUILD_ELEMENTS, Math.max(1, layout.length)));
  for (let c = 0; c < layout.n; c++) {
    const leaf = createHash('sha256').update(encodeMessage([LEAF_TAG, group.sessionId, group.epoch, round, group.localId, c])).update(commit.nonces[c]!);
    for (let at = layout.start[c]!; at < layout.start[c + 1]!; at += REBUILD_ELEMENTS) {
      const u = block.subarray(0, 2 * Math.min(REBUILD_ELEMENTS, layout.start[c + 1]! - at));
      read(u);
      mask.apply(u, 'add');
      leaf.update(r64ToBytes(u));
      onBlock(at, u);
    }
    if (!bytesEqual(new Uint8Array(leaf.digest()), commit.levels[0]![c]!)) {
      throw new ValueError(
        ErrorCode.VALUE_INVALID,
        `input changed while round "${round}" ran: this party's partial sum, rebuilt from its input, no longer matches the one it committed to (leave the input unchanged until the sum returns)`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The protocol.

/**
 * Aggregated opening of this party's committed partial sum `partial` (L = `length` elements):
 * returns S = Σ_p T_p, identical at every honest party that returns (see the module notes).
 * `partial` is consumed: it is masked in place. Everything before the mask opening reveals
 * nothing about `partial` (it is masked), so a caller may start this before its shape agreement
 * completes and pass the agreement as `gate`: no mask is opened before it resolves (and none if it
 * rejects). With `rebuild` (what `partial` was made of: the input and seed shares), the sum is
 * received over `partial` itself and U_p is rebuilt block by block for the fingerprint (and a
 * dispute), each chunk checked against its committed leaf: one L-vector instead of two.
 *
 * @throws {@link CheatingDetectedError} naming the culprit with signed evidence after a failed
 *   check, `COMMITMENT_MISMATCH` naming a party whose mask opening does not match its commitment;
 *   {@link TimeoutError}/{@link GroupError} naming missing, lost or misbehaving peers;
 *   {@link ValueError} `VALUE_INVALID` when a rebuilt chunk is not the committed one (the caller's
 *   input changed during the run).
 * @internal used by `openPartials`.
 */
export async function openAggregated(
  group: Group,
  round: string,
  partial: Ring64Vector,
  length: number,
  options: RoundOptions = {},
  gate?: Promise<unknown>,
  rebuild?: SeededPartial,
): Promise<Ring64Vector> {
  const me = group.localId;
  const session = group.sessionId;
  const epoch = group.epoch;
  const sk = group.identity.secretKey;
  const layout = aggregateLayout(group.parties, length);
  const n = layout.n;
  const width = carryWidth(n);
  const sigma = new Uint8Array(randomBytes(MASK_SEED_BYTES));
  maskInPlace(partial, sigma);
  // This party's committed value U_p; with `rebuild`, only until its pieces are sent (see `view`).
  let mine = r64ToBytes(partial);
  const commit = commitChunks(group, round, me, layout, mine, new Uint8Array(randomBytes(32)));
  const alpha = layout.chunkOf.get(me)!;
  const span = (c: number): number => layout.start[c + 1]! - layout.start[c]!;
  // Long chunks travel in parts of AGGREGATE_PART_ELEMENTS under flow control (see streamPieces).
  const maxSpan = Math.max(...layout.start.slice(1).map((_, c) => span(c)));
  const parts = maxSpan > AGGREGATE_PART_ELEMENTS ? Math.ceil(maxSpan / AGGREGATE_PART_ELEMENTS) : 0;
  const roundMs = options.timeoutMs ?? group.roundTimeoutMs;
  const deadline = Date.now() + roundMs + Math.ceil((1000 * 17 * length) / MIN_OPENING_BYTES_PER_SECOND);

  // 1. Commit: echo-broadcast the Merkle root of the masked value and the mask commitment.
  // 2. Pieces, in the same message flight as this party's echo digest (`afterDigest`): to every
  // peer its chunk of my masked value, signed. Why that is safe: the pieces leave only after
  // every party's root has arrived, so each root was fixed before any honest piece existed (no
  // rushing), exactly as commit-then-open sends its opening with the echo digest; a root sent
  // differently to different parties still fails the echo check, and the run aborts before any
  // answer is accepted. It saves a message round.
  const stream = parts > 0 ? new PartStream(group, `${round}/pieces`, parts, options) : undefined;
  let piecesSent: Promise<unknown> = Promise.resolve();
  const committed = await echoBroadcast(group, `${round}/c`, { root: commit.root, k: maskCommitment(group, round, me, sigma) }, {
    ...options,
    afterDigest: () => {
      piecesSent = sendPieces();
      piecesSent.catch(() => undefined); // awaited below
    },
  });
  const roots = new Map<string, Uint8Array>();
  const maskCommitments = new Map<string, Uint8Array>();
  for (const [p, value] of committed) {
    const ctx = { what: `commitment of round "${round}"`, peer: p };
    const rec = expectRecord(value, ctx, ['root', 'k']);
    roots.set(p, expectBytes(rec.root, 'root', ctx, 32));
    maskCommitments.set(p, expectBytes(rec.k, 'k', ctx, 32));
  }
  function sendPieces(): Promise<unknown> {
    const signed = (q: string): { c: number; piece: Piece; sig: Uint8Array } => {
      const c = layout.chunkOf.get(q)!;
      const piece = pieceOf(layout, mine, commit, c);
      return { c, piece, sig: ed25519Sign(piecesStatement(session, epoch, round, me, q, [{ c, h: pieceHash(c, piece) }]), sk) };
    };
    if (stream === undefined) {
      return Promise.all(
        group.peers.map((q) => {
          const { piece, sig } = signed(q);
          return group.send(q, `${round}/pieces`, { p: { v: piece.v, n: piece.n, pr: piece.pr }, sig }, options);
        }),
      );
    }
    // Streamed: a header with nonce, proof and signature, then the piece's parts.
    const pieces = new Map(group.peers.map((q) => [q, signed(q)]));
    return stream.send(
      (q) => {
        const { piece, sig } = pieces.get(q)!;
        return { p: { n: piece.n, pr: piece.pr }, sig };
      },
      (q, k) => partOf(pieces.get(q)!.piece.v, k),
    );
  }
  let ok = true;
  const failedPieces: SignedStatement[] = [];
  // The view of the sum: this party's chunk is summed in place, the others' answers land here.
  // With `rebuild`, the view is `partial` itself: a chunk of U_p is overwritten only once it has
  // gone to its aggregator (the answers come after every piece is sent), and U_p is rebuilt from
  // what it was made of for the fingerprint (and a dispute), so only one L-vector is held.
  const view = rebuild === undefined ? r64Zeros(length) : partial;
  const viewBytes = r64ToBytes(view);
  const viewCarries: Carries = carriesZeros(length, n);
  const a0 = layout.start[alpha]!;
  const a1 = layout.start[alpha + 1]!;
  if (view !== partial) view.set(partial.subarray(2 * a0, 2 * a1), 2 * a0);
  const sumA = view.subarray(2 * a0, 2 * a1);
  const carriesA = viewCarries.subarray(a0, a1);
  /** Verify a piece's signature (else throw naming its sender) and its Merkle proof (else ok = false, the statement kept); leaf undefined: a piece of the wrong length. */
  const checkPiece = (p: string, pr: readonly Uint8Array[], h: Uint8Array, leaf: Uint8Array | undefined, sig: Uint8Array): boolean => {
    const st = piecesStatement(session, epoch, round, p, me, [{ c: alpha, h }]);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a piece with an invalid signature in round "${round}"`, { peer: p });
    }
    const root = leaf === undefined ? undefined : merkleRootFromProof(leaf, alpha, n, pr);
    if (root !== undefined && bytesEqual(root, roots.get(p)!)) return true;
    ok = false;
    failedPieces.push({ signer: p, statement: st, signature: sig });
    return false;
  };
  if (stream === undefined) {
    const received = await group.gather(`${round}/pieces`, options);
    for (const [p, msg] of received) {
      const ctx = { what: `piece of round "${round}"`, peer: p };
      const rec = expectRecord(msg, ctx, ['p', 'sig']);
      const piece = parsePiece(rec.p, ctx, n, group.maxMessageBytes);
      const sig = expectBytes(rec.sig, 'sig', ctx, 64);
      const leaf = piece.v.length === 8 * span(alpha) ? leafHash(session, epoch, round, p, alpha, piece.n, piece.v) : undefined;
      // A piece that fails its proof is not added: the dispute names its sender by its signed statement.
      if (checkPiece(p, piece.pr, pieceHash(alpha, piece), leaf, sig) && piece.v.length > 0) {
        r64AddWithCarries(sumA, carriesA, r64FromBytes(piece.v));
      }
    }
  } else {
    // Each part is added as it arrives (a piece that then fails its proof was added too; the
    // dispute names its sender by its signed statement before it looks at this party's answer).
    const heads = await stream.headers(options, deadline);
    const hashers = new Map<string, { piece: Hash; leaf: Hash; n: Uint8Array; pr: Uint8Array[]; sig: Uint8Array }>();
    for (const [p, msg] of heads) {
      const ctx = { what: `piece of round "${round}"`, peer: p };
      const rec = expectRecord(msg, ctx, ['p', 'sig']);
      const head = expectRecord(rec.p ?? null, ctx, ['n', 'pr']);
      const nonce = expectBytes(head.n, 'n', ctx, 32);
      const pr = expectArray(head.pr, 'pr', ctx, Math.ceil(Math.log2(Math.max(n, 1))) + 1).map((x) => expectBytes(x, 'pr', ctx, 32));
      const piece = createHash('sha256').update(PIECE_TAG).update(u32(alpha)).update(nonce).update(u32(pr.length));
      for (const x of pr) piece.update(x);
      const leaf = createHash('sha256').update(encodeMessage([LEAF_TAG, session, epoch, round, p, alpha])).update(nonce);
      hashers.set(p, { piece, leaf, n: nonce, pr, sig: expectBytes(rec.sig, 'sig', ctx, 64) });
    }
    await stream.receive(options, deadline, (p, k, msg) => {
      const [x0, x1] = partRange(span(alpha), k);
      const bytes = expectBytes(msg, 'part', { what: `piece part ${k} of round "${round}"`, peer: p }, 8 * (x1 - x0));
      const h = hashers.get(p)!;
      h.piece.update(bytes);
      h.leaf.update(bytes);
      if (bytes.length > 0) r64AddWithCarries(sumA.subarray(2 * x0, 2 * x1), carriesA.subarray(x0, x1), r64FromBytes(bytes));
    });
    for (const [p, h] of hashers) checkPiece(p, h.pr, new Uint8Array(h.piece.digest()), new Uint8Array(h.leaf.digest()), h.sig);
  }
  await piecesSent;

  // 3. Answers: every aggregator sends its chunk's masked sum and carries, signed, to everyone.
  const sumABytes = r64ToBytes(sumA);
  const carryABytes = carriesToBytes(carriesA, width);
  const hA = sumHash(sumABytes, carryABytes);
  const sigA = ed25519Sign(sumStatement(session, epoch, round, me, alpha, hA), sk);
  const hashes: Uint8Array[] = new Array<Uint8Array>(n);
  hashes[alpha] = hA;
  const heldSums: SignedStatement[] = [];
  const checkAnswer = (p: string, c: number, h: Uint8Array, sig: Uint8Array): void => {
    const st = sumStatement(session, epoch, round, p, c, h);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a chunk answer with an invalid signature in round "${round}"`, { peer: p });
    }
    heldSums.push({ signer: p, statement: st, signature: sig });
    hashes[c] = h;
  };
  if (stream === undefined) {
    await group.sendToAll(`${round}/sums`, { v: sumABytes, k: carryABytes, sig: sigA }, group.peers, options);
    const answers = await group.gather(`${round}/sums`, options);
    for (const [p, msg] of answers) {
      const ctx = { what: `chunk answer of round "${round}"`, peer: p };
      const c = layout.chunkOf.get(p)!;
      const rec = expectRecord(msg, ctx, ['v', 'k', 'sig']);
      const v = expectBytes(rec.v, 'v', ctx, undefined, group.maxMessageBytes);
      const k = expectBytes(rec.k, 'k', ctx, undefined, group.maxMessageBytes);
      checkAnswer(p, c, sumHash(v, k), expectBytes(rec.sig, 'sig', ctx, 64));
      // A malformed answer (length, a carry ≥ n) is not used; the verdict rejects and the dispute
      // names its author by its signed statement.
      if (v.length !== 8 * span(c) || carriesFromBytes(k, span(c), width, n - 1, viewCarries, layout.start[c]!) === undefined) {
        ok = false;
        continue;
      }
      viewBytes.set(v, 8 * layout.start[c]!);
    }
  } else {
    // Streamed: the parts land in the view as they arrive (carries as sent, checked after); the
    // hash of the whole answer is taken from the view once every part is in.
    const answers = new PartStream(group, `${round}/sums`, parts, options);
    const sending = answers.send(
      () => ({ sig: sigA }),
      (_q, k) => {
        const [x0, x1] = partRange(span(alpha), k);
        return { v: sumABytes.subarray(8 * x0, 8 * x1), k: carryABytes.subarray(width * x0, width * x1) };
      },
      true,
    );
    sending.catch(() => undefined);
    const heads = await answers.headers(options, deadline);
    await answers.receive(options, deadline, (p, k, msg) => {
      const c = layout.chunkOf.get(p)!;
      const ctx = { what: `chunk answer part ${k} of round "${round}"`, peer: p };
      const [x0, x1] = partRange(span(c), k);
      const rec = expectRecord(msg, ctx, ['v', 'k']);
      const at = layout.start[c]!;
      viewBytes.set(expectBytes(rec.v, 'v', ctx, 8 * (x1 - x0)), 8 * (at + x0));
      if (carriesFromBytes(expectBytes(rec.k, 'k', ctx, width * (x1 - x0)), x1 - x0, width, 2 ** (8 * width) - 1, viewCarries, at + x0) === undefined) {
        throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a malformed chunk answer in round "${round}"`, { peer: p });
      }
    });
    await sending;
    for (const [p, msg] of heads) {
      const ctx = { what: `chunk answer of round "${round}"`, peer: p };
      const c = layout.chunkOf.get(p)!;
      const at = layout.start[c]!;
      const region = viewCarries.subarray(at, at + span(c));
      checkAnswer(p, c, sumHash(viewBytes.subarray(8 * at, 8 * (at + span(c))), carriesToBytes(region, width)), expectBytes(expectRecord(msg, ctx, ['sig']).sig, 'sig', ctx, 64));
      // A carry ≥ n cannot be a sum of n values: the verdict rejects and the dispute names the author.
      if (region.some((x) => x > n - 1)) {
        ok = false;
        region.fill(0);
      }
    }
  }
  const v = viewHash(hashes);

  // 4. Masks, opened only now that this party's view of every answer is fixed (and the caller's
  // gate passed); the fingerprint weights come from all of them.
  if (gate !== undefined) await gate;
  const sigmas = await openMasks(group, `${round}/mask`, sigma, maskCommitments, round, options);
  const point = checkPoint(group, round, sigmas);

  // 5. Check: echo {ok, v, f} (signed); everyone derives the same verdict from the echoed data.
  let fMine: bigint;
  if (rebuild === undefined) fMine = r64Fingerprint(point, partial);
  else {
    const fp = new R64FingerprintStream(point);
    rebuildCommitted(group, round, layout, rebuild, sigma, commit, (_at, u) => fp.update(u));
    fMine = fp.digest();
  }
  const fBytes = fingerprintToBytes(fMine);
  const myCheck = checkStatement(session, epoch, round, me, ok, v, fBytes);
  const echoed = await echoBroadcast(group, `${round}/check`, { ok, v, f: fBytes, sig: ed25519Sign(myCheck, sk) }, options);
  const checkOf = new Map<string, Check>();
  let claimed = 0n;
  for (const p of group.parties) {
    const ctx = { what: `check of round "${round}"`, peer: p };
    const rec = expectRecord(echoed.get(p)!, ctx, ['ok', 'v', 'f', 'sig']);
    const cv = expectBytes(rec.v, 'v', ctx, 32);
    const cfBytes = expectBytes(rec.f, 'f', ctx);
    const cf = fingerprintFromBytes(cfBytes);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    if (typeof rec.ok !== 'boolean' || cf === undefined) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a malformed check in round "${round}"`, { peer: p });
    }
    const st = checkStatement(session, epoch, round, p, rec.ok, cv, cfBytes);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a check with an invalid signature in round "${round}"`, { peer: p });
    }
    checkOf.set(p, { ok: rec.ok, v: cv, f: cf, evidence: { signer: p, statement: st, signature: sig } });
    claimed = fingerprintAdd(claimed, cf);
  }
  const agreed = [...checkOf.values()].every((x) => x.ok && bytesEqual(x.v, v));
  if (agreed && r64Fingerprint(point, view, viewCarries) === claimed) {
    // The sum goes back in `partial`'s buffer (U_p is not needed any more), so the caller decodes
    // while only one L-vector of the opening is alive.
    unmaskInPlace(view, group.parties.map((p) => sigmas.get(p)!));
    if (view !== partial) partial.set(view);
    return partial;
  }

  // 6. Dispute: open U_p to everyone with the statements held; name the culprit. A rebuilt U_p is
  // held whole only here.
  if (rebuild !== undefined) {
    mine = new Uint8Array(8 * length);
    rebuildCommitted(group, round, layout, rebuild, sigma, commit, (at, u) => mine.set(r64ToBytes(u), 8 * at));
  }
  const held = [...heldSums, ...failedPieces];
  resolveDispute(group, round, layout, roots, checkOf, await disputeRound(group, round, layout, point, mine, commit.master, held, options), held);
  throw new CheatingDetectedError(
    ErrorCode.TAMPERING_DETECTED,
    `the aggregated opening of round "${round}" failed its check, but no culprit could be determined`,
    { description: 'check rejected; every opening, piece, answer and fingerprint verified', statements: [] },
  );
}

/**
 * Parts of a dispute opening (the whole masked partial sum, L elements): 0 — one message — when
 * it fits in one part of {@link AGGREGATE_PART_ELEMENTS}, else one header `{m, ev}` and
 * ⌈L / AGGREGATE_PART_ELEMENTS⌉ parts `<round>/dispute/<k>` (bytes of elements
 * {@link partRange}(L, k)). A dispute carries 8L bytes to every peer: as one message it could
 * exceed `maxMessageBytes` (L > 2^25 at the defaults) and fail every honest sender, naming honest
 * recipients instead of the party that caused the dispute. @internal
 */
export function disputeParts(length: number): number {
  return length > AGGREGATE_PART_ELEMENTS ? Math.ceil(length / AGGREGATE_PART_ELEMENTS) : 0;
}

/** One party's opened U_p as a dispute needs it (never the value itself, see {@link OpeningDigest}). */
interface Opened {
  readonly root: Uint8Array;
  readonly levels: Uint8Array[][];
  readonly nonces: Uint8Array[];
  /** F_w(U_p) under the run's check point. */
  readonly f: bigint;
  /** The chunks a presented pieces statement of this party refers to. */
  readonly kept: ReadonlyMap<number, Uint8Array>;
}

/**
 * One party's dispute opening taken in as it arrives (consecutive elements, in order): its chunk
 * leaves, its fingerprint, its share of the true chunk sums (added into `sum`), and only the
 * chunks in `keep` (those a presented pieces statement of the party refers to). So a dispute holds
 * one L-vector of sums and carries, not every party's opening (n·8L bytes, which a cheater could
 * make every honest party allocate by forcing a dispute).
 */
class OpeningDigest {
  readonly #layout: AggregateLayout;
  readonly #nonces: Uint8Array[];
  readonly #leaves: Hash[];
  readonly #fp: R64FingerprintStream;
  readonly #kept = new Map<number, Uint8Array>();
  readonly #sum: { readonly acc: Ring64Vector; readonly carries: Carries };
  #at = 0;

  constructor(
    group: Group,
    round: string,
    party: string,
    layout: AggregateLayout,
    master: Uint8Array,
    point: Uint8Array,
    keep: ReadonlySet<number>,
    sum: { readonly acc: Ring64Vector; readonly carries: Carries },
  ) {
    this.#layout = layout;
    this.#sum = sum;
    this.#nonces = Array.from({ length: layout.n }, (_, c) => chunkNonce(master, c));
    this.#leaves = this.#nonces.map((nonce, c) => createHash('sha256').update(encodeMessage([LEAF_TAG, group.sessionId, group.epoch, round, party, c])).update(nonce));
    this.#fp = new R64FingerprintStream(point);
    for (const c of keep) this.#kept.set(c, new Uint8Array(8 * (layout.start[c + 1]! - layout.start[c]!)));
  }

  /** The next elements of the opening (`bytes`: a multiple of 8, the caller checks the total). */
  update(bytes: Uint8Array): void {
    const at = this.#at;
    const end = at + bytes.length / 8;
    if (end === at) return;
    const v = r64FromBytes(bytes);
    this.#fp.update(v);
    r64AddWithCarries(this.#sum.acc.subarray(2 * at, 2 * end), this.#sum.carries.subarray(at, end), v);
    const { start, n } = this.#layout;
    for (let c = 0; c < n; c++) {
      const x0 = Math.max(at, start[c]!);
      const x1 = Math.min(end, start[c + 1]!);
      if (x0 >= x1) continue;
      const part = bytes.subarray(8 * (x0 - at), 8 * (x1 - at));
      this.#leaves[c]!.update(part);
      this.#kept.get(c)?.set(part, 8 * (x0 - start[c]!));
    }
    this.#at = end;
  }

  finish(): Opened {
    const levels = merkleLevels(this.#leaves.map((h) => new Uint8Array(h.digest())));
    return { root: levels[levels.length - 1]![0]!, levels, nonces: this.#nonces, f: this.#fp.digest(), kept: this.#kept };
  }
}

/** What the dispute round gives the verdict. */
interface DisputeViews {
  /** Every party's opening (undefined: one of the wrong length). */
  readonly opened: ReadonlyMap<string, Opened | undefined>;
  /** The evidence each peer presented (unchecked). */
  readonly presented: readonly { presenter: string; items: PlainData[]; malformed?: CouplerError }[];
  /** {@link sumHash} of every chunk's true sum, from the openings. */
  readonly trueSums: Uint8Array[];
}

/**
 * The chunks of each signer that the pieces statements among `statements` refer to: only
 * statements of this round that their signer signed count (what else is malformed is judged, in
 * order, by the verdict, which accepts nothing this skips). The signatures are checked here, before
 * anything is kept: a forged statement listing every chunk of every party made each receiver keep
 * every opening whole (n·8L bytes, review15 R15-1). Genuine statements refer to the chunk of the
 * aggregator they went to, so what is kept is at most the chunks of the parties whose pieces an
 * aggregator presents: ≈ 8L per presenting aggregator, in practice only for pieces that failed.
 */
function piecesReferred(group: Group, round: string, statements: Iterable<{ signer: unknown; statement: unknown; signature: unknown }>): Map<string, Set<number>> {
  const n = group.parties.length;
  const keep = new Map(group.parties.map((p) => [p, new Set<number>()]));
  for (const { signer, statement, signature } of statements) {
    const mine = typeof signer === 'string' ? keep.get(signer) : undefined;
    if (mine === undefined || !(statement instanceof Uint8Array) || statement.length > 4096 || !(signature instanceof Uint8Array) || signature.length !== 64) continue;
    try {
      const body = decodeMessage(statement, 4096) as Record<string, unknown> | null;
      if (body === null || typeof body !== 'object' || body.t !== AGGREGATE_STATEMENT.pieces || body.s !== group.sessionId || body.r !== round || body.from !== signer) continue;
      if (!(body.e instanceof Uint8Array) || !bytesEqual(body.e, group.epoch) || !Array.isArray(body.items) || body.items.length !== 1) continue;
      const item = body.items[0] as unknown;
      const c = item !== null && typeof item === 'object' ? (item as Record<string, unknown>).c : undefined;
      if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0 || c >= n || mine.has(c)) continue;
      if (ed25519Verify(statement, signature, group.roster.get(signer as string)!.publicKey)) mine.add(c);
    } catch {
      /* malformed: the verdict names its presenter */
    }
  }
  return keep;
}

/**
 * The dispute round: send this party's opening (`mine`, its master nonce and the statements it
 * holds) to every peer and take in theirs, each through an {@link OpeningDigest} as it arrives.
 * One deadline for the whole exchange: the round deadline plus the time to receive (n − 1)
 * openings of 8L bytes at {@link MIN_OPENING_BYTES_PER_SECOND} — as the opening's own pieces and
 * `commitThenOpenPieces` — so a long dispute is not cut off at the plain round deadline, naming
 * honest parties still sending.
 */
async function disputeRound(
  group: Group,
  round: string,
  layout: AggregateLayout,
  point: Uint8Array,
  mine: Uint8Array,
  master: Uint8Array,
  held: readonly SignedStatement[],
  options: RoundOptions,
): Promise<DisputeViews> {
  const length = layout.length;
  const n = layout.n;
  const base = `${round}/dispute`;
  const roundMs = options.timeoutMs ?? group.roundTimeoutMs;
  const deadline = Date.now() + roundMs + Math.ceil((1000 * 8 * length * group.peers.length) / MIN_OPENING_BYTES_PER_SECOND);
  const ev = held.map((s) => ({ sg: s.signer, st: s.statement, sig: s.signature }));
  const parts = disputeParts(length);
  let heads: Map<string, PlainData>;
  let stream: PartStream | undefined;
  let sending: Promise<void> = Promise.resolve();
  if (parts === 0) {
    await group.sendToAll(base, { t: mine, m: master, ev }, group.peers, options);
    heads = await group.gather(base, { ...options, timeoutMs: timeUntil(deadline) });
  } else {
    stream = new PartStream(group, base, parts, options);
    sending = stream.send(() => ({ m: master, ev }), (_q, k) => partOf(mine, k), true);
    sending.catch(() => undefined); // awaited below
    heads = await stream.headers(options, deadline);
  }
  // Every header, in canonical order: the master nonce, the evidence (checked by the verdict).
  const masters = new Map<string, Uint8Array>([[group.localId, master]]);
  const inline = new Map<string, Uint8Array>();
  const presented: { presenter: string; items: PlainData[]; malformed?: CouplerError }[] = [];
  for (const p of group.peers) {
    const ctx = { what: `dispute opening of round "${round}"`, peer: p };
    const rec = expectRecord(heads.get(p)!, ctx, parts === 0 ? ['t', 'm', 'ev'] : ['m', 'ev']);
    if (parts === 0) inline.set(p, expectBytes(rec.t, 't', ctx));
    masters.set(p, expectBytes(rec.m, 'm', ctx, 32));
    // A malformed evidence list counts as no evidence, its sender named only if nothing else is
    // proven (see resolveDispute): the opening itself is still taken in (review15 R15-3c).
    try {
      presented.push({ presenter: p, items: expectArray(rec.ev, 'ev', ctx, 4 * n) });
    } catch (err) {
      if (!(err instanceof CouplerError)) throw err;
      presented.push({ presenter: p, items: [], malformed: err });
    }
  }
  const referred = piecesReferred(group, round, [
    ...held,
    ...presented.flatMap(({ items }) =>
      items.map((x) => (x !== null && typeof x === 'object' && !(x instanceof Uint8Array) && !Array.isArray(x) ? { signer: x.sg, statement: x.st, signature: x.sig } : { signer: undefined, statement: undefined, signature: undefined })),
    ),
  ]);
  const sum = { acc: r64Zeros(length), carries: carriesZeros(length, n) };
  const digests = new Map(group.parties.map((p) => [p, new OpeningDigest(group, round, p, layout, masters.get(p)!, point, referred.get(p)!, sum)]));
  const wrongLength = new Set<string>();
  digests.get(group.localId)!.update(mine);
  if (stream === undefined) {
    for (const [p, t] of inline) {
      if (t.length === 8 * length) digests.get(p)!.update(t);
      else wrongLength.add(p);
    }
  } else {
    await stream.receive(options, deadline, (p, k, msg) => {
      const [x0, x1] = partRange(length, k);
      digests.get(p)!.update(expectBytes(msg, 't', { what: `dispute opening part ${k} of round "${round}"`, peer: p }, 8 * (x1 - x0)));
    });
    await sending;
  }
  const opened = new Map<string, Opened | undefined>(group.parties.map((p) => [p, wrongLength.has(p) ? undefined : digests.get(p)!.finish()]));
  const width = carryWidth(n);
  const trueSums = Array.from({ length: n }, (_, c) =>
    sumHash(r64ToBytes(sum.acc.subarray(2 * layout.start[c]!, 2 * layout.start[c + 1]!)), carriesToBytes(sum.carries.subarray(layout.start[c]!, layout.start[c + 1]!), width)),
  );
  return { opened, presented, trueSums };
}

/**
 * Determine and throw the culprit of a rejected aggregated opening from the opened values and
 * the signed statements every party presented. Returns only when nobody can be named.
 */
function resolveDispute(
  group: Group,
  round: string,
  layout: AggregateLayout,
  roots: ReadonlyMap<string, Uint8Array>,
  checkOf: ReadonlyMap<string, Check>,
  views: DisputeViews,
  myEvidence: readonly SignedStatement[],
): void {
  const me = group.localId;
  const session = group.sessionId;
  const epoch = group.epoch;
  const n = layout.n;
  const { presented, trueSums } = views;

  // Openings against the commitments.
  const opened = new Map<string, Opened>();
  for (const p of group.parties) {
    const o = views.opened.get(p);
    if (o === undefined || !bytesEqual(o.root, roots.get(p)!)) {
      throw new CheatingDetectedError(
        ErrorCode.COMMITMENT_MISMATCH,
        `party "${p}" opened a partial sum that does not match its commitment in round "${round}"`,
        { description: 'the opening does not hash to the echo-checked Merkle root', statements: [] },
        { peer: p },
      );
    }
    opened.set(p, o);
  }

  // The statements presented by everyone (mine included), signatures checked.
  const statements: (Parsed & { presenter: string })[] = [];
  const parseStatement = (presenter: string, s: SignedStatement): void => {
    // Only the run's parties sign its statements: a view (`Group.without`) keeps the whole roster,
    // and a statement of a roster party outside the view is not evidence here (it made the verdict
    // look up an opening that does not exist).
    const entry = group.parties.includes(s.signer) ? group.roster.get(s.signer) : undefined;
    if (entry === undefined || !ed25519Verify(s.statement, s.signature, entry.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${presenter}" presented a statement that no party of round "${round}" signed`, { peer: presenter });
    }
    const ctx = { what: `statement presented by "${presenter}"`, peer: presenter };
    const body = expectRecord(decodeMessage(s.statement, 4096, { peer: presenter }), ctx, ['t', 's', 'e', 'r', 'from', 'to', 'items', 'c', 'h']);
    if (body.s !== session || !(body.e instanceof Uint8Array) || !bytesEqual(body.e, epoch) || body.r !== round || body.from !== s.signer) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${presenter}" presented a statement of another round, signer or group formation`, { peer: presenter });
    }
    // Its fields too, here, so that a malformed statement — even one its signer did sign — is left
    // out with the forged ones instead of stopping a rule below (review15 R15-3b).
    if (body.t === AGGREGATE_STATEMENT.pieces) {
      for (const item of expectArray(body.items, 'items', ctx, 1)) {
        const it = expectRecord(item, ctx, ['c', 'h']);
        expectUint(it.c, 'c', ctx, n - 1);
        expectBytes(it.h, 'h', ctx, 32);
      }
    } else if (body.t === AGGREGATE_STATEMENT.sum) {
      expectUint(body.c, 'c', ctx, n - 1);
      expectBytes(body.h, 'h', ctx, 32);
    } else {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${presenter}" presented a statement that is neither a piece nor a chunk answer of round "${round}"`, { peer: presenter });
    }
    statements.push({ ...s, body, presenter });
  };
  for (const s of myEvidence) parseStatement(me, s);
  // A presented item that is malformed or not signed is left out, and its presenter named only if
  // the valid evidence proves nothing else: before, the first one stopped the verdict, so a
  // cheater whose wrong answer every honest party holds signed escaped TAMPERING_DETECTED by
  // presenting one forged statement (PROTOCOL_VIOLATION instead; review15 R15-3). Only a cheater
  // presents such an item (an honest party presents statements it verified), and what is left
  // out is only evidence: every culprit below is still proven by a valid signature or the echo.
  let forged: CouplerError | undefined;
  for (const { presenter, items, malformed } of presented) {
    forged ??= malformed;
    for (const item of items) {
      try {
        const ctx = { what: `evidence of round "${round}"`, peer: presenter };
        const rec = expectRecord(item, ctx, ['sg', 'st', 'sig']);
        parseStatement(presenter, {
          signer: expectString(rec.sg, 'sg', ctx, 64, PARTY_ID_PATTERN),
          statement: expectBytes(rec.st, 'st', ctx, undefined, 4096),
          signature: expectBytes(rec.sig, 'sig', ctx, 64),
        });
      } catch (err) {
        if (!(err instanceof CouplerError)) throw err;
        forged ??= err;
      }
    }
  }

  // Pieces that are not the committed pieces.
  for (const s of statements) {
    if (s.body.t !== AGGREGATE_STATEMENT.pieces) continue;
    const ctx = { what: `pieces statement presented by "${s.presenter}"`, peer: s.presenter };
    const o = opened.get(s.signer)!;
    for (const item of expectArray(s.body.items, 'items', ctx, 1)) {
      const it = expectRecord(item, ctx, ['c', 'h']);
      const c = expectUint(it.c, 'c', ctx, n - 1);
      const h = expectBytes(it.h, 'h', ctx, 32);
      const v = o.kept.get(c);
      if (v === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${s.presenter}" presented a malformed pieces statement in round "${round}"`, { peer: s.presenter });
      if (!bytesEqual(h, pieceHash(c, { v, n: o.nonces[c]!, pr: merkleProof(o.levels, c) }))) {
        throw new CheatingDetectedError(
          ErrorCode.COMMITMENT_MISMATCH,
          `party "${s.signer}" sent an aggregator a piece of chunk ${c} that is not the piece it committed to in round "${round}"`,
          { description: 'a signed pieces statement whose hash differs from the committed piece (recomputed from the opened value)', statements: [encodeEvidence(s)] },
          { peer: s.signer },
        );
      }
    }
  }

  // Chunk answers: two different signed answers, or one that is not the sum.
  for (let c = 0; c < n; c++) {
    const a = layout.aggregator[c]!;
    const byHash = new Map<string, Parsed>();
    for (const s of statements) {
      if (s.body.t !== AGGREGATE_STATEMENT.sum || s.signer !== a) continue;
      const ctx = { what: `sum statement presented by "${s.presenter}"`, peer: s.presenter };
      if (expectUint(s.body.c, 'c', ctx, n - 1) !== c) continue;
      byHash.set(Buffer.from(expectBytes(s.body.h, 'h', ctx, 32)).toString('hex'), s);
    }
    if (byHash.size > 1) {
      const [x, y] = [...byHash.values()];
      throw new CheatingDetectedError(
        ErrorCode.EQUIVOCATION,
        `aggregator "${a}" sent different sums of chunk ${c} to different parties in round "${round}"`,
        { description: 'two chunk-sum statements signed by the same aggregator for the same chunk with different hashes', statements: [encodeEvidence(x!), encodeEvidence(y!)] },
        { peer: a },
      );
    }
    const only = [...byHash.entries()][0];
    if (only !== undefined && only[0] !== Buffer.from(trueSums[c]!).toString('hex')) {
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        `aggregator "${a}" sent a sum of chunk ${c} that is not the sum of the committed partial sums in round "${round}"`,
        { description: 'a signed chunk-sum statement whose hash differs from the sum recomputed from the opened values', statements: [encodeEvidence(only[1])] },
        { peer: a },
      );
    }
  }

  // Fingerprints that are not the fingerprint of the committed value.
  for (const p of group.parties) {
    const check = checkOf.get(p)!;
    if (opened.get(p)!.f === check.f) continue;
    throw new CheatingDetectedError(
      ErrorCode.TAMPERING_DETECTED,
      `party "${p}" published a fingerprint that is not the fingerprint of its committed partial sum in round "${round}"`,
      { description: 'a signed check statement whose fingerprint differs from the one recomputed from the opened value', statements: [encodeEvidence(check.evidence)] },
      { peer: p },
    );
  }

  // Nothing proven from the valid evidence: a presenter of an invalid item is named for it.
  if (forged !== undefined) throw forged;

  // Everything verified: a party that reported a failure reported a false one.
  const ref = viewHash(trueSums);
  for (const p of group.parties) {
    const check = checkOf.get(p)!;
    if (check.ok && bytesEqual(check.v, ref)) continue;
    throw new CheatingDetectedError(
      ErrorCode.TAMPERING_DETECTED,
      `party "${p}" reported a failed check in round "${round}" that the opened values contradict`,
      { description: 'a signed check statement reporting a failure, while every opening, piece, answer and fingerprint verified', statements: [encodeEvidence(check.evidence)] },
      { peer: p },
    );
  }
}
