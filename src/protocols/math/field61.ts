/**
 * The prime field GF(p) for the Mersenne prime p = 2^61 − 1, on typed arrays: no BigInt and no
 * object per element.
 *
 * Representation. A {@link Field61Vector} of L elements is a `Uint32Array` of 2L words; element i
 * is `v[2i] + v[2i+1]·2^32` (low word first, high word < 2^29), always canonical (< p). Its bytes
 * are the little-endian 64-bit integers, which is the wire format: 8 bytes per element, half of
 * GF(2^127 − 1). {@link f61ToBytes} is a zero-copy view; {@link f61FromBytes} checks that every
 * element is below p. Public functions check their arguments (a typed
 * {@link InvalidArgumentError}, naming the first bad element by index, never by value); the
 * `_`-prefixed cores used by Shamir sharing skip the checks.
 *
 * Exact multiplication, with doubles only (53-bit significands). A scalar c < p is split into
 * 16-bit limbs c = c0 + c1·2^16 + c2·2^32 + c3·2^48 (c3 < 2^13); an element a = a0 + a1·2^32
 * (a0 < 2^32, a1 < 2^29). Of the eight limb products a_i·c_k·2^(32i+16k) two lie at or above
 * 2^61: a1·c2 at 2^64 ≡ 2^3 and a1·c3 at 2^80 ≡ 2^19 = 2^3·2^16 (since 2^61 ≡ 1). Hence
 *
 *     a·c ≡ t0 + t1·2^16 + t2·2^32 + t3·2^48   (mod p), with
 *     t0 = a0·c0 + a1·(8c2),  t1 = a0·c1 + a1·(8c3),  t2 = a0·c2 + a1·c0,  t3 = a0·c3 + a1·c1.
 *
 * Every product is < 2^48 (a0·c_k < 2^32·2^16, a1·8c2 < 2^29·2^19, the others smaller), every
 * t_i < 2^49, so all of it is exact in double arithmetic; a linear combination Σ λ_k·y_k adds up
 * to 8 products per t_i (< 2^52) before reducing. Reduction propagates carries with
 * `Math.floor(t·2^-16)` (scaling by a power of two is exact, so is the floor and the remainder
 * t − 2^16·⌊t·2^-16⌋), every intermediate staying below 2^53, and folds the bits at and above 2^61
 * back in with 2^61 ≡ 1; a final comparison maps p itself to 0. Multiplying by a small integer
 * x < 2^20 (the evaluation points 1..n of Shamir dealing) is cheaper: a0·x < 2^52 and a1·x < 2^49
 * directly. Tests compare every operation with a BigInt reference, edge values included.
 *
 * Random elements come from the OS CSPRNG: 64 random bits, the high word masked to 29 bits (so
 * uniform on [0, 2^61)), and the single value p = 2^61 − 1 rejected and redrawn, so there is no
 * modulo bias at all.
 *
 * @module
 */
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import { endianness } from 'node:os';
import { InvalidArgumentError } from '../../errors';
import { MAX_VECTOR_LENGTH, _apart, _checkCount, _guardArg, _isPlainArray, _isU32, _isU8, _describe } from './_checks';

if (endianness() !== 'LE') {
  // The byte layout (and thus the wire format) assumes a little-endian host.
  throw new Error('coupler: field61 vectors require a little-endian host');
}

/** The field modulus p = 2^61 − 1 (a Mersenne prime). */
export const P61: bigint = (1n << 61n) - 1n;

/**
 * A vector of L elements of GF(2^61 − 1): a `Uint32Array` of length 2L, element i is
 * `v[2i] + v[2i+1]·2^32` < p. Its bytes equal those of a little-endian `BigUint64Array`.
 */
export type Field61Vector = Uint32Array;

