/**
 * `Group.receive` and `Group.send` judge a peer's abort notice as `gather` does: a party it blames
 * that is not seen failing yet is asked directly (a liveness probe, half the round's deadline)
 * before the notice's root cause is reported naming it or nobody. The echo broadcast's digest
 * round collects with `receive`, so without this it reported the notice as judged on arrival: the
 * blame trial (bench/trial, partition mid-run) had honest parties name nobody there while every
 * party that judged the same notice in a gather named the cut-off party; a send to a party that
 * left (a slower party starting the next round) threw the notice as judged on arrival too. Real
 * channels on 127.0.0.1; the frozen party is a real process.
 */
import { createTestGroups, makeParties } from '../support/group-harness';
import { CouplerError, ErrorCode, TimeoutError } from '../../src/errors';
import { joinGroup, type Group } from '../../src/group/group';
import { staticDiscovery } from '../../src/discovery/static';
import { freePort, startLoopbackParty } from '../netns/loopback';
import { withLoopbackP4 } from '../support/loopback-fourth';

test('p1 leaves blaming p3, which froze (a real process, SIGSTOP: its channels stay open) just before: p2\'s pending receive names p3', async () => {
  const parties = makeParties(3);
  const [port1, port2] = [await freePort(), await freePort()];
  // p3 first (a process starts slowly on a loaded machine): it dials p1 and p2 until they listen.
  const p3 = startLoopbackParty({
    id: 'p3',
    identity: parties.identities.get('p3')!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    dial: [port1, port2],
    mode: 'commands',
    joinTimeoutMs: 60_000,
    roundTimeoutMs: 10_000,
  });
  const groups: Group[] = [];
  try {
    await p3.waitEvent((e) => e.event === 'group' && e.type === 'dial-failed', 30_000);
    const join = (id: string, port: number, other: number): Promise<Group> =>
      joinGroup({
        identity: parties.identities.get(id)!,
        roster: parties.roster,
        sessionId: parties.sessionId,
        discovery: staticDiscovery([`127.0.0.1:${other}`]),
        listen: { host: '127.0.0.1', port },
        timeoutMs: 60_000,
        roundTimeoutMs: 10_000,
        discoveryIntervalMs: 20,
        dialBackoff: { initialMs: 20, maxMs: 200 },
      });
    groups.push(...(await Promise.all([join('p1', port1, port2), join('p2', port2, port1)])));
    const [p1, p2] = groups;
    await p3.waitEvent('ready', 30_000);
    const waiting = p2!.receive('p1', 'sum.1/x').then(() => undefined, (e: unknown) => e as CouplerError);
    process.kill(p3.pid!, 'SIGSTOP');
    await p1!.abort(new TimeoutError('round "sum.1/x": no message from "p3"', { peers: ['p3'] }));
    const e = await waiting;
    expect(e).toBeInstanceOf(CouplerError);
    expect({ code: e!.code, peer: e!.peer, peers: e!.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: ['p3'] });
    // A send to p1 now (a party that reaches the next round only after p1 left) judges it too.
    const s = await p2!.send('p1', 'sum.1/y', 1).then(() => undefined, (err: unknown) => err as CouplerError);
    expect({ code: s?.code, peer: s?.peer, peers: s?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: ['p3'] });
  } finally {
    p3.kill('SIGKILL');
    await Promise.all(groups.map((g) => g.close()));
  }
}, 90_000);

test('p1 leaves blaming p3, which stays alive and answers: p2\'s receive names nobody', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 2_000 });
  try {
    const [p1, p2] = h.groups;
    const waiting = p2!.receive('p1', 'sum.1/x').then(() => undefined, (e: unknown) => e as CouplerError);
    await p1!.abort(new TimeoutError('round "sum.1/x": no message from "p3"', { peers: ['p3'] }));
    const e = await waiting;
    expect({ code: e!.code, peer: e!.peer, peers: e!.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: [] });
  } finally {
    await h.close();
  }
}, 40_000);

test('gather: at the deadline, a notice still being judged decides over the timeout — p3 is behind (silent), p2 reported p4 (frozen), the gather names p4 only', async () => {
  await withLoopbackP4(async ([p1, p2], p4) => {
    // p1 waits 8 s for everyone; p3 never sends (it is behind). After 5 s p4 freezes and p2 leaves
    // blaming it: p1 probes p4 for 4 s (half its deadline), so the judgement is still open at the
    // deadline (the delay only has to land between 4 and 8 s).
    const gathering = p1!.gather('sum.1/x', { timeoutMs: 8_000 }).then(() => undefined, (e: unknown) => e as CouplerError);
    await new Promise((r) => setTimeout(r, 5_000));
    process.kill(p4.pid!, 'SIGSTOP');
    await p2!.abort(new TimeoutError('round "sum.1/y": no message from "p4"', { peers: ['p4'] }));
    const e = await gathering;
    expect({ code: e?.code, peer: e?.peer, peers: e?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p2', peers: ['p4'] });
  }, 10_000);
}, 90_000);
