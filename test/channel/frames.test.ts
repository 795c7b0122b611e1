/**
 * Frame sealing/opening in isolation (caps before decryption, counter exhaustion, bindings), and
 * size limits over real sockets.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { ChannelError, CouplerError, ErrorCode } from '../../src/errors';
import { SUITES, connectChannel, type SuiteName } from '../../src/channel';
import { FRAME_HEADER, FrameOpener, FrameSealer, FrameType, MAX_SEQUENCE } from '../../src/channel/frames';
import { getSuite, type Suite } from '../../src/channel/suite';
import { maxFrameBytes } from '../../src/channel/channel';
import { Cleanup, HOST, SESSION, channelPair, closedCode, expectCoupler, listen, parties, rawClient } from './_helpers';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The real suite, with a counter of how often `open` ran (a spy, not a mock: it calls through). */
function countingSuite(name: SuiteName): { suite: Suite; opens: () => number } {
  const real = getSuite(name);
  let n = 0;
  return {
    suite: {
      ...real,
      open: (k, nonce, aad, sealed) => {
        n++;
        return real.open(k, nonce, aad, sealed);
      },
    },
    opens: () => n,
  };
}

const key = (): Uint8Array => new Uint8Array(randomBytes(32));
const throwsCoupler = (fn: () => unknown, code: string): ChannelError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ChannelError);
    expect((e as CouplerError).code).toBe(code);
    return e as ChannelError;
  }
  throw new Error(`expected ${code}`);
};

describe.each(SUITES)('FrameSealer / FrameOpener (%s)', (name) => {
  it('round trip of several frames, strict order', () => {
    const k = key();
    const bind = key();
    const s = new FrameSealer(getSuite(name), new Uint8Array(k), bind, 'p');
    const o = new FrameOpener(getSuite(name), new Uint8Array(k), bind, 'p', 4096);
    const frames = [0, 1, 2].map((i) => s.seal(i === 2 ? FrameType.LAST : FrameType.MORE, new Uint8Array([i, i, i])));
    expect(frames[1]![0]).toBe(FrameType.MORE);
    expect(Buffer.from(frames[1]!.subarray(1, 9)).toString('hex')).toBe('0000000000000001');
    expect(frames.map((f) => [...o.open(f).chunk])).toEqual([[0, 0, 0], [1, 1, 1], [2, 2, 2]]);
    expect(s.nextSequence).toBe(3);
  });

  it('a frame longer than the cap is FRAME_TOO_LARGE before any decryption', () => {
    const { suite, opens } = countingSuite(name);
    const o = new FrameOpener(suite, key(), key(), 'p', 1024);
    const err = throwsCoupler(() => o.open(new Uint8Array(1025)), ErrorCode.FRAME_TOO_LARGE);
    expect(err.peer).toBe('p');
    throwsCoupler(() => o.open(new Uint8Array(10 * 1024 * 1024)), ErrorCode.FRAME_TOO_LARGE);
    expect(opens()).toBe(0);
    // At the cap it gets as far as authentication.
    const f = new Uint8Array(1024);
    f[0] = FrameType.LAST;
    throwsCoupler(() => o.open(f), ErrorCode.FRAME_AUTH_FAILED);
    expect(opens()).toBe(1);
  });

  it('short frames, unknown types and wrong sequence are refused before decryption', () => {
    const { suite, opens } = countingSuite(name);
    const o = new FrameOpener(suite, key(), key(), 'p', 1024);
    throwsCoupler(() => o.open(new Uint8Array(FRAME_HEADER + suite.overhead - 1)), ErrorCode.FRAME_MALFORMED);
    const f = new Uint8Array(64);
    for (const t of [0x00, 0x13, 0xff]) {
      f[0] = t;
      throwsCoupler(() => o.open(f), ErrorCode.FRAME_MALFORMED);
    }
    f[0] = FrameType.LAST;
    f[8] = 1;
    throwsCoupler(() => o.open(f), ErrorCode.FRAME_SEQUENCE);
    f[8] = 0;
    f[1] = 0x80; // 2^63: not a safe integer, still just "out of order"
    throwsCoupler(() => o.open(f), ErrorCode.FRAME_SEQUENCE);
    expect(opens()).toBe(0);
  });

  it('a frame opened with another binding or key fails authentication, and does not advance the counter', () => {
    const k = key();
    const s = new FrameSealer(getSuite(name), new Uint8Array(k), key(), 'p');
    const frame = s.seal(FrameType.LAST, new Uint8Array([1, 2, 3]));
    throwsCoupler(() => new FrameOpener(getSuite(name), new Uint8Array(k), key(), 'p', 4096).open(frame), ErrorCode.FRAME_AUTH_FAILED);
    throwsCoupler(() => new FrameOpener(getSuite(name), key(), key(), 'p', 4096).open(frame), ErrorCode.FRAME_AUTH_FAILED);
  });

  it('counter exhaustion: seals at MAX_SEQUENCE - 1 once, then COUNTER_EXHAUSTED', () => {
    const s = new FrameSealer(getSuite(name), key(), key(), 'p', MAX_SEQUENCE - 1);
    const f = s.seal(FrameType.LAST, new Uint8Array(1));
    const seq = new DataView(f.buffer, f.byteOffset).getUint32(1) * 2 ** 32 + new DataView(f.buffer, f.byteOffset).getUint32(5);
    expect(seq).toBe(MAX_SEQUENCE - 1);
    const err = throwsCoupler(() => s.seal(FrameType.LAST, new Uint8Array(1)), ErrorCode.COUNTER_EXHAUSTED);
    expect(err.peer).toBe('p');
    throwsCoupler(() => s.seal(FrameType.CLOSE, new Uint8Array(0)), ErrorCode.COUNTER_EXHAUSTED);
  });
});

