/**
 * The channel handshake, as a linear script without I/O (the driver in `driver.ts` runs it over a
 * connection). Four messages, SIGMA-I style with identity hiding:
 *
 * ```
 * initiator -> responder   hello  { t, v, suite, eph_I, nonce_I, st }
 * responder -> initiator   reply  { t, eph_R, nonce_R, box = AEAD(k_R, {from: R, sig_R}) }
 * initiator -> responder   finish { t, box = AEAD(k_I, {from: I, sig_I}) }
 * responder -> initiator   ok     { t, mac = HMAC(k_C, th) }
 * ```
 *
 * - `h1` = SHA-256 over the suite, the session id, both ephemeral X25519 keys and both nonces
 *   (each length-prefixed, domain separated): the anonymous part of the transcript.
 *   `k_R`, `k_I`, `k_C` = HKDF-SHA256(X25519(eph_I, eph_R), salt = h1, one label each).
 * - The responder signs `th_R` = SHA-256(h1, its id, its roster key); the initiator checks it against
 *   the roster key of the id inside the box before it reveals anything about itself.
 * - The initiator signs `th` = SHA-256(h1, both ids, both roster keys) — the full transcript, which
 *   also salts the channel keys: HKDF(X25519 secret, salt = th, "coupler/1 keys") gives one key per
 *   direction, so a responder that believes it talks to someone else derives other keys.
 * - `ok` confirms the keys and says the responder kept the connection (its accept policy ran after
 *   `finish`). Only then does the initiator hand out a channel: a connection refused after `finish`
 *   (the pair is already connected, say) never looks like a working channel to either side.
 * - `st` = HMAC-SHA256(SHA-256(label, session id), eph_I ‖ nonce_I), 16 bytes: lets the responder
 *   refuse a hello for another session (a stale container) before any public-key work, without the
 *   session id on the wire.
 *
 * Nothing identifies a party or a session in cleartext: an eavesdropper sees ephemeral keys,
 * nonces, a session tag it cannot link across connections, and ciphertext. An active attacker who
 * knows the session id learns the responder's id (it must answer someone); the initiator's id is
 * revealed only to a responder that proved a roster key (as in Noise XX). The peer's long-term key
 * is never taken from the wire: it is looked up in the roster by the id inside the box, so an
 * unknown party, a key substitution or a wrong session all fail. The ephemeral secrets and every
 * handshake key are dropped after the handshake (forward secrecy).
 *
 * Either side may send an unauthenticated `refuse { reason }` instead of its next message; it only
 * improves the other side's error message and is never trusted for anything else.
 *
 * @module
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, HandshakeError, InvalidArgumentError, ProtocolError } from '../errors.js';
import { concatBytes } from '../crypto/bytes.js';
import type { Identity } from '../identity/identity.js';
import type { Roster } from '../identity/roster.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { decodeMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectBytes, expectLiteral, expectRecord, expectString, expectUint, type ShapeContext } from '../wire/shape.js';
import { SUITES, getSuite, type EphemeralKey, type Suite, type SuiteName } from './suite.js';

/** Wire protocol version of the handshake and frames (2: identity hiding and key confirmation). */
export const PROTOCOL_VERSION = 2;
/** Largest handshake message accepted, in bytes. */
export const MAX_HANDSHAKE_MESSAGE = 4096;
/** Session ids: 1 to 128 printable ASCII characters. */
export const SESSION_ID_PATTERN: RegExp = /^[\x21-\x7e]{1,128}$/;
/** Bytes of the session tag in a hello. */
export const SESSION_TAG_BYTES = 16;

