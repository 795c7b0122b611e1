/**
 * The relay path under faults, with a real relay server on loopback and real WebSockets:
 *
 * - a relay that crashes while the mesh is forming and is back 1 s later: the pairs it carried are
 *   re-opened (before, a relayed pair was opened once; a channel lost while forming was forgotten
 *   and never re-dialled, so the join failed at its deadline);
 * - a refusal that retrying cannot fix (a signature the relay rejects) ends the join at once with
 *   the relay's reason, instead of retries until the deadline and a bare TIMEOUT;
 * - a relay that is down is retried, and the final TIMEOUT says why.
 */
import { generateIdentity } from '../../src/identity/identity';
import { createRoster } from '../../src/identity/roster';
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { startRelay, RelayError, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { freePort } from '../../src/cli/ports';

jest.setTimeout(45_000);

const relays: RelayServer[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

function join(parties: TestParties, id: string, relayUrl: string, timeoutMs: number, events?: GroupEvent[], identity = parties.identities.get(id)!): Promise<Group> {
  return joinGroup({
    identity,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs,
    roundTimeoutMs: 10_000,
    onEvent: (e) => events?.push(e),
  });
}

test('a relay that crashes while the mesh forms and is back 1 s later: the pairs are re-opened and the mesh forms', async () => {
  const parties = makeParties(3);
  // A port outside the ephemeral range: while the relay is down, no other socket (nor a party's own
  // re-dial, connected to itself) can take it before the relay comes back.
  const port = await freePort('127.0.0.1');
  const first = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port });
  const url = `ws://127.0.0.1:${port}`;
  const events: GroupEvent[] = [];
  // p1 and p2 start and connect to each other through the relay; p3 is late.
  const early = ['p1', 'p2'].map((id) => join(parties, id, url, 30_000, id === 'p1' ? events : undefined));
  const waitFor = async (cond: () => boolean): Promise<void> => {
    while (!cond()) await new Promise((r) => setTimeout(r, 20));
  };
  await waitFor(() => events.some((e) => e.type === 'connected' && e.peer === 'p2'));
  // The relay crashes (every connection cut) and comes back 1 s later on the same address.
  await first.close();
  await waitFor(() => events.some((e) => e.type === 'peer-lost' && e.peer === 'p2'));
  await new Promise((r) => setTimeout(r, 1_000));
  const second = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port });
  relays.push(second);
  const late = join(parties, 'p3', url, 30_000);
  const groups = await Promise.all([...early, late]);
  try {
    // p1 lost p2 while forming and connected to it again.
    expect(events.filter((e) => e.type === 'connected' && e.peer === 'p2').length).toBe(2);
    const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of out) expect(o.sum).toBe(6);
    for (const g of groups) for (const s of g.stats()) expect(s.path).toBe('relay');
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
});

test('a relay restarted between two runs of one group, and one restarted in the middle of a run: the links resume and both sums are right', async () => {
  const parties = makeParties(3);
  // A port outside the ephemeral range: while the relay is down, no other socket (nor a party's own
  // re-dial, connected to itself) can take it before the relay comes back.
  const port = await freePort('127.0.0.1');
  const first = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port });
  const url = `ws://127.0.0.1:${port}`;
  const groups = await Promise.all(parties.ids.map((id) => join(parties, id, url, 20_000)));
  let relay: RelayServer = first;
  const restart = async (): Promise<void> => {
    await relay.close();
    await new Promise((r) => setTimeout(r, 1_000));
    relay = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port });
  };
  try {
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    // Between runs.
    await restart();
    const two = await Promise.all(groups.map((g, i) => secureSum(g, 10 * (i + 1))));
    for (const o of two) expect(o.sum).toBe(60);
    // During a run: p3 starts late, so p1 and p2 are inside the protocol when the relay goes.
    const running = groups.slice(0, 2).map((g, i) => secureSum(g, 100 * (i + 1)));
    await new Promise((r) => setTimeout(r, 200));
    await restart();
    const three = await Promise.all([...running, secureSum(groups[2]!, 300)]);
    for (const o of three) expect(o.sum).toBe(600);
    // Every link went through three channels (one per relay instance) and counted what it resent.
    for (const g of groups) for (const s of g.stats()) expect(s.path).toBe('relay');
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});

test('a refusal that retrying cannot fix (the relay rejects the signature) ends the join at once with the relay reason', async () => {
  const parties = makeParties(3);
  // The relay's roster has another key for p2 than p2 holds.
  const impostorKey = generateIdentity('p2').publicKey;
  const relayRoster = createRoster(parties.ids.map((id) => ({ id, publicKey: id === 'p2' ? impostorKey : parties.identities.get(id)!.publicKey })));
  const r = await startRelay({ rosters: [relayRoster], host: '127.0.0.1', port: 0 });
  relays.push(r);
  const t0 = Date.now();
  const err = await join(parties, 'p2', `ws://127.0.0.1:${r.port}`, 30_000).then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = Date.now() - t0;
  expect(err).toBeInstanceOf(RelayError);
  expect((err as RelayError).reason).toBe('bad-signature');
  expect((err as RelayError).code).toBe(ErrorCode.RELAY_REFUSED);
  // Not the 30 s join deadline (issue 16: a deterministic refusal reaches the party within 5 s).
  expect(ms).toBeLessThan(5_000);
});

test('a relay that is down is retried until the deadline, and the TIMEOUT says why', async () => {
  const parties = makeParties(2);
  const r = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${r.port}`;
  await r.close();
  const events: GroupEvent[] = [];
  const err = (await join(parties, 'p1', url, 2_000, events).then(
    () => undefined,
    (e: unknown) => e,
  )) as CouplerError;
  expect(err).toBeInstanceOf(CouplerError);
  expect(err.code).toBe(ErrorCode.TIMEOUT);
  expect(err.peers).toEqual(['p2']);
  expect(err.message).toMatch(/last relay failure: cannot reach the relay at ws:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  // It was retried with backoff, not given up on.
  expect(events.filter((e) => e.type === 'dial-failed').length).toBeGreaterThan(2);
});
