/**
 * review16 R16-3 for the other protocols: two sums started together (one turn, e.g. Promise.all),
 * the first refused at p1 for its OPTIONS (a k, t or acknowledgement the others do not have).
 * secureSum noted such a refusal (600cecc) so the second call skips the refused run's id;
 * dkSecureSum, thresholdSum, plainSum and ringSecureSum threw before their run took an id and
 * noted nothing, so p1's second call took the id the others gave their first call: its 1000 was
 * added to their 1s (1 + 1 + 1000 = 1002), a mixture returned as a sum (review16, noticed and left
 * alone). In-process parties, real channels on 127.0.0.1.
 */
import { dkSecureSum, plainSum, thresholdSum } from '../../src/protocols';
import { createTestGroups, settleAll } from '../support/group-harness';
import type { Group } from '../../src/group/group';

jest.setTimeout(60_000);

type Call = (g: Group, x: number, bad: boolean) => Promise<{ sum: unknown }>;
const cases: [string, Call][] = [
  ['dkSecureSum (k out of range at p1)', (g, x, bad) => dkSecureSum(g, x, { k: bad ? 99 : 3 })],
  ['thresholdSum (t out of range at p1)', (g, x, bad) => thresholdSum(g, x, { t: bad ? 99 : 2 })],
  ['plainSum (no acknowledgement at p1)', (g, x, bad) => plainSum(g, x, { acknowledgeInsecure: !bad } as never)],
];

test.each(cases)('%s: the second sum started in the same turn is never the mixture', async (_name, call) => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1500 });
  try {
    const out = await Promise.all(h.groups.map((g, i) => settleAll([call(g, 1, i === 0), call(g, 1000, false)])));
    const seen = out.map(([first, second]) => [first!.ok ? (first!.value as { sum: unknown }).sum : 'failed', second!.ok ? (second!.value as { sum: unknown }).sum : 'failed']);
    for (const [first, second] of seen) {
      expect(first).not.toBe(1002);
      expect(second === 3000 || second === 'failed').toBe(true);
    }
    expect(seen[0]![0]).toBe('failed');
  } finally {
    await h.close();
  }
});
