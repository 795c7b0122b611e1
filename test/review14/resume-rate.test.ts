/**
 * review14 R14-3b: how often can a roster peer make an honest party dial the relay again? p3's
 * frames to p1 fail the channel check from some point on (every one: the relay's test hook flips
 * them, which is what p3 could send). Each failure resumes p1's link at once, p3 comes back, its
 * first frame on the new channel fails again, and so on. Every dial is a signed admission whose
 * nonce the relay remembers for up to 10 min (per source at most 4 096, in all 16 384: beyond,
 * that source's dials are refused `busy`), plus a handshake at both ends. Honest outcome: a link
 * that keeps failing right after it resumed backs off like any re-dial (100 ms doubling to 5 s),
 * so the peer cannot drive the honest party's admissions faster than that.
 */
import type { RelayEvent } from '../../src/relay';
import { flipLastBit, sendJunk, sleep, sumEach, withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

test('R14-3b — p3 makes every frame it sends to p1 fail for 4 s: p1 dials the relay for p3 at most ~ a backoff\'s worth of times', async () => {
  let armed = false;
  let p1Dials = 0;
  const onEvent = (e: RelayEvent): void => {
    if (armed && e.type === 'admitted' && e.from === 'p1' && e.to === 'p3') p1Dials++;
  };
  const forward = (_s: string, from: string, to: string, data: Uint8Array): Uint8Array[] => {
    // Channel frames only (type 0x10/0x11): p3 completes each handshake, then breaks the channel.
    if (!armed || from !== 'p3' || to !== 'p1' || (data[0] !== 0x10 && data[0] !== 0x11)) return [data];
    return [flipLastBit(data)];
  };
  await withRelayGroup({ roundTimeoutMs: 10_000, relay: { onEvent, _hooks: { forward } } }, async ({ groups }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    armed = true;
    await sendJunk(groups[2]!, ['p1']);
    await sleep(4_000);
    armed = false;
    if (process.env.R14_DEBUG) console.log('p1 dials for p3 in 4 s:', p1Dials);
    // 100 ms doubling to 5 s with ±25 % jitter: at most 7 dials start within 4 s (and a few more for slack).
    expect(p1Dials).toBeGreaterThan(0);
    expect(p1Dials).toBeLessThanOrEqual(10);
  });
});
