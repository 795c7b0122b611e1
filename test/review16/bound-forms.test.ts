/**
 * review16 (noticed, left alone): the bound B is stated in the run's parameters as `String(B)`, so
 * one bound written two ways — the number 1e21 ("1e+21") at one party, the bigint 10n ** 21n
 * ("1000000000000000000000") at another — was a parameter mismatch: every party failed
 * SHAPE_MISMATCH naming the other, though they agreed. Integer bounds are now stated as their exact
 * decimal integer whatever their type. In-process parties, real channels on 127.0.0.1.
 */
import { thresholdSum } from '../../src/protocols';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(60_000);

test('one integer bound as a number at some parties and as a bigint at others: the same parameters, the sum', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 3000 });
  try {
    const out = await settleAll(h.groups.map((g, i) => thresholdSum(g, i + 1, { t: 2, bound: i === 2 ? 10n ** 21n : 1e21, field: 'p127' })));
    expect(out.map((r) => (r.ok ? (r.value as { sum: number }).sum : String((r as { error: unknown }).error)))).toEqual([6, 6, 6]);
    // And 2^53 as a number and as a bigint (below 1e21 both spelled the same already).
    const again = await settleAll(h.groups.map((g, i) => thresholdSum(g, i + 1, { t: 2, bound: i === 0 ? 2n ** 53n : 2 ** 53, field: 'p127' })));
    expect(again.map((r) => (r.ok ? (r.value as { sum: number }).sum : String((r as { error: unknown }).error)))).toEqual([6, 6, 6]);
  } finally {
    await h.close();
  }
});
