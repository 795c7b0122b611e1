/**
 * WebSocket transport: dial a peer ({@link connectChannel}) or accept peers
 * ({@link listenChannels}), run the handshake (the one driver in `driver.ts`) under a deadline, and
 * hand out {@link SecureChannel}s. `ws` runs with compression off and `maxPayload` set to the frame cap.
 *
 * The listener treats every connection as hostile until its handshake completes: a silent
 * connection must send its hello within `firstMessageTimeoutMs`, a talking one its finish within
 * `finishTimeoutMs` of the reply; unfinished handshakes are capped per source address and in total,
 * and when full the oldest unfinished one is evicted — from a source discovery never returned first
 * (see `isKnownSource`), one silent past `silentGraceMs` before one that talked — rather than the
 * newcomer refused. A connection younger than the grace is never preferred for being silent: a real
 * peer is silent between its upgrade and its hello, and under a flood of talking strangers
 * "silent first" evicted exactly that peer at the next stranger's arrival.
 *
 * @module
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { AbortedError, CouplerError, ErrorCode, HandshakeError, InvalidArgumentError, describeType } from '../errors';
import { assertIdentity, isValidPartyId, type Identity } from '../identity/identity';
import { Roster } from '../identity/roster';
import { MAX_TIMER_MS, SecureChannel, isAbortSignal, maxFrameBytes, resolveLimits, type ChannelLimits, type ResolvedLimits } from './channel';
import { HelloReplayGuard, checkHandshakeConfig, type HandshakeConfig, type RefuseReason } from './handshake';
import { driveInitiator, driveResponder, withDeadline, type AcceptPolicy } from './driver';
import { WsIO, refuseAndClose } from './ws-io';
import type { SuiteName } from './suite';
import { zeroMaskKey } from './frames';
import { peerLookupLane } from './lookup';

/** WebSocket subprotocol of coupler channels (the handshake's `v` field carries the protocol version). */
export const SUBPROTOCOL = 'coupler.1';
/** URL path of coupler channels. */
export const CHANNEL_PATH = '/coupler/1';
/** Default handshake deadline: 10 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default cap on connections whose handshake is not finished yet. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
/** Default cap on unfinished handshakes from one remote address that discovery did not return. */
export const DEFAULT_MAX_PENDING_PER_SOURCE = 8;
/** Default cap on unfinished handshakes from one remote address that discovery returned (a known peer host). */
export const DEFAULT_MAX_PENDING_PER_KNOWN_SOURCE = 32;
/** Default deadline for the first handshake message (`hello`) after the WebSocket upgrade: 2 s. */
export const DEFAULT_FIRST_MESSAGE_TIMEOUT_MS = 2_000;
/** Default deadline for the initiator's `finish` after the reply was sent: 3 s. */
export const DEFAULT_FINISH_TIMEOUT_MS = 3_000;
/**
 * Default time a connection may be silent (no hello yet) before it is evicted ahead of talking
 * ones: 500 ms, a generous round trip plus a loaded peer's hello (capped at the first-message deadline).
 */
export const DEFAULT_SILENT_GRACE_MS = 500;

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
   * Decide whether to keep a connection with an authenticated peer: called on the initiator with
   * the proven id at `reply`, and on the responder with the proven id at `finish` (identities are
   * sealed, so nothing is known at `hello`). Return a reason to refuse, or undefined to accept.
   */
  readonly acceptPeer?: (peerId: string, stage: 'reply' | 'finish') => RefuseReason | undefined;
  /** @internal the group's accept policy (takes precedence over `acceptPeer`). */
  readonly _policy?: AcceptPolicy;
}

/** Options of {@link connectChannel}. */
export interface ConnectOptions extends ChannelOptions {
  /** Refuse the connection unless this roster party answers. */
  readonly expectedPeer?: string;
  /** Aborts connecting (and the handshake) with {@link AbortedError}. */
  readonly signal?: AbortSignal;
  /** Local address to dial from (so the far end sees this party's own address as the source). */
  readonly localAddress?: string;
}

