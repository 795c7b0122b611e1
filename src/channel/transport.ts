/**
 * WebSocket transport: dial a peer ({@link connectChannel}) or accept peers
 * ({@link listenChannels}), run the handshake under a deadline, and hand out
 * {@link SecureChannel}s. `ws` runs with compression off and `maxPayload` set to the frame cap.
 *
 * @module
 */
import { createServer, type IncomingMessage } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { AbortedError, CouplerError, ErrorCode, HandshakeError, InvalidArgumentError, describeType } from '../errors';
import { assertIdentity, isValidPartyId, type Identity } from '../identity/identity';
import { Roster } from '../identity/roster';
import { MAX_TIMER_MS, SecureChannel, isAbortSignal, maxFrameBytes, resolveLimits, type ChannelLimits, type ResolvedLimits } from './channel';
import {
  Initiator,
  MAX_HANDSHAKE_MESSAGE,
  Responder,
  checkHandshakeConfig,
  encodeRefuse,
  refuseReasonOf,
  type HandshakeConfig,
  type RefuseReason,
} from './handshake';
import { getSuite, type SuiteName } from './suite';

/** WebSocket subprotocol name of coupler channels. */
export const SUBPROTOCOL = 'coupler.1';
/** URL path of coupler channels. */
export const CHANNEL_PATH = '/coupler/1';
/** Default handshake deadline: 10 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default cap on connections whose handshake is not finished yet. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
/** Default cap on silent pending connections (no handshake message yet) from one remote address. */
export const DEFAULT_MAX_PENDING_PER_SOURCE = 8;
/** Default deadline for the first handshake message (`hello`) after the WebSocket upgrade: 2 s. */
export const DEFAULT_FIRST_MESSAGE_TIMEOUT_MS = 2_000;

/** Options shared by {@link connectChannel} and {@link listenChannels}. */
export interface ChannelOptions extends ChannelLimits {
  /** This party's identity; its public key must be the roster key of `localId`. */
  readonly identity: Identity;
  /** The pinned keys of the task. */
  readonly roster: Roster;
  /** The session (task run) id; both sides must use the same. */
  readonly sessionId: string;
  /** This party's roster id. Default: `identity.id`. */
  readonly localId?: string;
  /** Cipher suite. Default `native`. */
  readonly suite?: SuiteName;
  /** Handshake deadline in milliseconds. Default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Decide whether to keep a connection with an authenticated peer. Called on the responder with
   * the claimed id at `hello` (cheap early refusal) and with the proven id at `finish`; on the
   * initiator with the proven id at `reply`. Return a reason to refuse, or undefined to accept.
   */
  readonly acceptPeer?: (peerId: string, stage: 'hello' | 'reply' | 'finish') => RefuseReason | undefined;
}

/** Options of {@link connectChannel}. */
export interface ConnectOptions extends ChannelOptions {
  /** Refuse the connection unless this roster party answers. */
  readonly expectedPeer?: string;
  /** Aborts connecting (and the handshake) with {@link AbortedError}. */
  readonly signal?: AbortSignal;
}

/** Options of {@link listenChannels}. */
export interface ListenOptions extends ChannelOptions {
  /** Interface to bind. Default `127.0.0.1`; use `0.0.0.0` in a container. */
  readonly host?: string;
  /** Port. Default 0 (any free port). */
  readonly port?: number;
  /**
   * Cap on unfinished handshakes. Default 64. At the cap, a new connection evicts the oldest one
   * that has not sent its first handshake message yet; it is refused (`busy`) only when every
   * pending connection is already talking.
   */
  readonly maxPendingHandshakes?: number;
  /**
   * Cap on silent connections (upgraded, no handshake message yet) from one remote address; the
   * next one evicts that address's oldest silent connection. Default 8.
   */
  readonly maxPendingPerSource?: number;
  /** Deadline for the first handshake message after the upgrade, ms. Default 2000. */
  readonly firstMessageTimeoutMs?: number;
  /** Called with every authenticated channel. */
  readonly onChannel: (channel: SecureChannel) => void;
  /** Called when an incoming handshake fails (for logging; never with secrets). */
  readonly onHandshakeError?: (error: CouplerError, remoteAddress: string | undefined) => void;
}

