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
import { createServer, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { encodeMessage } from '../../src/wire/codec';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { rosterDigest } from '../../src/identity/roster';
import { startRelay, type RelayServer } from '../../src/relay';
import { RELAY_PATH, RELAY_SUBPROTOCOL, admissionTranscript } from '../../src/relay/protocol';
import { makeParties, type TestParties } from '../support/group-harness';
import { forwarder } from '../support/forwarder';

jest.setTimeout(40_000);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 6_000,
  });
}

test('R14-1e — p3 breaks its relayed channels, then takes over its slots every 400 ms with admissions that never handshake: p1 and p2 name p3', async () => {
  const parties = makeParties(3);
  const port = await freePort();
  const path = await forwarder(port);
  const direct = `ws://127.0.0.1:${port}`;
  let flips = 0;
  let armed = false;
  const relay: RelayServer = await startRelay({
    rosters: [parties.roster],
    host: '127.0.0.1',
    port,
    publicUrls: [direct, `ws://127.0.0.1:${path.port}`],
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
  let groups: Group[] = [];
  const sockets: WebSocket[] = [];
  let stop = false;
  let loop: Promise<void> = Promise.resolve();
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, id === 'p3' ? `ws://127.0.0.1:${path.port}` : direct)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    const [g1, g2, g3] = groups as [Group, Group, Group];
    const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
    armed = true;
    await g3._sendRaw('p1', encodeMessage({ r: 'r14.junk', p: 1 }));
    await g3._sendRaw('p2', encodeMessage({ r: 'r14.junk', p: 1 }));
    const until = Date.now() + 5_000;
    while (flips < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
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
        await new Promise((r) => setTimeout(r, 400));
      }
    })();
    const out = (await two).map((r) =>
      r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] },
    );
    if (process.env.R14_DEBUG) console.log(JSON.stringify(out), JSON.stringify(relay.stats().refused));
    expect(flips).toBe(2);
    expect(relay.stats().refused.evicted ?? 0).toBeGreaterThan(4);
    for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
  } finally {
    stop = true;
    await loop;
    for (const ws of sockets) ws.terminate();
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
    await path.close();
  }
});
