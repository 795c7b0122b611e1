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

test('three sums started together, the middle one refused at p2 and the first two at p3: each party\'s calls still meet by order', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1500 });
  try {
    const bad = (who: number, call: number): boolean => (who === 1 && call === 1) || (who === 2 && call <= 1);
    const out = await Promise.all(h.groups.map((g, i) => settleAll([0, 1, 2].map((c) => secureSum(g, bad(i, c) ? Number.NaN : 10 ** c)))));
    for (const calls of out) {
      for (const [c, r] of calls.entries()) {
        // Calls 0 and 1 were refused somewhere: they fail everywhere. Call 2 is right everywhere.
        if (c < 2) expect(r.ok).toBe(false);
        else expect(r.ok && (r.value as { sum: number }).sum).toBe(300);
      }
    }
    const again = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
    expect(again.map((r) => (r.ok ? (r.value as { sum: number }).sum : String((r as { error: unknown }).error)))).toEqual([6, 6, 6]);
  } finally {
    await h.close();
  }
});

test('the same when the first call is refused for its options at one party ("shares" misspelt there): no mixture', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1500 });
  try {
    const out = await Promise.all(h.groups.map((g, i) => settleAll([secureSum(g, 1, (i === 0 ? { shares: 'vectors' } : {}) as never), secureSum(g, 1000)])));
    for (const [i, [first, second]] of out.entries()) {
      expect(first!.ok).toBe(false);
      if (i === 0) expect((first as { error: CouplerError }).error.code).toBe(ErrorCode.INVALID_ARGUMENT);
      if (second!.ok) expect((second as { value: { sum: number } }).value.sum).toBe(3000);
    }
  } finally {
    await h.close();
  }
});

// OPEN (R16-3, the rest): a call started in a LATER turn than the refusal — sums started from
// asynchronous steps (`stats.map(async (s) => secureSum(group, await load(s)))`) — while the others
// still wait in the refused run cannot be told from the refusing party's retry of that run, which
// a refused call's taking no run id exists for (the others may wait while it fixes its input):
// it takes the refused run's id and its input is added to the others' inputs of the refused call.
// Closing it means every call taking its run id, refused or not — a change of the contract the
// earlier tests rely on (a party may retry alone; test/group/abort.test.ts,
// test/protocols/inputs.test.ts, test/protocols/correctness.test.ts: 21 tests fail with it), left
// to the lead (docs/reviews/review16-additive.md). The lead kept the contract and added
// `SumOptions.label`: labelled sums abort with SHAPE_MISMATCH instead (label.test.ts); this
// unlabelled case stays open.
test.skip('OPEN: a sum started in a later turn while the others wait in the refused run is summed with their refused call', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 3000 });
  try {
    const out = await Promise.all(
      h.groups.map((g, i) =>
        settleAll([
          secureSum(g, i === 0 ? Number.NaN : 1),
          new Promise((r) => setTimeout(r, 50)).then(() => secureSum(g, 1000)),
        ]),
      ),
    );
    for (const [, count] of out) if (count!.ok) expect((count as { value: { sum: number } }).value.sum).toBe(3000);
  } finally {
    await h.close();
  }
});
