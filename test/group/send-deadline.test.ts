/**
 * A send to a peer that stopped reading (a stopped process, a paused VM, a path cut without a
 * reset: its socket open, nothing taken) completes only once the bytes are handed to the socket,
 * and once the kernel's buffers toward that peer and the channel's own are full, never. Every
 * protocol step that awaited its sends before its gather hung there, past every deadline (the echo
 * broadcast's first round, commit-then-open, the deal of a share vector). A send now has the
 * round's deadline, as a gather does: past it the send fails with a TimeoutError naming the peer
 * (asked first, as a gather asks a silent peer). In-process parties, real channels; p3 is made to
 * stop reading p1's connection by a userspace TCP forwarder that stops reading both ways.
 */
import { CouplerError, ErrorCode } from '../../src/errors';
import { threeViaForwarder } from '../support/three-via-forwarder';

const ROUND_MS = 1_500;

test('a send that the socket does not take within the round deadline fails naming the peer, instead of hanging', async () => {
  const { g1, via, close } = await threeViaForwarder({ roundTimeoutMs: ROUND_MS });
  try {
    via.stall(); // p3 stops reading what p1 sends (and p1 what p3 sends)
    // Enough to fill the kernel's buffers on both sides of the forwarder and the channel's own.
    const fills = Array.from({ length: 12 }, (_, i) => g1.send('p3', `fill.1/x${i}`, new Uint8Array(4 << 20)).then(() => 'sent', (e: unknown) => e));
    const t0 = Date.now();
    const small = g1.sendToAll('x.1/r', 1).then(() => 'sent', (e: unknown) => e);
    const hung = new Promise((r) => setTimeout(() => r('hung'), 6 * ROUND_MS));
    const outcome = await Promise.race([small, hung]);
    // Before: 'hung' (the send to p3 waits behind bytes that never leave).
    expect(outcome).toBeInstanceOf(CouplerError);
    const e = outcome as CouplerError;
    expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
    expect(Date.now() - t0).toBeLessThan(3 * ROUND_MS);
    // The big sends that could not leave fail the same way; the ones the buffers took are sent.
    const results = await Promise.race([Promise.all(fills), new Promise((r) => setTimeout(() => r('hung'), 6 * ROUND_MS))]);
    expect(results).not.toBe('hung');
    const failed = (results as unknown[]).filter((r) => r !== 'sent') as CouplerError[];
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect({ code: f.code, peers: f.peers }).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
    // p2 is not affected.
    await g1.send('p2', 'x.2/r', 2);
  } finally {
    await close();
  }
}, 60_000);

test('a send over a slow link that still moves bytes is waited for past the round deadline', async () => {
  // The socket's callbacks, which tell that bytes left, come once per batch of queued frames (up
  // to sendHighWaterBytes): a link is seen moving at the granularity of that batch. 512 KiB at
  // 2 MiB/s: a sign of progress every quarter second or so, well within the round deadline.
  const { g1, g3, via, close } = await threeViaForwarder({ roundTimeoutMs: ROUND_MS, sendHighWaterBytes: 512 << 10 });
  try {
    via.throttle(2 << 20); // 2 MiB/s each way between p1 and p3
    const t0 = Date.now();
    // 8 MiB: about 4 s through the throttle, well past the 1.5 s round deadline.
    const sent = await g1.send('p3', 'slow.1/x', new Uint8Array(8 << 20)).then(() => 'sent', (e: unknown) => e);
    expect(sent).toBe('sent');
    expect(Date.now() - t0).toBeGreaterThan(ROUND_MS);
    const got = (await g3.receive('p1', 'slow.1/x', { timeoutMs: 30_000 })) as Uint8Array;
    expect(got.length).toBe(8 << 20);
  } finally {
    await close();
  }
}, 60_000);
