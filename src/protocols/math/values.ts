/**
 * The input model of secure sums: what a party may contribute ({@link SumInput}), and the
 * {@link Shape} that describes it without revealing it.
 *
 * Parties exchange shapes (or their {@link shapeDigest}) in a first round, so that everyone
 * encodes the same layout; a shape from the network is untrusted and goes through
 * {@link assertShape}.
 *
 * Element types:
 * - `'float'`: JavaScript numbers (`number`, `number[]`, `Float64Array`), encoded in fixed point
 *   with f fractional bits; decoded as `number` / `Float64Array`.
 * - `'int'`: `bigint` / `bigint[]`, encoded exactly (unscaled); decoded as `bigint` / `bigint[]`.
 * - `'decimal'`: decimal strings or `BigNumber`s (scalar or array), encoded as the exact
 *   round-half-even of x·2^f; decoded as exact decimal strings / `string[]`.
 *
 * A record `{ name: value }` (one level deep) flattens into one vector, fields in ascending
 * UTF-16 code-unit order of their names (JavaScript's default string sort).
 *
 * @module
 */
import BigNumber from 'bignumber.js';
import { ErrorCode, ValueError } from '../../errors';
import { sha256 } from '../../crypto/hash';
import { MAX_VECTOR_LENGTH, _guard, _isBigIntTypedArray, _isF64, _isNumberTypedArray, _isPlainArray, _isProxy, _describe } from './_checks';

/** A scalar input value. */
export type SumScalar = number | bigint | string | BigNumber;
/**
 * A vector input value. Numbers: `number[]`, `Float64Array`, or a typed array whose elements a
 * float64 holds exactly (`Float32Array`, `Int8Array` … `Uint32Array`), all summed as floats in
 * fixed point; integers: `bigint[]`, `BigInt64Array`, `BigUint64Array`, summed exactly; decimals:
 * strings and `BigNumber`s. Arrays may be `readonly`.
 */
export type SumVector =
  | readonly number[]
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | readonly bigint[]
  | BigInt64Array
  | BigUint64Array
  | readonly (string | BigNumber)[];
/** One field of a record input. */
export type SumField = SumScalar | SumVector;
/** A record input: named scalars and vectors, one level deep. */
export type SumRecord = { readonly [name: string]: SumField };
/** Everything a party may contribute to a secure sum. */
export type SumInput = SumField | SumRecord;
/**
 * What the sum functions accept as an input of type `I`: a {@link SumInput}, or a record whose
 * type is an `interface` (TypeScript gives an interface no index signature, so it is not a
 * {@link SumRecord}) with every field a {@link SumField} (none optional: every party sends the same
 * fields).
 * @example
 * ```ts
 * interface Stats { total: number; count: bigint }
 * const stats: Stats = { total: 12.5, count: 3n };
 * const { sum } = await secureSum(group, stats); // sum: { total: number; count: bigint }
 * ```
 */
export type SumInputLike<I> = SumInput | { readonly [K in keyof I]-?: SumField };

/** A decoded scalar: number (float), bigint (int), exact decimal string or BigNumber (decimal, as the input was). */
export type SumOutputScalar = number | bigint | string | BigNumber;
/** A decoded vector: Float64Array (float, whatever array type the input used), bigint[], string[] or BigNumber[]. */
export type SumOutputVector = Float64Array | bigint[] | string[] | BigNumber[];
/** A decoded record field. */
export type SumOutputField = SumOutputScalar | SumOutputVector;
/** A decoded sum, with the structure of the inputs. */
export type SumOutput = SumOutputField | { [name: string]: SumOutputField };

/**
 * The type of the sum of inputs of type `I`: the sum mirrors the input. `number` → `number`,
 * `bigint` → `bigint`, a decimal string → an exact decimal string, a `BigNumber` → a `BigNumber`;
 * every vector of numbers (`number[]`, `Float64Array`, `Float32Array`, integer typed arrays) →
 * `Float64Array`; `bigint[]`, `BigInt64Array`, `BigUint64Array` → `bigint[]`; `BigNumber[]` →
 * `BigNumber[]`, other decimal arrays → `string[]`; a record (a type or an interface) → the same
 * record of mapped fields.
 * @example
 * ```ts
 * const { sum } = await secureSum(group, { total: 12.5, count: 3n, hist: [1, 2, 3] });
 * sum.total; // number
 * sum.count; // bigint
 * sum.hist[0]; // number (sum.hist is a Float64Array)
 * ```
 */
