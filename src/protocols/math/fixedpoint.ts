/**
 * Fixed-point encoding of {@link SumInput}s into ring-2^64 vectors, GF(2^61 − 1) vectors or
 * GF(2^127 − 1) vectors, and decoding of sums back into the inputs' structure.
 *
 * Encoding of one element x (f = fractional bits):
 * - float (`number`): X = round-half-even(x·2^f), computed with Number arithmetic only and
 *   written as a two's-complement 64-bit word pair (ring64), as the word pair of X mod p (p61:
 *   negative X becomes p + X, the centred lift, still with Number arithmetic only) or as a bigint
 *   reduced mod p (p127).
 * - int (`bigint`): X = x exactly (not scaled: the shape says which entries are ints).
 * - decimal (string / BigNumber): X = x·10^d exactly (d = `decimalPlaces`, default 4), via
 *   bignumber.js; a decimal with more than d places is refused rather than rounded, so decimal
 *   sums are exact: 10.01 + 10.01 decodes to "20.02".
 *
 * Safety inequality (§7 of the protocol design): every party's |x| ≤ B, so
 * |Σ X| ≤ n·B·S + n/2 with S = max(2^f, 10^d), which must stay below M/2 to decode the signed
 * representative. We require log2 M ≥ log2 n + log2 B + log2 S + 2, i.e. exactly n·B·S·4 ≤ M
 * (M = 2^64, 2^61 − 1 or 2^127 − 1), evaluated with exact integer arithmetic ({@link fitsModulus}
 * asks without throwing). Every int or decimal element is refused when |x| > B, so the inequality
 * also keeps int and decimal sums exact in the smaller field. With the default d = 4, S = 2^f for
 * every f ≥ 14, so decimals cost nothing extra.
 *
 * Floats and 2^53: no extra limit is needed and there is no separate BigInt path. For a double x,
 * x·2^f is exact (a power-of-two scaling), round-half-even of it is exact (every double ≥ 2^52
 * is already an integer), and the split into words, hi = ⌊X·2^-32⌋ and lo = X − hi·2^32, is
 * exact for every integer-valued double of magnitude below 2^64. So the float encoding is the exact
 * round(x·2^f) of the input double, whatever B·2^f is. Only decoding can round: a float sum
 * whose fixed-point magnitude exceeds 2^53 is returned as the nearest double (one correct
 * rounding, as `hi·2^32 + lo` is a single addition of exact terms). Use int or decimal inputs
 * when the sum must be exact beyond 53 bits.
 *
 * @module
 */
import BigNumber from 'bignumber.js';
import { ErrorCode, InvalidArgumentError, ValueError } from '../../errors';
import { MAX_VECTOR_LENGTH, _guard, _isBigIntTypedArray, _isF64, _isNumberTypedArray, _isPlainArray, _isProxy, _describe } from './_checks';
import { _checkR64, type Ring64Vector } from './ring64';
import { P127, _checkElementVector } from './field';
import { P61, _checkF61, type Field61Vector } from './field61';
import {
  DEFAULT_MAX_ELEMENTS,
  _rawEntries,
  assertShape,
  type Shape,
  type ShapeEntry,
  type SumInput,
  type SumOutput,
  type SumOutputField,
} from './values';

/** Default number of fractional bits f. */
export const DEFAULT_FRACTIONAL_BITS = 16;
/** Default bound B on |x| (2^31). */
export const DEFAULT_BOUND = 2 ** 31;
/** Largest accepted number of fractional bits (a double has 52 fraction bits). */
export const MAX_FRACTIONAL_BITS = 52;
/** Default decimal places d of decimal inputs (scaled by 10^d). */
export const DEFAULT_DECIMAL_PLACES = 4;
/** Most decimal places accepted. */
export const MAX_DECIMAL_PLACES = 30;
/** Largest accepted decimal string (characters). */
export const MAX_DECIMAL_LENGTH = 1024;

/**
 * Which modulus a vector lives in: the ring Z_(2^64), the field GF(2^61 − 1) (typed arrays, 8
 * bytes per element), or the field GF(2^127 − 1) (bigint, 16 bytes per element).
 */
export type Modulus = 'ring64' | 'p61' | 'p127';

/** Parameters of the fixed-point encoding. All parties must use the same values. */
export interface EncodingParams {
  /** f: fractional bits, an integer 0..52. Default {@link DEFAULT_FRACTIONAL_BITS} (16). */
  fractionalBits?: number;
  /** B: every party's inputs satisfy |x| ≤ B (B > 0). Default {@link DEFAULT_BOUND} (2^31). */
  bound?: number | bigint;
  /** n: number of parties whose inputs are summed (≥ 1). */
  parties: number;
  /** The modulus M the encoding lives in. */
  modulus: Modulus;
  /** Cap on the total number of elements of an input. Default 2^24. */
  maxElements?: number;
  /** d: decimal inputs are scaled by 10^d exactly; more places are refused. Default 4. */
  decimalPlaces?: number;
}

/** {@link EncodingParams} with defaults filled in and checked. */
export interface ResolvedEncodingParams {
  /** f: floats are scaled by 2^f and rounded half to even. */
  readonly fractionalBits: number;
  /** B: every input element must satisfy |x| ≤ B. */
  readonly bound: number | bigint;
  /** n: the number of parties whose inputs are added. */
  readonly parties: number;
  /** The ring or field the encoded values live in. */
  readonly modulus: Modulus;
  /** Largest total number of elements accepted in one input. */
  readonly maxElements: number;
  /** d: exact decimals are scaled by 10^d. */
  readonly decimalPlaces: number;
}

const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32;
/**
 * 1.5 · 2^52: for |y| ≤ 2^51, `(y + ROUND_MAGIC) − ROUND_MAGIC` is y rounded half to even (the sum
 * lies in [2^52, 2^53), where doubles are exactly the integers, and IEEE addition rounds half to
 * even; the subtraction is exact).
 */
