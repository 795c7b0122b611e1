/**
 * Shared helpers of the channel tests: parties and rosters, a listener that queues what it
 * accepts, a channel pair, a hand-built pair that exposes the raw sockets, and cleanup.
 * Everything runs over real WebSockets on 127.0.0.1, port 0.
 */
import { createHash } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { CouplerError } from '../../src/errors';
import { createRoster, type Identity, type Roster } from '../../src/identity';
import { testIdentity } from '../support/identity';
import {
  connectChannel,
  listenChannels,
  SecureChannel,
  type ChannelListener,
  type ChannelLimits,
  type ConnectOptions,
  type ListenOptions,
  type SuiteName,
  SUBPROTOCOL,
} from '../../src/channel';
import { resolveLimits } from '../../src/channel/channel';
import { Initiator, Responder } from '../../src/channel/handshake';
import { getSuite } from '../../src/channel/suite';

export const HOST = '127.0.0.1';
export const SESSION = 'task-42.nonce-7f3a';

/** Identities for the given ids and one roster of all of them. */
export function parties(...ids: string[]): { ids: Record<string, Identity>; roster: Roster } {
  const out: Record<string, Identity> = {};
  for (const id of ids) out[id] = testIdentity(id);
  return { ids: out, roster: rosterOf(out) };
}

export function rosterOf(identities: Record<string, Identity>): Roster {
  return createRoster(Object.entries(identities).map(([id, ident]) => ({ id, publicKey: ident.publicKey })));
}

/** A FIFO whose `next` waits with a deadline (the deadline only bounds a hang; it is not asserted). */
export class AsyncQueue<T> {
  readonly items: T[] = [];
  #waiters: ((v: T) => void)[] = [];
  push = (v: T): void => {
    const w = this.#waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  };
  next(deadlineMs = 10_000, what = 'item'): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${deadlineMs} ms`)), deadlineMs);
      this.#waiters.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  }
}

/** Collects things to close at the end of a test; run it in afterEach. */
export class Cleanup {
  #fns: (() => unknown)[] = [];
  add(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  channel(ch: SecureChannel): SecureChannel {
    this.add(() => ch.destroy());
    return ch;
  }
  async run(): Promise<void> {
    const fns = this.#fns.splice(0).reverse();
    for (const fn of fns) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
  }
}

export interface TestListener {
  listener: ChannelListener;
  channels: AsyncQueue<SecureChannel>;
  errors: AsyncQueue<CouplerError>;
}

/** listenChannels on 127.0.0.1:0 that queues channels and handshake errors. */
export async function listen(cleanup: Cleanup, options: Omit<ListenOptions, 'onChannel'> & Partial<Pick<ListenOptions, 'onChannel'>>): Promise<TestListener> {
  const channels = new AsyncQueue<SecureChannel>();
  const errors = new AsyncQueue<CouplerError>();
  const listener = await listenChannels({
    host: HOST,
    port: 0,
    onChannel: (ch) => {
      cleanup.channel(ch);
      channels.push(ch);
    },
    onHandshakeError: (err) => errors.push(err),
    ...options,
  });
  cleanup.add(() => listener.close());
  return { listener, channels, errors };
}

export async function connect(cleanup: Cleanup, port: number, options: ConnectOptions): Promise<SecureChannel> {
  return cleanup.channel(await connectChannel({ host: HOST, port }, options));
}

/** A connected pair: `client` is party a (initiator), `server` party b (responder). */
export async function channelPair(
  cleanup: Cleanup,
  opts: { suite?: SuiteName; limits?: ChannelLimits; serverLimits?: ChannelLimits; clientLimits?: ChannelLimits } = {},
): Promise<{ client: SecureChannel; server: SecureChannel; ids: Record<string, Identity>; roster: Roster }> {
  const { ids, roster } = parties('a', 'b');
  const suite = opts.suite ?? 'native';
  const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, suite, ...opts.limits, ...opts.serverLimits });
  const client = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION, suite, ...opts.limits, ...opts.clientLimits });
  const server = await l.channels.next(10_000, 'channel');
  return { client, server, ids, roster };
}

/** A raw WebSocketServer on 127.0.0.1:0 that speaks the coupler subprotocol and hands out sockets. */
export async function rawServer(cleanup: Cleanup): Promise<{ port: number; sockets: AsyncQueue<WebSocket> }> {
  const sockets = new AsyncQueue<WebSocket>();
  const wss = new WebSocketServer({ host: HOST, port: 0, handleProtocols: () => SUBPROTOCOL, maxPayload: 64 * 1024 * 1024 });
  wss.on('connection', (ws) => {
    ws.on('error', () => undefined);
    record(ws);
    cleanup.add(() => ws.terminate());
    sockets.push(ws);
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  cleanup.add(() => new Promise<void>((r) => wss.close(() => r())));
  return { port: (wss.address() as { port: number }).port, sockets };
}

/** A raw client socket (coupler subprotocol) to the listener's channel path, opened; `localAddress` picks its source address. */
export async function rawClient(cleanup: Cleanup, port: number, path = '/coupler/1', localAddress?: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://${HOST}:${port}${path}`, SUBPROTOCOL, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...(localAddress === undefined ? {} : { localAddress }) });
  ws.on('error', () => undefined);
  record(ws);
  cleanup.add(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

/** Resolves with the close code of a socket (or immediately if already closed). */
export function closedCode(ws: WebSocket): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(-1);
  return new Promise((r) => ws.once('close', (code: number) => r(code)));
}

