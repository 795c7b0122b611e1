/**
 * review26 question 3: many thresholdSums at once (sums started together, one per feature) while
 * one party freezes with its sockets open: each run is a tolerant run of its own, with its own
 * flights waiting for sends to the frozen party and its own probes (the group's probe answers are
 * budgeted per peer and second, review23 W10 / review24 B1). Every run must complete at every other
 * party, with the same sum and contributors at all of them, nobody named, not hung.
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { thresholdSum, type SumResult } from '../../src/protocols';
import type { CouplerError } from '../../src/errors';
import { dropAt } from './support';

afterEach(() => jest.restoreAllMocks());

test.each(['dealers', 'shape'] as const)('thresholdSum n = 5, t = 2, 8 runs started together: p5 freezes at its first %s post; p1..p4 complete all 8 alike, nobody named', async (phase) => {
  const D = 2000;
  const RUNS = 8;
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    dropAt(c.byId, ['p5'], phase, 'frozen');
    const t0 = Date.now();
    const all = c.groups.map((g, i) => settleAll(Array.from({ length: RUNS }, (_, k) => thresholdSum(g, 100 * k + i + 1, { t: 2, roundTimeoutMs: D }))));
    const guard = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('hung')), 30 * D).unref());
    const out = await Promise.race([Promise.all(all.slice(0, 4)), guard]);
    void all[4]!.catch(() => undefined);
    const elapsed = Date.now() - t0;
    for (let k = 0; k < RUNS; k++) {
      const seen = out.map((runs) => {
        const r = runs[k]!;
        return r.ok ? { sum: (r.value as SumResult).sum, contributors: (r.value as SumResult).contributors } : { code: (r.error as CouplerError).code, peers: (r.error as CouplerError).peers };
      });
      // Every honest party completed run k with the same result: p5 is a dealer when it dealt before
      // it froze (its deal and statement leave in the runs' first flight).
      const want = phase === 'dealers' ? { sum: 5 * 100 * k + 15, contributors: ['p1', 'p2', 'p3', 'p4', 'p5'] } : { sum: 4 * 100 * k + 10, contributors: ['p1', 'p2', 'p3', 'p4'] };
      expect(seen).toEqual([want, want, want, want]);
    }
    expect(elapsed).toBeLessThan(30 * D);
  } finally {
    jest.restoreAllMocks();
    await c.close();
  }
}, 120_000);
