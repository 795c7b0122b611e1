/**
 * The message codec: msgpackr with one fixed, locked-down configuration, a size cap applied
 * before decoding, and a structural check after decoding that admits only plain data
 * (null, booleans, numbers, bigints, strings, byte strings, arrays, plain objects).
 *
 * msgpackr trusts its input: it decodes Set, Date, RegExp, Error and typed-array extensions even
 * with records and structured cloning disabled. Everything it produces from untrusted bytes is
 * therefore walked by {@link assertPlainData} before anyone looks at it.
 *
 * @module
 */
import { Packr, Unpackr } from 'msgpackr';
import { ErrorCode, InvalidArgumentError, ProtocolError, type CouplerErrorOptions } from '../errors.js';
import { isBytes } from '../crypto/bytes.js';

const OPTIONS = {
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  mapsAsObjects: true,
  bundleStrings: false,
  int64AsType: 'bigint',
  largeBigIntToFloat: false,
  copyBuffers: false,
} as const;

const packr = new Packr(OPTIONS);
const unpackr = new Unpackr(OPTIONS);

/** Deepest nesting accepted from the wire. */
export const MAX_DEPTH = 16;

/** Plain data as admitted from the wire. */
export type PlainData = null | boolean | number | bigint | string | Uint8Array | PlainData[] | { [key: string]: PlainData };

/**
 * Encode plain data to msgpack bytes. The value is checked with {@link assertPlainData} first, so
 * a Date, Set, Map, class instance or non-byte typed array is refused here, at the sender, instead
 * of being sent and making the receiver drop the channel.
 * @throws {@link ProtocolError} `FRAME_MALFORMED` if the value is not plain data or cannot be encoded.
 */
export function encodeMessage(value: PlainData): Uint8Array {
  checkPlain(value, {}, true);
  try {
    return packr.pack(value);
  } catch (err) {
    throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'value cannot be encoded', { cause: err });
  }
}

/**
 * Decode untrusted msgpack bytes: cap → decode → structural check.
 *
 * @param bytes - the bytes received.
 * @param maxBytes - refuse (without decoding) anything longer.
 * @param options - the peer to name in errors.
 * @throws {@link ProtocolError} `FRAME_TOO_LARGE` or `FRAME_MALFORMED`.
 */
export function decodeMessage(bytes: Uint8Array, maxBytes: number, options: CouplerErrorOptions = {}): PlainData {
  // A cap that is not a number would make the size check below silently pass.
  if (typeof maxBytes !== 'number' || !(maxBytes >= 0)) throw new InvalidArgumentError('"maxBytes" must be a non-negative number');
  if (typeof options !== 'object' || options === null) options = {};
  if (!isBytes(bytes)) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message is not a byte string', options);
  if (bytes.length > maxBytes) {
    throw new ProtocolError(ErrorCode.FRAME_TOO_LARGE, `message of ${bytes.length} bytes exceeds the cap of ${maxBytes}`, options);
  }
  if (bytes.length === 0) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'empty message', options);
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message is not valid msgpack', { ...options, cause: err });
  }
  assertPlainData(value, options);
  return value;
}

/**
 * Check that a decoded value is plain data, iteratively (no recursion on attacker-controlled depth).
 * @throws {@link ProtocolError} `FRAME_MALFORMED` naming the path of the first bad value.
 */
export function assertPlainData(value: unknown, options: CouplerErrorOptions = {}): asserts value is PlainData {
  checkPlain(value, options, false);
}

/** The walk behind {@link assertPlainData}; the sender also admits null-prototype objects (msgpack writes them as maps). */
function checkPlain(value: unknown, options: CouplerErrorOptions, nullPrototypeOk: boolean): void {
  const stack: [unknown, string, number][] = [[value, '$', 0]];
  let visited = 0;
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (++visited > 1_000_000) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message has too many values', options);
    if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'bigint') continue;
    if (typeof v === 'number') continue;
    if (depth >= MAX_DEPTH) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `message nests deeper than ${MAX_DEPTH} at ${path}`, options);
    if (v instanceof Uint8Array) {
      if (Object.getPrototypeOf(v) !== Uint8Array.prototype && Object.getPrototypeOf(v) !== Buffer.prototype) {
        throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `unexpected byte type at ${path}`, options);
      }
      continue;
    }
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `unexpected array type at ${path}`, options);
      for (let i = 0; i < v.length; i++) stack.push([v[i], `${path}[${i}]`, depth + 1]);
      continue;
    }
    if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || (nullPrototypeOk && Object.getPrototypeOf(v) === null))) {
      for (const key of Object.keys(v)) stack.push([(v as Record<string, unknown>)[key], `${path}.${key.slice(0, 32)}`, depth + 1]);
      continue;
    }
    throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `unexpected ${typeof v === 'object' ? 'object type' : typeof v} at ${path}`, options);
  }
}
