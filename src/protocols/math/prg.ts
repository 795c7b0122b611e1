/**
 * A cryptographic pseudo-random generator: expand a 32-byte seed into ring or field vectors.
 *
 * Construction (version 1, fixed; changing it breaks interoperability):
 *
 * - key = HKDF-SHA256(ikm = seed, salt = `"coupler/prg/v1"`, info = label ‖ 0x00 ‖ UTF-8(domain),
 *   32 bytes), where label is `"ring64"` for {@link expandSeed}, `"p127"` for
 *   {@link expandSeedField} and `"stream"` for internal users (the share graph). Different domains
 *   and different output types therefore draw from independent keys.
 * - stream = ChaCha20 (RFC 8439 block function, via node:crypto `chacha20`) under that key with an
 *   all-zero 16-byte IV (32-bit block counter 0, 96-bit nonce 0), encrypting zeros. A zero nonce
 *   is safe because every key is used for exactly one stream.
 * - ring64: element i is the little-endian uint64 at stream bytes [8i, 8i+8). Expanding L is a
 *   prefix of expanding L' > L.
 * - p127: 16-byte little-endian chunks, top bit cleared (127 bits), rejected when ≥ p = 2^127 − 1
 *   (probability 2^-127 per draw), so elements are exactly uniform mod p.
 *
 * @module
 */
import { createCipheriv, createHmac, type Cipher } from 'node:crypto';
import { MAX_VECTOR_LENGTH, _checkBytes, _checkCount, _checkString } from './_checks';
import { InvalidArgumentError } from '../../errors';
import { ADD_MAX_PER_PASS, _r64Add4InPlace, _r64AddInPlace, _r64Sub4InPlace, _r64SubInPlace } from './ring64';
import type { Ring64Vector } from './ring64';
import { P127 } from './field';

/** Seed length in bytes for {@link expandSeed} and {@link expandSeedField}. */
export const PRG_SEED_BYTES = 32;
/** Longest accepted domain string (UTF-16 code units). */
export const PRG_MAX_DOMAIN_LENGTH = 256;
/** Largest element count {@link expandSeedField} accepts. */
export const PRG_MAX_FIELD_COUNT = 2 ** 24;

const SALT = Buffer.from('coupler/prg/v1', 'utf8');
const ZERO_IV = Buffer.alloc(16);
const CHUNK = 1 << 16;
const ZEROS = Buffer.alloc(CHUNK);
const LOW127 = (1n << 127n) - 1n;

const ZERO_BYTE = Buffer.from([0]);
const ONE_BYTE = Buffer.from([1]);

/**
 * HKDF-SHA256 (RFC 5869) of the seed to 32 bytes, written out with two HMACs: for one block,
 * extract is PRK = HMAC(salt, seed) and expand is HMAC(PRK, info ‖ 0x01) — the same bytes as
 * `hkdfSync`, at less than half its cost (a sum deals and collects one seed per peer; at small L
 * the derivation was most of the work).
 */
function deriveKey(seed: Uint8Array, label: string, domain: string): Buffer {
  const prk = createHmac('sha256', SALT).update(seed).digest();
  return createHmac('sha256', prk).update(label, 'utf8').update(ZERO_BYTE).update(domain, 'utf8').update(ONE_BYTE).digest();
}

/**
 * A ChaCha20 keystream read in arbitrary pieces. Internal building block (also used by the
 * share graph for seeded shuffles).
 * @internal
 */
export class _ChaChaStream {
  private readonly cipher: Cipher;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  constructor(key: Uint8Array) {
    this.cipher = createCipheriv('chacha20', key, ZERO_IV);
  }

  /** Write the next `out.length` keystream bytes into `out`. */
  fill(out: Uint8Array): void {
    let off = 0;
    while (off < out.length) {
      if (this.pos === this.buf.length) {
        this.buf = this.cipher.update(ZEROS);
        this.pos = 0;
      }
      const take = Math.min(out.length - off, this.buf.length - this.pos);
      out.set(this.buf.subarray(this.pos, this.pos + take), off);
      this.pos += take;
      off += take;
    }
  }

  /** The next 4 keystream bytes as a little-endian uint32. */
  nextU32(): number {
    if (this.buf.length - this.pos < 4) {
      const tmp = new Uint8Array(4);
      this.fill(tmp);
      return ((tmp[0] as number) | ((tmp[1] as number) << 8) | ((tmp[2] as number) << 16) | ((tmp[3] as number) << 24)) >>> 0;
    }
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /**
   * A uniform integer in [0, bound) for 1 ≤ bound ≤ 2^32, by rejection sampling on 32-bit words
   * (no modulo bias).
   */
  uniform(bound: number): number {
    const limit = Math.floor(4294967296 / bound) * bound;
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % bound;
    }
  }
}

/**
 * A keystream for internal users (label `"stream"`), keyed by HKDF from an arbitrary-length seed.
 * @internal
 */
export function _prgStream(seed: Uint8Array, domain: string): _ChaChaStream {
  return new _ChaChaStream(deriveKey(seed, 'stream', domain));
}