export type SumOutputOf<I> = I extends number
  ? number
  : I extends bigint
    ? bigint
    : I extends string
      ? string
      : I extends BigNumber
        ? BigNumber
        : I extends Float64Array | Float32Array | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | readonly number[]
          ? Float64Array
          : I extends BigInt64Array | BigUint64Array | readonly bigint[]
            ? bigint[]
            : I extends readonly BigNumber[]
              ? BigNumber[]
              : I extends readonly (string | BigNumber)[]
                ? string[]
                : I extends object
                  ? { -readonly [K in keyof I]: SumOutputOf<I[K]> }
                  : SumOutput;

/** Element type of an entry. */
export type ElementType = 'float' | 'int' | 'decimal';

/** One entry of a {@link Shape}: a scalar or a vector of one element type. */
export interface ShapeEntry {
  /** Field name for records; `''` for a bare scalar or vector. */
  readonly name: string;
  /** Element type. */
  readonly type: ElementType;
  /** Scalar (length 1) or vector. */
  readonly kind: 'scalar' | 'vector';
  /** Number of elements (1 for scalars). */
  readonly length: number;
}

/**
 * The public description of an input: small, JSON/msgpack-serialisable, canonical (records
 * sorted by name). Only structure, never values.
 */
export interface Shape {
  /** A bare scalar, a bare vector, or a record of named entries. */
  readonly kind: 'scalar' | 'vector' | 'record';
  /** One entry for `scalar`/`vector` (name `''`); one per field, sorted by name, for `record`. */
  readonly entries: readonly ShapeEntry[];
}

/** Default cap on the total number of elements of a shape (2^24). */
export const DEFAULT_MAX_ELEMENTS = 2 ** 24;
/** Most fields a record may have. */
export const MAX_RECORD_FIELDS = 4096;
/** Longest field name (UTF-16 code units). */
export const MAX_FIELD_NAME_LENGTH = 256;

/** Field names refused because they are special on JavaScript objects. */
export const FORBIDDEN_FIELD_NAMES: readonly string[] = Object.freeze(['__proto__', 'constructor', 'prototype']);

const ELEMENT_TYPES: readonly string[] = ['float', 'int', 'decimal'];

/** The raw value of one entry, as found in the input (unvalidated elements). @internal */
export interface _RawEntry {
  readonly entry: ShapeEntry;
  /** The scalar value, or the array / Float64Array of a vector. */
  readonly value: unknown;
}

function shapeErr(message: string): ValueError {
  return new ValueError(ErrorCode.VALUE_INVALID, message);
}

function isBigNumberLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null && BigNumber.isBigNumber(v);
}

function scalarType(v: unknown): ElementType | undefined {
  if (typeof v === 'number') return 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string' || isBigNumberLike(v)) return 'decimal';
  return undefined;
}

function where(name: string): string {
  return name === '' ? 'input' : `field ${JSON.stringify(name)}`;
}

function classifyField(name: string, v: unknown, maxElements: number): ShapeEntry {
  if (_isProxy(v)) throw shapeErr(`${where(name)} is a Proxy; pass plain values`);
  const st = scalarType(v);
  if (st !== undefined) return { name, type: st, kind: 'scalar', length: 1 };
  if (_isF64(v) || _isNumberTypedArray(v) || _isBigIntTypedArray(v)) {
    if (v.length === 0) throw shapeErr(`${where(name)} is an empty vector`);
    if (v.length > maxElements) throw shapeErr(`${where(name)} has ${v.length} elements, more than the cap ${maxElements}`);
    return { name, type: _isBigIntTypedArray(v) ? 'int' : 'float', kind: 'vector', length: v.length };
  }
  if (_isPlainArray(v)) {
    const L = v.length;
    if (L === 0) throw shapeErr(`${where(name)} is an empty vector (its element type is unknown)`);
    if (L > maxElements) throw shapeErr(`${where(name)} has ${L} elements, more than the cap ${maxElements}`);
    const type = scalarType(v[0]);
    if (type === undefined) throw shapeErr(`${where(name)} element 0 is ${_describe(v[0])}, expected number, bigint, decimal string or BigNumber`);
    for (let i = 1; i < L; i++) {
      const t = scalarType(v[i]);
      if (t !== type) {
        throw shapeErr(`${where(name)} element ${i} is ${_describe(v[i])}, expected ${type} like element 0`);
      }
    }
    return { name, type, kind: 'vector', length: L };
  }
  if (ArrayBuffer.isView(v)) throw shapeErr(`${where(name)} is a ${v.constructor.name}; numbers come as number[] or a numeric typed array (Float64Array, Float32Array, Int8…Uint32Array: exact as float64), integers as bigint[] or BigInt64Array/BigUint64Array`);
  throw shapeErr(`${where(name)} is ${_describe(v)}, expected a number, bigint, decimal string, BigNumber or a vector of them`);
}

