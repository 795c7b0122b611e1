/**
 * Shamir t-of-n secret sharing of vectors over GF(2^61 − 1) on typed arrays ({@link Field61Vector}),
 * Lagrange reconstruction at zero, and the degree check that detects (and, with enough redundancy,
 * names) inconsistent points — the same conventions, results and guarantees as the
 * GF(2^127 − 1) functions of `shamir.ts` ({@link shamirShare}, {@link lagrangeAtZero},
 * {@link checkDegree}), with no BigInt per element.
 *
 * Vector work (dealing, combinations, the consistency check) runs on the typed-array cores of
 * `field61.ts`; bigints appear only for the O(r²) Lagrange coefficients and for Berlekamp–Welch
 * on the few elements found inconsistent.
 *
 * @module
 */
import { InvalidArgumentError } from '../../errors';
import { MAX_VECTOR_LENGTH, _guardArg, _isPlainArray, _isProxy, _describe } from './_checks';
import {
  P61,
  _checkF61,
  _checkS61,
  _f61Combine,
  _f61IsSmall,
  _f61MulAdd,
  _f61MulAddSmall,
  _f61Random,
  _f61Split,
  _s61Add,
  _s61Inv,
  _s61Mul,
  _s61Sub,
  type Field61Vector,
} from './field61';
import { SHAMIR_MAX_POINTS, _berlekampWelch, _lagrangeBasis, type DegreeCheck, type _ScalarField } from './shamir';

/** GF(2^61 − 1) scalars as a {@link _ScalarField}. */
const F61: _ScalarField = Object.freeze({ p: P61, add: _s61Add, sub: _s61Sub, mul: _s61Mul, inv: _s61Inv });

/** One point of a vector shared over GF(2^61 − 1): the evaluation point and the share vector there. */
export interface Shamir61Point {
  /** Evaluation point, a non-zero field element (bigint < 2^61 − 1). */
  readonly x: bigint;
  /** The share vector at x (one element per secret element). */
  readonly y: Field61Vector;
}

function checkT(t: unknown, max: number): number {
  if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw new InvalidArgumentError(`"t" expected an integer, got ${_describe(t)}`);
  if (t < 1 || t > max) throw new InvalidArgumentError(`"t" expected an integer in [1, ${max}], got ${t}`);
  return t;
}

function checkXs(xs: unknown, name: string): bigint[] {
  if (!_isPlainArray(xs)) throw new InvalidArgumentError(`"${name}" expected an array of field elements, got ${_describe(xs)}`);
  if (xs.length < 1 || xs.length > SHAMIR_MAX_POINTS) {
    throw new InvalidArgumentError(`"${name}" expected 1..${SHAMIR_MAX_POINTS} evaluation points, got ${xs.length}`);
  }
  const seen = new Set<bigint>();
  const out: bigint[] = [];
  _guardArg(name, () => {
    for (let i = 0; i < xs.length; i++) {
      const v = _checkS61(xs[i], `${name}[${i}]`);
      if (v === 0n) throw new InvalidArgumentError(`"${name}[${i}]" must be non-zero (0 is where the secret lives)`);
      if (seen.has(v)) throw new InvalidArgumentError(`"${name}[${i}]" duplicates an earlier evaluation point`);
      seen.add(v);
      out.push(v);
    }
  });
  return out;
}

function checkPoints(points: unknown): { xs: bigint[]; ys: Field61Vector[]; L: number } {
  if (!_isPlainArray(points)) throw new InvalidArgumentError(`"points" expected an array of {x, y}, got ${_describe(points)}`);
  if (points.length < 1 || points.length > SHAMIR_MAX_POINTS) {
    throw new InvalidArgumentError(`"points" expected 1..${SHAMIR_MAX_POINTS} points, got ${points.length}`);
  }
  const xs: unknown[] = [];
  const ys: Field61Vector[] = [];
  let L = -1;
  _guardArg('points', () => {
    for (let i = 0; i < points.length; i++) {
      const p: unknown = points[i];
      if (typeof p !== 'object' || p === null || _isProxy(p)) {
        throw new InvalidArgumentError(`"points[${i}]" expected an object {x, y}, got ${_describe(p)}`);
      }
      const xd = Object.getOwnPropertyDescriptor(p, 'x');
      const yd = Object.getOwnPropertyDescriptor(p, 'y');
      if (xd === undefined || !('value' in xd) || yd === undefined || !('value' in yd)) {
        throw new InvalidArgumentError(`"points[${i}]" expected own data properties x and y`);
      }
      xs.push(xd.value);
      const y = _checkF61(yd.value, `points[${i}].y`);
      if (L === -1) L = y.length / 2;
      else if (y.length / 2 !== L) throw new InvalidArgumentError(`"points[${i}].y" has ${y.length / 2} elements, points[0].y has ${L}`);
      ys.push(y);
    }
  });
  return { xs: checkXs(xs, 'points[].x'), ys, L };
}

