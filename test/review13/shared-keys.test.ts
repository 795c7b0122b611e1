/**
 * review13 R13-6: two static rosters at one relay that hold the same key for the same party (one
 * roster per task, an organisation's key the same in each) — the admission signature does not say
 * which roster its signer means, and the relay picks "the live session of one of them, else the
 * first". A member of the other roster who opens a session under the task's id first makes the
 * relay put some of the task's connections under the other roster's session: the two directions of
 * one pair can land in different sessions and never meet.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { createRoster } from '../../src/identity/roster';
import { testIdentity } from '../support/identity';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { RELAY_PATH, RELAY_SUBPROTOCOL, admissionTranscript, startRelay, type RelayServer } from '../../src/relay';
import { makeParties } from '../support/group-harness';
import { joinAll } from '../relay/_relay';

jest.setTimeout(40_000);

test('R13-6 — a member of another roster sharing two of the task\'s keys opens the task\'s id first: the task still forms and sums', async () => {
  const victim = makeParties(3);
  const q = testIdentity('q');
  // The other task's roster: p1 and p2 with the same keys as in the victim's, and q.
  const other = createRoster([
    { id: 'p1', publicKey: victim.identities.get('p1')!.publicKey },
    { id: 'p2', publicKey: victim.identities.get('p2')!.publicKey },
    { id: 'q', publicKey: q.publicKey },
  ]);
  const relay: RelayServer = await startRelay({ rosters: [victim.roster, other], host: '127.0.0.1', port: 0, pairTimeoutMs: 120_000 });
  const url = `ws://127.0.0.1:${relay.port}`;
  const held: WebSocket[] = [];
  try {
    // q holds the victims' session id under its roster (waiting for p1, who will never dial it).
    const body = { session: victim.sessionId, from: 'q', to: 'p1', ts: Date.now(), nonce: randomBytes(16).toString('hex') };
    const sig = encodeBase64(ed25519Sign(admissionTranscript(url, body), q.secretKey));
    const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL, { localAddress: '127.0.0.2' });
    held.push(ws);
    ws.on('error', () => undefined);
    const first = await new Promise<unknown>((resolve) => {
      ws.on('open', () => ws.send(JSON.stringify({ v: 1, ...body, sig })));
      ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString())));
    });
    expect(first).toEqual({ t: 'admitted' });
    const outcome = await joinAll(victim, () => ({ transport: 'relay', relayUrl: url }), 15_000).then(
      async (groups) => {
        try {
          return (await Promise.all(groups.map((g, i) => secureSum(g, i + 1)))).map((o) => o.sum);
        } finally {
          await Promise.all(groups.map((g) => g.close()));
        }
      },
      (err: CouplerError) => `${err.code} ${JSON.stringify(err.peers)} ${err.message}`,
    );
    expect(outcome).toEqual([6, 6, 6]);
  } finally {
    for (const w of held) w.terminate();
    await relay.close();
  }
});

test('R13-6 — the digest hint is parsed strictly (64 lower-case hex) in both request kinds', () => {
  // Imported lazily to keep the test above independent of the parser's module.
  const { parseRelayRequest } = jest.requireActual<typeof import('../../src/relay/protocol')>('../../src/relay/protocol');
  const base = { v: 1, session: 's', from: 'p1', to: 'p2', ts: 1, nonce: '0'.repeat(32), sig: 'AA==' };
  expect(parseRelayRequest(JSON.stringify({ ...base, digest: 'a'.repeat(64) }))).toMatchObject({ kind: 'channel', req: { digest: 'a'.repeat(64) } });
  for (const bad of ['A'.repeat(64), 'a'.repeat(63), 7]) expect(() => parseRelayRequest(JSON.stringify({ ...base, digest: bad }))).toThrow(/digest/);
  const agg = { v: 1, op: 'aggregate', session: 's', from: 'p1', agg: 'b'.repeat(64), parties: ['p1', 'p2'], len: 1, ts: 1, nonce: '0'.repeat(32), sig: 'AA==' };
  expect(parseRelayRequest(JSON.stringify({ ...agg, digest: 'c'.repeat(64) }))).toMatchObject({ kind: 'aggregate', req: { digest: 'c'.repeat(64) } });
  expect(() => parseRelayRequest(JSON.stringify({ ...agg, digest: 'x' }))).toThrow(/digest/);
});
