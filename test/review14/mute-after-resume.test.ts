/**
 * review14 R14-1b: a malicious roster party p3 breaks its relayed channels to p1 and p2 (a frame it
 * seals wrong — the relay's test hook flips it, which is what p3 could send) and comes back at
 * once: the relay pairs the new connections and the handshakes complete, but p3 never sends the
 * `coupler resume` message that must open each resumed channel (nor its part of the sum). Until a
 * peer's resume arrives, a link stays "resuming" — with a live channel, and no deadline. Honest
 * outcome: at the round deadline p1 and p2 ask p3 over that channel and name it, never "the relay
 * is unreachable" with nobody named.
 */
import type { Group } from '../../src/group/group';
import { PeerLink } from '../../src/group/link';
import type { SecureChannel } from '../../src/channel/channel';
import { secureSum } from '../../src/protocols';
import { flipLastBit, sendJunk, sumEach, sumOutcome, withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

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
  let flips = 0;
  let armed = false;
  const forward = (_s: string, from: string, _to: string, data: Uint8Array): Uint8Array[] => {
    if (!armed || from !== 'p3' || flips >= 2) return [data];
    flips++;
    return [flipLastBit(data)];
  };
  await withRelayGroup({ roundTimeoutMs: 4_000, relay: { _hooks: { forward } } }, async ({ groups }) => {
    try {
      for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
      const [g1, g2, g3] = groups as [Group, Group, Group];
      const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
      mute = true;
      armed = true;
      await sendJunk(g3, ['p1', 'p2']);
      const out = (await two).map((r) => sumOutcome(r));
      if (process.env.R14_DEBUG) console.log(JSON.stringify(out));
      expect(flips).toBe(2);
      for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
    } finally {
      mute = false;
    }
  });
});
