/**
 * Vectors over the ring Z_(2^64), stored without per-element BigInt.
 *
 * A {@link Ring64Vector} is a `Uint32Array` of length 2L holding L elements as (lo, hi) pairs of
 * 32-bit words, low word first. On little-endian hosts (every platform Node supports in
 * practice; checked at load) its bytes are exactly the bytes of a little-endian
 * `BigUint64Array`, which is the wire format: {@link r64ToBytes} / {@link r64FromBytes} are
 * zero-copy views.
 *
 * Addition and subtraction use plain Number arithmetic with an explicit carry/borrow; a million
 * elements add in a few milliseconds.
 *
 * @module
 */
import { randomFillSync, timingSafeEqual } from 'node:crypto';
import { endianness } from 'node:os';
import { InvalidArgumentError } from '../../errors';
import { MAX_VECTOR_LENGTH, _apart, _checkCount, _guardArg, _isU32, _isU8, _isPlainArray, _describe } from './_checks';

if (endianness() !== 'LE') {
  // The byte layout (and thus the wire format) assumes a little-endian host.
  throw new Error('coupler: ring64 vectors require a little-endian host');
}

/**
 * A vector of L elements of Z_(2^64): a `Uint32Array` of length 2L, element i is
 * `v[2i] + v[2i+1]·2^32`. Its bytes equal those of a little-endian `BigUint64Array`.
 */
export type Ring64Vector = Uint32Array;

const MASK64 = (1n << 64n) - 1n;

/**
 * Validate that `v` is a genuine ring-2^64 vector (an even-length Uint32Array).
 * @internal
 */
export function _checkR64(v: unknown, name: string): Ring64Vector {
  if (!_isU32(v)) throw new InvalidArgumentError(`"${name}" expected a Ring64Vector (Uint32Array), got ${_describe(v)}`);
  if ((v.length & 1) !== 0) throw new InvalidArgumentError(`"${name}" expected an even number of 32-bit words, got ${v.length}`);
  return v;
}

function checkPair(a: unknown, b: unknown): [Ring64Vector, Ring64Vector] {
  const x = _checkR64(a, 'a');
  const y = _checkR64(b, 'b');
  if (x.length !== y.length) {
    throw new InvalidArgumentError(`"a" and "b" expected the same length, got ${x.length / 2} and ${y.length / 2} elements`);
  }
  return [x, y];
}

/**
 * A vector of `L` zeros.
 * @param L - number of elements, 0 ≤ L ≤ 2^27.
 * @returns a fresh zero vector.
 * @throws {@link InvalidArgumentError} if `L` is not an integer in range.
 * @example
 * ```ts
 * const acc = r64Zeros(1000);
 * ```
 */
export function r64Zeros(L: number): Ring64Vector {
  _checkCount(L, 'L', 0, MAX_VECTOR_LENGTH);
  return new Uint32Array(2 * L);
}

/**
 * A vector of `L` independent elements uniform in Z_(2^64), from the operating system's CSPRNG
 * (`crypto.randomFillSync`). Every 64-bit word is uniform because every byte is.
 * @param L - number of elements, 0 ≤ L ≤ 2^27.
 * @returns a fresh random vector.
 * @throws {@link InvalidArgumentError} if `L` is not an integer in range.
 * @example
 * ```ts
 * const mask = r64Random(x.length / 2);
 * ```
 */
export function r64Random(L: number): Ring64Vector {
  _checkCount(L, 'L', 0, MAX_VECTOR_LENGTH);
  const v = new Uint32Array(2 * L);
  // randomFillSync accepts at most 2^31 − 1 bytes per call; 2^27 elements is 2^30 bytes.
  if (L > 0) randomFillSync(v);
  return v;
}

/** A signed 32-bit view of the same words (int32 arithmetic stays in V8's fast integer paths). */
function i32(v: Uint32Array): Int32Array {
  return new Int32Array(v.buffer, v.byteOffset, v.length);
}

/**
 * Core: a += b, no checks. Branch-free carry (Hacker's Delight 2–13): the carry out of the low
 * words is the top bit of (x & y) | ((x | y) & ~s), where s is the 32-bit sum.
 * @internal
 */
export function _r64AddInPlace(a: Uint32Array, b: Uint32Array): void {
  const x = i32(a);
  const y = i32(b);
  const n = x.length;
  for (let i = 0; i < n; i += 2) {
    const xl = x[i] as number;
    const yl = y[i] as number;
    const s = (xl + yl) | 0;
    x[i] = s;
    x[i + 1] = ((x[i + 1] as number) + (y[i + 1] as number) + (((xl & yl) | ((xl | yl) & ~s)) >>> 31)) | 0;
  }
}

