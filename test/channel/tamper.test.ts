/**
 * On-path attacker after the handshake (test/support/proxy.ts): every modification of the frame
 * stream closes the receiving channel with the right typed error naming the peer; pending
 * receives reject; later sends reject with CHANNEL_CLOSED.
 *
 * Proxy indices: c2s 0 hello, c2s 1 finish, c2s 2+k = a's frame with sequence k;
 * s2c 0 reply, s2c 1 ok (the confirmation), s2c 2+k = b's frame with sequence k. Each test message
 * fits in one frame.
 */
import { ChannelError, CouplerError, ErrorCode } from '../../src/errors';
import { SUITES, type SecureChannel, type SuiteName } from '../../src/channel';
import { startProxy, type OnPathProxy, type ProxyRule } from '../support/proxy';
import { Cleanup, HOST, SESSION, connect, expectCoupler, listen, parties } from './_helpers';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const N = 6;
const msg = (i: number): Uint8Array => new Uint8Array(Buffer.from(`message number ${i}`));
const C2S = (seq: number): number => 2 + seq;
const S2C = (seq: number): number => 2 + seq;

async function setup(rules: ProxyRule[], suite: SuiteName = 'native', proxyIn?: { ids: ReturnType<typeof parties> }) {
  const p = proxyIn?.ids ?? parties('a', 'b');
  const l = await listen(cleanup, { identity: p.ids.b!, roster: p.roster, sessionId: SESSION, suite });
  const proxy = await startProxy({ host: HOST, port: l.listener.port }, rules);
  cleanup.add(() => proxy.close());
  const a = await connect(cleanup, proxy.port, { identity: p.ids.a!, roster: p.roster, sessionId: SESSION, suite });
  const b = await l.channels.next();
  return { a, b, proxy, p, listener: l };
}

/** Receive until the channel fails; returns what arrived and the rejection. */
async function drain(ch: SecureChannel): Promise<{ got: string[]; err: unknown }> {
  const got: string[] = [];
  for (;;) {
    try {
      got.push(Buffer.from(await ch.receive()).toString());
    } catch (err) {
      return { got, err };
    }
  }
}

/** Sender sends N messages (ignoring failures once the channel is cut). */
async function sendAll(ch: SecureChannel, n = N): Promise<void> {
  for (let i = 0; i < n; i++) await ch.send(msg(i)).catch(() => undefined);
}

async function expectBroken(receiver: SecureChannel, sender: SecureChannel, code: string, delivered: number): Promise<ChannelError> {
  const received = drain(receiver); // a receive() is pending when the bad frame arrives
  await sendAll(sender);
  const { got, err } = await received;
  const closedWith = await receiver.closed;
  expect(closedWith).toBeInstanceOf(ChannelError);
  expect(closedWith!.code).toBe(code);
  expect(closedWith!.peer).toBe(sender.localId);
  expect(receiver.isClosed).toBe(true);
  expect(receiver.closeError).toBe(closedWith);
  // A receive() pending when the bad frame arrived rejects with that very error; one called after
  // the close (the loop first drains messages queued before it) gets CHANNEL_CLOSED caused by it.
  if (err !== closedWith) {
    expect(err).toBeInstanceOf(ChannelError);
    expect((err as CouplerError).code).toBe(ErrorCode.CHANNEL_CLOSED);
    expect((err as Error).cause).toBe(closedWith);
  }
  // What arrived before the bad frame arrived intact and in order.
  expect(got).toEqual(Array.from({ length: delivered }, (_, i) => Buffer.from(msg(i)).toString()));
  // Later sends and receives are refused.
  await expectCoupler(receiver.send(msg(99)), ChannelError, ErrorCode.CHANNEL_CLOSED);
  await expect(receiver.receive()).rejects.toBeInstanceOf(ChannelError);
  // The receiver cut the connection; the sender notices.
  const senderErr = await sender.closed;
  expect(senderErr).toBeInstanceOf(CouplerError);
  await expectCoupler(sender.send(msg(100)), ChannelError, ErrorCode.CHANNEL_CLOSED);
  return closedWith as ChannelError;
}

