/**
 * review12: the dialling side of a party pointed (by DNS) at a hostile listener — a raw TCP server
 * on 127.0.0.1 writing hand-made HTTP and WebSocket bytes. connectChannel must settle within its
 * handshake deadline with a typed CouplerError that names nobody (the far end proved nothing).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { connectChannel, SUBPROTOCOL } from '../../src/channel';
import { CouplerError } from '../../src/errors';
import { encodeMessage } from '../../src/wire/codec';
import { testIdentity } from '../support/identity';
import { createRoster } from '../../src/identity/roster';

const me = testIdentity('p1');
const other = testIdentity('p2');
const roster = createRoster([
  { id: 'p1', publicKey: me.publicKey },
  { id: 'p2', publicKey: other.publicKey },
]);
const DEADLINE = 1_500;

function accept101(req: string, protocol = SUBPROTOCOL): string {
  const key = /sec-websocket-key:\s*(\S+)/i.exec(req)?.[1] ?? '';
  const acceptKey = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`;
}

/** One unmasked server-to-client WebSocket frame. */
function frame(opcode: number, payload: Buffer, declared = payload.length): Buffer {
  let head: Buffer;
  if (declared < 126) head = Buffer.from([0x80 | opcode, declared]);
  else if (declared < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(declared, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(declared), 2);
  }
  return Buffer.concat([head, payload]);
}

type Behaviour = (s: Socket, request: string) => void;

const behaviours: [string, Behaviour][] = [
  ['accepts and never answers', () => undefined],
  ['answers 200 and trickles a body forever', (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n');
    const t = setInterval(() => s.write('x'), 50);
    s.on('close', () => clearInterval(t));
  }],
  ['trickles header lines forever', (s) => {
    s.write('HTTP/1.1 101 Switching Protocols\r\n');
    const t = setInterval(() => s.write('X-A: b\r\n'), 50);
    s.on('close', () => clearInterval(t));
  }],
  ['answers 64 KiB of headers', (s) => s.write(`HTTP/1.1 101 Switching Protocols\r\n${'X-A: '.padEnd(1000, 'b')}\r\n`.repeat(64) + '\r\n')],
  ['redirects elsewhere', (s) => s.write('HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/coupler/1\r\nContent-Length: 0\r\n\r\n')],
  ['101 with a wrong accept key', (s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n')],
  ['101 with another subprotocol', (s, req) => s.write(accept101(req, 'other.1'))],
  ['101, then a 200 KiB binary message', (s, req) => s.write(Buffer.concat([Buffer.from(accept101(req)), frame(2, Buffer.alloc(200 * 1024))]))],
  ['101, then a frame declaring 2^40 bytes', (s, req) => s.write(Buffer.concat([Buffer.from(accept101(req)), frame(2, Buffer.alloc(8), 2 ** 40)]))],
  ['101, then text messages', (s, req) => s.write(Buffer.concat([Buffer.from(accept101(req)), frame(1, Buffer.from('hello')), frame(1, Buffer.from('again'))]))],
  ['101, then a reply of garbage msgpack', (s, req) => s.write(Buffer.concat([Buffer.from(accept101(req)), frame(2, Buffer.from([0xc1, 0xdd, 0xff]))]))],
  ['101, then a well-formed reply whose box fails', (s, req) =>
    s.write(Buffer.concat([Buffer.from(accept101(req)), frame(2, Buffer.from(encodeMessage({ t: 'reply', eph: new Uint8Array(32).fill(9), nonce: new Uint8Array(32), box: new Uint8Array(80) })))]))],
  ['101, then a low-order ephemeral key', (s, req) =>
    s.write(Buffer.concat([Buffer.from(accept101(req)), frame(2, Buffer.from(encodeMessage({ t: 'reply', eph: new Uint8Array(32), nonce: new Uint8Array(32), box: new Uint8Array(80) })))]))],
  ['101, then refuse "unknown-peer"', (s, req) => s.write(Buffer.concat([Buffer.from(accept101(req)), frame(2, Buffer.from(encodeMessage({ t: 'refuse', reason: 'unknown-peer' })))]))],
  ['101, then pings forever', (s, req) => {
    s.write(accept101(req));
    const t = setInterval(() => s.write(frame(9, Buffer.from('p'))), 20);
    s.on('close', () => clearInterval(t));
  }],
  ['101, then a close frame with a 120-byte reason', (s, req) => s.write(Buffer.concat([Buffer.from(accept101(req)), frame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.alloc(120, 0x61)]))]))],
];

describe.each(behaviours)('a hostile listener that %s', (_name, behave) => {
  let server: Server;
  let port = 0;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      let buf = '';
      let done = false;
      s.on('data', (d: Buffer) => {
        if (done) return;
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) {
          done = true;
          behave(s, buf);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  test('connectChannel settles in time with a typed error naming nobody', async () => {
    const t0 = Date.now();
    let error: unknown;
    try {
      const ch = await connectChannel({ host: '127.0.0.1', port }, { identity: me, roster, sessionId: 'review12-dial', handshakeTimeoutMs: DEADLINE });
      ch.destroy();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CouplerError);
    expect((error as CouplerError).peer).toBeUndefined();
    expect((error as CouplerError).peers).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(DEADLINE + 1_000);
  });
});
