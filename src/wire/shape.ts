/**
 * Small shape checks for decoded messages: each turns a plain value into a typed field or throws
 * a {@link ProtocolError} naming the field. Used by every parser of untrusted messages.
 *
 * @module
 */
import { ErrorCode, ProtocolError, type CouplerErrorOptions } from '../errors.js';
import type { PlainData } from './codec.js';

/** Context for errors: which message and which peer. */
export interface ShapeContext extends CouplerErrorOptions {
  /** Name of the message being parsed, e.g. `hello`. */
  readonly what: string;
}

function fail(ctx: ShapeContext, message: string): never {
  throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `${ctx.what}: ${message}`, ctx);
}

/** The value as a plain object with exactly the allowed keys (unknown keys refused). */
export function expectRecord(value: PlainData, ctx: ShapeContext, allowed: readonly string[]): Record<string, PlainData> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) fail(ctx, 'expected a map');
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(ctx, `unexpected field ${JSON.stringify(key.slice(0, 32))}`);
  return value as Record<string, PlainData>;
}

/** A string field of bounded length (and optional pattern). */
export function expectString(value: PlainData | undefined, field: string, ctx: ShapeContext, maxLength = 256, pattern?: RegExp): string {
  if (typeof value !== 'string') fail(ctx, `field "${field}" must be a string`);
  if (value.length > maxLength) fail(ctx, `field "${field}" is longer than ${maxLength}`);
  if (pattern !== undefined && !pattern.test(value)) fail(ctx, `field "${field}" is malformed`);
  return value;
}

/** A byte-string field, of exactly `length` bytes when given, else at most `maxLength`. */
export function expectBytes(value: PlainData | undefined, field: string, ctx: ShapeContext, length?: number, maxLength = Infinity): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(ctx, `field "${field}" must be bytes`);
  if (length !== undefined && value.length !== length) fail(ctx, `field "${field}" expected ${length} bytes, got ${value.length}`);
  if (value.length > maxLength) fail(ctx, `field "${field}" is longer than ${maxLength} bytes`);
  return value;
}

/** A non-negative safe integer field, at most `max` (a float `-0` reads as `0`). */
export function expectUint(value: PlainData | undefined, field: string, ctx: ShapeContext, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(max)) return Number(value);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) fail(ctx, `field "${field}" must be an integer in 0..${max}`);
  // -0 passes every check above (it is a safe integer, not below 0) but is not the value 0.
  return value === 0 ? 0 : value;
}

/** An array field of at most `maxLength` items. */
export function expectArray(value: PlainData | undefined, field: string, ctx: ShapeContext, maxLength: number): PlainData[] {
  if (!Array.isArray(value)) fail(ctx, `field "${field}" must be an array`);
  if (value.length > maxLength) fail(ctx, `field "${field}" has more than ${maxLength} items`);
  return value;
}

/** One of a fixed set of string literals. */
export function expectLiteral<T extends string>(value: PlainData | undefined, field: string, ctx: ShapeContext, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) fail(ctx, `field "${field}" must be one of ${allowed.join(', ')}`);
  return value as T;
}
