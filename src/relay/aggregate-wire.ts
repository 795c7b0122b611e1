/**
 * Wire format of the relay's aggregation (the relayed opening, `opening: 'relay'`), shared by the
 * relay (`aggregate.ts`) and the parties (`aggregate-client.ts`, `protocols/relay-opening.ts`).
 *
 * A party opens a WebSocket to the relay and sends a signed admission request with `op:
 * 'aggregate'` ({@link AggregateRequest}); the relay answers `{t: 'admitted', key}` (its Ed25519
 * public key). The party then uploads its masked vector in chunks of
 * {@link AGGREGATE_CHUNK_ELEMENTS} elements, each one binary message
 * `[u32 index][64-byte signature][8·len bytes]` ({@link encodeUploadChunk}); the signature covers
 * {@link uploadStatement}: the chunk's index, byte length and the hash chain up to it. The relay
 * streams back, in order, one binary message per chunk `[u32 index][sum 8·len][carries w·len]`
 * ({@link encodeAnswerChunk}) once every member's chunk is in, then a text message
 * `{t: 'answer', st, sig, members}`: its signed {@link answerStatement}. A relay that gives up
 * sends `{t: 'abort', reason, party?, ev?}` ({@link AggregateAbort}) before it closes; one that
 * makes no progress for a while says whom it waits for, `{t: 'waiting', i, parties}`
 * ({@link AggregateWaiting}).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ProtocolError, ErrorCode } from '../errors.js';
import { encodeMessage, type PlainData } from '../wire/codec.js';
import { expectArray, expectRecord, expectString, expectUint } from '../wire/shape.js';
import { normalizeRelayUrl } from './protocol.js';

/** Elements per aggregation chunk (128 KiB of ring elements: one upload message). */
export const AGGREGATE_CHUNK_ELEMENTS = 16_384;
/** Bytes before an upload chunk's payload: index (4) and signature (64). */
export const UPLOAD_HEADER_BYTES = 4 + 64;
/** Bytes before an answer chunk's payload: the index. */
export const ANSWER_HEADER_BYTES = 4;
/** An aggregation id: 64 lower-case hex characters (SHA-256 over session, epoch and round; chosen by the parties). */
export const AGGREGATE_ID_PATTERN = /^[0-9a-f]{64}$/;

/** Statement types signed in a relay aggregation. */
export const AGGREGATE_WIRE_STATEMENT = {
  /** A party's upload chunk: `{t, s, a, from, i, len, c}`. */
  upload: 'coupler-relay/1 aggregate upload',
  /** The relay's answer: `{t, s, a, parties, len, members, h}`. */
  answer: 'coupler-relay/1 aggregate answer',
} as const;

const CHAIN_START_TAG = 'coupler-relay/1 aggregate chain';
const CHUNK_TAG = Buffer.from('coupler-relay/1 aggregate chunk\0', 'utf8');
const ANSWER_START_TAG = 'coupler-relay/1 aggregate answer chain';
const ANSWER_CHUNK_TAG = Buffer.from('coupler-relay/1 aggregate answer chunk\0', 'utf8');

const u32 = (x: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(x >>> 0, 0);
  return b;
};

/** Number of chunks of a vector of `length` elements. */
export function aggregateChunkCount(length: number): number {
  return Math.ceil(length / AGGREGATE_CHUNK_ELEMENTS);
}

/** Elements of chunk `i` of a vector of `length` elements. */
export function aggregateChunkLength(length: number, i: number): number {
  return Math.min(AGGREGATE_CHUNK_ELEMENTS, length - i * AGGREGATE_CHUNK_ELEMENTS);
}

/** The start of a member's upload hash chain: binds session, aggregation, member, length and party list. */
export function chainStart(session: string, agg: string, from: string, length: number, parties: readonly string[]): Uint8Array {
  return new Uint8Array(createHash('sha256').update(encodeMessage([CHAIN_START_TAG, session, agg, from, length, [...parties]])).digest());
}

/** h_i = SHA-256(tag ‖ i ‖ byte length ‖ bytes): the hash of one upload chunk. */
export function chunkHash(i: number, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(CHUNK_TAG).update(u32(i)).update(u32(bytes.length)).update(bytes).digest());
}

/** c_i = SHA-256(c_{i−1} ‖ h_i): the next link of a hash chain. */
export function chainNext(prev: Uint8Array, h: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(prev).update(h).digest());
}

/** What a member signs for upload chunk `i` (`len` bytes, chain value `c`). */
export function uploadStatement(session: string, agg: string, from: string, i: number, len: number, c: Uint8Array): Uint8Array {
  return encodeMessage({ t: AGGREGATE_WIRE_STATEMENT.upload, s: session, a: agg, from, i, len, c });
}

/** One upload message: `[u32 i][sig][payload]` (one copy of the payload). */
export function encodeUploadChunk(i: number, sig: Uint8Array, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(UPLOAD_HEADER_BYTES + payload.length);
  out.writeUInt32BE(i >>> 0, 0);
  out.set(sig, 4);
  out.set(payload, UPLOAD_HEADER_BYTES);
  return out;
}