const LABEL_ANON = 'coupler/2 handshake';
const LABEL_TRANSCRIPT = 'coupler/2 transcript';
const LABEL_RESPONDER_TH = 'coupler/2 responder';
const LABEL_RESPONDER = 'coupler/2 responder signature';
const LABEL_INITIATOR = 'coupler/2 initiator signature';
const LABEL_BOX_R = 'coupler/2 responder box';
const LABEL_BOX_I = 'coupler/2 initiator box';
const LABEL_CONFIRM = 'coupler/2 confirm';
const LABEL_SESSION_TAG = 'coupler/2 session tag';
const LABEL_KEYS = 'coupler/1 keys';
const LABEL_BIND = 'coupler/1 frame binding';
const LABEL_EXPORTER = 'coupler/1 exporter';
/** Every handshake box is sealed once under its own key: a fixed nonce is safe. */
const BOX_NONCE = new Uint8Array(12);

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
  /**
   * A secret both ends of this channel hold and nobody else (derived from the ephemeral key
   * exchange and the transcript, independent of the frame keys): the root of the pair's
   * per-run secrets (see `PeerLink.pairwiseSeed`).
   */
  readonly exporter: Uint8Array;
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

function hashParts(label: string, parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  h.update(lp(utf8(label)));
  for (const p of parts) h.update(lp(p));
  return new Uint8Array(h.digest());
}

/** The anonymous part of the transcript: suite, session, ephemeral keys, nonces. */
function anonHash(suite: string, session: string, ephI: Uint8Array, ephR: Uint8Array, nonceI: Uint8Array, nonceR: Uint8Array): Uint8Array {
  return hashParts(LABEL_ANON, [utf8(suite), utf8(session), ephI, ephR, nonceI, nonceR]);
}

function responderHash(h1: Uint8Array, id: string, key: Uint8Array): Uint8Array {
  return hashParts(LABEL_RESPONDER_TH, [h1, utf8(id), key]);
}

function fullTranscript(h1: Uint8Array, initiatorId: string, responderId: string, initiatorKey: Uint8Array, responderKey: Uint8Array): Uint8Array {
  return hashParts(LABEL_TRANSCRIPT, [h1, utf8(initiatorId), utf8(responderId), initiatorKey, responderKey]);
}

function signed(label: string, th: Uint8Array): Uint8Array {
  return concatBytes(lp(utf8(label)), th);
}

/** The session tag of a hello: proves knowledge of the session id without revealing it. */
export function sessionTag(sessionId: string, eph: Uint8Array, nonce: Uint8Array): Uint8Array {
  const key = createHash('sha256').update(lp(utf8(LABEL_SESSION_TAG))).update(utf8(sessionId)).digest();
  return new Uint8Array(createHmac('sha256', key).update(eph).update(nonce).digest().subarray(0, SESSION_TAG_BYTES));
}

interface HandshakeKeys {
  boxR: Uint8Array;
  boxI: Uint8Array;
  confirm: Uint8Array;
}

function handshakeKeys(shared: Uint8Array, h1: Uint8Array): HandshakeKeys {
  const k = (label: string): Uint8Array => new Uint8Array(hkdfSync('sha256', shared, h1, label, 32));
  return { boxR: k(LABEL_BOX_R), boxI: k(LABEL_BOX_I), confirm: k(LABEL_CONFIRM) };
}

function wipeKeys(k: HandshakeKeys): void {
  k.boxR.fill(0);
  k.boxI.fill(0);
  k.confirm.fill(0);
}

function confirmMac(key: Uint8Array, th: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(th).digest());
}

function deriveKeys(shared: Uint8Array, th: Uint8Array, initiator: boolean): Omit<HandshakeResult, 'peerId'> {
  const okm = new Uint8Array(hkdfSync('sha256', shared, th, LABEL_KEYS, 64));
  const exporter = new Uint8Array(hkdfSync('sha256', shared, th, LABEL_EXPORTER, 32));
  shared.fill(0);
  const i2r = okm.slice(0, 32);
  const r2i = okm.slice(32, 64);
  okm.fill(0);
  const bind = (dir: string): Uint8Array => new Uint8Array(createHash('sha256').update(lp(utf8(LABEL_BIND))).update(lp(th)).update(dir).digest());
  const bI2R = bind('i2r');
  const bR2I = bind('r2i');
  return initiator
    ? { sendKey: i2r, receiveKey: r2i, sendBinding: bI2R, receiveBinding: bR2I, transcript: th, exporter }
    : { sendKey: r2i, receiveKey: i2r, sendBinding: bR2I, receiveBinding: bI2R, transcript: th, exporter };
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
    order: 'peer refused the handshake: its own connection to us takes precedence',
    busy: 'peer refused the handshake: too many pending connections',
    malformed: 'peer refused the handshake: malformed message',
  };
  const code = reason === 'unknown-peer' ? ErrorCode.PEER_UNKNOWN : ErrorCode.HANDSHAKE_FAILED;
  const err = withReason(new HandshakeError(code, text[reason], peer === undefined ? {} : { peer }), reason);
  (err as { refusedByPeer?: boolean }).refusedByPeer = true;
  return err;
}