const ROUND_MAGIC = 6755399441055744;
/** Largest |x · 2^f| for which {@link ROUND_MAGIC} rounds exactly: 2^51. */
const ROUND_MAGIC_LIMIT = 2 ** 51;
const TWO64 = 1n << 64n;
const HALF_P = (P127 - 1n) / 2n;

/** Exact-decimal BigNumber constructor, isolated from the caller's global BigNumber config. */
const BN = BigNumber.clone({
  DECIMAL_PLACES: 64,
  ROUNDING_MODE: BigNumber.ROUND_HALF_EVEN,
  EXPONENTIAL_AT: 1e9,
  RANGE: 1e9,
  POW_PRECISION: 0,
});

const DECIMAL_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function unsafe(message: string): ValueError {
  return new ValueError(ErrorCode.PARAMETERS_UNSAFE, message);
}

/** x = m·2^k exactly, for a finite positive double. */
function dyadic(x: number): { m: bigint; k: number } {
  let k = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    k--;
  }
  return { m: BigInt(x), k };
}

function describeBound(B: number | bigint): string {
  return typeof B === 'bigint' ? `${B}n` : String(B);
}

/**
 * Check encoding parameters and fill in defaults. Refuses (exactly) when
 * log2 M < log2 n + log2 B + f + 2, i.e. when n·B·2^(f+2) > M, with M = 2^64 for `'ring64'`,
 * M = 2^61 − 1 for `'p61'` and M = 2^127 − 1 for `'p127'`. Parameters are public, so the message
 * includes them.
 * @param params - the parameters.
 * @returns the resolved parameters.
 * @throws {@link ValueError} with code `PARAMETERS_UNSAFE` for: f not an integer in 0..52, n not
 * an integer ≥ 1, B not a finite number > 0 or a bigint > 0, an unknown modulus, a bad
 * `maxElements`, or a modulus too small for n, B and f.
 * @throws {@link InvalidArgumentError} if `params` is not an object.
 * @example
 * ```ts
 * checkParams({ parties: 5, modulus: 'ring64' }); // f = 16, B = 2^31: 3 + 31 + 16 + 2 ≤ 64
 * ```
 */
export function checkParams(params: EncodingParams): ResolvedEncodingParams {
  // Only parameter objects of _trustedParams are ever in CHECKED (a WeakMap lookup runs no code of
  // the argument's, whatever it is).
  const checked = CHECKED.get(params);
  if (checked !== undefined) return checked;
  const resolved = resolveParams(params);
  checkBudget(resolved, 1n << BigInt(resolved.fractionalBits), 'f', String(resolved.fractionalBits));
  if (TRUSTED.has(params)) CHECKED.set(params, resolved);
  return resolved;
}

/**
 * Parameter objects the library built itself (frozen, plain data properties, see
 * {@link _trustedParams}), and what {@link checkParams} resolved for each: a run checks its
 * parameters three times (its own check, the encoder's and the decoder's context), and the sums
 * reuse one object for every run with the same options, so the check — BigInt arithmetic, a
 * Proxy test, guarded reads — runs once per parameter set instead of three times per run.
 */
const TRUSTED = new WeakSet<object>();
const CHECKED = new WeakMap<object, ResolvedEncodingParams>();

/**
 * @internal Freeze `params` — a plain object of data properties the caller built itself — and
 * let {@link checkParams} remember what it resolves for it (a refused one is checked, and refused,
 * every time). Never for a caller's object: a getter could answer differently later.
 */
export function _trustedParams<P extends EncodingParams>(params: P): Readonly<P> {
  TRUSTED.add(Object.freeze(params));
  return params;
}

/**
 * Whether the safety inequality n·B·S·4 ≤ M holds for `params.modulus` — the test
 * {@link checkParams} applies, without throwing for it: with S = 2^f (floats and ints), and with
 * S = 10^d too when `shape` has decimal entries or when no shape is given (any input). Used to
 * pick the smallest safe field.
 * @param params - the parameters (validated as by {@link checkParams}).
 * @param shape - the input's shape, if known.
 * @returns true when every input with |x| ≤ B (of that shape) sums without wrapping around.
 * @throws {@link ValueError} `PARAMETERS_UNSAFE` for parameters {@link checkParams} refuses for any
 * other reason than the size of the modulus (f, n, B, modulus, maxElements, decimalPlaces).
 * @example
 * ```ts
 * fitsModulus({ parties: 5, modulus: 'p61' }); // true: 2.3 + 31 + 16 + 2 ≤ 61
 * ```
 */
export function fitsModulus(params: EncodingParams, shape?: Shape): boolean {
  const p = resolveParams(params);
  if (!budgetHolds(p, 1n << BigInt(p.fractionalBits))) return false;
  const decimals = shape === undefined || assertShape(shape, MAX_VECTOR_LENGTH).entries.some((e) => e.type === 'decimal');
  return !decimals || budgetHolds(p, 10n ** BigInt(p.decimalPlaces));
}

