import fc from 'fast-check';
import {
  P127,
  checkDegree,
  evaluationPoints,
  fAdd,
  fRandomVector,
  lagrangeAtZero,
  shamirShare,
  type ShamirPoint,
} from '../../../src/protocols/math/index';
import { CouplerError } from '../../../src/errors';

function points(shares: bigint[][], xs: bigint[]): ShamirPoint[] {
  return shares.map((y, j) => ({ x: xs[j]!, y }));
}

/** Random subset of `k` indexes of [0, n). */
const subsetArb = (n: number, k: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: k, maxLength: k });

const setup = fc
  .record({ n: fc.integer({ min: 1, max: 9 }), L: fc.integer({ min: 1, max: 6 }) })
  .chain(({ n, L }) => fc.record({ n: fc.constant(n), L: fc.constant(L), t: fc.integer({ min: 1, max: n }) }))
  .chain((s) => fc.record({ s: fc.constant(s), idx: subsetArb(s.n, s.t), randomXs: fc.boolean() }));

function xsFor(n: number, random: boolean): bigint[] {
  if (!random) return evaluationPoints(n);
  const set = new Set<bigint>();
  while (set.size < n) {
    const [x] = fRandomVector(1);
    if (x !== 0n) set.add(x!);
  }
  return [...set];
}

describe('Shamir over GF(2^127 − 1)', () => {
  test('any t of n shares reconstruct the secret; all n check as consistent', () => {
    fc.assert(
      fc.property(setup, ({ s: { n, L, t }, idx, randomXs }) => {
        const secret = fRandomVector(L);
        const xs = xsFor(n, randomXs);
        const shares = shamirShare(secret, t, xs);
        expect(shares).toHaveLength(n);
        const pts = points(shares, xs);
        expect(lagrangeAtZero(idx.map((i) => pts[i]!))).toEqual(secret);
        expect(lagrangeAtZero(pts)).toEqual(secret); // more points on the same polynomial
        expect(checkDegree(pts, t)).toEqual({ ok: true });
      }),
      { numRuns: 150 },
    );
  });

  test('t − 1 shares of a fixed secret look uniform', () => {
    const L = 4000;
    const shares = shamirShare(new Array<bigint>(L).fill(0n), 3, evaluationPoints(5));
    for (const j of [0, 4]) {
      const y = shares[j]!;
      expect(new Set(y).size).toBe(L);
      const high = y.filter((v) => v >= 1n << 126n).length;
      expect(Math.abs(high - L / 2)).toBeLessThan(6 * Math.sqrt(L / 4));
    }
  });

  test('sums of shares are shares of the sum', () => {
    const xs = evaluationPoints(5);
    const a = fRandomVector(4);
    const b = fRandomVector(4);
    const sa = shamirShare(a, 3, xs);
    const sb = shamirShare(b, 3, xs);
    const sum = sa.map((y, j) => y.map((v, e) => fAdd(v, sb[j]![e]!)));
    expect(lagrangeAtZero(points(sum, xs).slice(2))).toEqual(a.map((v, e) => fAdd(v, b[e]!)));
  });

  test('t = 1: every share is the secret; checkDegree is a majority vote', () => {
    const shares = shamirShare([5n, 6n], 1, evaluationPoints(4));
    expect(shares).toEqual([[5n, 6n], [5n, 6n], [5n, 6n], [5n, 6n]]);
    const pts = points(shares, evaluationPoints(4));
    expect(checkDegree(pts, 1)).toEqual({ ok: true });
    pts[1] = { x: 2n, y: [5n, 7n] };
    expect(checkDegree(pts.slice(0, 2), 1)).toEqual({ ok: false }); // r = t + 1: detect only
    expect(checkDegree(pts.slice(0, 3), 1)).toEqual({ ok: false, suspects: [1] });
    expect(checkDegree(pts, 1)).toEqual({ ok: false, suspects: [1] });
    expect(lagrangeAtZero([pts[0]!])).toEqual([5n, 6n]);
  });

  test('one tampered point: detected with r = t + 1, identified with r ≥ t + 2', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 8 }),
        fc.nat(),
        fc.nat(),
        fc.bigInt({ min: 1n, max: P127 - 1n }),
        (t, extra, L, badSeed, elSeed, delta) => {
          const r = t + extra;
          const xs = evaluationPoints(r);
          const pts = points(shamirShare(fRandomVector(L), t, xs), xs);
          const bad = badSeed % r;
          const e = elSeed % L;
          const y = pts[bad]!.y.slice();
          y[e] = fAdd(y[e]!, delta);
          pts[bad] = { x: pts[bad]!.x, y };
          const res = checkDegree(pts, t);
          expect(res.ok).toBe(false);
          if (extra === 1) expect(res).toEqual({ ok: false });
          else expect(res).toEqual({ ok: false, suspects: [bad] });
        },
      ),
      { numRuns: 200 },
    );
  });

  test('up to ⌊(r − t)/2⌋ cheaters, tampering different elements, are all named', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 20 }), fc.nat(), (t, extra, L, seed) => {
        const r = t + extra;
        const e = Math.floor(extra / 2);
        const xs = evaluationPoints(r);
        const secret = fRandomVector(L);
        const pts = points(shamirShare(secret, t, xs), xs);
        const cheaters = [...new Set(Array.from({ length: e }, (_, i) => (seed * (i + 7) + i * 3) % r))].sort((a, b) => a - b);
        cheaters.forEach((c, i) => {
          const y = pts[c]!.y.slice();
          // each cheater corrupts a different set of elements (at least one)
          for (let k = i % L; k < L; k += cheaters.length) y[k] = fAdd(y[k]!, BigInt(k + 1));
          pts[c] = { x: pts[c]!.x, y };
        });
        const res = checkDegree(pts, t);
        expect(res).toEqual({ ok: false, suspects: cheaters });
        const honest = pts.filter((_, i) => !cheaters.includes(i));
        expect(lagrangeAtZero(honest.slice(0, t))).toEqual(secret);
      }),
      { numRuns: 100 },
    );
  });

  test('too many cheaters: still reported as inconsistent', () => {
    const t = 2;
    const xs = evaluationPoints(5); // e = 1
    const pts = points(shamirShare([1n, 2n, 3n], t, xs), xs);
    pts[0] = { x: 1n, y: [9n, 9n, 9n] };
    pts[1] = { x: 2n, y: [8n, 9n, 7n] };
    const res = checkDegree(pts, t);
    expect(res.ok).toBe(false);
  });

  test('refusals: zero or repeated x, bad t, mismatched lengths', () => {
    expect(() => shamirShare([1n], 0, [1n])).toThrow(CouplerError);
    expect(() => shamirShare([1n], 2, [1n])).toThrow(CouplerError);
    expect(() => shamirShare([1n], 1, [0n])).toThrow(/non-zero/);
    expect(() => shamirShare([1n], 1, [1n, 1n])).toThrow(/duplicates/);
    expect(() => shamirShare([P127], 1, [1n])).toThrow(CouplerError);
    expect(() => lagrangeAtZero([{ x: 1n, y: [1n] }, { x: 2n, y: [1n, 2n] }])).toThrow(/elements/);
    expect(() => checkDegree([{ x: 1n, y: [1n] }], 2)).toThrow(CouplerError);
  });
});
