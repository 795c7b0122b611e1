/**
 * review16 R16-1: a party whose own input is refused (NaN, |x| > B, a bad shape) in a run every
 * party entered. It sends nothing and takes no run id (so that a party that carries on alone stays
 * in step: test/group/abort.test.ts, test/protocols/correctness.test.ts), while the others take
 * the run's id, wait a round deadline and fail it naming the refusing party by TIMEOUT (their
 * abort notices for that run reach it). Before the fix, when every party then retried with good
 * data, the refusing party took the id the others had already used: it failed at once on their
 * stale notices (PEER_ABORTED) and the others named it by TIMEOUT in the next run — and in every
 * run after that, for the life of the group (observed: 3 retries, 3 failures, p1 named each time).
 * In-process parties, real channels on 127.0.0.1.
 */
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(60_000);

const summary = (rs: Awaited<ReturnType<typeof settleAll>>): unknown[] =>
  rs.map((r) => (r.ok ? { sum: (r.value as { sum: unknown }).sum } : r.error instanceof CouplerError ? { code: r.error.code, peers: [...r.error.peers] } : { thrown: String(r.error) }));

test('one party refuses its NaN while the others run; everyone then retries with good data: the retry completes with the right sum', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1500 });
  try {
    const first = await settleAll(h.groups.map((g, i) => secureSum(g, i === 0 ? Number.NaN : i + 1)));
    expect(summary(first)).toEqual([
      { code: ErrorCode.VALUE_INVALID, peers: [] },
      { code: ErrorCode.TIMEOUT, peers: ['p1'] },
      { code: ErrorCode.TIMEOUT, peers: ['p1'] },
    ]);
    // The others' abort notices for the failed run reach p1 (sent when their run ended).
    await new Promise((r) => setTimeout(r, 300));
    const again = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
    expect(summary(again)).toEqual([{ sum: 6 }, { sum: 6 }, { sum: 6 }]);
    // And the group stays in step after that.
    const third = await settleAll(h.groups.map((g, i) => secureSum(g, 10 * (i + 1))));
    expect(summary(third)).toEqual([{ sum: 60 }, { sum: 60 }, { sum: 60 }]);
  } finally {
    await h.close();
  }
});

test('the same with an empty vector (refused locally) at the third party', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1500 });
  try {
    const first = await settleAll(h.groups.map((g, i) => secureSum(g, i === 2 ? [] : [i, 1])));
    expect(summary(first)[2]).toEqual({ code: ErrorCode.VALUE_INVALID, peers: [] });
    await new Promise((r) => setTimeout(r, 300));
    const again = await settleAll(h.groups.map((g, i) => secureSum(g, [i, 1])));
    expect(summary(again)).toEqual([{ sum: new Float64Array([3, 3]) }, { sum: new Float64Array([3, 3]) }, { sum: new Float64Array([3, 3]) }]);
  } finally {
    await h.close();
  }
});

test('in a view (group.without): a refusal there skips only the view\'s run, and the joined group stays in step', async () => {
  const h = await createTestGroups(4, { roundTimeoutMs: 1500 });
  try {
    const views = h.groups.slice(0, 3).map((g) => g.without(['p4']));
    const first = await settleAll(views.map((v, i) => secureSum(v, i === 1 ? Number.POSITIVE_INFINITY : i + 1)));
    expect(summary(first)[1]).toEqual({ code: ErrorCode.VALUE_INVALID, peers: [] });
    await new Promise((r) => setTimeout(r, 300));
    expect(summary(await settleAll(views.map((v, i) => secureSum(v, i + 1))))).toEqual([{ sum: 6 }, { sum: 6 }, { sum: 6 }]);
    expect(summary(await settleAll(h.groups.map((g, i) => secureSum(g, i + 1))))).toEqual([{ sum: 10 }, { sum: 10 }, { sum: 10 }, { sum: 10 }]);
  } finally {
    await h.close();
  }
});

test('p1\'s input is refused twice in a row while the others run both times (no pause for their notices); then everyone retries: in step', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1000 });
  try {
    for (let k = 0; k < 2; k++) {
      const bad = await settleAll(h.groups.map((g, i) => secureSum(g, i === 0 ? Number.NaN : i + 1)));
      expect(summary(bad)[0]).toEqual({ code: ErrorCode.VALUE_INVALID, peers: [] });
    }
    await new Promise((r) => setTimeout(r, 300));
    const again = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
    expect(summary(again)).toEqual([{ sum: 6 }, { sum: 6 }, { sum: 6 }]);
  } finally {
    await h.close();
  }
});

test('p1 refuses twice at once (its two calls, in separate turns, before the others\' notices) while the others run two runs; then everyone retries: in step', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1000 });
  try {
    const p1 = h.groups[0]!;
    const first = await settleAll([secureSum(p1, Number.NaN)]);
    const second = await settleAll([secureSum(p1, Number.NaN)]);
    expect([...summary(first), ...summary(second)]).toEqual([{ code: ErrorCode.VALUE_INVALID, peers: [] }, { code: ErrorCode.VALUE_INVALID, peers: [] }]);
    for (let k = 0; k < 2; k++) {
      const out = await settleAll(h.groups.slice(1).map((g, i) => secureSum(g, i + 2)));
      expect(summary(out)).toEqual([{ code: ErrorCode.TIMEOUT, peers: ['p1'] }, { code: ErrorCode.TIMEOUT, peers: ['p1'] }]);
    }
    await new Promise((r) => setTimeout(r, 300));
    const again = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
    expect(summary(again)).toEqual([{ sum: 6 }, { sum: 6 }, { sum: 6 }]);
  } finally {
    await h.close();
  }
});
