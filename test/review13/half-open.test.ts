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
import { settleSums, sleep, sumEach, sumOutcome, withRelayGroup } from '../support/relay-group';

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

test('R13-8 — p1\'s side of its relay connections is reset while the relay\'s side stays half-open: p1\'s fresh admissions take over its slots, the sum is right, nobody is named', async () => {
  await withRelayGroup({ roundTimeoutMs: 5_000, path: { via: 'p1', open: natPath } }, async ({ relay, groups, path }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    path.dropClientSide();
    await sleep(300);
    const outcome = (await settleSums(groups, 10)).map((r) => sumOutcome(r));
    if (process.env.R13_DEBUG) console.log(JSON.stringify(outcome), JSON.stringify(relay.stats().refused));
    expect(outcome).toEqual([{ sum: 60 }, { sum: 60 }, { sum: 60 }]);
  });
});
