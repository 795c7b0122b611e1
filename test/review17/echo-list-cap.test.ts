/**
 * review17 R17-1: the fallback list of the echo broadcast is refused by a size cap
 * (`128 + n · 256` bytes) that an honest list exceeds at n = 3 when the ids, the session id and the
 * round name are long but valid (ids ≤ 64 characters, session id ≤ 128, round ≤ 126). A cheater
 * that equivocates then gets the HONEST parties named: each honest party refuses the other's list
 * ("longer than … bytes", PROTOCOL_VIOLATION naming its sender) before it reaches the statement
 * that proves the equivocation.
 *
 * Real groups over real channels on 127.0.0.1; the cheater rewrites only its own round-1 message
 * to one peer (a second value, validly signed with its own key: an equivocation).
 */
import { partiesWith, join, closeAll, sha256 } from './support';
import { settleAll } from '../support/group-harness';
import { cheat } from '../support/cheat';
import { echoBroadcast, ECHO_STATEMENT } from '../../src/group/echo';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { encodeMessage, type PlainData } from '../../src/wire/codec';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';

jest.setTimeout(60_000);
afterEach(closeAll);

/** Make `g` send `peer` a different value in echo round `round` (validly signed): equivocation. */
function equivocateTo(g: Group, round: string, victim: string): void {
  cheat(g, async (send, peer, r, payload) => {
    if (r === `${round}/v` && peer === victim) {
      const v = encodeMessage({ other: 'value' } as PlainData);
      const stmt = encodeMessage({ t: ECHO_STATEMENT.broadcast, s: g.sessionId, e: g.epoch, r: round, from: g.localId, h: sha256(v) });
      return send(peer, r, { v, sig: ed25519Sign(stmt, g.identity.secretKey) });
    }
    return send(peer, r, payload);
  });
}

async function run(idLength: number, sessionLength: number, roundLength: number): Promise<{ honest: string[]; culprit: string; errors: CouplerError[] }> {
  const ids = ['1', '2', '3'].map((k) => 'a'.repeat(idLength - 1) + k);
  const session = 's'.repeat(sessionLength - 16) + Math.random().toString(16).slice(2, 18).padEnd(16, '0');
  const p = partiesWith(ids, session);
  const gs = await join(p);
  const round = 'r'.repeat(roundLength - 4) + '.1/e';
  const culprit = gs[2]!;
  equivocateTo(culprit, round, gs[1]!.localId);
  const results = await settleAll(gs.map((g) => echoBroadcast(g, round, { from: g.localId })));
  const errors = results.slice(0, 2).map((r) => {
    expect(r.ok).toBe(false);
    return (r as { error: unknown }).error as CouplerError;
  });
  return { honest: ids.slice(0, 2), culprit: culprit.localId, errors };
}

describe('R17-1: an honest echo list of valid but long names is refused', () => {
  test('short names (control): both honest parties name the equivocator', async () => {
    const { culprit, errors } = await run(8, 40, 20);
    for (const e of errors) {
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.code).toBe(ErrorCode.EQUIVOCATION);
      expect(e.peers).toEqual([culprit]);
    }
  });

  test('ids of 64, a session id of 128 and a round of 126 characters (the longest whose sub-rounds are valid): the equivocator is named, never an honest party', async () => {
    const { honest, culprit, errors } = await run(64, 128, 126);
    for (const e of errors) console.log(`[R17-1] ${e.code} peers=${JSON.stringify(e.peers.map((x) => x.slice(-2)))}: ${e.message.slice(0, 160)}`);
    for (const e of errors) {
      for (const h of honest) expect(e.peers).not.toContain(h);
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.code).toBe(ErrorCode.EQUIVOCATION);
      expect(e.peers).toEqual([culprit]);
    }
  });
});
