/**
 * The aggregated opening of committed partial sums: every party ends with S = Σ_p T_p, as with
 * commit-then-open, but sends ≈ 3·8L bytes instead of (n − 1)·8L (L = vector length), so the
 * bytes per party no longer grow with n. Used by `secureSum` and `dkSecureSum` with
 * `opening: 'aggregate'`.
 *
 * The index range [0, L) is split into n contiguous chunks; chunk c has a primary aggregator
 * a(c) = parties[c] (canonical order) and a secondary b(c) = the successor of a(c) on a
 * coin-tossed cycle of all parties (a derangement: b(c) ≠ a(c), and every party is the
 * secondary of exactly one chunk). Rounds (below `<round>`):
 *
 * 1. `c` (echo broadcast, 2 message rounds): each party commits to T_p chunk by chunk — a Merkle
 *    tree over the leaves `SHA-256(tag, session, round, p, c ‖ nonce_c ‖ T_p[c])`, nonce_c derived
 *    from a secret 32-byte master nonce — and echo-broadcasts the 32-byte root.
 * 2. `pieces` (no round of its own: sent right after p's echo digest of the roots, once every root
 *    has arrived): p sends every peer q its pieces of q's primary and secondary chunk, each
 *    with its nonce and Merkle proof, under one Ed25519 signature over
 *    `{session, round, from, to, [(chunk, SHA-256(piece))]}`. q checks every piece against p's
 *    echoed root.
 * 3. `sums` (1 round): a(c) sums its chunk over all parties into S_c and sends S_c, with a
 *    signature over `{session, round, from, c, SHA-256(S_c)}`, to every party except b(c), which
 *    computes S_c itself and gets only the signed hash (so every party waits for every primary
 *    in this round, and a silent one is named by all).
 * 4. `check` (echo broadcast, 2 message rounds): each party broadcasts a signed statement
 *    `{ok, v, c, h}`: `ok` (every piece it received verified), `v` = SHA-256 of the hashes of the
 *    n chunks it holds, and, as secondary of chunk c, `h` = SHA-256(S_c) as it computed it.
 *    Every party derives the same verdict from the same echoed data: accept iff every `ok` holds
 *    and every `v` equals the hash of the secondaries' `h` list. Accepting parties return S.
 * 5. `dispute` (only after a rejection, 1 round, O(n·L) bytes per party): every party opens T_p
 *    (value + master nonce) to everyone, with the signed statements it holds (the chunk sums it
 *    received; the pieces that failed its check). Everyone recomputes every commitment and the
 *    true S_c, then names the first culprit in a fixed order: an opening that does not match its
 *    root (`COMMITMENT_MISMATCH`); a signed piece that is not the committed piece
 *    (`COMMITMENT_MISMATCH`, the signed statement as evidence); an aggregator that signed two
 *    different sums for its chunk (`EQUIVOCATION`, both statements) or a sum that is not the sum
 *    of the committed pieces (`TAMPERING_DETECTED`, its statement); a secondary whose `h` is
 *    wrong, or a party whose `ok`/`v` claims a failure the opened values contradict
 *    (`TAMPERING_DETECTED`, its check statement).
 *
 * Bytes sent per party: pieces 2·8L·(n−1)/n, sums 8L·(n−2)/n, i.e. 8L·(3n−4)/n < 24L, plus per
 * piece message 2·(32 + 32·⌈log2 n⌉) bytes of nonces and proofs and a 64-byte signature, plus the
 * two echo rounds (each O(n) small values and an O(n²)-byte echo list per party).
 *
 * Security (static adversary; SHA-256 collision resistance, Ed25519 unforgeability):
 * - Every piece is bound to the echoed root before any piece is revealed, so nobody can choose a
 *   piece after seeing others' (no rushing), and both aggregators of a chunk verify every piece.
 * - Accepting honest parties hold the same S: the verdict is a function of echoed data only, and
 *   accepting means every party's hash of its n chunk hashes equals the hash of the secondaries'
 *   list, so all hold chunks with identical hashes.
 * - That S is Σ_p T_p over the committed T_p, unless a(c) and b(c) are both corrupt for some
 *   chunk c: if either is honest, the hash every accepting party checked its chunk against is the
 *   hash of the true sum of the verified pieces. A coalition that holds both aggregators of a
 *   chunk can replace that chunk of the output undetected. (Broadcast opening has no such pair;
 *   see the `opening` option.) No probabilistic check is involved.
 * - A rejection leads to a named culprit with evidence, unless a party stops answering (a timeout
 *   naming it) or sends a malformed or unsigned message (aborts at the receiver, naming it; the
 *   others then time out naming the receiver, as in the other protocols).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { CheatingDetectedError, ErrorCode, GroupError } from '../errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { bytesEqual } from '../crypto/bytes.js';
import { echoBroadcast, encodeEvidence, type SignedStatement } from '../group/echo.js';
import type { Group, RoundOptions } from '../group/group.js';
import { decodeMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectArray, expectBytes, expectRecord, expectString, expectUint } from '../wire/shape.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { r64AddInPlace, r64FromBytes, r64ToBytes, r64Zeros, shareGraph, type Ring64Vector } from './math/index.js';
import { seedFor } from './common.js';

/** Statement types signed in the aggregated opening. */
export const AGGREGATE_STATEMENT = {
  /** A sender's pieces to one receiver: `{t, s, r, from, to, items: [{c, h}]}`. */
  pieces: 'coupler/1 aggregate pieces',
  /** A primary aggregator's chunk sum: `{t, s, r, from, c, h}`. */
  sum: 'coupler/1 aggregate sum',
  /** A party's check: `{t, s, r, from, ok, v, c, h}` (c, h: its secondary chunk and hash). */
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

// ---------------------------------------------------------------------------------------------
// Layout: chunks and roles.

/** Who aggregates which chunk of the index range, identical at every party. @internal */
export interface AggregateLayout {
  /** Number of parties (= chunks). */
  readonly n: number;
  /** Vector length L. */
  readonly length: number;
  /** Chunk c is [start[c], start[c + 1]); n + 1 entries. */
  readonly start: readonly number[];
  /** Primary aggregator of each chunk (canonical order: parties[c]). */
  readonly primary: readonly string[];
  /** Secondary aggregator of each chunk. */
  readonly secondary: readonly string[];
  /** The chunk each party is primary for. */
  readonly primaryChunk: ReadonlyMap<string, number>;
  /** The chunk each party is secondary for. */
  readonly secondaryChunk: ReadonlyMap<string, number>;
}

/**
 * The layout of the aggregated opening of `round`: chunk boundaries ⌊c·L/n⌋, primaries in
 * canonical order, secondaries = successors on a cycle seeded by the coin-tossed run seed and the round.
 * @internal
 */
export function aggregateLayout(group: Group, round: string, length: number, runSeed: Uint8Array): AggregateLayout {
  const parties = group.parties;
  const n = parties.length;
  const start = Array.from({ length: n + 1 }, (_, c) => Math.floor((c * length) / n));
  const cycle = shareGraph(parties, 2, seedFor(runSeed, `aggregate roles\0${round}`));
  const primary = [...parties];
  const secondary = primary.map((p) => cycle.get(p)![0]!);
  return {
    n,
    length,
    start,
    primary,
    secondary,
    primaryChunk: new Map(primary.map((p, c) => [p, c])),
    secondaryChunk: new Map(secondary.map((p, c) => [p, c])),
  };
}

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
// Signed statements.

/** `{t, s, e, r, from, to, items}`: what a pieces message carries. @internal */
export function piecesStatement(session: string, epoch: Uint8Array, round: string, from: string, to: string, items: { c: number; h: Uint8Array }[]): Uint8Array {
  return encodeMessage({ t: AGGREGATE_STATEMENT.pieces, s: session, e: epoch, r: round, from, to, items: items.map((i) => ({ c: i.c, h: i.h })) });
}

/** `{t, s, e, r, from, c, h}`: a primary's chunk sum. @internal */
export function sumStatement(session: string, epoch: Uint8Array, round: string, from: string, c: number, h: Uint8Array): Uint8Array {
  return encodeMessage({ t: AGGREGATE_STATEMENT.sum, s: session, e: epoch, r: round, from, c, h });
}

/** `{t, s, e, r, from, ok, v, c, h}`: a party's check. @internal */
export function checkStatement(session: string, epoch: Uint8Array, round: string, from: string, ok: boolean, v: Uint8Array, c: number, h: Uint8Array): Uint8Array {
  return encodeMessage({ t: AGGREGATE_STATEMENT.check, s: session, e: epoch, r: round, from, ok, v, c, h });
}

/** SHA-256 over the concatenated chunk hashes (the `v` of a check, and the reference). @internal */
export function viewHash(hashes: readonly Uint8Array[]): Uint8Array {
  return sha256(...hashes);
}

/** SHA-256 of chunk-sum bytes. @internal */
export function sumHash(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
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

// ---------------------------------------------------------------------------------------------
// The protocol.

/**
 * Aggregated opening of this party's committed partial sum `partial` (L = `length` elements):
 * returns S = Σ_p T_p, identical at every honest party that returns (see the module notes).
 *
 * @throws {@link CheatingDetectedError} naming the culprit with signed evidence after a failed
 *   check; {@link TimeoutError}/{@link GroupError} naming missing, lost or misbehaving peers.
 * @internal used by `openPartials`.
 */
export async function openAggregated(
  group: Group,
  round: string,
  partial: Ring64Vector,
  length: number,
  runSeed: Uint8Array,
  options: RoundOptions = {},
): Promise<Ring64Vector> {
  const me = group.localId;
  const session = group.sessionId;
  const epoch = group.epoch;
  const layout = aggregateLayout(group, round, length, runSeed);
  const n = layout.n;
  const mine = r64ToBytes(partial);
  const commit = commitChunks(group, round, me, layout, mine, new Uint8Array(randomBytes(32)));

  // 1. Commit: echo-broadcast the Merkle root. 2. Pieces, in the same message flight as this
  // party's echo digest of the roots (`afterDigest`): to every peer its primary and secondary
  // chunk of my value, signed. Why that is safe: the pieces leave only after every party's root
  // has arrived, so each root was fixed before any honest piece existed (no rushing), exactly as
  // commit-then-open sends its opening with the echo digest; a root sent differently to different
  // parties still fails the echo check, and the run aborts before any chunk sum is accepted. The
  // pieces are chunks of T_p, public by design. It saves a message round.
  const alpha = layout.primaryChunk.get(me)!;
  const beta = layout.secondaryChunk.get(me)!;
  let piecesSent: Promise<unknown> = Promise.resolve();
  const rootsRaw = await echoBroadcast(group, `${round}/c`, commit.root, {
    ...options,
    afterDigest: () => {
      piecesSent = sendPieces();
      piecesSent.catch(() => undefined); // awaited below
    },
  });
  const roots = new Map<string, Uint8Array>();
  for (const [p, v] of rootsRaw) roots.set(p, p === me ? commit.root : expectBytes(v, 'root', { what: `commitment of round "${round}"`, peer: p }, 32));
  await piecesSent;
  function sendPieces(): Promise<unknown> {
    return Promise.all(
      group.peers.map((q) => {
        const a = layout.primaryChunk.get(q)!;
        const b = layout.secondaryChunk.get(q)!;
        const pa = pieceOf(layout, mine, commit, a);
        const pb = pieceOf(layout, mine, commit, b);
        const st = piecesStatement(session, epoch, round, me, q, [
          { c: a, h: pieceHash(a, pa) },
          { c: b, h: pieceHash(b, pb) },
        ]);
        return group.send(q, `${round}/pieces`, { a: { v: pa.v, n: pa.n, pr: pa.pr }, b: { v: pb.v, n: pb.n, pr: pb.pr }, sig: ed25519Sign(st, group.identity.secretKey) });
      }),
    );
  }
  const received = await group.gather(`${round}/pieces`, options);
  let ok = true;
  const failedPieces: SignedStatement[] = [];
  const sumA = Uint32Array.from(partial.subarray(2 * layout.start[alpha]!, 2 * layout.start[alpha + 1]!));
  const sumB = Uint32Array.from(partial.subarray(2 * layout.start[beta]!, 2 * layout.start[beta + 1]!));
  for (const [p, msg] of received) {
    const ctx = { what: `pieces of round "${round}"`, peer: p };
    const rec = expectRecord(msg, ctx, ['a', 'b', 'sig']);
    const pa = parsePiece(rec.a, ctx, n, group.maxMessageBytes);
    const pb = parsePiece(rec.b, ctx, n, group.maxMessageBytes);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    const st = piecesStatement(session, epoch, round, p, me, [
      { c: alpha, h: pieceHash(alpha, pa) },
      { c: beta, h: pieceHash(beta, pb) },
    ]);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent pieces with an invalid signature in round "${round}"`, { peer: p });
    }
    let good = true;
    for (const [c, piece, acc] of [
      [alpha, pa, sumA],
      [beta, pb, sumB],
    ] as const) {
      const expectedBytes = 8 * (layout.start[c + 1]! - layout.start[c]!);
      const leaf = leafHash(session, epoch, round, p, c, piece.n, piece.v);
      const root = piece.v.length === expectedBytes ? merkleRootFromProof(leaf, c, n, piece.pr) : undefined;
      if (root === undefined || !bytesEqual(root, roots.get(p)!)) {
        good = false;
        continue;
      }
      if (piece.v.length > 0) r64AddInPlace(acc, r64FromBytes(piece.v));
    }
    if (!good) {
      ok = false;
      failedPieces.push({ signer: p, statement: st, signature: sig });
    }
  }

  // 3. Sums: the primary sends its chunk sum to everyone but the chunk's secondary.
  const sumABytes = r64ToBytes(sumA);
  const hA = sumHash(sumABytes);
  const hB = sumHash(r64ToBytes(sumB));
  const sigA = ed25519Sign(sumStatement(session, epoch, round, me, alpha, hA), group.identity.secretKey);
  const mySecondary = layout.secondary[alpha]!;
  await Promise.all([
    group.sendToAll(`${round}/sums`, { v: sumABytes, sig: sigA }, group.peers.filter((q) => q !== mySecondary)),
    // The secondary computes the sum itself; it gets the signed hash, so that it, too, waits for
    // (and names, if silent) the primary in this round.
    group.send(mySecondary, `${round}/sums`, { h: hA, sig: sigA }),
  ]);
  const sums = await group.gather(`${round}/sums`, options);
  const view = new Map<number, Uint8Array>([
    [alpha, sumABytes],
    [beta, r64ToBytes(sumB)],
  ]);
  const viewHashes = new Map<number, Uint8Array>([
    [alpha, hA],
    [beta, hB],
  ]);
  const heldSums: SignedStatement[] = [];
  for (const [p, msg] of sums) {
    const ctx = { what: `chunk sum of round "${round}"`, peer: p };
    const c = layout.primaryChunk.get(p)!;
    const toSecondary = c === beta;
    const rec = expectRecord(msg, ctx, toSecondary ? ['h', 'sig'] : ['v', 'sig']);
    const v = toSecondary ? undefined : expectBytes(rec.v, 'v', ctx);
    const h = v === undefined ? expectBytes(rec.h, 'h', ctx, 32) : sumHash(v);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    const st = sumStatement(session, epoch, round, p, c, h);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a chunk sum with an invalid signature in round "${round}"`, { peer: p });
    }
    heldSums.push({ signer: p, statement: st, signature: sig });
    if (v === undefined) continue; // my secondary chunk: my own sum is my view
    if (v.length !== 8 * (layout.start[c + 1]! - layout.start[c]!)) ok = false;
    view.set(c, v);
    viewHashes.set(c, h);
  }

  // 4. Check: echo {ok, v, h} (signed); everyone derives the same verdict from the echoed data.
  const v = viewHash(Array.from({ length: n }, (_, c) => viewHashes.get(c)!));
  const myCheck = checkStatement(session, epoch, round, me, ok, v, beta, hB);
  const checks = await echoBroadcast(group, `${round}/check`, { ok, v, h: hB, sig: ed25519Sign(myCheck, group.identity.secretKey) }, options);
  const checkOf = new Map<string, { ok: boolean; v: Uint8Array; h: Uint8Array; evidence: SignedStatement }>();
  for (const p of group.parties) {
    const ctx = { what: `check of round "${round}"`, peer: p };
    const rec = expectRecord(checks.get(p)!, ctx, ['ok', 'v', 'h', 'sig']);
    if (typeof rec.ok !== 'boolean') throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a malformed check in round "${round}"`, { peer: p });
    const cv = expectBytes(rec.v, 'v', ctx, 32);
    const ch = expectBytes(rec.h, 'h', ctx, 32);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    const st = checkStatement(session, epoch, round, p, rec.ok, cv, layout.secondaryChunk.get(p)!, ch);
    if (!ed25519Verify(st, sig, group.roster.get(p)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${p}" sent a check with an invalid signature in round "${round}"`, { peer: p });
    }
    checkOf.set(p, { ok: rec.ok, v: cv, h: ch, evidence: { signer: p, statement: st, signature: sig } });
  }
  const ref = viewHash(layout.secondary.map((s) => checkOf.get(s)!.h));
  const accepted = [...checkOf.values()].every((x) => x.ok && bytesEqual(x.v, ref));
  if (accepted) {
    const out = r64Zeros(length);
    const outBytes = r64ToBytes(out);
    for (let c = 0; c < n; c++) outBytes.set(view.get(c)!, 8 * layout.start[c]!);
    return out;
  }

  // 5. Dispute: open T_p to everyone with the statements held; name the culprit.
  const evidence = [...heldSums, ...failedPieces].map((s) => ({ sg: s.signer, st: s.statement, sig: s.signature }));
  await group.sendToAll(`${round}/dispute`, { t: mine, m: commit.master, ev: evidence });
  const disputes = await group.gather(`${round}/dispute`, options);
  resolveDispute(group, round, layout, roots, checkOf, ref, mine, commit.master, [...heldSums, ...failedPieces], disputes);
  throw new CheatingDetectedError(
    ErrorCode.TAMPERING_DETECTED,
    `the aggregated opening of round "${round}" failed its check, but no culprit could be determined`,
    { description: 'check rejected; every opening, piece and sum verified', statements: [] },
  );
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
  checkOf: ReadonlyMap<string, { ok: boolean; v: Uint8Array; h: Uint8Array; evidence: SignedStatement }>,
  ref: Uint8Array,
  mine: Uint8Array,
  myMaster: Uint8Array,
  myEvidence: readonly SignedStatement[],
  disputes: ReadonlyMap<string, PlainData>,
): void {
  const me = group.localId;
  const session = group.sessionId;
  const epoch = group.epoch;
  const n = layout.n;
  const L = layout.length;

  // Openings against the commitments.
  const opened = new Map<string, { bytes: Uint8Array; commit: ChunkCommitment }>();
  const presented: { presenter: string; items: PlainData[] }[] = [];
  for (const p of group.parties) {
    let bytes: Uint8Array;
    let master: Uint8Array;
    if (p === me) {
      bytes = mine;
      master = myMaster;
    } else {
      const ctx = { what: `dispute opening of round "${round}"`, peer: p };
      const rec = expectRecord(disputes.get(p)!, ctx, ['t', 'm', 'ev']);
      bytes = expectBytes(rec.t, 't', ctx);
      master = expectBytes(rec.m, 'm', ctx, 32);
      presented.push({ presenter: p, items: expectArray(rec.ev, 'ev', ctx, 4 * n) });
    }
    const commit = bytes.length === 8 * L ? commitChunks(group, round, p, layout, bytes, master) : undefined;
    if (commit === undefined || !bytesEqual(commit.root, roots.get(p)!)) {
      throw new CheatingDetectedError(
        ErrorCode.COMMITMENT_MISMATCH,
        `party "${p}" opened a partial sum that does not match its commitment in round "${round}"`,
        { description: 'the opening does not hash to the echo-checked Merkle root', statements: [] },
        { peer: p },
      );
    }
    opened.set(p, { bytes, commit });
  }
  const trueSums = Array.from({ length: n }, (_, c) => {
    const acc = r64Zeros(layout.start[c + 1]! - layout.start[c]!);
    for (const p of group.parties) {
      const b = chunkBytes(layout, opened.get(p)!.bytes, c);
      if (b.length > 0) r64AddInPlace(acc, r64FromBytes(b));
    }
    return sumHash(r64ToBytes(acc));
  });

  // The statements presented by everyone (mine included), signatures checked.
  const statements: (Parsed & { presenter: string })[] = [];
  const parseStatement = (presenter: string, s: SignedStatement): void => {
    const entry = group.roster.get(s.signer);
    if (entry === undefined || !ed25519Verify(s.statement, s.signature, entry.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${presenter}" presented a statement that its signer never signed (round "${round}")`, { peer: presenter });
    }
    const ctx = { what: `statement presented by "${presenter}"`, peer: presenter };
    const body = expectRecord(decodeMessage(s.statement, 4096, { peer: presenter }), ctx, ['t', 's', 'e', 'r', 'from', 'to', 'items', 'c', 'h']);
    if (body.s !== session || !(body.e instanceof Uint8Array) || !bytesEqual(body.e, epoch) || body.r !== round || body.from !== s.signer) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${presenter}" presented a statement of another round, signer or group formation`, { peer: presenter });
    }
    statements.push({ ...s, body, presenter });
  };
  for (const s of myEvidence) parseStatement(me, s);
  for (const { presenter, items } of presented) {
    for (const item of items) {
      const ctx = { what: `evidence of round "${round}"`, peer: presenter };
      const rec = expectRecord(item, ctx, ['sg', 'st', 'sig']);
      parseStatement(presenter, {
        signer: expectString(rec.sg, 'sg', ctx, 64, PARTY_ID_PATTERN),
        statement: expectBytes(rec.st, 'st', ctx, undefined, 4096),
        signature: expectBytes(rec.sig, 'sig', ctx, 64),
      });
    }
  }

  // Pieces that are not the committed pieces.
  for (const s of statements) {
    if (s.body.t !== AGGREGATE_STATEMENT.pieces) continue;
    const ctx = { what: `pieces statement presented by "${s.presenter}"`, peer: s.presenter };
    const o = opened.get(s.signer)!;
    for (const item of expectArray(s.body.items, 'items', ctx, 2)) {
      const it = expectRecord(item, ctx, ['c', 'h']);
      const c = expectUint(it.c, 'c', ctx, n - 1);
      const h = expectBytes(it.h, 'h', ctx, 32);
      if (!bytesEqual(h, pieceHash(c, pieceOf(layout, o.bytes, o.commit, c)))) {
        throw new CheatingDetectedError(
          ErrorCode.COMMITMENT_MISMATCH,
          `party "${s.signer}" sent an aggregator a piece of chunk ${c} that is not the piece it committed to in round "${round}"`,
          { description: 'a signed pieces statement whose hash differs from the committed piece (recomputed from the opened value)', statements: [encodeEvidence(s)] },
          { peer: s.signer },
        );
      }
    }
  }

  // Chunk sums: primaries' signed sums, then secondaries' signed hashes.
  for (let c = 0; c < n; c++) {
    const a = layout.primary[c]!;
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
    const b = layout.secondary[c]!;
    const check = checkOf.get(b)!;
    if (!bytesEqual(check.h, trueSums[c]!)) {
      throw new CheatingDetectedError(
        ErrorCode.TAMPERING_DETECTED,
        `secondary aggregator "${b}" reported a wrong hash of chunk ${c} in round "${round}"`,
        { description: 'a signed check statement whose chunk hash differs from the sum recomputed from the opened values', statements: [encodeEvidence(check.evidence)] },
        { peer: b },
      );
    }
  }

  // Everything verified: a party that reported a failure reported a false one.
  for (const p of group.parties) {
    const check = checkOf.get(p)!;
    if (check.ok && bytesEqual(check.v, ref)) continue;
    throw new CheatingDetectedError(
      ErrorCode.TAMPERING_DETECTED,
      `party "${p}" reported a failed check in round "${round}" that the opened values contradict`,
      { description: 'a signed check statement reporting a failure, while every opening, piece and chunk sum verified', statements: [encodeEvidence(check.evidence)] },
      { peer: p },
    );
  }
}