/** A listening endpoint. */
export interface ChannelListener {
  /** The bound port. */
  readonly port: number;
  /** The bound address. */
  readonly host: string;
  /** Stop accepting and close pending handshakes (established channels stay open). */
  close(): Promise<void>;
}

interface Prepared {
  cfg: HandshakeConfig;
  limits: ResolvedLimits;
  timeoutMs: number;
}

function prepare(options: ChannelOptions): Prepared {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${describeType(options)}`);
  const identity = assertIdentity(options.identity);
  if (!(options.roster instanceof Roster)) throw new InvalidArgumentError(`"roster" must be a Roster, got ${describeType(options.roster)}`);
  const localId = options.localId ?? identity.id;
  if (!isValidPartyId(localId)) throw new InvalidArgumentError('"localId" (or identity.id) must be a valid party id');
  const cfg: HandshakeConfig = { identity, localId, roster: options.roster, sessionId: options.sessionId, suite: options.suite ?? 'native' };
  checkHandshakeConfig(cfg);
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`"handshakeTimeoutMs" must be an integer in 1..${MAX_TIMER_MS}`);
  }
  if (options.acceptPeer !== undefined && typeof options.acceptPeer !== 'function') throw new InvalidArgumentError('"acceptPeer" must be a function');
  let limits: ResolvedLimits;
  try {
    limits = resolveLimits(options);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return { cfg, limits, timeoutMs };
}

/** Collects the messages of a handshake in order, with a deadline. */
class HandshakePump {
  readonly #ws: WebSocket;
  readonly #buffer: Uint8Array[] = [];
  /** How many messages the handshake reads; later ones are channel frames sent right after it. */
  readonly #handshakeMessages: number;
  /** Cap on the bytes of such early frames held until the channel takes over. */
  readonly #maxEarlyBytes: number;
  #received = 0;
  #earlyBytes = 0;
  #waiter: { resolve: (m: Uint8Array) => void; reject: (e: CouplerError) => void } | undefined;
  #error: CouplerError | undefined;
  readonly #onMessage = (data: Buffer, isBinary: boolean): void => {
    const handshake = this.#received < this.#handshakeMessages;
    this.#received++;
    if (!isBinary || (handshake && data.length > MAX_HANDSHAKE_MESSAGE * 2)) {
      this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed handshake message', this.#peerOpt()));
      return;
    }
    const m = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve(m);
      return;
    }
    if (!handshake) {
      // The peer may start sending frames as soon as it has sent its last handshake message;
      // keep them in order for the channel (they are authenticated there), within a byte cap.
      this.#earlyBytes += m.length;
      if (this.#earlyBytes > this.#maxEarlyBytes) {
        this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'too much data before the handshake completed', this.#peerOpt()));
        return;
      }
    }
    this.#buffer.push(m);
  };
  readonly #onClose = (): void => this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'connection closed during the handshake', this.#peerOpt()));
  readonly #onError = (): void => this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'connection error during the handshake', this.#peerOpt()));
  peer: string | undefined;

  constructor(ws: WebSocket, handshakeMessages: number, maxEarlyBytes: number, peer?: string) {
    this.#ws = ws;
    this.#handshakeMessages = handshakeMessages;
    this.#maxEarlyBytes = maxEarlyBytes;
    this.peer = peer;
    ws.on('message', this.#onMessage);
    ws.on('close', this.#onClose);
    ws.on('error', this.#onError);
  }

  #peerOpt(): { peer?: string } {
    return this.peer === undefined ? {} : { peer: this.peer };
  }

  next(): Promise<Uint8Array> {
    if (this.#error) return Promise.reject(this.#error);
    const m = this.#buffer.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  fail(err: CouplerError): void {
    if (this.#error) return;
    this.#error = err;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }

  /** Detach and return any frames that arrived after the handshake. */
  detach(): Uint8Array[] {
    this.#ws.off('message', this.#onMessage);
    this.#ws.off('close', this.#onClose);
    this.#ws.off('error', this.#onError);
    return this.#buffer.splice(0);
  }
}

function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => CouplerError, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      reject(onTimeout());
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError('handshake aborted'));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function refuseAndClose(ws: WebSocket, reason: RefuseReason | undefined): void {
  try {
    if (reason !== undefined && ws.readyState === WebSocket.OPEN) ws.send(encodeRefuse(reason));
  } catch {
    /* best effort */
  }
  if (ws.readyState === WebSocket.OPEN) ws.close(1008);
  else ws.terminate();
  setTimeout(() => ws.terminate(), 1000).unref();
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Dial a peer and run the handshake as initiator.
 *
 * @param target - `{ host, port }` or a `ws://` URL.
 * @param options - identity, roster, session and limits.
 * @returns an open channel to the authenticated roster peer that answered.
 * @throws {@link HandshakeError} (`HANDSHAKE_FAILED`, `PEER_UNKNOWN`, `TIMEOUT`) naming the peer where known;
 *   {@link InvalidArgumentError} for bad options; {@link AbortedError}.
 * @example
 * const ch = await connectChannel({ host: '10.0.1.7', port: 8888 }, { identity, roster, sessionId });
 * await ch.send(new TextEncoder().encode('hello'));
 */
export async function connectChannel(target: { host: string; port: number } | string, options: ConnectOptions): Promise<SecureChannel> {
  const { cfg, limits, timeoutMs } = prepare(options);
  let url: string;
  if (typeof target === 'string') {
    if (!/^wss?:\/\//.test(target)) throw new InvalidArgumentError('"target" URL must start with ws:// or wss://');
    url = target;
  } else {
    if (typeof target !== 'object' || target === null || typeof target.host !== 'string' || target.host.length === 0) {
      throw new InvalidArgumentError('"target.host" must be a non-empty string');
    }
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new InvalidArgumentError('"target.port" must be 1..65535');
    url = `ws://${formatHost(target.host)}:${target.port}${CHANNEL_PATH}`;
  }
  if (options.expectedPeer !== undefined && !isValidPartyId(options.expectedPeer)) throw new InvalidArgumentError('"expectedPeer" must be a valid party id');
  if (options.signal !== undefined && !isAbortSignal(options.signal)) throw new InvalidArgumentError('"signal" must be an AbortSignal');
  if (options.signal?.aborted) throw new AbortedError();
  const ws = new WebSocket(url, SUBPROTOCOL, {
    perMessageDeflate: false,
    maxPayload: maxFrameBytes(limits.chunkBytes),
    handshakeTimeout: timeoutMs,
    followRedirects: false,
  });
  const pump = new HandshakePump(ws, 1, limits.receiveHighWaterBytes + maxFrameBytes(limits.chunkBytes), options.expectedPeer);
  const initiator = new Initiator(cfg, options.expectedPeer);
  const script = async (): Promise<SecureChannel> => {
    await new Promise<void>((resolve, reject) => {
      const onOpen = (): void => {
        ws.off('error', onError);
        resolve();
      };
      const onError = (err: Error): void => {
        ws.off('open', onOpen);
        reject(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `cannot connect (${(err as NodeJS.ErrnoException).code ?? 'error'})`, pump.peer === undefined ? { cause: err } : { peer: pump.peer, cause: err }));
      };
      ws.once('open', onOpen);
      ws.once('error', onError);
    });
    ws.send(initiator.hello());
    const { finish, result } = initiator.onReply(await pump.next());
    pump.peer = result.peerId;
    const refuse = options.acceptPeer?.(result.peerId, 'reply');
    if (refuse !== undefined) {
      const err = new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `connection to "${result.peerId}" not wanted (${refuse})`, { peer: result.peerId });
      (err as { refuseReason?: RefuseReason }).refuseReason = refuse;
      throw err;
    }
    ws.send(finish);
    const leftover = pump.detach();
    return new SecureChannel(ws, result, getSuite(cfg.suite), { localId: cfg.localId, sessionId: cfg.sessionId, initiator: true }, limits, leftover);
  };
  try {
    return await withDeadline(
      script(),
      timeoutMs,
      () => new HandshakeError(ErrorCode.TIMEOUT, `handshake did not complete within ${timeoutMs} ms`, pump.peer === undefined ? {} : { peer: pump.peer }),
      options.signal,
    );
  } catch (err) {
    pump.fail(err instanceof CouplerError ? err : new AbortedError('handshake aborted'));
    pump.detach();
    refuseAndClose(ws, refuseReasonOf(err));
    ws.on('error', () => undefined);
    throw err;
  }
}

