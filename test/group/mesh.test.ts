/**
 * Mesh formation with every party in its own OS process, each on its own loopback address and the
 * same port (like containers on an overlay network), finding each other through a real UDP DNS
 * server (Swarm-style `tasks.svc`), a static list or an environment variable.
 */
import { startDevDnsServer, type DevDnsServer } from '../../src/discovery/dev-dns-server';
import { ErrorCode } from '../../src/errors';
import { allReady, PartyWorld, type DiscoverySpec, type PartyLine, type PartyProcess } from '../support/party-process';

jest.setTimeout(60_000);

let dns: DevDnsServer;
const worlds: PartyWorld[] = [];

beforeAll(async () => {
  dns = await startDevDnsServer({ host: '127.0.0.1', port: 0 });
});

afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.cleanup()));
});

afterAll(async () => {
  await dns?.close();
});

/** Start every party, wait for the full mesh, run one exchange round, close; returns the lines. */
async function meshAndExchange(world: PartyWorld, discoveryFor: (id: string) => DiscoverySpec | DiscoverySpec[], env: (id: string) => Record<string, string> = () => ({})) {
  const parties = world.ids.map((id) => world.spawn(id, { action: 'exchange', discovery: discoveryFor(id), rounds: [{ name: 'r1' }] }, env(id)));
  const ready = await allReady(parties, 45_000);
  for (const p of parties) p.command('go');
  const rounds = await Promise.all(parties.map((p) => p.waitFor('round', 20_000)));
  await Promise.all(parties.map((p) => p.waitFor('closed', 10_000)));
  const exits = await Promise.all(parties.map((p) => p.waitExit(10_000)));
  return { parties, ready, rounds, exits };
}

function expectFullMesh(world: PartyWorld, parties: readonly PartyProcess[], ready: readonly PartyLine[], rounds: readonly PartyLine[]): void {
  ready.forEach((r, i) => {
    const id = world.ids[i]!;
    const others = world.ids.filter((x) => x !== id);
    expect(r.id).toBe(id);
    // One channel per peer: each peer connected exactly once, to exactly the other roster parties.
    expect([...(r.connected as string[])].sort()).toEqual([...others].sort());
    expect(r.channels).toBe(others.length);
  });
  // Both ends of every pair agree which side dialled the one channel that survived (both may dial;
  // the accept policy keeps one connection per pair).
  ready.forEach((r, i) => {
    const id = world.ids[i]!;
    for (const [j, other] of ready.entries()) {
      if (j === i) continue;
      const iDialled = (r.initiatorTo as string[]).includes(world.ids[j]!);
      const jDialled = (other.initiatorTo as string[]).includes(id);
      expect(iDialled !== jDialled).toBe(true);
    }
  });
  rounds.forEach((r, i) => {
    const id = world.ids[i]!;
    expect(r.ok).toBe(true);
    const values = r.values as Record<string, { from: string; round: string }>;
    expect(Object.keys(values).sort()).toEqual(world.ids.filter((x) => x !== id).sort());
    for (const [peer, v] of Object.entries(values)) expect(v).toEqual({ from: peer, round: 'r1' });
  });
  for (const p of parties) {
    expect(p.linesOf('unhandled')).toEqual([]);
    // No runtime warning (e.g. MaxListenersExceededWarning on an AbortSignal with many dials).
    expect(p.stderr).not.toMatch(/Warning/);
    // No channel was lost while the mesh formed (losses after the round are the peers closing).
    const readyAt = p.lines.findIndex((l) => l.type === 'ready');
    expect(p.lines.slice(0, readyAt).filter((l) => l.type === 'event' && (l.event as { type: string }).type === 'peer-lost')).toEqual([]);
  }
}

describe('mesh through the DNS server (tasks.svc -> every party address)', () => {
  test.each([3, 5, 10])('%i processes form the full mesh and exchange a round', async (n) => {
    const world = PartyWorld.create(n, { net: [61, n] });
    worlds.push(world);
    const name = `tasks.svc${n}`;
    dns.setA(name, world.ids.map((id) => world.host(id)));
    const spec: DiscoverySpec = { kind: 'dns', servers: [dns.server], names: [name], port: world.port };
    const { parties, ready, rounds, exits } = await meshAndExchange(world, () => spec);
    expectFullMesh(world, parties, ready, rounds);
    // Every party closed cleanly and its process exited on its own (no leaked handle).
    for (const e of exits) expect(e).toEqual({ code: 0, signal: null });
    dns.remove(name);
  });
});

describe('mesh through other discovery methods', () => {
  test('static list (3 processes)', async () => {
    const world = PartyWorld.create(3, { net: [61, 101] });
    worlds.push(world);
    const list = world.ids.map((id) => world.address(id)).join(',');
    const { parties, ready, rounds, exits } = await meshAndExchange(world, () => ({ kind: 'static', list }));
    expectFullMesh(world, parties, ready, rounds);
    for (const e of exits) expect(e.code).toBe(0);
  });

  test('environment variable (3 processes)', async () => {
    const world = PartyWorld.create(3, { net: [61, 102] });
    worlds.push(world);
    const list = world.ids.map((id) => world.address(id)).join(',');
    const { parties, ready, rounds, exits } = await meshAndExchange(
      world,
      () => ({ kind: 'env', variable: 'TEST_PEERS' }),
      () => ({ TEST_PEERS: list }),
    );
    expectFullMesh(world, parties, ready, rounds);
    for (const e of exits) expect(e.code).toBe(0);
  });

  test('duplicate answers (same address twice, two names, DNS + static): exactly one channel per peer', async () => {
    const world = PartyWorld.create(3, { net: [61, 103] });
    worlds.push(world);
    const hosts = world.ids.map((id) => world.host(id));
    dns.setA('tasks.dup', [...hosts, ...hosts]); // served as given: each address twice in one answer
    dns.setA('alias.dup', [...hosts].reverse());
    const dnsSpec: DiscoverySpec = { kind: 'dns', servers: [dns.server], names: ['tasks.dup', 'alias.dup'], port: world.port };
    const staticSpec: DiscoverySpec = { kind: 'static', list: world.ids.map((id) => world.address(id)).join(',') };
    const { parties, ready, rounds, exits } = await meshAndExchange(world, () => [dnsSpec, staticSpec]);
    expectFullMesh(world, parties, ready, rounds);
    for (const p of parties) {
      // No channel was ever made twice and dropped: exactly one `connected` per peer.
      const connected = p.groupEvents('connected').map((e) => e.peer as string);
      expect(connected.length).toBe(new Set(connected).size);
      // The duplicate answers never caused a refusal as 'duplicate' of an established pair:
      // any refusal is of the expected kinds (order/self), none names a timeout.
      for (const e of [...p.groupEvents('refused'), ...p.groupEvents('dial-failed')]) expect(e.code).not.toBe(ErrorCode.TIMEOUT);
    }
    for (const e of exits) expect(e.code).toBe(0);
    dns.remove('tasks.dup');
    dns.remove('alias.dup');
  });
});