describe.each(SUITES)('tampering with frames (%s)', (suite) => {
  it('no tampering: everything arrives (control)', async () => {
    const { a, b, proxy } = await setup([], suite);
    const received = (async () => {
      const out: string[] = [];
      for (let i = 0; i < N; i++) out.push(Buffer.from(await b.receive()).toString());
      return out;
    })();
    await sendAll(a);
    expect(await received).toEqual(Array.from({ length: N }, (_, i) => Buffer.from(msg(i)).toString()));
    expect(proxy.recorded[0]!.c2s).toHaveLength(2 + N);
  });

  it('bit flip in the ciphertext: FRAME_AUTH_FAILED', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(2), action: { type: 'flip', byte: 12, bit: 2 } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_AUTH_FAILED, 2);
  });

  it('bit flip in the first frame: the pending receive() rejects with FRAME_AUTH_FAILED itself', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(0), action: { type: 'flip', byte: 20 } }], suite);
    const pending = b.receive(); // nothing queued: this receive is certainly pending
    await a.send(msg(0)).catch(() => undefined);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChannelError);
    expect((err as CouplerError).code).toBe(ErrorCode.FRAME_AUTH_FAILED);
    expect((err as CouplerError).peer).toBe('a');
    expect(await b.closed).toBe(err);
    await expectCoupler(b.send(msg(1)), ChannelError, ErrorCode.CHANNEL_CLOSED);
  });

  it('bit flip in the tag: FRAME_AUTH_FAILED', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(3), action: { type: 'flip', byte: -1, bit: 7 } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_AUTH_FAILED, 3);
  });

  it('bit flip in the frame type (LAST -> MORE, both valid): FRAME_AUTH_FAILED, the type is authenticated', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(1), action: { type: 'flip', byte: 0, bit: 0 } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_AUTH_FAILED, 1);
  });

  it('bit flip in the sequence number: FRAME_SEQUENCE (checked before decryption)', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(2), action: { type: 'flip', byte: 8, bit: 0 } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_SEQUENCE, 2);
  });

  it('dropped frame: FRAME_SEQUENCE at the next frame', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(2), action: { type: 'drop' } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_SEQUENCE, 2);
  });

  it('duplicated frame: FRAME_SEQUENCE', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(1), action: { type: 'duplicate' } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_SEQUENCE, 2);
  });

  it('two consecutive frames swapped: FRAME_SEQUENCE', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(2), action: { type: 'swapWithNext' } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_SEQUENCE, 2);
  });

  it('truncated frame: FRAME_AUTH_FAILED (or FRAME_MALFORMED when shorter than header + tag)', async () => {
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(1), action: { type: 'truncate', length: -1 } }], suite);
    await expectBroken(b, a, ErrorCode.FRAME_AUTH_FAILED, 1);
    const s2 = await setup([{ direction: 'c2s', index: C2S(1), action: { type: 'truncate', length: 10 } }], suite);
    await expectBroken(s2.b, s2.a, ErrorCode.FRAME_MALFORMED, 1);
  });

  it('the other direction (responder -> initiator) is protected the same way', async () => {
    const { a, b } = await setup([{ direction: 's2c', index: S2C(1), action: { type: 'flip', byte: 15 } }], suite);
    await expectBroken(a, b, ErrorCode.FRAME_AUTH_FAILED, 1);
    const s2 = await setup([{ direction: 's2c', index: S2C(0), action: { type: 'drop' } }], suite);
    await expectBroken(s2.a, s2.b, ErrorCode.FRAME_SEQUENCE, 0);
  });

  it('a frame reflected back to its sender (a->b frame injected into b->a): FRAME_AUTH_FAILED', async () => {
    // Same sequence number, but each direction has its own key and binding.
    const { a, b, proxy } = await setup([], suite);
    await a.send(msg(0));
    expect(Buffer.from(await b.receive()).toString()).toBe(Buffer.from(msg(0)).toString());
    proxy.addRule({ direction: 's2c', index: S2C(0), action: { type: 'replace', bytes: proxy.recorded[0]!.c2s[C2S(0)]! } });
    const received = drain(a);
    await b.send(msg(0)).catch(() => undefined);
    const { err } = await received;
    expect((err as CouplerError).code).toBe(ErrorCode.FRAME_AUTH_FAILED);
    expect((err as CouplerError).peer).toBe('b');
  });
});

describe('replay across sessions', () => {
  async function recordEarlierSession(p: ReturnType<typeof parties>): Promise<OnPathProxy> {
    const first = await setup([], 'native', { ids: p });
    const received = (async () => {
      for (let i = 0; i < N; i++) await first.b.receive();
    })();
    await sendAll(first.a);
    await received;
    await first.a.close();
    return first.proxy;
  }

  it('a frame recorded in an earlier session, injected with the expected sequence number: FRAME_AUTH_FAILED', async () => {
    const p = parties('a', 'b');
    const earlier = await recordEarlierSession(p);
    const old = earlier.recorded[0]!.c2s;
    // Same parties, same session id, so only the fresh ephemeral keys and nonces differ. The old
    // frame carries sequence 2, which is exactly what the new receiver expects next, so the
    // sequence check passes and only the AEAD can catch it: the keys and the binding come from
    // the new transcript. Hence FRAME_AUTH_FAILED, not FRAME_SEQUENCE.
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(2), action: { type: 'replace', bytes: old[C2S(2)]! } }], 'native', { ids: p });
    await expectBroken(b, a, ErrorCode.FRAME_AUTH_FAILED, 2);
  });

  it('an old frame injected with a stale sequence number: FRAME_SEQUENCE', async () => {
    const p = parties('a', 'b');
    const earlier = await recordEarlierSession(p);
    const old = earlier.recorded[0]!.c2s;
    // The receiver expects sequence 3; the replayed frame says 0, so the cheap sequence check
    // refuses it before any decryption.
    const { a, b } = await setup([{ direction: 'c2s', index: C2S(3), action: { type: 'injectBefore', bytes: old[C2S(0)]! } }], 'native', { ids: p });
    await expectBroken(b, a, ErrorCode.FRAME_SEQUENCE, 3);
  });
});
