/**
 * review14 R14-1d: a malicious roster party p3 uses review13 R13-8 (a later signed request takes
 * over its held slot; the old connection and its partner are `evicted`) against the honest
 * parties: every 300 ms it dials the relay afresh for its slots toward p1 and p2 (with its own key
 * — nothing it does not hold). Each takeover evicts the honest party's side of the pair, whose
 * link resumes and re-dials; p3's fresh connection may pair with it and complete the handshake,
 * and then says nothing. p3 also withholds its part of the sum. Honest outcome: p1 and p2 name
 * p3 at the round deadline, never "the relay is unreachable" with nobody named.
 */
import type { Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import type { SecureChannel } from '../../src/channel/channel';
import { sumEach, sumOutcome, takeOverSlot, withRelayGroup } from '../support/relay-group';

jest.setTimeout(40_000);

test('R14-1d — p3 takes over its own relay slots toward p1 and p2 every 300 ms during a sum it withholds: p1 and p2 name p3', async () => {
  await withRelayGroup({ roundTimeoutMs: 4_000 }, async ({ parties, relay, url, groups }) => {
    const stop = new AbortController();
    const held: SecureChannel[] = [];
    let loops: Promise<number>[] = [];
    try {
      for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
      const [g1, g2] = groups as [Group, Group, Group];
      const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
      loops = ['p1', 'p2'].map((peer) => takeOverSlot(parties, url, 'p3', peer, stop.signal, held));
      const out = (await two).map((r) => sumOutcome(r));
      if (process.env.R14_DEBUG) console.log(JSON.stringify(out), held.length, JSON.stringify(relay.stats().refused));
      expect(relay.stats().refused.evicted ?? 0).toBeGreaterThan(2);
      for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
    } finally {
      stop.abort();
      await Promise.allSettled(loops);
      for (const ch of held) ch.destroy();
    }
  });
});
