/**
 * A roster entry's `address` (`coupler roster build … 3=<key>@station3:8888`, documented by the
 * CLI as an address hint) was kept and shown but never dialled: a group whose only way to find a
 * peer was the roster's address timed out naming that peer. Now `joinGroup` dials the roster's
 * addresses (of the other parties) before anything a discovery returns — they come from the
 * roster, the same trusted configuration as the keys — so junk addresses in a discovery answer
 * (review12 R12-2, still linear in the junk) cannot hold back a peer the roster locates. The
 * handshake still decides who is there. A roster address that is not `host:port` is refused
 * before anything starts (`INVALID_ARGUMENT`, naming the entry).
 *
 * In-process parties, real channels on 127.0.0.1. Every party listens on a port picked here.
 */
import { freePort as freePortOn } from '../../src/cli/ports';
import { ErrorCode, type CouplerError } from '../../src/errors';
import { joinGroup, type Group } from '../../src/group/group';
import { createRoster } from '../../src/identity/roster';
import { makeParties } from '../support/group-harness';

const freePort = (): Promise<number> => freePortOn('127.0.0.1');

test('three parties with no discovery at all find each other through the roster addresses', async () => {
  const parties = makeParties(3);
  const ports = await Promise.all(parties.ids.map(() => freePort()));
  const roster = createRoster(parties.ids.map((id, i) => ({ id, publicKey: parties.identities.get(id)!.publicKey, address: `127.0.0.1:${ports[i]}` })));
  const joined = await Promise.allSettled(
    parties.ids.map((id, i) =>
      joinGroup({
        identity: parties.identities.get(id)!,
        roster,
        sessionId: parties.sessionId,
        listen: { host: '127.0.0.1', port: ports[i]! },
        timeoutMs: 8_000,
        discoveryIntervalMs: 20,
        dialBackoff: { initialMs: 20, maxMs: 200 },
      }),
    ),
  );
  const groups = joined.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    // Before: each failed TIMEOUT naming the peers it never dialled (nobody dials: no discovery).
    expect(joined.map((r) => (r.status === 'fulfilled' ? 'joined' : (r.reason as CouplerError).code))).toEqual(['joined', 'joined', 'joined']);
    expect(groups.map((g: Group) => g.peers.length)).toEqual([2, 2, 2]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}, 30_000);

test('a roster address that is not host:port is refused before anything starts, naming the entry', async () => {
  const parties = makeParties(2);
  const roster = createRoster([
    { id: 'p1', publicKey: parties.identities.get('p1')!.publicKey },
    { id: 'p2', publicKey: parties.identities.get('p2')!.publicKey, address: 'station-without-port' },
  ]);
  const err = await joinGroup({ identity: parties.identities.get('p1')!, roster, sessionId: parties.sessionId, listen: false, timeoutMs: 2_000 }).then(
    () => undefined,
    (e: unknown) => e as CouplerError,
  );
  expect(err?.code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect(err?.message).toContain('"p2"');
});
