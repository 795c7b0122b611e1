/**
 * review14 R14-1e: R14-1's grace (a peer that does not come to a relay that admitted this party's
 * resume dial is missing here) ran per dial. A malicious roster party p3 breaks its relayed
 * channels (a frame it seals wrong; the relay's hook flips it) and then, every 400 ms, sends the
 * relay a fresh signed admission of its own for its slots toward p1 and p2 (with its own key) and
 * never a handshake byte: each pairs with the honest party's waiting resume dial, stalls its
 * handshake, and is taken over by the next one — which evicts the honest dial. Every evicted dial
 * started the honest party's grace again, so it never ended and the round deadline blamed the
 * relay. Honest outcome: p1 and p2 name p3.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { rosterDigest } from '../../src/identity/roster';
import { RELAY_PATH, RELAY_SUBPROTOCOL, admissionTranscript } from '../../src/relay/protocol';
import { forwarder } from '../support/forwarder';
import { flipLastBit, sendJunk, sleep, sumEach, sumOutcome, waitUntil, withRelayGroup } from '../support/relay-group';

jest.setTimeout(40_000);

test('R14-1e — p3 breaks its relayed channels, then takes over its slots every 400 ms with admissions that never handshake: p1 and p2 name p3', async () => {
  let flips = 0;
  let armed = false;
  const forward = (_s: string, from: string, _to: string, data: Uint8Array): Uint8Array[] => {
    if (!armed || from !== 'p3' || flips >= 2) return [data];
    flips++;
    return [flipLastBit(data)];
  };
  await withRelayGroup({ roundTimeoutMs: 6_000, path: { via: 'p3', open: forwarder }, relay: { _hooks: { forward } } }, async ({ parties, relay, url: direct, groups, path }) => {
    const sockets: WebSocket[] = [];
    let stop = false;
    let loop: Promise<void> = Promise.resolve();
    try {
      for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
      const [g1, g2, g3] = groups as [Group, Group, Group];
      const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
      armed = true;
      await sendJunk(g3, ['p1', 'p2']);
      await waitUntil(() => flips >= 2, 5_000);
      path.freeze(); // p3's group says nothing more; p3 acts through the admissions below
      const key = parties.identities.get('p3')!.secretKey;
      loop = (async () => {
        while (!stop) {
          for (const to of ['p1', 'p2']) {
            const body = { session: parties.sessionId, from: 'p3', to, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
            const sig = encodeBase64(ed25519Sign(admissionTranscript(direct, body), key));
            const ws = new WebSocket(`${direct}${RELAY_PATH}`, RELAY_SUBPROTOCOL, { perMessageDeflate: false });
            ws.on('error', () => undefined);
            ws.on('open', () => ws.send(JSON.stringify({ v: 1, ...body, sig, url: direct, digest: rosterDigest(parties.roster) })));
            sockets.push(ws);
          }
          await sleep(400);
        }
      })();
      const out = (await two).map((r) => sumOutcome(r));
      if (process.env.R14_DEBUG) console.log(JSON.stringify(out), JSON.stringify(relay.stats().refused));
      expect(flips).toBe(2);
      expect(relay.stats().refused.evicted ?? 0).toBeGreaterThan(4);
      for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
    } finally {
      stop = true;
      await loop;
      for (const ws of sockets) ws.terminate();
    }
  });
});
