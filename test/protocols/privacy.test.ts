/**
 * Privacy of the secure-sum protocols, tested statistically on the real implementations over
 * real channels (n = 4 parties in this process; every message that coalition members send or
 * take from their mailboxes is recorded by a test-only wrapper around their Group instances).
 *
 * Method. Parties p1..p4; victim p2; p4 is the "compensating" honest party. Experiment X ∈ {A, B}
 * runs the protocol RUNS times with x2 = X and x4 = c − X, so the output S is identical in both
 * experiments. From each run we compute what the coalition C can derive about x2: its residual
 * R_2 (everything C saw of/for p2, with everything C knows subtracted — see `additiveResidual`),
 * and we compare the byte histograms of R_2 under A and under B with a two-sample chi-square test
 * of homogeneity (256 bins, RUNS · 8 elements · 8 bytes samples per side). H0 (same distribution)
 * must NOT be rejected at the 1e-5 level for the shipped protocols below their collusion
 * threshold; the very same statistic on the insecure baselines (plainSum; the ring with p2's two
 * neighbours colluding; the paper-faithful dk ring pass) rejects H0 with p < 1e-9, so the test
 * has the power to fail.
 *
 * False-failure rate: each "indistinguishable" assertion fails with probability 1e-5 under H0 (it
 * was 0.001: with the suite's five such assertions, about one CI run in 200 failed for nothing —
 * review 25 saw p = 0.00074 once). The power is unchanged where it is shown: the insecure
 * baselines' leaks give p < 1e-9 at this sample size, far below either level.
 */
import fc from 'fast-check';
import { createTestGroups, type TestGroups } from '../support/group-harness';
import { secureSum, dkSecureSum, ringSecureSum, plainSum, type SumResult } from '../../src/protocols';
import { seedFor } from '../../src/protocols/common';
import { collusionThreshold, encodeRing64, exposedParties, r64AddInPlace, r64Equal, r64FromBytes, r64Random, r64Sub, r64SubInPlace, shareGraph } from '../../src/protocols/math/index';
import type { Group } from '../../src/group/group';
import type { SumInput } from '../../src/protocols/math/index';
import {
  additiveResidual,
  bytesIndistinguishable,
  bytesOf,
  chiSquareSurvival,
  chiSquareTwoSample,
  coalitionView,
  fusedOpeningBytes,
  fusedOpeningRound,
  fusedResidual,
  recordPairwise,
  recordTraffic,
  ringBytes,
  ringSum,
  type TrafficRecord,
} from './fixtures/privacy-tools';

const RUNS = 200;
const L = 8;
const ALPHA = 1e-5;
const A = new Float64Array(L); // all zeros
const B = new Float64Array([12345.5, -7.25, 1e6, 3, -2e5, 0.5, 42, -1]);
const C_TOTAL = new Float64Array([100, 200, 300, 400, 500, 600, 700, 800]);
const X1 = new Float64Array([1, 2, 3, 4, 5, 6, 7, 8]);
const X3 = new Float64Array([-1, -2, -3, -4, -5, -6, -7, -8]);
const PARAMS = { parties: 4, modulus: 'ring64' as const };
const enc = (x: Float64Array): Uint32Array => encodeRing64(x, PARAMS).vector;

let h: TestGroups;
const log: TrafficRecord[] = [];

beforeAll(async () => {
  h = await createTestGroups(4);
  for (const g of h.groups) recordTraffic(g, log);
});
afterAll(async () => {
  await h.close();
});

function inputsFor(X: Float64Array): Float64Array[] {
  const x4 = C_TOTAL.map((c, i) => c - X[i]!);
  return [X1, X, X3, x4];
}

/** Run the protocol `runs` times with victim input X; returns the run ids (identical at every party). */
/** The coin-tossed run seed of each run, by run id (every party reported the same). */
const seeds = new Map<string, Uint8Array>();

async function experiment(run: (g: Group, input: SumInput) => Promise<SumResult>, X: Float64Array, runs = RUNS): Promise<string[]> {
  const ids: string[] = [];
  const inputs = inputsFor(X);
  const expected = C_TOTAL.map((c, i) => c + X1[i]! + X3[i]!);
  for (let i = 0; i < runs; i++) {
    const results = await Promise.all(h.groups.map((g, j) => run(g, inputs[j]!)));
    for (const r of results) {
      expect(r.runId).toBe(results[0]!.runId);
      expect(r.seed).toBe(results[0]!.seed);
      expect(Array.from(r.sum as Float64Array)).toEqual(Array.from(expected));
    }
    ids.push(results[0]!.runId);
    seeds.set(results[0]!.runId, Buffer.from(results[0]!.seed, 'hex'));
  }
  return ids;
}

