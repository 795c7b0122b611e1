/**
 * Random linear fingerprints of sums of ring-2^64 vectors, over the prime field GF(2^89 − 1).
 *
 * The sum of n vectors mod 2^64 loses the carries, and a fingerprint must be linear in the
 * *integers* to add up: so a summed vector is carried as (S, κ), the integers
 * V_l = S_l + 2^64·κ_l with S_l ∈ [0, 2^64) the ring sum and κ_l ∈ [0, n) the carry count
 * ({@link r64AddWithCarries}). The fingerprint of V under weights w ∈ GF(P)^L is
 * F_w(V) = Σ_l w_l·V_l mod P, P = 2^89 − 1 (a Mersenne prime). It is linear: for vectors
 * x_1..x_n with integer sum V, Σ_p F_w(x_p) ≡ F_w(V).
 *
 * Soundness: for V' ≠ V with every |V'_l − V_l| < P (guaranteed: both are below n·2^64 ≤ 2^88 for
 * n ≤ 2^24), some V'_l − V_l is a nonzero field element, so for weights uniform in GF(P) and drawn
 * after V' was fixed, Pr[F_w(V') = F_w(V)] = 1/P ≈ 2^-89. (A smaller prime such as 2^61 − 1 is not
 * enough: V'_l = V_l + P would pass every check.) The weights are a ChaCha20 keystream under a
 * seed that nobody may know before V' is fixed.
 *
 * Arithmetic: no BigInt per element. Weights (89 bits) and values (up to 88 bits) are split into
 * four 24-bit limbs held in doubles; the 16 limb products (< 2^48) are summed into seven column
 * accumulators, normalised every few elements so that every partial sum stays below 2^53, and
 * folded into one BigInt at the end.
 *
 * @module
 */
import { InvalidArgumentError } from '../../errors';
import { _prgStream } from './prg';
import type { Ring64Vector } from './ring64';

/** Per-element carry counts: 1, 2 or 4 bytes each, as the number of summed vectors needs. */
export type Carries = Uint8Array | Uint16Array | Uint32Array;

/** The fingerprint field's prime, 2^89 − 1. */
export const FINGERPRINT_PRIME: bigint = (1n << 89n) - 1n;
/** Bytes of a fingerprint on the wire (little-endian, < 2^89). */
export const FINGERPRINT_BYTES = 12;
/** Largest carry count a fingerprinted value may hold (the sum of at most 2^24 vectors). */
export const MAX_CARRY = 2 ** 24 - 1;

const DOMAIN = 'coupler/1 fingerprint weights';
const LIMB = 16777216; // 2^24
const M24 = 0xffffff;
/** Elements per block of weights (3 keystream words each). */
const BLOCK = 4096;
/** Elements between normalisations: 4 products < 2^48 per column per element, so < 2^53 after 7. */
const NORMALISE_EVERY = 6;

/**
 * The fingerprint F_w(V) = Σ_l w_l·V_l mod (2^89 − 1) of V_l = v_l + 2^64·carries_l, with the
 * weights w expanded from `seed` (the same seed gives the same weights for every vector length:
 * weight l depends on l only).
 *
 * @param seed - 32 bytes nobody knew before the fingerprinted values were fixed.
 * @param v - the ring vector (its elements as unsigned integers in [0, 2^64)).
 * @param carries - per element, the multiple of 2^64 to add (each ≤ {@link MAX_CARRY}); absent = 0.
 * @returns the fingerprint, in [0, 2^89 − 1).
 * @throws {@link InvalidArgumentError} for a seed that is not 32 bytes, or carries of another
 *   length or out of range.
 */
export function r64Fingerprint(seed: Uint8Array, v: Ring64Vector, carries?: Carries): bigint {
  const f = new R64FingerprintStream(seed, Math.min(BLOCK, Math.max(v.length / 2, 1)));
  f.update(v, carries);
  return f.digest();
}

/**
 * {@link r64Fingerprint} of a vector given in consecutive blocks, in order: `update` with
 * elements [0, a), then [a, b), … gives the fingerprint of the whole vector, so the vector need
 * not exist in one piece.
 */
export class R64FingerprintStream {
  readonly #stream: ReturnType<typeof _prgStream>;
  readonly #words: Uint32Array;
  readonly #bytes: Uint8Array;
  /** Column accumulators c0..c7 (24-bit limbs) and the elements since the last normalisation. */
  readonly #c = new Float64Array(8);
  #since = 0;
  #done = false;

