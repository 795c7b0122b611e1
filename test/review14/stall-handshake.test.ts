/**
 * review14 R14-1c: a malicious roster party p3 breaks its relayed channels to p1 and p2 (a frame
 * it seals wrong; the relay's test hook flips it, which is what p3 could send), and from then on
 * sends nothing on any connection: its group still dials the relay back, so the relay admits and
 * pairs the honest parties' resume dials with p3's, but p3 never answers a handshake (the hook drops
 * every byte p3 sends: what a p3 that stays quiet would send). The pair is made; only p3's part of
 * the handshake is missing. Honest outcome: p1 and p2 name p3, not "the relay is unreachable".
 */
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { encodeMessage } from '../../src/wire/codec';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(40_000);

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 4_000,
  });
}

test('R14-1c — p3 breaks its relayed channels, its group dials back but p3 never answers a handshake: p1 and p2 name p3', async () => {
  const parties = makeParties(3);
  let flips = 0;
  let armed = false;
  const relay: RelayServer = await startRelay({
    rosters: [parties.roster],
    host: '127.0.0.1',
    port: 0,
    _hooks: {
      forward: (_s, from, _to, data) => {
        if (!armed || from !== 'p3') return [data];
        if (flips >= 2) return [];
        flips++;
        const m = Uint8Array.from(data);
        m[m.length - 1]! ^= 0x80;
        return [m];
      },
    },
  });
  const url = `ws://127.0.0.1:${relay.port}`;
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    const [g1, g2, g3] = groups as [Group, Group, Group];
    const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
    armed = true;
    await g3._sendRaw('p1', encodeMessage({ r: 'r14.junk', p: 1 }));
    await g3._sendRaw('p2', encodeMessage({ r: 'r14.junk', p: 1 }));
    const out = (await two).map((r) =>
      r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] },
    );
    if (process.env.R14_DEBUG) console.log(JSON.stringify(out));
    expect(flips).toBe(2);
    for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