/**
 * Expand a seed into `L` pseudo-random elements of Z_(2^64) (see the module notes for the exact
 * construction). Deterministic: the same (seed, L, domain) always gives the same vector; different
 * domains give independent vectors.
 * @param seed - 32 secret random bytes.
 * @param L - number of elements, 0 ≤ L ≤ 2^27.
 * @param domain - a non-empty label (≤ 256 characters) naming the use, e.g. `"share/<session>/<from>/<to>"`.
 * @returns a fresh Ring64Vector.
 * @throws {@link InvalidArgumentError} for a seed that is not 32 bytes, a bad `L` or `domain`.
 * @example
 * ```ts
 * const share = expandSeed(seed, L, `coupler/additive/${sessionId}/${from}->${to}`);
 * ```
 */
export function expandSeed(seed: Uint8Array, L: number, domain: string): Ring64Vector {
  _checkBytes(seed, 'seed', PRG_SEED_BYTES);
  _checkCount(L, 'L', 0, MAX_VECTOR_LENGTH);
  _checkString(domain, 'domain', PRG_MAX_DOMAIN_LENGTH);
  const out = new Uint32Array(2 * L);
  if (L > 0) {
    const cipher = createCipheriv('chacha20', deriveKey(seed, 'ring64', domain), ZERO_IV);
    const bytes = new Uint8Array(out.buffer);
    for (let off = 0; off < bytes.length; off += CHUNK) {
      const len = Math.min(CHUNK, bytes.length - off);
      bytes.set(cipher.update(len === CHUNK ? ZEROS : ZEROS.subarray(0, len)), off);
    }
  }
  return out;
}

/**
 * Add (`op: 'add'`) or subtract (`'sub'`) the expansion of a seed to `target` in place, mod 2^64:
 * the same stream as {@link expandSeed} over `target`'s length, generated 64 KiB at a time, so no
 * vector of the target's size is allocated (what keeps a party's memory a small multiple of its
 * input when it deals or collects seeds). {@link applySeedsInPlace} with one seed.
 * @param target - the ring vector to update.
 * @param seed - 32 secret random bytes.
 * @param domain - the same domain label as {@link expandSeed}.
 * @returns `target`.
 * @throws {@link InvalidArgumentError} for a bad seed or domain.
 */
export function applySeedInPlace(target: Ring64Vector, seed: Uint8Array, domain: string, op: 'add' | 'sub'): Ring64Vector {
  _checkBytes(seed, 'seed', PRG_SEED_BYTES);
  return applySeedsInPlace(target, [seed], domain, op);
}

/**
 * Add (`op: 'add'`) or subtract (`'sub'`) the expansions of several seeds to `target` in place,
 * mod 2^64: what {@link applySeedInPlace} gives seed after seed, in one pass over `target` per four
 * seeds (64 KiB of every seed's stream at a time, added or subtracted together), so a party that
 * deals or collects n − 1 seeds reads and writes its vector ⌈(n − 1)/4⌉ times instead of n − 1.
 * @param target - the ring vector to update.
 * @param seeds - 32 secret random bytes each.
 * @param domain - the same domain label as {@link expandSeed}.
 * @returns `target`.
 * @throws {@link InvalidArgumentError} for a bad seed (naming its index) or domain; nothing is
 *   changed then.
 * @example
 * ```ts
 * applySeedsInPlace(own, seedsDealt, SHARE_DOMAIN, 'sub'); // own = x − Σ PRG(seed)
 * ```
 */
export function applySeedsInPlace(target: Ring64Vector, seeds: readonly Uint8Array[], domain: string, op: 'add' | 'sub'): Ring64Vector {
  if (!Array.isArray(seeds)) throw new InvalidArgumentError('"seeds" must be an array of 32-byte seeds');
  seeds.forEach((seed: unknown, k) => _checkBytes(seed, `seeds[${k}]`, PRG_SEED_BYTES));
  _checkString(domain, 'domain', PRG_MAX_DOMAIN_LENGTH);
  if (!(target instanceof Uint32Array) || target.length % 2 !== 0) throw new InvalidArgumentError('"target" must be a ring vector (a Uint32Array of even length)');
  if (op !== 'add' && op !== 'sub') throw new InvalidArgumentError('"op" must be "add" or "sub"');
  if (target.length === 0 || seeds.length === 0) return target;
  const ciphers = seeds.map((seed) => createCipheriv('chacha20', deriveKey(seed, 'ring64', domain), ZERO_IV));
  // At most 64 KiB at a time, and no more than the target needs (a 64 KiB block for one element
  // cost more than the rest of the call).
  const words = Math.min(CHUNK / 4, target.length);
  const blocks: Uint32Array[] = [];
  const views = new Array<Uint32Array>(ADD_MAX_PER_PASS);
  for (let off = 0; off < target.length; off += words) {
    const n = Math.min(words, target.length - off);
    const t = target.subarray(off, off + n);
    for (let k = 0; k < ciphers.length; k += ADD_MAX_PER_PASS) {
      const m = Math.min(ADD_MAX_PER_PASS, ciphers.length - k);
      for (let j = 0; j < m; j++) {
        const stream = ciphers[k + j]!.update(n * 4 === CHUNK ? ZEROS : ZEROS.subarray(0, n * 4));
        if (stream.byteOffset % 4 === 0) {
          views[j] = new Uint32Array(stream.buffer, stream.byteOffset, n); // the keystream as it came
        } else {
          const block = (blocks[j] ??= new Uint32Array(words));
          new Uint8Array(block.buffer, 0, 4 * n).set(stream);
          views[j] = n === words ? block : block.subarray(0, n);
        }
      }
      if (m === ADD_MAX_PER_PASS) {
        if (op === 'add') _r64Add4InPlace(t, views[0]!, views[1]!, views[2]!, views[3]!);
        else _r64Sub4InPlace(t, views[0]!, views[1]!, views[2]!, views[3]!);
      } else {
        for (let j = 0; j < m; j++) {
          if (op === 'add') _r64AddInPlace(t, views[j]!);
          else _r64SubInPlace(t, views[j]!);
        }
      }
    }
  }
  return target;
}