  /**
   * @param seed - 32 bytes nobody knew before the fingerprinted values were fixed.
   * @param blockElements - elements of weights drawn at a time (at most 4096; fewer for short vectors).
   * @throws {@link InvalidArgumentError} for a seed that is not 32 bytes.
   */
  constructor(seed: Uint8Array, blockElements: number = BLOCK) {
    if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new InvalidArgumentError('"seed" must be 32 bytes');
    this.#stream = _prgStream(seed, DOMAIN);
    this.#words = new Uint32Array(3 * Math.max(1, Math.min(BLOCK, Math.floor(blockElements))));
    this.#bytes = new Uint8Array(this.#words.buffer);
  }

  /**
   * Add the next `v.length / 2` elements (with their carries, when given).
   * @throws {@link InvalidArgumentError} for carries of another length or out of range, or after {@link digest}.
   */
  update(v: Ring64Vector, carries?: Carries): void {
    if (this.#done) throw new InvalidArgumentError('fingerprint stream already digested');
    const L = v.length / 2;
    if (carries !== undefined && carries.length !== L) throw new InvalidArgumentError(`"carries" must have ${L} elements, got ${carries.length}`);
    const words = this.#words;
    const bytes = this.#bytes;
    const per = words.length / 3;
    const col = this.#c;
    let c0 = col[0]!;
    let c1 = col[1]!;
    let c2 = col[2]!;
    let c3 = col[3]!;
    let c4 = col[4]!;
    let c5 = col[5]!;
    let c6 = col[6]!;
    let c7 = col[7]!;
    let since = this.#since;
    for (let start = 0; start < L; start += per) {
      const count = Math.min(per, L - start);
      this.#stream.fill(count === per ? bytes : bytes.subarray(0, count * 12));
      for (let j = 0; j < count; j++) {
        const a = words[3 * j]!;
        const b = words[3 * j + 1]!;
        const c = words[3 * j + 2]!;
        const w0 = a & M24;
        const w1 = (a >>> 24) | ((b & 0xffff) << 8);
        const w2 = (b >>> 16) | ((c & 0xff) << 16);
        const w3 = (c >>> 8) & 0x1ffff;
        const i = start + j;
        const lo = v[2 * i]!;
        const hi = v[2 * i + 1]!;
        const k = carries === undefined ? 0 : carries[i]!;
        if (k > MAX_CARRY) throw new InvalidArgumentError(`carry of element ${i} is above ${MAX_CARRY}`);
        const x0 = lo & M24;
        const x1 = (lo >>> 24) | ((hi & 0xffff) << 8);
        const x2 = (hi >>> 16) | ((k & 0xff) << 16);
        const x3 = k >>> 8;
        c0 += w0 * x0;
        c1 += w0 * x1 + w1 * x0;
        c2 += w0 * x2 + w1 * x1 + w2 * x0;
        c3 += w0 * x3 + w1 * x2 + w2 * x1 + w3 * x0;
        c4 += w1 * x3 + w2 * x2 + w3 * x1;
        c5 += w2 * x3 + w3 * x2;
        c6 += w3 * x3;
        if (++since === NORMALISE_EVERY) {
          since = 0;
          let q = Math.floor(c0 / LIMB);
          c0 -= q * LIMB;
          c1 += q;
          q = Math.floor(c1 / LIMB);
          c1 -= q * LIMB;
          c2 += q;
          q = Math.floor(c2 / LIMB);
          c2 -= q * LIMB;
          c3 += q;
          q = Math.floor(c3 / LIMB);
          c3 -= q * LIMB;
          c4 += q;
          q = Math.floor(c4 / LIMB);
          c4 -= q * LIMB;
          c5 += q;
          q = Math.floor(c5 / LIMB);
          c5 -= q * LIMB;
          c6 += q;
          q = Math.floor(c6 / LIMB);
          c6 -= q * LIMB;
          c7 += q;
        }
      }
    }
    col[0] = c0;
    col[1] = c1;
    col[2] = c2;
    col[3] = c3;
    col[4] = c4;
    col[5] = c5;
    col[6] = c6;
    col[7] = c7;
    this.#since = since;
  }

  /** The fingerprint of everything added, in [0, 2^89 − 1); the stream takes no more updates. */
  digest(): bigint {
    this.#done = true;
    let total = 0n;
    for (let i = 7; i >= 0; i--) total = (total << 24n) + BigInt(this.#c[i]!);
    return reduceP89(total);
  }
}

/** x mod 2^89 − 1 for x ≥ 0 (Mersenne folding). */
function reduceP89(x: bigint): bigint {
  while (x >> 89n !== 0n) x = (x & FINGERPRINT_PRIME) + (x >> 89n);
  return x === FINGERPRINT_PRIME ? 0n : x;
}

/** (a + b) mod 2^89 − 1 for field elements a, b. */
export function fingerprintAdd(a: bigint, b: bigint): bigint {
  return reduceP89(a + b);
}

/** A fingerprint as {@link FINGERPRINT_BYTES} little-endian bytes. */
export function fingerprintToBytes(f: bigint): Uint8Array {
  const out = new Uint8Array(FINGERPRINT_BYTES);
  let x = f;
  for (let i = 0; i < FINGERPRINT_BYTES; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** The fingerprint in `bytes`, or undefined when it is not a field element of the right length. */
export function fingerprintFromBytes(bytes: Uint8Array): bigint | undefined {
  if (bytes.length !== FINGERPRINT_BYTES) return undefined;
  let x = 0n;
  for (let i = FINGERPRINT_BYTES - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!);
  return x < FINGERPRINT_PRIME ? x : undefined;
}

/**
 * acc += v mod 2^64, element by element, counting in `carries` how often each element wrapped:
 * afterwards acc_l + 2^64·carries_l is the integer sum of everything added (starting from acc
 * and carries as given).
 */
export function r64AddWithCarries(acc: Ring64Vector, carries: Carries, v: Ring64Vector): void {
  if (acc.length !== v.length || carries.length !== acc.length / 2) throw new InvalidArgumentError('r64AddWithCarries: lengths differ');
  for (let i = 0, e = 0; i < acc.length; i += 2, e++) {
    const lo = acc[i]! + v[i]!;
    acc[i] = lo;
    const hi = acc[i + 1]! + v[i + 1]! + (lo > 0xffffffff ? 1 : 0);
    acc[i + 1] = hi;
    if (hi > 0xffffffff) carries[e]! += 1;
  }
}

/** Bytes per carry on the wire for sums of `n` vectors: 1 (n ≤ 256), 2 (n ≤ 65 536), else 4. */
export function carryWidth(n: number): 1 | 2 | 4 {
  return n <= 256 ? 1 : n <= 65_536 ? 2 : 4;
}

/** `count` zero carries in the width {@link carryWidth} gives for sums of `n` vectors. */
export function carriesZeros(count: number, n: number): Carries {
  const width = carryWidth(n);
  return width === 1 ? new Uint8Array(count) : width === 2 ? new Uint16Array(count) : new Uint32Array(count);
}

/** Carries as little-endian integers of `width` bytes. */
export function carriesToBytes(carries: Carries, width: 1 | 2 | 4): Uint8Array {
  const out = new Uint8Array(carries.length * width);
  const view = new DataView(out.buffer);
  for (let i = 0; i < carries.length; i++) {
    if (width === 1) out[i] = carries[i]!;
    else if (width === 2) view.setUint16(2 * i, carries[i]!, true);
    else view.setUint32(4 * i, carries[i]!, true);
  }
  return out;
}

/**
 * Carries from bytes, into `out` at `offset` when given; undefined when the length is not
 * `count·width` or a carry exceeds `max` (nothing is written then).
 */
export function carriesFromBytes(bytes: Uint8Array, count: number, width: 1 | 2 | 4, max: number, out?: Carries, offset = 0): Carries | undefined {
  if (bytes.length !== count * width) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = (i: number): number => (width === 1 ? bytes[i]! : width === 2 ? view.getUint16(2 * i, true) : view.getUint32(4 * i, true));
  for (let i = 0; i < count; i++) if (read(i) > max) return undefined;
  const target = out ?? (width === 1 ? new Uint8Array(count) : width === 2 ? new Uint16Array(count) : new Uint32Array(count));
  for (let i = 0; i < count; i++) target[offset + i] = read(i);
  return target;
}
