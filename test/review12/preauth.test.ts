/**
 * review12: what one unauthenticated connection can make a listener hold — checked on a real
 * listenChannels endpoint on 127.0.0.1 with raw sockets: oversized upgrade headers, pipelined plain
 * requests that are never read, a large message before the hello, a wrong hello followed by a burst.
 * Each connection must be closed within the listener's deadlines, and a real peer still connects.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { connectChannel, listenChannels, type ChannelListener } from '../../src/channel';
import { Initiator } from '../../src/channel/handshake';
import { createRoster } from '../../src/identity/roster';
import { testIdentity } from '../support/identity';

const a = testIdentity('a');
const b = testIdentity('b');
const roster = createRoster([
  { id: 'a', publicKey: a.publicKey },
  { id: 'b', publicKey: b.publicKey },
]);
const sessionId = `review12-${randomBytes(4).toString('hex')}`;
let listener: ChannelListener;

beforeAll(async () => {
  listener = await listenChannels({ identity: b, roster, sessionId, host: '127.0.0.1', port: 0, onChannel: (ch) => ch.destroy() });
});
afterAll(() => listener.close());

const UPGRADE =
  'GET /coupler/1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: coupler.1\r\n\r\n';

/** A masked client-to-server binary frame. */
function clientFrame(payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x82, 0x80 | len]) : len < 65536 ? Buffer.from([0x82, 0x80 | 126, len >> 8, len & 0xff]) : (() => {
    const h = Buffer.alloc(10);
    h[0] = 0x82;
    h[1] = 0x80 | 127;
    h.writeBigUInt64BE(BigInt(len), 2);
    return h;
  })();
  return Buffer.concat([head, Buffer.alloc(4), payload]); // zero mask key: payload as is
}

/**
 * Open a raw socket, write `bytes`, read nothing for `silentMs` (what the listener sends piles up
 * on its side), then read and discard; resolves with how long until the listener closed it.
 */
function closedAfter(bytes: Buffer | string, limitMs: number, silentMs = 0): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s: Socket = connect({ host: '127.0.0.1', port: listener.port });
    s.on('error', () => undefined);
    s.pause();
    s.on('connect', () => s.write(bytes));
    setTimeout(() => s.on('data', () => undefined).resume(), silentMs);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(Infinity);
    }, limitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

test('oversized upgrade headers (64 KiB) are answered and closed at once', async () => {
  const ms = await closedAfter(`GET /coupler/1 HTTP/1.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 5_000);
  expect(ms).toBeLessThan(1_000);
});

test('2 000 pipelined plain requests never read: closed by the 2 s upgrade deadline', async () => {
  const ms = await closedAfter('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2_000), 6_000, 2_500);
  expect(ms).toBeLessThan(3_500);
});

test('a 200 KiB message instead of a hello: refused at once', async () => {
  const ms = await closedAfter(Buffer.concat([Buffer.from(UPGRADE), clientFrame(Buffer.alloc(200 * 1024))]), 5_000);
  expect(ms).toBeLessThan(1_500);
});

test('a hello of another session followed by 500 more messages in one write: refused at once', async () => {
  const hello = Buffer.from(new Initiator({ identity: a, localId: 'a', roster, sessionId: 'another-session', suite: 'native' }).hello());
  const burst = Buffer.concat([Buffer.from(UPGRADE), clientFrame(hello), ...Array.from({ length: 500 }, () => clientFrame(Buffer.alloc(1000)))]);
  const ms = await closedAfter(burst, 5_000);
  expect(ms).toBeLessThan(1_500);
});

test('after all of that, a real peer connects at once', async () => {
  const t0 = Date.now();
  const ch = await connectChannel({ host: '127.0.0.1', port: listener.port }, { identity: a, roster, sessionId, handshakeTimeoutMs: 5_000 });
  expect(ch.peerId).toBe('b');
  ch.destroy();
  expect(Date.now() - t0).toBeLessThan(2_000);
});
