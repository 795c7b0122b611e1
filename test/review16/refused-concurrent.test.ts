/**
 * review16 R16-3: two sums started together in one group (Promise.all of secureSum calls — say a
 * mean and a count), and one party's first input is refused locally (NaN). A refused call took no
 * run id, so that party's SECOND call took the id the others gave their FIRST: its count was
 * added to their means, and all three parties returned that mixture as a successful sum — p2 and
 * p3 as their first statistic, p1 as its second (observed: 1 + 1 + 1000 = 1002 at every party,
 * runId "sum.1", no error). Now every call takes one run id, refused or not, so calls match by
 * their order at every party: the first sum fails everywhere, the second is right.
 * In-process parties, real channels on 127.0.0.1.
 */
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(60_000);

test('concurrent sums, the first refused at one party: no party accepts a sum mixing one call\'s inputs with another\'s', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1500 });
  try {
    const calls = h.groups.map((g, i) => settleAll([secureSum(g, i === 0 ? Number.NaN : 1), secureSum(g, 1000)]));
    const out = await Promise.all(calls);
    for (const [i, [mean, count]] of out.entries()) {
      // The first sum: refused at p1, failed at the others (p1 named) — never a result.
      expect(mean!.ok).toBe(false);
      const e = (mean as { error: unknown }).error as CouplerError;
      expect(e).toBeInstanceOf(CouplerError);
      if (i === 0) expect(e.code).toBe(ErrorCode.VALUE_INVALID);
      else expect(e.peers).toEqual(['p1']);
      // The second sum: every party's second input, or a failure — never 1002.
      if (count!.ok) expect((count as { value: { sum: number } }).value.sum).toBe(3000);
    }
    // And the group is in step afterwards.
    const again = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
    expect(again.map((r) => (r.ok ? (r.value as { sum: number }).sum : String((r as { error: unknown }).error)))).toEqual([6, 6, 6]);
  } finally {
    await h.close();
  }
});
