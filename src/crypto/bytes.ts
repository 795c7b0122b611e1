/**
 * Byte helpers: strict base64 decoding, constant-time comparison, concatenation.
 * @module
 */
import { timingSafeEqual } from 'node:crypto';

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

/** Decode standard (padded) or URL-safe (unpadded) base64 strictly; returns undefined on any malformation. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  if (BASE64_RE.test(text)) return new Uint8Array(Buffer.from(text, 'base64'));
  if (BASE64URL_RE.test(text) && text.length % 4 !== 1) return new Uint8Array(Buffer.from(text, 'base64url'));
  return undefined;
}

/** Standard padded base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Constant-time equality of two byte strings (false when lengths differ). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Concatenate byte strings into one new Uint8Array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * True for a genuine Uint8Array (or Buffer), not an object that merely looks like one: a Proxy
 * around a Uint8Array or `Object.create(Uint8Array.prototype)` pass `instanceof` but make every
 * typed-array method throw, so the internal-slot check `ArrayBuffer.isView` comes first.
 */
export function isBytes(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && (value instanceof Uint8Array || value.constructor?.name === 'Uint8Array');
}
