/**
 * The relay's side of review22 R22-1 (the class, found at the party's listener): a connection the
 * relay refuses (a malformed admission, `busy`, an admission timeout) is ended with a refusal and a
 * close grace of 1 s, in which `ws` still reads and buffers up to `maxMessageBytes` of a frame —
 * outside every cap, since the connection left the pending table. A stranger whose every
 * connection is refused at once holds as many sockets, with a cut frame each, as it can open in a
 * second. Real relay on 127.0.0.1, raw TCP sockets from 127.0.0.2–127.0.0.41 that upgrade, send a
 * binary admission (refused `malformed`) and a cut frame in one write, then never answer the close.
 */
import { connect, type Socket } from 'node:net';
import { startRelay, type RelayServer } from '../../src/relay';
import { DEFAULT_RELAY_MAX_PENDING } from '../../src/relay/table';
import { RELAY_PATH, RELAY_SUBPROTOCOL } from '../../src/relay/protocol';

let relay: RelayServer;
beforeAll(async () => {
  relay = await startRelay({ host: '127.0.0.1', port: 0, rosters: [], rosterBoundSessions: true });
});
afterAll(() => relay.close());

const UPGRADE =
  `GET ${RELAY_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ${RELAY_SUBPROTOCOL}\r\n\r\n`;

/** A masked (zero key) client-to-server binary frame header for `len` payload bytes. */
function frameHead(len: number): Buffer {
  if (len < 126) return Buffer.from([0x82, 0x80 | len, 0, 0, 0, 0]);
  if (len < 65536) return Buffer.from([0x82, 0x80 | 126, len >> 8, len & 0xff, 0, 0, 0, 0]);
  const h = Buffer.alloc(14);
  h[0] = 0x82;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(len), 2);
  return h;
}

const BINARY_ADMISSION = Buffer.concat([frameHead(4), Buffer.from([0xc1, 1, 2, 3])]);
const CUT = 200 * 1024;
/** A frame declared CUT bytes long with all but 16 of them sent: `ws` buffers it, waiting for the rest. */
const CUT_FRAME = Buffer.concat([frameHead(CUT), Buffer.alloc(CUT - 16)]);
const ATTACK = Buffer.concat([Buffer.from(UPGRADE), BINARY_ADMISSION, CUT_FRAME]);

interface Held {
  readonly socket: Socket;
  refusedAt?: number;
  closedAt?: number;
}

/** One stranger's connection: resolves once the listener refused it (sent a close frame) or closed it. */
function strike(source: string, held: Held[]): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: relay.port, localAddress: source });
    const h: Held = { socket: s };
    held.push(h);
    let seen = Buffer.alloc(0);
    s.on('error', () => undefined);
    s.on('connect', () => s.write(ATTACK));
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

/** Most sockets open at once among those the listener already refused (client-side intervals). */
function maxHeldAfterRefusal(held: readonly Held[]): number {
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

test('sockets the relay refused stay within its pending cap (a stranger cannot hold hundreds for the close grace)', async () => {
  const held: Held[] = [];
  const total = 300;
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < total) {
      const i = next++;
      await strike(`127.0.0.${2 + ((i + w) % 40)}`, held);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  const attackMs = performance.now() - t0;
  const max = maxHeldAfterRefusal(held);
  console.log(`relay: ${total} strangers in ${Math.round(attackMs)} ms; at most ${max} refused sockets held open at once (~${Math.round((max * CUT) / 2 ** 20)} MiB of cut frames)`);
  for (const h of held) h.socket.destroy();
  expect(max).toBeLessThanOrEqual(2 * DEFAULT_RELAY_MAX_PENDING);
});
