/**
 * review16 R16-5: thresholdSum after one party's input was refused in a run every party entered.
 * The refusing party takes no run id (see Group._noteRefusedRun); the others, tolerant of
 * dropouts, complete that run without it — and send no abort notice, the signal the secure sums
 * use to skip the refused id (R16-1). So the refusing party stayed one run behind for good: in
 * every later thresholdSum the others completed WITHOUT its input (only `contributors` showed it)
 * and it named the honest others by TIMEOUT, each time. Observed (n = 4, t = 2): retries gave
 * p2..p4 the sum 9 of their inputs 2 + 3 + 4 with contributors [p2, p3, p4], and p1 TIMEOUT
 * naming p2, p3, p4 — again in the run after. Now a refused thresholdSum call's id is skipped
 * when the others sent anything for it (they may have completed it), not only on a notice.
 * In-process parties, real channels on 127.0.0.1.
 */
import { thresholdSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(60_000);

const summary = (rs: Awaited<ReturnType<typeof settleAll>>): unknown[] =>
  rs.map((r) => (r.ok ? { sum: (r.value as { sum: unknown }).sum, contributors: (r.value as { contributors: string[] }).contributors } : r.error instanceof CouplerError ? { code: r.error.code, peers: [...r.error.peers] } : { thrown: String(r.error) }));

test('after p1\'s refused input, a thresholdSum retry of every party includes p1 again, and the run after too', async () => {
  const h = await createTestGroups(4, { roundTimeoutMs: 1500 });
  try {
    const first = await settleAll(h.groups.map((g, i) => thresholdSum(g, i === 0 ? Number.NaN : 10 * (i + 1), { t: 2 })));
    expect(summary(first).slice(1)).toEqual([1, 2, 3].map(() => ({ sum: 90, contributors: ['p2', 'p3', 'p4'] })));
    await new Promise((r) => setTimeout(r, 300));
    const again = await settleAll(h.groups.map((g, i) => thresholdSum(g, i + 1, { t: 2 })));
    expect(summary(again)).toEqual([0, 1, 2, 3].map(() => ({ sum: 10, contributors: ['p1', 'p2', 'p3', 'p4'] })));
    const third = await settleAll(h.groups.map((g, i) => thresholdSum(g, 100 * (i + 1), { t: 2 })));
    expect(summary(third)).toEqual([0, 1, 2, 3].map(() => ({ sum: 1000, contributors: ['p1', 'p2', 'p3', 'p4'] })));
  } finally {
    await h.close();
  }
});
