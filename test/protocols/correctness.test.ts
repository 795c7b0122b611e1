/**
 * Correctness of every secure-sum protocol over real channels (in-process parties on 127.0.0.1):
 * property tests (fast-check) over n ∈ 3..6, random protocol parameters and random inputs of every
 * supported kind; exact edge values; local refusals before anything is sent; shape and parameter
 * agreement; option checks; several sums in a row on one group.
 */
import fc from 'fast-check';
import BigNumber from 'bignumber.js';
import { createTestGroups, settleAll, type TestGroups } from '../support/group-harness';
import { sumInputs } from '../support/sum-arbitraries';
import { secureSum, dkSecureSum, thresholdSum, ringSecureSum, plainSum, type SumResult } from '../../src/protocols';
import type { SumInput, SumOutput } from '../../src/protocols/math/index';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';

/** A protocol under test: how to call it at one party, and the prefix of its run ids. */
interface Proto {
  readonly name: string;
  readonly prefix: string;
  /** Draw the protocol's own parameters for n parties. */
  readonly params: (n: number) => fc.Arbitrary<Record<string, unknown>>;
  readonly run: (g: Group, input: SumInput, opts: Record<string, unknown>) => Promise<SumResult>;
}

const PROTOCOLS: readonly Proto[] = [
  { name: 'secureSum (seed)', prefix: 'sum', params: () => fc.constant({}), run: (g, x, o) => secureSum(g, x, o) },
  { name: 'secureSum (vector)', prefix: 'sum', params: () => fc.constant({ shares: 'vector' }), run: (g, x, o) => secureSum(g, x, o) },
  {
    name: 'dkSecureSum',
    prefix: 'dk',
    params: (n) => fc.record({ k: fc.integer({ min: 2, max: n }), shares: fc.constantFrom('seed', 'vector') }),
    run: (g, x, o) => dkSecureSum(g, x, o),
  },
  { name: 'thresholdSum', prefix: 'threshold', params: (n) => fc.record({ t: fc.integer({ min: 2, max: n }) }), run: (g, x, o) => thresholdSum(g, x, o) },
  {
    name: 'ringSecureSum',
    prefix: 'ring',
    params: () => fc.record({ passes: fc.integer({ min: 1, max: 3 }) }),
    run: (g, x, o) => ringSecureSum(g, x, { ...o, acknowledgeInsecure: true }),
  },
  { name: 'plainSum', prefix: 'plain', params: () => fc.constant({}), run: (g, x, o) => plainSum(g, x, { ...o, acknowledgeInsecure: true }) },
];

// ---------------------------------------------------------------------------------------------
// Inputs and expected sums.

const B = 2 ** 31; // the default bound
const BI = 2n ** 31n;

/** One element kind and how to draw it. */
const ARB = { maxVectorLength: 6, maxRecordLength: 5 } as const;

/** Check `out` against the inputs: floats within n·2^-f (+ float64 rounding), ints and decimals exactly. */
function expectSum(out: SumOutput, inputs: readonly SumInput[], f: number): void {
  const n = inputs.length;
  const tol = n * 2 ** -f;
  const check = (got: unknown, xs: readonly unknown[], where: string): void => {
    const x0 = xs[0];
    if (typeof x0 === 'number') {
      expect(typeof got).toBe('number');
      const want = (xs as number[]).reduce((s, x) => s + x, 0);
      // n·2^-f from the fixed-point rounding of the inputs, plus float64 rounding of the decoded
      // result and of this reference sum (with f = 24 near 2^31 one ulp is 2^-21 > n·2^-f).
      const magnitude = (xs as number[]).reduce((s, x) => s + Math.abs(x), 0);
      const t = tol + 2 * n * magnitude * Number.EPSILON;
      if (!(Math.abs((got as number) - want) <= t)) throw new Error(`${where}: got ${got as number}, want ${want} ± ${t}`);
    } else if (typeof x0 === 'bigint') {
      expect(got).toBe((xs as bigint[]).reduce((s, x) => s + x, 0n));
    } else if (typeof x0 === 'string') {
      expect(typeof got).toBe('string');
      const want = (xs as string[]).reduce((s, x) => s.plus(x), new BigNumber(0));
      if (!new BigNumber(got as string).eq(want)) throw new Error(`${where}: got ${got as string}, want ${want.toFixed()}`);
    } else if (Array.isArray(x0) || x0 instanceof Float64Array) {
      const arrs = xs as ArrayLike<unknown>[];
      const g = got as ArrayLike<unknown>;
      if (typeof arrs[0]![0] === 'number') expect(got).toBeInstanceOf(Float64Array);
      else expect(Array.isArray(got)).toBe(true);
      expect(g.length).toBe(arrs[0]!.length);
      for (let i = 0; i < g.length; i++) check(g[i], arrs.map((a) => a[i]), `${where}[${i}]`);
    } else {
      const recs = xs as Record<string, unknown>[];
      const g = got as Record<string, unknown>;
      expect(Object.keys(g).sort()).toEqual(Object.keys(recs[0]!).sort());
      for (const k of Object.keys(recs[0]!)) check(g[k], recs.map((r) => r[k]), `${where}.${k}`);
    }
  };
  check(out, inputs, 'sum');
}