const TWO32 = 4294967296;
const INV32 = 1 / TWO32;
const TWO29 = 536870912;
const INV29 = 1 / TWO29;
const INV16 = 1 / 65536;
const INV13 = 1 / 8192;
const HI_MAX = 0x1fffffff; // high word of p
const LO_MAX = 0xffffffff; // low word of p
/** Scalars below this multiply through the cheap path (a0·x < 2^52). */
const SMALL = 1 << 20;
/** Products accumulated per t_i before a reduction (8 · 2^49 = 2^52 < 2^53). */
const LAZY = 8;

// ------------------------------------------------------------------------------------------------
// Scalars (bigint), for coefficients: a handful per vector operation, never per element.

/** Scalar a + b mod p for canonical bigints. @internal */
export function _s61Add(a: bigint, b: bigint): bigint {
  const s = a + b;
  return s >= P61 ? s - P61 : s;
}

/** Scalar a − b mod p for canonical bigints. @internal */
export function _s61Sub(a: bigint, b: bigint): bigint {
  const s = a - b;
  return s < 0n ? s + P61 : s;
}

/** Scalar a · b mod p for canonical bigints. @internal */
export function _s61Mul(a: bigint, b: bigint): bigint {
  return (a * b) % P61;
}

/** Scalar inverse of a canonical non-zero bigint (extended Euclid). @internal */
export function _s61Inv(a: bigint): bigint {
  let r0 = P61;
  let r1 = a;
  let s0 = 0n;
  let s1 = 1n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return s0 < 0n ? s0 + P61 : s0;
}

/** Any bigint to its canonical representative. @internal */
export function _s61Reduce(x: bigint): bigint {
  const r = x % P61;
  return r < 0n ? r + P61 : r;
}

/**
 * A scalar split for multiplication: [c0, c1, c2, c3, 8·c2, 8·c3] (16-bit limbs, c3 < 2^13),
 * six entries per scalar starting at `off` in `out`.
 * @internal
 */
export function _f61SplitInto(c: bigint, out: Float64Array, off: number): void {
  const lo = Number(c & 0xffffffffn);
  const hi = Number(c >> 32n);
  const c2 = hi & 0xffff;
  const c3 = hi >>> 16;
  out[off] = lo & 0xffff;
  out[off + 1] = lo >>> 16;
  out[off + 2] = c2;
  out[off + 3] = c3;
  out[off + 4] = 8 * c2;
  out[off + 5] = 8 * c3;
}

/** Split several canonical scalars (see {@link _f61SplitInto}). @internal */
export function _f61Split(cs: readonly bigint[]): Float64Array {
  const out = new Float64Array(6 * cs.length);
  cs.forEach((c, k) => _f61SplitInto(c, out, 6 * k));
  return out;
}

// ------------------------------------------------------------------------------------------------
// Element cores.

/**
 * Store V = lo + hi·2^32 mod p at element position w (word index) of `out`. Requires integers
 * 0 ≤ lo < 2^53 and 0 ≤ hi < 2^53 − 2^22.
 * @internal exported for tests
 */
export function _f61Put(out: Uint32Array, w: number, lo: number, hi: number): void {
  let c = Math.floor(lo * INV32); // < 2^21
  lo -= c * TWO32;
  hi += c; // < 2^53
  c = Math.floor(hi * INV29); // bits at and above 2^61: 2^61 ≡ 1
  hi -= c * TWO29; // < 2^29
  lo += c; // < 2^32 + 2^24
  if (lo >= TWO32) {
    lo -= TWO32;
    hi += 1; // ≤ 2^29
  }
  // Now V' = lo + hi·2^32 ≡ V, 0 ≤ V' < 2^61 + 2^32: subtract p when V' ≥ p.
  if (hi >= HI_MAX) {
    if (hi > HI_MAX) {
      // V' = 2^61 + lo ≡ lo + 1
      hi = 0;
      lo += 1;
      if (lo === TWO32) {
        lo = 0;
        hi = 1;
      }
    } else if (lo === LO_MAX) {
      lo = 0; // V' = p
      hi = 0;
    }
  }
  out[w] = lo;
  out[w + 1] = hi;
}