/**
 * Listen for peers and run the handshake as responder for each connection.
 *
 * @returns the listener; authenticated channels are passed to `onChannel`.
 * @throws {@link InvalidArgumentError} for bad options; a `ws`/`net` error if the port cannot be bound.
 * @example
 * const listener = await listenChannels({ identity, roster, sessionId, host: '0.0.0.0', port: 8888,
 *   onChannel: (ch) => console.log('peer', ch.peerId) });
 */
export async function listenChannels(options: ListenOptions): Promise<ChannelListener> {
  const { cfg, limits, timeoutMs } = prepare(options);
  if (typeof options.onChannel !== 'function') throw new InvalidArgumentError('"onChannel" must be a function');
  if (options.onHandshakeError !== undefined && typeof options.onHandshakeError !== 'function') throw new InvalidArgumentError('"onHandshakeError" must be a function');
  const host = options.host ?? '127.0.0.1';
  // An empty host would make the server listen on every interface.
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) throw new InvalidArgumentError('"host" must be a non-empty host name or address');
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('"port" must be 0..65535');
  const maxPending = options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
  if (!Number.isSafeInteger(maxPending) || maxPending < 1) throw new InvalidArgumentError('"maxPendingHandshakes" must be a positive integer');
  const maxPerSource = options.maxPendingPerSource ?? DEFAULT_MAX_PENDING_PER_SOURCE;
  if (!Number.isSafeInteger(maxPerSource) || maxPerSource < 1) throw new InvalidArgumentError('"maxPendingPerSource" must be a positive integer');
  const firstMessageMs = options.firstMessageTimeoutMs ?? Math.min(DEFAULT_FIRST_MESSAGE_TIMEOUT_MS, timeoutMs);
  if (!Number.isSafeInteger(firstMessageMs) || firstMessageMs < 1) throw new InvalidArgumentError('"firstMessageTimeoutMs" must be a positive integer');
  // Unfinished handshakes in arrival order (a Map keeps insertion order: the first is the oldest).
  // `silent`: nothing received yet — the cheapest thing for an attacker to hold open, so the
  // first to go when room is needed.
  const pendingSockets = new Map<WebSocket, { remote: string; silent: boolean }>();
  const evictOldestSilent = (remote?: string): boolean => {
    for (const [ws, entry] of pendingSockets) {
      if (entry.silent && (remote === undefined || entry.remote === remote)) {
        pendingSockets.delete(ws);
        ws.terminate();
        return true;
      }
    }
    return false;
  };

  // Our own HTTP server: closing the listener must stop accepting without waiting for the
  // established channels (net.Server.close waits for every accepted socket, upgraded ones included).
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('coupler channel endpoint: WebSocket required\n');
  });
  server.headersTimeout = timeoutMs;
  server.requestTimeout = timeoutMs;
  const wss = new WebSocketServer({
    server,
    path: CHANNEL_PATH,
    perMessageDeflate: false,
    maxPayload: maxFrameBytes(limits.chunkBytes),
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  wss.on('error', () => undefined);

  const handle = async (ws: WebSocket, req: IncomingMessage): Promise<void> => {
    const remote = req.socket.remoteAddress;
    ws.on('error', () => undefined);
    if (ws.protocol !== SUBPROTOCOL) {
      ws.terminate();
      return;
    }
    const source = remote ?? 'unknown';
    // Per source, only silent connections count: parties sharing one address (several on one
    // host, behind one NAT) dial many at once and each talks at once.
    let fromSource = 0;
    for (const e of pendingSockets.values()) if (e.remote === source && e.silent) fromSource++;
    // Room per source, then globally: evict the oldest silent connection rather than refuse the
    // newcomer, so idle sockets cannot keep real peers out.
    if (fromSource >= maxPerSource && !evictOldestSilent(source)) {
      refuseAndClose(ws, 'busy');
      return;
    }
    if (pendingSockets.size >= maxPending && !evictOldestSilent()) {
      refuseAndClose(ws, 'busy');
      return;
    }
    const entry = { remote: source, silent: true };
    pendingSockets.set(ws, entry);
    const pump = new HandshakePump(ws, 2, limits.receiveHighWaterBytes + maxFrameBytes(limits.chunkBytes));
    const responder = new Responder(cfg);
    const script = async (): Promise<SecureChannel> => {
      const hello = await withDeadline(pump.next(), firstMessageMs, () => new HandshakeError(ErrorCode.TIMEOUT, `no handshake message within ${firstMessageMs} ms of connecting`));
      entry.silent = false;
      const { reply, claimedPeer } = responder.onHello(hello);
      pump.peer = claimedPeer;
      const early = options.acceptPeer?.(claimedPeer, 'hello');
      if (early !== undefined) {
        const err = new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `connection from "${claimedPeer}" not wanted (${early})`, { peer: claimedPeer });
        (err as { refuseReason?: RefuseReason }).refuseReason = early;
        throw err;
      }
      ws.send(reply);
      const result = responder.onFinish(await pump.next());
      const late = options.acceptPeer?.(result.peerId, 'finish');
      if (late !== undefined) {
        const err = new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `connection from "${result.peerId}" not wanted (${late})`, { peer: result.peerId });
        (err as { refuseReason?: RefuseReason }).refuseReason = late;
        throw err;
      }
      const leftover = pump.detach();
      return new SecureChannel(ws, result, getSuite(cfg.suite), { localId: cfg.localId, sessionId: cfg.sessionId, initiator: false }, limits, leftover);
    };
    try {
      const channel = await withDeadline(script(), timeoutMs, () =>
        new HandshakeError(ErrorCode.TIMEOUT, `handshake did not complete within ${timeoutMs} ms`, pump.peer === undefined ? {} : { peer: pump.peer }),
      );
      options.onChannel(channel);
    } catch (err) {
      pump.detach();
      refuseAndClose(ws, refuseReasonOf(err));
      const error = err instanceof CouplerError ? err : new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'handshake failed', { cause: err });
      try {
        options.onHandshakeError?.(error, remote);
      } catch {
        /* callbacks must not break the listener */
      }
    } finally {
      pendingSockets.delete(ws);
    }
  };

  wss.on('connection', (ws, req) => {
    void handle(ws, req);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    server.listen(port, host);
  });
  server.on('error', () => undefined);
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr : { port, address: host };
  let closing: Promise<void> | undefined;
  return {
    port: bound.port,
    host: bound.address,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const s of pendingSockets.keys()) s.terminate();
        wss.close();
        server.close();
        resolve();
      });
      return closing;
    },
  };
}
