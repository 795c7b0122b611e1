/**
 * An on-path attacker for channel tests: a real WebSocket man-in-the-middle on 127.0.0.1. It
 * accepts the client's connection (any path, echoing the requested subprotocol), opens its own
 * connection to the real server, and relays binary messages both ways. Programmable rules act on
 * a given direction and message index (0-based, counted per direction and per connection):
 * flip a bit, drop, duplicate, swap with the next message, inject or replace with recorded bytes,
 * truncate. Every relayed message is recorded, so a frame of an earlier session can be replayed
 * into a later one.
 *
 * Message indices on a coupler connection: c2s 0 = hello, c2s 1 = finish, c2s 2.. = the
 * initiator's frames (sequence 0, 1, ...); s2c 0 = reply, s2c 1.. = the responder's frames.
 */
import WebSocket, { WebSocketServer } from 'ws';

export type Direction = 'c2s' | 's2c';

export type ProxyAction =
  | { type: 'flip'; byte: number; bit?: number }
  | { type: 'drop' }
  | { type: 'duplicate' }
  | { type: 'swapWithNext' }
  | { type: 'replace'; bytes: Uint8Array }
  | { type: 'injectBefore'; bytes: Uint8Array }
  /** Keep the first `length` bytes (negative: drop that many from the end). */
  | { type: 'truncate'; length: number };

export interface ProxyRule {
  direction: Direction;
  /** Message index in that direction. */
  index: number;
  /** Which accepted connection (0-based); default: every connection. */
  connection?: number;
  action: ProxyAction;
}

export interface OnPathProxy {
  readonly port: number;
  /** Messages as received from each side, per connection. */
  readonly recorded: { c2s: Uint8Array[]; s2c: Uint8Array[] }[];
  /** Add rules (also while running). */
  addRule(rule: ProxyRule): void;
  /** Number of rules that have fired. */
  fired(): number;
  close(): Promise<void>;
}

/** Apply a flip: `byte` may be negative (counted from the end). */
export function flipBit(data: Uint8Array, byte: number, bit = 0): Uint8Array {
  const out = new Uint8Array(data);
  const i = byte < 0 ? out.length + byte : byte;
  if (i < 0 || i >= out.length) throw new Error(`flip at ${byte} outside a ${out.length}-byte message`);
  out[i]! ^= 1 << bit;
  return out;
}

export async function startProxy(target: { host: string; port: number }, rules: ProxyRule[] = []): Promise<OnPathProxy> {
  const active = [...rules];
  let fired = 0;
  const recorded: { c2s: Uint8Array[]; s2c: Uint8Array[] }[] = [];
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 256 * 1024 * 1024,
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
  });
  wss.on('error', () => undefined);
  let connections = 0;

  wss.on('connection', (client, req) => {
    const conn = connections++;
    const rec = { c2s: [] as Uint8Array[], s2c: [] as Uint8Array[] };
    recorded.push(rec);
    const upstream = new WebSocket(`ws://${target.host}:${target.port}${req.url ?? '/'}`, client.protocol || [], {
      perMessageDeflate: false,
      maxPayload: 256 * 1024 * 1024,
    });
    sockets.add(client);
    sockets.add(upstream);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    const pendingToServer: Uint8Array[] = [];
    const counters = { c2s: 0, s2c: 0 };
    const held: { c2s: Uint8Array | undefined; s2c: Uint8Array | undefined } = { c2s: undefined, s2c: undefined };

    const deliver = (dir: Direction, bytes: Uint8Array): void => {
      if (dir === 's2c') {
        if (client.readyState === WebSocket.OPEN) client.send(bytes, { binary: true });
      } else if (upstream.readyState === WebSocket.OPEN) upstream.send(bytes, { binary: true });
      else pendingToServer.push(bytes);
    };

    const relay = (dir: Direction, data: Uint8Array): void => {
      const index = counters[dir]++;
      rec[dir].push(new Uint8Array(data));
      let out: Uint8Array[] = [data];
      for (const rule of active) {
        if (rule.direction !== dir || rule.index !== index) continue;
        if (rule.connection !== undefined && rule.connection !== conn) continue;
        fired++;
        const a = rule.action;
        switch (a.type) {
          case 'flip':
            out = [flipBit(data, a.byte, a.bit)];
            break;
          case 'drop':
            out = [];
            break;
          case 'duplicate':
            out = [data, data];
            break;
          case 'replace':
            out = [a.bytes];
            break;
          case 'injectBefore':
            out = [a.bytes, data];
            break;
          case 'truncate':
            out = [data.subarray(0, a.length < 0 ? data.length + a.length : a.length)];
            break;
          case 'swapWithNext':
            held[dir] = data;
            out = [];
            break;
        }
      }
      const release = index > 0 && held[dir] !== undefined && held[dir] !== data ? held[dir] : undefined;
      for (const m of out) deliver(dir, m);
      if (release !== undefined) {
        held[dir] = undefined;
        deliver(dir, release);
      }
    };

    client.on('message', (d: Buffer) => relay('c2s', new Uint8Array(d)));
    upstream.on('message', (d: Buffer) => relay('s2c', new Uint8Array(d)));
    upstream.on('open', () => {
      for (const m of pendingToServer.splice(0)) upstream.send(m, { binary: true });
    });
    // Closing one side closes the other (the attacker does not hold connections open).
    client.on('close', () => upstream.terminate());
    upstream.on('close', () => client.terminate());
  });

  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as { port: number }).port;
  return {
    port,
    recorded,
    addRule: (r) => active.push(r),
    fired: () => fired,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.terminate();
        wss.close(() => resolve());
      }),
  };
}
