/**
 * Roster-bound sessions at the relay (`rosterBoundSessions`, `coupler relay
 * --roster-bound-sessions`): tasks whose keys are made per task (vantage6 key subtasks) use a
 * relay that was given no roster. The session id `<label>#<roster digest>` commits to the roster;
 * the relay admits a party on the roster it presents only when that roster hashes to the id's
 * digest and the party signs with its key in it. Real relay, real WebSockets on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { generateIdentity } from '../../src/identity/identity';
import { createRoster, rosterBoundSessionId, rosterDigest, sessionRosterDigest } from '../../src/identity/roster';
import { secureSum } from '../../src/protocols';
import { ErrorCode, InvalidArgumentError } from '../../src/errors';
import { RELAY_PATH, RELAY_SUBPROTOCOL, RelayError, admissionTranscript, relayChannel, startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { joinAll } from './_relay';

jest.setTimeout(30_000);

const relays: RelayServer[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()));
});
async function relay(opts: Partial<Parameters<typeof startRelay>[0]> = {}): Promise<RelayServer> {
  const r = await startRelay({ rosters: [], rosterBoundSessions: true, ...opts });
  relays.push(r);
  return r;
}
const urlOf = (r: RelayServer): string => `ws://127.0.0.1:${r.port}`;
const bound = (p: TestParties, label = `task-${randomBytes(4).toString('hex')}`): TestParties => ({ ...p, sessionId: rosterBoundSessionId(p.roster, label) });

/** A hand-made admission request from `from` (its key `secretKey`) presenting `rosterText`. */
function request(url: string, session: string, from: string, to: string, secretKey: Uint8Array, rosterText: string | undefined): string {
  const body = { session, from, to, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
  const sig = encodeBase64(ed25519Sign(admissionTranscript(url, body), secretKey));
  return JSON.stringify({ v: 1, ...body, sig, ...(rosterText === undefined ? {} : { roster: rosterText }) });
}
const rosterText = (p: TestParties): string => JSON.stringify(p.roster.toJSON());

/** Send one admission request; the relay's first answer. */
function firstAnswer(url: string, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL);
    ws.on('open', () => ws.send(text));
    ws.on('message', (d: Buffer) => {
      resolve(JSON.parse(d.toString()));
      ws.terminate();
    });
    ws.on('error', reject);
  });
}

describe('roster-bound session ids', () => {
  test('the id commits to the ids and keys (not to address hints); other rosters give other digests', () => {
    const a = generateIdentity('1');
    const b = generateIdentity('2');
    const r1 = createRoster([{ id: '1', publicKey: a.publicKey }, { id: '2', publicKey: b.publicKey }]);
    const r2 = createRoster([{ id: '2', publicKey: b.publicKey, address: '10.0.0.2:8888' }, { id: '1', publicKey: a.publicKey }]);
    const r3 = createRoster([{ id: '1', publicKey: a.publicKey }, { id: '2', publicKey: generateIdentity('2').publicKey }]);
    expect(rosterDigest(r1)).toMatch(/^[0-9a-f]{64}$/);
    expect(rosterDigest(r2)).toBe(rosterDigest(r1));
    expect(rosterDigest(r3)).not.toBe(rosterDigest(r1));
    const id = rosterBoundSessionId(r1, 'v6-7-abc');
    expect(id).toBe(`v6-7-abc#${rosterDigest(r1)}`);
    expect(sessionRosterDigest(id)).toBe(rosterDigest(r1));
    expect(sessionRosterDigest('plain-session')).toBeUndefined();
    for (const label of ['', 'a#b', 'with space', 'x'.repeat(61)]) expect(() => rosterBoundSessionId(r1, label)).toThrow(InvalidArgumentError);
  });
});

