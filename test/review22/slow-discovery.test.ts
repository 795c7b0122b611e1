/**
 * review22 R22-2: the dial loop waits for every discovery's lookup before it dials anything, the
 * roster's own addresses included. The roster's addresses are served first so that nothing a
 * discovery says can hold back a peer the roster locates (test/group/roster-address.test.ts); but
 * a DNS server that does not answer (or answers just before the deadline) held every pass for the
 * whole lookup deadline — up to 60 s for dnsDiscovery, 10 s for the vantage6 VPN discovery — and
 * with it the first dial and every retry of the roster's addresses.
 *
 * Three parties, each with all roster addresses and a dnsDiscovery whose server (a real UDP socket
 * on 127.0.0.1) swallows every query; lookup deadline 10 s, join deadline 6 s.
 */
import { freePort as freePortOn } from '../../src/cli/ports';
import { dnsDiscovery } from '../../src/discovery/dns';
import type { CouplerError } from '../../src/errors';
import { joinGroup, type Group } from '../../src/group/group';
import { createRoster } from '../../src/identity/roster';
import { makeParties } from '../support/group-harness';
import { startBlackhole, type BlackholeServer } from '../support/dns-udp';

let dns: BlackholeServer;
beforeAll(async () => {
  dns = await startBlackhole('127.0.0.1');
});
afterAll(() => dns.close());

test('R22-2: a DNS server that never answers does not hold back the roster addresses (the mesh forms, nobody is named)', async () => {
  const parties = makeParties(3);
  const ports = await Promise.all(parties.ids.map(() => freePortOn('127.0.0.1')));
  const roster = createRoster(parties.ids.map((id, i) => ({ id, publicKey: parties.identities.get(id)!.publicKey, address: `127.0.0.1:${ports[i]}` })));
  const t0 = Date.now();
  const joined = await Promise.allSettled(
    parties.ids.map((id, i) =>
      joinGroup({
        identity: parties.identities.get(id)!,
        roster,
        sessionId: parties.sessionId,
        listen: { host: '127.0.0.1', port: ports[i]! },
        discovery: dnsDiscovery({ names: ['tasks.sum'], port: 7000, servers: [dns.server], timeoutMs: 10_000 }),
        timeoutMs: 6_000,
        dialBackoff: { initialMs: 20, maxMs: 200 },
      }),
    ),
  );
  const groups = joined.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  try {
    // Before the fix: every party failed TIMEOUT at 6 s naming both honest peers (its first pass was
    // still waiting for the DNS lookup).
    const outcome = joined.map((r) => (r.status === 'fulfilled' ? 'joined' : `${(r.reason as CouplerError).code} ${JSON.stringify((r.reason as CouplerError).peers)}`));
    console.log(`R22-2: ${JSON.stringify(outcome)} after ${Date.now() - t0} ms; DNS queries swallowed: ${dns.received()}`);
    expect(outcome).toEqual(['joined', 'joined', 'joined']);
  } finally {
    await Promise.all(groups.map((g: Group) => g.close()));
  }
}, 30_000);