/** Residual samples (bytes) of victim p2 for coalition C over the given runs. */
function residuals(ids: readonly string[], coalition: readonly string[], shareRound: string): Uint8Array[] {
  const view = coalitionView(log, coalition);
  return ids.map((id) => ringBytes(additiveResidual(view, id, shareRound, 'p2', L)));
}

describe('secureSum (additive n-of-n, the fused two-round form with pairwise masks), n = 4', () => {
  let idsA: string[];
  let idsB: string[];
  const keys = new Map<string, Uint8Array>();
  beforeAll(async () => {
    log.length = 0;
    for (const g of h.groups) recordPairwise(g, keys);
    idsA = await experiment((g, x) => secureSum(g, x), A);
    idsB = await experiment((g, x) => secureSum(g, x), B);
  }, 60_000);

  test('a coalition of 2 (p1, p3) learns nothing about x2 beyond the sum: its residual is indistinguishable under x2 = A and x2 = B', () => {
    const C = ['p1', 'p3'];
    const view = coalitionView(log, C);
    const a = idsA.map((id) => ringBytes(fusedResidual(view, keys, id, 'p2', C, L)));
    const b = idsB.map((id) => ringBytes(fusedResidual(view, keys, id, 'p2', C, L)));
    // Sanity: the residual is never the input itself.
    expect(a.some((r) => r.every((x) => x === 0))).toBe(false);
    const t = bytesIndistinguishable(a, b);
    expect(t.df).toBe(255);
    expect(t.p).toBeGreaterThan(ALPHA);
  });

  test('a coalition of n − 1 = 3 (p1, p3, p4) sees nothing beyond what the output implies: p2 sends only its statement and its digest, and its opened y_2 is fixed by the output', () => {
    const C = ['p1', 'p3', 'p4'];
    const view = coalitionView(log, C);
    for (const [ids, X] of [
      [idsA, A],
      [idsB, B],
    ] as const) {
      const S = ringSum(inputsFor(X).map(enc), L);
      for (const id of ids) {
        // Only the two echo messages come from p2 (no share, no separate opening round).
        expect(new Set(view.filter((r) => r.dir === 'in' && r.peer === 'p2' && r.round.startsWith(`${id}/`)).map((r) => r.round))).toEqual(new Set([`${id}/shape/v`, fusedOpeningRound(id)]));
        const opened = new Map(view.filter((r) => r.dir === 'in' && r.round === fusedOpeningRound(id) && r.self === 'p1').map((r) => [r.peer, r64FromBytes(fusedOpeningBytes(r.payload))]));
        const own = view.find((r) => r.dir === 'out' && r.self === 'p1' && r.round === fusedOpeningRound(id))!;
        const others = ringSum([r64FromBytes(fusedOpeningBytes(own.payload)), opened.get('p3')!, opened.get('p4')!], L);
        expect(r64Equal(opened.get('p2')!, r64Sub(S, others))).toBe(true);
        // …and the coalition's residual is exactly x2 — which the output already reveals to n − 1 parties.
        expect(r64Equal(fusedResidual(view, keys, id, 'p2', C, L), enc(X))).toBe(true);
      }
    }
  });
});

describe("secureSum with shares: 'vector'", () => {
  test('the share vectors p2 sends and the residual of a 2-coalition are indistinguishable under A and B', async () => {
    log.length = 0;
    const runs = 100;
    const idsA = await experiment((g, x) => secureSum(g, x, { shares: 'vector' }), A, runs);
    const idsB = await experiment((g, x) => secureSum(g, x, { shares: 'vector' }), B, runs);
    const view = coalitionView(log, ['p1', 'p3']);
    const shares = (ids: readonly string[]): Uint8Array[] =>
      ids.flatMap((id) => view.filter((r) => r.dir === 'in' && r.peer === 'p2' && r.round === `${id}/share`).map((r) => bytesOf(r.payload)));
    expect(bytesIndistinguishable(shares(idsA), shares(idsB)).p).toBeGreaterThan(ALPHA);
    expect(bytesIndistinguishable(residuals(idsA, ['p1', 'p3'], 'share'), residuals(idsB, ['p1', 'p3'], 'share')).p).toBeGreaterThan(ALPHA);
  }, 60_000);
});

