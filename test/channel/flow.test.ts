/**
 * Large messages, ordering, and backpressure over real sockets.
 */
import { SUITES } from '../../src/channel';
import { Cleanup, SESSION, channelPair, connect, exposedPair, listen, parties, patternBytes, sha256, until } from './_helpers';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const MiB = 1024 * 1024;

describe.each(SUITES)('large messages (%s)', (suite) => {
  it('a 16 MiB message arrives intact', async () => {
    const { client, server } = await channelPair(cleanup, { suite });
    const big = patternBytes(16 * MiB, 1);
    const got = server.receive();
    await client.send(big);
    const m = await got;
    expect(m.length).toBe(16 * MiB);
    expect(sha256(m)).toBe(sha256(big));
    expect(client.stats.messagesSent).toBe(1);
    expect(server.stats.messagesReceived).toBe(1);
    expect(server.stats.bytesReceived).toBe(client.stats.bytesSent);
  }, 60_000);
});

describe('messages', () => {
  it("a 1M-element Float64Array's bytes arrive intact", async () => {
    const { client, server } = await channelPair(cleanup);
    const values = new Float64Array(1_000_000);
    for (let i = 0; i < values.length; i++) values[i] = Math.sin(i) * 1e6 + i / 7;
    const bytes = new Uint8Array(values.buffer);
    const got = server.receive();
    await server.send(new Uint8Array([1])); // the other direction at the same time
    await client.send(bytes);
    const m = await got;
    expect(sha256(m)).toBe(sha256(bytes));
    const back = new Float64Array(m.buffer.slice(m.byteOffset, m.byteOffset + m.byteLength));
    expect(back[123_456]).toBe(values[123_456]);
    expect([...(await client.receive())]).toEqual([1]);
  });

  it.each(SUITES)('many small messages, sent the moment connectChannel resolves, arrive in order (%s)', async (suite) => {
    // The initiator may send before the responder has processed "finish"; those frames reach the
    // responder while its handshake is still running and must be kept, in order.
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, suite });
    const client = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION, suite });
    const n = 2000;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) sends.push(client.send(new Uint8Array([i & 0xff, i >> 8])));
    const server = await l.channels.next();
    const got: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = await server.receive();
      got.push(m[0]! | (m[1]! << 8));
    }
    await Promise.all(sends);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(server.closeError).toBeUndefined();
  });

  it('empty messages and messages of exactly one chunk or one chunk + 1 byte', async () => {
    const chunk = 1024;
    const { client, server } = await channelPair(cleanup, { limits: { chunkBytes: chunk } });
    const sizes = [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk];
    for (const s of sizes) void client.send(patternBytes(s, s));
    for (const s of sizes) expect(sha256(await server.receive())).toBe(sha256(patternBytes(s, s)));
  });

  it('setMessageHandler gets queued messages first, then new ones, in order', async () => {
    const { client, server } = await channelPair(cleanup);
    for (let i = 0; i < 5; i++) await client.send(new Uint8Array([i]));
    await until(() => server.stats.messagesReceived === 5);
    const seen: number[] = [];
    server.setMessageHandler((m) => seen.push(m[0]!));
    for (let i = 5; i < 10; i++) await client.send(new Uint8Array([i]));
    await until(() => seen.length === 10);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('backpressure', () => {
  it('a 64 MiB burst to a receiver that does not read: sender buffer and receiver memory stay bounded', async () => {
    const chunkBytes = 64 * 1024;
    const sendHighWaterBytes = 256 * 1024;
    const receiveHighWaterBytes = 2 * MiB;
    const messageBytes = MiB;
    const count = 64;
    const { client, server, clientWs } = await exposedPair(cleanup, {
      clientLimits: { chunkBytes, sendHighWaterBytes },
      serverLimits: { chunkBytes, receiveHighWaterBytes },
    });
    const payloads = Array.from({ length: count }, (_, i) => patternBytes(messageBytes, 1000 + i));

    let maxBuffered = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxBuffered = Math.max(maxBuffered, clientWs.bufferedAmount);
        await new Promise((r) => setImmediate(r));
      }
    })();

    let sent = 0;
    const burst = (async () => {
      for (const p of payloads) {
        await client.send(p);
        sent++;
      }
    })();

    // Wait until the pipe is full: the receiver has queued more than its high-water mark (so it
    // paused the socket) and nothing has moved for a while. Bounded by a deadline, not asserted.
    let last = -1;
    let still = 0;
    await until(() => {
      const now = server.stats.bytesReceived + client.stats.bytesSent;
      still = now === last ? still + 1 : 0;
      last = now;
      return server.stats.messagesReceived * messageBytes > receiveHighWaterBytes && still >= 40;
    }, 30_000, 'a stalled pipe');

    // The sender is stuck well before the end of the burst (the kernel buffers hold a few MiB).
    expect(sent).toBeLessThan(count);
    expect(client.stats.bytesSent).toBeLessThan(count * messageBytes);
    // The receiver holds at most its high-water mark plus the message that crossed it, plus what
    // ws had already parsed from the last socket read.
    expect(server.stats.messagesReceived * messageBytes).toBeLessThanOrEqual(receiveHighWaterBytes + 2 * messageBytes);
    expect(server.stats.bytesReceived).toBeLessThanOrEqual(receiveHighWaterBytes + 3 * messageBytes);
    // The sender's socket buffer never grew past the high-water mark plus one frame (+ slack).
    const frame = chunkBytes + 64;
    expect(maxBuffered).toBeLessThanOrEqual(sendHighWaterBytes + 2 * frame);

    // Now read everything: the socket resumes, the burst completes, all intact and in order.
    for (let i = 0; i < count; i++) {
      const m = await server.receive();
      expect(sha256(m)).toBe(sha256(payloads[i]!));
    }
    await burst;
    sampling = false;
    await sampler;
    expect(sent).toBe(count);
    expect(maxBuffered).toBeLessThanOrEqual(sendHighWaterBytes + 2 * frame);
  }, 60_000);
});
