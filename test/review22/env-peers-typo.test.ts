/**
 * review22 R22-6: a malformed peer list in the environment (`COUPLER_PEERS=10.0.0.2:70000`, the
 * default discovery when COUPLER_PEERS is set) is refused by every lookup with INVALID_ARGUMENT
 * naming the variable and entry — but the dial loop swallowed every lookup error as "no
 * addresses", so the party ran to its join deadline and failed TIMEOUT naming every other party:
 * honest peers named for this party's own configuration error. waitForPeers already throws such
 * an error at once (only DISCOVERY_FAILED and TIMEOUT are transient there).
 *
 * Real listener on 127.0.0.1; the discovery is the one discoveryFromEnv builds for COUPLER_PEERS.
 */
import { envDiscovery } from '../../src/discovery/env';
import { ErrorCode, type CouplerError } from '../../src/errors';
import { joinGroup } from '../../src/group/group';
import { createRoster } from '../../src/identity/roster';
import { makeParties } from '../support/group-harness';

test('R22-6: COUPLER_PEERS with a port out of range fails the join with INVALID_ARGUMENT at once, naming nobody', async () => {
  const parties = makeParties(2);
  const roster = createRoster(parties.ids.map((id) => ({ id, publicKey: parties.identities.get(id)!.publicKey })));
  const t0 = Date.now();
  const err = await joinGroup({
    identity: parties.identities.get('p1')!,
    roster,
    sessionId: parties.sessionId,
    listen: { host: '127.0.0.1', port: 0 },
    discovery: envDiscovery({ env: { COUPLER_PEERS: '127.0.0.1:70000' } }),
    timeoutMs: 4_000,
  }).then(
    () => undefined,
    (e: unknown) => e as CouplerError,
  );
  const ms = Date.now() - t0;
  console.log(`R22-6: ${err?.code} ${JSON.stringify(err?.peers)} after ${ms} ms: ${err?.message}`);
  // Before the fix: TIMEOUT after 4 s with peers ["p2"].
  expect(err?.code).toBe(ErrorCode.INVALID_ARGUMENT);
  expect(err?.message).toContain('COUPLER_PEERS');
  expect(err?.peers ?? []).toEqual([]);
  expect(ms).toBeLessThan(3_000);
});