/**
 * Core: a -= b, no checks. Branch-free borrow: the top bit of (~x & y) | ((~x | y) & d), where d
 * is the 32-bit difference.
 * @internal
 */
export function _r64SubInPlace(a: Uint32Array, b: Uint32Array): void {
  const x = i32(a);
  const y = i32(b);
  const n = x.length;
  for (let i = 0; i < n; i += 2) {
    const xl = x[i] as number;
    const yl = y[i] as number;
    const d = (xl - yl) | 0;
    x[i] = d;
    x[i + 1] = ((x[i + 1] as number) - (y[i + 1] as number) - (((~xl & yl) | ((~xl | yl) & d)) >>> 31)) | 0;
  }
}

/**
 * `a ← a + b (mod 2^64)` element-wise, in place.
 * @param a - accumulator, modified.
 * @param b - addend, same length.
 * @returns `a`.
 * @throws {@link InvalidArgumentError} if either is not a Ring64Vector or the lengths differ.
 * @example
 * ```ts
 * r64AddInPlace(total, share);
 * ```
 */
export function r64AddInPlace(a: Ring64Vector, b: Ring64Vector): Ring64Vector {
  const [x, y] = checkPair(a, b);
  _r64AddInPlace(x, _apart(x, y));
  return x;
}

/**
 * Bytes per block of {@link r64AddBytesInPlace}: every addend is added 64 KiB at a time (an
 * unaligned one copied into an aligned buffer first), so the accumulator's block stays in cache
 * across the addends.
 */
const ADD_BLOCK_BYTES = 64 * 1024;
/** Most addends {@link r64AddBytesInPlace} adds in one pass over the accumulator. */
export const ADD_MAX_PER_PASS = 4;
/** 2^-32. */
const INV_TWO32 = 1 / 4294967296;
/** The aligned buffers unaligned addends are copied through (one per addend of a pass). */
const addScratch: Uint32Array[] = [];

/**
 * Core: a += b + c + d + e, no checks, in one pass (the low words' sum is below 5 · 2^32, exact in
 * a double; its carry is at most 4; Uint32Array stores reduce mod 2^32).
 * @internal
 */
export function _r64Add4InPlace(a: Uint32Array, b: Uint32Array, c: Uint32Array, d: Uint32Array, e: Uint32Array): void {
  const n = a.length;
  for (let i = 0; i < n; i += 2) {
    const lo = (a[i] as number) + (b[i] as number) + (c[i] as number) + (d[i] as number) + (e[i] as number);
    a[i] = lo;
    a[i + 1] = (a[i + 1] as number) + (b[i + 1] as number) + (c[i + 1] as number) + (d[i + 1] as number) + (e[i + 1] as number) + Math.floor(lo * INV_TWO32);
  }
}

/**
 * Core: a −= b + c + d + e, no checks, in one pass (the low words' difference is above −4 · 2^32,
 * exact in a double; its borrow is at least −4; Uint32Array stores reduce mod 2^32).
 * @internal
 */
export function _r64Sub4InPlace(a: Uint32Array, b: Uint32Array, c: Uint32Array, d: Uint32Array, e: Uint32Array): void {
  const n = a.length;
  for (let i = 0; i < n; i += 2) {
    const lo = (a[i] as number) - (b[i] as number) - (c[i] as number) - (d[i] as number) - (e[i] as number);
    a[i] = lo;
    a[i + 1] = (a[i + 1] as number) - (b[i + 1] as number) - (c[i + 1] as number) - (d[i + 1] as number) - (e[i + 1] as number) + Math.floor(lo * INV_TWO32);
  }
}

/**
 * `a ← a + b₁ + b₂ + … (mod 2^64)` element-wise, in place, with every addend given as its
 * little-endian bytes (8 per element) at any byte offset — byte strings as received, whose offset
 * in their message need not be a multiple of 4. The addends are added 64 KiB at a time, four in one
 * pass over the accumulator; an aligned one through a view, an unaligned one copied into a reused
 * aligned buffer first (no allocation, where `r64AddInPlace(a, r64FromBytes(b))` allocates and
 * copies each whole addend that is not aligned).
 * @param a - accumulator, modified.
 * @param addends - one byte string, or several, each of exactly 8 bytes per element of `a`.
 * @returns `a`.
 * @throws {@link InvalidArgumentError} if `a` is not a Ring64Vector, an addend is not a
 * Uint8Array of the right length (naming its index); nothing is added then.
 * @example
 * ```ts
 * r64AddBytesInPlace(total, [pieceFromA, pieceFromB]); // byte strings decoded from messages
 * ```
 */
