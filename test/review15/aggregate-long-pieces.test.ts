/**
 * review15 — a bad piece of the aggregated opening streamed in parts (chunks of 2^17 + 1
 * elements, n = 4), signed by its sender over what it sent (docs/reviews/review15-dk-aggregate.md).
 */
import { cheatAll, expectAllNamed, vec } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum } from '../../src/protocols';
import { aggregateLayout, pieceHash, piecesStatement, AGGREGATE_PART_ELEMENTS } from '../../src/protocols/aggregate';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { ErrorCode } from '../../src/errors';

const LONG = 4 * (AGGREGATE_PART_ELEMENTS + 1);

describe('long vectors: streamed pieces', () => {
  // The honest aggregator adds each part as it arrives, before the piece's proof can be checked;
  // its answer then includes the bad piece. The dispute must name the piece's sender (its signed
  // pieces statement against its opening), never the aggregator.
  test('a piece streamed to p1 that is not the committed one, under a valid signature over what was sent: COMMITMENT_MISMATCH naming the sender at every honest party', async () => {
    const c = await createTestGroups(4, { roundTimeoutMs: 8000 });
    try {
      const g = c.byId.get('p3')!;
      const layout = aggregateLayout(g.parties, LONG);
      const chunk = 0; // p1's
      const span = layout.start[1]! - layout.start[0]!;
      const parts = Math.ceil(span / AGGREGATE_PART_ELEMENTS);
      const v = new Uint8Array(8 * span);
      let head: { n: Uint8Array; pr: Uint8Array[] } | undefined;
      let seen = 0;
      cheatAll(g, (send, peer, round, payload) => {
        const m = /^(.*\/partial)\/pieces(?:\/(\d+))?$/.exec(round);
        if (m === null || peer !== 'p1') return send(peer, round, payload);
        const base = m[1]!;
        if (m[2] === undefined) {
          head = (payload as { p: { n: Uint8Array; pr: Uint8Array[] } }).p; // sent, re-signed, after the parts
          return Promise.resolve();
        }
        const k = Number(m[2]);
        const pv = Uint8Array.from(payload as Uint8Array);
        if (k === 0) pv[0]! ^= 1;
        v.set(pv, 8 * k * AGGREGATE_PART_ELEMENTS);
        const sent = send(peer, round, pv);
        if (++seen < parts) return sent;
        const h = pieceHash(chunk, { v, n: head!.n, pr: head!.pr });
        const sig = ed25519Sign(piecesStatement(g.sessionId, g.epoch, base, g.localId, 'p1', [{ c: chunk, h }]), g.identity.secretKey);
        return sent.then(() => send(peer, `${base}/pieces`, { p: head!, sig }));
      });
      const out = await settleAll(c.groups.map((gg, i) => dkSecureSum(gg, vec(i, LONG))));
      expectAllNamed(c.ids, out, 'p3', ErrorCode.COMMITMENT_MISMATCH);
    } finally {
      await c.close();
    }
  }, 60_000);
});