/** Validate parameters and fill in defaults, everything but the budget. */
function resolveParams(params: EncodingParams): ResolvedEncodingParams {
  if (typeof params !== 'object' || params === null || _isProxy(params)) {
    throw new InvalidArgumentError(`"params" expected an object, got ${_describe(params)}`);
  }
  const raw = _guard('params', () => ({
    f: params.fractionalBits,
    B: params.bound,
    n: params.parties,
    modulus: params.modulus,
    maxElements: params.maxElements,
    d: params.decimalPlaces,
  }));
  const d = raw.d === undefined ? DEFAULT_DECIMAL_PLACES : raw.d;
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_DECIMAL_PLACES) {
    throw unsafe(`decimalPlaces must be an integer in 0..${MAX_DECIMAL_PLACES}, got ${typeof d === 'number' ? d : _describe(d)}`);
  }
  const f = raw.f === undefined ? DEFAULT_FRACTIONAL_BITS : raw.f;
  if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || f > MAX_FRACTIONAL_BITS) {
    throw unsafe(`fractionalBits must be an integer in 0..${MAX_FRACTIONAL_BITS}, got ${typeof f === 'number' ? f : _describe(f)}`);
  }
  const n = raw.n;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw unsafe(`parties must be an integer ≥ 1, got ${typeof n === 'number' ? n : _describe(n)}`);
  }
  const B = raw.B === undefined ? DEFAULT_BOUND : raw.B;
  if (typeof B === 'number') {
    if (!Number.isFinite(B) || !(B > 0)) throw unsafe(`bound must be a finite number > 0 or a bigint > 0, got ${B}`);
  } else if (typeof B === 'bigint') {
    if (B <= 0n) throw unsafe(`bound must be > 0, got ${B}n`);
  } else {
    throw unsafe(`bound must be a number or bigint, got ${_describe(B)}`);
  }
  const modulus = raw.modulus;
  if (modulus !== 'ring64' && modulus !== 'p61' && modulus !== 'p127') throw unsafe(`modulus must be 'ring64', 'p61' or 'p127', got ${_describe(modulus)}`);
  const maxElements = raw.maxElements === undefined ? DEFAULT_MAX_ELEMENTS : raw.maxElements;
  if (typeof maxElements !== 'number' || !Number.isSafeInteger(maxElements) || maxElements < 1 || maxElements > MAX_VECTOR_LENGTH) {
    throw unsafe(`maxElements must be an integer in [1, ${MAX_VECTOR_LENGTH}]`);
  }
  return Object.freeze({ fractionalBits: f, bound: B, parties: n, modulus, maxElements, decimalPlaces: d });
}

/** Exact test of n·B·S·4 ≤ M with B = m·2^k. */
function budgetHolds(p: ResolvedEncodingParams, S: bigint): boolean {
  const { parties: n, bound: B, modulus } = p;
  const M = modulus === 'ring64' ? TWO64 : modulus === 'p61' ? P61 : P127;
  const { m, k } = typeof B === 'bigint' ? { m: B, k: 0 } : dyadic(B);
  const lhs = BigInt(n) * m * S * 4n;
  return k >= 0 ? lhs << BigInt(k) <= M : lhs <= M << BigInt(-k);
}

/**
 * Exact test of n·B·S·4 ≤ M with B = m·2^k: S = 2^f for floats, S = 10^d for decimal entries.
 * @throws {@link ValueError} `PARAMETERS_UNSAFE` with the numbers (parameters are public).
 */
function checkBudget(p: ResolvedEncodingParams, S: bigint, what: string, shown: string): void {
  const { parties: n, bound: B, modulus } = p;
  if (!budgetHolds(p, S)) {
    const lb = typeof B === 'bigint' ? Math.log2(Number(B)) : Math.log2(B);
    const ls = what === 'f' ? p.fractionalBits : p.decimalPlaces * Math.log2(10);
    const need = Math.log2(n) + lb + ls + 2;
    const have = modulus === 'ring64' ? '64' : modulus === 'p61' ? 'log2(2^61 − 1) ≈ 61' : 'log2(2^127 − 1) ≈ 127';
    const term = what === 'f' ? 'f' : 'd·log2 10';
    throw unsafe(
      `modulus too small: need log2 M ≥ log2 n + log2 B + ${term} + 2 = ${Math.log2(n).toFixed(3)} + ${lb.toFixed(3)} + ${what === 'f' ? shown : ls.toFixed(3)} + 2 = ` +
        `${need.toFixed(3)}, have ${have} (n = ${n}, B = ${describeBound(B)}, ${what} = ${shown}, modulus ${modulus})`,
    );
  }
}

/** The extra budget check for inputs with decimal entries (scale 10^d). */
function checkDecimalBudget(p: ResolvedEncodingParams, shape: Shape): void {
  if (shape.entries.some((e) => e.type === 'decimal')) checkBudget(p, 10n ** BigInt(p.decimalPlaces), 'd', String(p.decimalPlaces));
}

/** Per-encoding constants derived from resolved parameters. */
interface Ctx {
  readonly p: ResolvedEncodingParams;
  readonly scale: number; // 2^f
  readonly boundF: number; // largest double ≤ B
  readonly boundI: bigint; // ⌊B⌋
  readonly boundM: BigNumber; // B = boundM / boundShift exactly
  readonly boundShift: BigNumber; // 2^-k ≥ 1
  readonly scaleD: BigNumber; // 10^d exactly (decimal inputs)
}

function nextDown(x: number): number {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  dv.setBigUint64(0, dv.getBigUint64(0) - 1n); // x > 0
  return dv.getFloat64(0);
}

/**
 * Contexts by resolved parameters: every run of a group encodes and decodes with the same few
 * parameter sets, and building one (BigNumber parsing and powers) cost as much as encoding a
 * small input. A context is immutable (frozen; BigNumber values are never modified in place).
 */
const CONTEXTS = new Map<string, Ctx>();
const CONTEXTS_MAX = 64;

