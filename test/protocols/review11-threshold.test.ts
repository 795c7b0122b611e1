/**
 * review11: thresholdSum protocol revision 4 (commitments, forwarded confirmations, mutual-counting
 * pruning) — docs/reviews/review11-threshold.md.
 *
 * Every party is a real group on 127.0.0.1 in this process. A cheater runs the real thresholdSum
 * with its own `Group.send` replaced: it drops or rewrites its OWN messages only. Honest parties
 * are unmodified.
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { thresholdSum, type SumResult } from '../../src/protocols';
import type { CouplerError } from '../../src/errors';
import type { PlainData } from '../../src/wire/codec';
import type { Group } from '../../src/group/group';

type Send = (peer: string, round: string, payload: PlainData) => Promise<void>;

/** Replace `g.send` by `rewrite`, which gets the original send. */
function cheat(g: Group, rewrite: (send: Send, peer: string, round: string, payload: PlainData) => Promise<void>): void {
  const send: Send = g.send.bind(g) as Send;
  (g as { send: Send }).send = (peer, round, payload) => rewrite(send, peer, round, payload);
}

// R11-1: `PublishChecks.usable` removes, among publishers that do not all count each other, the one
// whose forwarded list MISSES the most others. The missing link "p2 did not count p5" is charged to
// p2 only, never to p5 — so a single party whose confirmation reached one honest party (p1) and
// nobody else makes p1 prune p4, p3, p2 (one each, ties to the last) and keep {p1, p5}: 2 < m = 4,
// TOO_FEW_PARTIES, although {p1, p2, p3, p4} all counted each other (m = 4 points) and the three
// others complete over the same Q. One deviating party (n − m = 1 tolerated) makes an honest party
// fail; the same happens with an honest p5 whose confirmation is merely late at p2..p4.
test('R11-1 — thresholdSum n = 5, t = 3: p5 confirms to p1 only; p1 must prune p5 (one point), not p2, p3, p4, and complete with the others’ sum', async () => {
  const D = 1500;
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const m = c.byId.get('p5')!;
    // p5 is otherwise honest (it deals, reports, and publishes to everyone that confirmed to it);
    // only its confirmation goes to p1 alone.
    cheat(m, (send, peer, round, payload) => (round.endsWith('/confirm') && peer !== 'p1' ? Promise.resolve() : send(peer, round, payload)));
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, 10 * (i + 1), { t: 3, roundTimeoutMs: D })));
    // p2..p4 complete over all five dealers (p5 dealt): 150.
    for (const id of ['p2', 'p3', 'p4']) {
      const r = out[c.ids.indexOf(id)]!;
      expect(r.ok).toBe(true);
      expect((r as { value: SumResult }).value.sum).toBe(150);
    }
    // p1 holds m = 4 mutually counting points (its own, p2's, p3's, p4's). Before (this code):
    // TOO_FEW_PARTIES "only 2 partial sums from parties that all counted each other's confirmations".
    const r1 = out[0]!;
    if (!r1.ok) throw new Error(`p1 failed: ${(r1.error as CouplerError).code}: ${(r1.error as CouplerError).message}`);
    expect((r1 as { value: SumResult }).value.sum).toBe(150);
  } finally {
    await c.close();
  }
}, 30_000);
