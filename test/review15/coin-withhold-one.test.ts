/**
 * review15 R15-2 — the run-seed coin (dk share graph) withheld from ONE honest party.
 *
 * README (row "the party that picks the session id steering the dk share graph"): withholding the
 * coin opening "aborts naming it by TIMEOUT, and a retry without it costs a coalition that member".
 * The opening rides on the echo digest of the shape round (`<run>/shape/d`). A last opener that
 * has every other coin (so knows the seed and the share graph) and sends its digest to everyone
 * but p1 is named by nobody: p2, p4, p5 hold every coin and go on to the segment phase, p1's
 * deadline probes the withholder, which answers (it is alive, waiting in the segment phase for
 * parties that answer too), so p1 names nobody (TIMEOUT with `suspects` only) and its abort
 * notice is "not confirmed" elsewhere. Nobody is left out of a retry (README: leave out only the
 * named), and the retry tosses a fresh coin: the coalition can re-draw the graph, unnamed and at
 * no cost, until it likes it. Below `collusionThreshold(n, k)` no graph isolates anyone (the
 * circulant C_n(1..k−1) is 2(k−1)-connected, so a smaller coalition cannot split the honest
 * parties), so privacy below the threshold holds; at or above it, the coin no longer stops the
 * coalition from choosing its victim's neighbours.
 *
 * Open (documented in the README, this commit's docs): naming needs evidence p1 does not have
 * (p3 is alive and says it waits for others), the general limit of README "Naming at a deadline
 * rests on liveness probes". Skipped until the protocol can name it.
 */
import { cheatAll, describe_ } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';

test.skip('R15-2 — a coin opening withheld from p1 alone: the withholder is named (README: "aborts naming it by TIMEOUT") — open: nobody is named', async () => {
  const c = await createTestGroups(5, { roundTimeoutMs: 1200 });
  try {
    cheatAll(c.byId.get('p3')!, (send, peer, round, payload) => (peer === 'p1' && round.endsWith('/shape/d') ? Promise.resolve() : send(peer, round, payload)));
    const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, 10 * (i + 1), { k: 3 })));
    const seen = describe_(c.ids, out);
    const named = out.flatMap((r, i) => (c.ids[i] === 'p3' || r.ok || !(r.error instanceof CouplerError) ? [] : r.error.peers));
    expect([seen, named.includes('p3')]).toEqual([seen, true]);
  } finally {
    await c.close();
  }
}, 30_000);
