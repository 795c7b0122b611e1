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

test.each(ROUNDS)('p3 withholds %s from one honest party only (p1; for segments its first receiver): no honest party named, no wrong sum accepted', async (suffix) => {
  const c = await createTestGroups(5, { roundTimeoutMs: 1200 });
  try {
    // p1, or for the segments (p3 deals only to its k − 1 receivers on the coin-tossed graph) the
    // first receiver p3 deals to.
    let victim = suffix === '/segment' ? undefined : 'p1';
    cheatAll(c.byId.get('p3')!, (send, peer, round, payload) => {
      if (!round.endsWith(suffix)) return send(peer, round, payload);
      victim ??= peer;
      return peer === victim ? Promise.resolve() : send(peer, round, payload);
    });
    const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i), { k: 3 })));
    const seen = describe_(c.ids, out);
    if (process.env.R15_DEBUG) console.log(suffix, seen);
    expect([seen, honestNamed(c.ids, out, ['p3'])]).toEqual([seen, []]);
    for (const r of out) if (r.ok) expect([seen, Array.from((r.value as SumResult).sum as unknown as number[])]).toEqual([seen, want]);
  } finally {
    await c.close();
  }
}, 30_000);