/** Options of {@link listenChannels}. */
export interface ListenOptions extends ChannelOptions {
  /** Interface to bind. Default `127.0.0.1`; use `0.0.0.0` in a container. */
  readonly host?: string;
  /** Port. Default 0 (any free port). */
  readonly port?: number;
  /**
   * Cap on unfinished handshakes. Default 64. At the cap, a new connection evicts the oldest
   * unfinished one (from an unknown source first, silent before talking); it is refused (`busy`)
   * only when nothing may be evicted for it.
   */
  readonly maxPendingHandshakes?: number;
  /**
   * Cap on unfinished handshakes from one remote address that `isKnownSource` does not know; the
   * next one evicts that address's oldest. Default 8.
   */
  readonly maxPendingPerSource?: number;
  /** The same cap for a known source. Default 32. */
  readonly maxPendingPerKnownSource?: number;
  /** Deadline for the first handshake message after the upgrade, ms. Default 2000. */
  readonly firstMessageTimeoutMs?: number;
  /** Deadline for the initiator's finish after the reply was sent, ms. Default 3000. */
  readonly finishTimeoutMs?: number;
  /**
   * At the cap, a connection silent (no hello) for at least this long is evicted before any that
   * sent its hello; a younger silent one only ranks by age. Default 500 ms (at most `firstMessageTimeoutMs`).
   */
  readonly silentGraceMs?: number;
  /**
   * Whether a remote address is one discovery returned (a peer's host): such connections are never
   * evicted for connections from other addresses, and get the larger per-source cap.
   */
  readonly isKnownSource?: (address: string) => boolean;
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

/** Validate the options shared by every transport and derive the handshake configuration. @internal */
export function prepareChannel(options: ChannelOptions): Prepared {
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

/** The accept policy of a caller's `acceptPeer` function. @internal */
export function policyOf(options: ChannelOptions): AcceptPolicy | undefined {
  if (options._policy !== undefined) return options._policy;
  const f = options.acceptPeer;
  if (f === undefined) return undefined;
  return { reply: (p) => f(p, 'reply'), finish: (p) => f(p, 'finish') };
}

/** Bytes a connection may hold before the channel reads them (early frames after the handshake). */
export function maxHeldBytes(limits: ResolvedLimits): number {
  return limits.receiveHighWaterBytes + maxFrameBytes(limits.chunkBytes);
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function positive(v: number | undefined, d: number, name: string): number {
  if (v === undefined) return d;
  if (!Number.isSafeInteger(v) || v < 1 || v > MAX_TIMER_MS) throw new InvalidArgumentError(`"${name}" must be a positive integer`);
  return v;
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
  const { cfg, limits, timeoutMs } = prepareChannel(options);
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
  if (options.localAddress !== undefined && (typeof options.localAddress !== 'string' || options.localAddress.length === 0)) {
    throw new InvalidArgumentError('"localAddress" must be a non-empty address');
  }
  if (options.signal?.aborted) throw new AbortedError();
  const started = Date.now();
  // The host name's lookup leaves the process's peer-dial lane when this attempt ends (lookup.ts).
  const attempt = new AbortController();
  const ws = new WebSocket(url, SUBPROTOCOL, {
    perMessageDeflate: false,
    maxPayload: maxFrameBytes(limits.chunkBytes),
    // Unmasked frames (a zero key): every payload is ciphertext or random; see zeroMaskKey.
    generateMask: zeroMaskKey,
    handshakeTimeout: timeoutMs,
    followRedirects: false,
    lookup: peerLookupLane.forAttempt(attempt.signal),
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  const io = new WsIO(ws, { maxHeldBytes: maxHeldBytes(limits), peer: options.expectedPeer });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    io.failed.catch((e: unknown) => {
      const code = ((e as CouplerError).cause as NodeJS.ErrnoException | undefined)?.code;
      reject(code === undefined ? e : new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `cannot connect (${code})`, io.peer === undefined ? { cause: e } : { peer: io.peer, cause: e }));
    });
  });
  opened.catch(() => undefined);
  const policy = policyOf(options);
  try {
    await withDeadline(opened, timeoutMs, () => new HandshakeError(ErrorCode.TIMEOUT, `cannot connect within ${timeoutMs} ms`, io.peer === undefined ? {} : { peer: io.peer }), options.signal);
  } catch (err) {
    io.detach();
    refuseAndClose(ws, undefined);
    throw err;
  } finally {
    attempt.abort();
  }
  return driveInitiator(io, {
    cfg,
    limits,
    timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)),
    policy,
    expectedPeer: options.expectedPeer,
    signal: options.signal,
  });
}

