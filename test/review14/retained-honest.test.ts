/**
 * review14 R14-3 (brief r143): the acknowledgement check must never name an honest peer, and an
 * honest peer's acknowledgements must leave nothing kept after a run.
 *
 * - A slow honest peer: p3 reaches the relay through a userspace forwarder that moves 2 MiB/s per
 *   connection and direction. A sum of 2^19-element vectors (its messages are 1 MiB chunks, each
 *   acknowledged at once), then p1 and p2 each send it a burst of eight 1 MiB messages: more than
 *   four acknowledgement windows are in flight, so each sender asks p3 to prove it acknowledges (a
 *   ping after them); the answer comes seconds later, after p3's acknowledgements. Nobody is
 *   named, every message arrives.
 * - Large honest messages (what a 2^24-element vector is in one message: 128 MiB): p1 sends p2 and
 *   p3 two each through the relay; each makes p1 ask; nobody is named.
 * - After each, once the acknowledgement delay has passed, no sender keeps anything for anybody;
 *   after close, nothing either.
 */
import type { Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { freePort, joinViaRelay } from '../support/relay-group';
import { forwarder, type Forwarder } from '../support/forwarder';

jest.setTimeout(300_000);


const join = (parties: TestParties, id: string, relayUrl: string): Promise<Group> => joinViaRelay(parties, id, relayUrl, 120_000, 30_000);

/** Every pair's kept bytes, `from>to: bytes`, for the ones that keep any. */
function kept(groups: readonly Group[]): Record<string, number> {
  const out: Record<string, number> = {};
  groups.forEach((g, i) => {
    for (const s of g.stats()) if (s.retainedBytes !== 0) out[`p${i + 1}>${s.peer}`] = s.retainedBytes;
  });
  return out;
}

/** Wait until nothing is kept (the acknowledgement delay is 100 ms), at most `ms`. */
async function drained(groups: readonly Group[], ms: number): Promise<Record<string, number>> {
  const until = Date.now() + ms;
  for (;;) {
    const k = kept(groups);
    if (Object.keys(k).length === 0 || Date.now() > until) return k;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('R14-3 — a slow honest peer (2 MiB/s) sent more than four acknowledgement windows at once is asked to prove it acknowledges and is never named; nothing is kept after', async () => {
  const parties = makeParties(3);
  const port = await freePort();
  const path: Forwarder = await forwarder(port);
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: [`ws://127.0.0.1:${port}`, `ws://127.0.0.1:${path.port}`] });
  path.throttle(2 * 2 ** 20);
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, `ws://127.0.0.1:${id === 'p3' ? path.port : port}`)));
    const [g1, g2, g3] = groups as [Group, Group, Group];
    const elements = 1 << 19;
    let t0 = Date.now();
    const out = await Promise.all(groups.map((g, i) => secureSum(g, new Float64Array(elements).fill(i + 1), { shares: 'vector' })));
    for (const o of out) expect((o.sum as unknown as ArrayLike<number>)[elements - 1]).toBe(6);
    let left = await drained(groups, 10_000);
    console.log(`R14-3 slow honest sum: ${Date.now() - t0} ms, kept after: ${JSON.stringify(left)}`);
    expect(left).toEqual({});
    t0 = Date.now();
    const burst = (g: Group, tag: number): Promise<void>[] =>
      Array.from({ length: 8 }, (_, k) => g.send('p3', `burst/${k}`, new Uint8Array(2 ** 20).fill(tag + k)));
    const sends = [...burst(g1, 10), ...burst(g2, 20)];
    const got = await Promise.all(['p1', 'p2'].flatMap((from) => Array.from({ length: 8 }, (_, k) => g3.receive(from, `burst/${k}`))));
    await Promise.all(sends);
    got.forEach((v, i) => expect((v as Uint8Array)[12345]).toBe((i < 8 ? 10 : 20) + (i % 8)));
    left = await drained(groups, 10_000);
    const checks = [g1, g2].map((g) => g.stats().find((s) => s.peer === 'p3')!.probesSent);
    console.log(`R14-3 slow honest burst: ${Date.now() - t0} ms, kept after: ${JSON.stringify(left)}, checks p1>p3, p2>p3: ${checks}`);
    expect(left).toEqual({});
    for (const c of checks) expect(c).toBeGreaterThan(0);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    for (const g of groups) expect(g.stats().every((s) => s.retainedBytes === 0)).toBe(true);
    await path.close();
    await relay.close();
  }
});

test('R14-3 — honest 128 MiB messages (a 2^24-element vector in one message) through the relay: the sender asks, nobody is named, nothing kept after', async () => {
  const parties = makeParties(3);
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, `ws://127.0.0.1:${relay.port}`)));
    const [g1, g2, g3] = groups as [Group, Group, Group];
    const t0 = Date.now();
    const size = 2 ** 27;
    const sends = ['p2', 'p3'].flatMap((to) => [0, 1].map((k) => g1.send(to, `big/${k}`, new Uint8Array(size).fill(k + 1))));
    const got = await Promise.all([g2, g3].flatMap((g) => [0, 1].map((k) => g.receive('p1', `big/${k}`))));
    await Promise.all(sends);
    got.forEach((v, i) => expect((v as Uint8Array)[size - 1]).toBe((i % 2) + 1));
    got.length = 0;
    const left = await drained(groups, 10_000);
    const checks = g1.stats().map((s) => s.probesSent);
    console.log(`R14-3 128 MiB honest: ${Date.now() - t0} ms, kept after: ${JSON.stringify(left)}, checks p1>p2, p1>p3: ${checks}, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
    expect(left).toEqual({});
    for (const c of checks) expect(c).toBeGreaterThan(0);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
