/**
 * review14 R14-3 (brief r143): a link that dropped kept messages (beyond `retainCap`) and then must
 * resume cannot; who is named for it? A malicious relay (test hook) withholds every frame p1 sends
 * p3 — p1's socket takes them, so p1 keeps them until p3 acknowledges, which it cannot — while p1
 * sends p3 48 messages of 1 MiB: p1 keeps its 32 MiB cap and drops the oldest. Then the relay
 * restarts (without the hook): p3 says it holds fewer messages than p1 still has, p1 cannot resume.
 *
 * Honest outcome: nobody is named, at either end (the relay is the only one at fault, and nothing
 * tells the parties apart from a relay that lost frames). p1 fails `RELAY_LOST`, nobody; p3 must
 * not name p1 — before, p1 dropped the new channel without a word and p3 waited for it and named
 * it `TIMEOUT` at its round deadline.
 */
import type { Group } from '../../src/group/group';
import { startRelay, type RelayServer } from '../../src/relay';
import { CouplerError } from '../../src/errors';
import { makeParties, type TestParties } from '../support/group-harness';
import { freePort, joinViaRelay } from '../support/relay-group';

jest.setTimeout(90_000);

const join = (parties: TestParties, id: string, relayUrl: string): Promise<Group> => joinViaRelay(parties, id, relayUrl, 10_000, 30_000);

const verdict = (r: PromiseSettledResult<unknown>): unknown =>
  r.status === 'fulfilled' ? 'ok' : r.reason instanceof CouplerError ? { code: r.reason.code, peers: [...r.reason.peers].sort() } : String(r.reason);

test('R14-3 — a relay withholds 48 MiB p1 sends p3 (p1 drops beyond its cap), then restarts: the resume fails and nobody is named at either end', async () => {
  const parties = makeParties(3);
  let withhold = false;
  let withheld = 0;
  const port = await freePort(); // restarted on it below: outside the ephemeral range, nothing takes it meanwhile
  let relay: RelayServer = await startRelay({
    rosters: [parties.roster],
    host: '127.0.0.1',
    port,
    _hooks: {
      forward: (_s, from, to, data) => {
        if (!withhold || from !== 'p1' || to !== 'p3') return [data];
        withheld += data.length;
        return [];
      },
    },
  });
  const url = `ws://127.0.0.1:${port}`;
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const [g1, , g3] = groups as [Group, Group, Group];
    withhold = true;
    const count = 48;
    const sends = Array.from({ length: count }, (_, k) => g1.send('p3', `bulk/${k}`, new Uint8Array(2 ** 20).fill(k + 1)));
    const got = Array.from({ length: count }, (_, k) => g3.receive('p1', `bulk/${k}`));
    const until = Date.now() + 20_000;
    while (withheld < count * 2 ** 20 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const kept = g1.stats().find((s) => s.peer === 'p3')!.retainedBytes;
    await relay.close();
    await new Promise((r) => setTimeout(r, 500));
    relay = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port });
    const atP1 = await Promise.allSettled(sends);
    const atP3 = await Promise.allSettled(got);
    const p3 = [...new Set(atP3.map((r) => JSON.stringify(verdict(r))))];
    console.log(`R14-3 overflow: withheld ${(withheld / 2 ** 20).toFixed(1)} MiB, p1 kept ${(kept / 2 ** 20).toFixed(1)} MiB; p1's sends: ${JSON.stringify([...new Set(atP1.map((r) => JSON.stringify(verdict(r))))])}; p3's receives: ${JSON.stringify(p3)}`);
    expect(kept).toBeLessThanOrEqual(33 * 2 ** 20);
    // p1: the relay's, nobody named.
    const atP1After = await g1.receive('p3', 'after/0').then(() => undefined, (err: unknown) => err);
    expect(atP1After).toBeInstanceOf(CouplerError);
    expect({ code: (atP1After as CouplerError).code, peers: [...(atP1After as CouplerError).peers] }).toEqual({ code: 'COUPLER_ERR_RELAY_LOST', peers: [] });
    for (const r of atP3) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(CouplerError);
      expect([...((r as PromiseRejectedResult).reason as CouplerError).peers]).toEqual([]);
    }
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