function context(params: EncodingParams, modulus: Modulus): Ctx {
  const p = checkParams(params);
  if (p.modulus !== modulus) throw unsafe(`params.modulus is '${p.modulus}', this function encodes for '${modulus}'`);
  // Resolved parameters of a trusted object are the same object on every call (see CHECKED).
  const known = CONTEXT_OF.get(p);
  if (known !== undefined) return known;
  const key = `${p.modulus} ${p.fractionalBits} ${p.decimalPlaces} ${p.parties} ${p.maxElements} ${typeof p.bound} ${String(p.bound)}`;
  let ctx = CONTEXTS.get(key);
  if (ctx === undefined) {
    ctx = buildContext(p);
    if (CONTEXTS.size >= CONTEXTS_MAX) CONTEXTS.clear();
    CONTEXTS.set(key, ctx);
  }
  if (CHECKED.get(params) === p) CONTEXT_OF.set(p, ctx);
  return ctx;
}

/** The context of resolved parameters that {@link checkParams} remembers (see CHECKED). */
const CONTEXT_OF = new WeakMap<ResolvedEncodingParams, Ctx>();

function buildContext(p: ResolvedEncodingParams): Ctx {
  const B = p.bound;
  let boundF: number;
  let boundI: bigint;
  if (typeof B === 'bigint') {
    boundI = B;
    boundF = Number(B);
    if (BigInt(boundF) > B) boundF = nextDown(boundF);
  } else {
    boundF = B;
    boundI = BigInt(Math.floor(B));
  }
  const { m, k } = typeof B === 'bigint' ? { m: B, k: 0 } : dyadic(B);
  const boundM = new BN(m.toString());
  const boundShift = new BN(2).pow(-k); // k ≤ 0: an exact integer power
  return Object.freeze({ p, scale: 2 ** p.fractionalBits, boundF, boundI, boundM, boundShift, scaleD: new BN(10).pow(p.decimalPlaces) });
}

function label(entry: ShapeEntry, i: number): string {
  const field = entry.name === '' ? '' : `field ${JSON.stringify(entry.name)} `;
  return entry.kind === 'scalar' ? (field === '' ? 'value' : field.trimEnd()) : `${field}element ${i}`;
}

function badValue(entry: ShapeEntry, i: number, what: string): ValueError {
  return new ValueError(ErrorCode.VALUE_INVALID, `${label(entry, i)} ${what}`);
}

function floatProblem(x: unknown, ctx: Ctx): string {
  if (typeof x !== 'number') return `is ${_describe(x)}, expected a number`;
  if (Number.isNaN(x)) return 'is NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'is +Infinity' : 'is -Infinity';
  return `exceeds the bound |x| ≤ ${describeBound(ctx.p.bound)}`;
}

/**
 * Round half to even, exactly, for any finite double. d = y − ⌊y⌋ is exact except for
 * y ∈ (−0.5, 0), where ⌊y⌋ = −1 and both the ">" and the tie branch give 0 — the right answer.
 * (Math.floor-based: Math.round is several times slower in V8.)
 */
function roundHalfEven(y: number): number {
  const fl = Math.floor(y);
  const d = y - fl;
  return d > 0.5 ? fl + 1 : d < 0.5 ? fl : fl + (fl - 2 * Math.floor(fl * 0.5));
}

/** Encode a float entry into word pairs starting at element `off` (Number arithmetic only). */
function floatsToR64(entry: ShapeEntry, src: ArrayLike<unknown>, out: Int32Array, off: number, ctx: Ctx): void {
  const { scale, boundF } = ctx;
  const L = entry.length;
  if (src.length !== L) throw badValue(entry, 0, 'changed length while being read');
  // Every checked x has |x · 2^f| ≤ B · 2^f: within ROUND_MAGIC_LIMIT (any bound below 2^(51 − f))
  // one addition and one subtraction round it, else the exact Math.floor-based rounding.
  const magic = boundF * scale <= ROUND_MAGIC_LIMIT;
  let w = 2 * off;
  for (let i = 0; i < L; i++) {
    const x = src[i];
    if (typeof x !== 'number' || !(x <= boundF && x >= -boundF)) throw badValue(entry, i, floatProblem(x, ctx));
    const y = x * scale; // exact: power-of-two scaling
    const r = magic ? y + ROUND_MAGIC - ROUND_MAGIC : roundHalfEven(y);
    out[w] = r | 0; // ToInt32 of an integer: its low 32 bits (two's complement), exactly
    out[w + 1] = Math.floor(r * INV_TWO32) | 0; // the high word, mod 2^32
    w += 2;
  }
}

/** Specialised copy for Float64Array (keeps the hot loop monomorphic). */
function f64ToR64(entry: ShapeEntry, src: Float64Array, out: Int32Array, off: number, ctx: Ctx): void {
  const { scale, boundF } = ctx;
  const L = entry.length;
  if (src.length !== L) throw badValue(entry, 0, 'changed length while being read');
  const magic = boundF * scale <= ROUND_MAGIC_LIMIT; // see floatsToR64
  let w = 2 * off;
  for (let i = 0; i < L; i++) {
    const x = src[i] as number;
    if (!(x <= boundF && x >= -boundF)) throw badValue(entry, i, floatProblem(x, ctx));
    const y = x * scale;
    const r = magic ? y + ROUND_MAGIC - ROUND_MAGIC : roundHalfEven(y);
    out[w] = r | 0;
    out[w + 1] = Math.floor(r * INV_TWO32) | 0;
    w += 2;
  }
}

function intValue(entry: ShapeEntry, i: number, x: unknown, ctx: Ctx): bigint {
  if (typeof x !== 'bigint') throw badValue(entry, i, `is ${_describe(x)}, expected a bigint`);
  if (x > ctx.boundI || x < -ctx.boundI) throw badValue(entry, i, `exceeds the bound |x| ≤ ${describeBound(ctx.p.bound)}`);
  return x;
}

