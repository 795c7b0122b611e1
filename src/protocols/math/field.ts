/**
 * The prime field GF(p) for the Mersenne prime p = 2^127 − 1, on `bigint`.
 *
 * Elements are canonical bigints in [0, p). Public functions check their arguments (a typed
 * {@link InvalidArgumentError} for anything else); the `_`-prefixed cores used by Shamir sharing
 * skip the checks. Reduction uses the Mersenne identity 2^127 ≡ 1: x ≡ (x mod 2^127) + ⌊x / 2^127⌋,
 * folded until the value is below 2^127.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { InvalidArgumentError } from '../../errors';
import { _checkCount, _guardArg, _isPlainArray, _describe } from './_checks';

/** The field modulus p = 2^127 − 1 (a Mersenne prime). */
export const P127: bigint = (1n << 127n) - 1n;

/** Largest vector length accepted by the field vector functions (2^24 elements). */
export const FIELD_MAX_VECTOR_LENGTH = 2 ** 24;

const LOW127 = P127;

/** Core reduction of a non-negative bigint to [0, p). @internal */
export function _reduce(x: bigint): bigint {
  while (x > LOW127) x = (x & LOW127) + (x >> 127n);
  return x === P127 ? 0n : x;
}

/** Core a + b for canonical a, b. @internal */
export function _add(a: bigint, b: bigint): bigint {
  const s = a + b;
  return s >= P127 ? s - P127 : s;
}

/** Core a − b for canonical a, b. @internal */
export function _sub(a: bigint, b: bigint): bigint {
  const s = a - b;
  return s < 0n ? s + P127 : s;
}

/** Core a · b for canonical a, b. @internal */
export function _mul(a: bigint, b: bigint): bigint {
  return _reduce(a * b);
}

/** Core inverse of a canonical non-zero a (extended Euclid). @internal */
export function _inv(a: bigint): bigint {
  let r0 = P127;
  let r1 = a;
  let s0 = 0n;
  let s1 = 1n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  // r0 = gcd = 1 because p is prime and 0 < a < p.
  return s0 < 0n ? s0 + P127 : s0;
}

/** True when `x` is a canonical field element: a bigint in [0, p). */
export function isFieldElement(x: unknown): x is bigint {
  return typeof x === 'bigint' && x >= 0n && x < P127;
}

/** @internal */
export function _checkElement(x: unknown, name: string): bigint {
  if (typeof x !== 'bigint') throw new InvalidArgumentError(`"${name}" expected a field element (bigint), got ${_describe(x)}`);
  if (x < 0n || x >= P127) throw new InvalidArgumentError(`"${name}" expected a field element in [0, 2^127 − 1)`);
  return x;
}

/** @internal Validate an array of canonical field elements (up to `max` long), naming the index; returns a copy. */
export function _checkElementVector(v: unknown, name: string, max: number = FIELD_MAX_VECTOR_LENGTH): bigint[] {
  if (!_isPlainArray(v)) throw new InvalidArgumentError(`"${name}" expected an array of field elements, got ${_describe(v)}`);
  if (v.length > max) throw new InvalidArgumentError(`"${name}" expected at most ${max} elements, got ${v.length}`);
  // Read every element exactly once into a snapshot, so later reads cannot see other values.
  return _guardArg(name, () => {
    const out = new Array<bigint>(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== 'bigint' || x < 0n || x >= P127) {
        throw new InvalidArgumentError(`"${name}" element ${i} is not a field element in [0, 2^127 − 1) (${_describe(x)})`);
      }
      out[i] = x;
    }
    return out;
  });
}

/**
 * Reduce any bigint (negative included) to its canonical representative in [0, p).
 * @param x - any bigint.
 * @returns x mod p in [0, p).
 * @throws {@link InvalidArgumentError} if `x` is not a bigint.
 * @example
 * ```ts
 * fReduce(-1n) === P127 - 1n; // true
 * ```
 */
export function fReduce(x: bigint): bigint {
  if (typeof x !== 'bigint') throw new InvalidArgumentError(`"x" expected a bigint, got ${_describe(x)}`);
  if (x >= 0n) return _reduce(x);
  const r = _reduce(-x);
  return r === 0n ? 0n : P127 - r;
}

/**
 * Field addition.
 * @param a - a field element in [0, p).
 * @param b - a field element in [0, p).
 * @returns (a + b) mod p.
 * @throws {@link InvalidArgumentError} if an argument is not a canonical field element.
 * @example
 * ```ts
 * fAdd(P127 - 1n, 2n); // 1n
 * ```
 */
export function fAdd(a: bigint, b: bigint): bigint {
  return _add(_checkElement(a, 'a'), _checkElement(b, 'b'));
}

/**
 * Field subtraction.
 * @param a - a field element in [0, p).
 * @param b - a field element in [0, p).
 * @returns (a − b) mod p.
 * @throws {@link InvalidArgumentError} if an argument is not a canonical field element.
 * @example
 * ```ts
 * fSub(0n, 1n) === P127 - 1n; // true
 * ```
 */
export function fSub(a: bigint, b: bigint): bigint {
  return _sub(_checkElement(a, 'a'), _checkElement(b, 'b'));
}

/**
 * Field multiplication (Mersenne reduction).
 * @param a - a field element in [0, p).
 * @param b - a field element in [0, p).
 * @returns (a · b) mod p.
 * @throws {@link InvalidArgumentError} if an argument is not a canonical field element.
 * @example
 * ```ts
 * fMul(2n, 1n << 126n); // 1n, since 2^127 ≡ 1
 * ```
 */
