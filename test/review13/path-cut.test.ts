/**
 * review13 R13-2: an honest relay, and one party's own network path to it cut for a moment (a
 * NAT rebinding, a reset on its uplink, an on-path RST: no key and no relay needed). The party
 * sees its relay connections close abnormally and resumes its links; the relay tells each
 * partner "your partner left" (1001). The honest outcome is the resumption the links were built
 * for (the party is back within a second): the run completes with the right sum and nobody is
 * named. Real relay, real parties, a userspace TCP path on 127.0.0.1 for the one party.
 */
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(30_000);

/** A TCP path to 127.0.0.1:`target` whose live connections `cut()` resets (it keeps listening). */
async function cuttablePath(target: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const live = new Set<Socket>();
  const server = createServer((a) => {
    const b = connect(target, '127.0.0.1');
    for (const s of [a, b]) {
      live.add(s);
      s.on('error', () => undefined);
      s.on('close', () => live.delete(s));
    }
    a.pipe(b);
    b.pipe(a);
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      for (const s of [...live]) s.resetAndDestroy();
    },
    close: async () => {
      for (const s of [...live]) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 6_000,
  });
}

test('R13-2 — p1 loses its own connections to an honest relay for a moment: the links resume, the sum is right, nobody is named', async () => {
  const parties = makeParties(3);
  const port = await freePort();
  const path = await cuttablePath(port);
  const direct = `ws://127.0.0.1:${port}`;
  const viaPath = `ws://127.0.0.1:${path.port}`;
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: [direct, viaPath] });
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, id === 'p1' ? viaPath : direct)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    // p1's path to the relay is reset; it can reach the relay again at once.
    path.cut();
    await new Promise((r) => setTimeout(r, 300));
    const two = await Promise.allSettled(groups.map((g, i) => secureSum(g, 10 * (i + 1))));
    const outcome = two.map((r) =>
      r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...((r.reason as CouplerError).peers ?? [])], message: (r.reason as Error).message },
    );
    if (process.env.R13_DEBUG) console.log(JSON.stringify(outcome, null, 1));
    // Nobody honest is named, whatever else happens ...
    for (const o of outcome) expect('peers' in o ? o.peers : []).toEqual([]);
    // ... and the link was built to resume: the sum is right.
    expect(outcome).toEqual([{ sum: 60 }, { sum: 60 }, { sum: 60 }]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
    await path.close();
  }
});

test('R13-2 guard — p1 cut off from the relay for good (a partition, or a crash): p2 and p3 still name p1, p1 names nobody', async () => {
  const parties = makeParties(3);
  const port = await freePort();
  const path = await cuttablePath(port);
  const direct = `ws://127.0.0.1:${port}`;
  const viaPath = `ws://127.0.0.1:${path.port}`;
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: [direct, viaPath] });
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, id === 'p1' ? viaPath : direct)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    // p1's only path to the relay goes away and stays away.
    await path.close();
    const two = await Promise.allSettled(groups.map((g, i) => secureSum(g, 10 * (i + 1))));
    const outcome = two.map((r) => (r.status === 'fulfilled' ? { sum: r.value.sum } : { peers: [...(r.reason as CouplerError).peers] }));
    // Before the fix of this guard, the resumed links made p2 and p3 report RELAY_LOST naming nobody.
    expect(outcome).toEqual([{ peers: [] }, { peers: ['p1'] }, { peers: ['p1'] }]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});

test('R13-2 (forming) — p1\'s path to an honest relay is reset while the mesh forms: the mesh forms, the sum is right, nobody is named', async () => {
  const parties = makeParties(3);
  const port = await freePort();
  const path = await cuttablePath(port);
  const direct = `ws://127.0.0.1:${port}`;
  const viaPath = `ws://127.0.0.1:${path.port}`;
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: [direct, viaPath] });
  let groups: Group[] = [];
  try {
    // p1 and p2 start; p3 comes 1.5 s later, so p1–p2 is formed and the mesh is still forming.
    const early = ['p1', 'p2'].map((id) => join(parties, id, id === 'p1' ? viaPath : direct));
    await new Promise((r) => setTimeout(r, 1_000));
    path.cut();
    await new Promise((r) => setTimeout(r, 500));
    const settled = await Promise.allSettled([...early, join(parties, 'p3', direct)]);
    const failed = settled.filter((r) => r.status === 'rejected').map((r) => {
      const e = (r as PromiseRejectedResult).reason as CouplerError;
      return { code: e.code, peers: [...e.peers], message: e.message };
    });
    groups = settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Group>).value);
    expect(failed).toEqual([]);
    const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of out) expect(o.sum).toBe(6);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
    await path.close();
  }
});