function decimalValue(entry: ShapeEntry, i: number, x: unknown, ctx: Ctx): bigint {
  let d: BigNumber;
  if (typeof x === 'string') {
    if (x.length > MAX_DECIMAL_LENGTH) throw badValue(entry, i, `is a string longer than ${MAX_DECIMAL_LENGTH} characters`);
    if (!DECIMAL_RE.test(x)) throw badValue(entry, i, 'is not a decimal number string');
    d = new BN(x);
    // The string is a finite decimal, but bignumber.js parses an exponent beyond its RANGE (±1e9)
    // as 0 or ±Infinity: a non-zero value that became 0 has more places than any d allows, and
    // an "infinite" one exceeds every bound — refuse both for that, never sum them as 0.
    if (!d.isFinite()) throw badValue(entry, i, `exceeds the bound |x| ≤ ${describeBound(ctx.p.bound)}`);
    if (d.isZero() && /[1-9]/.test(x.split(/[eE]/)[0] as string)) {
      throw badValue(entry, i, `has more than ${ctx.p.decimalPlaces} decimal places (raise decimalPlaces)`);
    }
  } else if (x instanceof BigNumber && !_isProxy(x)) {
    d = new BN(x);
  } else if (typeof x === 'object' && x !== null && !_isProxy(x) && BigNumber.isBigNumber(x)) {
    // A BigNumber from another copy of bignumber.js: go through its exact normal-notation string.
    const s: unknown = (x as BigNumber).toFixed();
    if (typeof s !== 'string' || s.length > MAX_DECIMAL_LENGTH || !DECIMAL_RE.test(s)) {
      throw badValue(entry, i, 'is a BigNumber that is not finite (or too long)');
    }
    d = new BN(s);
  } else {
    throw badValue(entry, i, `is ${_describe(x)}, expected a decimal string or BigNumber`);
  }
  if (d.isNaN()) throw badValue(entry, i, 'is NaN');
  if (!d.isFinite()) throw badValue(entry, i, d.isPositive() ? 'is +Infinity' : 'is -Infinity');
  if (d.abs().times(ctx.boundShift).gt(ctx.boundM)) throw badValue(entry, i, `exceeds the bound |x| ≤ ${describeBound(ctx.p.bound)}`);
  const scaled = d.times(ctx.scaleD);
  if (!scaled.isInteger()) throw badValue(entry, i, `has more than ${ctx.p.decimalPlaces} decimal places (raise decimalPlaces)`);
  return BigInt(scaled.toFixed());
}

/** Element i of an int/decimal entry as an exact scaled bigint. */
function exactValue(entry: ShapeEntry, i: number, x: unknown, ctx: Ctx): bigint {
  return entry.type === 'int' ? intValue(entry, i, x, ctx) : decimalValue(entry, i, x, ctx);
}

function elementsOf(entry: ShapeEntry, value: unknown): ArrayLike<unknown> {
  if (entry.kind === 'scalar') return [value];
  if (_isF64(value) || _isPlainArray(value) || _isNumberTypedArray(value) || _isBigIntTypedArray(value)) return value;
  throw badValue(entry, 0, 'changed type while being read');
}

/**
 * Encode an input for the ring Z_(2^64) (additive sharing, masking). Every element is checked
 * first (type, NaN, ±Infinity, |x| ≤ B, decimal syntax); the first problem is reported by
 * element index and field name, never by value, and nothing is returned.
 * @param input - a {@link SumInput}.
 * @param params - encoding parameters with `modulus: 'ring64'`.
 * @returns the input's {@link Shape} and its encoding (one ring element per shape element).
 * @throws {@link ValueError} `VALUE_INVALID` for a bad input, `PARAMETERS_UNSAFE` for bad params.
 * @example
 * ```ts
 * const { shape, vector } = encodeRing64(new Float64Array([0.5, -2]), { parties: 3, modulus: 'ring64' });
 * ```
 */
export function encodeRing64(input: SumInput, params: EncodingParams): { shape: Shape; vector: Ring64Vector } {
  const { shape, length, encodeInto } = _ring64Encoder(input, params);
  const out = new Uint32Array(2 * length);
  encodeInto(0, out);
  return { shape, vector: out };
}

/**
 * An encoder of `input` for the ring Z_(2^64) that writes any range of the encoding:
 * `encodeInto(from, out)` writes elements [from, from + out.length / 2) of what
 * {@link encodeRing64} returns, so the encoding can be rebuilt block by block without holding it
 * whole. It reads the input again on every call: an input changed in between gives another
 * encoding (or a `VALUE_INVALID` error), which a caller that relies on the earlier one must check.
 * @internal
 */
export function _ring64Encoder(input: SumInput, params: EncodingParams): { shape: Shape; length: number; encodeInto: (from: number, out: Ring64Vector) => void } {
  const ctx = context(params, 'ring64');
  const { shape, raw } = _rawEntries(input, ctx.p.maxElements);
  checkDecimalBudget(ctx.p, shape);
  const length = raw.reduce((s, r) => s + r.entry.length, 0);
  const encodeInto = (from: number, out: Ring64Vector): void =>
    _guard('input', () => {
      const to = from + out.length / 2;
      if (!Number.isSafeInteger(from) || from < 0 || to > length) throw new InvalidArgumentError(`range [${from}, ${to}) is outside the ${length} elements of the encoding`);
      const out32 = new Int32Array(out.buffer, out.byteOffset, out.length); // same words, int32 stores stay on V8's fast path
      let at = 0;
      for (const { entry, value } of raw) {
        const a = Math.max(from, at);
        const b = Math.min(to, at + entry.length);
        if (a < b) {
          // Elements [a − at, b − at) of this entry, written at a − from.
          const part = a === at && b === at + entry.length ? entry : { ...entry, length: b - a };
          if (entry.type === 'float') {
            if (_isF64(value)) f64ToR64(part, part === entry ? value : sliceOf(entry, value, a - at, b - at), out32, a - from, ctx);
            else floatsToR64(part, part === entry ? elementsOf(entry, value) : sliceOf(entry, value, a - at, b - at), out32, a - from, ctx);
          } else {
            const src = elementsOf(entry, value);
            for (let i = a - at; i < b - at; i++) {
              const u = BigInt.asUintN(64, exactValue(entry, i, src[i], ctx));
              const o = a - from + (i - (a - at));
              out[2 * o] = Number(u & 0xffffffffn);
              out[2 * o + 1] = Number(u >> 32n);
            }
          }
        }
        at += entry.length;
      }
    });
  return { shape, length, encodeInto };
}

