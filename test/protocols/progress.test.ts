/**
 * Progress of a run (issue 12: long sums printed nothing for tens of seconds): each protocol
 * reports its phases in order (agree → share → open → done, or failed), with the wire bytes so far
 * and the elapsed time, to the call's `onProgress` and to the group's. In-process parties on
 * 127.0.0.1, real channels.
 */
import type { RunProgress } from '../../src/group/group';
import { dkSecureSum, plainSum, ringSecureSum, secureSum, thresholdSum } from '../../src/protocols';
import { createTestGroups, type TestGroups } from '../support/group-harness';

jest.setTimeout(30_000);

const groupLevel = new Map<string, RunProgress[]>();
let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(4, {
    extra: (id) => ({ onProgress: (p: RunProgress) => groupLevel.set(id, [...(groupLevel.get(id) ?? []), p]), progressIntervalMs: 20 }),
  });
});
afterAll(() => h.close());
beforeEach(() => groupLevel.clear());

/** The distinct phases in the order first seen. */
const phases = (ps: readonly RunProgress[]): string[] => ps.map((p) => p.phase).filter((ph, i, a) => i === 0 || a[i - 1] !== ph);

test('secureSum: agree → share → open → done, bytes never go down and end at the run\'s traffic, to the call and to the group', async () => {
  const seen = new Map<string, RunProgress[]>();
  const before = h.groups.map((g) => g.stats().reduce((a, s) => a + s.bytesSent, 0));
  const out = await Promise.all(
    h.groups.map((g, i) => secureSum(g, new Float64Array(20_000).fill(i), { onProgress: (p) => seen.set(g.localId, [...(seen.get(g.localId) ?? []), p]) })),
  );
  h.groups.forEach((g, i) => {
    const mine = seen.get(g.localId)!;
    expect(phases(mine)).toEqual(['agree', 'share', 'open', 'done']);
    for (let j = 1; j < mine.length; j++) {
      expect(mine[j]!.bytesSent).toBeGreaterThanOrEqual(mine[j - 1]!.bytesSent);
      expect(mine[j]!.bytesReceived).toBeGreaterThanOrEqual(mine[j - 1]!.bytesReceived);
    }
    const last = mine[mine.length - 1]!;
    expect(last).toMatchObject({ runId: out[i]!.runId, protocol: 'secureSum', phase: 'done' });
    const after = g.stats().reduce((a, s) => a + s.bytesSent, 0);
    expect(last.bytesSent).toBe(after - before[i]!);
    expect(last.bytesSent).toBeGreaterThan(3 * 20_000 * 8); // the opening of T_j to 3 peers
    expect(groupLevel.get(g.localId)!.map((p) => p.phase)).toEqual(mine.map((p) => p.phase));
  });
});

test('dkSecureSum, thresholdSum, plainSum and ringSecureSum report their phases and end in done', async () => {
  for (const [name, run] of [
    ['dkSecureSum', (g: (typeof h.groups)[number], i: number) => dkSecureSum(g, i)],
    ['thresholdSum', (g: (typeof h.groups)[number], i: number) => thresholdSum(g, i)],
    ['plainSum', (g: (typeof h.groups)[number], i: number) => plainSum(g, i, { acknowledgeInsecure: true })],
    ['ringSecureSum', (g: (typeof h.groups)[number], i: number) => ringSecureSum(g, i, { acknowledgeInsecure: true })],
  ] as const) {
    groupLevel.clear();
    await Promise.all(h.groups.map((g, i) => run(g, i)));
    for (const g of h.groups) {
      const ps = groupLevel.get(g.localId)!;
      expect(ps.every((p) => p.protocol === name)).toBe(true);
      const ph = phases(ps);
      expect(ph[0]).toBe('agree');
      expect(ph[ph.length - 1]).toBe('done');
    }
  }
});

test('a run that fails (the parties disagree on the shape) ends in failed; a callback that throws changes nothing', async () => {
  const results = await Promise.allSettled(
    h.groups.map((g, i) =>
      secureSum(g, i === 0 ? [1, 2] : [1, 2, 3], {
        onProgress: () => {
          throw new Error('a broken progress bar');
        },
      }),
    ),
  );
  expect(results.every((r) => r.status === 'rejected')).toBe(true);
  for (const g of h.groups) {
    const ps = groupLevel.get(g.localId)!;
    expect(ps[ps.length - 1]!.phase).toBe('failed');
  }
  // The group is still usable.
  const ok = await Promise.all(h.groups.map((g, i) => secureSum(g, i)));
  expect(ok.every((o) => o.sum === 6)).toBe(true);
});
