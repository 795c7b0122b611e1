/**
 * review13 R13-5: a relay has few aggregation slots (4 by default, 2 per source and per roster
 * digest) for relayed openings. Fair share gives a newcomer an aggregation still missing members
 * (review 6 / FLAW 4), never one whose members all came. An outsider with keys of its own (a
 * roster-bound relay) admits BOTH members of each of its aggregations, from two addresses, and
 * then uploads nothing: four complete aggregations, held until their deadline (the join timeout
 * plus the transfer allowance of the length it declared: 60 s + 272 s at 2^24 elements), renewed
 * at once. Every group's relayed sum on that relay fails `relay-full` at its opening deadline —
 * an outsider with no key of theirs stops their tasks. The honest outcome: a complete aggregation
 * that moves no bytes is not "in use"; a newcomer of a lighter source gets its slot.
 */
import { randomBytes } from 'node:crypto';
import type WebSocket from 'ws';
import { secureSum } from '../../src/protocols';
import { startRelay, type RelayServer } from '../../src/relay';
import { aggregateTranscript } from '../../src/relay/aggregate-wire';
import { encodeBase64 } from '../../src/crypto/bytes';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { rosterToJSON } from '../../src/identity/roster';
import type { Identity } from '../../src/identity/identity';
import type { Roster } from '../../src/identity/roster';
import type { Group } from '../../src/group/group';
import { makeParties, settleAll } from '../support/group-harness';
import { joinAll } from '../relay/_relay';
import { openRaw, ownPair } from '../relay/_attack';

jest.setTimeout(40_000);

const L = 20_000;

async function member(url: string, session: string, roster: Roster, who: Identity, agg: string, localAddress: string): Promise<{ ws: WebSocket; answer: string }> {
  const ws = await openRaw(url, localAddress);
  ws.on('error', () => undefined);
  const body = { session, from: who.id!, agg, parties: ['a', 'b'], len: 2 ** 24, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
  const sig = encodeBase64(ed25519Sign(aggregateTranscript(url, body), who.secretKey));
  const answer = await new Promise<string>((resolve) => {
    ws.once('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as { t: string; reason?: string };
      resolve(m.reason ?? m.t);
    });
    ws.once('close', (_c, reason) => resolve(`closed ${reason.toString()}`));
    ws.send(JSON.stringify({ v: 1, op: 'aggregate', ...body, sig, roster: rosterToJSON(roster) }));
  });
  return { ws, answer };
}

test('R13-5 — an outsider holding every aggregation slot with complete aggregations that move nothing does not stop a relayed sum', async () => {
  const victims = makeParties(3);
  const relay: RelayServer = await startRelay({ rosters: [victims.roster], rosterBoundSessions: true, host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${relay.port}`;
  const held: WebSocket[] = [];
  let groups: Group[] = [];
  try {
    // Two addresses × two complete aggregations (each of its own roster-bound session and roster).
    for (const src of ['127.0.0.2', '127.0.0.3']) {
      for (let k = 0; k < 2; k++) {
        const p = ownPair();
        const agg = randomBytes(32).toString('hex');
        for (const who of [p.a, p.b]) {
          const x = await member(url, p.session, p.roster, who, agg, src);
          held.push(x.ws);
          expect(x.answer).toBe('admitted');
        }
      }
    }
    expect(relay.stats().aggregations.live).toBe(4);
    groups = await joinAll(victims, () => ({ transport: 'relay', relayUrl: url, roundTimeoutMs: 20_000 }), 15_000);
    const xs = groups.map((_, i) => Float64Array.from({ length: L }, (_, l) => (l % 13) + i));
    const out = await settleAll(groups.map((g, i) => secureSum(g, xs[i]!, { opening: 'relay' })));
    // On this code: every party fails RELAY_REFUSED (relay-full) at its opening deadline.
    expect(out.map((o) => (o.ok ? 'ok' : `${(o.error as Error & { code?: string; reason?: string }).code} ${(o.error as { reason?: string }).reason ?? ''}`))).toEqual(['ok', 'ok', 'ok']);
  } finally {
    for (const ws of held) ws.terminate();
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
