/**
 * The channel handshake, as a linear script without I/O. Three messages, SIGMA-style:
 *
 * ```
 * initiator -> responder   hello  { v, suite, session, from, eph, nonce }
 * responder -> initiator   reply  { from, eph, nonce, sig = Sign(sk_R, "responder" || th) }
 * initiator -> responder   finish { sig = Sign(sk_I, "initiator" || th) }
 * ```
 *
 * `th` is the SHA-256 transcript hash over the suite, the session id, both party ids, both pinned
 * roster keys, both ephemeral X25519 keys and both nonces (each length-prefixed, domain separated).
 * Each side signs with a role label, so a signature cannot be reflected. The peer's long-term key
 * is never taken from the wire: it is looked up in the roster by the claimed id, so an unknown
 * party, a key substitution or a wrong session all fail. Keys: HKDF-SHA256(X25519(eph_I, eph_R),
 * salt = th, info = "coupler/1 keys") gives one 32-byte key per direction; the ephemeral secrets
 * are dropped after the handshake (forward secrecy).
 *
 * Either side may send an unauthenticated `refuse { reason }` before closing; it only improves the
 * other side's error message and is never trusted for anything else.
 *
 * @module
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { ErrorCode, HandshakeError, InvalidArgumentError, ProtocolError } from '../errors.js';
import { concatBytes } from '../crypto/bytes.js';
import type { Identity } from '../identity/identity.js';
import type { Roster } from '../identity/roster.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { decodeMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectBytes, expectLiteral, expectRecord, expectString, expectUint, type ShapeContext } from '../wire/shape.js';
import { SUITES, getSuite, type EphemeralKey, type Suite, type SuiteName } from './suite.js';

/** Wire protocol version of the handshake and frames. */
export const PROTOCOL_VERSION = 1;
/** Largest handshake message accepted, in bytes. */
export const MAX_HANDSHAKE_MESSAGE = 4096;
/** Session ids: 1 to 128 printable ASCII characters. */
export const SESSION_ID_PATTERN: RegExp = /^[\x21-\x7e]{1,128}$/;

const LABEL_TRANSCRIPT = 'coupler/1 handshake';
const LABEL_RESPONDER = 'coupler/1 responder signature';
const LABEL_INITIATOR = 'coupler/1 initiator signature';
const LABEL_KEYS = 'coupler/1 keys';
const LABEL_BIND = 'coupler/1 frame binding';

/** Reasons a side may give in a `refuse` message. */
export type RefuseReason = 'version' | 'suite' | 'session' | 'unknown-peer' | 'self' | 'auth' | 'duplicate' | 'order' | 'busy' | 'malformed';
const REFUSE_REASONS: readonly RefuseReason[] = ['version', 'suite', 'session', 'unknown-peer', 'self', 'auth', 'duplicate', 'order', 'busy', 'malformed'];

/** What both sides need to know before a handshake. */
export interface HandshakeConfig {
  readonly identity: Identity;
  /** This party's id in the roster. */
  readonly localId: string;
  readonly roster: Roster;
  readonly sessionId: string;
  readonly suite: SuiteName;
}

/** The result of a completed handshake. */
export interface HandshakeResult {
  /** The authenticated roster id of the peer. */
  readonly peerId: string;
  /** Key for frames this side sends. */
  readonly sendKey: Uint8Array;
  /** Key for frames this side receives. */
  readonly receiveKey: Uint8Array;
  /** Binding of the send direction (session, sender, receiver, transcript), authenticated in every frame. */
  readonly sendBinding: Uint8Array;
  /** Binding of the receive direction. */
  readonly receiveBinding: Uint8Array;
  /** The transcript hash: a unique id of this channel. */
  readonly transcript: Uint8Array;
}

/**
 * Validate a handshake configuration: the identity must be the roster's key for `localId`.
 * @throws {@link InvalidArgumentError}
 */
export function checkHandshakeConfig(cfg: HandshakeConfig): void {
  if (typeof cfg.sessionId !== 'string' || !SESSION_ID_PATTERN.test(cfg.sessionId)) {
    throw new InvalidArgumentError('"sessionId" must be 1 to 128 printable ASCII characters without spaces');
  }
  if (!SUITES.includes(cfg.suite)) throw new InvalidArgumentError(`"suite" must be one of ${SUITES.join(', ')}`);
  if (!cfg.roster.has(cfg.localId)) throw new InvalidArgumentError(`local party id "${cfg.localId}" is not in the roster`);
  if (!cfg.roster.verify(cfg.localId, cfg.identity.publicKey)) {
    throw new InvalidArgumentError(`the identity's public key is not the roster key of party "${cfg.localId}"`);
  }
}

