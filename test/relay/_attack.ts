/** Helpers of the relay exhaustion tests and benchmark: hand-made admissions from chosen source addresses. */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { type Identity } from '../../src/identity/identity';
import { testIdentity } from '../support/identity';
import { createRoster, rosterBoundSessionId, rosterToJSON, type Roster } from '../../src/identity/roster';
import { RELAY_PATH, RELAY_SUBPROTOCOL, admissionTranscript } from '../../src/relay';

/** An admitted (or refused) hand-made connection. */
export interface RawAdmission {
  readonly ws: WebSocket;
  /** The relay's first answer (`{ t: 'admitted' }` or `{ t: 'refused', reason }`). */
  readonly answer: { t: string; reason?: string };
  /** Every text message of the relay so far (`admitted`, `paired`, …), in order. */
  readonly texts: string[];
}

/** Open a WebSocket to the relay from `localAddress` and send nothing. Resolves when open. */
export function openRaw(url: string, localAddress: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL, { localAddress });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Admit `from` → `to` of `session`, signed with `identity`, optionally presenting `roster`, from `localAddress`. */
export async function admitRaw(url: string, session: string, identity: Identity, to: string, localAddress: string, roster?: Roster, from = identity.id!): Promise<RawAdmission> {
  const ws = await openRaw(url, localAddress);
  ws.on('error', () => undefined);
  const body = { session, from, to, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
  const sig = encodeBase64(ed25519Sign(admissionTranscript(url, body), identity.secretKey));
  const texts: string[] = [];
  ws.on('message', (d: Buffer, isBinary: boolean) => {
    if (!isBinary) texts.push(d.toString());
  });
  const answer = await new Promise<{ t: string; reason?: string }>((resolve) => {
    ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as { t: string; reason?: string }));
    ws.once('close', (_code, reason) => resolve({ t: 'closed', reason: reason.toString() }));
    ws.send(JSON.stringify({ v: 1, ...body, sig, ...(roster === undefined ? {} : { roster: rosterToJSON(roster) }) }));
  });
  return { ws, answer, texts };
}

/** A roster of two fresh keys (`a`, `b`) and a session id bound to it: an outsider's own "task". */
export function ownPair(): { roster: Roster; a: Identity; b: Identity; session: string } {
  const a = testIdentity('a');
  const b = testIdentity('b');
  const roster = createRoster([
    { id: 'a', publicKey: a.publicKey },
    { id: 'b', publicKey: b.publicKey },
  ]);
  return { roster, a, b, session: rosterBoundSessionId(roster, `own-${randomBytes(4).toString('hex')}`) };
}

/** Self-pair an outsider's roster-bound session from `localAddress`: both directions admitted, idle. */
export async function selfPair(url: string, localAddress: string): Promise<RawAdmission[]> {
  const p = ownPair();
  const first = await admitRaw(url, p.session, p.a, 'b', localAddress, p.roster);
  if (first.answer.t !== 'admitted') return [first];
  const second = await admitRaw(url, p.session, p.b, 'a', localAddress, p.roster);
  return [first, second];
}