describe('a relay with no roster, admitting roster-bound sessions', () => {
  test('a 4-party secureSum completes with every pair relayed', async () => {
    const parties = bound(makeParties(4));
    const r = await relay();
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }));
    try {
      const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
      for (const o of out) expect(o.sum).toBe(10);
      for (const g of groups) for (const s of g.stats()) expect(s.path).toBe('relay');
      expect(r.stats().pairs).toBe(6);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  test('a session id that is not roster-bound → not-in-roster (the relay has no roster for it)', async () => {
    const parties = makeParties(2);
    const r = await relay();
    await expect(relayChannel(urlOf(r), 'p2', { identity: parties.identities.get('p1')!, roster: parties.roster, sessionId: parties.sessionId, pairTimeoutMs: 2_000 })).rejects.toMatchObject({
      code: ErrorCode.RELAY_REFUSED,
      reason: 'not-in-roster',
    });
  });

  test('taking a session over: its id with another roster (the attacker\'s own keys) → roster-digest', async () => {
    const victim = bound(makeParties(2));
    const attacker = makeParties(2); // same ids p1, p2, other keys
    const r = await relay();
    const url = urlOf(r);
    const answer = await firstAnswer(url, request(url, victim.sessionId, 'p1', 'p2', attacker.identities.get('p1')!.secretKey, rosterText(attacker)));
    expect(answer).toEqual({ t: 'refused', reason: 'roster-digest' });
    // The real parties still get their channel.
    const [a, b] = await Promise.all([
      relayChannel(url, 'p2', { identity: victim.identities.get('p1')!, roster: victim.roster, sessionId: victim.sessionId, pairTimeoutMs: 5_000 }),
      relayChannel(url, 'p1', { identity: victim.identities.get('p2')!, roster: victim.roster, sessionId: victim.sessionId, pairTimeoutMs: 5_000 }),
    ]);
    a.destroy();
    b.destroy();
  });

  test('the right roster but a key that is not in it → bad-signature', async () => {
    const victim = bound(makeParties(2));
    const r = await relay();
    const url = urlOf(r);
    const answer = await firstAnswer(url, request(url, victim.sessionId, 'p1', 'p2', generateIdentity('p1').secretKey, rosterText(victim)));
    expect(answer).toEqual({ t: 'refused', reason: 'bad-signature' });
  });

  test('a garbage roster → malformed; a roster on an unbound session is not used', async () => {
    const victim = bound(makeParties(2));
    const r = await relay();
    const url = urlOf(r);
    expect(await firstAnswer(url, request(url, victim.sessionId, 'p1', 'p2', victim.identities.get('p1')!.secretKey, '{"version":1,"parties":"x"}'))).toEqual({ t: 'refused', reason: 'malformed' });
    const plain = makeParties(2);
    expect(await firstAnswer(url, request(url, plain.sessionId, 'p1', 'p2', plain.identities.get('p1')!.secretKey, rosterText(plain)))).toEqual({ t: 'refused', reason: 'not-in-roster' });
  });

  test('one source opens at most maxBoundSessionsPerSource live roster-bound sessions → source-limit', async () => {
    const r = await relay({ maxSessionsPerSource: 2 });
    const url = urlOf(r);
    const open: WebSocket[] = [];
    const admitOne = (p: TestParties): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL);
        open.push(ws);
        ws.on('open', () => ws.send(request(url, p.sessionId, 'p1', 'p2', p.identities.get('p1')!.secretKey, rosterText(p))));
        ws.on('message', (d: Buffer) => resolve(JSON.parse(d.toString())));
        ws.on('error', reject);
      });
    try {
      expect(await admitOne(bound(makeParties(2)))).toEqual({ t: 'admitted' });
      expect(await admitOne(bound(makeParties(2)))).toEqual({ t: 'admitted' });
      expect(await admitOne(bound(makeParties(2)))).toEqual({ t: 'refused', reason: 'source-limit' });
      // Closing one session frees its place.
      open[0]!.close();
      while (r.stats().sessions > 1) await new Promise((res) => setTimeout(res, 10));
      expect(await admitOne(bound(makeParties(2)))).toEqual({ t: 'admitted' });
    } finally {
      for (const ws of open) ws.terminate();
    }
  });

  test('the client refuses a roster that does not match its session id, before contacting the relay', async () => {
    const parties = bound(makeParties(2));
    const other = makeParties(2);
    await expect(
      relayChannel('ws://127.0.0.1:9', 'p2', { identity: other.identities.get('p1')!, roster: other.roster, sessionId: parties.sessionId }),
    ).rejects.toThrow(InvalidArgumentError);
  });

  test('a relay without the option refuses roster-bound sessions it has no roster for', async () => {
    const parties = bound(makeParties(2));
    const r = await relay({ rosterBoundSessions: false, rosters: [makeParties(2).roster] });
    await expect(relayChannel(urlOf(r), 'p2', { identity: parties.identities.get('p1')!, roster: parties.roster, sessionId: parties.sessionId, pairTimeoutMs: 2_000 })).rejects.toBeInstanceOf(RelayError);
  });
});