/** Elements per block of dealing (coefficients are drawn per block to bound memory). */
const BLOCK = 8192;

/**
 * Split a secret vector into Shamir shares over GF(2^61 − 1): for every element, a fresh uniformly
 * random polynomial of degree ≤ t − 1 whose value at 0 is that element, evaluated at each of `xs`
 * (Horner; evaluation points below 2^20, such as 1..n, take a cheaper multiplication). Coefficients
 * come from the OS CSPRNG.
 * @param secret - the secret vector (≤ 2^27 elements, each < p).
 * @param t - reconstruction threshold, 1 ≤ t ≤ xs.length (t = 1 gives every party the secret).
 * @param xs - evaluation points: distinct, non-zero bigints < p (e.g. `evaluationPoints(n)`).
 * @returns `shares[j]`, the vector of f_e(xs[j]) over the elements e.
 * @throws {@link InvalidArgumentError} for a non-canonical secret, a bad `t`, zero or repeated points.
 * @example
 * ```ts
 * const shares = shamirShare61(encodeField61(x, params).elements, 3, evaluationPoints(5));
 * ```
 */
export function shamirShare61(secret: Field61Vector, t: number, xs: readonly bigint[]): Field61Vector[] {
  const s = _checkF61(secret, 'secret', MAX_VECTOR_LENGTH);
  const pts = checkXs(xs, 'xs');
  checkT(t, pts.length);
  const L = s.length / 2;
  const shares = pts.map(() => new Uint32Array(2 * L));
  if (t === 1) {
    for (const sh of shares) sh.set(s);
    return shares;
  }
  const small = pts.map(_f61IsSmall);
  const xn = pts.map(Number);
  const splits = _f61Split(pts);
  for (let e0 = 0; e0 < L; e0 += BLOCK) {
    const m = Math.min(BLOCK, L - e0);
    // Coefficient d (1 ≤ d ≤ t − 1) of element e0 + k is element (d − 1)·m + k of `coeffs`.
    const coeffs = _f61Random(m * (t - 1));
    pts.forEach((_, j) => {
      const dst = shares[j] as Uint32Array;
      // Horner: dst = c_{t−1}; dst = dst·x + c_d for d = t − 2, …, 1; dst = dst·x + s.
      let src: Uint32Array = coeffs;
      let sOff = (t - 2) * m;
      for (let d = t - 2; d >= 0; d--) {
        const add = d === 0 ? s : coeffs;
        const aOff = d === 0 ? e0 : (d - 1) * m;
        if (small[j]) _f61MulAddSmall(dst, e0, src, sOff, xn[j] as number, add, aOff, m);
        else _f61MulAdd(dst, e0, src, sOff, splits, 6 * j, add, aOff, m);
        src = dst;
        sOff = e0;
      }
    });
  }
  return shares;
}

/**
 * Interpolate each element's polynomial through all the given points and evaluate it at 0 (one
 * linear combination with the Lagrange coefficients, reduced once per eight terms). Uses every
 * point given: pass exactly t points, or points already verified with {@link checkDegree61}.
 * @param points - r ≥ 1 points with distinct non-zero x and equal-length y vectors.
 * @returns the secret vector.
 * @throws {@link InvalidArgumentError} for malformed points, zero/duplicate x or differing lengths.
 * @example
 * ```ts
 * const sum = lagrangeAtZero61([{ x: 1n, y: t1 }, { x: 2n, y: t2 }, { x: 3n, y: t3 }]);
 * ```
 */
export function lagrangeAtZero61(points: readonly Shamir61Point[]): Field61Vector {
  const { xs, ys, L } = checkPoints(points);
  const out = new Uint32Array(2 * L);
  _f61Combine(out, 0, _f61Split(_lagrangeBasis(F61, xs, 0n)), ys, 0, L);
  return out;
}