const inboxes = new WeakMap<WebSocket, AsyncQueue<Uint8Array | null>>();

/** Record every message of a raw socket from now on (null marks the close). */
export function record(ws: WebSocket): void {
  if (inboxes.has(ws)) return;
  const q = new AsyncQueue<Uint8Array | null>();
  inboxes.set(ws, q);
  ws.on('message', (d: Buffer) => q.push(new Uint8Array(d)));
  ws.on('close', () => q.push(null));
}

/** Next binary message of a raw socket (recorded since it was created); rejects if it closed first. */
export async function nextMessage(ws: WebSocket, deadlineMs = 10_000): Promise<Uint8Array> {
  record(ws);
  const m = await inboxes.get(ws)!.next(deadlineMs, 'message');
  if (m === null) {
    inboxes.get(ws)!.push(null);
    throw new Error('closed before a message');
  }
  return m;
}

/**
 * A channel pair built by hand from the exported handshake classes over raw sockets, so a test
 * can look at each side's `ws` (for example its `bufferedAmount`). Same code path as the
 * transport after the handshake: `new SecureChannel(ws, result, suite, info, limits)`.
 */
export async function exposedPair(
  cleanup: Cleanup,
  opts: { suite?: SuiteName; clientLimits?: ChannelLimits; serverLimits?: ChannelLimits } = {},
): Promise<{ client: SecureChannel; server: SecureChannel; clientWs: WebSocket; serverWs: WebSocket }> {
  const { ids, roster } = parties('a', 'b');
  const suite = opts.suite ?? 'native';
  const srv = await rawServer(cleanup);
  const clientWs = await rawClient(cleanup, srv.port);
  const serverWs = await srv.sockets.next();
  const ini = new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite });
  const res = new Responder({ identity: ids.b!, localId: 'b', roster, sessionId: SESSION, suite });
  const helloP = nextMessage(serverWs);
  clientWs.send(ini.hello());
  const { reply } = res.onHello(await helloP);
  const replyP = nextMessage(clientWs);
  serverWs.send(reply);
  const { finish } = ini.onReply(await replyP);
  const finishP = nextMessage(serverWs);
  clientWs.send(finish);
  res.onFinish(await finishP);
  const { ok, result: rr } = res.accept();
  const okP = nextMessage(clientWs);
  serverWs.send(ok);
  const ir = ini.onOk(await okP);
  const client = cleanup.channel(
    new SecureChannel(clientWs, ir, getSuite(suite), { localId: 'a', sessionId: SESSION, initiator: true }, resolveLimits(opts.clientLimits)),
  );
  const server = cleanup.channel(
    new SecureChannel(serverWs, rr, getSuite(suite), { localId: 'b', sessionId: SESSION, initiator: false }, resolveLimits(opts.serverLimits)),
  );
  return { client, server, clientWs, serverWs };
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic pseudo-random bytes (a counter-mode SHA-256 stream), fast enough for MiBs. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let off = 0;
  for (let block = 0; off < length; block++) {
    const h = createHash('sha256').update(`${seed}:${block}`).digest();
    out.set(h.subarray(0, Math.min(32, length - off)), off);
    off += 32;
  }
  return out;
}

/** Expect a promise to reject with a CouplerError of this class and code; returns the error. */
export async function expectCoupler<T extends CouplerError>(
  p: Promise<unknown> | (() => unknown),
  cls: abstract new (...args: never[]) => T,
  code: string,
): Promise<T> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`expected ${cls.name} ${code}, but it succeeded`);
  if (!(err instanceof cls) || (err as CouplerError).code !== code) {
    throw new Error(`expected ${cls.name} ${code}, got ${(err as Error)?.constructor?.name} ${(err as CouplerError)?.code}: ${(err as Error)?.message}`);
  }
  return err as T;
}

/** Wait until `cond()` holds, polling on the event loop, or throw after the deadline. */
export async function until(cond: () => boolean, deadlineMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
