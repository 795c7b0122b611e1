/**
 * Three in-process parties over real channels on 127.0.0.1, where p2 has left the group with a
 * notice blaming p3, and p3 is frozen towards p1 (a userspace TCP forwarder that stops moving
 * bytes): p1 holds p2's notice, and asking p3 about it gets no answer. The group's round deadline
 * is 12 s, so waiting for that notice's verdict at the group's deadline takes 6 s.
 */
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { ErrorCode, GroupError } from '../../src/errors';
import type { PeerAddress } from '../../src/discovery/types';
import { forwarder } from './forwarder';
import { makeParties } from './group-harness';

/** Form the groups as described above (see the module notes). */
export async function setup(): Promise<{ g1: Group; g2: Group; g3: Group; via: Awaited<ReturnType<typeof forwarder>> }> {
  const parties = makeParties(3);
  const ports = new Map<string, number>();
  const at = (party: string, port: number): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  let via: Awaited<ReturnType<typeof forwarder>> | undefined;
  const sees: Record<string, () => PeerAddress[]> = {
    p1: () => (via === undefined ? [] : [at('p3', via.port)]),
    p2: () => ['p1', 'p3'].filter((p) => ports.has(p)).map((p) => at(p, ports.get(p)!)),
    p3: () => [],
  };
  const join = (id: string): Promise<Group> =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover: () => Promise.resolve(sees[id]!()) },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 30_000,
      roundTimeoutMs: 12_000, // the group's default deadline: its half (6 s) was the wait
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (e: GroupEvent) => {
        if (e.type === 'listening') ports.set(id, e.port);
      },
    });
  const j3 = join('p3');
  while (!ports.has('p3')) await new Promise((r) => setTimeout(r, 5));
  via = await forwarder(ports.get('p3')!);
  const [g1, g3, g2] = (await Promise.all([join('p1'), j3, join('p2')])) as [Group, Group, Group];
  via.freeze(); // p3 no longer answers p1 (nor hears it)
  // p2 leaves blaming p3; p1 files its notice.
  await g2.abort(new GroupError(ErrorCode.PEER_LOST, 'lost peer "p3"', { peer: 'p3' }));
  while (!g1.lostPeers.includes('p2')) await new Promise((r) => setTimeout(r, 5));
  return { g1, g2, g3, via };
}