/**
 * {@link applySeedInPlace} over a vector given in consecutive blocks, in order: `apply` to
 * elements [0, a), then [a, b), … adds (or subtracts) the same expansion as one call over the
 * whole vector would, so the vector need not exist in one piece. @internal
 */
export class _SeedStream {
  readonly #cipher: Cipher;
  readonly #block: Uint32Array;
  readonly #blockBytes: Uint8Array;

  /**
   * @param maxElements - the most elements one {@link apply} call will be given (sizes the scratch; larger calls still work).
   * @throws {@link InvalidArgumentError} for a seed that is not 32 bytes or a bad `domain`.
   */
  constructor(seed: Uint8Array, domain: string, maxElements: number = CHUNK / 8) {
    _checkBytes(seed, 'seed', PRG_SEED_BYTES);
    _checkString(domain, 'domain', PRG_MAX_DOMAIN_LENGTH);
    this.#cipher = createCipheriv('chacha20', deriveKey(seed, 'ring64', domain), ZERO_IV);
    // At most 64 KiB at a time, and no more than the target needs (a 64 KiB block for one element
    // cost more than the rest of the call).
    this.#block = new Uint32Array(Math.max(2, Math.min(CHUNK / 4, 2 * Math.floor(maxElements))));
    this.#blockBytes = new Uint8Array(this.#block.buffer);
  }

  /** target ± the next `target.length / 2` elements of the expansion, in place. */
  apply(target: Ring64Vector, op: 'add' | 'sub'): void {
    if (!(target instanceof Uint32Array) || target.length % 2 !== 0) throw new InvalidArgumentError('"target" must be a ring vector (a Uint32Array of even length)');
    const words = this.#block.length;
    for (let off = 0; off < target.length; off += words) {
      const n = Math.min(words, target.length - off);
      this.#blockBytes.set(this.#cipher.update(n * 4 === CHUNK ? ZEROS : ZEROS.subarray(0, n * 4)));
      const t = target.subarray(off, off + n);
      const b = n === words ? this.#block : this.#block.subarray(0, n);
      if (op === 'add') _r64AddInPlace(t, b);
      else _r64SubInPlace(t, b);
    }
  }
}

/**
 * Expand a seed into `count` pseudo-random elements uniform mod p = 2^127 − 1 (rejection sampling,
 * see the module notes). Deterministic like {@link expandSeed}, and independent of it even for
 * the same domain.
 * @param seed - 32 secret random bytes.
 * @param count - number of elements, 0 ≤ count ≤ 2^24.
 * @param domain - a non-empty label (≤ 256 characters).
 * @returns `count` bigints in [0, p).
 * @throws {@link InvalidArgumentError} for a seed that is not 32 bytes, a bad `count` or `domain`.
 * @example
 * ```ts
 * const coeffs = expandSeedField(seed, 3 * L, 'shamir-coefficients');
 * ```
 */
export function expandSeedField(seed: Uint8Array, count: number, domain: string): bigint[] {
  _checkBytes(seed, 'seed', PRG_SEED_BYTES);
  _checkCount(count, 'count', 0, PRG_MAX_FIELD_COUNT);
  _checkString(domain, 'domain', PRG_MAX_DOMAIN_LENGTH);
  const out = new Array<bigint>(count);
  if (count === 0) return out;
  const stream = new _ChaChaStream(deriveKey(seed, 'p127', domain));
  const block = Buffer.alloc(16 * Math.min(count, 4096));
  let i = 0;
  while (i < count) {
    const want = Math.min(count - i, block.length / 16);
    const view = block.subarray(0, 16 * want);
    stream.fill(view);
    for (let j = 0; j < want; j++) {
      const lo = view.readBigUInt64LE(16 * j);
      const hi = view.readBigUInt64LE(16 * j + 8);
      const v = ((hi << 64n) | lo) & LOW127;
      if (v < P127) out[i++] = v; // else rejected: the next draw continues the stream
    }
  }
  return out;
}
