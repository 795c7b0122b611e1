/**
 * `Group.without` (src/group/group.ts): the retry without a named party. Parties over real
 * channels in this process: a view runs sums among the remaining parties only, its runs are
 * labelled apart from the group's (so both stay in step), it refuses to talk to a party it left
 * out, and bad arguments are refused. The retry after a real cheater is named is in
 * test/protocols/adversarial.test.ts.
 */
import { createTestGroups, settleAll, type TestGroups } from '../support/group-harness';
import { secureSum, dkSecureSum, thresholdSum } from '../../src/protocols';
import { ErrorCode } from '../../src/errors';
import { Group } from '../../src/group/group';

let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(5, { roundTimeoutMs: 5000 });
});
afterAll(async () => {
  await h.close();
});

test('a view without p5 sums the other four inputs, in step with the full group before and after', async () => {
  const [g1, g2, g3, g4, g5] = h.groups as [Group, Group, Group, Group, Group];
  expect((await Promise.all(h.groups.map((g, i) => secureSum(g, i + 1)))).map((r) => r.sum)).toEqual([15, 15, 15, 15, 15]);
  const views = [g1, g2, g3, g4].map((g) => g.without(['p5']));
  for (const v of views) {
    expect(Group.isGroup(v)).toBe(true);
    expect(v.parties).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(v.peers).not.toContain('p5');
    expect(Buffer.from(v.epoch).equals(Buffer.from(g1.epoch))).toBe(true);
  }
  for (const run of [
    (g: Group, i: number) => secureSum(g, i + 1),
    (g: Group, i: number) => secureSum(g, [i + 1, 1], { opening: 'aggregate' }),
    (g: Group, i: number) => dkSecureSum(g, i + 1),
    (g: Group, i: number) => thresholdSum(g, i + 1),
  ]) {
    const out = await Promise.all(views.map((v, i) => run(v, i)));
    for (const r of out) {
      expect(r.contributors).toEqual(['p1', 'p2', 'p3', 'p4']);
      expect(r.runId).toMatch(/^[a-z]+\.w[0-9a-f]{12}\.\d+$/);
    }
    expect(new Set(out.map((r) => JSON.stringify(r.sum))).size).toBe(1);
  }
  // The same view made again (other order of the same parties) continues the same run labels.
  const again = [g1, g2, g3, g4].map((g) => g.without(['p5', 'p5']));
  const r = await Promise.all(again.map((v, i) => secureSum(v, i + 1)));
  expect(r.map((x) => x.sum)).toEqual([10, 10, 10, 10]);
  expect(r[0]!.runId).toMatch(/\.5$/);
  // The full group is still in step, p5 included.
  expect((await Promise.all([g1, g2, g3, g4, g5].map((g, i) => secureSum(g, i + 1)))).map((x) => x.sum)).toEqual([15, 15, 15, 15, 15]);
});

test('a view talks only to its members; bad arguments are refused', async () => {
  const g1 = h.groups[0]!;
  const v = g1.without(['p4', 'p5']);
  await expect(v.send('p5', 'x.1', 1)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  await expect(v.gather('x.2', { from: ['p4'] })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  expect(v.stats().map((s) => s.peer)).toEqual(['p2', 'p3']);
  expect(v.without(['p3']).parties).toEqual(['p1', 'p2']);
  for (const bad of [[], ['p1'], ['p9'], [7], 'p2'] as unknown[]) {
    expect(() => g1.without(bad as string[])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  }
  expect(() => v.without(['p5'])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
});

test('the excluded party running the full-group sum alone times out naming the others; the view’s members are not disturbed', async () => {
  const views = h.groups.slice(0, 4).map((g) => g.without(['p5']));
  const [fromViews, lonely] = await Promise.all([Promise.all(views.map((v, i) => secureSum(v, i + 1))), settleAll([secureSum(h.groups[4]!, 5, { roundTimeoutMs: 800 })])]);
  expect(fromViews.map((r) => r.sum)).toEqual([10, 10, 10, 10]);
  expect(lonely[0]).toMatchObject({ ok: false, error: { code: ErrorCode.TIMEOUT } });
});
