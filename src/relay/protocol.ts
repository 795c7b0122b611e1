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
import { CouplerError, ErrorCode } from '../errors.js';

/** WebSocket subprotocol of the relay. */
export const RELAY_SUBPROTOCOL = 'coupler-relay.1';
/** URL path of the relay endpoint. */
export const RELAY_PATH = '/coupler-relay/1';
/** Largest admission request the relay reads (bytes; it may carry the roster of a roster-bound session). */
export const MAX_ADMISSION_BYTES = 192 * 1024;
/** How far an admission timestamp may be from the relay's clock (ms). */
export const ADMISSION_SKEW_MS = 5 * 60_000;

/** Why the relay refused a connection (stable strings, carried by {@link RelayError}). */
export type RelayRefuseReason =
  | 'malformed'
  | 'not-in-roster'
  | 'bad-signature'
  | 'stale'
  | 'session-roster'
  | 'roster-digest'
  | 'duplicate'
  | 'session-limit'
  | 'source-limit'
  | 'relay-full'
  | 'bytes-limit'
  | 'pair-timeout';

/** Every {@link RelayRefuseReason}. */
export const RELAY_REFUSE_REASONS: readonly RelayRefuseReason[] = [
  'malformed',
  'not-in-roster',
  'bad-signature',
  'stale',
  'session-roster',
  'roster-digest',
  'duplicate',
  'session-limit',
  'source-limit',
  'relay-full',
  'bytes-limit',
  'pair-timeout',
];

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
}

/** Normalise a relay URL for signing: lower-case scheme and host, no trailing slash, no path. */
export function normalizeRelayUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError('relay URL must start with ws:// or wss://');
  return `${u.protocol}//${u.host}`.toLowerCase();
}

/** The bytes a party signs to be admitted: bound to the relay, the session and the pair. */
export function admissionTranscript(relayUrl: string, r: Omit<AdmissionRequest, 'sig' | 'v'>): Uint8Array {
  return new TextEncoder().encode(['coupler-relay/1 admission', normalizeRelayUrl(relayUrl), r.session, r.from, r.to, String(r.ts), r.nonce].join('\n'));
}