function isPlainRecord(v: unknown): v is object {
  if (typeof v !== 'object' || v === null || _isProxy(v) || Array.isArray(v) || ArrayBuffer.isView(v) || isBigNumberLike(v)) {
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Check a record field name.
 * @internal
 */
export function _checkFieldName(name: unknown): string {
  if (typeof name !== 'string') throw shapeErr(`record field names must be strings, got ${_describe(name)}`);
  if (name.length === 0 || name.length > MAX_FIELD_NAME_LENGTH) {
    throw shapeErr(`record field names must have 1..${MAX_FIELD_NAME_LENGTH} characters, got ${name.length}`);
  }
  if (FORBIDDEN_FIELD_NAMES.includes(name)) throw shapeErr(`record field name ${JSON.stringify(name)} is not allowed`);
  return name;
}

/**
 * Shapes {@link assertShape} accepted, with their element count: its own outputs, and the shapes
 * {@link _rawEntries} built ({@link OWN_SHAPES}) once validated. Both are frozen objects of frozen
 * entries this module created — nobody can change them — so a later call with the same object
 * (a run validates its shape several times: the digest, the agreement, the decoding) returns
 * the answer it got the first time. Held weakly: nothing is kept alive by it.
 */
const VALIDATED = new WeakMap<object, { readonly shape: Shape; readonly total: number }>();
/** Shapes built by {@link _rawEntries} (deeply frozen, created here). */
const OWN_SHAPES = new WeakSet<object>();

/**
 * Split an input into entries with their raw values, in canonical order. Checks structure and
 * element types; element values (NaN, bounds, decimal syntax) are checked by the encoders.
 * @internal
 */
export function _rawEntries(input: unknown, maxElements: number): { shape: Shape; raw: _RawEntry[] } {
  return _guard('input', () => {
    if (isPlainRecord(input)) {
      const keys = Reflect.ownKeys(input);
      if (keys.length === 0) throw shapeErr('input is an empty record');
      if (keys.length > MAX_RECORD_FIELDS) throw shapeErr(`input has ${keys.length} fields, more than ${MAX_RECORD_FIELDS}`);
      const names = keys.map((k) => _checkFieldName(k)).sort();
      const raw: _RawEntry[] = [];
      let total = 0;
      for (const name of names) {
        const d = Object.getOwnPropertyDescriptor(input, name);
        if (d === undefined || !('value' in d)) throw shapeErr(`field ${JSON.stringify(name)} is an accessor; only data properties are read`);
        if (d.enumerable !== true) throw shapeErr(`field ${JSON.stringify(name)} is not enumerable`);
        const entry = classifyField(name, d.value, maxElements);
        total += entry.length;
        if (total > maxElements) throw shapeErr(`input has more than ${maxElements} elements in total`);
        raw.push({ entry, value: d.value });
      }
      const shape: Shape = Object.freeze({ kind: 'record', entries: Object.freeze(raw.map((r) => Object.freeze(r.entry))) });
      OWN_SHAPES.add(shape);
      return { shape, raw };
    }
    const entry = Object.freeze(classifyField('', input, maxElements));
    const shape: Shape = Object.freeze({ kind: entry.kind, entries: Object.freeze([entry]) });
    OWN_SHAPES.add(shape);
    return { shape, raw: [{ entry, value: input }] };
  });
}

/**
 * Describe an input's structure: kind, field names, element types and lengths — never values.
 * @param input - a {@link SumInput}.
 * @param maxElements - cap on the total number of elements (default 2^24).
 * @returns a frozen, canonical {@link Shape}.
 * @throws {@link ValueError} (`VALUE_INVALID`) for unsupported types, mixed or empty vectors,
 * bad or forbidden field names, accessors, Proxies, non-plain objects, or too many elements.
 * @example
 * ```ts
 * describeShape({ n: 10n, mean: [1.5, 2] });
 * // { kind: 'record', entries: [ { name: 'mean', type: 'float', kind: 'vector', length: 2 },
 * //                              { name: 'n', type: 'int', kind: 'scalar', length: 1 } ] }
 * ```
 */
export function describeShape<I extends SumInputLike<I>>(input: I, maxElements: number = DEFAULT_MAX_ELEMENTS): Shape {
  return _rawEntries(input, checkCap(maxElements)).shape;
}

function checkCap(maxElements: unknown): number {
  if (typeof maxElements !== 'number' || !Number.isSafeInteger(maxElements) || maxElements < 1 || maxElements > MAX_VECTOR_LENGTH) {
    throw new ValueError(ErrorCode.VALUE_INVALID, `"maxElements" expected an integer in [1, ${MAX_VECTOR_LENGTH}]`);
  }
  return maxElements;
}

/**
 * Total number of elements of a shape (the length of its encoded vector).
 * @param shape - a valid {@link Shape}.
 * @returns Σ entry lengths.
 * @throws {@link ValueError} if `shape` is not a valid shape.
 * @example
 * ```ts
 * shapeLength(describeShape([1, 2, 3])); // 3
 * ```
 */
export function shapeLength(shape: Shape): number {
  return assertShape(shape, MAX_VECTOR_LENGTH).entries.reduce((s, e) => s + e.length, 0);
}

function readExact(obj: unknown, what: string, fields: readonly string[]): Record<string, unknown> {
  if (!isPlainRecord(obj)) throw shapeErr(`${what} expected a plain object, got ${_describe(obj)}`);
  const keys = Reflect.ownKeys(obj);
  if (keys.length !== fields.length || !keys.every((k) => typeof k === 'string' && fields.includes(k))) {
    throw shapeErr(`${what} expected exactly the fields ${fields.join(', ')}`);
  }
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const d = Object.getOwnPropertyDescriptor(obj, f);
    if (d === undefined || !('value' in d)) throw shapeErr(`${what}.${f} must be a data property`);
    out[f] = d.value;
  }
  return out;
}

/**
 * Validate a shape received from the network (untrusted) and return a fresh frozen copy.
 * Checks exact fields, kinds, element types, integer lengths, names (sorted, unique, allowed),
 * entry count ≤ 4096 and total elements ≤ `maxElements`.
 * @param value - anything (e.g. a decoded msgpack object).
 * @param maxElements - cap on the total number of elements (default 2^24).
 * @returns a canonical {@link Shape}, sharing nothing with `value` — or `value` itself when it is
 *   a shape an earlier call returned (deeply frozen, so sharing it is harmless).
 * @throws {@link ValueError} (`VALUE_INVALID`) naming the first problem found.
 * @example
 * ```ts
 * const theirs = assertShape(frame.body.shape, maxElements);
 * assertShapesEqual(mine, theirs);
 * ```
 */
export function assertShape(value: unknown, maxElements: number = DEFAULT_MAX_ELEMENTS): Shape {
  const cap = checkCap(maxElements);
  const known = typeof value === 'object' && value !== null ? VALIDATED.get(value) : undefined;
  // Validated before and deeply frozen (so unchanged): the same answer without walking it again.
  if (known !== undefined && known.total <= cap) return known.shape;
  const shape = _guard('shape', () => {
    const top = readExact(value, 'shape', ['kind', 'entries']);
    const kind = top['kind'];
    if (kind !== 'scalar' && kind !== 'vector' && kind !== 'record') throw shapeErr('shape.kind must be scalar, vector or record');
    const entriesIn = top['entries'];
    if (!_isPlainArray(entriesIn)) throw shapeErr(`shape.entries expected an array, got ${_describe(entriesIn)}`);
    const count = entriesIn.length;
    if (kind !== 'record' && count !== 1) throw shapeErr(`a ${kind} shape has exactly one entry, got ${count}`);
    if (count < 1 || count > MAX_RECORD_FIELDS) throw shapeErr(`shape.entries expected 1..${MAX_RECORD_FIELDS} entries, got ${count}`);
    const entries: ShapeEntry[] = [];
    let total = 0;
    let prev: string | undefined;
    for (let i = 0; i < count; i++) {
      const e = readExact(entriesIn[i], `shape.entries[${i}]`, ['name', 'type', 'kind', 'length']);
      const type = e['type'];
      const ekind = e['kind'];
      const length = e['length'];
      const name = e['name'];
      if (typeof type !== 'string' || !ELEMENT_TYPES.includes(type)) throw shapeErr(`shape.entries[${i}].type must be float, int or decimal`);
      if (ekind !== 'scalar' && ekind !== 'vector') throw shapeErr(`shape.entries[${i}].kind must be scalar or vector`);
      if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1 || length > cap) {
        throw shapeErr(`shape.entries[${i}].length must be an integer in [1, ${cap}]`);
      }
      if (ekind === 'scalar' && length !== 1) throw shapeErr(`shape.entries[${i}] is a scalar of length ${length}`);
      if (kind === 'record') {
        _checkFieldName(name);
        if (prev !== undefined && !((name as string) > prev)) throw shapeErr(`shape.entries[${i}].name is out of order or repeated`);
        prev = name as string;
      } else {
        if (name !== '') throw shapeErr(`shape.entries[0].name must be empty for a ${kind} shape`);
        if (ekind !== kind) throw shapeErr(`shape.entries[0].kind must be ${kind}`);
      }
      total += length;
      if (total > cap) throw shapeErr(`shape has more than ${cap} elements in total`);
      entries.push(Object.freeze({ name: name as string, type: type as ElementType, kind: ekind, length }));
    }
    return Object.freeze({ kind, entries: Object.freeze(entries) });
  });
  const total = shape.entries.reduce((t, e) => t + e.length, 0);
  VALIDATED.set(shape, { shape, total });
  if (OWN_SHAPES.has(value as object)) VALIDATED.set(value as object, { shape, total });
  return shape;
}

