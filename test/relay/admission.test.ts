/**
 * The relay's admission step on the raw wire (a hand-written client): malformed, stale and
 * replayed requests are refused with their stable reason, and the relay keeps no connection.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { startRelay, admissionTranscript, parseAdmissionRequest, isTransientRefusal, RELAY_REFUSAL_CLASS, RELAY_REFUSE_REASONS, RELAY_PATH, RELAY_SUBPROTOCOL, ADMISSION_SKEW_MS, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

let relay: RelayServer;
let parties: TestParties;
let url: string;
beforeEach(async () => {
  parties = makeParties(2);
  relay = await startRelay({ rosters: [parties.roster] });
  url = `ws://127.0.0.1:${relay.port}`;
});
afterEach(() => relay.close());

function request(ts: number, nonce = randomBytes(16).toString('hex')): string {
  const body = { session: parties.sessionId, from: 'p1', to: 'p2', ts, nonce };
  const sig = encodeBase64(ed25519Sign(admissionTranscript(url, body), parties.identities.get('p1')!.secretKey));
  return JSON.stringify({ v: 1, ...body, sig });
}

/** Send `first`; resolve with the relay's answers and the close code/reason. */
function exchange(first: string | Buffer, keepOpenMs = 0): Promise<{ answers: unknown[]; code: number; reason: string; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL);
    const answers: unknown[] = [];
    ws.on('open', () => ws.send(first));
    ws.on('message', (d: Buffer) => {
      answers.push(JSON.parse(d.toString()));
      if (keepOpenMs > 0) setTimeout(() => resolve({ answers, code: 0, reason: '', ws }), keepOpenMs);
    });
    ws.on('close', (code, reason) => resolve({ answers, code, reason: reason.toString(), ws }));
    ws.on('error', reject);
  });
}

test.each([
  ['a binary first message', Buffer.from([1, 2, 3])],
  ['not JSON', '{nope'],
  ['a wrong version', JSON.stringify({ v: 2 })],
  ['a bad signature length', JSON.stringify({ v: 1, session: 's', from: 'p1', to: 'p2', ts: Date.now(), nonce: '0'.repeat(32), sig: 'AAAA' })],
])('%s → malformed', async (_name, first) => {
  const r = await exchange(first);
  expect(r.answers).toEqual([{ t: 'refused', reason: 'malformed' }]);
  expect([r.code, r.reason]).toEqual([4403, 'malformed']);
  expect(relay.stats().connections).toBe(0);
});

test('a request older than the allowed clock skew → stale', async () => {
  const r = await exchange(request(Date.now() - ADMISSION_SKEW_MS - 60_000));
  expect(r.reason).toBe('stale');
});

test('a recorded request replayed → duplicate, even after the original connection closed', async () => {
  const req = request(Date.now());
  const first = await exchange(req, 100);
  expect(first.answers).toEqual([{ t: 'admitted' }]);
  first.ws.close();
  while (relay.stats().connections > 0) await new Promise((r) => setTimeout(r, 10));
  const again = await exchange(req);
  expect(again.answers).toEqual([{ t: 'refused', reason: 'duplicate' }]);
});

test('signed for another URL: with the unsigned url hint → url-mismatch (deterministic), without it → bad-signature', async () => {
  const body = { session: parties.sessionId, from: 'p1', to: 'p2', ts: Date.now(), nonce: randomBytes(16).toString('hex') };
  const other = 'wss://relay.elsewhere.example';
  const sig = encodeBase64(ed25519Sign(admissionTranscript(other, body), parties.identities.get('p1')!.secretKey));
  // fails before this change: the relay answered bad-signature whatever the party said it signed.
  expect((await exchange(JSON.stringify({ v: 1, ...body, sig, url: other }))).answers).toEqual([{ t: 'refused', reason: 'url-mismatch' }]);
  const again = { ...body, nonce: randomBytes(16).toString('hex') };
  const sig2 = encodeBase64(ed25519Sign(admissionTranscript(other, again), parties.identities.get('p1')!.secretKey));
  expect((await exchange(JSON.stringify({ v: 1, ...again, sig: sig2 }))).answers).toEqual([{ t: 'refused', reason: 'bad-signature' }]);
  // A hint that does not verify either is just a bad signature.
  expect((await exchange(JSON.stringify({ v: 1, ...again, sig: sig2, url: 'wss://third.example' }))).answers).toEqual([{ t: 'refused', reason: 'bad-signature' }]);
  expect(RELAY_REFUSAL_CLASS['url-mismatch']).toBe('deterministic');
  expect(isTransientRefusal('relay-full')).toBe(true);
  expect(RELAY_REFUSE_REASONS.every((r) => RELAY_REFUSAL_CLASS[r] === 'deterministic' || RELAY_REFUSAL_CLASS[r] === 'transient')).toBe(true);
});

describe('parseAdmissionRequest (the wire shape helpers)', () => {
  const good = { v: 1, session: 's', from: 'p1', to: 'p2', ts: 1, nonce: '0'.repeat(32), sig: 'AAAA' };
  test.each([
    ['an unknown field', { ...good, extra: 1 }, /unexpected field "extra"/],
    ['a non-string session', { ...good, session: 7 }, /"session" must be a string/],
    ['a huge from', { ...good, from: 'x'.repeat(10_000) }, /"from" is longer than 256/],
    ['a negative ts', { ...good, ts: -1 }, /"ts" must be an integer/],
    ['a nonce of the wrong shape', { ...good, nonce: 'ZZ' }, /"nonce" is malformed/],
    ['an array', [good], /expected a map/],
    ['null', null, /expected a map/],
    ['v 2', { ...good, v: 2 }, /"v" must be 1/],
  ])('%s → ProtocolError FRAME_MALFORMED naming the field', (_name, value, message) => {
    expect(() => parseAdmissionRequest(JSON.stringify(value))).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_FRAME_MALFORMED', message: expect.stringMatching(message) }));
  });
  test('a well-formed request parses, optional roster and url included', () => {
    expect(parseAdmissionRequest(JSON.stringify({ ...good, roster: '{}', url: 'ws://x:1' }))).toEqual({ ...good, roster: '{}', url: 'ws://x:1' });
  });
});
