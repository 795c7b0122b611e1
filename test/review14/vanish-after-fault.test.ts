/**
 * review14 R14-1: a malicious roster party p3 on relayed links. It holds its channel keys, so it can
 * make any frame it sends fail the receiver's checks (sealed wrong, out of sequence, not a frame at
 * all) — here one frame of its own to p1 and one to p2, sealed and then flipped in its last byte
 * (the relay's test hook does the flip: on the wire it is exactly what p3 could send). Then p3
 * never dials the relay again (its own path carries nothing more), and withholds its part of the
 * sum. Review 13 (R13-3) made such a failure resume instead of naming the peer, because the relay
 * could have caused it; but the relay is up and admits the honest parties' resume dials — it is p3
 * that never comes back. Honest outcome: p1 and p2 name p3 (as they do when p3 only withholds,
 * the control case), never "the relay is unreachable" with nobody named.
 */
import type { Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { forwarder } from '../support/forwarder';
import { flipLastBit, sendJunk, sleep, sumEach, sumOutcome, waitUntil, withRelayGroup } from '../support/relay-group';

jest.setTimeout(40_000);

async function run(fault: boolean, delayMs = 0): Promise<unknown[]> {
  let flips = 0;
  let armed = false;
  const forward = (_s: string, from: string, _to: string, data: Uint8Array): Uint8Array[] => {
    if (!armed || from !== 'p3') return [data];
    flips++;
    return [flipLastBit(data)];
  };
  // p3's own path to the relay (the relay lists its URL: the forwarder is p3's NAT, as it were).
  return withRelayGroup({ roundTimeoutMs: 4_000, path: { via: 'p3', open: forwarder }, relay: { _hooks: { forward } } }, async ({ groups, path }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    const [g1, g2, g3] = groups as [Group, Group, Group];
    // p1 and p2 start the next sum; p3 withholds its part.
    const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
    if (delayMs > 0) await sleep(delayMs);
    if (fault) {
      armed = true;
      await sendJunk(g3, ['p1', 'p2']);
      await waitUntil(() => flips >= 2, 5_000);
      // (Also any ack or ping p3 sends meanwhile: under load the first sum's last acks come late.)
      expect(flips).toBeGreaterThanOrEqual(2);
    }
    // From here on p3's path carries nothing: it never resumes.
    path.freeze();
    const out = (await two).map((r) => sumOutcome(r, { sortPeers: true }));
    if (process.env.R14_DEBUG) console.log(fault, JSON.stringify(out));
    return out;
  });
}

test('R14-1 control — p3 only withholds its part (its path silent): p1 and p2 name p3', async () => {
  const out = await run(false);
  for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
});

test('R14-1 — p3 makes its frames to p1 and p2 fail the channel check, then never resumes: p1 and p2 name p3, not the relay', async () => {
  const out = await run(true);
  for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
});

test('R14-1 — the same, done 0.8 s before the round deadline (the honest parties\' resume dials are still young at it): p1 and p2 name p3', async () => {
  const out = await run(true, 3_200);
  for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
});
