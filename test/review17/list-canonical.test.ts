/**
 * review17 R17-6: the signed echo list a party keeps as evidence against its sender is decoded
 * last-key-wins and kept as sent: a cheater that signs a list with a duplicated key (`r` first
 * another round's name, then this round's) is named here with evidence that a verifier decoding
 * first-key-wins reads as a statement about another round. The evidence must be unambiguous: a
 * list that is not in canonical form (re-encoding its decoding gives other bytes; honest parties
 * never sign one) is refused, naming its sender, never kept as evidence.
 *
 * Real groups on 127.0.0.1; the cheater speaks the group API with its own roster key.
 */
import { partiesWith, join, closeAll, sha256 } from './support';
import { settleAll } from '../support/group-harness';
import { echoBroadcast, echoDigest, ECHO_STATEMENT } from '../../src/group/echo';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import { CheatingDetectedError, CouplerError } from '../../src/errors';
import type { Group } from '../../src/group/group';

jest.setTimeout(60_000);
afterEach(closeAll);

type Entry = { from: string; h: Uint8Array; sig: Uint8Array };

/** msgpack of a map with the given entries, in order, duplicates kept. */
function rawMap(entries: [string, PlainData][]): Uint8Array {
  const parts = entries.flatMap(([k, v]) => [encodeMessage(k), encodeMessage(v)]);
  return Buffer.concat([Uint8Array.of(0x80 | entries.length), ...parts]);
}

test('a signed echo list with a duplicated key is refused naming its sender, never kept as evidence', async () => {
  const p = partiesWith(['k1', 'k2', 'k3', 'k4']);
  const gs = await join(p, 2000);
  const [victim, framed, , m] = gs as [Group, Group, Group, Group];
  const round = 'dup.1/e';
  const sk = m.identity.secretKey;
  const cheater = (async () => {
    const v = encodeMessage({ from: m.localId } as PlainData);
    const mine: Entry = { from: m.localId, h: sha256(v), sig: ed25519Sign(encodeMessage({ t: ECHO_STATEMENT.broadcast, s: m.sessionId, e: m.epoch, r: round, from: m.localId, h: sha256(v) }), sk) };
    await m.sendToAll(`${round}/v`, { v, sig: mine.sig });
    const got = await m.gather(`${round}/v`);
    const truth: Entry[] = m.parties.map((q) => (q === m.localId ? mine : { from: q, h: sha256((got.get(q) as { v: Uint8Array }).v), sig: (got.get(q) as { sig: Uint8Array }).sig }));
    const forged = truth.map((e) => (e.from === framed.localId ? { from: e.from, h: new Uint8Array(32).fill(7), sig: new Uint8Array(64).fill(7) } : e));
    for (const q of m.peers) {
      const d = echoDigest(m.sessionId, m.epoch, round, q === victim.localId ? forged : truth);
      await m.send(q, `${round}/d`, { d, sig: ed25519Sign(encodeMessage({ t: ECHO_STATEMENT.digest, s: m.sessionId, e: m.epoch, r: round, from: m.localId, d }), sk) });
    }
    await m.gatherSome(`${round}/d`, 0, { timeoutMs: 1500 });
    const stmt = rawMap([
      ['t', ECHO_STATEMENT.list],
      ['s', m.sessionId],
      ['e', m.epoch],
      ['r', 'another.9/e'],
      ['r', round],
      ['from', m.localId],
      ['list', forged],
    ]);
    await m.send(victim.localId, `${round}/f`, { stmt, sig: ed25519Sign(stmt, sk) });
  })();
  const [results] = await Promise.all([settleAll(gs.slice(0, 3).map((g) => echoBroadcast(g, round, { from: g.localId }))), cheater]);
  const e = (results[0] as { error: unknown }).error as CouplerError;
  console.log(`[R17-6] k1: ${e.code} peers=${JSON.stringify(e.peers)}: ${e.message.slice(0, 120)}`);
  expect(e.peers).toEqual([m.localId]);
  if (e instanceof CheatingDetectedError) {
    for (const bytes of e.evidence.statements) {
      const { statement } = decodeMessage(bytes, 1 << 16) as { statement: Uint8Array };
      expect(Buffer.from(encodeMessage(decodeMessage(statement, 1 << 16))).equals(Buffer.from(statement))).toBe(true);
    }
  }
});
