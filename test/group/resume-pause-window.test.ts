/**
 * A relayed link must not run out its resume window inside a pause it imposed on itself.
 *
 * review14 R14-3b paces re-dials: a link whose channel breaks again within 30 s of resuming waits
 * before it dials, 100 ms doubling to 5 s (±25 %). The resume window is the round deadline. A roster
 * peer p3 that takes over its own relay slot toward p1 again and again (review14 R14-1d: each
 * takeover evicts p1's side; p1 resumes, p3's fresh connection pairs and says nothing) grows p1's
 * pause past the window: the window then ends while p1 waits, no dial is made, and the link fails
 * with RELAY_LOST "could not resume the link", nobody named — while the relay admitted every dial
 * of p1's and p3 is the one breaking the channels. The takeover-loop test hit it under load (one
 * honest party named nobody, the other p3). Honest outcome here: p1 and p2 name p3.
 */
import type { Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import type { SecureChannel } from '../../src/channel/channel';
import { sleep, sumEach, sumOutcome, takeOverSlot, withRelayGroup } from '../support/relay-group';

jest.setTimeout(60_000);

test('p3 breaks its relayed channel to p1 again and again until p1 paces its re-dials beyond the round deadline; then withholds a sum: p1 and p2 name p3, not the relay', async () => {
  await withRelayGroup({ roundTimeoutMs: 2_000 }, async ({ parties, relay, url, groups }) => {
    const stop = new AbortController();
    const held: SecureChannel[] = [];
    let loop: Promise<number> | undefined;
    try {
      for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
      const [g1, g2] = groups as [Group, Group, Group];
      loop = takeOverSlot(parties, url, 'p3', 'p1', stop.signal, held);
      // 100 + 200 + … + 3 200 ms of pauses (and the breaks between them): p1's next pause is then
      // at least 2 400 ms (3 200 × 0.75), beyond its 2 s resume window.
      await sleep(12_000);
      const out = (await Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)])).map((r) => sumOutcome(r, { message: true }));
      if (process.env.R14_DEBUG) console.log(JSON.stringify(out), held.length, JSON.stringify(relay.stats().refused));
      expect(relay.stats().refused.evicted ?? 0).toBeGreaterThan(5);
      for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
    } finally {
      stop.abort();
      await loop;
      for (const ch of held) ch.destroy();
    }
  });
});