/**
 * Reduce t0 + t1·2^16 + t2·2^32 + t3·2^48 (non-negative integers, t0 < 2^52 + 2^40 and t1, t2 < 2^52,
 * t3 < 2^50) to (lo, hi) with lo < 2^32 + 2^38, hi < 2^29, written to scratch[0], scratch[1].
 */
function carry(t0: number, t1: number, t2: number, t3: number, scratch: Float64Array): void {
  let c = Math.floor(t0 * INV16);
  const r0 = t0 - c * 65536;
  t1 += c; // < 2^52 + 2^37
  c = Math.floor(t1 * INV16);
  const r1 = t1 - c * 65536;
  t2 += c;
  c = Math.floor(t2 * INV16);
  const r2 = t2 - c * 65536;
  t3 += c; // < 2^50 + 2^37
  c = Math.floor(t3 * INV13); // t3·2^48 = r3·2^48 + c·2^61 ≡ r3·2^48 + c
  const r3 = t3 - c * 8192;
  scratch[0] = r0 + r1 * 65536 + c;
  scratch[1] = r2 + r3 * 65536;
}

/** Core: `a ← a + b` for canonical a and b ≤ p (b = p allowed, for subtraction). @internal */
export function _f61AddInto(out: Uint32Array, a: Uint32Array, b: Uint32Array): void {
  const n = a.length;
  for (let w = 0; w < n; w += 2) {
    let lo = (a[w] as number) + (b[w] as number); // < 2^33
    const c = (lo * INV32) | 0; // carry, 0 or 1
    lo -= c * TWO32;
    let hi = (a[w + 1] as number) + (b[w + 1] as number) + c; // < 2^30
    const top = hi >>> 29; // bit 61: 2^61 ≡ 1
    hi &= HI_MAX;
    lo += top;
    // V ≤ 2p − 1, so the folded value is ≤ p: a carry out of lo (rare) cannot overflow hi.
    if (lo === TWO32) {
      lo = 0;
      hi += 1;
    }
    if (hi === HI_MAX && lo === LO_MAX) {
      lo = 0;
      hi = 0;
    }
    out[w] = lo;
    out[w + 1] = hi;
  }
}

/** Core: out ← a − b (canonical a, b): a + (p − b), where p − b is the bitwise complement within 61 bits. @internal */
export function _f61SubInto(out: Uint32Array, a: Uint32Array, b: Uint32Array): void {
  const n = a.length;
  for (let w = 0; w < n; w += 2) {
    let lo = (a[w] as number) + (LO_MAX - (b[w] as number));
    const c = (lo * INV32) | 0;
    lo -= c * TWO32;
    let hi = (a[w + 1] as number) + (HI_MAX - (b[w + 1] as number)) + c;
    const top = hi >>> 29;
    hi &= HI_MAX;
    lo += top;
    if (lo === TWO32) {
      lo = 0;
      hi += 1;
    }
    if (hi === HI_MAX && lo === LO_MAX) {
      lo = 0;
      hi = 0;
    }
    out[w] = lo;
    out[w + 1] = hi;
  }
}

const scratchA = new Float64Array(2);

/**
 * Core: dst[dOff + i] ← src[sOff + i]·c + add[aOff + i] for i < m (elements), c given split at
 * cs[co..co+5]; `add` may be undefined (nothing added). `dst` may alias `src` or `add` at the same
 * offsets.
 * @internal
 */
