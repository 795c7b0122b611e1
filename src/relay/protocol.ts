/**
 * Wire format of the relay's admission step (before any channel byte is forwarded).
 *
 * A party opens a WebSocket to the relay and sends one text message, the admission request: the
 * session id, its own roster id (`from`), the peer it wants (`to`), a timestamp and a nonce, signed
 * with its roster key over a transcript bound to the relay's public URL. The relay answers with
 * text messages (`admitted`, then `paired`, or `refused` with a stable {@link RelayRefuseReason})
 * and from `paired` on forwards binary messages between the two directions of the pair, opaque.
 * The channel handshake and AEAD frames then run end to end between the parties over that path.
 *
 * @module
 */
import { CouplerError, ErrorCode, ProtocolError } from '../errors.js';
import type { PlainData } from '../wire/codec.js';
import { expectRecord, expectString, expectUint } from '../wire/shape.js';
import { parseAggregateRequest, type AggregateRequest } from './aggregate-wire.js';

/** WebSocket subprotocol of the relay. */
export const RELAY_SUBPROTOCOL = 'coupler-relay.1';
/** URL path of the relay endpoint. */
export const RELAY_PATH = '/coupler-relay/1';
/** Largest admission request the relay reads (bytes; it may carry the roster of a roster-bound session). */
export const MAX_ADMISSION_BYTES = 192 * 1024;
/** How far an admission timestamp may be from the relay's clock (ms); a nonce is remembered until its timestamp leaves this window. */
export const ADMISSION_SKEW_MS = 5 * 60_000;

/**
 * Why the relay refused or ended a connection (stable strings, carried by {@link RelayError}). See
 * {@link RELAY_REFUSAL_CLASS} for which ones a party should retry.
 */
export type RelayRefuseReason =
  | 'malformed'
  | 'not-in-roster'
  | 'bad-signature'
  | 'url-mismatch'
  | 'stale'
  | 'session-roster'
  | 'roster-digest'
  | 'duplicate'
  | 'session-limit'
  | 'source-limit'
  | 'roster-limit'
  | 'relay-full'
  | 'busy'
  | 'evicted'
  | 'bytes-limit'
  | 'admission-timeout'
  | 'pair-timeout'
  | 'idle-timeout'
  | 'aggregate-mismatch'
  | 'aggregate-timeout';

/**
 * How a party should treat a refusal: `deterministic` ones will be answered the same way on every
 * retry (fail fast with the reason), `transient` ones depend on load or timing (retry with
 * backoff; report the last reason if the deadline passes).
 */
export type RelayRefusalClass = 'deterministic' | 'transient';

/**
 * The class of every {@link RelayRefuseReason}:
 * - deterministic: `malformed` (the request does not parse), `not-in-roster` (no roster of this
 *   relay holds both ids), `bad-signature` (no key/URL pair verifies), `url-mismatch` (signed for a
 *   URL this relay does not serve), `stale` (the party's clock is off by more than
 *   {@link ADMISSION_SKEW_MS}), `session-roster` (older relays: the id is held by another roster),
 *   `roster-digest` (a roster-bound id and a roster that does not hash to it), `bytes-limit` (the
 *   session used its byte budget), `aggregate-mismatch` (an aggregation member whose party list
 *   or length differs from the first member's, or a length over the relay's cap);
 * - transient: `duplicate` (a replayed nonce, a request signed no later than the one holding its
 *   slot, or an aggregation member's slot still held: a retry signs a fresh one — a channel
 *   request signed later takes its slot over, and the connection that held it is `evicted`),
 *   `session-limit`, `source-limit`, `roster-limit`, `relay-full`, `busy`, `evicted`
 *   (load, or taken over), `admission-timeout`, `pair-timeout`, `idle-timeout`,
 *   `aggregate-timeout` (timing).
 */
export const RELAY_REFUSAL_CLASS: Readonly<Record<RelayRefuseReason, RelayRefusalClass>> = Object.freeze({
  malformed: 'deterministic',
  'not-in-roster': 'deterministic',
  'bad-signature': 'deterministic',
  'url-mismatch': 'deterministic',
  stale: 'deterministic',
  'session-roster': 'deterministic',
  'roster-digest': 'deterministic',
  'bytes-limit': 'deterministic',
  'aggregate-mismatch': 'deterministic',
  duplicate: 'transient',
  'session-limit': 'transient',
  'source-limit': 'transient',
  'roster-limit': 'transient',
  'relay-full': 'transient',
  busy: 'transient',
  evicted: 'transient',
  'admission-timeout': 'transient',
  'pair-timeout': 'transient',
  'idle-timeout': 'transient',
  'aggregate-timeout': 'transient',
});

/** Every {@link RelayRefuseReason}. */
export const RELAY_REFUSE_REASONS: readonly RelayRefuseReason[] = Object.freeze(Object.keys(RELAY_REFUSAL_CLASS) as RelayRefuseReason[]);

/** Whether retrying after this refusal can succeed (see {@link RELAY_REFUSAL_CLASS}). */
export function isTransientRefusal(reason: RelayRefuseReason): boolean {
  return RELAY_REFUSAL_CLASS[reason] === 'transient';
}

/** The relay refused a connection; `reason` is stable, `peer` names the wanted peer when known. */
export class RelayError extends CouplerError {
  /** Why the relay refused. */
  readonly reason: RelayRefuseReason;
  constructor(reason: RelayRefuseReason, message: string, options: { peer?: string; cause?: unknown } = {}) {
    super(ErrorCode.RELAY_REFUSED, message, options);
    this.reason = reason;
  }
}

