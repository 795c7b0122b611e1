/**
 * Internal argument checks shared by the math layer. Not re-exported from the package index.
 *
 * Every public function of `protocols/math` validates its arguments here first, so the
 * algorithm cores can assume well-formed input. Checks use `node:util` type tags (internal
 * slots), so look-alike objects and Proxies never pass as typed arrays.
 *
 * @module
 */
import { types } from 'node:util';
import { CouplerError, ErrorCode, InvalidArgumentError, ValueError, describeType } from '../../errors';

/**
 * Largest vector length (elements) any function of the math layer accepts: 2^27 elements, i.e.
 * 1 GiB as a ring-2^64 vector. Protects against giant allocations from hostile lengths.
 */
export const MAX_VECTOR_LENGTH = 2 ** 27;

/**
 * Describe a value's type for error messages without printing it, and without running a
 * Proxy's traps (`describeType` from errors.ts uses `instanceof`, which a Proxy can hijack).
 */
export function _describe(value: unknown): string {
  if (types.isProxy(value)) return 'Proxy';
  if (types.isUint8Array(value)) return `Uint8Array(${value.length})`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    if (ArrayBuffer.isView(value)) return 'typed array';
    return 'object';
  }
  return describeType(value);
}

/** True for a genuine Uint8Array (or Buffer); false for look-alikes and Proxies. */
export function _isU8(value: unknown): value is Uint8Array {
  return types.isUint8Array(value);
}

/** True for a genuine Uint32Array; false for look-alikes and Proxies. */
export function _isU32(value: unknown): value is Uint32Array {
  return types.isUint32Array(value);
}

/** True for a genuine Float64Array; false for look-alikes and Proxies. */
export function _isF64(value: unknown): value is Float64Array {
  return types.isFloat64Array(value);
}

/** True for a Proxy object (which could run arbitrary code on every read). */
export function _isProxy(value: unknown): boolean {
  return types.isProxy(value);
}

/** A genuine (non-Proxy) Array. */
/**
 * Typed arrays whose every element is a number that a float64 holds exactly (summed as the `float`
 * element type, like a Float64Array): Float32Array and the integer arrays up to 32 bits.
 */
export function _isNumberTypedArray(value: unknown): value is Float32Array | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array {
  return (
    types.isFloat32Array(value) ||
    types.isInt8Array(value) ||
    types.isUint8Array(value) ||
    types.isUint8ClampedArray(value) ||
    types.isInt16Array(value) ||
    types.isUint16Array(value) ||
    types.isInt32Array(value) ||
    types.isUint32Array(value)
  );
}

/** BigInt64Array / BigUint64Array (summed exactly, as the `int` element type). */
export function _isBigIntTypedArray(value: unknown): value is BigInt64Array | BigUint64Array {
  return types.isBigInt64Array(value) || types.isBigUint64Array(value);
}

export function _isPlainArray(value: unknown): value is unknown[] {
  return Array.isArray(value) && !types.isProxy(value);
}

/**
 * Check a length/count argument: a safe integer in [min, max].
 * @throws {@link InvalidArgumentError} otherwise.
 */
export function _checkCount(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(`"${name}" expected an integer, got ${_describe(value)}`);
  }
  if (value < min || value > max) {
    throw new InvalidArgumentError(`"${name}" expected an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/**
 * Check a byte string of exactly `len` bytes (or within [min, max] when `max` is given).
 * @throws {@link InvalidArgumentError} otherwise.
 */
export function _checkBytes(value: unknown, name: string, min: number, max: number = min): Uint8Array {
  if (!_isU8(value)) throw new InvalidArgumentError(`"${name}" expected a Uint8Array, got ${_describe(value)}`);
  if (value.length < min || value.length > max) {
    const want = min === max ? `${min}` : `${min}..${max}`;
    throw new InvalidArgumentError(`"${name}" expected ${want} bytes, got ${value.length}`);
  }
  return value;
}

/**
 * Check a non-empty string of at most `max` UTF-16 code units.
 * @throws {@link InvalidArgumentError} otherwise.
 */
export function _checkString(value: unknown, name: string, max: number): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`"${name}" expected a string, got ${_describe(value)}`);
  if (value.length === 0 || value.length > max) {
    throw new InvalidArgumentError(`"${name}" expected 1..${max} characters, got ${value.length}`);
  }
  return value;
}

/**
 * Run an argument check; turn any foreign exception (a getter on an array index, a Proxy trap)
 * into a typed {@link InvalidArgumentError} naming the argument.
 */
export function _guardArg<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CouplerError) throw err;
    throw new InvalidArgumentError(`"${name}" could not be read (a getter or Proxy threw)`, { cause: err });
  }
}

/**
 * Run `fn`; turn any foreign exception (a getter or Proxy trap that threw, a RangeError from an
 * allocation) into a typed {@link ValueError}. Coupler errors pass through unchanged. The foreign
 * error is attached as `cause` but its message is not copied (it might contain a value).
 */
export function _guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CouplerError) throw err;
    throw new ValueError(ErrorCode.VALUE_INVALID, `${what}: input could not be read (a getter, Proxy or allocation failed)`, {
      cause: err,
    });
  }
}

/**
 * `operand`, or a copy of it when it shares memory with `out` in any other way than being exactly
 * the same elements (same buffer, offset and length — which the element-wise in-place cores
 * handle: each element is read before it is written). An operand that overlaps the output at
 * another offset would be read after the core had already overwritten it (review25 R25-2).
 */
export function _apart<T extends Uint32Array | Uint8Array>(out: Uint32Array, operand: T, sameIsFine = true): T {
  if (out.buffer !== operand.buffer) return operand;
  const a0 = out.byteOffset;
  const b0 = operand.byteOffset;
  if (a0 >= b0 + operand.byteLength || b0 >= a0 + out.byteLength) return operand;
  if (sameIsFine && a0 === b0 && out.byteLength === operand.byteLength) return operand;
  // A copy in a fresh buffer (Buffer#slice would give another view of the same memory).
  return (types.isUint32Array(operand) ? new Uint32Array(operand) : new Uint8Array(operand)) as T;
}