function lp(bytes: Uint8Array): Uint8Array {
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, bytes.length);
  return concatBytes(len, bytes);
}

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

interface TranscriptParts {
  suite: string;
  session: string;
  initiatorId: string;
  responderId: string;
  initiatorKey: Uint8Array;
  responderKey: Uint8Array;
  initiatorEph: Uint8Array;
  responderEph: Uint8Array;
  initiatorNonce: Uint8Array;
  responderNonce: Uint8Array;
}

function transcriptHash(p: TranscriptParts): Uint8Array {
  const h = createHash('sha256');
  for (const part of [
    utf8(LABEL_TRANSCRIPT),
    utf8(p.suite),
    utf8(p.session),
    utf8(p.initiatorId),
    utf8(p.responderId),
    p.initiatorKey,
    p.responderKey,
    p.initiatorEph,
    p.responderEph,
    p.initiatorNonce,
    p.responderNonce,
  ]) {
    h.update(lp(part));
  }
  return new Uint8Array(h.digest());
}

function signed(label: string, th: Uint8Array): Uint8Array {
  return concatBytes(lp(utf8(label)), th);
}

function deriveKeys(shared: Uint8Array, th: Uint8Array, initiator: boolean): Omit<HandshakeResult, 'peerId'> {
  const okm = new Uint8Array(hkdfSync('sha256', shared, th, LABEL_KEYS, 64));
  shared.fill(0);
  const i2r = okm.slice(0, 32);
  const r2i = okm.slice(32, 64);
  okm.fill(0);
  const bind = (dir: string): Uint8Array => new Uint8Array(createHash('sha256').update(lp(utf8(LABEL_BIND))).update(lp(th)).update(dir).digest());
  const bI2R = bind('i2r');
  const bR2I = bind('r2i');
  return initiator
    ? { sendKey: i2r, receiveKey: r2i, sendBinding: bI2R, receiveBinding: bR2I, transcript: th }
    : { sendKey: r2i, receiveKey: i2r, sendBinding: bR2I, receiveBinding: bI2R, transcript: th };
}

/** Encode a `refuse` message. */
export function encodeRefuse(reason: RefuseReason): Uint8Array {
  return encodeMessage({ t: 'refuse', reason });
}

function parse(bytes: Uint8Array, ctx: ShapeContext, expectedType: string, allowed: readonly string[]): Record<string, PlainData> {
  const value = decodeMessage(bytes, MAX_HANDSHAKE_MESSAGE, ctx);
  const rec = expectRecord(value, ctx, [...allowed, 't', 'reason']);
  if (rec.t === 'refuse') {
    const reason = expectLiteral(rec.reason, 'reason', ctx, REFUSE_REASONS);
    throw refusedError(reason, ctx.peer);
  }
  if (rec.t !== expectedType) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `${ctx.what}: unexpected message type`, ctx);
  if (rec.reason !== undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `${ctx.what}: unexpected field "reason"`, ctx);
  return rec;
}

function refusedError(reason: RefuseReason, peer: string | undefined): HandshakeError {
  const text: Record<RefuseReason, string> = {
    version: 'peer refused the handshake: protocol version mismatch',
    suite: 'peer refused the handshake: cipher suite mismatch',
    session: 'peer refused the handshake: wrong session id',
    'unknown-peer': 'peer refused the handshake: our party id is not in its roster',
    self: 'peer refused the handshake: connected to itself',
    auth: 'peer refused the handshake: authentication failed',
    duplicate: 'peer refused the handshake: already connected',
    order: 'peer refused the handshake: the other side dials this pair',
    busy: 'peer refused the handshake: too many pending connections',
    malformed: 'peer refused the handshake: malformed message',
  };
  const code = reason === 'unknown-peer' ? ErrorCode.PEER_UNKNOWN : ErrorCode.HANDSHAKE_FAILED;
  const err = new HandshakeError(code, text[reason], peer === undefined ? {} : { peer });
  (err as { refuseReason?: RefuseReason }).refuseReason = reason;
  return err;
}

/** A handshake failure with the `refuse` reason to send to the other side, if any. */
export interface HandshakeFailure {
  readonly error: HandshakeError;
  readonly refuse?: RefuseReason;
}

function failure(code: typeof ErrorCode.HANDSHAKE_FAILED | typeof ErrorCode.PEER_UNKNOWN, message: string, refuse: RefuseReason, peer?: string): never {
  const err = new HandshakeError(code, message, peer === undefined ? {} : { peer });
  (err as { refuseReason?: RefuseReason }).refuseReason = refuse;
  throw err;
}