/** Split an upload message; undefined when it is shorter than its header. */
export function parseUploadChunk(data: Uint8Array): { i: number; sig: Uint8Array; payload: Uint8Array } | undefined {
  if (data.length < UPLOAD_HEADER_BYTES) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { i: view.getUint32(0, false), sig: data.subarray(4, UPLOAD_HEADER_BYTES), payload: data.subarray(UPLOAD_HEADER_BYTES) };
}

/** The start of the answer's hash chain. */
export function answerChainStart(session: string, agg: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(encodeMessage([ANSWER_START_TAG, session, agg])).digest());
}

/** The hash of answer chunk `i` (sum and carry bytes). */
export function answerChunkHash(i: number, sum: Uint8Array, carries: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(ANSWER_CHUNK_TAG).update(u32(i)).update(u32(sum.length)).update(sum).update(carries).digest());
}

/** One answer message: `[u32 i][sum][carries]`. */
export function encodeAnswerChunk(i: number, sum: Uint8Array, carries: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(ANSWER_HEADER_BYTES + sum.length + carries.length);
  out.writeUInt32BE(i >>> 0, 0);
  out.set(sum, ANSWER_HEADER_BYTES);
  out.set(carries, ANSWER_HEADER_BYTES + sum.length);
  return out;
}

/** A member's last upload chunk as the relay reports it: the member's own signed statement. */
export interface MemberFinal {
  /** Index of the chunk (the last one). */
  readonly i: number;
  /** Its byte length. */
  readonly len: number;
  /** The chain value after it: the member's commitment to its whole upload. */
  readonly c: Uint8Array;
  /** The member's signature over {@link uploadStatement}. */
  readonly sig: Uint8Array;
}

/**
 * What the relay signs as its answer: the aggregation, the member list, the length, each member's
 * last signed chunk (in party order) and the hash chain `h` of the answer chunks it sent.
 */
export function answerStatement(session: string, agg: string, parties: readonly string[], length: number, members: readonly MemberFinal[], h: Uint8Array): Uint8Array {
  return encodeMessage({
    t: AGGREGATE_WIRE_STATEMENT.answer,
    s: session,
    a: agg,
    parties: [...parties],
    len: length,
    members: members.map((m) => ({ i: m.i, len: m.len, c: m.c, sig: m.sig })),
    h,
  });
}

/**
 * Why the relay ended an aggregation (sent to every member before it closes):
 * - `upload-size`: `party` signed a chunk of the wrong size or index (`ev` is that signed chunk
 *   statement: transferable evidence);
 * - `upload-malformed`: a message of `party` that does not parse, or whose signature or place in
 *   the chain does not verify (the relay's word: on `ws://` the network could have altered it);
 * - `member-left`: `party` closed its connection before the end;
 * - `timeout`: the aggregation's deadline passed (`party`, when given, was missing or behind);
 * - `relay-closing`: the relay stops.
 */
export type AggregateAbortReason = 'upload-size' | 'upload-malformed' | 'member-left' | 'timeout' | 'relay-closing';

/** Every {@link AggregateAbortReason}. */
export const AGGREGATE_ABORT_REASONS: readonly AggregateAbortReason[] = Object.freeze(['upload-size', 'upload-malformed', 'member-left', 'timeout', 'relay-closing']);

/** The relay's abort message. */
export interface AggregateAbort {
  readonly t: 'abort';
  readonly reason: AggregateAbortReason;
  /** The member concerned, when there is one. */
  readonly party?: string;
  /** For `upload-size`: the member's signed chunk statement (fields and base64 signature). */
  readonly ev?: { readonly i: number; readonly len: number; readonly c: string; readonly sig: string };
}

/**
 * The relay's notice that an aggregation is stalled (text message, sent to every admitted member
 * at most once per stall): `parties` are the members it waits for — not admitted yet, or missing
 * their upload of chunk `i` (the oldest unfinished one), or not reading the answer — as it
 * reports them (its word: a party learns whom to suspect before its own deadline passes).
 */
export interface AggregateWaiting {
  readonly t: 'waiting';
  /** The oldest chunk not yet sent. */
  readonly i: number;
  /** The members it waits for, in party order. */
  readonly parties: readonly string[];
}

/** The admission request of an aggregation member (first text message). */
export interface AggregateRequest {
  /** Format version, 1. */
  readonly v: 1;
  /** `'aggregate'`. */
  readonly op: 'aggregate';
  /** Session id. */
  readonly session: string;
  /** The sender's roster id. */
  readonly from: string;
  /** Aggregation id ({@link AGGREGATE_ID_PATTERN}). */
  readonly agg: string;
  /** Every member, in canonical order (the sender among them). */
  readonly parties: readonly string[];
  /** Elements of every member's vector. */
  readonly len: number;
  /** Milliseconds since the epoch, sender's clock. */
  readonly ts: number;
  /** 16 random bytes, hex. */
  readonly nonce: string;
  /** Ed25519 signature over {@link aggregateTranscript}, base64. */
  readonly sig: string;
  /** Roster-bound sessions: the roster (as for a channel admission). */
  readonly roster?: string;
  /** Optional, unsigned: the relay URL the party signed. */
  readonly url?: string;
  /** Optional, unsigned: the digest of the roster the party uses (as for a channel admission, `AdmissionRequest.digest`). */
  readonly digest?: string;
}