/** Elements [a, b) of a vector entry's value (a view of a typed array, a copy of a plain array). */
function sliceOf(entry: ShapeEntry, value: unknown, a: number, b: number): Float64Array & ArrayLike<unknown> {
  const src = elementsOf(entry, value) as ArrayLike<unknown> & { subarray?: (a: number, b: number) => unknown; slice?: (a: number, b: number) => unknown };
  if (src.length !== entry.length) throw badValue(entry, 0, 'changed length while being read');
  return (typeof src.subarray === 'function' ? src.subarray(a, b) : Array.prototype.slice.call(src, a, b)) as Float64Array & ArrayLike<unknown>;
}

/**
 * Encode an input for GF(2^127 − 1) (Shamir sharing): the same fixed-point integers as
 * {@link encodeRing64}, reduced mod p (negative X becomes p + X).
 * @param input - a {@link SumInput}.
 * @param params - encoding parameters with `modulus: 'p127'`.
 * @returns the input's {@link Shape} and its encoding as canonical field elements.
 * @throws {@link ValueError} `VALUE_INVALID` for a bad input, `PARAMETERS_UNSAFE` for bad params.
 * @example
 * ```ts
 * const { shape, elements } = encodeField({ count: 12n, total: 3.25 }, { parties: 5, modulus: 'p127' });
 * ```
 */
export function encodeField(input: SumInput, params: EncodingParams): { shape: Shape; elements: bigint[] } {
  const ctx = context(params, 'p127');
  const { shape, raw } = _rawEntries(input, ctx.p.maxElements);
  checkDecimalBudget(ctx.p, shape);
  return _guard('input', () => {
    const out: bigint[] = [];
    for (const { entry, value } of raw) {
      const src = elementsOf(entry, value);
      if (src.length !== entry.length) throw badValue(entry, 0, 'changed length while being read');
      for (let i = 0; i < entry.length; i++) {
        let X: bigint;
        if (entry.type === 'float') {
          const x = src[i];
          if (typeof x !== 'number' || !(x <= ctx.boundF && x >= -ctx.boundF)) throw badValue(entry, i, floatProblem(x, ctx));
          X = BigInt(roundHalfEven(x * ctx.scale));
        } else {
          X = exactValue(entry, i, src[i], ctx);
        }
        out.push(X >= 0n ? X : P127 + X);
      }
    }
    return { shape, elements: out };
  });
}

const P61_HI = 0x1fffffff;
const P61_LO = 0xffffffff;
const P61_SIGN = 0x10000000; // high word ≥ 2^28 ⇔ element ≥ 2^60 ⇔ element > (p − 1)/2

/**
 * Write the float entry's X = round(x·2^f) mod p (p = 2^61 − 1) as word pairs starting at element
 * `off`, Number arithmetic only. X is an integer-valued double with |X| < 2^59 (the budget), so
 * hi = ⌊X·2^-32⌋ and lo = X − hi·2^32 ∈ [0, 2^32) are exact; for X < 0 (hi < 0, sign bit
 * hi >>> 31 = 1), X + p = (lo − 1) + (hi + 2^29)·2^32, borrowing when lo = 0.
 */
function floatsToF61(entry: ShapeEntry, src: ArrayLike<unknown>, out: Uint32Array, off: number, ctx: Ctx): void {
  const { scale, boundF } = ctx;
  const L = entry.length;
  if (src.length !== L) throw badValue(entry, 0, 'changed length while being read');
  let w = 2 * off;
  for (let i = 0; i < L; i++) {
    const x = src[i];
    if (typeof x !== 'number' || !(x <= boundF && x >= -boundF)) throw badValue(entry, i, floatProblem(x, ctx));
    const r = roundHalfEven(x * scale);
    let hi = Math.floor(r * INV_TWO32);
    let lo = r - hi * TWO32;
    const neg = hi >>> 31;
    lo -= neg;
    hi += neg * 0x20000000;
    if (lo < 0) {
      lo += TWO32;
      hi -= 1;
    }
    out[w] = lo;
    out[w + 1] = hi;
    w += 2;
  }
}

/** Specialised copy for Float64Array (keeps the hot loop monomorphic). */
function f64ToF61(entry: ShapeEntry, src: Float64Array, out: Uint32Array, off: number, ctx: Ctx): void {
  const { scale, boundF } = ctx;
  const L = entry.length;
  if (src.length !== L) throw badValue(entry, 0, 'changed length while being read');
  let w = 2 * off;
  for (let i = 0; i < L; i++) {
    const x = src[i] as number;
    if (!(x <= boundF && x >= -boundF)) throw badValue(entry, i, floatProblem(x, ctx));
    const r = roundHalfEven(x * scale);
    let hi = Math.floor(r * INV_TWO32);
    let lo = r - hi * TWO32;
    const neg = hi >>> 31;
    lo -= neg;
    hi += neg * 0x20000000;
    if (lo < 0) {
      lo += TWO32;
      hi -= 1;
    }
    out[w] = lo;
    out[w + 1] = hi;
    w += 2;
  }
}