export function _f61MulAdd(
  dst: Uint32Array,
  dOff: number,
  src: Uint32Array,
  sOff: number,
  cs: Float64Array,
  co: number,
  add: Uint32Array | undefined,
  aOff: number,
  m: number,
): void {
  const c0 = cs[co] as number;
  const c1 = cs[co + 1] as number;
  const c2 = cs[co + 2] as number;
  const c3 = cs[co + 3] as number;
  const c2x8 = cs[co + 4] as number;
  const c3x8 = cs[co + 5] as number;
  const s = scratchA;
  for (let i = 0; i < m; i++) {
    const sw = 2 * (sOff + i);
    const a0 = src[sw] as number;
    const a1 = src[sw + 1] as number;
    let t0 = a0 * c0 + a1 * c2x8;
    let t2 = a0 * c2 + a1 * c0;
    if (add !== undefined) {
      const aw = 2 * (aOff + i);
      t0 += add[aw] as number;
      t2 += add[aw + 1] as number;
    }
    carry(t0, a0 * c1 + a1 * c3x8, t2, a0 * c3 + a1 * c1, s);
    _f61Put(dst, 2 * (dOff + i), s[0] as number, s[1] as number);
  }
}

/**
 * Core: as {@link _f61MulAdd} for a small integer scalar 0 ≤ x < 2^20 (a0·x < 2^52, a1·x < 2^49).
 * @internal
 */
