/**
 * The party side of the relay: dial out to a relay, get admitted and paired with one peer, then run
 * the ordinary channel handshake end to end over the relayed WebSocket and hand out a
 * {@link SecureChannel}, exactly as a direct connection would. The relay sees ciphertext only.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBase64 } from '../crypto/bytes.js';
import { ed25519Sign } from '../crypto/ed25519.js';
import { AbortedError, CouplerError, ErrorCode, HandshakeError, InvalidArgumentError } from '../errors.js';
import { assertIdentity, isValidPartyId } from '../identity/identity.js';
import { Roster, compareIds, rosterDigest, sessionRosterDigest } from '../identity/roster.js';
import { MAX_TIMER_MS, SecureChannel, isAbortSignal, maxFrameBytes, resolveLimits } from '../channel/channel.js';
import { Initiator, MAX_HANDSHAKE_MESSAGE, Responder, checkHandshakeConfig, type HandshakeConfig } from '../channel/handshake.js';
import { getSuite } from '../channel/suite.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, type ChannelOptions } from '../channel/transport.js';
import { dialRelay } from './dial.js';
import { RELAY_REFUSE_REASONS, RelayError, admissionTranscript, normalizeRelayUrl, type RelayRefuseReason } from './protocol.js';

/** Default wait for the peer to show up at the relay: 120 s. */
export const DEFAULT_PAIR_TIMEOUT_MS = 120_000;

/** Options of {@link relayChannel}. */
export interface RelayChannelOptions extends ChannelOptions {
  /** Run the handshake as initiator. Default: this party's id sorts before the peer's (the group's tie-break). */
  readonly initiator?: boolean;
  /** How long to wait for the peer to reach the relay (ms). Default {@link DEFAULT_PAIR_TIMEOUT_MS}. */
  readonly pairTimeoutMs?: number;
  /** Aborts with {@link AbortedError}. */
  readonly signal?: AbortSignal;
}

type Item = { kind: 'bin'; data: Uint8Array } | { kind: 'text'; text: string };

/** Ordered queue of a WebSocket's messages with one waiter and a sticky error. */
class Pump {
  readonly #ws: WebSocket;
  readonly #items: Item[] = [];
  #bytes = 0;
  readonly #cap: number;
  #waiter: { resolve: (i: Item) => void; reject: (e: CouplerError) => void } | undefined;
  #error: CouplerError | undefined;
  #onFail: ((e: CouplerError) => void) | undefined;
  /** Rejects with the first failure (connection error, close, refusal). */
  readonly failed: Promise<never> = new Promise<never>((_resolve, reject) => (this.#onFail = reject));
  closeInfo: { code: number; reason: string } | undefined;
  readonly #onMessage = (data: Buffer, isBinary: boolean): void => {
    const item: Item = isBinary ? { kind: 'bin', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) } : { kind: 'text', text: data.toString('utf8') };
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve(item);
      return;
    }
    this.#bytes += data.length;
    if (this.#bytes > this.#cap) {
      this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'too much data before the handshake completed', { peer: this.peer }));
      return;
    }
    this.#items.push(item);
  };
  readonly #onClose = (code: number, reason: Buffer): void => {
    this.closeInfo = { code, reason: reason.toString('utf8') };
    const r = this.closeInfo.reason as RelayRefuseReason;
    if (code === 4403 && RELAY_REFUSE_REASONS.includes(r)) this.fail(new RelayError(r, `relay refused the connection to "${this.peer}" (${r})`, { peer: this.peer }));
    else this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `relayed connection to "${this.peer}" closed before the handshake completed`, { peer: this.peer }));
  };
  readonly #onError = (err: Error): void =>
    this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `cannot reach the relay (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { peer: this.peer, cause: err }));

  constructor(ws: WebSocket, cap: number, readonly peer: string) {
    this.#ws = ws;
    this.#cap = cap;
    this.failed.catch(() => undefined);
    ws.on('message', this.#onMessage);
    ws.on('close', this.#onClose);
    ws.on('error', this.#onError);
  }

  next(): Promise<Item> {
    if (this.#error) return Promise.reject(this.#error);
    const i = this.#items.shift();
    if (i !== undefined) {
      this.#bytes -= i.kind === 'bin' ? i.data.length : i.text.length;
      return Promise.resolve(i);
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  async nextBinary(): Promise<Uint8Array> {
    const i = await this.next();
    if (i.kind !== 'bin' || i.data.length > MAX_HANDSHAKE_MESSAGE * 2) {
      throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed handshake message', { peer: this.peer });
    }
    return i.data;
  }

  fail(err: CouplerError): void {
    if (this.#error) return;
    this.#error = err;
    this.#onFail?.(err);
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }

  /** Detach; return binary messages that arrived after the handshake (channel frames). */
  detach(): Uint8Array[] {
    this.#ws.off('message', this.#onMessage);
    this.#ws.off('close', this.#onClose);
    this.#ws.off('error', this.#onError);
    const out: Uint8Array[] = [];
    for (const i of this.#items.splice(0)) {
      if (i.kind !== 'bin') throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'relay sent a control message after pairing', { peer: this.peer });
      out.push(i.data);
    }
    return out;
  }
}

function deadline<T>(work: Promise<T>, ms: () => number, onTimeout: () => CouplerError, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer = setTimeout(() => reject(onTimeout()), Math.min(ms(), MAX_TIMER_MS));
    };
    arm();
    const onAbort = (): void => reject(new AbortedError('relayed connection aborted'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    });
  });
}

/**
 * Open a channel to `peer` through a relay: admission, pairing, then the end-to-end handshake.
 *
 * @param relayUrl - the relay's URL as the relay knows it (`ws://host:port` or `wss://...`).
 * @param peer - the roster id of the peer.
 * @returns an open channel to the authenticated `peer`.
 * @throws {@link RelayError} (`RELAY_REFUSED`, with `reason`) when the relay refuses;
 *   {@link HandshakeError} (`HANDSHAKE_FAILED`, `PEER_UNKNOWN`, `TIMEOUT`) naming `peer`;
 *   {@link InvalidArgumentError}; {@link AbortedError}.
 * @example
 * const ch = await relayChannel('wss://relay.example.org', 'org-7', { identity, roster, sessionId });
 */
