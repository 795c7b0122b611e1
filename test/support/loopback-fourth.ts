/**
 * Four parties on 127.0.0.1: p1, p2 and p3 in this process, p4 a separate process (so a test can
 * freeze it with SIGSTOP: its channels stay open and it answers nothing, as behind a partition).
 */
import { joinGroup, type Group } from '../../src/group/group';
import { staticDiscovery } from '../../src/discovery/static';
import { freePort, startLoopbackParty } from '../netns/loopback';
import type { NsProcess } from '../netns/testbed';
import { makeParties } from './group-harness';

/**
 * Form the four-party group, run `body` with the three in-process groups and p4's process, then
 * kill p4 and close the groups.
 * @param roundTimeoutMs - every party's default round deadline (default 20 s).
 */
export async function withLoopbackP4(body: (groups: Group[], p4: NsProcess) => Promise<void>, roundTimeoutMs = 20_000): Promise<void> {
  const parties = makeParties(4);
  const ports: Record<string, number> = { p1: await freePort(), p2: await freePort(), p3: await freePort() };
  // p4 first (a process starts slowly on a loaded machine): it dials the others until they listen.
  const p4 = startLoopbackParty({
    id: 'p4',
    identity: parties.identities.get('p4')!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    dial: Object.values(ports),
    mode: 'commands',
    joinTimeoutMs: 60_000,
    roundTimeoutMs,
  });
  const groups: Group[] = [];
  try {
    await p4.waitEvent((e) => e.event === 'group' && e.type === 'dial-failed', 30_000);
    const join = (id: string): Promise<Group> =>
      joinGroup({
        identity: parties.identities.get(id)!,
        roster: parties.roster,
        sessionId: parties.sessionId,
        discovery: staticDiscovery(Object.entries(ports).filter(([p]) => p !== id).map(([, port]) => `127.0.0.1:${port}`)),
        listen: { host: '127.0.0.1', port: ports[id]! },
        timeoutMs: 60_000,
        roundTimeoutMs,
        discoveryIntervalMs: 20,
        dialBackoff: { initialMs: 20, maxMs: 200 },
      });
    groups.push(...(await Promise.all(['p1', 'p2', 'p3'].map(join))));
    await p4.waitEvent('ready', 30_000);
    await body(groups, p4);
  } finally {
    p4.kill('SIGKILL');
    await Promise.all(groups.map((g) => g.close()));
  }
}
