/**
 * review15 — dkSecureSum's aggregated opening attacked by one party that rewrites only its own
 * messages (docs/reviews/review15-dk-aggregate.md). Real groups on 127.0.0.1 in this process;
 * honest parties unmodified.
 */
import { cheatAll, changeAnswer, describe_, expectAllNamed, honestNamed, vec, type Settled } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum, secureSum, type SumResult } from '../../src/protocols';
import { _rebuildPolicy } from '../../src/protocols/additive';
import { CheatingDetectedError, ErrorCode } from '../../src/errors';

const policy = _rebuildPolicy.minElements;
afterEach(() => {
  _rebuildPolicy.minElements = policy;
});

const N5 = ['p1', 'p2', 'p4', 'p5'];

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