export async function relayChannel(relayUrl: string, peer: string, options: RelayChannelOptions): Promise<SecureChannel> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const identity = assertIdentity(options.identity);
  if (!(options.roster instanceof Roster)) throw new InvalidArgumentError('"roster" must be a Roster');
  const localId = options.localId ?? identity.id;
  if (!isValidPartyId(localId)) throw new InvalidArgumentError('"localId" (or identity.id) must be a valid party id');
  if (!isValidPartyId(peer) || peer === localId || !options.roster.has(peer)) throw new InvalidArgumentError('"peer" must be another roster party');
  let base: string;
  try {
    base = normalizeRelayUrl(relayUrl);
  } catch {
    throw new InvalidArgumentError('"relayUrl" must be a ws:// or wss:// URL');
  }
  const cfg: HandshakeConfig = { identity, localId, roster: options.roster, sessionId: options.sessionId, suite: options.suite ?? 'native' };
  checkHandshakeConfig(cfg);
  const hsTimeout = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const pairTimeout = options.pairTimeoutMs ?? DEFAULT_PAIR_TIMEOUT_MS;
  for (const [v, name] of [[hsTimeout, 'handshakeTimeoutMs'], [pairTimeout, 'pairTimeoutMs']] as const) {
    if (!Number.isSafeInteger(v) || v <= 0 || v > MAX_TIMER_MS) throw new InvalidArgumentError(`"${name}" must be an integer in 1..${MAX_TIMER_MS}`);
  }
  if (options.signal !== undefined && !isAbortSignal(options.signal)) throw new InvalidArgumentError('"signal" must be an AbortSignal');
  if (options.signal?.aborted) throw new AbortedError();
  let limits;
  try {
    limits = resolveLimits(options);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  const initiator = options.initiator ?? compareIds(localId, peer) < 0;
  // A roster-bound session id commits to the roster: present it (ids and keys only), after checking
  // that it is the roster this party holds.
  const boundDigest = sessionRosterDigest(cfg.sessionId);
  if (boundDigest !== undefined && rosterDigest(options.roster) !== boundDigest) {
    throw new InvalidArgumentError('the session id is bound to a different roster than the one given (its "#<digest>" suffix does not match)');
  }
  const rosterText =
    boundDigest === undefined ? undefined : JSON.stringify({ version: 1, parties: options.roster.entries().map((e) => ({ id: e.id, publicKey: encodeBase64(e.publicKey) })) });

  const ts = Date.now();
  const nonce = randomBytes(16).toString('hex');
  const body = { session: cfg.sessionId, from: localId, to: peer, ts, nonce };
  const sig = encodeBase64(ed25519Sign(admissionTranscript(base, body), identity.secretKey));
  const ws = dialRelay(base, { maxPayload: maxFrameBytes(limits.chunkBytes), handshakeTimeout: hsTimeout });
  const pump = new Pump(ws, limits.receiveHighWaterBytes + maxFrameBytes(limits.chunkBytes), peer);
  let paired = false;
  let pairedAt = 0;

  const script = async (): Promise<SecureChannel> => {
    await Promise.race([new Promise<void>((resolve) => ws.once('open', () => resolve())), pump.failed]);
    ws.send(JSON.stringify({ v: 1, ...body, sig, ...(rosterText === undefined ? {} : { roster: rosterText }) }));
    for (;;) {
      const i = await pump.next();
      if (i.kind !== 'text') throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'relay sent data before pairing', { peer });
      let msg: { t?: unknown; reason?: unknown };
      try {
        msg = JSON.parse(i.text) as typeof msg;
      } catch {
        throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed relay message', { peer });
      }
      if (msg.t === 'admitted') continue;
      if (msg.t === 'paired') break;
      if (msg.t === 'refused' && RELAY_REFUSE_REASONS.includes(msg.reason as RelayRefuseReason)) {
        throw new RelayError(msg.reason as RelayRefuseReason, `relay refused the connection to "${peer}" (${String(msg.reason)})`, { peer });
      }
      throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed relay message', { peer });
    }
    paired = true;
    pairedAt = Date.now();
    const info = { localId: cfg.localId, sessionId: cfg.sessionId, initiator };
    const suite = getSuite(cfg.suite);
    if (initiator) {
      const hs = new Initiator(cfg, peer);
      ws.send(hs.hello());
      const { finish, result } = hs.onReply(await pump.nextBinary());
      const refuse = options.acceptPeer?.(result.peerId, 'reply');
      if (refuse !== undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `relayed connection to "${result.peerId}" not wanted (${refuse})`, { peer: result.peerId });
      ws.send(finish);
      return new SecureChannel(ws, result, suite, info, limits, pump.detach());
    }
    const hs = new Responder(cfg);
    const { reply, claimedPeer } = hs.onHello(await pump.nextBinary());
    if (claimedPeer !== peer) throw new HandshakeError(ErrorCode.PEER_UNKNOWN, `relay connected "${claimedPeer}" where "${peer}" was expected`, { peer });
    const early = options.acceptPeer?.(claimedPeer, 'hello');
    if (early !== undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `relayed connection from "${claimedPeer}" not wanted (${early})`, { peer });
    ws.send(reply);
    const result = hs.onFinish(await pump.nextBinary());
    if (result.peerId !== peer) throw new HandshakeError(ErrorCode.PEER_UNKNOWN, `relay connected "${result.peerId}" where "${peer}" was expected`, { peer });
    const late = options.acceptPeer?.(result.peerId, 'finish');
    if (late !== undefined) throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `relayed connection from "${peer}" not wanted (${late})`, { peer });
    return new SecureChannel(ws, result, suite, info, limits, pump.detach());
  };
  try {
    return await deadline(
      script(),
      () => (paired ? Math.max(1, hsTimeout - (Date.now() - pairedAt)) : pairTimeout + hsTimeout),
      () =>
        new HandshakeError(
          ErrorCode.TIMEOUT,
          paired ? `relayed handshake with "${peer}" did not complete within ${hsTimeout} ms` : `"${peer}" did not reach the relay within ${pairTimeout} ms`,
          { peer },
        ),
      options.signal,
    );
  } catch (err) {
    pump.fail(err instanceof CouplerError ? err : new AbortedError('relayed connection aborted'));
    pump.detach();
    ws.on('error', () => undefined);
    ws.terminate();
    throw err;
  }
}
