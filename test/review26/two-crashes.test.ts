/**
 * review26 question 3: the dropout promise — "up to n − max(⌈(n + t)/2⌉, minContributors) parties
 * may drop (before or after dealing)" — with two crashes in the middle of a flight, as crashes
 * happen. n = 6, t = 2: m = 4, floor 3, two may drop.
 *
 * p6 crashes while dealing: its statement and share reach p1..p4, not p5. p5 therefore reports that
 * it lacks p6's share, and crashes while sending that report: it reaches p1 only. p1's dealer set
 * is {p1..p5} (p5's report says p6 is missing), p2..p4's is {p1..p6}. The confirmations differ, each
 * consistent with the signed reports its author holds, nobody signed two reports: every honest
 * party aborts (TAMPERING_DETECTED naming nobody, "a report lost to a crash"). Four honest parties,
 * two crashed: the promise says the sum completes.
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { thresholdSum, type SumResult } from '../../src/protocols';
import type { CouplerError } from '../../src/errors';
import type { Group } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';

const D = 1500;

/** `g` sends `r`-round messages only to `to` (the rest of the flight is lost as it crashes), and closes at `crashAt`. */
function crashMidFlight(g: Group, rounds: readonly string[], to: readonly string[], crashAt: string): void {
  const post = g.send.bind(g) as (peer: string, r: string, payload: PlainData, options?: unknown) => Promise<void>;
  let crashed = false;
  (g as { send: unknown }).send = (peer: string, r: string, payload: PlainData, options?: unknown): Promise<void> => {
    if (crashed) return Promise.reject(new Error('crashed'));
    if (r.endsWith(`/${crashAt}`) && !to.includes(peer)) {
      crashed = true;
      setTimeout(() => void g.close(), 0);
      return Promise.reject(new Error('crashed'));
    }
    if (rounds.some((x) => r.endsWith(`/${x}`)) && !to.includes(peer)) return Promise.resolve();
    return post(peer, r, payload, options);
  };
}

test('LIMIT (R26-2) — thresholdSum n = 6, t = 2: two parties crash mid-flight (one while dealing, one while reporting its lack of that share): the four others abort, nobody named', async () => {
  const c = await createTestGroups(6, { roundTimeoutMs: D });
  try {
    // p6: statement and share to p1..p4 only, then gone (at its dealer report).
    crashMidFlight(c.byId.get('p6')!, ['shape', 'deal'], ['p1', 'p2', 'p3', 'p4'], 'dealers');
    // p5: its dealer report (lacking p6) to p1 only, then gone.
    crashMidFlight(c.byId.get('p5')!, [], ['p1'], 'dealers');
    const inputs = [10, 20, 30, 40, 50, 60];
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, inputs[i]!, { t: 2, roundTimeoutMs: D })));
    const seen = out.slice(0, 4).map((r, i) => (r.ok ? { id: c.ids[i], sum: (r.value as SumResult).sum } : { id: c.ids[i], code: (r.error as CouplerError).code, peers: (r.error as CouplerError).peers }));
    // Observed on 3c88b60 and after 629bcf5: every one of p1..p4 TAMPERING_DETECTED, peers [].
    for (const s of seen) expect(s).toEqual({ id: s.id, code: 'COUPLER_ERR_TAMPERING_DETECTED', peers: [] });
  } finally {
    await c.close();
  }
}, 60_000);

// The same with one crash and one late share: n = 5, t = 3 (one may drop). p4's share to p5 comes
// 0.6 D late (a slow path; p4 is honest and on time elsewhere) and p5's deadline is 0.3 D (a local
// option; with the same deadline its report, sent at its deal deadline, races the others' report
// deadline), so p5 reports that it lacks p4, and crashes while sending that report: it reaches p1
// only. p1's Q = {p1, p2, p3, p5}, p2..p4's Q = everyone: the same split, every honest party aborts
// naming nobody.
test('LIMIT (R26-2) — thresholdSum n = 5, t = 3: one crash mid-report and one late share: p1..p4 abort, nobody named', async () => {
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const g4 = c.byId.get('p4')!;
    const post4 = g4.send.bind(g4) as (peer: string, r: string, payload: PlainData, options?: unknown) => Promise<void>;
    (g4 as { send: unknown }).send = (peer: string, r: string, payload: PlainData, options?: unknown): Promise<void> => {
      if (peer !== 'p5' || !r.endsWith('/deal')) return post4(peer, r, payload, options);
      setTimeout(() => void post4(peer, r, payload, options).catch(() => undefined), 0.6 * D);
      return Promise.resolve();
    };
    crashMidFlight(c.byId.get('p5')!, [], ['p1'], 'dealers');
    const inputs = [10, 20, 30, 40, 50];
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, inputs[i]!, { t: 3, roundTimeoutMs: i === 4 ? 0.3 * D : D })));
    const seen = out.slice(0, 4).map((r, i) => (r.ok ? { id: c.ids[i], sum: (r.value as SumResult).sum } : { id: c.ids[i], code: (r.error as CouplerError).code, peers: (r.error as CouplerError).peers }));
    for (const s of seen) expect(s).toEqual({ id: s.id, code: 'COUPLER_ERR_TAMPERING_DETECTED', peers: [] });
  } finally {
    await c.close();
  }
}, 60_000);
