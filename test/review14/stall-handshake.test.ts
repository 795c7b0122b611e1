/**
 * review14 R14-1c: a malicious roster party p3 breaks its relayed channels to p1 and p2 (a frame
 * it seals wrong; the relay's test hook flips it, which is what p3 could send), and from then on
 * sends nothing on any connection: its group still dials the relay back, so the relay admits and
 * pairs the honest parties' resume dials with p3's, but p3 never answers a handshake (the hook drops
 * every byte p3 sends: what a p3 that stays quiet would send). The pair is made; only p3's part of
 * the handshake is missing. Honest outcome: p1 and p2 name p3, not "the relay is unreachable".
 */
import type { Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { flipLastBit, sendJunk, sumEach, sumOutcome, withRelayGroup } from '../support/relay-group';

jest.setTimeout(40_000);

test('R14-1c — p3 breaks its relayed channels, its group dials back but p3 never answers a handshake: p1 and p2 name p3', async () => {
  let flips = 0;
  let armed = false;
  const forward = (_s: string, from: string, _to: string, data: Uint8Array): Uint8Array[] => {
    if (!armed || from !== 'p3') return [data];
    if (flips >= 2) return [];
    flips++;
    return [flipLastBit(data)];
  };
  await withRelayGroup({ roundTimeoutMs: 4_000, relay: { _hooks: { forward } } }, async ({ groups }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    const [g1, g2, g3] = groups as [Group, Group, Group];
    const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
    armed = true;
    await sendJunk(g3, ['p1', 'p2']);
    const out = (await two).map((r) => sumOutcome(r));
    if (process.env.R14_DEBUG) console.log(JSON.stringify(out));
    expect(flips).toBe(2);
    for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
  });
});