// ---------------------------------------------------------------------------------------------

const groups = new Map<number, TestGroups>();
const counters = new Map<number, number>();

beforeAll(async () => {
  for (const n of [3, 4, 5, 6]) {
    groups.set(n, await createTestGroups(n));
    counters.set(n, 0);
  }
});
afterAll(async () => {
  await Promise.all([...groups.values()].map((g) => g.close()));
});

/** Run `proto` at every party of the shared n-group; check agreement, run ids and the sum. */
async function runEverywhere(proto: Proto, n: number, inputs: readonly SumInput[], opts: Record<string, unknown>, f: number): Promise<SumResult[]> {
  const h = groups.get(n)!;
  const results = await Promise.all(h.groups.map((g, i) => proto.run(g, inputs[i]!, { ...opts, fractionalBits: f })));
  const counter = counters.get(n)! + 1;
  counters.set(n, counter);
  for (const r of results) {
    expect(r.runId).toBe(`${proto.prefix}.${counter}`);
    expect(r.contributors).toEqual(h.ids);
    expectSum(r.sum, inputs, f);
  }
  return results;
}

describe.each(PROTOCOLS)('$name returns the exact sum at every party', (proto) => {
  test('random n ∈ 3..6, parameters and inputs (numbers, floats, bigints, decimals, vectors, records)', async () => {
    const sample = fc
      .integer({ min: 3, max: 6 })
      .chain((n) =>
        fc.record({
          n: fc.constant(n),
          opts: proto.params(n),
          f: fc.constantFrom(8, 16, 24),
          inputs: sumInputs(n, ARB),
        }),
      );
    await fc.assert(
      fc.asyncProperty(sample, async ({ n, opts, f, inputs }) => {
        await runEverywhere(proto, n, inputs, opts, f);
      }),
      { numRuns: 15, endOnFailure: true },
    );
  }, 60_000);

  test('edge values exactly ±B, with B the largest bound the modulus allows for n = 3, f = 16', async () => {
    const Bmax = proto.prefix === 'threshold' ? 2 ** 100 : 2 ** 44; // 3 · 2^44 · 2^18 ≤ 2^64
    const h = groups.get(3)!;
    const cases: SumInput[][] = [
      [Bmax, Bmax, Bmax],
      [-Bmax, -Bmax, -Bmax],
      [Bmax, -Bmax, Bmax],
      [[Bmax, -Bmax], [Bmax, -Bmax], [Bmax, -Bmax]],
      [{ a: BigInt(Bmax), b: -Bmax }, { a: BigInt(Bmax), b: -Bmax }, { a: -BigInt(Bmax), b: -Bmax }],
    ];
    for (const inputs of cases) {
      const results = await Promise.all(h.groups.map((g, i) => proto.run(g, inputs[i]!, { bound: Bmax })));
      counters.set(3, counters.get(3)! + 1);
      for (const r of results) expectSum(r.sum, inputs, 16);
    }
    // Decimals at ±B with a bound that fits the decimal budget too (n · B · 10^4 · 4 ≤ M).
    const dec = ['1000000.0000', '-1000000', '1000000.0'];
    const results = await Promise.all(h.groups.map((g, i) => proto.run(g, dec[i]!, { bound: 1_000_000 })));
    counters.set(3, counters.get(3)! + 1);
    for (const r of results) expect(new BigNumber(r.sum as string).eq(1_000_000)).toBe(true);
    // One step above the largest safe bound is refused locally (PARAMETERS_UNSAFE).
    if (proto.prefix !== 'threshold') {
      await expect(proto.run(h.groups[0]!, 1, { bound: 2 ** 46 })).rejects.toMatchObject({ code: ErrorCode.PARAMETERS_UNSAFE });
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Local refusals: nothing leaves the process.

/** Messages sent, without liveness probes and their answers (a party that sends no data still answers those). */
function sentBy(g: Group): number {
  return g.stats().reduce((s, p) => s + p.messagesSent - p.probesSent, 0);
}
function receivedFrom(g: Group, peer: string): number {
  const s = g.stats().find((p) => p.peer === peer)!;
  return s.messagesReceived - s.probesReceived;
}

const BAD_INPUTS: readonly [string, SumInput][] = [
  ['NaN', NaN],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['float just above B', B + 2 ** -16],
  ['float just below −B', -B - 1],
  ['bigint above B', BI + 1n],
  ['bigint below −B', -BI - 1n],
  ['decimal above B', '2147483648.0001'],
  ['decimal with more places than d = 4', '1.00001'],
  ['decimal garbage', '12abc'],
  ['NaN inside a vector', [1, 2, NaN, 4]],
  ['Infinity inside a Float64Array', Float64Array.from([1, Infinity])],
  ['out-of-range field of a record', { sum: 1, count: 1n, histogram: [0, B * 2] }],
  ['empty vector', []],
];

describe('bad inputs are refused locally, before anything is sent', () => {
  test.each(PROTOCOLS)('$name: every bad value → VALUE_INVALID, no message sent, group still in step', async (proto) => {
    const h = groups.get(3)!;
    const [g1, g2, g3] = h.groups as [Group, Group, Group];
    const before = { sent: sentBy(g1), at2: receivedFrom(g2, 'p1'), at3: receivedFrom(g3, 'p1') };
    for (const [, bad] of BAD_INPUTS) {
      const err = await proto.run(g1, bad, {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CouplerError);
      expect((err as CouplerError).code).toBe(ErrorCode.VALUE_INVALID);
    }
    await new Promise((r) => setTimeout(r, 30));
    expect(sentBy(g1)).toBe(before.sent);
    expect(receivedFrom(g2, 'p1')).toBe(before.at2);
    expect(receivedFrom(g3, 'p1')).toBe(before.at3);
    // The refusals consumed no run id: the next sum is in step at every party.
    await runEverywhere(proto, 3, [1, 2, 3], {}, 16);
  });

  test.each([
    ['secureSum', (g: Group, x: SumInput) => secureSum(g, x, { roundTimeoutMs: 800 })],
    ['thresholdSum', (g: Group, x: SumInput) => thresholdSum(g, x, { roundTimeoutMs: 800 })],
  ] as const)('%s: the refusing party sends nothing; the others name it (secureSum: a timeout in the shape round; thresholdSum, dropout-tolerant: too few dealers without it)', async (name, run) => {
    const h = await createTestGroups(3);
    try {
      const [g1] = h.groups as [Group, Group, Group];
      const sentBefore = sentBy(g1);
      // What p1 sent while the group formed (the epoch agreement), before the run.
      const receivedBefore = h.groups.slice(1).map((g) => receivedFrom(g, 'p1'));
      const out = await settleAll([run(h.groups[0]!, NaN), run(h.groups[1]!, 1), run(h.groups[2]!, 2)]);
      expect(out[0]).toMatchObject({ ok: false, error: { code: ErrorCode.VALUE_INVALID } });
      for (const o of out.slice(1)) {
        expect(o.ok).toBe(false);
        const e = (o as { error: CouplerError }).error;
        expect(e.peers).toEqual(['p1']);
        if (name === 'secureSum') {
          expect(e.code).toBe(ErrorCode.TIMEOUT);
          expect(e.message).toMatch(/\/shape\/v"/);
        } else {
          // The shape statements of p2 and p3 met; p1 is a non-dealer, and two dealers are below
          // the floor of min(n, t + 1) = 3.
          expect(e.code).toBe(ErrorCode.TOO_FEW_PARTIES);
        }
      }
      expect(sentBy(g1)).toBe(sentBefore);
      h.groups.slice(1).forEach((g, i) => expect(receivedFrom(g, 'p1')).toBe(receivedBefore[i]));
    } finally {
      await h.close();
    }
  });
});

describe('agreement on shape and parameters', () => {
  test('one party with a vector of a different length → SHAPE_MISMATCH naming it at the others; the group stays usable', async () => {
    const h = groups.get(4)!;
    for (const proto of PROTOCOLS) {
      const inputs: SumInput[] = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4, 5], [1, 2, 3, 4]];
      const out = await settleAll(h.groups.map((g, i) => proto.run(g, inputs[i]!, proto.prefix === 'dk' ? { k: 3 } : proto.prefix === 'threshold' ? { t: 3 } : {})));
      counters.set(4, counters.get(4)! + 1);
      out.forEach((o, i) => {
        expect(o.ok).toBe(false);
        const e = (o as { error: CouplerError }).error;
        expect(e.code).toBe(ErrorCode.SHAPE_MISMATCH);
        expect(e.peers).toEqual(i === 2 ? ['p1', 'p2', 'p4'] : ['p3']);
      });
    }
    await runEverywhere(PROTOCOLS[0]!, 4, [1, 2, 3, 4], {}, 16);
  });

  test.each([
    ['vector vs record', { x: [1, 2] }],
    ['float vs bigint', [1n, 2n]],
    ['float vs decimal', ['1', '2']],
  ] as const)('shape kinds differ (%s) → SHAPE_MISMATCH naming the odd party', async (_label, odd) => {
    const h = groups.get(4)!;
    const out = await settleAll(h.groups.map((g, i) => secureSum(g, i === 1 ? (odd as unknown as SumInput) : [1, 2])));
    counters.set(4, counters.get(4)! + 1);
    for (const [i, o] of out.entries()) {
      if (i !== 1) expect(o).toMatchObject({ ok: false, error: { code: ErrorCode.SHAPE_MISMATCH, peers: ['p2'] } });
    }
  });

  test.each([
    ['fractionalBits', secureSum, { fractionalBits: 20 }, {}],
    ['bound', secureSum, { bound: 1000 }, {}],
    ['decimalPlaces', secureSum, { decimalPlaces: 2 }, {}],
    ['shares mode', secureSum, { shares: 'vector' }, {}],
    ['k', dkSecureSum, { k: 2 }, { k: 3 }],
    ['t', thresholdSum, { t: 2 }, { t: 3 }],
    ['passes', ringSecureSum, { passes: 2, acknowledgeInsecure: true }, { acknowledgeInsecure: true }],
  ] as const)('a different %s at one party → SHAPE_MISMATCH naming it', async (_label, fn, odd, common) => {
    const h = groups.get(4)!;
    const run = fn as (g: Group, x: SumInput, o: Record<string, unknown>) => Promise<SumResult>;
    const out = await settleAll(h.groups.map((g, i) => run(g, 5, i === 3 ? { ...common, ...odd } : common)));
    counters.set(4, counters.get(4)! + 1);
    for (const [i, o] of out.entries()) {
      expect(o).toMatchObject({ ok: false, error: { code: ErrorCode.SHAPE_MISMATCH, peers: i === 3 ? ['p1', 'p2', 'p3'] : ['p4'] } });
    }
  });
});

describe('option checks (local, nothing sent)', () => {
  test('n = 2 is refused without allowTwoParties, and works with it', async () => {
    const h = await createTestGroups(2);
    try {
      for (const proto of PROTOCOLS) {
        const before = sentBy(h.groups[0]!);
        await expect(proto.run(h.groups[0]!, 1, {})).rejects.toMatchObject({ code: ErrorCode.PARAMETERS_UNSAFE });
        expect(sentBy(h.groups[0]!)).toBe(before);
        const results = await Promise.all(h.groups.map((g, i) => proto.run(g, [i + 0.5, 10n] as unknown as SumInput, { allowTwoParties: true })).map((p) => p.catch((e: unknown) => e)));
        // Mixed element types in one vector are not an input kind; use a record instead.
        expect(results[0]).toMatchObject({ code: ErrorCode.VALUE_INVALID });
        const ok = await Promise.all(h.groups.map((g, i) => proto.run(g, { a: i + 0.5, b: 10n }, { allowTwoParties: true })));
        for (const r of ok) expect(r.sum).toEqual({ a: 2, b: 20n });
      }
    } finally {
      await h.close();
    }
  });

  test('k, t, passes, shares out of range; baselines without acknowledgeInsecure', async () => {
    const h = groups.get(4)!;
    const g = h.groups[0]!;
    const before = sentBy(g);
    const refusals: [Promise<unknown>, string][] = [
      [dkSecureSum(g, 1, { k: 1 }), ErrorCode.PARAMETERS_UNSAFE],
      [dkSecureSum(g, 1, { k: 0 }), ErrorCode.PARAMETERS_UNSAFE],
      [dkSecureSum(g, 1, { k: 5 }), ErrorCode.PARAMETERS_UNSAFE],
      [dkSecureSum(g, 1, { k: 2.5 }), ErrorCode.INVALID_ARGUMENT],
      [dkSecureSum(g, 1, { k: '3' as unknown as number }), ErrorCode.INVALID_ARGUMENT],
      [dkSecureSum(g, 1, { shares: 'x' as 'seed' }), ErrorCode.INVALID_ARGUMENT],
      [thresholdSum(g, 1, { t: 1 }), ErrorCode.PARAMETERS_UNSAFE],
      [thresholdSum(g, 1, { t: 5 }), ErrorCode.PARAMETERS_UNSAFE],
      [thresholdSum(g, 1, { t: 2.5 }), ErrorCode.INVALID_ARGUMENT],
      [secureSum(g, 1, { shares: 'x' as 'seed' }), ErrorCode.INVALID_ARGUMENT],
      [secureSum(g, 1, { roundTimeoutMs: 0 }), ErrorCode.INVALID_ARGUMENT],
      [secureSum(g, 1, { fractionalBits: 60 }), ErrorCode.PARAMETERS_UNSAFE],
      [ringSecureSum(g, 1, { acknowledgeInsecure: true, passes: 0 }), ErrorCode.INVALID_ARGUMENT],
      [ringSecureSum(g, 1, { acknowledgeInsecure: true, passes: 65 }), ErrorCode.INVALID_ARGUMENT],
      [ringSecureSum(g, 1, {} as never), ErrorCode.PARAMETERS_UNSAFE],
      [ringSecureSum(g, 1, undefined as never), ErrorCode.PARAMETERS_UNSAFE],
      [ringSecureSum(g, 1, { acknowledgeInsecure: 'yes' } as never), ErrorCode.PARAMETERS_UNSAFE],
      [plainSum(g, 1, {} as never), ErrorCode.PARAMETERS_UNSAFE],
      [plainSum(g, 1, { acknowledgeInsecure: false }), ErrorCode.PARAMETERS_UNSAFE],
      [secureSum({} as Group, 1), ErrorCode.INVALID_ARGUMENT],
    ];
    for (const [p, code] of refusals) await expect(p).rejects.toMatchObject({ code });
    expect(sentBy(g)).toBe(before);
    await runEverywhere(PROTOCOLS[2]!, 4, [1, 2, 3, 4], { k: 4 }, 16);
  });
});

test('several sums in a row on one group: run ids advance, every protocol, results exact', async () => {
  const inputs = [1.5, -2.25, 3, 4, 5.125];
  const seen: string[] = [];
  for (let round = 0; round < 2; round++) {
    for (const proto of PROTOCOLS) {
      const r = await runEverywhere(proto, 5, inputs, proto.prefix === 'dk' ? { k: 3 } : {}, 16);
      seen.push(r[0]!.runId);
    }
  }
  const numbers = seen.map((id) => Number(id.split('.')[1]));
  for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe(numbers[i - 1]! + 1);
  expect(new Set(seen).size).toBe(seen.length);
});
