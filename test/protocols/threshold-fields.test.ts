/**
 * thresholdSum in both of its fields, GF(2^61 − 1) (typed arrays) and GF(2^127 − 1) (bigint),
 * over real channels (in-process parties on 127.0.0.1): the same sums as secureSum for random n, t
 * and inputs; dropouts; the field agreed in the echo round; which field `auto` picks; peers named
 * for out-of-field bytes.
 */
import fc from 'fast-check';
import BigNumber from 'bignumber.js';
import { createTestGroups, settleAll, type TestGroups } from '../support/group-harness';
import { sumInputs } from '../support/sum-arbitraries';
import { secureSum, thresholdSum, type SumResult, type ThresholdSumOptions } from '../../src/protocols';
import { _thresholdField } from '../../src/protocols/threshold';
import { field61FromBytes } from '../../src/protocols/common';
import type { SumInput } from '../../src/protocols/math/index';
import { CouplerError, ErrorCode, GroupError } from '../../src/errors';
import type { Group } from '../../src/group/group';
import { expectSameNumbers } from '../support/same-numbers';

const groups = new Map<number, TestGroups>();

beforeAll(async () => {
  for (const n of [3, 4, 5, 6]) groups.set(n, await createTestGroups(n));
});
afterAll(async () => {
  await Promise.all([...groups.values()].map((g) => g.close()));
});

function sentBytes(g: Group): number {
  return g.stats().reduce((s, p) => s + p.bytesSent, 0);
}

// ---------------------------------------------------------------------------------------------
// Inputs: floats (negative, fractional), bigints, decimals, vectors, records.

const ARB = { maxVectorLength: 40, maxRecordLength: 8, edges: true, decimalInRecord: true } as const;

/** The exact sum of ints / decimals, as a check independent of both protocols. */
function exactOf(inputs: readonly SumInput[]): unknown {
  const x0 = inputs[0];
  if (typeof x0 === 'bigint') return (inputs as bigint[]).reduce((s, x) => s + x, 0n);
  if (typeof x0 === 'string') return (inputs as string[]).reduce((s, x) => s.plus(x), new BigNumber(0)).toFixed();
  return undefined;
}

async function runAll(h: TestGroups, inputs: readonly SumInput[], run: (g: Group, x: SumInput, i: number) => Promise<SumResult>): Promise<SumResult[]> {
  return Promise.all(h.groups.map((g, i) => run(g, inputs[i]!, i)));
}

describe.each(['p61', 'p127', 'auto'] as const)('thresholdSum, field %s', (field) => {
  test('the same sums as secureSum at every party, for random n ∈ 3..6, t, inputs (negative, fractional, ints, decimals, vectors, records)', async () => {
    const sample = fc
      .integer({ min: 3, max: 6 })
      .chain((n) =>
        fc.record({
          n: fc.constant(n),
          t: fc.integer({ min: 2, max: n }),
          inputs: sumInputs(n, ARB),
        }),
      );
    await fc.assert(
      fc.asyncProperty(sample, async ({ n, t, inputs }) => {
        const h = groups.get(n)!;
        const got = await runAll(h, inputs, (g, x) => thresholdSum(g, x, { t, field }));
        const want = await runAll(h, inputs, (g, x) => secureSum(g, x));
        for (const r of got) {
          expect(r.protocol).toBe('thresholdSum');
          expect(r.contributors).toEqual(h.ids);
          expect(r.sum).toEqual(want[0]!.sum);
        }
        const exact = exactOf(inputs);
        if (typeof exact === 'bigint') expect(got[0]!.sum).toBe(exact);
        if (typeof exact === 'string') expect(new BigNumber(got[0]!.sum as string).eq(exact)).toBe(true);
      }),
      { numRuns: 12, endOnFailure: true },
    );
  }, 120_000);

  test('a long vector (L = 30 000, several dealing blocks) with n = 5, t = 3', async () => {
    const h = groups.get(5)!;
    const inputs = h.ids.map((_, i) => Float64Array.from({ length: 30_000 }, (_, e) => ((e * 7919 + i * 104729) % 20001) / 8 - 1250));
    const got = await runAll(h, inputs, (g, x) => thresholdSum(g, x, { t: 3, field, bound: 1e4 }));
    const want = inputs.reduce((acc, v) => acc.map((s, e) => s + v[e]!), new Float64Array(30_000));
    for (const r of got) expectSameNumbers(r.sum as Float64Array, want);
  }, 60_000);
});

