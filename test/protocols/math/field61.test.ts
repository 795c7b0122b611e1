/**
 * GF(2^61 − 1) on typed arrays: every operation against a BigInt reference (edge values
 * included), serialisation and range checks, randomness, Shamir sharing / reconstruction / degree
 * check, and the fixed-point encoding at the bound.
 */
import fc from 'fast-check';
import BigNumber from 'bignumber.js';
import {
  P61,
  checkDegree61,
  checkParams,
  decodeField61,
  encodeField,
  decodeField,
  encodeField61,
  evaluationPoints,
  f61Add,
  f61AddInPlace,
  f61Combine,
  f61Equal,
  f61FromBigInts,
  f61FromBytes,
  f61Length,
  f61Mul,
  f61MulAddInPlace,
  f61Random,
  f61Scale,
  f61Sub,
  f61ToBigInts,
  f61ToBytes,
  f61Zeros,
  fitsModulus,
  isField61Element,
  lagrangeAtZero61,
  shamirShare61,
  type EncodingParams,
  type Field61Vector,
  type Shamir61Point,
  type SumInput,
} from '../../../src/protocols/math/index';
import { _f61Put } from '../../../src/protocols/math/field61';
import { CouplerError, ErrorCode } from '../../../src/errors';

const p = P61;
const mod = (x: bigint): bigint => ((x % p) + p) % p;

const EDGES: readonly bigint[] = [
  0n,
  1n,
  2n,
  p - 1n,
  p - 2n,
  (1n << 32n) - 1n,
  1n << 32n,
  (1n << 32n) + 1n,
  1n << 60n,
  (1n << 60n) - 1n,
  (1n << 60n) + 1n,
  (1n << 29n) - 1n,
  (1n << 48n) - 1n,
  1n << 48n,
  0xffffn,
  0x1ffffffffffffffen, // p − 1 written out
  (p - 1n) / 2n,
  (p + 1n) / 2n,
];
const el = fc.oneof(fc.bigInt({ min: 0n, max: p - 1n }), fc.constantFrom(...EDGES));
const vec = (L: number) => fc.array(el, { minLength: L, maxLength: L });

function errorOf(fn: () => unknown): CouplerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CouplerError);
    return e as CouplerError;
  }
  throw new Error('expected an error');
}

const V = (xs: bigint[]): Field61Vector => f61FromBigInts(xs);
const B = (v: Field61Vector): bigint[] => f61ToBigInts(v);