/**
 * Canonical encoding of a shape (UTF-8 JSON of a fixed array layout, prefixed by a version tag).
 * @internal
 */
export function _canonicalShape(shape: Shape): string {
  return JSON.stringify(['coupler/shape/v1', shape.kind, shape.entries.map((e) => [e.name, e.type, e.kind, e.length])]);
}

/**
 * SHA-256 (lowercase hex) of a shape's canonical encoding. Equal shapes give equal digests on
 * every party; parties can compare digests instead of whole shapes.
 * @param shape - a {@link Shape} (validated first).
 * @returns 64 hex characters.
 * @throws {@link ValueError} if `shape` is not a valid shape.
 * @example
 * ```ts
 * const digest = shapeDigest(describeShape(myInput));
 * ```
 */
export function shapeDigest(shape: Shape): string {
  const s = assertShape(shape, MAX_VECTOR_LENGTH);
  const d = sha256(_canonicalShape(s));
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex'); // the view's bytes, wherever it lies
}

/**
 * Require two shapes to be identical.
 * @param expected - our shape.
 * @param actual - the other party's shape (validate it with {@link assertShape} first).
 * @throws {@link ValueError} with code `SHAPE_MISMATCH`, naming the first difference (structure
 * only, never values); `VALUE_INVALID` if either is not a valid shape.
 * @example
 * ```ts
 * assertShapesEqual(describeShape(x), assertShape(received));
 * ```
 */
