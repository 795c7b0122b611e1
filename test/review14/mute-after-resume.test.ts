/**
 * review14 R14-1b: a malicious roster party p3 breaks its relayed channels to p1 and p2 (a frame it
 * seals wrong — the relay's test hook flips it, which is what p3 could send) and comes back at
 * once: the relay pairs the new connections and the handshakes complete, but p3 never sends the
 * `coupler resume` message that must open each resumed channel (nor its part of the sum). Until a
 * peer's resume arrives, a link stays "resuming" — with a live channel, and no deadline. Honest
 * outcome: at the round deadline p1 and p2 ask p3 over that channel and name it, never "the relay
 * is unreachable" with nobody named.
 */
import { joinGroup, type Group } from '../../src/group/group';
import { PeerLink } from '../../src/group/link';
import type { SecureChannel } from '../../src/channel/channel';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { encodeMessage } from '../../src/wire/codec';
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
    roundTimeoutMs: 4_000,
  });
}

const attach = PeerLink.prototype.attach;
let mute = false;
afterAll(() => {
  PeerLink.prototype.attach = attach;
});
// p3's own code, changed: a resumed channel carries nothing from it (no resume message, no resend).
PeerLink.prototype.attach = function (this: PeerLink, ch: SecureChannel): void {
  if (mute && ch.localId === 'p3') (ch as { send: SecureChannel['send'] }).send = () => Promise.resolve();
  attach.call(this, ch);
};

test('R14-1b — p3 breaks its relayed channels, comes back and never sends its resume message: p1 and p2 name p3', async () => {
  const parties = makeParties(3);
  let flips = 0;
  let armed = false;
  const relay: RelayServer = await startRelay({
    rosters: [parties.roster],
    host: '127.0.0.1',
    port: 0,
    _hooks: {
      forward: (_s, from, _to, data) => {
        if (!armed || from !== 'p3' || flips >= 2) return [data];
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
    mute = true;
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
    mute = false;
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