/** The admission request (first text message of a party). */
export interface AdmissionRequest {
  /** Format version, 1. */
  readonly v: 1;
  /** Session (task run) id. */
  readonly session: string;
  /** The sender's roster id. */
  readonly from: string;
  /** The peer this connection is for. */
  readonly to: string;
  /** Milliseconds since the epoch, sender's clock. */
  readonly ts: number;
  /** 16 random bytes, hex. */
  readonly nonce: string;
  /** Ed25519 signature over {@link admissionTranscript}, base64. */
  readonly sig: string;
  /**
   * Roster-bound sessions only (a session id ending in `#<roster digest>`, see
   * `rosterBoundSessionId`): the roster (ids and keys, JSON). The session id commits to it, and the
   * signature covers the session id, so it needs no signature of its own.
   */
  readonly roster?: string;
  /**
   * Optional, unsigned: the relay URL the party signed (normalised). A relay that cannot verify
   * the signature under any of its own URLs but can under this one answers `url-mismatch`
   * instead of `bad-signature`, so the party learns that its relay URL is the problem.
   */
  readonly url?: string;
  /**
   * Optional, unsigned: the digest of the roster the party uses (64 hex, `rosterDigest`). When
   * several rosters of the relay hold the signer's key, the relay admits the party on this one;
   * without it the relay guesses, and a member of another roster holding the same key could make
   * it file the two directions of one pair under different sessions (review13 R13-6).
   */
  readonly digest?: string;
}

/** Longest session id, party id or URL hint the relay reads (characters). */
const MAX_ADMISSION_FIELD = 256;
/** Longest base64 Ed25519 signature (characters). */
const MAX_SIGNATURE_CHARS = 128;
const ADMISSION_FIELDS = ['v', 'session', 'from', 'to', 'ts', 'nonce', 'sig', 'roster', 'url', 'digest'] as const;
/** A roster digest hint: 64 lower-case hex digits. */
export const ROSTER_DIGEST_HINT_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Parse an admission request's text: JSON, exactly the known fields, each of its type and size.
 * Session and party id syntax, the signature and the roster are checked by the relay.
 *
 * @throws {@link ProtocolError} (`FRAME_MALFORMED`) naming the field.
 */
export function parseAdmissionRequest(text: string): AdmissionRequest {
  return admissionFromRecord(parseRequestJson(text));
}

/** The JSON value of a request's text. @throws {@link ProtocolError} (`FRAME_MALFORMED`). */
function parseRequestJson(text: string): PlainData {
  try {
    return JSON.parse(text) as PlainData;
  } catch {
    throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'admission request: not JSON');
  }
}

/**
 * Parse the first text message of a connection: a channel admission ({@link AdmissionRequest}) or,
 * with `op: 'aggregate'`, an aggregation member's admission ({@link AggregateRequest}).
 * @throws {@link ProtocolError} (`FRAME_MALFORMED`) naming the field.
 */
export function parseRelayRequest(text: string): { readonly kind: 'channel'; readonly req: AdmissionRequest } | { readonly kind: 'aggregate'; readonly req: AggregateRequest } {
  const value = parseRequestJson(text);
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && (value as Record<string, PlainData>).op !== undefined) {
    return { kind: 'aggregate', req: parseAggregateRequest(value as Record<string, PlainData>, MAX_ADMISSION_BYTES) };
  }
  return { kind: 'channel', req: admissionFromRecord(value) };
}

function admissionFromRecord(value: PlainData): AdmissionRequest {
  const ctx = { what: 'admission request' };
  const r = expectRecord(value, ctx, ADMISSION_FIELDS);
  if (r.v !== 1) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'admission request: field "v" must be 1');
  const out: AdmissionRequest = {
    v: 1,
    session: expectString(r.session, 'session', ctx, MAX_ADMISSION_FIELD),
    from: expectString(r.from, 'from', ctx, MAX_ADMISSION_FIELD),
    to: expectString(r.to, 'to', ctx, MAX_ADMISSION_FIELD),
    ts: expectUint(r.ts, 'ts', ctx),
    nonce: expectString(r.nonce, 'nonce', ctx, 32, /^[0-9a-f]{32}$/),
    sig: expectString(r.sig, 'sig', ctx, MAX_SIGNATURE_CHARS),
    ...(r.roster === undefined ? {} : { roster: expectString(r.roster, 'roster', ctx, MAX_ADMISSION_BYTES) }),
    ...(r.url === undefined ? {} : { url: expectString(r.url, 'url', ctx, MAX_ADMISSION_FIELD) }),
    ...(r.digest === undefined ? {} : { digest: expectString(r.digest, 'digest', ctx, 64, ROSTER_DIGEST_HINT_PATTERN) }),
  };
  return out;
}

/** Normalise a relay URL for signing: lower-case scheme and host, no trailing slash, no path. */
export function normalizeRelayUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError('relay URL must start with ws:// or wss://');
  return `${u.protocol}//${u.host}`.toLowerCase();
}

/** The bytes a party signs to be admitted: bound to the relay, the session and the pair. */
export function admissionTranscript(relayUrl: string, r: Omit<AdmissionRequest, 'sig' | 'v' | 'roster' | 'url' | 'digest'>): Uint8Array {
  return new TextEncoder().encode(['coupler-relay/1 admission', normalizeRelayUrl(relayUrl), r.session, r.from, r.to, String(r.ts), r.nonce].join('\n'));
}
