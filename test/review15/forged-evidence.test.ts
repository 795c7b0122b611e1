/**
 * review15 R15-3 — a cheater whose tampering every honest party can prove with what it holds
 * itself escapes conviction by presenting one forged statement in the dispute.
 *
 * p3, as aggregator, sends everyone a changed chunk answer signed with its own key: every honest
 * party holds that signed answer, and the dispute's opened values show it is not the sum
 * (`TAMPERING_DETECTED`, a {@link CheatingDetectedError} — the README's outcome for a wrong chunk
 * sum). Before the verdict looks at it, it checks every presented statement and stops at the first
 * one that does not verify, naming its presenter `PROTOCOL_VIOLATION` (a GroupError): one garbage
 * statement in p3's own dispute header turns its conviction into a protocol violation, which the
 * retry rule does not let the others leave out. Forged evidence should be ignored (and named only
 * when nothing else is proven), not shield what the valid evidence proves.
 */
import { changeAnswer, expectAllNamed } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum } from '../../src/protocols';
import { sumStatement } from '../../src/protocols/aggregate';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { encodeMessage, type PlainData } from '../../src/wire/codec';
import { ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';

const L = 40;
const vec = (i: number): number[] => Array.from({ length: L }, (_, j) => 10 * (i + 1) + j);

/** p3's dispute header (a record with the evidence list `ev`) as `rewrite` makes it; `base` is the round without `/dispute`. */
type DisputeRewrite = (g: Group, base: string, d: { ev: PlainData[] } & Record<string, PlainData>) => PlainData;

/**
 * Five parties; p3 sends everyone a changed chunk answer signed with its own key (support.ts
 * `changeAnswer`) and sends its dispute header as `rewrite` makes it. Every honest party must
 * still convict p3 (TAMPERING_DETECTED).
 */
async function expectConvictedDespite(rewrite: DisputeRewrite): Promise<void> {
  const c = await createTestGroups(5, { roundTimeoutMs: 4000 });
  try {
    const g = c.byId.get('p3')!;
    changeAnswer(g, L, g.peers, (send, peer, round, payload) => {
      if (!round.endsWith('/partial/dispute')) return send(peer, round, payload);
      return send(peer, round, rewrite(g, round.slice(0, -'/dispute'.length), payload as { ev: PlainData[] } & Record<string, PlainData>));
    });
    const out = await settleAll(c.groups.map((gg, i) => dkSecureSum(gg, vec(i))));
    expectAllNamed(c.ids, out, 'p3', ErrorCode.TAMPERING_DETECTED);
  } finally {
    await c.close();
  }
}

test('R15-3 — a changed answer to everyone, plus one forged statement in the cheater’s dispute header: every honest party still convicts it (TAMPERING_DETECTED)', async () => {
  await expectConvictedDespite((_g, _base, d) => {
    const forged = { sg: 'p1', st: encodeMessage({ t: 'coupler/1 aggregate sum', c: 0, h: new Uint8Array(32) }), sig: new Uint8Array(64) };
    return { ...d, ev: [forged, ...d.ev] };
  });
}, 30_000);

// The same, with a statement the cheater DID sign (its own key, this round) but malformed: a chunk
// answer for chunk 99. Its signature verifies, so it passed the evidence check; the answer rule
// then stopped at its chunk index, naming the presenter PROTOCOL_VIOLATION before the cheater's
// real answer was judged.
test('R15-3b — a changed answer to everyone, plus a self-signed malformed statement (chunk 99): every honest party still convicts it (TAMPERING_DETECTED)', async () => {
  await expectConvictedDespite((g, base, d) => {
    const st = sumStatement(g.sessionId, g.epoch, base, g.localId, 99, new Uint8Array(32));
    return { ...d, ev: [...d.ev, { sg: g.localId, st, sig: ed25519Sign(st, g.identity.secretKey) }] };
  });
}, 30_000);

// The same, with the evidence list itself malformed (a string where the list goes): the dispute
// round stopped at it, naming the presenter PROTOCOL_VIOLATION, before any opening was taken in.
test('R15-3c — a changed answer to everyone, plus a malformed evidence list in the cheater’s dispute header: every honest party still convicts it (TAMPERING_DETECTED)', async () => {
  await expectConvictedDespite((_g, _base, d) => ({ ...d, ev: 'none' }));
}, 30_000);
