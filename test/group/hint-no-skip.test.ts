/**
 * A discovery's party hint is a hint: hostile discovery (DNS, a vantage6 server's address list)
 * may label a real peer's address with the id of a party that is already connected. The dial loop
 * skipped every address whose hint named a connected party, so that peer's address was never
 * dialled from this side; unless the peer dialled in, the pair never formed and this party's
 * formation failed with a TIMEOUT naming the honest, reachable peer (review10, "a party hint can
 * suppress a dial"; the server can do no more by leaving the address out, but the hint must not
 * make an address that is there unusable). Now an address is skipped only once a dial to it
 * settled its owner; a hint only orders the dials.
 *
 * In-process parties, real channels on 127.0.0.1. p3 listens and dials nobody; p2 dials p1; p1's
 * discovery returns p2's address, then — once p2 is connected — p3's address labelled "p2".
 */
import type { PeerAddress } from '../../src/discovery/types';
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { makeParties } from '../support/group-harness';

const until = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test("an address labelled with a connected party's id is still dialled once: p1 reaches p3 and the group forms", async () => {
  const parties = makeParties(3);
  const ports = new Map<string, number>();
  const events = new Map<string, GroupEvent[]>([
    ['p1', []],
    ['p2', []],
    ['p3', []],
  ]);
  const joinWith = (id: string, discover: () => Promise<PeerAddress[]>): Promise<Group> =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 4_000,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (e) => {
        events.get(id)!.push(e);
        if (e.type === 'listening') ports.set(id, e.port);
      },
    });
  const at = (port: number, party: string): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  const connected = (id: string, peer: string): boolean => events.get(id)!.some((e) => e.type === 'connected' && e.peer === peer);
  // p3 dials nobody: only p1's dial can form the pair p1–p3 (p2 dials p3, below).
  const j3 = joinWith('p3', () => Promise.resolve([]));
  await until(() => ports.has('p3'), 10_000);
  // p1: first only p2's address; once p2 is connected, p3's address as well — labelled "p2".
  const j1 = joinWith('p1', () =>
    Promise.resolve(connected('p1', 'p2') ? [at(ports.get('p2')!, 'p2'), at(ports.get('p3')!, 'p2')] : ports.has('p2') ? [at(ports.get('p2')!, 'p2')] : []),
  );
  await until(() => ports.has('p1'), 10_000);
  const j2 = joinWith('p2', () => Promise.resolve([at(ports.get('p1')!, 'p1'), at(ports.get('p3')!, 'p3')]));
  const joined = await Promise.allSettled([j1, j2, j3]);
  const groups = joined.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    // Before: p1 never dialled p3's address and failed with TIMEOUT naming p3 (and p2, p3 with it).
    expect(joined.map((r) => (r.status === 'fulfilled' ? 'joined' : `${(r.reason as { code?: string }).code} ${JSON.stringify((r.reason as { peers?: string[] }).peers)}`))).toEqual([
      'joined',
      'joined',
      'joined',
    ]);
    expect(connected('p1', 'p3')).toBe(true);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}, 30_000);