export function _f61MulAddSmall(
  dst: Uint32Array,
  dOff: number,
  src: Uint32Array,
  sOff: number,
  x: number,
  add: Uint32Array | undefined,
  aOff: number,
  m: number,
): void {
  if (add === undefined) {
    for (let i = 0; i < m; i++) {
      const sw = 2 * (sOff + i);
      _f61Put(dst, 2 * (dOff + i), (src[sw] as number) * x, (src[sw + 1] as number) * x);
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    const sw = 2 * (sOff + i);
    const aw = 2 * (aOff + i);
    _f61Put(dst, 2 * (dOff + i), (src[sw] as number) * x + (add[aw] as number), (src[sw + 1] as number) * x + (add[aw + 1] as number));
  }
}

/** True when a canonical scalar is small enough for {@link _f61MulAddSmall}. @internal */
export function _f61IsSmall(c: bigint): boolean {
  return c < BigInt(SMALL);
}

const scratchC = new Float64Array(2);

/**
 * Core: out[oOff + (e − from)] ← Σ_k c_k · ys[k][e] for elements e in [from, to), with the
 * scalars split in `cs` (six entries each, {@link _f61Split}). Products are accumulated lazily,
 * {@link LAZY} per reduction.
 * @internal
 */
export function _f61Combine(out: Uint32Array, oOff: number, cs: Float64Array, ys: readonly Uint32Array[], from: number, to: number): void {
  const K = ys.length;
  const s = scratchC;
  for (let e = from; e < to; e++) {
    const w = 2 * e;
    let t0 = 0;
    let t1 = 0;
    let t2 = 0;
    let t3 = 0;
    let k = 0;
    for (;;) {
      const end = K - k > LAZY ? k + LAZY : K;
      for (; k < end; k++) {
        const y = ys[k] as Uint32Array;
        const a0 = y[w] as number;
        const a1 = y[w + 1] as number;
        const o = 6 * k;
        const c0 = cs[o] as number;
        const c1 = cs[o + 1] as number;
        t0 += a0 * c0 + a1 * (cs[o + 4] as number);
        t1 += a0 * c1 + a1 * (cs[o + 5] as number);
        t2 += a0 * (cs[o + 2] as number) + a1 * c0;
        t3 += a0 * (cs[o + 3] as number) + a1 * c1;
      }
      carry(t0, t1, t2, t3, s);
      if (k >= K) break;
      // Continue from the partial result (lo < 2^32 + 2^38 at 2^0, hi < 2^29 at 2^32).
      t0 = s[0] as number;
      t2 = s[1] as number;
      t1 = 0;
      t3 = 0;
    }
    _f61Put(out, 2 * (oOff + e - from), s[0] as number, s[1] as number);
  }
}

/** Core: out ← a ⊙ b element-wise (canonical a, b). @internal */
export function _f61MulInto(out: Uint32Array, a: Uint32Array, b: Uint32Array): void {
  const s = scratchA;
  const n = a.length;
  for (let w = 0; w < n; w += 2) {
    const a0 = a[w] as number;
    const a1 = a[w + 1] as number;
    const bl = b[w] as number;
    const bh = b[w + 1] as number;
    const c0 = bl & 0xffff;
    const c1 = bl >>> 16;
    const c2 = bh & 0xffff;
    const c3 = bh >>> 16;
    carry(a0 * c0 + a1 * (8 * c2), a0 * c1 + a1 * (8 * c3), a0 * c2 + a1 * c0, a0 * c3 + a1 * c1, s);
    _f61Put(out, w, s[0] as number, s[1] as number);
  }
}

/** Core: L uniform elements from the OS CSPRNG (mask to 61 bits, reject p). @internal */
export function _f61Random(L: number): Field61Vector {
  const v = new Uint32Array(2 * L);
  // randomFillSync accepts at most 2^31 − 1 bytes per call; 2^27 elements is 2^30 bytes.
  if (L > 0) randomFillSync(v);
  const one = new Uint32Array(2);
  for (let w = 1; w < v.length; w += 2) {
    let hi = (v[w] as number) & HI_MAX;
    // Reject p itself (the only 61-bit value ≥ p); redraw the whole element.
    while (hi === HI_MAX && v[w - 1] === LO_MAX) {
      randomFillSync(one);
      v[w - 1] = one[0] as number;
      hi = (one[1] as number) & HI_MAX;
    }
    v[w] = hi;
  }
  return v;
}

/** Index of the first element ≥ p (or a vector of odd word count: 0), −1 when canonical. @internal */
export function _f61FirstBad(v: Uint32Array): number {
  for (let w = 1; w < v.length; w += 2) {
    const hi = v[w] as number;
    if (hi > HI_MAX || (hi === HI_MAX && v[w - 1] === LO_MAX)) return (w - 1) / 2;
  }
  return -1;
}

/** @internal Validate a canonical Field61Vector (an even-length Uint32Array, every element < p). */
export function _checkF61(v: unknown, name: string, max: number = MAX_VECTOR_LENGTH): Field61Vector {
  if (!_isU32(v)) throw new InvalidArgumentError(`"${name}" expected a Field61Vector (Uint32Array), got ${_describe(v)}`);
  if ((v.length & 1) !== 0) throw new InvalidArgumentError(`"${name}" expected an even number of 32-bit words, got ${v.length}`);
  if (v.length / 2 > max) throw new InvalidArgumentError(`"${name}" expected at most ${max} elements, got ${v.length / 2}`);
  const bad = _f61FirstBad(v);
  if (bad >= 0) throw new InvalidArgumentError(`"${name}" element ${bad} is not a field element in [0, 2^61 − 1)`);
  return v;
}

/** @internal Validate a scalar: a bigint in [0, p). */
export function _checkS61(x: unknown, name: string): bigint {
  if (typeof x !== 'bigint') throw new InvalidArgumentError(`"${name}" expected a field element (bigint), got ${_describe(x)}`);
  if (x < 0n || x >= P61) throw new InvalidArgumentError(`"${name}" expected a field element in [0, 2^61 − 1)`);
  return x;
}

function checkPair(a: unknown, b: unknown): [Field61Vector, Field61Vector] {
  const x = _checkF61(a, 'a');
  const y = _checkF61(b, 'b');
  if (x.length !== y.length) {
    throw new InvalidArgumentError(`"a" and "b" expected the same length, got ${x.length / 2} and ${y.length / 2} elements`);
  }
  return [x, y];
}

// ------------------------------------------------------------------------------------------------
// Public API.

/**
 * True when `x` is a canonical element of GF(2^61 − 1) as a bigint: in [0, p).
 * @param x - anything.
 * @returns whether `x` is a bigint in [0, 2^61 − 1).
 * @example
 * ```ts
 * isField61Element(P61 - 1n); // true
 * ```
 */
export function isField61Element(x: unknown): x is bigint {
  return typeof x === 'bigint' && x >= 0n && x < P61;
}

/**
 * A vector of `L` zeros.
 * @param L - number of elements, 0 ≤ L ≤ 2^27.
 * @returns a fresh zero vector.
 * @throws {@link InvalidArgumentError} if `L` is not an integer in range.
 * @example
 * ```ts
 * const acc = f61Zeros(1000);
 * ```
 */
export function f61Zeros(L: number): Field61Vector {
  _checkCount(L, 'L', 0, MAX_VECTOR_LENGTH);
  return new Uint32Array(2 * L);
}

/**
 * `L` independent uniform field elements from the OS CSPRNG: 61 random bits each, the value p
 * rejected and redrawn (no modulo bias).
 * @param L - number of elements, 0 ≤ L ≤ 2^27.
 * @returns a fresh random vector.
 * @throws {@link InvalidArgumentError} if `L` is not an integer in range.
 * @example
 * ```ts
 * const coefficients = f61Random(1000);
 * ```
 */
export function f61Random(L: number): Field61Vector {
  _checkCount(L, 'L', 0, MAX_VECTOR_LENGTH);
  return _f61Random(L);
}

/**
 * Number of elements of a vector (half its word count).
 * @param v - a Field61Vector.
 * @returns L.
 * @throws {@link InvalidArgumentError} if `v` is not a canonical Field61Vector.
 * @example
 * ```ts
 * f61Length(f61Zeros(3)); // 3
 * ```
 */
export function f61Length(v: Field61Vector): number {
  return _checkF61(v, 'v').length / 2;
}

/**
 * Build a vector from bigints (slow path, for tests and small inputs), each reduced mod p
 * (negative values give their canonical representative).
 * @param values - an array of bigint.
 * @returns a fresh vector.
 * @throws {@link InvalidArgumentError} if `values` is not an array of bigint (naming the index) or is too long.
 * @example
 * ```ts
 * f61FromBigInts([1n, -1n]); // -1n becomes p − 1
 * ```
 */
export function f61FromBigInts(values: readonly bigint[]): Field61Vector {
  if (!_isPlainArray(values)) throw new InvalidArgumentError(`"values" expected an array of bigint, got ${_describe(values)}`);
  const L = values.length;
  if (L > MAX_VECTOR_LENGTH) throw new InvalidArgumentError(`"values" expected at most ${MAX_VECTOR_LENGTH} elements, got ${L}`);
  const out = new Uint32Array(2 * L);
  return _guardArg('values', () => {
    for (let i = 0; i < L; i++) {
      const x: unknown = values[i];
      if (typeof x !== 'bigint') throw new InvalidArgumentError(`"values" element ${i} expected a bigint, got ${_describe(x)}`);
      const r = _s61Reduce(x);
      out[2 * i] = Number(r & 0xffffffffn);
      out[2 * i + 1] = Number(r >> 32n);
    }
    return out;
  });
}

/**
 * The elements as bigints in [0, p) (slow path, for tests).
 * @param v - a Field61Vector.
 * @returns an array of L bigints.
 * @throws {@link InvalidArgumentError} if `v` is not a canonical Field61Vector.
 * @example
 * ```ts
 * f61ToBigInts(f61FromBigInts([-1n])); // [2305843009213693950n]
 * ```
 */
export function f61ToBigInts(v: Field61Vector): bigint[] {
  const x = _checkF61(v, 'v');
  const L = x.length / 2;
  const out = new Array<bigint>(L);
  for (let i = 0; i < L; i++) out[i] = (BigInt(x[2 * i + 1] as number) << 32n) | BigInt(x[2 * i] as number);
  return out;
}

/**
 * The little-endian bytes of a vector (8 per element), as a zero-copy view.
 * @param v - a Field61Vector.
 * @returns a Uint8Array aliasing `v`.
 * @throws {@link InvalidArgumentError} if `v` is not a canonical Field61Vector.
 * @example
 * ```ts
 * await group.send(peer, round, { y: f61ToBytes(share) });
 * ```
 */
export function f61ToBytes(v: Field61Vector): Uint8Array {
  const x = _checkF61(v, 'v');
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/**
 * View little-endian 64-bit words as a vector, checking that every element is below p. Zero-copy
 * (the result aliases `bytes`) when `bytes.byteOffset` is a multiple of 4, else copied.
 * @param bytes - 8·L bytes.
 * @returns the vector.
 * @throws {@link InvalidArgumentError} if `bytes` is not a Uint8Array, its length is not a multiple
 * of 8 or exceeds 8·2^27, or an element is ≥ p (named by index).
 * @example
 * ```ts
 * const share = f61FromBytes(message.y);
 * ```
 */
export function f61FromBytes(bytes: Uint8Array): Field61Vector {
  if (!_isU8(bytes)) throw new InvalidArgumentError(`"bytes" expected a Uint8Array, got ${_describe(bytes)}`);
  if (bytes.length % 8 !== 0) throw new InvalidArgumentError(`"bytes" expected a multiple of 8 bytes, got ${bytes.length}`);
  if (bytes.length / 8 > MAX_VECTOR_LENGTH) {
    throw new InvalidArgumentError(`"bytes" expected at most ${MAX_VECTOR_LENGTH} elements, got ${bytes.length / 8}`);
  }
  let v: Uint32Array;
  if (bytes.byteOffset % 4 === 0) v = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  else {
    v = new Uint32Array(bytes.length / 4);
    new Uint8Array(v.buffer).set(bytes);
  }
  const bad = _f61FirstBad(v);
  if (bad >= 0) throw new InvalidArgumentError(`"bytes" element ${bad} is not below 2^61 − 1`);
  return v;
}

/**
 * Element-wise addition in place (`a ← a + b mod p`).
 * @param a - accumulator, modified.
 * @param b - addend, same length.
 * @returns `a`.
 * @throws {@link InvalidArgumentError} for non-vectors, non-canonical elements or differing lengths.
 * @example
 * ```ts
 * f61AddInPlace(partial, share);
 * ```
 */
export function f61AddInPlace(a: Field61Vector, b: Field61Vector): Field61Vector {
  const [x, y] = checkPair(a, b);
  _f61AddInto(x, x, _apart(x, y));
  return x;
}

/**
 * Element-wise addition into a new vector.
 * @param a - first operand.
 * @param b - second operand, same length.
 * @returns a fresh vector of (a[i] + b[i]) mod p.
 * @throws {@link InvalidArgumentError} for non-vectors, non-canonical elements or differing lengths.
 * @example
 * ```ts
 * const s = f61Add(x, y);
 * ```
 */
export function f61Add(a: Field61Vector, b: Field61Vector): Field61Vector {
  const [x, y] = checkPair(a, b);
  const out = new Uint32Array(x.length);
  _f61AddInto(out, x, y);
  return out;
}

/**
 * Element-wise subtraction into a new vector.
 * @param a - minuend.
 * @param b - subtrahend, same length.
 * @returns a fresh vector of (a[i] − b[i]) mod p.
 * @throws {@link InvalidArgumentError} for non-vectors, non-canonical elements or differing lengths.
 * @example
 * ```ts
 * const d = f61Sub(x, y);
 * ```
 */
export function f61Sub(a: Field61Vector, b: Field61Vector): Field61Vector {
  const [x, y] = checkPair(a, b);
  const out = new Uint32Array(x.length);
  _f61SubInto(out, x, y);
  return out;
}

/**
 * Element-wise product into a new vector.
 * @param a - first factor.
 * @param b - second factor, same length.
 * @returns a fresh vector of (a[i] · b[i]) mod p.
 * @throws {@link InvalidArgumentError} for non-vectors, non-canonical elements or differing lengths.
 * @example
 * ```ts
 * const sq = f61Mul(x, x);
 * ```
 */
export function f61Mul(a: Field61Vector, b: Field61Vector): Field61Vector {
  const [x, y] = checkPair(a, b);
  const out = new Uint32Array(x.length);
  _f61MulInto(out, x, y);
  return out;
}

/**
 * Multiply every element by a scalar, into a new vector.
 * @param a - a vector.
 * @param c - a scalar, a bigint in [0, p).
 * @returns a fresh vector of (c · a[i]) mod p.
 * @throws {@link InvalidArgumentError} for a non-canonical vector or scalar.
 * @example
 * ```ts
 * f61Scale(f61FromBigInts([1n, 2n]), 3n); // [3n, 6n]
 * ```
 */
export function f61Scale(a: Field61Vector, c: bigint): Field61Vector {
  const x = _checkF61(a, 'a');
  const k = _checkS61(c, 'c');
  const out = new Uint32Array(x.length);
  _f61MulAdd(out, 0, x, 0, _f61Split([k]), 0, undefined, 0, x.length / 2);
  return out;
}

/**
 * Scalar multiply-add in place: `acc ← acc + c·a (mod p)`.
 * @param acc - accumulator, modified.
 * @param c - a scalar, a bigint in [0, p).
 * @param a - a vector of the same length.
 * @returns `acc`.
 * @throws {@link InvalidArgumentError} for non-canonical input or differing lengths.
 * @example
 * ```ts
 * f61MulAddInPlace(secret, lambda, share); // one term of a Lagrange combination
 * ```
 */
export function f61MulAddInPlace(acc: Field61Vector, c: bigint, a: Field61Vector): Field61Vector {
  const [x, y] = checkPair(acc, a);
  const k = _checkS61(c, 'c');
  _f61MulAdd(x, 0, _apart(x, y), 0, _f61Split([k]), 0, x, 0, x.length / 2);
  return x;
}

/**
 * Linear combination Σ_k c_k · v_k of equal-length vectors, reduced once per eight terms.
 * @param coefficients - K ≥ 1 scalars, bigints in [0, p).
 * @param vectors - K vectors of one length.
 * @returns a fresh vector.
 * @throws {@link InvalidArgumentError} for non-canonical input, K = 0, differing counts or lengths.
 * @example
 * ```ts
 * const secret = f61Combine(lambdas, shares);
 * ```
 */
export function f61Combine(coefficients: readonly bigint[], vectors: readonly Field61Vector[]): Field61Vector {
  if (!_isPlainArray(coefficients)) throw new InvalidArgumentError(`"coefficients" expected an array of bigint, got ${_describe(coefficients)}`);
  if (!_isPlainArray(vectors)) throw new InvalidArgumentError(`"vectors" expected an array of Field61Vector, got ${_describe(vectors)}`);
  const { cs, ys } = _guardArg('coefficients', () => {
    if (coefficients.length === 0 || coefficients.length !== vectors.length || coefficients.length > 1024) {
      throw new InvalidArgumentError(`"coefficients" and "vectors" expected 1..1024 entries each, got ${coefficients.length} and ${vectors.length}`);
    }
    const ks = coefficients.map((c, k) => _checkS61(c, `coefficients[${k}]`));
    const vs = vectors.map((v, k) => _checkF61(v, `vectors[${k}]`));
    if (vs.some((v) => v.length !== vs[0]!.length)) throw new InvalidArgumentError('"vectors" expected equal lengths');
    return { cs: _f61Split(ks), ys: vs };
  });
  const L = ys[0]!.length / 2;
  const out = new Uint32Array(2 * L);
  _f61Combine(out, 0, cs, ys, 0, L);
  return out;
}

/**
 * Element-wise equality of two vectors, in time that depends only on their length.
 * @param a - a Field61Vector.
 * @param b - a Field61Vector.
 * @returns true when both have the same length and elements.
 * @throws {@link InvalidArgumentError} if either is not a Uint32Array of even length.
 * @example
 * ```ts
 * f61Equal(f61Zeros(2), f61Zeros(2)); // true
 * ```
 */
export function f61Equal(a: Field61Vector, b: Field61Vector): boolean {
  const x = _checkF61(a, 'a');
  const y = _checkF61(b, 'b');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}