describe('GF(2^61 − 1) on typed arrays: exact against a BigInt reference', () => {
  test('p is the Mersenne prime 2^61 − 1', () => {
    expect(p).toBe(2305843009213693951n);
  });

  test('add, sub, mul, scale agree with BigInt % p (edge values and random)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((L) => fc.tuple(vec(L), vec(L), el)),
        ([a, b, c]) => {
          expect(B(f61Add(V(a), V(b)))).toEqual(a.map((x, i) => mod(x + b[i]!)));
          expect(B(f61Sub(V(a), V(b)))).toEqual(a.map((x, i) => mod(x - b[i]!)));
          expect(B(f61Mul(V(a), V(b)))).toEqual(a.map((x, i) => mod(x * b[i]!)));
          expect(B(f61Scale(V(a), c))).toEqual(a.map((x) => mod(x * c)));
          const acc = V(b);
          f61MulAddInPlace(acc, c, V(a));
          expect(B(acc)).toEqual(a.map((x, i) => mod(b[i]! + c * x)));
          const inPlace = V(a);
          f61AddInPlace(inPlace, V(b));
          expect(B(inPlace)).toEqual(a.map((x, i) => mod(x + b[i]!)));
        },
      ),
      { numRuns: 400 },
    );
  });

  test('every pair of edge values, exhaustively', () => {
    const a = EDGES.flatMap((x) => EDGES.map(() => x));
    const b = EDGES.flatMap(() => EDGES);
    expect(B(f61Add(V(a), V(b)))).toEqual(a.map((x, i) => mod(x + b[i]!)));
    expect(B(f61Sub(V(a), V(b)))).toEqual(a.map((x, i) => mod(x - b[i]!)));
    expect(B(f61Mul(V(a), V(b)))).toEqual(a.map((x, i) => mod(x * b[i]!)));
    for (const c of EDGES) expect(B(f61Scale(V(a), c))).toEqual(a.map((x) => mod(x * c)));
  });

  test('field axioms: commutativity, associativity, distributivity, identities, inverses', () => {
    fc.assert(
      fc.property(el, el, el, (x, y, z) => {
        const [a, b, c] = [V([x]), V([y]), V([z])];
        expect(f61Equal(f61Add(a, b), f61Add(b, a))).toBe(true);
        expect(f61Equal(f61Mul(a, b), f61Mul(b, a))).toBe(true);
        expect(f61Equal(f61Add(f61Add(a, b), c), f61Add(a, f61Add(b, c)))).toBe(true);
        expect(f61Equal(f61Mul(f61Mul(a, b), c), f61Mul(a, f61Mul(b, c)))).toBe(true);
        expect(f61Equal(f61Mul(a, f61Add(b, c)), f61Add(f61Mul(a, b), f61Mul(a, c)))).toBe(true);
        expect(B(f61Add(a, V([0n])))).toEqual([x]);
        expect(B(f61Mul(a, V([1n])))).toEqual([x]);
        expect(B(f61Add(a, f61Sub(V([0n]), a)))).toEqual([0n]);
        if (x !== 0n) {
          // x^(p−2) is the inverse (Fermat); check x · x^-1 = 1 through the vector multiply.
          let inv = 1n;
          let base = x;
          for (let e = p - 2n; e > 0n; e >>= 1n) {
            if (e & 1n) inv = (inv * base) % p;
            base = (base * base) % p;
          }
          expect(B(f61Mul(a, V([inv])))).toEqual([1n]);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('the reduction core: any lo < 2^53, hi < 2^53 − 2^22 gives (lo + hi·2^32) mod p, every branch', () => {
    const TOP_LO = 2 ** 53 - 1;
    const TOP_HI = 2 ** 53 - 2 ** 22 - 1;
    const crafted: [number, number][] = [
      [0, 0],
      [2 ** 32 - 1, 2 ** 29 - 1], // = p → 0
      [2 ** 32 - 2, 2 ** 29 - 1], // p − 1
      [2 ** 32 - 1, 2 ** 30 - 1], // folds to hi = 2^29 − 1, then lo overflows: hi = 2^29 (V' = 2^61)
      [2 ** 32 - 5, 2 ** 29 * 5 - 1],
      [2 ** 32, 2 ** 29 - 1], // lo carry into hi = 2^29
      [2 ** 32 + 2 ** 32 - 1, 2 ** 29 - 2],
      [TOP_LO, TOP_HI],
      [TOP_LO, 0],
      [0, TOP_HI],
      [2 ** 52, 2 ** 52],
    ];
    const num = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.double({ min: 0, max: 2 ** 53, noNaN: true }).map(Math.floor));
    const samples = fc.sample(fc.tuple(num, num), 3000).map(([lo, hi]): [number, number] => [Math.min(lo, TOP_LO), Math.min(hi, TOP_HI)]);
    const out = new Uint32Array(2);
    for (const [lo, hi] of [...crafted, ...samples]) {
      _f61Put(out, 0, lo, hi);
      const got = (BigInt(out[1]!) << 32n) | BigInt(out[0]!);
      const want = mod(BigInt(lo) + (BigInt(hi) << 32n));
      if (got !== want) throw new Error(`put(${lo}, ${hi}) = ${got}, want ${want}`);
    }
  });

  test('linear combinations with lazy reduction: K = 1..100 terms (past the 8-term chunks), near the top of the field', () => {
    for (const K of [1, 2, 7, 8, 9, 15, 16, 17, 20, 33, 64, 100]) {
      for (const [c, y] of [
        [p - 1n, p - 1n],
        [p - 2n, p - 2n],
        [p - 2n, (1n << 32n) - 1n + ((1n << 29n) - 2n) * (1n << 32n)],
      ] as const) {
        const L = 3;
        const cs = Array.from({ length: K }, () => c);
        const ys = Array.from({ length: K }, () => V(new Array<bigint>(L).fill(y)));
        const want = mod(BigInt(K) * c * y);
        expect(B(f61Combine(cs, ys))).toEqual(new Array<bigint>(L).fill(want));
      }
    }
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((K) => fc.tuple(fc.array(el, { minLength: K, maxLength: K }), fc.array(vec(3), { minLength: K, maxLength: K }))),
        ([cs, ys]) => {
          const want = [0, 1, 2].map((e) => mod(cs.reduce((s, c, k) => s + c * ys[k]![e]!, 0n)));
          expect(B(f61Combine(cs, ys.map(V)))).toEqual(want);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('fromBigInts reduces any bigint; isField61Element', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }), (x) => {
        expect(B(V([x]))).toEqual([mod(x)]);
      }),
    );
    expect(B(V([p, -p, 2n * p + 5n, -1n]))).toEqual([0n, 0n, 5n, p - 1n]);
    expect(isField61Element(p - 1n)).toBe(true);
    expect(isField61Element(p)).toBe(false);
    expect(isField61Element(-1n)).toBe(false);
    expect(isField61Element(1)).toBe(false);
  });
});

describe('serialisation', () => {
  test('round trip through 8 little-endian bytes per element', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }).chain(vec), (xs) => {
        const bytes = f61ToBytes(V(xs));
        expect(bytes.length).toBe(8 * xs.length);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        xs.forEach((x, i) => expect(view.getBigUint64(8 * i, true)).toBe(x));
        expect(B(f61FromBytes(bytes))).toEqual(xs);
        // Unaligned input is copied, not refused.
        const shifted = new Uint8Array(bytes.length + 1);
        shifted.set(bytes, 1);
        expect(B(f61FromBytes(shifted.subarray(1)))).toEqual(xs);
      }),
    );
  });

  test('an element ≥ p is refused, naming its index; so are bad lengths and types', () => {
    for (const bad of [p, p + 1n, 1n << 61n, (1n << 64n) - 1n, 1n << 63n]) {
      const bytes = new Uint8Array(24);
      const view = new DataView(bytes.buffer);
      view.setBigUint64(0, 5n, true);
      view.setBigUint64(8, p - 1n, true);
      view.setBigUint64(16, bad, true);
      const e = errorOf(() => f61FromBytes(bytes));
      expect(e.code).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(e.message).toMatch(/element 2 /);
    }
    expect(errorOf(() => f61FromBytes(new Uint8Array(7))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorOf(() => f61FromBytes([1, 2] as unknown as Uint8Array)).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  test('vector arguments are checked: non-canonical words, odd lengths, other types, length mismatch', () => {
    const nonCanonical = new Uint32Array([0xffffffff, 0x1fffffff]); // = p
    const cases: (() => unknown)[] = [
      () => f61Add(nonCanonical, f61Zeros(1)),
      () => f61Add(new Uint32Array([0, 0x20000000]), f61Zeros(1)),
      () => f61Add(new Uint32Array(3), new Uint32Array(3)),
      () => f61Add(f61Zeros(1), f61Zeros(2)),
      () => f61Add([0, 0] as unknown as Uint32Array, f61Zeros(1)),
      () => f61Scale(f61Zeros(1), p),
      () => f61Scale(f61Zeros(1), -1n),
      () => f61Scale(f61Zeros(1), 1 as unknown as bigint),
      () => f61Combine([], []),
      () => f61Combine([1n], [f61Zeros(1), f61Zeros(1)]),
      () => f61Length(nonCanonical),
      () => f61Zeros(-1),
      () => f61Random(2 ** 28),
    ];
    for (const f of cases) expect(errorOf(f).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('random vectors', () => {
  test('in range, distinct, and roughly uniform (chi-square over the top 4 bits)', () => {
    const L = 64_000;
    const v = f61Random(L);
    expect(f61Length(v)).toBe(L);
    const xs = B(v); // also checks every element is canonical
    expect(xs.every((x) => x >= 0n && x < p)).toBe(true);
    expect(new Set(xs).size).toBe(L);
    // Top 4 bits (bits 57..60) of a uniform element in [0, p) are uniform to within 2^-57.
    const bins = new Array<number>(16).fill(0);
    for (const x of xs) bins[Number(x >> 57n)]!++;
    const expected = L / 16;
    const chi2 = bins.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 15 degrees of freedom: P(chi2 > 44) ≈ 1e-4.
    expect(chi2).toBeLessThan(44);
    // The high word never has bits above 28.
    for (let w = 1; w < v.length; w += 2) if (v[w]! > 0x1fffffff) throw new Error('high word out of range');
  });

  test('a chi-square test detects a biased generator (the test can fail)', () => {
    const L = 64_000;
    const bins = new Array<number>(16).fill(0);
    // A "mod p" of 64 random bits would be biased; here simulate a grossly biased top bit.
    for (let i = 0; i < L; i++) bins[(i % 3 === 0 ? 8 : 0) + (i % 8)]!++;
    const expected = L / 16;
    const chi2 = bins.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeGreaterThan(44);
  });
});

function points(shares: Field61Vector[], xs: bigint[]): Shamir61Point[] {
  return shares.map((y, j) => ({ x: xs[j]!, y }));
}

const subsetArb = (n: number, k: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: k, maxLength: k });

function randomXs(n: number, large: boolean): bigint[] {
  if (!large) return evaluationPoints(n);
  const set = new Set<bigint>();
  while (set.size < n) {
    const x = B(f61Random(1))[0]!;
    if (x !== 0n) set.add(x);
  }
  return [...set];
}

describe('Shamir over GF(2^61 − 1)', () => {
  test('any t of n shares reconstruct the secret (small and large evaluation points); all n check as consistent', () => {
    const setup = fc
      .record({ n: fc.integer({ min: 1, max: 9 }), L: fc.integer({ min: 1, max: 20 }) })
      .chain(({ n, L }) => fc.record({ n: fc.constant(n), L: fc.constant(L), t: fc.integer({ min: 1, max: n }) }))
      .chain((s) => fc.record({ s: fc.constant(s), idx: subsetArb(s.n, s.t), large: fc.boolean(), secret: vec(s.L) }));
    fc.assert(
      fc.property(setup, ({ s: { n, t }, idx, large, secret }) => {
        const xs = randomXs(n, large);
        const shares = shamirShare61(V(secret), t, xs);
        expect(shares).toHaveLength(n);
        const pts = points(shares, xs);
        expect(B(lagrangeAtZero61(idx.map((i) => pts[i]!)))).toEqual(secret);
        expect(B(lagrangeAtZero61(pts))).toEqual(secret);
        expect(checkDegree61(pts, t)).toEqual({ ok: true });
        // The shares lie on a polynomial of degree ≤ t − 1: reference interpolation in BigInt.
        if (t <= n - 1) {
          const k = t; // interpolate through the first t, predict point t
          const xt = xs[k]!;
          let pred = 0n;
          for (let i = 0; i < k; i++) {
            let num = 1n;
            let den = 1n;
            for (let j = 0; j < k; j++) {
              if (j === i) continue;
              num = mod(num * (xt - xs[j]!));
              den = mod(den * (xs[i]! - xs[j]!));
            }
            let inv = 1n;
            let base = den;
            for (let e = p - 2n; e > 0n; e >>= 1n) {
              if (e & 1n) inv = (inv * base) % p;
              base = (base * base) % p;
            }
            pred = mod(pred + num * inv * B(shares[i]!)[0]!);
          }
          expect(B(shares[k]!)[0]).toBe(pred);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('dealing spans several blocks (L = 20 000), t = 3 of n = 5', () => {
    const secret = f61Random(20_000);
    const xs = evaluationPoints(5);
    const shares = shamirShare61(secret, 3, xs);
    const pts = points(shares, xs);
    expect(f61Equal(lagrangeAtZero61([pts[4]!, pts[0]!, pts[2]!]), secret)).toBe(true);
    expect(checkDegree61(pts, 3)).toEqual({ ok: true });
  });

  test('t − 1 shares of a fixed secret look uniform', () => {
    const L = 4000;
    const shares = shamirShare61(f61Zeros(L), 3, evaluationPoints(5));
    for (const j of [0, 4]) {
      const y = B(shares[j]!);
      expect(new Set(y).size).toBe(L);
      const high = y.filter((v) => v >= 1n << 60n).length;
      expect(Math.abs(high - L / 2)).toBeLessThan(6 * Math.sqrt(L / 4));
    }
  });

  test('sums of shares are shares of the sum', () => {
    const xs = evaluationPoints(5);
    const a = f61Random(6);
    const b = f61Random(6);
    const sa = shamirShare61(a, 3, xs);
    const sb = shamirShare61(b, 3, xs);
    const sum = sa.map((y, j) => f61Add(y, sb[j]!));
    expect(f61Equal(lagrangeAtZero61(points(sum, xs).slice(2)), f61Add(a, b))).toBe(true);
  });

  test('degree check: a tampered point is detected with r = t + 1 and named with r ≥ t + 2', () => {
    fc.assert(
      fc.property(
        fc
          .record({ t: fc.integer({ min: 1, max: 5 }), extra: fc.integer({ min: 1, max: 6 }), L: fc.integer({ min: 1, max: 30 }) })
          .chain((s) =>
            fc.record({
              s: fc.constant(s),
              bad: fc.shuffledSubarray([...Array(s.t + s.extra).keys()], { minLength: 1, maxLength: Math.max(1, Math.floor(s.extra / 2)) }),
              elems: fc.array(fc.integer({ min: 0, max: s.L - 1 }), { minLength: 1, maxLength: 3 }),
              delta: fc.bigInt({ min: 1n, max: p - 1n }),
              large: fc.boolean(),
            }),
          ),
        ({ s: { t, extra, L }, bad, elems, delta, large }) => {
          const r = t + extra;
          const xs = randomXs(r, large);
          const pts = points(shamirShare61(f61Random(L), t, xs), xs);
          for (const i of bad) {
            const y = B(pts[i]!.y);
            for (const e of elems) y[e] = mod(y[e]! + delta);
            pts[i] = { x: pts[i]!.x, y: V(y) };
          }
          const res = checkDegree61(pts, t);
          expect(res.ok).toBe(false);
          if (extra >= 2) expect(res).toEqual({ ok: false, suspects: [...bad].sort((a, b) => a - b) });
          else expect(res).toEqual({ ok: false });
        },
      ),
      { numRuns: 150 },
    );
  });

  test('degree check: one party tampering with every element of a long vector is named once', () => {
    const xs = evaluationPoints(5);
    const pts = points(shamirShare61(f61Random(50_000), 3, xs), xs);
    pts[1] = { x: pts[1]!.x, y: f61Add(pts[1]!.y, V(new Array<bigint>(50_000).fill(1n))) };
    expect(checkDegree61(pts, 3)).toEqual({ ok: false, suspects: [1] });
  });

  test('checks its arguments like the p127 functions', () => {
    const cases: (() => unknown)[] = [
      () => shamirShare61(f61Zeros(1), 0, [1n]),
      () => shamirShare61(f61Zeros(1), 2, [1n]),
      () => shamirShare61(f61Zeros(1), 1, [0n]),
      () => shamirShare61(f61Zeros(1), 1, [1n, 1n]),
      () => shamirShare61(f61Zeros(1), 1, [p]),
      () => lagrangeAtZero61([]),
      () => lagrangeAtZero61([{ x: 1n, y: f61Zeros(1) }, { x: 2n, y: f61Zeros(2) }]),
      () => checkDegree61([{ x: 1n, y: f61Zeros(1) }], 2),
      () => checkDegree61([{ x: 1n, y: new Uint32Array([0xffffffff, 0x1fffffff]) }], 1),
    ];
    for (const f of cases) expect(errorOf(f).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('fixed-point encoding into GF(2^61 − 1)', () => {
  const sumF61 = (inputs: SumInput[], params: EncodingParams) => {
    const enc = inputs.map((x) => encodeField61(x, params));
    const acc = f61Zeros(f61Length(enc[0]!.elements));
    for (const e of enc) f61AddInPlace(acc, e.elements);
    return decodeField61(enc[0]!.shape, acc, params);
  };

  test('the same sums as the p127 encoding, for floats, ints and decimals, random', () => {
    const params = { parties: 6, modulus: 'p61' as const };
    const p127 = { parties: 6, modulus: 'p127' as const };
    const sumP127 = (inputs: SumInput[]) => {
      const enc = inputs.map((x) => encodeField(x, p127));
      const acc = enc[0]!.elements.map(() => 0n);
      const pp = (1n << 127n) - 1n;
      for (const e of enc) e.elements.forEach((v, i) => (acc[i] = (acc[i]! + v) % pp));
      return decodeField(enc[0]!.shape, acc, p127);
    };
    const B31 = 2 ** 31;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((n) =>
          fc.array(
            fc.record({
              f: fc.array(fc.double({ min: -B31, max: B31, noNaN: true }), { minLength: 3, maxLength: 3 }),
              i: fc.bigInt({ min: -(2n ** 31n), max: 2n ** 31n }),
              d: fc.bigInt({ min: -(2n ** 31n) * 10_000n, max: 2n ** 31n * 10_000n }).map((m) => new BigNumber(m.toString()).shiftedBy(-4).toFixed()),
            }),
            { minLength: n, maxLength: n },
          ),
        ),
        (inputs) => {
          const got = sumF61(inputs, params) as { f: Float64Array; i: bigint; d: string };
          const want = sumP127(inputs) as { f: Float64Array; i: bigint; d: string };
          expect(Array.from(got.f)).toEqual(Array.from(want.f));
          expect(got.i).toBe(want.i);
          expect(got.d).toBe(want.d);
          expect(got.i).toBe(inputs.reduce((s, x) => s + x.i, 0n));
        },
      ),
      { numRuns: 200 },
    );
  });

  test('negative values use the centred lift: −1 encodes as p − 1, and decoding returns the signed value', () => {
    const e = encodeField61([-1n, 1n, 0n], { parties: 3, modulus: 'p61' });
    expect(B(e.elements)).toEqual([p - 1n, 1n, 0n]);
    const f = encodeField61([-1, -0, 0.5], { parties: 3, modulus: 'p61', fractionalBits: 1 });
    expect(B(f.elements)).toEqual([p - 2n, 0n, 1n]);
    expect(Array.from(decodeField61(f.shape, f.elements, { parties: 3, modulus: 'p61', fractionalBits: 1 }) as Float64Array)).toEqual([-1, 0, 0.5]);
  });

  test('at the bound: the largest B the p61 budget allows, every party at ±B, sums exact; one step above is refused', () => {
    // n · B · 2^f · 4 ≤ 2^61 − 1 with n = 4, f = 16: B = ⌊(2^61 − 1) / 2^20⌋ = 2^41 − 1 (as an integer bound).
    const n = 4;
    const Bmax = 2 ** 41 - 1;
    const params: EncodingParams = { parties: n, modulus: 'p61', bound: Bmax, fractionalBits: 16 };
    expect(() => checkParams(params)).not.toThrow();
    expect(fitsModulus(params, encodeField61(1, params).shape)).toBe(true);
    expect(errorOf(() => checkParams({ ...params, bound: 2 ** 41 })).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    expect(errorOf(() => checkParams({ ...params, bound: 2 ** 41 })).message).toMatch(/≈ 61/);
    expect(fitsModulus({ ...params, bound: 2 ** 41 })).toBe(false);
    expect(sumF61([Bmax, Bmax, Bmax, Bmax], params)).toBe(4 * Bmax);
    expect(sumF61([-Bmax, -Bmax, -Bmax, -Bmax], params)).toBe(-4 * Bmax);
    expect(sumF61([BigInt(Bmax), BigInt(Bmax), BigInt(Bmax), BigInt(Bmax)], params)).toBe(4n * BigInt(Bmax));
    expect(sumF61([-BigInt(Bmax), -BigInt(Bmax), -BigInt(Bmax), BigInt(Bmax)], params)).toBe(-2n * BigInt(Bmax));
    // Just below the bound with a fractional part: still exact to 2^-16.
    const x = Bmax - 0.5;
    expect(sumF61([x, x, -x, x], params)).toBe(2 * x);
    // Above the bound: refused as a value, not wrapped.
    expect(errorOf(() => encodeField61(Bmax + 1, params)).code).toBe(ErrorCode.VALUE_INVALID);
    expect(errorOf(() => encodeField61(BigInt(Bmax) + 1n, params)).code).toBe(ErrorCode.VALUE_INVALID);
  });

  test('decimals: the decimal budget (10^d) is checked for p61 as for the other moduli', () => {
    // f = 4: 2^4 < 10^4, so decimals need more room than floats.
    const params: EncodingParams = { parties: 2, modulus: 'p61', fractionalBits: 4, bound: 2 ** 45 };
    expect(fitsModulus(params, encodeField61(1, params).shape)).toBe(true); // floats only: 1 + 45 + 4 + 2 ≤ 61
    expect(fitsModulus(params)).toBe(false); // any input: decimals need 1 + 45 + 13.3 + 2 > 61
    expect(errorOf(() => encodeField61('1.5', params)).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    const ok = sumF61(['123456789.0001', '-0.0002'], { parties: 2, modulus: 'p61', bound: 2 ** 30 });
    expect(ok).toBe('123456788.9999');
  });

  test('bad inputs are refused like the other encoders', () => {
    const params: EncodingParams = { parties: 3, modulus: 'p61' };
    for (const bad of [NaN, Infinity, -Infinity, 2 ** 32]) expect(errorOf(() => encodeField61(bad, params)).code).toBe(ErrorCode.VALUE_INVALID);
    expect(errorOf(() => encodeField61([1, NaN], params)).code).toBe(ErrorCode.VALUE_INVALID);
    expect(errorOf(() => encodeField61(new Float64Array([1, Infinity]), params)).code).toBe(ErrorCode.VALUE_INVALID);
    expect(errorOf(() => encodeField61(1, { parties: 3, modulus: 'p127' })).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    const shape = encodeField61([1, 2], params).shape;
    expect(errorOf(() => decodeField61(shape, f61Zeros(3), params)).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorOf(() => decodeField61(shape, new Uint32Array([0, 0, 0xffffffff, 0x1fffffff]), params)).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});