/**
 * Encode an input for GF(2^61 − 1) (Shamir sharing on typed arrays): the same fixed-point
 * integers as {@link encodeRing64}, as canonical elements X mod p (negative X becomes p + X, the
 * centred lift: values in (−p/2, p/2)). Floats use Number arithmetic only; ints and decimals are
 * exact. The safety inequality with M = 2^61 − 1 ({@link checkParams}) guarantees that every
 * element and every sum of n of them fits.
 * @param input - a {@link SumInput}.
 * @param params - encoding parameters with `modulus: 'p61'`.
 * @returns the input's {@link Shape} and its encoding as a {@link Field61Vector}.
 * @throws {@link ValueError} `VALUE_INVALID` for a bad input, `PARAMETERS_UNSAFE` for bad params
 * (including a modulus too small for n, B, f, or d when the input has decimals).
 * @example
 * ```ts
 * const { shape, elements } = encodeField61(new Float64Array([0.5, -2]), { parties: 5, modulus: 'p61' });
 * ```
 */
export function encodeField61(input: SumInput, params: EncodingParams): { shape: Shape; elements: Field61Vector } {
  const ctx = context(params, 'p61');
  const { shape, raw } = _rawEntries(input, ctx.p.maxElements);
  checkDecimalBudget(ctx.p, shape);
  return _guard('input', () => {
    const total = raw.reduce((s, r) => s + r.entry.length, 0);
    const out = new Uint32Array(2 * total);
    let off = 0;
    for (const { entry, value } of raw) {
      if (entry.type === 'float') {
        if (_isF64(value)) f64ToF61(entry, value, out, off, ctx);
        else floatsToF61(entry, elementsOf(entry, value), out, off, ctx);
      } else {
        const src = elementsOf(entry, value);
        if (src.length !== entry.length) throw badValue(entry, 0, 'changed length while being read');
        for (let i = 0; i < entry.length; i++) {
          const X = exactValue(entry, i, src[i], ctx); // |X| ≤ B·S < p/4
          const A = X < 0n ? -X : X;
          let lo = Number(A & 0xffffffffn);
          let hi = Number(A >> 32n);
          if (X < 0n) {
            lo = P61_LO - lo; // p − A: the complement within 61 bits (A ≥ 1, so no borrow)
            hi = P61_HI - hi;
          }
          out[2 * (off + i)] = lo;
          out[2 * (off + i) + 1] = hi;
        }
      }
      off += entry.length;
    }
    return { shape, elements: out };
  });
}

function decodeDecimal(X: bigint, ctx: Ctx): string {
  return new BN(X.toString()).div(ctx.scaleD).toFixed();
}

function assemble(shape: Shape, fields: SumOutputField[]): SumOutput {
  if (shape.kind !== 'record') return fields[0] as SumOutputField;
  const out: { [name: string]: SumOutputField } = {};
  shape.entries.forEach((e, i) => {
    // Names were validated (no __proto__ / constructor / prototype), so plain assignment is safe.
    out[e.name] = fields[i] as SumOutputField;
  });
  return out;
}

function totalOf(shape: Shape): number {
  return shape.entries.reduce((s, e) => s + e.length, 0);
}

/**
 * Decode a ring-2^64 sum: take each element's signed representative (v ≥ 2^63 → v − 2^64) and
 * divide by 2^f (floats, decimals) or keep it (ints). Returns the inputs' structure: `number` for
 * a float scalar, `Float64Array` for every float vector (whether the inputs were `number[]` or
 * `Float64Array`), `bigint` / `bigint[]` for ints, exact decimal strings / `string[]` for
 * decimals, and a record with the same names for records.
 * @param shape - the agreed {@link Shape} (validated again here).
 * @param vector - the summed vector, one element per shape element.
 * @param params - the encoding parameters used (`modulus: 'ring64'`).
 * @param reuse - decode float entries in place, into `vector`'s memory (no new allocation); the
 *   vector must not be used afterwards. Default false.
 * @returns the decoded sum.
 * @throws {@link ValueError} for an invalid shape or params; {@link InvalidArgumentError} if
 * `vector` is not a Ring64Vector of the shape's length.
 * @example
 * ```ts
 * const sum = decodeRing64(shape, total, { parties: 3, modulus: 'ring64' }) as Float64Array;
 * ```
 */
export function decodeRing64(shape: Shape, vector: Ring64Vector, params: EncodingParams, reuse = false): SumOutput {
  const ctx = context(params, 'ring64');
  const s = assertShape(shape, ctx.p.maxElements);
  checkDecimalBudget(ctx.p, s);
  const v = _checkR64(vector, 'vector');
  const total = totalOf(s);
  if (v.length !== 2 * total) throw new InvalidArgumentError(`"vector" has ${v.length / 2} elements, the shape has ${total}`);
  const inv = 1 / ctx.scale;
  let off = 0;
  const fields = s.entries.map((e): SumOutputField => {
    const L = e.length;
    let field: SumOutputField;
    if (e.type === 'float') {
      // `reuse`: decode in place, over the vector's own memory (element i's 8 bytes are read
      // before they are overwritten by float i); the caller gives up the vector.
      const out = reuse && (v.byteOffset + 8 * off) % 8 === 0 ? new Float64Array(v.buffer, v.byteOffset + 8 * off, L) : new Float64Array(L);
      // The high word read as int32 is the element's signed high half: no branch per element.
      const signedHi = new Int32Array(v.buffer, v.byteOffset, v.length);
      for (let i = 0, w = 2 * off; i < L; i++, w += 2) {
        out[i] = ((signedHi[w + 1] as number) * TWO32 + (v[w] as number)) * inv;
      }
      field = e.kind === 'scalar' ? (out[0] as number) : out;
    } else {
      const vals = new Array<bigint>(L);
      for (let i = 0; i < L; i++) {
        vals[i] = BigInt.asIntN(64, (BigInt(v[2 * (off + i) + 1] as number) << 32n) | BigInt(v[2 * (off + i)] as number));
      }
      if (e.type === 'int') field = e.kind === 'scalar' ? (vals[0] as bigint) : vals;
      else {
        const strs = vals.map((X) => decodeDecimal(X, ctx));
        field = e.kind === 'scalar' ? (strs[0] as string) : strs;
      }
    }
    off += L;
    return field;
  });
  return assemble(s, fields);
}

