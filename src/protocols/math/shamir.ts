/**
 * Shamir t-of-n secret sharing of vectors over GF(2^127 − 1), Lagrange reconstruction at zero,
 * and the degree check that detects (and, with enough redundancy, names) inconsistent points.
 *
 * Conventions: a sharing of a secret vector s (length L) at evaluation points x_1..x_n is, per
 * element e, a fresh random polynomial f_e of degree ≤ t − 1 with f_e(0) = s[e]; share j is the
 * vector (f_e(x_j))_e. Any t shares determine s; any t − 1 reveal nothing.
 *
 * The same functions over GF(2^61 − 1), on typed arrays, are in `shamir61.ts`; both share the
 * Lagrange bases and Berlekamp–Welch defined here (on bigint scalars, never per vector element).
 *
 * @module
 */
import { InvalidArgumentError } from '../../errors';
import { _add, _checkElement, _checkElementVector, _inv, _mul, _randomElements, _reduce, _sub, FIELD_MAX_VECTOR_LENGTH, P127 } from './field';
import { _guardArg, _isPlainArray, _isProxy, _describe } from './_checks';

/** Most evaluation points / shares / points accepted by the functions of this module. */
export const SHAMIR_MAX_POINTS = 1024;

/** One point of a shared vector: the evaluation point and the share vector there. */
export interface ShamirPoint {
  /** Evaluation point, a non-zero field element. */
  readonly x: bigint;
  /** The share vector at x (one field element per secret element). */
  readonly y: readonly bigint[];
}

/** Result of {@link checkDegree}. */
export type DegreeCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /**
       * Indexes into `points` of the points found inconsistent, ascending. Present only when
       * there is enough redundancy (r ≥ t + 2) and the bad points could be named uniquely
       * (at most ⌊(r − t)/2⌋ of them).
       */
      readonly suspects?: number[];
    };

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
      const v = _checkElement(xs[i], `${name}[${i}]`);
      if (v === 0n) throw new InvalidArgumentError(`"${name}[${i}]" must be non-zero (0 is where the secret lives)`);
      if (seen.has(v)) throw new InvalidArgumentError(`"${name}[${i}]" duplicates an earlier evaluation point`);
      seen.add(v);
      out.push(v);
    }
  });
  return out;
}

function checkPoints(points: unknown): { xs: bigint[]; ys: bigint[][]; L: number } {
  if (!_isPlainArray(points)) throw new InvalidArgumentError(`"points" expected an array of {x, y}, got ${_describe(points)}`);
  if (points.length < 1 || points.length > SHAMIR_MAX_POINTS) {
    throw new InvalidArgumentError(`"points" expected 1..${SHAMIR_MAX_POINTS} points, got ${points.length}`);
  }
  const xs: unknown[] = [];
  const ys: bigint[][] = [];
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
      const y = _checkElementVector(yd.value, `points[${i}].y`);
      if (L === -1) L = y.length;
      else if (y.length !== L) throw new InvalidArgumentError(`"points[${i}].y" has ${y.length} elements, points[0].y has ${L}`);
      ys.push(y);
    }
  });
  return { xs: checkXs(xs, 'points[].x'), ys, L };
}

/**
 * Split a secret vector into Shamir shares: for every element, a fresh uniformly random
 * polynomial of degree ≤ t − 1 whose value at 0 is that element, evaluated at each of `xs`.
 * Coefficients come from the OS CSPRNG.
 * @param secret - the secret vector, field elements in [0, p) (≤ 2^24 of them).
 * @param t - reconstruction threshold, 1 ≤ t ≤ xs.length (t = 1 gives every party the secret).
 * @param xs - evaluation points: distinct, non-zero field elements (e.g. 1n..BigInt(n)).
 * @returns `shares[j][e]` = f_e(xs[j]).
 * @throws {@link InvalidArgumentError} for non-canonical elements, a bad `t`, zero or repeated points.
 * @example
 * ```ts
 * const shares = shamirShare(encodeField(x, params), 3, [1n, 2n, 3n, 4n, 5n]);
 * ```
 */
