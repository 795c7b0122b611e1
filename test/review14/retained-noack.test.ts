/**
 * review14 R14-3 (brief r143): a roster party p3 on relayed links reads everything p1 and p2 send
 * it — it takes part in every sum, answers liveness probes — but never sends `coupler ack`. A
 * relayed link keeps every unacknowledged message for resending after a resume; before this fix
 * up to `MAX_RETAINED_BYTES` (256 MiB) per link, for the group's life: p3 held that much of each
 * honest party's memory.
 *
 * Measured at the senders: the bytes their links to p3 retain (`retainedBytes` in `stats()`, read
 * without relying on the field's type: it is new) and the process's ArrayBuffer memory after a
 * full GC (p1, p2 and p3 share this process; p3 keeps nothing of what it receives, and p1's and
 * p2's links to each other are acknowledged, so what stays is what the senders keep for p3).
 *
 * Honest outcome: the senders do not keep more than a few acknowledgement windows for p3 — p3 is
 * provably not acknowledging what it reads (it answers a probe sent after the messages, on the
 * same ordered channel, before acknowledging them), so p1 and p2 name it `PROTOCOL_VIOLATION` and
 * drop what they kept.
 */
import type { Group } from '../../src/group/group';
import { withRetainingP3, retainedFor, sumsUntilFailure } from './retained-support';

jest.setTimeout(180_000);

const ELEMENTS = 1 << 17; // 1 MiB and more per share message
const RUNS = 24;

test('R14-3 — p3 reads every message p1 and p2 send it and never acknowledges: the senders keep at most a few acknowledgement windows for it, and name it', async () => {
  // R143_HONEST=1: the control, p3 acknowledges.
  await withRetainingP3(20_000, 8_000, {}, async (groups) => {
    const [g1, g2] = groups as [Group, Group, Group];
    const { outcomes, peakGrowth, report } = await sumsUntilFailure(groups, RUNS, ELEMENTS, { measure: true });
    console.log(`R14-3 noack: ${JSON.stringify(report)}`);
    // p1 and p2 each sent p3 far more than the bound below (24 runs: ≈ 48 MiB each) unless they
    // named it first.
    expect(peakGrowth).toBeLessThan(24);
    const last = outcomes[outcomes.length - 1]!;
    expect(last[0]).toEqual({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['p3'] });
    expect(last[1]).toEqual({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['p3'] });
    // What they keep for it now: nothing (the link is down).
    expect(retainedFor(g1, 'p3')).toBe(0);
    expect(retainedFor(g2, 'p3')).toBe(0);
  });
});
