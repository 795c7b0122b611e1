/**
 * review14 R14-3 (brief r143), second half: p3 on relayed links reads everything p1 and p2 send
 * it and takes part in every sum, but never sends `coupler ack` AND never answers a liveness
 * probe (it drops its own `coupler pong`s). Nothing then proves it read what it was sent (a slow
 * path looks the same from the sender), so nobody is named — but the senders must not keep an
 * unbounded share of their memory for it: before this fix up to `MAX_RETAINED_BYTES` (256 MiB)
 * per link, and each retained message pinned the encoder's whole buffer (a 1 MiB message: 4 MiB;
 * a small one after a large one: the large one's buffer).
 *
 * Measured at the senders: the bytes their links to p3 retain (`retainedBytes` in `stats()`) and
 * the process's ArrayBuffer memory after a full GC (as in retained-noack.test.ts).
 *
 * Honest outcome: every sum completes (p3 withholds nothing a run needs); what p1 and p2 keep
 * for p3 stays under the small per-link cap (`RETAIN_FLOOR_BYTES`, 32 MiB, for messages this
 * small) and the process's growth under two such caps plus slack.
 */
import type { Group } from '../../src/group/group';
import { withRetainingP3, retainedFor, sumsUntilFailure } from './retained-support';

jest.setTimeout(180_000);

const ELEMENTS = 1 << 17; // 1 MiB and more per share message
const RUNS = 48;

test('R14-3 — p3 reads every message p1 and p2 send it, never acknowledges and never answers a probe: every sum completes, and the senders keep at most the small per-link cap for it', async () => {
  // p3's links count nothing and so never acknowledge; p3's channels drop its probe answers.
  await withRetainingP3(20_000, 20_000, { pongs: 'drop' }, async (groups) => {
    const [g1, g2] = groups as [Group, Group, Group];
    const { outcomes, peakGrowth, sentToP3, report } = await sumsUntilFailure(groups, RUNS, ELEMENTS, { measure: true });
    console.log(`R14-3 mute: ${JSON.stringify(report)}`);
    expect(outcomes.length).toBe(RUNS);
    expect(outcomes[outcomes.length - 1]).toEqual(['ok', 'ok', 'ok']);
    // p1 sent p3 ≈ 48 MiB (p2 as much); each keeps at most its 32 MiB cap for it.
    expect(sentToP3).toBeGreaterThan(40 * 2 ** 20);
    expect(peakGrowth).toBeLessThan(3 * 32);
    expect(retainedFor(g1, 'p3')).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(retainedFor(g2, 'p3')).toBeLessThanOrEqual(32 * 2 ** 20);
  });
});