export function r64AddBytesInPlace(a: Ring64Vector, addends: Uint8Array | readonly Uint8Array[]): Ring64Vector {
  const x = _checkR64(a, 'a');
  const list: readonly unknown[] = _isU8(addends) ? [addends] : _isPlainArray(addends) ? (addends as readonly unknown[]) : [addends];
  const bytes: Uint8Array[] = [];
  for (let k = 0; k < list.length; k++) {
    const b = list[k];
    const name = _isU8(addends) ? '"addends"' : `"addends" element ${k}`;
    if (!_isU8(b)) throw new InvalidArgumentError(`${name} expected a Uint8Array, got ${_describe(b)}`);
    if (b.length !== x.byteLength) throw new InvalidArgumentError(`${name} expected ${x.byteLength} bytes (8 per element of "a"), got ${b.length}`);
    // An addend in the accumulator's own memory would be read after earlier addends (or its own
    // block) changed it: add a copy (review25 R25-2).
    bytes.push(_apart(x, b, false));
  }
  while (addScratch.length < ADD_MAX_PER_PASS) addScratch.push(new Uint32Array(ADD_BLOCK_BYTES / 4));
  const views: Uint32Array[] = new Array<Uint32Array>(ADD_MAX_PER_PASS);
  for (let at = 0; at < x.byteLength; at += ADD_BLOCK_BYTES) {
    const end = Math.min(x.byteLength, at + ADD_BLOCK_BYTES);
    const acc = x.subarray(at / 4, end / 4);
    for (let k = 0; k < bytes.length; k += ADD_MAX_PER_PASS) {
      const m = Math.min(ADD_MAX_PER_PASS, bytes.length - k);
      for (let j = 0; j < m; j++) {
        const b = bytes[k + j]!;
        if ((b.byteOffset + at) % 4 === 0) {
          views[j] = new Uint32Array(b.buffer, b.byteOffset + at, (end - at) / 4);
        } else {
          const scratch = addScratch[j]!;
          new Uint8Array(scratch.buffer, 0, end - at).set(b.subarray(at, end));
          views[j] = end - at === ADD_BLOCK_BYTES ? scratch : scratch.subarray(0, (end - at) / 4);
        }
      }
      if (m === ADD_MAX_PER_PASS) _r64Add4InPlace(acc, views[0]!, views[1]!, views[2]!, views[3]!);
      else for (let j = 0; j < m; j++) _r64AddInPlace(acc, views[j]!);
    }
  }
  return x;
}

/**
 * `a ← a − b (mod 2^64)` element-wise, in place.
 * @param a - minuend, modified.
 * @param b - subtrahend, same length.
 * @returns `a`.
 * @throws {@link InvalidArgumentError} if either is not a Ring64Vector or the lengths differ.
 * @example
 * ```ts
 * r64SubInPlace(last, share); // last share = x − Σ others
 * ```
 */
export function r64SubInPlace(a: Ring64Vector, b: Ring64Vector): Ring64Vector {
  const [x, y] = checkPair(a, b);
  _r64SubInPlace(x, _apart(x, y));
  return x;
}

/**
 * `a + b (mod 2^64)` into a new vector.
 * @param a - first operand.
 * @param b - second operand, same length.
 * @returns a fresh vector.
 * @throws {@link InvalidArgumentError} if either is not a Ring64Vector or the lengths differ.
 * @example
 * ```ts
 * const s = r64Add(x, y);
 * ```
 */
export function r64Add(a: Ring64Vector, b: Ring64Vector): Ring64Vector {
  const [x, y] = checkPair(a, b);
  const out = x.slice();
  _r64AddInPlace(out, y);
  return out;
}

/**
 * `a − b (mod 2^64)` into a new vector.
 * @param a - minuend.
 * @param b - subtrahend, same length.
 * @returns a fresh vector.
 * @throws {@link InvalidArgumentError} if either is not a Ring64Vector or the lengths differ.
 * @example
 * ```ts
 * const d = r64Sub(x, y);
 * ```
 */
export function r64Sub(a: Ring64Vector, b: Ring64Vector): Ring64Vector {
  const [x, y] = checkPair(a, b);
  const out = x.slice();
  _r64SubInPlace(out, y);
  return out;
}

/**
 * Number of elements of a ring vector (half its word count).
 * @param v - a Ring64Vector.
 * @returns L.
 * @throws {@link InvalidArgumentError} if `v` is not a Ring64Vector.
 * @example
 * ```ts
 * r64Length(r64Zeros(3)); // 3
 * ```
 */