describe('insecure baselines: the same test distinguishes (it has power)', () => {
  test('plainSum: a single party (p1) sees x2', async () => {
    log.length = 0;
    const run = (g: Group, x: SumInput): Promise<SumResult> => plainSum(g, x, { acknowledgeInsecure: true });
    const idsA = await experiment(run, A);
    const idsB = await experiment(run, B);
    const view = coalitionView(log, ['p1']);
    const seen = (ids: readonly string[]): Uint8Array[] => ids.map((id) => bytesOf(view.find((r) => r.dir === 'in' && r.peer === 'p2' && r.round === `${id}/value`)!.payload));
    const t = bytesIndistinguishable(seen(idsA), seen(idsB));
    expect(t.p).toBeLessThan(1e-9);
  }, 60_000);

  test.each([1, 2])('ringSecureSum (passes = %i): p2’s ring neighbours p1 and p3 recover x2 exactly', async (passes) => {
    log.length = 0;
    const run = (g: Group, x: SumInput): Promise<SumResult> => ringSecureSum(g, x, { acknowledgeInsecure: true, passes });
    const idsA = await experiment(run, A);
    const idsB = await experiment(run, B);
    const view = coalitionView(log, ['p1', 'p3']);
    // R_2 = Σ_passes (V_2 − V_1): p3 receives V_2 from p2, p1 sent V_1 to p2.
    const residual = (id: string): Uint32Array => {
      const R = new Uint32Array(2 * L);
      for (let p = 0; p < passes; p++) {
        r64AddInPlace(R, r64FromBytes(bytesOf(view.find((r) => r.self === 'p3' && r.dir === 'in' && r.peer === 'p2' && r.round === `${id}/pass${p}`)!.payload)));
        r64SubInPlace(R, r64FromBytes(bytesOf(view.find((r) => r.self === 'p1' && r.dir === 'out' && r.peer === 'p2' && r.round === `${id}/pass${p}`)!.payload)));
      }
      return R;
    };
    for (const id of idsB) expect(r64Equal(residual(id), enc(B))).toBe(true);
    const t = bytesIndistinguishable(idsA.map((id) => ringBytes(residual(id))), idsB.map((id) => ringBytes(residual(id))));
    expect(t.p).toBeLessThan(1e-9);
  }, 60_000);
});

