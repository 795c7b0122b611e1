/**
 * review13 R13-2: an honest relay, and one party's own network path to it cut for a moment (a
 * NAT rebinding, a reset on its uplink, an on-path RST: no key and no relay needed). The party
 * sees its relay connections close abnormally and resumes its links; the relay tells each
 * partner "your partner left" (1001). The honest outcome is the resumption the links were built
 * for (the party is back within a second): the run completes with the right sum and nobody is
 * named. Real relay, real parties, a userspace TCP path on 127.0.0.1 for the one party.
 */
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import type { Group } from '../../src/group/group';
import { CouplerError } from '../../src/errors';
import { settleSums, sleep, sumEach, withRelayGroup } from '../support/relay-group';

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

/** p1 reaches the relay over a {@link cuttablePath}; the others dial it directly. Round deadline 6 s. */
const p1BehindPath = { roundTimeoutMs: 6_000, path: { via: 'p1', open: cuttablePath } };

test('R13-2 — p1 loses its own connections to an honest relay for a moment: the links resume, the sum is right, nobody is named', async () => {
  await withRelayGroup(p1BehindPath, async ({ groups, path }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    // p1's path to the relay is reset; it can reach the relay again at once.
    path.cut();
    await sleep(300);
    const two = await settleSums(groups, 10);
    // (Tolerates an error without `peers`, to show its message.)
    const outcome = two.map((r) =>
      r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...((r.reason as CouplerError).peers ?? [])], message: (r.reason as Error).message },
    );
    if (process.env.R13_DEBUG) console.log(JSON.stringify(outcome, null, 1));
    // Nobody honest is named, whatever else happens ...
    for (const o of outcome) expect('peers' in o ? o.peers : []).toEqual([]);
    // ... and the link was built to resume: the sum is right.
    expect(outcome).toEqual([{ sum: 60 }, { sum: 60 }, { sum: 60 }]);
  });
});

test('R13-2 guard — p1 cut off from the relay for good (a partition, or a crash): p2 and p3 still name p1, p1 names nobody', async () => {
  await withRelayGroup(p1BehindPath, async ({ groups, path }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    // p1's only path to the relay goes away and stays away.
    await path.close();
    const two = await settleSums(groups, 10);
    const outcome = two.map((r) => (r.status === 'fulfilled' ? { sum: r.value.sum } : { peers: [...(r.reason as CouplerError).peers] }));
    // Before the fix of this guard, the resumed links made p2 and p3 report RELAY_LOST naming nobody.
    expect(outcome).toEqual([{ peers: [] }, { peers: ['p1'] }, { peers: ['p1'] }]);
  });
});

test('R13-2 (forming) — p1\'s path to an honest relay is reset while the mesh forms: the mesh forms, the sum is right, nobody is named', async () => {
  await withRelayGroup({ ...p1BehindPath, join: false }, async ({ join, path }) => {
    // p1 and p2 start; p3 comes 1.5 s later, so p1–p2 is formed and the mesh is still forming.
    const early = ['p1', 'p2'].map((id) => join(id));
    await sleep(1_000);
    path.cut();
    await sleep(500);
    const settled = await Promise.allSettled([...early, join('p3')]);
    const failed = settled.filter((r) => r.status === 'rejected').map((r) => {
      const e = (r as PromiseRejectedResult).reason as CouplerError;
      return { code: e.code, peers: [...e.peers], message: e.message };
    });
    const groups = settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Group>).value);
    expect(failed).toEqual([]);
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
  });
});