export function r64Length(v: Ring64Vector): number {
  return _checkR64(v, 'v').length / 2;
}

/**
 * View little-endian 64-bit words as a ring vector. Zero-copy (the result aliases `bytes`) when
 * `bytes.byteOffset` is a multiple of 4; otherwise the bytes are copied into a fresh, aligned
 * vector. Treat the input as consumed: later writes to either alias the other.
 * @param bytes - 8·L bytes.
 * @returns the vector.
 * @throws {@link InvalidArgumentError} if `bytes` is not a Uint8Array or its length is not a
 * multiple of 8 or exceeds 8·2^27.
 * @example
 * ```ts
 * const share = r64FromBytes(frame.payload);
 * ```
 */
export function r64FromBytes(bytes: Uint8Array): Ring64Vector {
  if (!_isU8(bytes)) throw new InvalidArgumentError(`"bytes" expected a Uint8Array, got ${_describe(bytes)}`);
  if (bytes.length % 8 !== 0) throw new InvalidArgumentError(`"bytes" expected a multiple of 8 bytes, got ${bytes.length}`);
  if (bytes.length / 8 > MAX_VECTOR_LENGTH) {
    throw new InvalidArgumentError(`"bytes" expected at most ${MAX_VECTOR_LENGTH} elements, got ${bytes.length / 8}`);
  }
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const out = new Uint32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * The little-endian bytes of a ring vector, as a zero-copy view (8·L bytes).
 * @param v - a Ring64Vector.
 * @returns a Uint8Array aliasing `v`.
 * @throws {@link InvalidArgumentError} if `v` is not a Ring64Vector.
 * @example
 * ```ts
 * channel.send(r64ToBytes(share));
 * ```
 */
export function r64ToBytes(v: Ring64Vector): Uint8Array {
  const x = _checkR64(v, 'v');
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/**
 * Build a ring vector from BigInts (slow path, for tests and small inputs). Each value is reduced
 * mod 2^64, so negative values give their two's-complement representative.
 * @param values - an array of bigint.
 * @returns a fresh vector.
 * @throws {@link InvalidArgumentError} if `values` is not an array of bigint (naming the index)
 * or is too long.
 * @example
 * ```ts
 * r64FromBigInts([1n, -1n]); // -1n becomes 2^64 − 1
 * ```
 */
export function r64FromBigInts(values: readonly bigint[]): Ring64Vector {
  if (!_isPlainArray(values)) throw new InvalidArgumentError(`"values" expected an array of bigint, got ${_describe(values)}`);
  const L = values.length;
  if (L > MAX_VECTOR_LENGTH) throw new InvalidArgumentError(`"values" expected at most ${MAX_VECTOR_LENGTH} elements, got ${L}`);
  const out = new Uint32Array(2 * L);
  return _guardArg('values', () => {
    for (let i = 0; i < L; i++) {
      const x: unknown = values[i];
      if (typeof x !== 'bigint') throw new InvalidArgumentError(`"values" element ${i} expected a bigint, got ${_describe(x)}`);
      const u = x & MASK64;
      out[2 * i] = Number(u & 0xffffffffn);
      out[2 * i + 1] = Number(u >> 32n);
    }
    return out;
  });
}

/**
 * The elements of a ring vector as BigInts in [0, 2^64) (slow path, for tests).
 * @param v - a Ring64Vector.
 * @returns an array of L bigints.
 * @throws {@link InvalidArgumentError} if `v` is not a Ring64Vector.
 * @example
 * ```ts
 * r64ToBigInts(r64FromBigInts([-1n])); // [18446744073709551615n]
 * ```
 */
export function r64ToBigInts(v: Ring64Vector): bigint[] {
  const x = _checkR64(v, 'v');
  const L = x.length / 2;
  const out = new Array<bigint>(L);
  for (let i = 0; i < L; i++) out[i] = (BigInt(x[2 * i + 1] as number) << 32n) | BigInt(x[2 * i] as number);
  return out;
}

/**
 * Element-wise equality of two ring vectors, in time that depends only on their length.
 * @param a - a Ring64Vector.
 * @param b - a Ring64Vector.
 * @returns true when both have the same length and elements.
 * @throws {@link InvalidArgumentError} if either is not a Ring64Vector.
 * @example
 * ```ts
 * r64Equal(r64Zeros(2), r64Zeros(2)); // true
 * ```
 */
export function r64Equal(a: Ring64Vector, b: Ring64Vector): boolean {
  const x = _checkR64(a, 'a');
  const y = _checkR64(b, 'b');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}
