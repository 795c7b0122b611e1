/**
 * review13 R13-8: one party's path to the relay dies without the relay noticing — its NAT drops the
 * mapping and answers the party with a reset, while the relay's side of the old TCP connection stays
 * open and silent (a half-open connection; the relay learns of it only when TCP gives up, minutes
 * later, and its partner's pings keep the pair from idling out). The party resumes at once, but its
 * slot at the relay (session, it, peer) is still held by the dead connection: every re-dial is
 * refused `duplicate` until the party's resume window ends, and the others, whose pairs to it look
 * fine, name it at their deadline. The honest outcome: the party proved again who it is (a fresh
 * signed admission), so the new connection takes its slot and the old one is closed; the links
 * resume and the sum is right.
 */
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(30_000);

/** A TCP path to 127.0.0.1:`target`; `dropClientSide()` resets the party's side of every live connection and leaves the relay's side open and silent. */
async function natPath(target: number): Promise<{ port: number; dropClientSide(): void; close(): Promise<void> }> {
  const pairs = new Set<{ a: Socket; b: Socket }>();
  const server = createServer((a) => {
    const b = connect(target, '127.0.0.1');
    const pair = { a, b };
    pairs.add(pair);
    for (const s of [a, b]) s.on('error', () => undefined);
    a.on('data', (d) => b.write(d));
    b.on('data', (d) => {
      if (!a.destroyed) a.write(d);
    });
    a.on('close', () => pairs.delete(pair));
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    dropClientSide: () => {
      for (const { a } of [...pairs]) {
        a.removeAllListeners('close');
        a.resetAndDestroy();
      }
      pairs.clear();
    },
    close: async () => {
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
    roundTimeoutMs: 5_000,
  });
}

test('R13-8 — p1\'s side of its relay connections is reset while the relay\'s side stays half-open: p1\'s fresh admissions take over its slots, the sum is right, nobody is named', async () => {
  const parties = makeParties(3);
  const port = await freePort();
  const path = await natPath(port);
  const direct = `ws://127.0.0.1:${port}`;
  const viaPath = `ws://127.0.0.1:${path.port}`;
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: [direct, viaPath] });
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, id === 'p1' ? viaPath : direct)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    path.dropClientSide();
    await new Promise((r) => setTimeout(r, 300));
    const two = await Promise.allSettled(groups.map((g, i) => secureSum(g, 10 * (i + 1))));
    const outcome = two.map((r) => (r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] }));
    if (process.env.R13_DEBUG) console.log(JSON.stringify(outcome), JSON.stringify(relay.stats().refused));
    expect(outcome).toEqual([{ sum: 60 }, { sum: 60 }, { sum: 60 }]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
    await path.close();
  }
});