describe('dk-secure sum', () => {
  /**
   * THE PAPER-FAITHFUL dk-SECURE SUM RING PASS — A BASELINE THAT MUST NOT SHIP (protocols.md §3).
   * A simulation of its messages, n = 4, ring p1 → p2 → p3 → p4 → p1: each party splits x_p into
   * three segments, keeps one and sends one to each ring neighbour; then the held totals T_q go
   * round the ring of §1 (p1 adds a random R). Returns what coalition {p1, p3} sees.
   */
  function paperDkRingPass(x: Uint32Array[]): { x2: Uint32Array; x4: Uint32Array; S: Uint32Array } {
    const n = 4;
    const seg = new Map<string, Uint32Array>(); // `${from}>${to}` → segment
    const T: Uint32Array[] = [];
    for (let p = 0; p < n; p++) {
      const prev = (p + n - 1) % n;
      const next = (p + 1) % n;
      const toPrev = r64Random(L);
      const toNext = r64Random(L);
      const kept = r64Sub(r64Sub(x[p]!, toPrev), toNext);
      seg.set(`${p}>${prev}`, toPrev);
      seg.set(`${p}>${next}`, toNext);
      T[p] = kept;
    }
    for (let q = 0; q < n; q++) {
      r64AddInPlace(T[q]!, seg.get(`${(q + n - 1) % n}>${q}`)!);
      r64AddInPlace(T[q]!, seg.get(`${(q + 1) % n}>${q}`)!);
    }
    const R = r64Random(L);
    const V: Uint32Array[] = [];
    let v: Uint32Array = R.slice();
    for (let q = 0; q < n; q++) {
      v = r64AddInPlace(v.slice(), T[q]!);
      V[q] = v; // V[q] is sent by p(q+1) to its successor
    }
    const S = r64Sub(V[n - 1]!, R);
    // Coalition {p1 (index 0), p3 (index 2)}: p1 sent V[0] and received V[3]; p3 received V[1] and sent V[2];
    // both hold the segments they sent to and received from p2 (index 1) and p4 (index 3).
    const recover = (victim: number, before: number, after: number): Uint32Array => {
      const Tv = r64Sub(V[victim]!, V[before]!);
      const kept = r64Sub(r64Sub(Tv, seg.get(`${before}>${victim}`)!), seg.get(`${after}>${victim}`)!);
      return r64AddInPlace(r64AddInPlace(kept, seg.get(`${victim}>${before}`)!), seg.get(`${victim}>${after}`)!);
    };
    return { x2: recover(1, 0, 2), x4: recover(3, 2, 0), S };
  }

  test('the paper-faithful ring pass (simulated, NOT shipped): coalition {p1, p3} recovers x2 and x4 exactly', () => {
    const vec = fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: L, maxLength: L }).map((a) => {
      const v = new Uint32Array(2 * L);
      a.forEach((b, i) => {
        v[2 * i] = Number(b & 0xffffffffn);
        v[2 * i + 1] = Number(b >> 32n);
      });
      return v;
    });
    fc.assert(
      fc.property(fc.tuple(vec, vec, vec, vec), (xs) => {
        const out = paperDkRingPass(xs);
        expect(r64Equal(out.x2, xs[1]!)).toBe(true);
        expect(r64Equal(out.x4, xs[3]!)).toBe(true);
        expect(r64Equal(out.S, ringSum(xs, L))).toBe(true);
      }),
      { numRuns: 50 },
    );
    // And the chi-square test of this file flags it.
    const sample = (X: Float64Array): Uint8Array[] => Array.from({ length: RUNS }, () => ringBytes(paperDkRingPass(inputsFor(X).map(enc)).x2));
    expect(bytesIndistinguishable(sample(A), sample(B)).p).toBeLessThan(1e-9);
  });

  test('shipped dkSecureSum, n = 4, k = 3 (threshold 3): coalition {p1, p3} never isolates p2 and its residual is indistinguishable under A and B', async () => {
    expect(collusionThreshold(4, 3)).toBe(3);
    log.length = 0;
    // Broadcast opening: every T_v reaches the coalition, a superset of what the aggregated
    // opening shows it (chunks of T_v and chunk sums of S; see the test after this one).
    const run = (g: Group, x: SumInput): Promise<SumResult> => dkSecureSum(g, x, { k: 3, opening: 'broadcast' });
    const idsA = await experiment(run, A);
    const idsB = await experiment(run, B);
    for (const id of [...idsA, ...idsB]) {
      const graph = shareGraph(h.ids, 3, seedFor(seeds.get(id)!, 'dk share graph'));
      expect(exposedParties(graph, ['p1', 'p3'])).toEqual([]);
    }
    const a = residuals(idsA, ['p1', 'p3'], 'segment');
    const b = residuals(idsB, ['p1', 'p3'], 'segment');
    expect(bytesIndistinguishable(a, b).p).toBeGreaterThan(ALPHA);
  }, 60_000);

  test('shipped dkSecureSum, n = 4, k = 2 (threshold 2, AT the coalition size): {p1, p3} learns x2 exactly in the runs whose coin-tossed ring makes them p2’s neighbours, and only then', async () => {
    // Documents the limit of k = 2: the coin-tossed graph makes the exposure unpredictable
    // (probability 1/3 per run for a fixed pair), not impossible. collusionThreshold says so.
    expect(collusionThreshold(4, 2)).toBe(2);
    log.length = 0;
    const ids = await experiment((g, x) => dkSecureSum(g, x, { k: 2, opening: 'broadcast' }), B, 60);
    let exposedRuns = 0;
    for (const id of ids) {
      const graph = shareGraph(h.ids, 2, seedFor(seeds.get(id)!, 'dk share graph'));
      const exposed = exposedParties(graph, ['p1', 'p3']).includes('p2');
      const R = additiveResidual(coalitionView(log, ['p1', 'p3']), id, 'segment', 'p2', L);
      expect(r64Equal(R, enc(B))).toBe(exposed);
      if (exposed) exposedRuns++;
    }
    // P(no exposure in 60 runs) = (2/3)^60 ≈ 3e-11; P(always) ≈ 3e-29.
    expect(exposedRuns).toBeGreaterThan(0);
    expect(exposedRuns).toBeLessThan(ids.length);
  }, 60_000);
});

describe('statistics helpers', () => {
  test('chi-square survival function matches known values', () => {
    expect(chiSquareSurvival(2, 2)).toBeCloseTo(Math.exp(-1), 12);
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 9);
    expect(chiSquareSurvival(255, 255)).toBeCloseTo(0.4882, 3);
    expect(chiSquareSurvival(330.5197, 255)).toBeCloseTo(0.001, 4);
  });

  test('two-sample test: identical histograms → p = 1; disjoint → p ≈ 0', () => {
    const a = [10, 20, 30, 40];
    expect(chiSquareTwoSample(a, a).p).toBeCloseTo(1, 12);
    expect(chiSquareTwoSample([100, 0, 100, 0], [0, 100, 0, 100]).p).toBeLessThan(1e-12);
  });
});
