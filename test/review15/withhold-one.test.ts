/**
 * review15 — blame when a cheater withholds ONE round's message of dkSecureSum (aggregated
 * opening) from ONE honest party (p1) and sends everything else, staying alive. Whatever the
 * round, no honest party may be named, and no honest party may accept a wrong sum.
 */
import { cheatAll, describe_, honestNamed } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum, type SumResult } from '../../src/protocols';

const L = 20;
const vec = (i: number): number[] => Array.from({ length: L }, (_, j) => 10 * (i + 1) + j);
const want = Array.from({ length: L }, (_, j) => 150 + 5 * j);

// Sub-rounds of run "dk.1": shape agreement + coin (echo), segments, then the aggregated opening.
const ROUNDS = ['/shape/v', '/shape/d', '/segment', '/partial/c/v', '/partial/c/d', '/partial/pieces', '/partial/sums', '/partial/mask', '/partial/check/v', '/partial/check/d'];

test.each(ROUNDS)('p3 withholds %s from p1 only: no honest party named, no wrong sum accepted', async (suffix) => {
  const c = await createTestGroups(5, { roundTimeoutMs: 1200 });
  try {
    cheatAll(c.byId.get('p3')!, (send, peer, round, payload) => (peer === 'p1' && round.endsWith(suffix) ? Promise.resolve() : send(peer, round, payload)));
    const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i), { k: 3 })));
    const seen = describe_(c.ids, out);
    if (process.env.R15_DEBUG) console.log(suffix, seen);
    expect([seen, honestNamed(c.ids, out, ['p3'])]).toEqual([seen, []]);
    for (const r of out) if (r.ok) expect([seen, Array.from((r.value as SumResult).sum as unknown as number[])]).toEqual([seen, want]);
  } finally {
    await c.close();
  }
}, 30_000);