/**
 * Run a parser step; a malformed message (a {@link ProtocolError} from the codec or the shape
 * checks) becomes a {@link HandshakeError} `HANDSHAKE_FAILED` with the refuse reason `malformed`,
 * as documented for the handshake, keeping the original as `cause`.
 */
function asHandshakeError<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    const wrapped = new HandshakeError(ErrorCode.HANDSHAKE_FAILED, err.message, err.peer === undefined ? { cause: err } : { peer: err.peer, cause: err });
    (wrapped as { refuseReason?: RefuseReason }).refuseReason = 'malformed';
    throw wrapped;
  }
}

/** The refuse reason attached to a handshake error thrown by this module, if any. */
export function refuseReasonOf(err: unknown): RefuseReason | undefined {
  return (err as { refuseReason?: RefuseReason } | null)?.refuseReason;
}

/** Initiator side. Call {@link Initiator.hello}, send it, then {@link Initiator.onReply} with the answer. */
export class Initiator {
  readonly #cfg: HandshakeConfig;
  readonly #suite: Suite;
  readonly #expectedPeer: string | undefined;
  #eph: EphemeralKey | undefined;
  readonly #nonce = new Uint8Array(randomBytes(32));

  constructor(cfg: HandshakeConfig, expectedPeer?: string) {
    this.#cfg = cfg;
    this.#suite = getSuite(cfg.suite);
    this.#expectedPeer = expectedPeer;
  }

  /** The first message. */
  hello(): Uint8Array {
    this.#eph = this.#suite.ephemeral();
    return encodeMessage({
      t: 'hello',
      v: PROTOCOL_VERSION,
      suite: this.#cfg.suite,
      session: this.#cfg.sessionId,
      from: this.#cfg.localId,
      eph: this.#eph.publicKey,
      nonce: this.#nonce,
    });
  }

