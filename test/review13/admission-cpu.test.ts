/**
 * review13 R13-4: what an outsider with no key costs the relay per admission request. The relay
 * checks a request's signature against every roster that holds both ids — once per roster, and
 * again for the unsigned url hint — even when those rosters all hold the same key for the signer
 * (one roster per task, the organisations' keys the same in each: the ordinary static setup). A
 * bogus request (a made-up signature, a url hint for another relay) then costs the relay one
 * verification per roster, twice: at 400 rosters ≈ 140 ms of CPU per request here — a handful of
 * requests per second from one outsider keeps a core busy. Measured as a ratio against one roster
 * in the same process (both sides' CPU; the client's part is the same in both), so load on the
 * machine cancels out.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { testIdentity } from '../support/identity';
import { createRoster, type Roster } from '../../src/identity/roster';
import { startRelay, RELAY_PATH, RELAY_SUBPROTOCOL } from '../../src/relay';

jest.setTimeout(30_000);

const a = testIdentity('a');
const b = testIdentity('b');
const rostersSharingKeys = (k: number): Roster[] =>
  Array.from({ length: k }, (_, i) =>
    createRoster([
      { id: 'a', publicKey: a.publicKey },
      { id: 'b', publicKey: b.publicKey },
      { id: `task${i}`, publicKey: testIdentity(`task${i}`).publicKey },
    ]),
  );

/** CPU (µs, this process: relay and client) per bogus admission request against a relay with `rosters`. */
async function cpuPerBogusRequest(rosters: Roster[], n: number): Promise<number> {
  const r = await startRelay({ rosters, host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${r.port}`;
  const reasons = new Set<string>();
  try {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      await new Promise<void>((done) => {
        const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL);
        ws.on('error', () => undefined);
        ws.on('message', (d: Buffer) => reasons.add(String((JSON.parse(d.toString()) as { reason?: string }).reason)));
        ws.once('open', () =>
          ws.send(JSON.stringify({ v: 1, session: 'task-1', from: 'a', to: 'b', ts: Date.now(), nonce: randomBytes(16).toString('hex'), sig: Buffer.alloc(64, 7).toString('base64'), url: 'ws://elsewhere.invalid:1' })),
        );
        ws.once('close', () => done());
      });
    }
    const u = process.cpuUsage(t0);
    expect([...reasons]).toEqual(['bad-signature']);
    return (u.user + u.system) / n;
  } finally {
    await r.close();
  }
}

test('R13-4 — a bogus admission request costs the relay about as much with 400 rosters holding the signer\'s key as with one', async () => {
  const one = rostersSharingKeys(1);
  const many = rostersSharingKeys(400);
  // Warm up, then interleave.
  await cpuPerBogusRequest(one, 10);
  const base = (await cpuPerBogusRequest(one, 30)) + (await cpuPerBogusRequest(one, 30));
  const loaded = (await cpuPerBogusRequest(many, 30)) + (await cpuPerBogusRequest(many, 30));
  // On this code the ratio is ≈ 40 (≈ 140 ms against ≈ 3.5 ms per request).
  expect(loaded / base).toBeLessThan(4);
});
