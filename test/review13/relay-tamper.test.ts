/**
 * review13 R13-3: a relayed channel runs end to end, so whatever a relay (or anyone on the ws://
 * path between a party and the relay) does to a frame — flips a bit, drops it, sends it twice,
 * sends a text message of its own — fails the channel's AEAD or sequence check. That proves the
 * frame did not come from the peer as sealed; it does not prove the peer sent it wrong, and on a
 * relayed channel the relay and its paths are the likelier culprits. The honest outcome: nobody
 * named (the link is resumable: a new channel through the relay carries what was lost, so the
 * sum completes). Real relay (its test hook alters one forwarded frame), real parties.
 */
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(30_000);

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 5_000,
  });
}

type Alter = (data: Uint8Array) => Uint8Array[];
const cases: [string, Alter][] = [
  [
    'a flipped bit',
    (d) => {
      const m = Uint8Array.from(d);
      m[m.length - 1]! ^= 0x80;
      return [m];
    },
  ],
  ['a dropped frame', () => []],
  ['a frame sent twice', (d) => [d, d]],
];

test.each(cases)('R13-3 — the relay alters one frame from p2 to p3 mid-sum (%s): nobody is named, and the sum is right', async (_name, alter) => {
  const parties = makeParties(3);
  let armed = false;
  let n = 0;
  const relay: RelayServer = await startRelay({
    rosters: [parties.roster],
    host: '127.0.0.1',
    port: 0,
    _hooks: {
      forward: (_s, from, to, data) => {
        if (!armed || from !== 'p2' || to !== 'p3' || n++ !== 1) return [data];
        return alter(data);
      },
    },
  });
  const url = `ws://127.0.0.1:${relay.port}`;
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    armed = true;
    const out = await Promise.allSettled(groups.map((g, i) => secureSum(g, i + 1)));
    expect(n).toBeGreaterThan(1);
    const outcome = out.map((r) => (r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] }));
    for (const o of outcome) expect('peers' in o ? o.peers : []).toEqual([]);
    expect(outcome).toEqual([{ sum: 6 }, { sum: 6 }, { sum: 6 }]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});

test('R13-3 — an honest relay ends a pair mid-sum with a refusal (bytes-limit: a text message, then 4403): nobody is named', async () => {
  const parties = makeParties(3);
  // Room for forming the mesh, not for a sum of 10 000 elements (80 kB per message and peer).
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0, maxBytesPerSession: 200_000 });
  const url = `ws://127.0.0.1:${relay.port}`;
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const xs = Float64Array.from({ length: 10_000 }, (_, k) => k % 7);
    const out = await Promise.allSettled(groups.map((g) => secureSum(g, xs)));
    expect(relay.stats().refused['bytes-limit']).toBeGreaterThan(0);
    const outcome = out.map((r) => (r.status === 'fulfilled' ? { ok: true } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] }));
    if (process.env.R13_DEBUG) console.log(JSON.stringify(outcome));
    for (const o of outcome) expect('peers' in o ? o.peers : []).toEqual([]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