export function shamirShare(secret: readonly bigint[], t: number, xs: readonly bigint[]): bigint[][] {
  const s = _checkElementVector(secret, 'secret', FIELD_MAX_VECTOR_LENGTH);
  const pts = checkXs(xs, 'xs');
  checkT(t, pts.length);
  const L = s.length;
  const n = pts.length;
  const shares: bigint[][] = pts.map(() => new Array<bigint>(L));
  if (t === 1) {
    for (const sh of shares) for (let e = 0; e < L; e++) sh[e] = s[e] as bigint;
    return shares;
  }
  // Coefficients c_1..c_{t-1} of every element, drawn in blocks to bound memory.
  const BLOCK = 4096;
  for (let e0 = 0; e0 < L; e0 += BLOCK) {
    const m = Math.min(BLOCK, L - e0);
    const coeffs = _randomElements(m * (t - 1));
    for (let k = 0; k < m; k++) {
      const base = k * (t - 1);
      const e = e0 + k;
      for (let j = 0; j < n; j++) {
        const x = pts[j] as bigint;
        // Horner: ((c_{t-1} x + c_{t-2}) x + ... + c_1) x + c_0
        let acc = coeffs[base + t - 2] as bigint;
        for (let d = t - 3; d >= 0; d--) acc = _reduce(acc * x + (coeffs[base + d] as bigint));
        (shares[j] as bigint[])[e] = _reduce(acc * x + (s[e] as bigint));
      }
    }
  }
  return shares;
}

/**
 * Scalar arithmetic of a prime field on canonical bigints: what the per-element algorithms shared
 * by GF(2^127 − 1) and GF(2^61 − 1) need (Lagrange bases, Berlekamp–Welch).
 * @internal
 */
export interface _ScalarField {
  readonly p: bigint;
  add(a: bigint, b: bigint): bigint;
  sub(a: bigint, b: bigint): bigint;
  mul(a: bigint, b: bigint): bigint;
  inv(a: bigint): bigint;
}

/** GF(2^127 − 1) as a {@link _ScalarField}. @internal */
export const _F127: _ScalarField = Object.freeze({ p: P127, add: _add, sub: _sub, mul: _mul, inv: _inv });

/** λ_i = Π_{j≠i} (z − x_j)/(x_i − x_j): Lagrange basis at z for the nodes xs. @internal */
export function _lagrangeBasis(F: _ScalarField, xs: readonly bigint[], z: bigint): bigint[] {
  return xs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      num = F.mul(num, F.sub(z, xj));
      den = F.mul(den, F.sub(xi, xj));
    });
    return F.mul(num, F.inv(den));
  });
}

const lagrangeBasis = (xs: readonly bigint[], z: bigint): bigint[] => _lagrangeBasis(_F127, xs, z);

/** Σ_i c_i · ys[idx[i]][e], with lazy reduction. */
function combine(c: readonly bigint[], ys: readonly (readonly bigint[])[], idx: readonly number[], e: number): bigint {
  let acc = 0n;
  for (let i = 0; i < idx.length; i++) acc += (c[i] as bigint) * ((ys[idx[i] as number] as readonly bigint[])[e] as bigint);
  return _reduce(acc);
}

/**
 * Interpolate each element's polynomial through all the given points and evaluate it at 0.
 * Uses every point given: pass exactly t points (or points already verified with
 * {@link checkDegree}); with more points of one degree-(t−1) polynomial the result is the same.
 * @param points - r ≥ 1 points with distinct non-zero x and equal-length y vectors.
 * @returns the secret vector (one field element per element of y).
 * @throws {@link InvalidArgumentError} for malformed points, zero/duplicate x or differing lengths.
 * @example
 * ```ts
 * const sum = lagrangeAtZero([{ x: 1n, y: t1 }, { x: 2n, y: t2 }, { x: 3n, y: t3 }]);
 * ```
 */
export function lagrangeAtZero(points: readonly ShamirPoint[]): bigint[] {
  const { xs, ys, L } = checkPoints(points);
  const lambda = lagrangeBasis(xs, 0n);
  const idx = xs.map((_, i) => i);
  const out = new Array<bigint>(L);
  for (let e = 0; e < L; e++) out[e] = combine(lambda, ys, idx, e);
  return out;
}