/** Interpolates through the first t of `use` and predicts the points of the others. */
class SubsetChecker {
  private readonly baseYs: Field61Vector[];
  private readonly restYs: Field61Vector[];
  private readonly basis: Float64Array[];
  private readonly scratch = new Uint32Array(2);
  constructor(xs: readonly bigint[], ys: readonly Field61Vector[], use: readonly number[], t: number) {
    const base = use.slice(0, t);
    const rest = use.slice(t);
    const bx = base.map((i) => xs[i] as bigint);
    this.baseYs = base.map((i) => ys[i] as Field61Vector);
    this.restYs = rest.map((i) => ys[i] as Field61Vector);
    this.basis = rest.map((i) => _f61Split(_lagrangeBasis(F61, bx, xs[i] as bigint)));
  }
  /** The elements (ascending) where some predicted point differs from the given one. */
  dirty(L: number): number[] {
    const bad = new Uint8Array(L);
    const pred = new Uint32Array(2 * L);
    this.basis.forEach((cs, m) => {
      _f61Combine(pred, 0, cs, this.baseYs, 0, L);
      const y = this.restYs[m] as Field61Vector;
      for (let w = 0; w < pred.length; w += 2) if (pred[w] !== y[w] || pred[w + 1] !== y[w + 1]) bad[w >> 1] = 1;
    });
    const out: number[] = [];
    for (let e = 0; e < L; e++) if (bad[e] === 1) out.push(e);
    return out;
  }
  consistent(e: number): boolean {
    const w = 2 * e;
    for (let m = 0; m < this.basis.length; m++) {
      _f61Combine(this.scratch, 0, this.basis[m] as Float64Array, this.baseYs, e, e + 1);
      const y = this.restYs[m] as Field61Vector;
      if (this.scratch[0] !== y[w] || this.scratch[1] !== y[w + 1]) return false;
    }
    return true;
  }
}

/**
 * Check that r points lie, element by element, on polynomials of degree ≤ t − 1, and name the
 * inconsistent points when there is enough redundancy — exactly the semantics of
 * {@link checkDegree} (GF(2^127 − 1)):
 *
 * - r = t: always `{ ok: true }`, nothing is checked.
 * - r = t + 1: detects any single tampered point (`{ ok: false }`) but cannot say which.
 * - r ≥ t + 2: with e = ⌊(r − t)/2⌋, at most e wrong points are named exactly in `suspects`.
 *
 * Every element is checked with vector combinations (interpolate through t points, predict the
 * other r − t); errors are located with Berlekamp–Welch on an inconsistent element that stays
 * inconsistent after removing the suspects found so far (at most e + 1 times with ≤ e wrong points).
 * @param points - r ≥ t points with distinct non-zero x and equal-length y vectors.
 * @param t - the sharing threshold (polynomial degree + 1), 1 ≤ t ≤ r.
 * @returns `{ ok: true }` or `{ ok: false, suspects? }` (indexes into `points`).
 * @throws {@link InvalidArgumentError} for malformed points or a bad `t`.
 * @example
 * ```ts
 * const res = checkDegree61(points, t);
 * if (!res.ok) throw tampering(res.suspects?.map((i) => owners[i]));
 * ```
 */
export function checkDegree61(points: readonly Shamir61Point[], t: number): DegreeCheck {
  const { xs, ys, L } = checkPoints(points);
  const r = xs.length;
  checkT(t, r);
  if (r === t) return { ok: true };
  const all = xs.map((_, i) => i);
  const dirty = new SubsetChecker(xs, ys, all, t).dirty(L);
  if (dirty.length === 0) return { ok: true };
  const maxErr = Math.floor((r - t) / 2);
  if (maxErr === 0) return { ok: false };
  const suspects = new Set<number>();
  let checker: SubsetChecker | undefined;
  for (const e of dirty) {
    if (checker !== undefined && checker.consistent(e)) continue;
    const column = ys.map((y) => (BigInt(y[2 * e + 1] as number) << 32n) | BigInt(y[2 * e] as number));
    const bad = _berlekampWelch(F61, xs, column, t, maxErr);
    if (bad === undefined) return { ok: false };
    const before = suspects.size;
    for (const i of bad) suspects.add(i);
    if (suspects.size > maxErr) return { ok: false };
    if (suspects.size === before) return { ok: false }; // cannot happen with ≤ e errors
    checker = new SubsetChecker(xs, ys, all.filter((i) => !suspects.has(i)), t);
  }
  return { ok: false, suspects: [...suspects].sort((a, b) => a - b) };
}
