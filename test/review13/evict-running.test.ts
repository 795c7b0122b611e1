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
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { admitRaw, ownPair, type RawAdmission } from '../relay/_attack';

jest.setTimeout(30_000);

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 5_000,
  });
}

test('R13-1 — an outsider admitted from lighter sources cannot displace the connections of a running task', async () => {
  const parties = makeParties(3);
  // 3 parties: 6 connections (one per direction of each pair), all from 127.0.0.1; room for one more.
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], rosterBoundSessions: true, host: '127.0.0.1', port: 0, maxConnections: 7 });
  const url = `ws://127.0.0.1:${relay.port}`;
  const held: RawAdmission[] = [];
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
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
    const two = await Promise.allSettled(groups.map((g, i) => secureSum(g, 10 * (i + 1))));
    const outcome = two.map((r) => (r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] }));
    expect(outcome).toEqual([{ sum: 60 }, { sum: 60 }, { sum: 60 }]);
    // The outsider's second connection found the relay full and displaced nothing of the task.
    expect(relay.stats().refused.evicted ?? 0).toBe(0);
  } finally {
    for (const x of held) x.ws.terminate();
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