  /**
   * Process the responder's reply. Returns the finish message to send and the channel keys.
   * @throws {@link HandshakeError} naming the peer where known.
   */
  onReply(bytes: Uint8Array): { finish: Uint8Array; result: HandshakeResult } {
    return asHandshakeError(() => this.#onReply(bytes));
  }

  #onReply(bytes: Uint8Array): { finish: Uint8Array; result: HandshakeResult } {
    const eph = this.#eph;
    if (eph === undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'reply before hello');
    this.#eph = undefined;
    const peerHint = this.#expectedPeer;
    const ctx: ShapeContext = peerHint === undefined ? { what: 'handshake reply' } : { what: 'handshake reply', peer: peerHint };
    const rec = parse(bytes, ctx, 'reply', ['from', 'eph', 'nonce', 'sig']);
    const from = expectString(rec.from, 'from', ctx, 64, PARTY_ID_PATTERN);
    const c = { what: 'handshake reply', peer: from };
    const peerEph = expectBytes(rec.eph, 'eph', c, 32);
    const peerNonce = expectBytes(rec.nonce, 'nonce', c, 32);
    const sig = expectBytes(rec.sig, 'sig', c, 64);
    if (from === this.#cfg.localId) failure(ErrorCode.HANDSHAKE_FAILED, 'connected to itself', 'self', from);
    const entry = this.#cfg.roster.get(from);
    if (entry === undefined) failure(ErrorCode.PEER_UNKNOWN, `peer "${from}" is not in the roster`, 'unknown-peer', from);
    if (this.#expectedPeer !== undefined && from !== this.#expectedPeer) {
      failure(ErrorCode.HANDSHAKE_FAILED, `expected party "${this.#expectedPeer}" but "${from}" answered`, 'auth', from);
    }
    const th = transcriptHash({
      suite: this.#cfg.suite,
      session: this.#cfg.sessionId,
      initiatorId: this.#cfg.localId,
      responderId: from,
      initiatorKey: this.#cfg.identity.publicKey,
      responderKey: entry.publicKey,
      initiatorEph: eph.publicKey,
      responderEph: peerEph,
      initiatorNonce: this.#nonce,
      responderNonce: peerNonce,
    });
    if (!this.#suite.verify(signed(LABEL_RESPONDER, th), sig, entry.publicKey)) {
      failure(ErrorCode.HANDSHAKE_FAILED, `peer "${from}" failed to prove possession of its roster key`, 'auth', from);
    }
    const shared = this.#suite.dh(eph, peerEph);
    if (shared === undefined) failure(ErrorCode.HANDSHAKE_FAILED, `peer "${from}" sent an invalid ephemeral key`, 'auth', from);
    const finish = encodeMessage({ t: 'finish', sig: this.#suite.sign(signed(LABEL_INITIATOR, th), this.#cfg.identity.secretKey) });
    return { finish, result: { peerId: from, ...deriveKeys(shared, th, true) } };
  }
}

/** Responder side. Call {@link Responder.onHello}, send the reply, then {@link Responder.onFinish}. */
export class Responder {
  readonly #cfg: HandshakeConfig;
  readonly #suite: Suite;
  #pending: { th: Uint8Array; shared: Uint8Array; peerId: string; peerKey: Uint8Array } | undefined;

  constructor(cfg: HandshakeConfig) {
    this.#cfg = cfg;
    this.#suite = getSuite(cfg.suite);
  }

  /**
   * Process the initiator's hello. Returns the reply and the claimed (not yet proven) peer id.
   * @throws {@link HandshakeError}; {@link refuseReasonOf} gives the reason to send back.
   */
  onHello(bytes: Uint8Array): { reply: Uint8Array; claimedPeer: string } {
    return asHandshakeError(() => this.#onHello(bytes));
  }

  #onHello(bytes: Uint8Array): { reply: Uint8Array; claimedPeer: string } {
    const ctx: ShapeContext = { what: 'handshake hello' };
    const rec = parse(bytes, ctx, 'hello', ['v', 'suite', 'session', 'from', 'eph', 'nonce']);
    const v = expectUint(rec.v, 'v', ctx, 255);
    if (v !== PROTOCOL_VERSION) failure(ErrorCode.HANDSHAKE_FAILED, `unsupported protocol version ${v}`, 'version');
    const from = expectString(rec.from, 'from', ctx, 64, PARTY_ID_PATTERN);
    const c = { what: 'handshake hello', peer: from };
    const suite = expectString(rec.suite, 'suite', c, 32);
    const session = expectString(rec.session, 'session', c, 128);
    const peerEph = expectBytes(rec.eph, 'eph', c, 32);
    const peerNonce = expectBytes(rec.nonce, 'nonce', c, 32);
    if (suite !== this.#cfg.suite) failure(ErrorCode.HANDSHAKE_FAILED, `peer "${from}" uses another cipher suite`, 'suite', from);
    if (session !== this.#cfg.sessionId) failure(ErrorCode.HANDSHAKE_FAILED, `peer "${from}" is in another session`, 'session', from);
    if (from === this.#cfg.localId) failure(ErrorCode.HANDSHAKE_FAILED, 'connected to itself', 'self', from);
    const entry = this.#cfg.roster.get(from);
    if (entry === undefined) failure(ErrorCode.PEER_UNKNOWN, `peer "${from}" is not in the roster`, 'unknown-peer', from);
    const eph = this.#suite.ephemeral();
    const nonce = new Uint8Array(randomBytes(32));
    const th = transcriptHash({
      suite,
      session,
      initiatorId: from,
      responderId: this.#cfg.localId,
      initiatorKey: entry.publicKey,
      responderKey: this.#cfg.identity.publicKey,
      initiatorEph: peerEph,
      responderEph: eph.publicKey,
      initiatorNonce: peerNonce,
      responderNonce: nonce,
    });
    const shared = this.#suite.dh(eph, peerEph);
    if (shared === undefined) failure(ErrorCode.HANDSHAKE_FAILED, `peer "${from}" sent an invalid ephemeral key`, 'auth', from);
    this.#pending = { th, shared, peerId: from, peerKey: entry.publicKey };
    const sig = this.#suite.sign(signed(LABEL_RESPONDER, th), this.#cfg.identity.secretKey);
    return { reply: encodeMessage({ t: 'reply', from: this.#cfg.localId, eph: eph.publicKey, nonce, sig }), claimedPeer: from };
  }

  /**
   * Process the initiator's finish: verifies its signature against the roster key.
   * @throws {@link HandshakeError} naming the peer.
   */
  onFinish(bytes: Uint8Array): HandshakeResult {
    return asHandshakeError(() => this.#onFinish(bytes));
  }

  #onFinish(bytes: Uint8Array): HandshakeResult {
    const p = this.#pending;
    if (p === undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'finish before hello');
    this.#pending = undefined;
    const ctx: ShapeContext = { what: 'handshake finish', peer: p.peerId };
    const rec = parse(bytes, ctx, 'finish', ['sig']);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    if (!this.#suite.verify(signed(LABEL_INITIATOR, p.th), sig, p.peerKey)) {
      p.shared.fill(0);
      failure(ErrorCode.HANDSHAKE_FAILED, `peer "${p.peerId}" failed to prove possession of its roster key`, 'auth', p.peerId);
    }
    return { peerId: p.peerId, ...deriveKeys(p.shared, p.th, false) };
  }
}
