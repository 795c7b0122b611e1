/**
 * review13 R13-3: a relayed channel runs end to end, so whatever a relay (or anyone on the ws://
 * path between a party and the relay) does to a frame — flips a bit, drops it, sends it twice,
 * sends a text message of its own — fails the channel's AEAD or sequence check. That proves the
 * frame did not come from the peer as sealed; it does not prove the peer sent it wrong, and on a
 * relayed channel the relay and its paths are the likelier culprits. The honest outcome: nobody
 * named (the link is resumable: a new channel through the relay carries what was lost, so the
 * sum completes). Real relay (its test hook alters one forwarded frame), real parties.
 */
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { flipLastBit, settleSums, sumOutcome, withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

type Alter = (data: Uint8Array) => Uint8Array[];
const cases: [string, Alter][] = [
  ['a flipped bit', (d) => [flipLastBit(d)]],
  ['a dropped frame', () => []],
  ['a frame sent twice', (d) => [d, d]],
];

test.each(cases)('R13-3 — the relay alters one frame from p2 to p3 mid-sum (%s): nobody is named, and the sum is right', async (_name, alter) => {
  let armed = false;
  let n = 0;
  const forward = (_s: string, from: string, to: string, data: Uint8Array): Uint8Array[] => {
    if (!armed || from !== 'p2' || to !== 'p3' || n++ !== 1) return [data];
    return alter(data);
  };
  await withRelayGroup({ roundTimeoutMs: 5_000, relay: { _hooks: { forward } } }, async ({ groups }) => {
    armed = true;
    const out = await settleSums(groups);
    expect(n).toBeGreaterThan(1);
    const outcome = out.map((r) => sumOutcome(r));
    for (const o of outcome) expect('peers' in o ? o.peers : []).toEqual([]);
    expect(outcome).toEqual([{ sum: 6 }, { sum: 6 }, { sum: 6 }]);
  });
});

test('R13-3 — an honest relay ends a pair mid-sum with a refusal (bytes-limit: a text message, then 4403): nobody is named', async () => {
  // Room for forming the mesh, not for a sum of 10 000 elements (80 kB per message and peer).
  await withRelayGroup({ roundTimeoutMs: 5_000, relay: { maxBytesPerSession: 200_000 } }, async ({ relay, groups }) => {
    const xs = Float64Array.from({ length: 10_000 }, (_, k) => k % 7);
    const out = await Promise.allSettled(groups.map((g) => secureSum(g, xs)));
    expect(relay.stats().refused['bytes-limit']).toBeGreaterThan(0);
    const outcome = out.map((r) => (r.status === 'fulfilled' ? { ok: true } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] }));
    if (process.env.R13_DEBUG) console.log(JSON.stringify(outcome));
    for (const o of outcome) expect('peers' in o ? o.peers : []).toEqual([]);
  });
});