/**
 * A consistency checker for a subset of points: interpolates through the first t of `use` and
 * compares the prediction at the others.
 */
class SubsetChecker {
  private readonly base: number[];
  private readonly rest: number[];
  private readonly basis: bigint[][];
  constructor(
    xs: readonly bigint[],
    private readonly ys: readonly (readonly bigint[])[],
    use: readonly number[],
    t: number,
  ) {
    this.base = use.slice(0, t);
    this.rest = use.slice(t);
    const bx = this.base.map((i) => xs[i] as bigint);
    this.basis = this.rest.map((i) => lagrangeBasis(bx, xs[i] as bigint));
  }
  consistent(e: number): boolean {
    for (let m = 0; m < this.rest.length; m++) {
      const want = combine(this.basis[m] as bigint[], this.ys, this.base, e);
      if (want !== (this.ys[this.rest[m] as number] as readonly bigint[])[e]) return false;
    }
    return true;
  }
}

/**
 * Berlekamp–Welch for one element: find the polynomial P of degree < t agreeing with all but at
 * most e of the r points (r ≥ t + 2e), and return the indexes where it disagrees; undefined when
 * no such polynomial exists (more than e errors).
 * @internal
 */
export function _berlekampWelch(F: _ScalarField, xs: readonly bigint[], y: readonly bigint[], t: number, e: number): number[] | undefined {
  const r = xs.length;
  const nq = t + e; // Q has degree < t + e
  const m = nq + e; // unknowns: q_0..q_{nq-1}, a_0..a_{e-1} (E monic of degree e)
  // Rows: Σ q_k x^k − y Σ a_k x^k = y x^e
  const rows: bigint[][] = [];
  for (let i = 0; i < r; i++) {
    const x = xs[i] as bigint;
    const yi = y[i] as bigint;
    const row = new Array<bigint>(m + 1);
    let pw = 1n;
    for (let k = 0; k < nq; k++) {
      row[k] = pw;
      if (k < e) row[nq + k] = F.sub(0n, F.mul(yi, pw));
      if (k === e) row[m] = F.mul(yi, pw);
      pw = F.mul(pw, x);
    }
    rows.push(row);
  }
  // Gaussian elimination to reduced row echelon form.
  const pivCol: number[] = [];
  let rank = 0;
  for (let c = 0; c < m && rank < r; c++) {
    let p = -1;
    for (let i = rank; i < r; i++) if ((rows[i] as bigint[])[c] !== 0n) { p = i; break; }
    if (p < 0) continue;
    [rows[rank], rows[p]] = [rows[p] as bigint[], rows[rank] as bigint[]];
    const pr = rows[rank] as bigint[];
    const inv = F.inv(pr[c] as bigint);
    for (let k = c; k <= m; k++) pr[k] = F.mul(pr[k] as bigint, inv);
    for (let i = 0; i < r; i++) {
      if (i === rank) continue;
      const row = rows[i] as bigint[];
      const f = row[c] as bigint;
      if (f === 0n) continue;
      for (let k = c; k <= m; k++) row[k] = F.sub(row[k] as bigint, F.mul(f, pr[k] as bigint));
    }
    pivCol.push(c);
    rank++;
  }
  for (let i = rank; i < r; i++) if ((rows[i] as bigint[])[m] !== 0n) return undefined; // inconsistent
  const sol = new Array<bigint>(m).fill(0n); // free variables = 0
  pivCol.forEach((c, i) => (sol[c] = (rows[i] as bigint[])[m] as bigint));
  // P = Q / E by long division; E = x^e + Σ a_k x^k.
  const rem = sol.slice(0, nq);
  const E = [...sol.slice(nq), 1n];
  const P = new Array<bigint>(t).fill(0n);
  for (let d = nq - 1; d >= e; d--) {
    const q = rem[d] as bigint;
    P[d - e] = q;
    if (q === 0n) continue;
    for (let k = 0; k <= e; k++) rem[d - e + k] = F.sub(rem[d - e + k] as bigint, F.mul(q, E[k] as bigint));
  }
  if (rem.some((v) => v !== 0n)) return undefined;
  const bad: number[] = [];
  for (let i = 0; i < r; i++) {
    let acc = 0n;
    for (let d = t - 1; d >= 0; d--) acc = F.add(F.mul(acc, xs[i] as bigint), P[d] as bigint);
    if (acc !== y[i]) bad.push(i);
  }
  return bad.length <= e ? bad : undefined;
}

