/**
 * review15 — dkSecureSum's aggregated opening attacked by one party that rewrites only its own
 * messages (docs/reviews/review15-dk-aggregate.md). Real groups on 127.0.0.1 in this process;
 * honest parties unmodified.
 */
import { cheatAll, describe_, honestNamed, type Settled } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum, secureSum, type SumResult } from '../../src/protocols';
import { _rebuildPolicy } from '../../src/protocols/additive';
import { aggregateLayout, pieceHash, piecesStatement, sumHash, sumStatement, AGGREGATE_PART_ELEMENTS } from '../../src/protocols/aggregate';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { CheatingDetectedError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';

const policy = _rebuildPolicy.minElements;
afterEach(() => {
  _rebuildPolicy.minElements = policy;
});

const vec = (i: number, L: number): Float64Array => Float64Array.from({ length: L }, (_, j) => 10 * (i + 1) + (j % 7));

/** Every honest party (all but `cheater`) failed with CheatingDetectedError `code` naming only `cheater`. */
function expectAllNamed(ids: readonly string[], out: readonly Settled<unknown>[], cheater: string, code: string): void {
  const seen = describe_(ids, out);
  ids.forEach((id, i) => {
    if (id === cheater) return;
    const r = out[i]!;
    expect([seen, r.ok]).toEqual([seen, false]);
    const e = (r as { error: CheatingDetectedError }).error;
    expect([seen, e instanceof CheatingDetectedError, e.code, e.peers]).toEqual([seen, true, code, [cheater]]);
  });
}

/**
 * The cheater, as aggregator of its chunk, sends `victims` an answer whose first element is flipped,
 * signed with its own key (one message, or for long vectors a header and parts — the header, whose
 * signature covers the whole answer, goes once every part is out). The rest get the true answer.
 */
function changeAnswer(g: Group, L: number, victims: readonly string[]): void {
  const layout = aggregateLayout(g.parties, L);
  const chunk = g.parties.indexOf(g.localId);
  const span = layout.start[chunk + 1]! - layout.start[chunk]!;
  const maxSpan = Math.max(...layout.start.slice(1).map((_, i) => layout.start[i + 1]! - layout.start[i]!));
  const parts = maxSpan > AGGREGATE_PART_ELEMENTS ? Math.ceil(maxSpan / AGGREGATE_PART_ELEMENTS) : 0;
  const sign = (base: string, v: Uint8Array, k: Uint8Array): Uint8Array => ed25519Sign(sumStatement(g.sessionId, g.epoch, base, g.localId, chunk, sumHash(v, k)), g.identity.secretKey);
  const streams = new Map<string, { v: Uint8Array; k: Uint8Array[]; seen: number }>();
  cheatAll(g, (send, peer, round, payload) => {
    const m = /^(.*\/partial)\/sums(?:\/(\d+))?$/.exec(round);
    if (m === null || !victims.includes(peer)) return send(peer, round, payload);
    const base = m[1]!;
    if (parts === 0) {
      const a = payload as { v: Uint8Array; k: Uint8Array };
      const v = Uint8Array.from(a.v);
      v[0]! ^= 1;
      return send(peer, round, { v, k: a.k, sig: sign(base, v, a.k) });
    }
    if (!streams.has(peer)) streams.set(peer, { v: new Uint8Array(8 * span), k: [], seen: 0 });
    const st = streams.get(peer)!;
    if (m[2] === undefined) return Promise.resolve(); // the header: sent after the parts
    const k = Number(m[2]);
    const part = payload as { v: Uint8Array; k: Uint8Array };
    const pv = Uint8Array.from(part.v);
    if (k === 0) pv[0]! ^= 1;
    st.v.set(pv, 8 * k * AGGREGATE_PART_ELEMENTS);
    st.k[k] = part.k;
    const sent = send(peer, round, { v: pv, k: part.k });
    if (++st.seen < parts) return sent;
    return sent.then(() => send(peer, `${base}/sums`, { sig: sign(base, st.v, Buffer.concat(st.k)) }));
  });
}

const N5 = ['p1', 'p2', 'p4', 'p5'];
const LONG = 4 * (AGGREGATE_PART_ELEMENTS + 1); // n = 4: chunks of 2^17 + 1 elements, two parts each

describe('a changed chunk answer, with the partial sum rebuilt from seeds (_rebuildPolicy lowered to 1)', () => {
  test('to everyone: the dispute (honest openings rebuilt) names the aggregator, TAMPERING_DETECTED', async () => {
    _rebuildPolicy.minElements = 1;
    const c = await createTestGroups(5, { roundTimeoutMs: 4000 });
    try {
      changeAnswer(c.byId.get('p3')!, 50, N5);
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, 50))));
      expectAllNamed(c.ids, out, 'p3', ErrorCode.TAMPERING_DETECTED);
    } finally {
      await c.close();
    }
  }, 30_000);

  test('to p1 only: EQUIVOCATION naming the aggregator at every honest party', async () => {
    _rebuildPolicy.minElements = 1;
    const c = await createTestGroups(5, { roundTimeoutMs: 4000 });
    try {
      changeAnswer(c.byId.get('p3')!, 50, ['p1']);
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, 50))));
      expectAllNamed(c.ids, out, 'p3', ErrorCode.EQUIVOCATION);
    } finally {
      await c.close();
    }
  }, 30_000);

  test('long vectors (streamed pieces and answers, dispute in parts), to everyone: TAMPERING_DETECTED naming the aggregator', async () => {
    _rebuildPolicy.minElements = 1;
    const c = await createTestGroups(4, { roundTimeoutMs: 8000 });
    try {
      changeAnswer(c.byId.get('p3')!, LONG, ['p1', 'p2', 'p4']);
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, LONG))));
      expectAllNamed(c.ids, out, 'p3', ErrorCode.TAMPERING_DETECTED);
    } finally {
      await c.close();
    }
  }, 60_000);
});