/** The bytes a member signs to be admitted to an aggregation: bound to the relay, session, aggregation, members and length. */
export function aggregateTranscript(relayUrl: string, r: Omit<AggregateRequest, 'sig' | 'v' | 'op' | 'roster' | 'url' | 'digest'>): Uint8Array {
  return new TextEncoder().encode(
    ['coupler-relay/1 aggregate admission', normalizeRelayUrl(relayUrl), r.session, r.from, r.agg, r.parties.join(','), String(r.len), String(r.ts), r.nonce].join('\n'),
  );
}

/**
 * A member's signed admission request, as the relay presents it when it refuses another member
 * `aggregate-mismatch`: everything that member signed ({@link aggregateTranscript}) except the
 * session and the aggregation id, which the refused member knows (they are its own). Since the
 * aggregation id fixes the run and its members, an admission under this id with another member
 * list or length is a statement no honest member signs: transferable evidence against its signer.
 */
export interface AggregateAdmissionEvidence {
  /** The relay URL the member signed. */
  readonly url: string;
  /** The member. */
  readonly from: string;
  /** The member list it signed. */
  readonly parties: readonly string[];
  /** The length it signed. */
  readonly len: number;
  /** Its timestamp. */
  readonly ts: number;
  /** Its nonce (32 hex). */
  readonly nonce: string;
  /** Its signature, base64. */
  readonly sig: string;
}

/**
 * Check the shape of the evidence in an `aggregate-mismatch` refusal (untrusted: it comes from the
 * relay); undefined when it is not one. Whether it verifies is the caller's.
 */
export function parseAdmissionEvidence(v: unknown): AggregateAdmissionEvidence | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const r = v as Record<string, unknown>;
  const str = (x: unknown, max: number): x is string => typeof x === 'string' && x.length > 0 && x.length <= max;
  if (!str(r.url, MAX_FIELD) || !str(r.from, MAX_FIELD) || !str(r.sig, 128) || !str(r.nonce, 32) || !/^[0-9a-f]{32}$/.test(r.nonce)) return undefined;
  if (!Number.isSafeInteger(r.len) || (r.len as number) < 0 || !Number.isSafeInteger(r.ts) || (r.ts as number) < 0) return undefined;
  if (!Array.isArray(r.parties) || r.parties.length > MAX_AGGREGATE_MEMBERS || !r.parties.every((p) => str(p, MAX_FIELD))) return undefined;
  return { url: r.url, from: r.from, parties: [...(r.parties as string[])], len: r.len as number, ts: r.ts as number, nonce: r.nonce, sig: r.sig };
}

const AGGREGATE_FIELDS = ['v', 'op', 'session', 'from', 'agg', 'parties', 'len', 'ts', 'nonce', 'sig', 'roster', 'url', 'digest'] as const;
/** Longest session id, party id or URL hint read (characters). */
const MAX_FIELD = 256;
/** Most members of one aggregation the wire format admits (the relay's roster cap applies too). */
export const MAX_AGGREGATE_MEMBERS = 1024;

/**
 * Check an already-decoded aggregation request record: exactly the known fields, each of its
 * type and size. Ids, the roster and the signature are checked by the relay.
 * @throws {@link ProtocolError} (`FRAME_MALFORMED`) naming the field.
 */
export function parseAggregateRequest(r: Record<string, PlainData>, maxAdmissionBytes: number): AggregateRequest {
  const ctx = { what: 'aggregation request' };
  expectRecord(r, ctx, AGGREGATE_FIELDS);
  if (r.v !== 1) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'aggregation request: field "v" must be 1');
  if (r.op !== 'aggregate') throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'aggregation request: field "op" must be "aggregate"');
  const parties = expectArray(r.parties, 'parties', ctx, MAX_AGGREGATE_MEMBERS).map((p) => expectString(p, 'parties', ctx, MAX_FIELD));
  return {
    v: 1,
    op: 'aggregate',
    session: expectString(r.session, 'session', ctx, MAX_FIELD),
    from: expectString(r.from, 'from', ctx, MAX_FIELD),
    agg: expectString(r.agg, 'agg', ctx, 64, AGGREGATE_ID_PATTERN),
    parties,
    len: expectUint(r.len, 'len', ctx),
    ts: expectUint(r.ts, 'ts', ctx),
    nonce: expectString(r.nonce, 'nonce', ctx, 32, /^[0-9a-f]{32}$/),
    sig: expectString(r.sig, 'sig', ctx, 128),
    ...(r.roster === undefined ? {} : { roster: expectString(r.roster, 'roster', ctx, maxAdmissionBytes) }),
    ...(r.url === undefined ? {} : { url: expectString(r.url, 'url', ctx, MAX_FIELD) }),
    ...(r.digest === undefined ? {} : { digest: expectString(r.digest, 'digest', ctx, 64, /^[0-9a-f]{64}$/) }),
  };
}