describe('dropouts: the sum completes with enough parties (quorum ⌈(n + t)/2⌉, at least min(n, t + 1) dealers)', () => {
  /**
   * Make `g` crash right after dealing (its shares are out), or before dealing (`when: 'before'`):
   * its shares never arrive and it vanishes once the shape agreement is done. (The deal goes out in
   * the same message flight as the shape statement, so a party that passed the agreement has dealt;
   * "before" is a party whose deal messages are lost or withheld and which then crashes.)
   */
  function crash(g: Group, when: 'after' | 'before'): void {
    if (when === 'before') {
      const send = g.send.bind(g);
      g.send = async (peer, round, value) => {
        if (round.endsWith('/deal')) return; // never delivered
        return send(peer, round, value);
      };
    }
    const orig = g.gatherSome.bind(g);
    g.gatherSome = async (round, minimum, options) => {
      if (round.endsWith('/deal')) {
        await g.close();
        throw new Error(`crashed ${when} dealing`);
      }
      return orig(round, minimum, options);
    };
  }

  test.each([
    ['p61', 'after', 6, 2, ['p5', 'p6']],
    ['p127', 'after', 5, 3, ['p5']],
    ['p61', 'after', 6, 3, ['p6']],
    ['p61', 'before', 5, 3, ['p5']],
    ['p127', 'before', 5, 3, ['p5']],
  ] as const)('field %s, crash %s dealing, n = %i, t = %i, dropping %j', async (field, when, n, t, dropped) => {
    const h = await createTestGroups(n, { roundTimeoutMs: 4000 });
    try {
      const inputs = h.ids.map((_, i) => [i + 0.25, -(i * 1000) - 0.5, 3]);
      for (const id of dropped) crash(h.byId.get(id)!, when);
      const out = await settleAll(h.groups.map((g, i) => thresholdSum(g, inputs[i]!, { t, field })));
      const survivors = h.ids.filter((id) => !(dropped as readonly string[]).includes(id));
      const contributors = when === 'after' ? h.ids : survivors;
      const want = [0, 1, 2].map((e) => h.ids.reduce((s, id, i) => (contributors.includes(id) ? s + inputs[i]![e]! : s), 0));
      h.ids.forEach((id, i) => {
        const o = out[i]!;
        if (!survivors.includes(id)) {
          expect(o.ok).toBe(false);
          return;
        }
        expect(o.ok).toBe(true);
        const r = (o as { value: SumResult }).value;
        expect(r.contributors).toEqual(contributors);
        expect(Array.from(r.sum as Float64Array)).toEqual(want);
      });
    } finally {
      await h.close();
    }
  }, 30_000);

  /** Run thresholdSum at every party with `dropped` crashing `when`; the survivors' outcomes. */
  async function survivorsOf(n: number, t: number, dropped: readonly string[], when: 'after' | 'before', extra: ThresholdSumOptions = {}) {
    const h = await createTestGroups(n, { roundTimeoutMs: 4000 });
    try {
      for (const id of dropped) crash(h.byId.get(id)!, when);
      const sent = new Map<string, string[]>();
      for (const g of h.groups) {
        const orig = g.send.bind(g);
        const log: string[] = [];
        sent.set(g.localId, log);
        g.send = async (peer, round, value) => {
          log.push(round);
          return orig(peer, round, value);
        };
      }
      const out = await settleAll(h.groups.map((g, i) => thresholdSum(g, i + 1, { t, ...extra })));
      return h.ids.flatMap((id, i) => (dropped.includes(id) ? [] : [{ id, outcome: out[i]!, sent: sent.get(id)! }]));
    } finally {
      await h.close();
    }
  }

  test('natural dropouts that leave fewer than t + 1 dealers: every survivor aborts with TOO_FEW_PARTIES before publishing (n = 5, t = 2, three crash before dealing — the two left would otherwise learn each other’s input)', async () => {
    const survivors = await survivorsOf(5, 2, ['p3', 'p4', 'p5'], 'before');
    expect(survivors).toHaveLength(2);
    for (const s of survivors) {
      expect(s.outcome.ok).toBe(false);
      const e = (s.outcome as { error: CouplerError }).error;
      expect(e.code).toBe(ErrorCode.TOO_FEW_PARTIES);
      expect(s.sent.filter((r) => r.endsWith('/partial'))).toEqual([]);
    }
  }, 30_000);

  test('dropouts after dealing that leave fewer than the quorum ⌈(n + t)/2⌉ = 4 of 5 (t = 3): TOO_FEW_PARTIES, nothing published', async () => {
    const survivors = await survivorsOf(5, 3, ['p4', 'p5'], 'after');
    for (const s of survivors) {
      expect(s.outcome.ok).toBe(false);
      expect((s.outcome as { error: CouplerError }).error.code).toBe(ErrorCode.TOO_FEW_PARTIES);
      expect(s.sent.filter((r) => r.endsWith('/partial'))).toEqual([]);
    }
  }, 30_000);

  test('minContributors: the caller raises the floor (5 of 5: one dropout before dealing aborts); below the floor or above n is refused up front', async () => {
    const survivors = await survivorsOf(5, 3, ['p5'], 'before', { minContributors: 5 });
    for (const s of survivors) {
      expect(s.outcome.ok).toBe(false);
      expect((s.outcome as { error: CouplerError }).error.code).toBe(ErrorCode.TOO_FEW_PARTIES);
      expect(s.sent.filter((r) => r.endsWith('/partial'))).toEqual([]);
    }
    const g = groups.get(5)!.groups[0]!;
    await expect(thresholdSum(g, 1, { t: 3, minContributors: 3 })).rejects.toMatchObject({ code: ErrorCode.PARAMETERS_UNSAFE });
    await expect(thresholdSum(g, 1, { t: 3, minContributors: 6 })).rejects.toMatchObject({ code: ErrorCode.PARAMETERS_UNSAFE });
    await expect(thresholdSum(g, 1, { t: 3, minContributors: 4.5 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  }, 30_000);
});

describe('the field is agreed in the echo round', () => {
  test.each([
    ['p61 vs p127', { field: 'p61' }, { field: 'p127' }],
    ['auto (→ p61) vs p127', {}, { field: 'p127' }],
    ['p127 vs auto (→ p61)', { field: 'p127' }, { field: 'auto' }],
  ] as const)('%s at one party → SHAPE_MISMATCH naming it; nothing decoded', async (_label, common, odd) => {
    const h = groups.get(4)!;
    const out = await settleAll(h.groups.map((g, i) => thresholdSum(g, 5, { t: 3, ...(i === 3 ? odd : common) } as ThresholdSumOptions)));
    for (const [i, o] of out.entries()) {
      expect(o).toMatchObject({ ok: false, error: { code: ErrorCode.SHAPE_MISMATCH, peers: i === 3 ? ['p1', 'p2', 'p3'] : ['p4'] } });
    }
    // The group stays usable.
    const r = await runAll(h, [1, 2, 3, 4], (g, x) => thresholdSum(g, x, { t: 3 }));
    expect(r[0]!.sum).toBe(10);
  });

  test('an unknown field is refused locally', async () => {
    const g = groups.get(4)!.groups[0]!;
    const before = g.stats().reduce((s, p) => s + p.messagesSent, 0);
    await expect(thresholdSum(g, 1, { field: 'p31' as 'p61' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    expect(g.stats().reduce((s, p) => s + p.messagesSent, 0)).toBe(before);
  });
});

describe('which field auto picks', () => {
  test('the rule: p61 when n·B·2^f·4 ≤ 2^61 − 1 (and n·B·10^d·4 for decimal inputs), else p127', () => {
    expect(_thresholdField(5, 1, {})).toBe('p61'); // 2.3 + 31 + 16 + 2 = 51.3
    expect(_thresholdField(1024, 1, {})).toBe('p61'); // 10 + 31 + 16 + 2 = 59
    expect(_thresholdField(4095, 1, {})).toBe('p61'); // 4095·2^49 < 2^61 − 1
    expect(_thresholdField(4096, 1, {})).toBe('p127'); // 2^12·2^49 = 2^61
    expect(_thresholdField(5, 1, { bound: 2 ** 41 })).toBe('p127'); // 5·2^41·2^16·4 = 5·2^59 > 2^61 − 1
    expect(_thresholdField(4, 1, { bound: 2 ** 41 - 1 })).toBe('p61'); // 4·(2^41 − 1)·2^18 ≤ 2^61 − 1
    expect(_thresholdField(4, 1, { bound: 2 ** 41 })).toBe('p127'); // 4·2^41·2^18 = 2^61 > 2^61 − 1
    expect(_thresholdField(5, 1, { fractionalBits: 40 })).toBe('p127');
    expect(_thresholdField(5, 1n, { bound: 2n ** 60n })).toBe('p127');
    expect(_thresholdField(5, 1, { field: 'p127' })).toBe('p127');
    expect(_thresholdField(5, 1, { field: 'p61', bound: 2 ** 60 })).toBe('p61'); // refused later, by prepareRun
    // Decimals scale by 10^d: with d = 12 they need 2.3 + 31 + 39.9 + 2 bits, floats only 51.3.
    expect(_thresholdField(5, 1.5, { decimalPlaces: 12 })).toBe('p61');
    expect(_thresholdField(5, '1.5', { decimalPlaces: 12 })).toBe('p127');
    expect(_thresholdField(5, { a: 1.5, b: ['2.5'] }, { decimalPlaces: 12 })).toBe('p127');
  });

  test('a huge bound: auto runs in p127 (a party asking for p127 explicitly agrees), float sums correct', async () => {
    const h = groups.get(4)!;
    const big = 2 ** 90;
    const inputs = [big, -big / 2, big / 4, 1.5];
    const r = await runAll(h, inputs, (g, x, i) => thresholdSum(g, x, { t: 3, bound: 2 ** 100, ...(i === 0 ? { field: 'p127' as const } : {}) }));
    for (const x of r) expect(x.sum).toBe(big - big / 2 + big / 4 + 1.5);
  });

  test('bigints beyond the p61 budget: auto runs in p127 and the sum is exact', async () => {
    const h = groups.get(4)!;
    const inputs = [2n ** 60n - 1n, 2n ** 60n - 3n, -(2n ** 59n), 2n ** 60n];
    const r = await runAll(h, inputs, (g, x, i) => thresholdSum(g, x, { t: 2, bound: 2n ** 60n, ...(i === 2 ? { field: 'p127' as const } : {}) }));
    for (const x of r) expect(x.sum).toBe(inputs.reduce((s, v) => s + v, 0n));
  });

  test('decimals with many places: auto runs in p127 and the sum is exact', async () => {
    const h = groups.get(3)!;
    const inputs = ['1234567.123456789012', '-0.000000000001', '99999999.999999999999'];
    const r = await runAll(h, inputs, (g, x, i) => thresholdSum(g, x, { t: 2, decimalPlaces: 12, ...(i === 1 ? { field: 'p127' as const } : {}) }));
    for (const x of r) expect(new BigNumber(x.sum as string).eq('101234567.12345678901')).toBe(true);
  });

  test("field 'p61' with an unsafe bound is refused locally with PARAMETERS_UNSAFE, before anything is sent", async () => {
    const g = groups.get(5)!.groups[0]!;
    const before = g.stats().reduce((s, p) => s + p.messagesSent, 0);
    const e = await thresholdSum(g, 1n, { field: 'p61', bound: 2n ** 60n }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CouplerError);
    expect((e as CouplerError).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    expect((e as CouplerError).message).toMatch(/≈ 61/);
    await expect(thresholdSum(g, '1.5', { field: 'p61', decimalPlaces: 12 })).rejects.toMatchObject({ code: ErrorCode.PARAMETERS_UNSAFE });
    expect(g.stats().reduce((s, p) => s + p.messagesSent, 0)).toBe(before);
  });

  test('wire cost: p61 sends half the bytes of p127 (8- vs 16-byte elements)', async () => {
    const h = groups.get(4)!;
    const L = 20_000;
    const inputs = h.ids.map((_, i) => new Float64Array(L).fill(i + 0.5));
    const cost = async (field: 'p61' | 'p127'): Promise<number> => {
      const before = h.groups.map(sentBytes);
      await runAll(h, inputs, (g, x) => thresholdSum(g, x, { t: 3, field }));
      return h.groups.map((g, i) => sentBytes(g) - before[i]!).reduce((a, b) => a + b, 0) / h.groups.length;
    };
    const p61 = await cost('p61');
    const p127 = await cost('p127');
    // Deal + publish: 2·(n − 1)·L elements per party.
    expect(p61).toBeGreaterThan(2 * 3 * L * 8);
    expect(p61).toBeLessThan(2 * 3 * L * 8 * 1.05);
    expect(p127).toBeGreaterThan(2 * 3 * L * 16);
    expect(p127 / p61).toBeGreaterThan(1.9);
  });
});

test('bytes from a peer with an element ≥ 2^61 − 1 are a protocol violation naming the peer', () => {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, 7n, true);
  view.setBigUint64(8, (1n << 61n) - 1n, true);
  for (const [b, len] of [
    [bytes, 2],
    [bytes.subarray(0, 8), 2],
  ] as const) {
    let err: unknown;
    try {
      field61FromBytes(b, len, 'Shamir share', 'p3');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GroupError);
    expect((err as GroupError).code).toBe(ErrorCode.PROTOCOL_VIOLATION);
    expect((err as GroupError).peer).toBe('p3');
    expect((err as GroupError).message).not.toMatch(/2305843009213693951/);
  }
  view.setBigUint64(8, (1n << 61n) - 2n, true);
  expect(field61FromBytes(bytes, 2, 'Shamir share', 'p3').length).toBe(4);
});
