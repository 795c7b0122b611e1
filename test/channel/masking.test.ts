/**
 * WebSocket masking of the sockets this package dials: every frame a channel's initiator and the
 * relay link send carries the all-zero masking key (ws then skips the masking copy and the
 * receiver its unmasking pass; see `zeroMaskKey` in src/channel/frames.ts for why that is safe).
 * A TCP forwarder on 127.0.0.1 records the client's bytes as they are on the wire, and the test
 * parses the WebSocket frames out of them.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { dialRelay } from '../../src/relay/dial';
import { Cleanup, HOST, SESSION, connect, listen, parties } from './_helpers';

interface Recorder {
  port: number;
  /** Client → server bytes so far. */
  bytes(): Buffer;
}

async function recorder(cleanup: Cleanup, target: number): Promise<Recorder> {
  const chunks: Buffer[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(target, HOST);
    sockets.push(client, upstream);
    client.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  cleanup.add(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, bytes: () => Buffer.concat(chunks) };
}

/** The masking keys of the complete WebSocket frames after the HTTP upgrade request. */
function maskKeys(stream: Buffer): { masked: boolean; key: number[]; length: number }[] {
  const end = stream.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  let at = end + 4;
  const out: { masked: boolean; key: number[]; length: number }[] = [];
  while (at + 2 <= stream.length) {
    const b1 = stream[at + 1]!;
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      length = stream.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(stream.readBigUInt64BE(at + 2));
      header = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) header += 4;
    if (at + header + length > stream.length) break;
    out.push({ masked, key: masked ? [...stream.subarray(at + header - 4, at + header)] : [], length });
    at += header + length;
  }
  return out;
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

test('a channel initiator sends every frame with the zero masking key, and the channel still works', async () => {
  const { ids, roster } = parties('a', 'b');
  const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
  const rec = await recorder(cleanup, l.listener.port);
  const client = await connect(cleanup, rec.port, { identity: ids.a!, roster, sessionId: SESSION });
  const server = await l.channels.next(10_000, 'channel');
  const big = new Uint8Array(300_000).fill(5);
  const got = server.receive();
  await client.send(big);
  expect(Buffer.from(await got).equals(Buffer.from(big))).toBe(true);
  const frames = maskKeys(rec.bytes());
  // hello, finish, and the two frames of the 300 kB message (256 KiB chunks) at least.
  expect(frames.length).toBeGreaterThanOrEqual(4);
  expect(frames.every((f) => f.masked && f.key.every((k) => k === 0))).toBe(true);
});

test('the relay link (dialRelay) sends its frames with the zero masking key', async () => {
  const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false, handleProtocols: (p) => p.values().next().value ?? false });
  const received: Buffer[] = [];
  wss.on('connection', (ws) => ws.on('message', (d: Buffer) => received.push(d)));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  cleanup.add(() => new Promise<void>((r) => wss.close(() => r())));
  const rec = await recorder(cleanup, (wss.address() as { port: number }).port);
  const ws = dialRelay(`ws://${HOST}:${rec.port}`, { maxPayload: 1 << 20, proxy: false });
  cleanup.add(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ hello: 'relay' }));
  ws.send(new Uint8Array(1000).fill(9));
  const deadline = Date.now() + 10_000;
  while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(received.map((d) => d.length)).toEqual([17, 1000]);
  const frames = maskKeys(rec.bytes());
  expect(frames.length).toBe(2);
  expect(frames.every((f) => f.masked && f.key.every((k) => k === 0))).toBe(true);
  expect(WebSocket.OPEN).toBe(ws.readyState);
});
