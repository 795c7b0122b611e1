/**
 * Test support: a stranger's flood of WebSocket connections that are refused at once, each with a
 * cut frame the server's `ws` buffers while the socket lingers for its close grace (review22 R22-1
 * at a party's listener, the same class at the relay). Raw TCP sockets from 127.0.0.2–127.0.0.41;
 * measured on the client side: how many refused sockets the server still holds open at once.
 */
import { connect, type Socket } from 'node:net';

/** A masked (zero key) client-to-server binary frame header for `len` payload bytes. */
export function frameHead(len: number): Buffer {
  if (len < 126) return Buffer.from([0x82, 0x80 | len, 0, 0, 0, 0]);
  if (len < 65536) return Buffer.from([0x82, 0x80 | 126, len >> 8, len & 0xff, 0, 0, 0, 0]);
  const h = Buffer.alloc(14);
  h[0] = 0x82;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(len), 2);
  return h;
}

/** Bytes a cut frame declares. */
export const CUT = 200 * 1024;
/** A frame declared CUT bytes long with all but 16 of them sent: `ws` buffers it, waiting for the rest. */
export const CUT_FRAME = Buffer.concat([frameHead(CUT), Buffer.alloc(CUT - 16)]);

/** The HTTP upgrade request for `path` and WebSocket subprotocol `protocol`. */
export function upgradeRequest(path: string, protocol: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`
  );
}

/** One stranger connection: when the server refused it (sent a close frame) and closed it. */
export interface Held {
  readonly socket: Socket;
  refusedAt?: number;
  closedAt?: number;
}

/** One stranger's connection from `source` writing `attack`: resolves once the server refused or closed it. */
export function strike(port: number, attack: Buffer, source: string, held: Held[]): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: source });
    const h: Held = { socket: s };
    held.push(h);
    let seen = Buffer.alloc(0);
    s.on('error', () => undefined);
    s.on('connect', () => s.write(attack));
    s.on('data', (d: Buffer) => {
      if (h.refusedAt !== undefined) return;
      seen = Buffer.concat([seen, d]);
      const bodyAt = seen.indexOf('\r\n\r\n');
      // A close frame (opcode 8) after the 101 response: refused.
      if (bodyAt !== -1 && seen.subarray(bodyAt + 4).includes(0x88)) {
        h.refusedAt = performance.now();
        resolve();
      }
    });
    s.on('close', () => {
      h.closedAt = performance.now();
      h.refusedAt ??= h.closedAt;
      resolve();
    });
  });
}

/** Most sockets open at once among those the server already refused (client-side intervals). */
export function maxHeldAfterRefusal(held: readonly Held[]): number {
  const events: [number, number][] = [];
  for (const h of held) {
    if (h.refusedAt === undefined) continue;
    events.push([h.refusedAt, +1]);
    events.push([h.closedAt ?? Infinity, -1]);
  }
  events.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of events) {
    now += d;
    max = Math.max(max, now);
  }
  return max;
}

/**
 * `total` strangers from 40 source addresses, 8 at a time, each writing `attack` to `port`; then
 * every socket is destroyed. Returns the most refused sockets held open at once and how long it took.
 */
export async function refusedFlood(port: number, attack: Buffer, total = 300): Promise<{ max: number; ms: number }> {
  const held: Held[] = [];
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < total) {
      const i = next++;
      await strike(port, attack, `127.0.0.${2 + ((i + w) % 40)}`, held);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  const ms = performance.now() - t0;
  const max = maxHeldAfterRefusal(held);
  for (const h of held) h.socket.destroy();
  return { max, ms };
}