/** Whether a handshake error is the other side's `refuse` (which needs no refusal in return). */
export function isRefusedByPeer(err: unknown): boolean {
  return (err as { refusedByPeer?: boolean } | null)?.refusedByPeer === true;
}

function withReason(err: HandshakeError, reason: RefuseReason): HandshakeError {
  (err as { refuseReason?: RefuseReason }).refuseReason = reason;
  return err;
}

function failure(code: typeof ErrorCode.HANDSHAKE_FAILED | typeof ErrorCode.PEER_UNKNOWN, message: string, refuse: RefuseReason, peer?: string): never {
  throw withReason(new HandshakeError(code, message, peer === undefined ? {} : { peer }), refuse);
}

/**
 * A handshake error carrying the reason to send back in a `refuse` message (and to report): for
 * accept policies and transports that refuse a handshake that did not fail cryptographically.
 */
export function refusal(reason: RefuseReason, message: string, peer?: string): HandshakeError {
  const code = reason === 'unknown-peer' ? ErrorCode.PEER_UNKNOWN : ErrorCode.HANDSHAKE_FAILED;
  return withReason(new HandshakeError(code, message, peer === undefined ? {} : { peer }), reason);
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
    throw withReason(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, err.message, err.peer === undefined ? { cause: err } : { peer: err.peer, cause: err }), 'malformed');
  }
}

/** The refuse reason attached to a handshake error thrown by this module, if any. */
export function refuseReasonOf(err: unknown): RefuseReason | undefined {
  return (err as { refuseReason?: RefuseReason } | null)?.refuseReason;
}

/** Open a handshake box and parse `{from, sig}`; undefined content means a forged or corrupt box. */
function openBox(suite: Suite, key: Uint8Array, aad: Uint8Array, box: Uint8Array, ctx: ShapeContext, refuse: RefuseReason): { from: string; sig: Uint8Array } {
  const plain = suite.open(key, BOX_NONCE, aad, box);
  if (plain === undefined) failure(ErrorCode.HANDSHAKE_FAILED, `${ctx.what}: the sealed identity failed authentication`, refuse, ctx.peer);
  const rec = expectRecord(decodeMessage(plain, MAX_HANDSHAKE_MESSAGE, ctx), ctx, ['from', 'sig']);
  const from = expectString(rec.from, 'from', ctx, 64, PARTY_ID_PATTERN);
  const sig = expectBytes(rec.sig, 'sig', ctx, 64);
  return { from, sig };
}

/**
 * Initiator side: {@link Initiator.hello}, then {@link Initiator.onReply} with the answer (it returns
 * the finish message and the proven responder), then {@link Initiator.onOk} with the confirmation.
 */