interface PendingEntry {
  readonly source: string;
  readonly known: boolean;
  /** When the connection was admitted (`performance.now()`, ms). */
  readonly since: number;
  silent: boolean;
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
  const { cfg, limits, timeoutMs } = prepareChannel(options);
  if (typeof options.onChannel !== 'function') throw new InvalidArgumentError('"onChannel" must be a function');
  if (options.onHandshakeError !== undefined && typeof options.onHandshakeError !== 'function') throw new InvalidArgumentError('"onHandshakeError" must be a function');
  if (options.isKnownSource !== undefined && typeof options.isKnownSource !== 'function') throw new InvalidArgumentError('"isKnownSource" must be a function');
  const host = options.host ?? '127.0.0.1';
  // An empty host would make the server listen on every interface.
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) throw new InvalidArgumentError('"host" must be a non-empty host name or address');
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('"port" must be 0..65535');
  const maxPending = positive(options.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES, 'maxPendingHandshakes');
  const maxPerSource = positive(options.maxPendingPerSource, DEFAULT_MAX_PENDING_PER_SOURCE, 'maxPendingPerSource');
  const maxPerKnown = positive(options.maxPendingPerKnownSource, DEFAULT_MAX_PENDING_PER_KNOWN_SOURCE, 'maxPendingPerKnownSource');
  const firstMessageMs = positive(options.firstMessageTimeoutMs, Math.min(DEFAULT_FIRST_MESSAGE_TIMEOUT_MS, timeoutMs), 'firstMessageTimeoutMs');
  const finishMs = positive(options.finishTimeoutMs, Math.min(DEFAULT_FINISH_TIMEOUT_MS, timeoutMs), 'finishTimeoutMs');
  const silentGraceMs = positive(options.silentGraceMs, Math.min(DEFAULT_SILENT_GRACE_MS, firstMessageMs), 'silentGraceMs');
  const policy = policyOf(options);
  const isKnown = (source: string): boolean => {
    try {
      return options.isKnownSource?.(source) === true;
    } catch {
      return false;
    }
  };
  // Hellos answered here: a replayed one (captured on the overlay) costs no public-key work.
  const replays = new HelloReplayGuard();
  // Unfinished handshakes in arrival order (a Map keeps insertion order: the first is the oldest).
  const pending = new Map<WebSocket, PendingEntry>();
  /** Evict the oldest entry matching `match`: one silent past the grace first, else the oldest of all. */
  const evict = (match: (e: PendingEntry) => boolean): boolean => {
    const staleBefore = performance.now() - silentGraceMs;
    for (const stalePass of [true, false]) {
      for (const [ws, e] of pending) {
        if ((!stalePass || (e.silent && e.since <= staleBefore)) && match(e)) {
          pending.delete(ws);
          ws.terminate();
          return true;
        }
      }
    }
    return false;
  };
  // Connections that failed their handshake (or were refused `busy`) are closed with a grace
  // (refuseAndClose: up to 1 s for the close handshake) in which `ws` still reads and buffers up
  // to `maxPayload` of a frame. They had left `pending`, so no cap counted them: a stranger whose
  // every connection failed at once held as many sockets as it could open in a second, each with
  // ~256 KiB (review22 R22-1). They are capped as unfinished handshakes are; the oldest goes first.
  const closingSockets = new Set<WebSocket>();
  const trackClosing = (ws: WebSocket): void => {
    if (ws.readyState === WebSocket.CLOSED || closingSockets.has(ws)) return;
    closingSockets.add(ws);
    ws.once('close', () => closingSockets.delete(ws));
    while (closingSockets.size > maxPending) {
      const oldest = closingSockets.values().next().value as WebSocket;
      closingSockets.delete(oldest);
      oldest.terminate();
    }
  };
  const countFrom = (source: string): number => {
    let n = 0;
    for (const e of pending.values()) if (e.source === source) n++;
    return n;
  };

  // Our own HTTP server: closing the listener must stop accepting without waiting for the
  // established channels (net.Server.close waits for every accepted socket, upgraded ones included).
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('coupler channel endpoint: WebSocket required\n');
  });
  server.headersTimeout = Math.min(timeoutMs, firstMessageMs + finishMs);
  server.requestTimeout = server.headersTimeout;
  const wss = new WebSocketServer({
    server,
    path: CHANNEL_PATH,
    perMessageDeflate: false,
    maxPayload: maxFrameBytes(limits.chunkBytes),
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  wss.on('error', () => undefined);

  // TCP connections not upgraded yet: a peer's WebSocket upgrade is the first thing it sends, so
  // each must upgrade within the first-message deadline, and they are capped per source and in
  // total as unfinished handshakes are (the oldest goes first). Node's HTTP server closed an idle
  // socket never, and one trickling header lines only at its 30 s check: an outsider could hold
  // any number of them (file descriptors, memory) without a byte of the handshake.
  const raw = new Map<Socket, { readonly source: string; readonly known: boolean; readonly timer: NodeJS.Timeout }>();
  const forgetRaw = (socket: Socket): void => {
    const e = raw.get(socket);
    if (e === undefined) return;
    clearTimeout(e.timer);
    raw.delete(socket);
  };
  const evictRaw = (match: (e: { source: string; known: boolean }) => boolean): boolean => {
    for (const [socket, e] of raw) {
      if (!match(e)) continue;
      forgetRaw(socket);
      socket.destroy();
      return true;
    }
    return false;
  };
  server.on('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? 'unknown';
    const known = isKnown(source);
    let fromSource = 0;
    for (const e of raw.values()) if (e.source === source) fromSource++;
    if (fromSource >= (known ? maxPerKnown : maxPerSource)) evictRaw((e) => e.source === source);
    if (raw.size >= maxPending && !evictRaw((e) => !e.known) && !(known && evictRaw((e) => e.source !== source))) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => {
      raw.delete(socket);
      socket.destroy();
    }, firstMessageMs);
    raw.set(socket, { source, known, timer });
    socket.once('close', () => forgetRaw(socket));
  });

  const admit = (source: string, known: boolean): boolean => {
    // Room for this source first: its own oldest goes (a source cannot crowd out others).
    if (countFrom(source) >= (known ? maxPerKnown : maxPerSource) && !evict((e) => e.source === source)) return false;
    if (pending.size < maxPending) return true;
    // Full: evict the oldest from a source discovery did not return; a known source may also
    // displace the oldest from another known source.
    if (evict((e) => !e.known)) return true;
    return known && evict((e) => e.source !== source);
  };

  const handle = async (ws: WebSocket, req: IncomingMessage): Promise<void> => {
    // Upgraded: from here the unfinished-handshake caps and deadlines apply.
    forgetRaw(req.socket);
    const remote = req.socket.remoteAddress;
    ws.on('error', () => undefined);
    if (ws.protocol !== SUBPROTOCOL) {
      ws.terminate();
      return;
    }
    const source = remote ?? 'unknown';
    const known = isKnown(source);
    if (!admit(source, known)) {
      refuseAndClose(ws, 'busy');
      trackClosing(ws);
      return;
    }
    const entry: PendingEntry = { source, known, since: performance.now(), silent: true };
    pending.set(ws, entry);
    const io = new WsIO(ws, { maxHeldBytes: maxHeldBytes(limits) });
    let finishTimer: NodeJS.Timeout | undefined;
    let handedOut = false;
    try {
      await driveResponder(io, {
        cfg,
        limits,
        timeoutMs,
        policy,
        replays,
        firstMessageMs,
        onFirstMessage: () => {
          entry.silent = false;
        },
        onReplySent: () => {
          finishTimer = setTimeout(
            () => io.fail(new HandshakeError(ErrorCode.TIMEOUT, `no handshake finish within ${finishMs} ms of the reply`, io.peer === undefined ? {} : { peer: io.peer })),
            finishMs,
          );
        },
        onChannel: (channel) => {
          pending.delete(ws);
          handedOut = true;
          options.onChannel(channel);
        },
      });
    } catch (err) {
      const error = err instanceof CouplerError ? err : new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'handshake failed', { cause: err });
      try {
        options.onHandshakeError?.(error, remote);
      } catch {
        /* callbacks must not break the listener */
      }
    } finally {
      if (finishTimer !== undefined) clearTimeout(finishTimer);
      pending.delete(ws);
      if (!handedOut) trackClosing(ws);
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
        for (const s of pending.keys()) s.terminate();
        for (const s of closingSockets) s.terminate();
        for (const socket of [...raw.keys()]) {
          forgetRaw(socket);
          socket.destroy();
        }
        wss.close();
        server.close();
        resolve();
      });
      return closing;
    },
  };
}