/**
 * Decode a GF(2^127 − 1) sum (e.g. from Lagrange interpolation): signed representative
 * (v > (p − 1)/2 → v − p), then as {@link decodeRing64}.
 * @param shape - the agreed {@link Shape}.
 * @param elems - the summed field elements, one per shape element.
 * @param params - the encoding parameters used (`modulus: 'p127'`).
 * @returns the decoded sum, with the inputs' structure.
 * @throws {@link ValueError} for an invalid shape or params; {@link InvalidArgumentError} if
 * `elems` has the wrong length or non-canonical elements.
 * @example
 * ```ts
 * const sum = decodeField(shape, lagrangeAtZero(points), { parties: 5, modulus: 'p127' });
 * ```
 */
export function decodeField(shape: Shape, elems: readonly bigint[], params: EncodingParams): SumOutput {
  const ctx = context(params, 'p127');
  const s = assertShape(shape, ctx.p.maxElements);
  checkDecimalBudget(ctx.p, s);
  const total = totalOf(s);
  const v = _checkElementVector(elems, 'elems', ctx.p.maxElements);
  if (v.length !== total) throw new InvalidArgumentError(`"elems" has ${v.length} elements, the shape has ${total}`);
  let off = 0;
  const fields = s.entries.map((e): SumOutputField => {
    const L = e.length;
    const signed = (i: number): bigint => {
      const x = v[off + i] as bigint;
      return x > HALF_P ? x - P127 : x;
    };
    let field: SumOutputField;
    if (e.type === 'float') {
      const out = new Float64Array(L);
      for (let i = 0; i < L; i++) out[i] = Number(signed(i)) / ctx.scale;
      field = e.kind === 'scalar' ? (out[0] as number) : out;
    } else if (e.type === 'int') {
      const vals = Array.from({ length: L }, (_, i) => signed(i));
      field = e.kind === 'scalar' ? (vals[0] as bigint) : vals;
    } else {
      const strs = Array.from({ length: L }, (_, i) => decodeDecimal(signed(i), ctx));
      field = e.kind === 'scalar' ? (strs[0] as string) : strs;
    }
    off += L;
    return field;
  });
  return assemble(s, fields);
}

/**
 * Decode a GF(2^61 − 1) sum (e.g. from {@link lagrangeAtZero61}): signed representative
 * (v > (p − 1)/2 → v − p), then as {@link decodeRing64}. Float entries use Number arithmetic only
 * (one correct rounding when the magnitude exceeds 2^53); ints and decimals are exact.
 * @param shape - the agreed {@link Shape}.
 * @param elems - the summed field elements, one per shape element.
 * @param params - the encoding parameters used (`modulus: 'p61'`).
 * @param reuse - decode float entries in place, over `elems`' own memory (the caller gives up
 *   `elems`), as {@link decodeRing64} does. Default false.
 * @returns the decoded sum, with the inputs' structure.
 * @throws {@link ValueError} for an invalid shape or params; {@link InvalidArgumentError} if
 * `elems` has the wrong length or non-canonical elements.
 * @example
 * ```ts
 * const sum = decodeField61(shape, lagrangeAtZero61(points), { parties: 5, modulus: 'p61' });
 * ```
 */
export function decodeField61(shape: Shape, elems: Field61Vector, params: EncodingParams, reuse = false): SumOutput {
  const ctx = context(params, 'p61');
  const s = assertShape(shape, ctx.p.maxElements);
  checkDecimalBudget(ctx.p, s);
  const total = totalOf(s);
  const v = _checkF61(elems, 'elems', ctx.p.maxElements);
  if (v.length !== 2 * total) throw new InvalidArgumentError(`"elems" has ${v.length / 2} elements, the shape has ${total}`);
  const inv = 1 / ctx.scale;
  let off = 0;
  const fields = s.entries.map((e): SumOutputField => {
    const L = e.length;
    let field: SumOutputField;
    if (e.type === 'float') {
      // `reuse`: element i's 8 bytes are read before float i overwrites them.
      const out = reuse && (v.byteOffset + 8 * off) % 8 === 0 ? new Float64Array(v.buffer, v.byteOffset + 8 * off, L) : new Float64Array(L);
      for (let i = 0; i < L; i++) {
        const lo = v[2 * (off + i)] as number;
        const hi = v[2 * (off + i) + 1] as number;
        // v − p = −((p_hi − hi)·2^32 + (p_lo − lo)): one rounding in the addition, exact scaling.
        out[i] = (hi >= P61_SIGN ? -((P61_HI - hi) * TWO32 + (P61_LO - lo)) : hi * TWO32 + lo) * inv;
      }
      field = e.kind === 'scalar' ? (out[0] as number) : out;
    } else {
      const vals = new Array<bigint>(L);
      for (let i = 0; i < L; i++) {
        const lo = v[2 * (off + i)] as number;
        const hi = v[2 * (off + i) + 1] as number;
        vals[i] = hi >= P61_SIGN ? -((BigInt(P61_HI - hi) << 32n) | BigInt(P61_LO - lo)) : (BigInt(hi) << 32n) | BigInt(lo);
      }
      if (e.type === 'int') field = e.kind === 'scalar' ? (vals[0] as bigint) : vals;
      else {
        const strs = vals.map((X) => decodeDecimal(X, ctx));
        field = e.kind === 'scalar' ? (strs[0] as string) : strs;
      }
    }
    off += L;
    return field;
  });
  return assemble(s, fields);
}
