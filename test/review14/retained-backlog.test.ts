/**
 * review14 R14-3 (brief r143): the per-link cap on what a sender keeps for resending must not take
 * the resume from an honest bulk sender. p1 sends p3 48 messages of 1 MiB at once; p3 reaches the
 * relay through a userspace forwarder moving 8 MiB/s per connection and direction, so most of the
 * 48 MiB waits in p1's own send queue (the channel's high-water mark, the relay's window). The
 * relay is restarted during the transfer: the link resumes and resends what p3 lacks.
 *
 * Honest outcome: every message arrives, nobody is named, nothing is kept after. A cap that counts
 * p1's own queued messages (they are held by its send queue anyway) drops the oldest ones while p3
 * still lacks them, and the resume fails (`RELAY_LOST` "no longer held").
 */
import type { Group } from '../../src/group/group';
import { startRelay, type RelayServer } from '../../src/relay';
import { CouplerError } from '../../src/errors';
import { makeParties, type TestParties } from '../support/group-harness';
import { freePort, joinViaRelay } from '../support/relay-group';
import { forwarder, type Forwarder } from '../support/forwarder';

jest.setTimeout(120_000);


const join = (parties: TestParties, id: string, relayUrl: string): Promise<Group> => joinViaRelay(parties, id, relayUrl, 30_000, 30_000);

const describeErr = (err: unknown): unknown => (err instanceof CouplerError ? { code: err.code, peers: [...err.peers], message: err.message } : String(err));

test('R14-3 — an honest sender with a 48 MiB backlog toward a slow peer, the relay restarted mid-transfer: the link resumes, every message arrives', async () => {
  const parties = makeParties(3);
  const port = await freePort();
  const path: Forwarder = await forwarder(port);
  const urls = [`ws://127.0.0.1:${port}`, `ws://127.0.0.1:${path.port}`];
  let relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: urls });
  path.throttle(8 * 2 ** 20);
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, id === 'p3' ? urls[1]! : urls[0]!)));
    const [g1, , g3] = groups as [Group, Group, Group];
    const count = 48;
    const t0 = Date.now();
    const sends = Array.from({ length: count }, (_, k) => g1.send('p3', `bulk/${k}`, new Uint8Array(2 ** 20).fill(k + 1)));
    const got = Array.from({ length: count }, (_, k) => g3.receive('p1', `bulk/${k}`));
    await new Promise((r) => setTimeout(r, 1_500));
    const keptAtRestart = g1.stats().find((s) => s.peer === 'p3')!.retainedBytes;
    await relay.close();
    await new Promise((r) => setTimeout(r, 500));
    relay = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: urls });
    const results = await Promise.allSettled([...sends, ...got]);
    const failed = results.filter((r) => r.status === 'rejected').map((r) => describeErr((r as PromiseRejectedResult).reason));
    console.log(`R14-3 backlog: kept at the restart ${(keptAtRestart / 2 ** 20).toFixed(1)} MiB, ${Date.now() - t0} ms, failed: ${JSON.stringify(failed.slice(0, 2))} (${failed.length})`);
    expect(failed).toEqual([]);
    results.slice(count).forEach((r, k) => expect(((r as PromiseFulfilledResult<unknown>).value as Uint8Array)[777]).toBe(k + 1));
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await path.close();
    await relay.close();
  }
});