describe('sizes over real sockets', () => {
  it('a raw 10 MB message to the listener is cut off by ws maxPayload (close 1009)', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const ws = await rawClient(cleanup, l.listener.port);
    const code = closedCode(ws);
    ws.send(new Uint8Array(10 * 1024 * 1024));
    // 1009 = message too big: ws refused it from the frame header, before buffering the payload.
    expect(await code).toBe(1009);
    const err = await l.errors.next();
    expect(err.code).toBe(ErrorCode.HANDSHAKE_FAILED);
  });

  it('after the handshake, a frame above the cap from the peer closes the channel', async () => {
    // The server's chunk (and frame cap) is smaller than the client's.
    const { client, server } = await channelPair(cleanup, { serverLimits: { chunkBytes: 1024 }, clientLimits: { chunkBytes: 64 * 1024 } });
    const pending = server.receive();
    await client.send(new Uint8Array(32 * 1024)).catch(() => undefined);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CouplerError);
    // ws enforces maxPayload = maxFrameBytes(chunkBytes) first, so the socket dies with 1009.
    expect(maxFrameBytes(1024)).toBeLessThan(32 * 1024);
    expect(await server.closed).toBeInstanceOf(CouplerError);
  });

  it('send refuses a message above maxMessageBytes with MESSAGE_TOO_LARGE, and the channel stays usable', async () => {
    const { client, server } = await channelPair(cleanup, { limits: { maxMessageBytes: 4096, chunkBytes: 1024 } });
    const err = await expectCoupler(client.send(new Uint8Array(4097)), ChannelError, ErrorCode.MESSAGE_TOO_LARGE);
    expect(err.peer).toBe('b');
    await client.send(new Uint8Array(4096).fill(7));
    const got = await server.receive();
    expect(got.length).toBe(4096);
    expect(got.every((b) => b === 7)).toBe(true);
  });

  it('a received message above maxMessageBytes closes the channel with MESSAGE_TOO_LARGE', async () => {
    const { client, server } = await channelPair(cleanup, {
      serverLimits: { maxMessageBytes: 8 * 1024, chunkBytes: 1024 },
      clientLimits: { maxMessageBytes: 1024 * 1024, chunkBytes: 1024 },
    });
    const pending = server.receive();
    await client.send(new Uint8Array(8 * 1024 + 1)).catch(() => undefined);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChannelError);
    expect((err as CouplerError).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect((err as CouplerError).peer).toBe('a');
    expect(await server.closed).toBe(err);
  });
});

describe('close', () => {
  it('a clean close resolves `closed` with undefined on both sides and flushes queued messages', async () => {
    const { client, server } = await channelPair(cleanup);
    const sends = [client.send(new Uint8Array([1])), client.send(new Uint8Array([2]))];
    await client.close();
    await Promise.all(sends);
    expect(await client.closed).toBeUndefined();
    expect([...(await server.receive())]).toEqual([1]);
    expect([...(await server.receive())]).toEqual([2]);
    expect(await server.closed).toBeUndefined();
    await expectCoupler(server.receive(), ChannelError, ErrorCode.CHANNEL_CLOSED);
    await expectCoupler(client.send(new Uint8Array(1)), ChannelError, ErrorCode.CHANNEL_CLOSED);
    await client.close(); // idempotent
  });

  it('receive with a timeout rejects TIMEOUT naming the peer and leaves the channel open', async () => {
    const { client, server } = await channelPair(cleanup);
    const err = await server.receive({ timeoutMs: 50 }).catch((e: unknown) => e);
    expect((err as CouplerError).code).toBe(ErrorCode.TIMEOUT);
    expect((err as CouplerError).peer).toBe('a');
    await client.send(new Uint8Array([5]));
    expect([...(await server.receive())]).toEqual([5]);
  });

  it('a peer that vanishes (socket terminated) closes the channel with CHANNEL_CLOSED', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const client = await connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION });
    const server = await l.channels.next();
    const pending = server.receive();
    client.destroy();
    const err = await pending.catch((e: unknown) => e);
    expect((err as CouplerError).code).toBe(ErrorCode.CHANNEL_CLOSED);
    expect((await server.closed)!.peer).toBe('a');
    expect(WebSocket.OPEN).toBe(1);
  });
});