/**
 * Check that r points lie, element by element, on polynomials of degree ≤ t − 1, and name the
 * inconsistent points when there is enough redundancy.
 *
 * - r = t: always `{ ok: true }` — t points fit any degree-(t−1) polynomial, nothing is checked.
 * - r = t + 1: detects any single tampered point (`{ ok: false }`) but cannot say which.
 * - r ≥ t + 2: with e = ⌊(r − t)/2⌋, if at most e points are wrong (in any elements), they are
 *   named exactly in `suspects`. With more than e wrong points the check still reports
 *   `ok: false` whenever the points are inconsistent, but `suspects` is omitted or (beyond what
 *   any decoder can do) may be wrong.
 *
 * Method. Every element is first checked cheaply: interpolate through t points, predict the
 * other r − t (O((r − t)·t) multiplications per element). For inconsistent elements, errors are
 * located with Berlekamp–Welch (one r × (t + 2e) linear system per element, O(r³)), rather than
 * by trying subsets of left-out points (C(r, e) consistency checks per element, exponential in e,
 * and limited to small r). Berlekamp–Welch only runs on an element that stays inconsistent after
 * removing the suspects found so far — e.g. a party that tampers with every element costs one
 * decoding, not L — so it runs at most e + 1 times when at most e points are wrong.
 * @param points - r ≥ t points with distinct non-zero x and equal-length y vectors.
 * @param t - the sharing threshold (polynomial degree + 1), 1 ≤ t ≤ r.
 * @returns `{ ok: true }` or `{ ok: false, suspects? }` (indexes into `points`).
 * @throws {@link InvalidArgumentError} for malformed points or a bad `t`.
 * @example
 * ```ts
 * const res = checkDegree(points, t);
 * if (!res.ok) throw tampering(res.suspects?.map((i) => owners[i]));
 * ```
 */
export function checkDegree(points: readonly ShamirPoint[], t: number): DegreeCheck {
  const { xs, ys, L } = checkPoints(points);
  const r = xs.length;
  checkT(t, r);
  if (r === t) return { ok: true };
  const all = xs.map((_, i) => i);
  const full = new SubsetChecker(xs, ys, all, t);
  const dirty: number[] = [];
  for (let e = 0; e < L; e++) if (!full.consistent(e)) dirty.push(e);
  if (dirty.length === 0) return { ok: true };
  const maxErr = Math.floor((r - t) / 2);
  if (maxErr === 0) return { ok: false };
  const suspects = new Set<number>();
  let checker: SubsetChecker | undefined;
  for (const e of dirty) {
    if (checker !== undefined && checker.consistent(e)) continue;
    const column = ys.map((y) => y[e] as bigint);
    const bad = _berlekampWelch(_F127, xs, column, t, maxErr);
    if (bad === undefined) return { ok: false };
    const before = suspects.size;
    for (const i of bad) suspects.add(i);
    if (suspects.size > maxErr) return { ok: false };
    if (suspects.size === before) return { ok: false }; // cannot happen with ≤ e errors
    checker = new SubsetChecker(xs, ys, all.filter((i) => !suspects.has(i)), t);
  }
  return { ok: false, suspects: [...suspects].sort((a, b) => a - b) };
}

/**
 * Convenience: the evaluation points 1, 2, …, n as field elements.
 * @param n - number of points, 1 ≤ n ≤ 1024.
 * @returns [1n, 2n, …, BigInt(n)].
 * @throws {@link InvalidArgumentError} if `n` is out of range.
 * @example
 * ```ts
 * shamirShare(secret, 3, evaluationPoints(5));
 * ```
 */
export function evaluationPoints(n: number): bigint[] {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > SHAMIR_MAX_POINTS) {
    throw new InvalidArgumentError(`"n" expected an integer in [1, ${SHAMIR_MAX_POINTS}], got ${_describe(n) === 'number' ? n : _describe(n)}`);
  }
  return Array.from({ length: n }, (_, i) => BigInt(i + 1));
}

