/**
 * The T1 fix's extension is bounded (docs/reviews/trial-threshold.md, "T1 fix"): a tolerant round
 * that has its minimum gives a missing party that is alive and held up by a silent one at most one
 * more round deadline. Here that party never sends at all — it only says it waits for the silent
 * one (a receive pending on it, as an honest party stuck behind it would, or a cheater claiming
 * so) — so every honest party pays exactly that one extra deadline, and then completes without it.
 *
 * n = 6, t = 2 (quorum 4, floor 3: two may drop): p6 is frozen for everyone from the start (its
 * forwarders, test/support/one-via-forwarders.ts), p5 never calls thresholdSum and waits for p6.
 */
import { thresholdSum, type SumResult } from '../../src/protocols';
import type { CouplerError } from '../../src/errors';
import { oneViaForwarders } from '../support/one-via-forwarders';

const ROUND_MS = 1_500;

test('a missing party that says it waits for a silent one is waited for one more deadline at most: the others complete without it, nobody named', async () => {
  const h = await oneViaForwarders(6, { roundTimeoutMs: ROUND_MS });
  try {
    for (const v of h.via.values()) v.freeze();
    const p5 = h.byId.get('p5')!;
    // p5 is alive and held up by p6 (its probe answers say it waits for p6), and sends nothing.
    const held = p5.receive('p6', 'hold.1', { timeoutMs: 60_000 }).catch(() => undefined);
    const honest = h.groups.slice(0, 4);
    const t0 = Date.now();
    const out = await Promise.all(honest.map((g, i) => thresholdSum(g, i + 1, { t: 2 }).then((r: SumResult) => r, (e: unknown) => e as CouplerError)));
    const elapsed = Date.now() - t0;
    if (process.env.TRIALTHR_DEBUG) console.log(`elapsed ${elapsed} ms`);
    const view = (r: SumResult | CouplerError): unknown => ('sum' in r ? { sum: r.sum, contributors: r.contributors } : { code: r.code, peers: r.peers, message: r.message });
    for (const r of out) expect(view(r)).toEqual({ sum: 10, contributors: ['p1', 'p2', 'p3', 'p4'] });
    // Shape round: one deadline, then at most one more for p5 (then nothing waits for p5 or p6).
    // Not a speed assertion: "not hung past the bound", with room for a loaded machine.
    expect(elapsed).toBeLessThan(6 * ROUND_MS);
    expect(elapsed).toBeGreaterThanOrEqual(2 * ROUND_MS - 100);
    void held;
  } finally {
    await h.close();
  }
}, 60_000);