describe('secureSum with opening: aggregate (pairwise masks rebuilt from their secrets)', () => {
  test('a changed answer to everyone: TAMPERING_DETECTED naming the aggregator; to p1 only: EQUIVOCATION', async () => {
    _rebuildPolicy.minElements = 1;
    for (const [victims, code] of [[N5, ErrorCode.TAMPERING_DETECTED], [['p1'], ErrorCode.EQUIVOCATION]] as const) {
      const c = await createTestGroups(5, { roundTimeoutMs: 4000 });
      try {
        changeAnswer(c.byId.get('p3')!, 50, victims);
        const out = await settleAll(c.groups.map((g, i) => secureSum(g, vec(i, 50), { opening: 'aggregate' })));
        expectAllNamed(c.ids, out, 'p3', code);
      } finally {
        await c.close();
      }
    }
  }, 30_000);
});

describe('long vectors: streamed chunk answers (partial sums kept)', () => {
  test('an aggregator streams p1 a different (signed) answer than the others: EQUIVOCATION naming it at every honest party', async () => {
    const c = await createTestGroups(4, { roundTimeoutMs: 8000 });
    try {
      changeAnswer(c.byId.get('p3')!, LONG, ['p1']);
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, LONG))));
      expectAllNamed(c.ids, out, 'p3', ErrorCode.EQUIVOCATION);
    } finally {
      await c.close();
    }
  }, 60_000);
});

describe('mask seeds and run-seed coins opened differently to different parties', () => {
  test('a mask seed opened truly to p1 and falsely to the others: nobody accepts; those who got the false one name the cheater; no honest party is named', async () => {
    const c = await createTestGroups(5, { roundTimeoutMs: 2000 });
    try {
      cheatAll(c.byId.get('p3')!, (send, peer, round, payload) => {
        if (!round.endsWith('/partial/mask') || peer === 'p1') return send(peer, round, payload);
        const s = Uint8Array.from(payload as Uint8Array);
        s[0]! ^= 1;
        return send(peer, round, s);
      });
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, 50))));
      const seen = describe_(c.ids, out);
      expect([seen, honestNamed(c.ids, out, ['p3'])]).toEqual([seen, []]);
      for (const id of ['p2', 'p4', 'p5']) {
        const r = out[c.ids.indexOf(id)]!;
        expect([seen, !r.ok && (r.error as CheatingDetectedError).code]).toEqual([seen, ErrorCode.COMMITMENT_MISMATCH]);
      }
      expect([seen, out[0]!.ok]).toEqual([seen, false]);
    } finally {
      await c.close();
    }
  }, 30_000);

  test('a run-seed coin opened truly to p1 and falsely to the others: nobody completes; no honest party is named', async () => {
    const c = await createTestGroups(5, { roundTimeoutMs: 2000 });
    try {
      cheatAll(c.byId.get('p3')!, (send, peer, round, payload) => {
        if (!round.endsWith('/shape/d') || peer === 'p1') return send(peer, round, payload);
        const d = payload as { d: Uint8Array; sig: Uint8Array; x: { coin: Uint8Array } };
        const coin = Uint8Array.from(d.x.coin);
        coin[0]! ^= 1;
        return send(peer, round, { ...d, x: { coin } });
      });
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, 50), { k: 3 })));
      const seen = describe_(c.ids, out);
      expect([seen, honestNamed(c.ids, out, ['p3'])]).toEqual([seen, []]);
      out.forEach((r, i) => {
        if (c.ids[i] !== 'p3') expect([seen, r.ok]).toEqual([seen, false]);
      });
    } finally {
      await c.close();
    }
  }, 30_000);
});

describe('rebuild of honest inputs of every kind (no cheater)', () => {
  test('records, plain arrays, bigint and decimal strings: the rebuilt partial sum matches the committed one (no VALUE_INVALID), the sum is exact', async () => {
    _rebuildPolicy.minElements = 1;
    const c = await createTestGroups(4, { roundTimeoutMs: 4000 });
    try {
      const input = (i: number) => ({ a: Float64Array.from({ length: 9 }, (_, j) => i + j / 4), b: [i, -i, 0.5], c: BigInt(1000 * i), d: `${i}.25`, e: i });
      const out: Settled<SumResult>[] = await settleAll(c.groups.map((g, i) => dkSecureSum(g, input(i + 1) as never)));
      const seen = describe_(c.ids, out);
      for (const r of out) {
        expect([seen, r.ok]).toEqual([seen, true]);
        const s = (r as { value: SumResult }).value.sum as unknown as Record<string, unknown>;
        expect(Array.from(s.a as Float64Array)).toEqual(Array.from({ length: 9 }, (_, j) => 10 + j));
        expect(s.c).toBe(10_000n);
      }
    } finally {
      await c.close();
    }
  }, 30_000);
});

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