export class Initiator {
  readonly #cfg: HandshakeConfig;
  readonly #suite: Suite;
  readonly #expectedPeer: string | undefined;
  #eph: EphemeralKey | undefined;
  readonly #nonce = new Uint8Array(randomBytes(32));
  #pending: { th: Uint8Array; shared: Uint8Array; peerId: string; confirm: Uint8Array } | undefined;

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
      eph: this.#eph.publicKey,
      nonce: this.#nonce,
      st: sessionTag(this.#cfg.sessionId, this.#eph.publicKey, this.#nonce),
    });
  }

  /**
   * Process the responder's reply: returns the finish message to send and the proven responder id.
   * @throws {@link HandshakeError} naming the peer where known.
   */
  onReply(bytes: Uint8Array): { finish: Uint8Array; peerId: string } {
    return asHandshakeError(() => this.#onReply(bytes));
  }

  #onReply(bytes: Uint8Array): { finish: Uint8Array; peerId: string } {
    const eph = this.#eph;
    if (eph === undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'reply before hello');
    this.#eph = undefined;
    const hint = this.#expectedPeer;
    const ctx: ShapeContext = hint === undefined ? { what: 'handshake reply' } : { what: 'handshake reply', peer: hint };
    const rec = parse(bytes, ctx, 'reply', ['eph', 'nonce', 'box']);
    const peerEph = expectBytes(rec.eph, 'eph', ctx, 32);
    const peerNonce = expectBytes(rec.nonce, 'nonce', ctx, 32);
    const box = expectBytes(rec.box, 'box', ctx, undefined, 256);
    const shared = this.#suite.dh(eph, peerEph);
    if (shared === undefined) failure(ErrorCode.HANDSHAKE_FAILED, 'the responder sent an invalid ephemeral key', 'auth', hint);
    const h1 = anonHash(this.#cfg.suite, this.#cfg.sessionId, eph.publicKey, peerEph, this.#nonce, peerNonce);
    const keys = handshakeKeys(shared, h1);
    try {
      const { from, sig } = openBox(this.#suite, keys.boxR, h1, box, ctx, 'auth');
      if (from === this.#cfg.localId) failure(ErrorCode.HANDSHAKE_FAILED, 'connected to itself', 'self', from);
      const entry = this.#cfg.roster.get(from);
      if (entry === undefined) failure(ErrorCode.PEER_UNKNOWN, `peer "${from}" is not in the roster`, 'unknown-peer', from);
      // The id in the box is only a claim until its signature verifies: an error names it (as
      // `peer`) only once proven — an impostor must not be reported as the party it claims to be.
      if (!this.#suite.verify(signed(LABEL_RESPONDER, responderHash(h1, from, entry.publicKey)), sig, entry.publicKey)) {
        failure(ErrorCode.HANDSHAKE_FAILED, `a responder claiming to be "${from}" failed to prove possession of its roster key`, 'auth', hint);
      }
      if (hint !== undefined && from !== hint) failure(ErrorCode.HANDSHAKE_FAILED, `expected party "${hint}" but "${from}" answered`, 'auth', from);
      const th = fullTranscript(h1, this.#cfg.localId, from, this.#cfg.identity.publicKey, entry.publicKey);
      const mySig = this.#suite.sign(signed(LABEL_INITIATOR, th), this.#cfg.identity.secretKey);
      const myBox = this.#suite.seal(keys.boxI, BOX_NONCE, h1, encodeMessage({ from: this.#cfg.localId, sig: mySig }));
      this.#pending = { th, shared, peerId: from, confirm: keys.confirm.slice() };
      return { finish: encodeMessage({ t: 'finish', box: myBox }), peerId: from };
    } catch (err) {
      shared.fill(0);
      throw err;
    } finally {
      wipeKeys(keys);
    }
  }

  /**
   * Process the responder's confirmation: returns the channel keys.
   * @throws {@link HandshakeError} naming the peer (a refusal after finish carries its reason).
   */
  onOk(bytes: Uint8Array): HandshakeResult {
    return asHandshakeError(() => this.#onOk(bytes));
  }

  #onOk(bytes: Uint8Array): HandshakeResult {
    const p = this.#pending;
    if (p === undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'confirmation before reply');
    this.#pending = undefined;
    const ctx: ShapeContext = { what: 'handshake confirmation', peer: p.peerId };
    try {
      const rec = parse(bytes, ctx, 'ok', ['mac']);
      const mac = expectBytes(rec.mac, 'mac', ctx, 32);
      const want = confirmMac(p.confirm, p.th);
      if (mac.length !== 32 || !timingSafeEqual(mac, want)) failure(ErrorCode.HANDSHAKE_FAILED, `peer "${p.peerId}" sent a confirmation that does not match the keys`, 'auth', p.peerId);
      return { peerId: p.peerId, ...deriveKeys(p.shared, p.th, true) };
    } catch (err) {
      p.shared.fill(0);
      throw err;
    } finally {
      p.confirm.fill(0);
    }
  }

  /** Drop any secret held for a handshake that will not complete. */
  dispose(): void {
    this.#eph = undefined;
    this.#pending?.shared.fill(0);
    this.#pending?.confirm.fill(0);
    this.#pending = undefined;
  }
}

/** Hellos a {@link HelloReplayGuard} remembers by default. */
export const HELLO_REPLAY_MEMORY = 4096;

/**
 * The hellos one listener has answered, by session tag: a hello is never sent twice (every
 * {@link Initiator.hello} draws a fresh ephemeral key and nonce), so a second one with the same tag
 * is a replay — an eavesdropper who captured a hello of this session. It is refused before the
 * responder's public-key work (a key pair, an X25519, a signature), which the session tag alone
 * cannot stop: a captured hello carries a valid tag. Remembers the last `capacity` tags (only
 * hellos that passed the tag check are recorded, so only this session's real hellos fill it).
 */
export class HelloReplayGuard {
  readonly #seen = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = HELLO_REPLAY_MEMORY) {
    this.#capacity = capacity;
  }

  /** Record `tag`; false if it was seen before (a replay). */
  admit(tag: Uint8Array): boolean {
    const key = Buffer.from(tag).toString('base64');
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    if (this.#seen.size > this.#capacity) this.#seen.delete(this.#seen.values().next().value as string);
    return true;
  }
}

/**
 * Responder side: {@link Responder.onHello} (returns the reply), then {@link Responder.onFinish}
 * (returns the proven initiator), then — if its accept policy keeps the connection —
 * {@link Responder.accept} (returns the confirmation to send and the channel keys).
 */
export class Responder {
  readonly #cfg: HandshakeConfig;
  readonly #suite: Suite;
  #pending: { h1: Uint8Array; shared: Uint8Array; keys: HandshakeKeys } | undefined;
  #proven: { th: Uint8Array; shared: Uint8Array; peerId: string; confirm: Uint8Array } | undefined;

  readonly #replays: HelloReplayGuard | undefined;

  /** @param replays - the listener's memory of answered hellos (see {@link HelloReplayGuard}). */
  constructor(cfg: HandshakeConfig, replays?: HelloReplayGuard) {
    this.#cfg = cfg;
    this.#suite = getSuite(cfg.suite);
    this.#replays = replays;
  }

  /**
   * Process the initiator's hello. Returns the reply (which carries this party's sealed identity).
   * @throws {@link HandshakeError}; {@link refuseReasonOf} gives the reason to send back.
   */
  onHello(bytes: Uint8Array): { reply: Uint8Array } {
    return asHandshakeError(() => this.#onHello(bytes));
  }

  #onHello(bytes: Uint8Array): { reply: Uint8Array } {
    const ctx: ShapeContext = { what: 'handshake hello' };
    const rec = parse(bytes, ctx, 'hello', ['v', 'suite', 'eph', 'nonce', 'st']);
    const v = expectUint(rec.v, 'v', ctx, 255);
    if (v !== PROTOCOL_VERSION) failure(ErrorCode.HANDSHAKE_FAILED, `unsupported protocol version ${v}`, 'version');
    const suite = expectString(rec.suite, 'suite', ctx, 32);
    const peerEph = expectBytes(rec.eph, 'eph', ctx, 32);
    const peerNonce = expectBytes(rec.nonce, 'nonce', ctx, 32);
    const st = expectBytes(rec.st, 'st', ctx, SESSION_TAG_BYTES);
    if (suite !== this.#cfg.suite) failure(ErrorCode.HANDSHAKE_FAILED, 'the initiator uses another cipher suite', 'suite');
    if (peerEph.length !== 32 || peerNonce.length !== 32 || st.length !== SESSION_TAG_BYTES) failure(ErrorCode.HANDSHAKE_FAILED, 'handshake hello: a field has the wrong length', 'malformed');
    if (!timingSafeEqual(st, sessionTag(this.#cfg.sessionId, peerEph, peerNonce))) failure(ErrorCode.HANDSHAKE_FAILED, 'the initiator is in another session', 'session');
    if (this.#replays !== undefined && !this.#replays.admit(st)) failure(ErrorCode.HANDSHAKE_FAILED, 'a hello this listener answered before (a replay)', 'auth');
    const eph = this.#suite.ephemeral();
    const shared = this.#suite.dh(eph, peerEph);
    if (shared === undefined) failure(ErrorCode.HANDSHAKE_FAILED, 'the initiator sent an invalid ephemeral key', 'auth');
    const nonce = new Uint8Array(randomBytes(32));
    const h1 = anonHash(suite, this.#cfg.sessionId, peerEph, eph.publicKey, peerNonce, nonce);
    const keys = handshakeKeys(shared, h1);
    const sig = this.#suite.sign(signed(LABEL_RESPONDER, responderHash(h1, this.#cfg.localId, this.#cfg.identity.publicKey)), this.#cfg.identity.secretKey);
    const box = this.#suite.seal(keys.boxR, BOX_NONCE, h1, encodeMessage({ from: this.#cfg.localId, sig }));
    this.#pending = { h1, shared, keys };
    return { reply: encodeMessage({ t: 'reply', eph: eph.publicKey, nonce, box }) };
  }

  /**
   * Process the initiator's finish: opens its sealed identity and verifies its signature against the
   * roster key. The connection is not confirmed yet: call {@link Responder.accept} to keep it.
   * @throws {@link HandshakeError} naming the peer where known.
   */
  onFinish(bytes: Uint8Array): { peerId: string } {
    return asHandshakeError(() => this.#onFinish(bytes));
  }

  #onFinish(bytes: Uint8Array): { peerId: string } {
    const p = this.#pending;
    if (p === undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'finish before hello');
    this.#pending = undefined;
    try {
      const ctx: ShapeContext = { what: 'handshake finish' };
      const rec = parse(bytes, ctx, 'finish', ['box']);
      const box = expectBytes(rec.box, 'box', ctx, undefined, 256);
      const { from, sig } = openBox(this.#suite, p.keys.boxI, p.h1, box, ctx, 'auth');
      if (from === this.#cfg.localId) failure(ErrorCode.HANDSHAKE_FAILED, 'connected to itself', 'self', from);
      const entry = this.#cfg.roster.get(from);
      if (entry === undefined) failure(ErrorCode.PEER_UNKNOWN, `peer "${from}" is not in the roster`, 'unknown-peer', from);
      const th = fullTranscript(p.h1, from, this.#cfg.localId, entry.publicKey, this.#cfg.identity.publicKey);
      if (!this.#suite.verify(signed(LABEL_INITIATOR, th), sig, entry.publicKey)) {
        failure(ErrorCode.HANDSHAKE_FAILED, `an initiator claiming to be "${from}" failed to prove possession of its roster key`, 'auth');
      }
      this.#proven = { th, shared: p.shared, peerId: from, confirm: p.keys.confirm.slice() };
      return { peerId: from };
    } catch (err) {
      p.shared.fill(0);
      throw err;
    } finally {
      wipeKeys(p.keys);
    }
  }

  /**
   * Keep the connection: returns the confirmation to send (`ok`) and the channel keys.
   * @throws {@link HandshakeError} if called before a successful {@link Responder.onFinish}.
   */
  accept(): { ok: Uint8Array; result: HandshakeResult } {
    const p = this.#proven;
    if (p === undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'accept before finish');
    this.#proven = undefined;
    const ok = encodeMessage({ t: 'ok', mac: confirmMac(p.confirm, p.th) });
    p.confirm.fill(0);
    return { ok, result: { peerId: p.peerId, ...deriveKeys(p.shared, p.th, false) } };
  }

  /** Drop any secret held for a handshake that will not complete. */
  dispose(): void {
    if (this.#pending) {
      this.#pending.shared.fill(0);
      wipeKeys(this.#pending.keys);
    }
    this.#pending = undefined;
    this.#proven?.shared.fill(0);
    this.#proven?.confirm.fill(0);
    this.#proven = undefined;
  }
}

