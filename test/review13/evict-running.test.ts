/**
 * review13 R13-1: the relay's fair share (a full table lets a newcomer displace the longest-idle
 * entry of a heavier source) is decided by counts per source alone. A real task's parties hold
 * n − 1 connections each, from their sites' addresses; an outsider (a relay with roster-bound
 * sessions: a roster of keys of its own) that spreads its connections over more addresses than
 * that is always the lighter source — so each of its admissions displaces a connection of the
 * RUNNING task (and its partner), and the task's links cannot come back (relay-full: the outsider
 * is never heavier than them). One outsider stops a task it has no key for.
 *
 * Caps are scaled down (7 connections) so the test opens a handful; at the defaults (256 in all)
 * the same takes ≈ 256 / (n − 2) addresses — one IPv6 /56 holds 256 sources (/64s).
 */
import { admitRaw, ownPair, type RawAdmission } from '../relay/_attack';
import { settleSums, sumEach, sumOutcome, withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

test('R13-1 — an outsider admitted from lighter sources cannot displace the connections of a running task', async () => {
  // 3 parties: 6 connections (one per direction of each pair), all from 127.0.0.1; room for one more.
  await withRelayGroup({ roundTimeoutMs: 5_000, relay: { rosterBoundSessions: true, maxConnections: 7 } }, async ({ relay, url, groups }) => {
    const held: RawAdmission[] = [];
    try {
      for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
      // The outsider: one connection of its own roster-bound session from each of two addresses.
      // The first takes the last free place; the second finds the relay full of pairs in use.
      const answers: string[] = [];
      for (const src of ['127.0.0.2', '127.0.0.3']) {
        const p = ownPair();
        const x = await admitRaw(url, p.session, p.a, 'b', src, p.roster);
        held.push(x);
        answers.push(x.answer.reason ?? x.answer.t);
      }
      expect(answers).toEqual(['admitted', 'relay-full']);
      const outcome = (await settleSums(groups, 10)).map((r) => sumOutcome(r));
      expect(outcome).toEqual([{ sum: 60 }, { sum: 60 }, { sum: 60 }]);
      // The outsider's second connection found the relay full and displaced nothing of the task.
      expect(relay.stats().refused.evicted ?? 0).toBe(0);
    } finally {
      for (const x of held) x.ws.terminate();
    }
  });
});
