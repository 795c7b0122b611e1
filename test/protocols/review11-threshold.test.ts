/**
 * review11: thresholdSum protocol revision 4 (commitments, forwarded confirmations, mutual-counting
 * pruning) — docs/reviews/review11-threshold.md.
 *
 * Every party is a real group on 127.0.0.1 in this process. A cheater runs the real thresholdSum
 * with its own `Group.send` replaced: it drops or rewrites its OWN messages only. Honest parties
 * are unmodified.
 */
import { cheat } from '../support/cheat';
import { createTestGroups, settleAll } from '../support/group-harness';
import { thresholdSum, type SumResult } from '../../src/protocols';
import type { CouplerError } from '../../src/errors';


/** Each of `ids` completed with `sum` (a failure is reported with its code, peers and message). */
function expectSums(c: { ids: readonly string[] }, out: readonly ({ ok: true; value: unknown } | { ok: false; error: unknown })[], ids: readonly string[], sum: number): void {
  for (const id of ids) {
    const r = out[c.ids.indexOf(id)]!;
    if (!r.ok) throw new Error(`${id} failed: ${(r.error as CouplerError).code} peers=${JSON.stringify((r.error as CouplerError).peers)}: ${(r.error as CouplerError).message}`);
    expect((r.value as SumResult).sum).toBe(sum);
  }
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
    // p2..p4 complete over all five dealers (p5 dealt): 150. p1 holds m = 4 mutually counting points
    // (its own, p2's, p3's, p4's). Before: TOO_FEW_PARTIES "only 2 partial sums from parties that
    // all counted each other's confirmations".
    expectSums(c, out, ['p2', 'p3', 'p4', 'p1'], 150);
  } finally {
    await c.close();
  }
}, 30_000);

// R11-1 without any deviation: p5 follows the protocol; the network delays its confirmation to
// p2..p4 past their confirm deadline (it reaches p1 on time). Same pruning, same failure at p1.
test('R11-1, no cheater — p5’s confirmation delayed past p2..p4’s deadline by the network: p1 must still complete with 150', async () => {
  const D = 1500;
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const m = c.byId.get('p5')!;
    // (p5's own process is unmodified in what it sends; only delivery to p2..p4 is late.)
    cheat(m, (send, peer, round, payload) => {
      if (!round.endsWith('/confirm') || peer === 'p1') return send(peer, round, payload);
      setTimeout(() => void send(peer, round, payload).catch(() => undefined), 1.5 * D);
      return Promise.resolve();
    });
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, 10 * (i + 1), { t: 3, roundTimeoutMs: D })));
    expectSums(c, out, ['p2', 'p3', 'p4', 'p1'], 150);
  } finally {
    await c.close();
  }
}, 30_000);

// R11-2: the same p5 (its confirmation reaches p1 only). p2..p4 wait out their confirm deadline for
// p5's confirmation and publish at its end; p1 had every confirmation at once and started its
// partial-sum deadline then: it ends about when p2..p4 publish (a coin toss on loopback: about one
// run in three, no delay at all). Here their publications to p1 travel 0.3 deadline (a slow path,
// nothing changed) and p1 names the three honest parties in a TIMEOUT — which read "only 4 of the 3
// needed answers": they arrived during the probe and were named anyway.
test('R11-2 — thresholdSum n = 5, t = 3: p5 confirms to p1 only, p2..p4’s partial sums reach p1 0.3 deadline late; p1 must not name p2, p3, p4 (they completed)', async () => {
  const D = 1500;
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    cheat(c.byId.get('p5')!, (send, peer, round, payload) => (round.endsWith('/confirm') && peer !== 'p1' ? Promise.resolve() : send(peer, round, payload)));
    // A slow path from p2..p4 to p1 for their partial sums (their processes are unmodified).
    for (const id of ['p2', 'p3', 'p4']) {
      cheat(c.byId.get(id)!, (send, peer, round, payload) => {
        if (peer !== 'p1' || !round.endsWith('/partial')) return send(peer, round, payload);
        setTimeout(() => void send(peer, round, payload).catch(() => undefined), 0.3 * D);
        return Promise.resolve();
      });
    }
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, 10 * (i + 1), { t: 3, roundTimeoutMs: D })));
    for (const id of ['p2', 'p3', 'p4']) expect(out[c.ids.indexOf(id)]!.ok).toBe(true);
    const r1 = out[0]!;
    const e = r1.ok ? undefined : (r1.error as CouplerError);
    // Before: TIMEOUT, peers ["p2", "p3", "p4"].
    expect({ code: e?.code, honestNamed: (e?.peers ?? []).filter((p) => p !== 'p5') }).toEqual({ code: e?.code, honestNamed: [] });
  } finally {
    await c.close();
  }
}, 30_000);