export function fMul(a: bigint, b: bigint): bigint {
  return _mul(_checkElement(a, 'a'), _checkElement(b, 'b'));
}

/**
 * Field negation.
 * @param a - a field element in [0, p).
 * @returns (−a) mod p.
 * @throws {@link InvalidArgumentError} if `a` is not a canonical field element.
 * @example
 * ```ts
 * fNeg(1n) === P127 - 1n; // true
 * ```
 */
export function fNeg(a: bigint): bigint {
  const x = _checkElement(a, 'a');
  return x === 0n ? 0n : P127 - x;
}

/**
 * Multiplicative inverse (extended Euclid).
 * @param a - a non-zero field element.
 * @returns a^-1 mod p.
 * @throws {@link InvalidArgumentError} if `a` is zero or not a canonical field element.
 * @example
 * ```ts
 * fMul(3n, fInv(3n)); // 1n
 * ```
 */
export function fInv(a: bigint): bigint {
  const x = _checkElement(a, 'a');
  if (x === 0n) throw new InvalidArgumentError('"a" expected a non-zero field element (0 has no inverse)');
  return _inv(x);
}

/** Core: n uniform field elements from the OS CSPRNG (rejection sampling). @internal */
export function _randomElements(n: number): bigint[] {
  const out = new Array<bigint>(n);
  const block = Buffer.alloc(16 * Math.min(Math.max(n, 1), 4096));
  let i = 0;
  while (i < n) {
    const want = Math.min(n - i, block.length / 16);
    const view = block.subarray(0, 16 * want);
    randomFillSync(view);
    for (let j = 0; j < want; j++) {
      const lo = view.readBigUInt64LE(16 * j);
      const hi = view.readBigUInt64LE(16 * j + 8);
      const v = ((hi << 64n) | lo) & LOW127;
      if (v !== P127) out[i++] = v; // reject p itself (the only 127-bit value ≥ p)
    }
  }
  return out;
}

/**
 * A uniform random field element from the OS CSPRNG: 127 random bits, rejected and redrawn when
 * equal to p (so there is no bias at all).
 * @returns a bigint uniform in [0, p).
 * @example
 * ```ts
 * const r = fRandom();
 * ```
 */
export function fRandom(): bigint {
  return _randomElements(1)[0] as bigint;
}

/**
 * `n` independent uniform random field elements (see {@link fRandom}).
 * @param n - count, 0 ≤ n ≤ 2^24.
 * @returns an array of n bigints in [0, p).
 * @throws {@link InvalidArgumentError} if `n` is not an integer in range.
 * @example
 * ```ts
 * const mask = fRandomVector(100);
 * ```
 */
export function fRandomVector(n: number): bigint[] {
  _checkCount(n, 'n', 0, FIELD_MAX_VECTOR_LENGTH);
  return _randomElements(n);
}

function checkVecPair(a: unknown, b: unknown): [bigint[], bigint[]] {
  const x = _checkElementVector(a, 'a');
  const y = _checkElementVector(b, 'b');
  if (x.length !== y.length) {
    throw new InvalidArgumentError(`"a" and "b" expected the same length, got ${x.length} and ${y.length}`);
  }
  return [x, y];
}

/**
 * Element-wise field addition into a new array.
 * @param a - field elements.
 * @param b - field elements, same length.
 * @returns a fresh array of (a[i] + b[i]) mod p.
 * @throws {@link InvalidArgumentError} for non-arrays, non-canonical elements or differing lengths.
 * @example
 * ```ts
 * fVecAdd([1n, 2n], [3n, 4n]); // [4n, 6n]
 * ```
 */
export function fVecAdd(a: readonly bigint[], b: readonly bigint[]): bigint[] {
  const [x, y] = checkVecPair(a, b);
  return x.map((v, i) => _add(v, y[i] as bigint));
}

/**
 * Element-wise field addition in place (`a ← a + b`).
 * @param a - accumulator, modified.
 * @param b - field elements, same length.
 * @returns `a`.
 * @throws {@link InvalidArgumentError} for non-arrays, non-canonical elements or differing lengths.
 * @example
 * ```ts
 * fVecAddInPlace(total, share);
 * ```
 */
export function fVecAddInPlace(a: bigint[], b: readonly bigint[]): bigint[] {
  const [x, y] = checkVecPair(a, b);
  for (let i = 0; i < x.length; i++) a[i] = _add(x[i] as bigint, y[i] as bigint);
  return a;
}

/**
 * Element-wise field subtraction into a new array.
 * @param a - field elements.
 * @param b - field elements, same length.
 * @returns a fresh array of (a[i] − b[i]) mod p.
 * @throws {@link InvalidArgumentError} for non-arrays, non-canonical elements or differing lengths.
 * @example
 * ```ts
 * fVecSub([1n], [2n]); // [P127 - 1n]
 * ```
 */
export function fVecSub(a: readonly bigint[], b: readonly bigint[]): bigint[] {
  const [x, y] = checkVecPair(a, b);
  return x.map((v, i) => _sub(v, y[i] as bigint));
}

/**
 * Multiply every element by a scalar.
 * @param a - field elements.
 * @param c - a field element.
 * @returns a fresh array of (c · a[i]) mod p.
 * @throws {@link InvalidArgumentError} for non-canonical input.
 * @example
 * ```ts
 * fVecScale([1n, 2n], 3n); // [3n, 6n]
 * ```
 */
export function fVecScale(a: readonly bigint[], c: bigint): bigint[] {
  const x = _checkElementVector(a, 'a');
  const k = _checkElement(c, 'c');
  return x.map((v) => _mul(v, k));
}
