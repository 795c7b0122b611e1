/**
 * review19 R19-1, R19-2: what an authenticated peer can make a channel hold with frames that carry
 * (almost) nothing. The channel caps a message's BYTES (maxMessageBytes) and the queue's BYTES
 * (receiveHighWaterBytes), but every part and every queued message is a JavaScript object of
 * ~200 bytes of heap whatever it carries: an empty frame is 25 bytes on the wire.
 *
 * Real listener (listenChannels), the attacker's frames sealed with its own real keys
 * (support.ts). Timing is only bounded, never asserted.
 */
import { ChannelError, ErrorCode } from '../../src/errors';
import { FrameType } from '../../src/channel/frames';
import { Cleanup, until } from '../channel/_helpers';
import { frameAttacker, sendFrames } from './support';

jest.setTimeout(60_000);
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('R19-1: a message in parts that carry nothing', () => {
  it('empty MORE frames are refused: the channel closes FRAME_MALFORMED naming the sender, it does not keep one part per frame', async () => {
    const { victim, ws, sealer } = await frameAttacker(cleanup);
    victim.setMessageHandler(() => undefined);
    const N = 20_000; // 500 kB on the wire; on the code before the fix ~3.7 MiB of parts held, and no end to it
    const empty = new Uint8Array(0);
    function* frames(): Generator<Uint8Array> {
      for (let i = 0; i < N; i++) yield sealer.seal(FrameType.MORE, empty);
    }
    await sendFrames(ws, frames()).catch(() => undefined); // the victim may cut the socket early
    await until(() => victim.isClosed || victim.stats.bytesReceived >= N * 25, 30_000, 'the victim read every frame or closed');
    expect(victim.isClosed).toBe(true);
    const err = victim.closeError;
    expect(err).toBeInstanceOf(ChannelError);
    expect(err!.code).toBe(ErrorCode.FRAME_MALFORMED);
    expect(err!.peer).toBe('a');
  });

  it('MORE frames of one byte each are refused as well (an honest sender fills every MORE frame with chunkBytes ≥ 1024)', async () => {
    const { victim, ws, sealer } = await frameAttacker(cleanup);
    victim.setMessageHandler(() => undefined);
    const one = new Uint8Array(1);
    function* frames(): Generator<Uint8Array> {
      for (let i = 0; i < 1000; i++) yield sealer.seal(FrameType.MORE, one);
    }
    await sendFrames(ws, frames()).catch(() => undefined);
    await until(() => victim.isClosed || victim.stats.bytesReceived >= 1000 * 26, 30_000, 'the victim read every frame or closed');
    expect(victim.closeError?.code).toBe(ErrorCode.FRAME_MALFORMED);
  });

  it('a message an honest sender splits with the smallest chunk size (1024) still arrives whole', async () => {
    const { victim, ws, sealer } = await frameAttacker(cleanup);
    const got = victim.receive({ timeoutMs: 20_000 });
    const message = new Uint8Array(5000).map((_, i) => i & 255);
    const frames = [0, 1024, 2048, 3072, 4096].map((at) => sealer.seal(at + 1024 >= 5000 ? FrameType.LAST : FrameType.MORE, message.subarray(at, Math.min(at + 1024, 5000))));
    await sendFrames(ws, frames);
    expect(Buffer.from(await got).equals(Buffer.from(message))).toBe(true);
    expect(victim.isClosed).toBe(false);
  });
});

describe('R19-2: empty messages queued for a reader that does not keep up', () => {
  it('the receive queue pauses the socket on many empty messages too (each counted, not as 0 bytes)', async () => {
    const { victim, ws, sealer } = await frameAttacker(cleanup, { limits: { receiveHighWaterBytes: 1024 * 1024 } });
    // Nobody receives: every message goes to the queue, which pauses the socket above its mark.
    const N = 100_000; // 2.5 MB on the wire; on the code before the fix all of it was queued (~18 MiB of heap)
    const empty = new Uint8Array(0);
    for (let i = 0; i < N; i++) ws.send(sealer.seal(FrameType.LAST, empty), { binary: true, compress: false });
    // Wait until the victim stops reading (paused) or has read everything.
    let last = -1;
    await until(
      () => {
        const now = victim.stats.messagesReceived;
        const still = now === last;
        last = now;
        return now >= N || (still && now > 0);
      },
      30_000,
      'the victim paused or read everything',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(victim.stats.messagesReceived).toBeLessThan(N / 2);
    // and the queue drains and resumes when the application reads
    for (let i = 0; i < N; i++) await victim.receive({ timeoutMs: 20_000 });
    expect(victim.stats.messagesReceived).toBe(N);
  });
});