export function assertShapesEqual(expected: Shape, actual: Shape): void {
  const a = assertShape(expected, MAX_VECTOR_LENGTH);
  const b = assertShape(actual, MAX_VECTOR_LENGTH);
  const mismatch = (m: string): never => {
    throw new ValueError(ErrorCode.SHAPE_MISMATCH, `shapes differ: ${m}`);
  };
  if (a.kind !== b.kind) mismatch(`kind ${a.kind} vs ${b.kind}`);
  if (a.entries.length !== b.entries.length) mismatch(`${a.entries.length} vs ${b.entries.length} entries`);
  a.entries.forEach((x, i) => {
    const y = b.entries[i] as ShapeEntry;
    const label = a.kind === 'record' ? `entry ${i}` : 'value';
    if (x.name !== y.name) mismatch(`${label} is named ${JSON.stringify(x.name)} vs ${JSON.stringify(y.name)}`);
    if (x.type !== y.type) mismatch(`${label} has element type ${x.type} vs ${y.type}`);
    if (x.kind !== y.kind) mismatch(`${label} is a ${x.kind} vs a ${y.kind}`);
    if (x.length !== y.length) mismatch(`${label} has length ${x.length} vs ${y.length}`);
  });
}

/**
 * Give the decoded sum this party's own representation where the agreed shape cannot tell:
 * decimals that came in as `BigNumber`s go back as `BigNumber`s (the wire carries exact decimal
 * strings). Everything else is returned as decoded. See {@link SumOutputOf}.
 * @internal
 */
export function _mirrorOutput(input: unknown, out: SumOutput): SumOutput {
  const bn = (x: unknown): unknown => (typeof x === 'string' ? new BigNumber(x) : x);
  const field = (inp: unknown, o: unknown): unknown => {
    if (isBigNumberLike(inp)) return bn(o);
    if (_isPlainArray(inp) && inp.length > 0 && inp.every(isBigNumberLike) && Array.isArray(o)) return o.map(bn);
    return o;
  };
  if (isPlainRecord(input) && typeof out === 'object' && out !== null && !Array.isArray(out) && !ArrayBuffer.isView(out) && !isBigNumberLike(out)) {
    const rec = out as Record<string, SumOutputField>;
    for (const k of Object.keys(rec)) {
      const d = Object.getOwnPropertyDescriptor(input, k);
      if (d !== undefined && 'value' in d) rec[k] = field(d.value, rec[k]) as SumOutputField;
    }
    return rec;
  }
  return field(input, out) as SumOutput;
}
