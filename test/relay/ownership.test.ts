/**
 * Who owns a session at the relay: what its parties can prove (the session id and the digest of
 * the roster they are admitted on), never whoever came first with the id. Real relay, real
 * parties on 127.0.0.1, the squatter on its own source address (127.0.0.2).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { rosterBoundSessionId } from '../../src/identity/roster';
import { secureSum } from '../../src/protocols';
import { RELAY_PATH, RELAY_SUBPROTOCOL, admissionTranscript, startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { joinAll } from './_relay';

jest.setTimeout(30_000);

const relays: RelayServer[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(relays.splice(0).map((r) => r.close()));
});
const urlOf = (r: RelayServer): string => `ws://127.0.0.1:${r.port}`;

/** Admit `from` → `to` of `p` under `session` from source 127.0.0.2 and keep the connection; the relay's first answer. */
function squat(url: string, p: TestParties, session: string, from: string, to: string, rosterText?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const body = { session, from, to, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
    const sig = encodeBase64(ed25519Sign(admissionTranscript(url, body), p.identities.get(from)!.secretKey));
    const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL, { localAddress: '127.0.0.2' });
    sockets.push(ws);
    ws.on('open', () => ws.send(JSON.stringify({ v: 1, ...body, sig, ...(rosterText === undefined ? {} : { roster: rosterText }) })));
    ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString())));
    ws.on('error', reject);
  });
}

async function sumOf(p: TestParties, url: string): Promise<number[]> {
  const groups = await joinAll(p, () => ({ transport: 'relay', relayUrl: url }), 10_000);
  try {
    return (await Promise.all(groups.map((g, i) => secureSum(g, i + 1, { allowTwoParties: true })))).map((o) => o.sum as number);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}

describe('session ownership', () => {
  test('a member of another static roster holding the id first does not keep the task out; both tasks sum side by side', async () => {
    const victim = makeParties(3);
    const squatter = makeParties(2, 'x'); // a member of another task's roster
    const other = { ...makeParties(2, 'y'), sessionId: victim.sessionId }; // a third task that happens to use the same id
    const r = await startRelay({ rosters: [squatter.roster, victim.roster, other.roster] });
    relays.push(r);
    const url = urlOf(r);
    // The squatter binds the victims' id first and holds it (waiting for its own partner).
    expect(await squat(url, squatter, victim.sessionId, 'x1', 'x2')).toEqual({ t: 'admitted' });
    // fails before this change: every victim party is refused `session-roster` until its deadline.
    const [mine, theirs] = await Promise.all([sumOf(victim, url), sumOf(other, url)]);
    expect(mine).toEqual([6, 6, 6]);
    expect(theirs).toEqual([3, 3]);
    expect(r.stats().refused).toEqual({});
  });

  test('a roster-bound id is never admitted on a static roster it does not commit to; the real parties get their session', async () => {
    const victim = makeParties(3);
    const bound = { ...victim, sessionId: rosterBoundSessionId(victim.roster, `task-${randomBytes(4).toString('hex')}`) };
    const member = makeParties(2); // a static roster of this relay, same ids p1 and p2
    const r = await startRelay({ rosters: [member.roster], rosterBoundSessions: true });
    relays.push(r);
    const url = urlOf(r);
    // fails before this change: the squatter is admitted on its static roster and the victims are refused.
    expect(await squat(url, member, bound.sessionId, 'p1', 'p2')).toEqual({ t: 'refused', reason: 'roster-digest' });
    expect(await sumOf(bound, url)).toEqual([6, 6, 6]);
  });

  test('a roster-bound id whose digest is a static roster of the relay is admitted on that roster (it is the one the id names)', async () => {
    const p = makeParties(2);
    const bound = { ...p, sessionId: rosterBoundSessionId(p.roster, 'listed') };
    const r = await startRelay({ rosters: [p.roster] });
    relays.push(r);
    expect(await sumOf(bound, urlOf(r))).toEqual([3, 3]);
  });
});
