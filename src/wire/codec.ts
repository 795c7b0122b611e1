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

/**
 * Most values (every scalar, string, byte string, array, map, and map key) one message may hold,
 * by default. Checked on the raw bytes before msgpackr allocates anything: decoding then takes at
 * most about this many small JavaScript values (≈ 20 MB of heap), whatever the message size. The
 * protocols send vectors as byte strings (one value each), so real messages hold a few thousand
 * values; {@link DecodeLimits.maxValues} raises the cap where a round legitimately needs more
 * (lists that grow with the number of parties).
 */
export const DEFAULT_MAX_VALUES = 1 << 18;

/** Limits of {@link decodeMessage} beyond the byte cap. */
export interface DecodeLimits {
  /** Most values in the message (default {@link DEFAULT_MAX_VALUES}). */
  readonly maxValues?: number;
}

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
export function decodeMessage(bytes: Uint8Array, maxBytes: number, options: CouplerErrorOptions = {}, limits: DecodeLimits = {}): PlainData {
  // A cap that is not a number would make the size check below silently pass.
  if (typeof maxBytes !== 'number' || !(maxBytes >= 0)) throw new InvalidArgumentError('"maxBytes" must be a non-negative number');
  if (typeof options !== 'object' || options === null) options = {};
  if (!isBytes(bytes)) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message is not a byte string', options);
  if (bytes.length > maxBytes) {
    throw new ProtocolError(ErrorCode.FRAME_TOO_LARGE, `message of ${bytes.length} bytes exceeds the cap of ${maxBytes}`, options);
  }
  if (bytes.length === 0) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'empty message', options);
  const maxValues = limits.maxValues ?? DEFAULT_MAX_VALUES;
  if (!Number.isSafeInteger(maxValues) || maxValues < 1) throw new InvalidArgumentError('"maxValues" must be a positive integer');
  // Structure first, without allocating: msgpackr builds every value it reads (16 MiB of one-byte
  // empty maps became 3 GB of heap), so a message it may not finish must never reach it.
  scanMessage(bytes, maxValues, options);
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
 * Walk msgpack bytes without decoding them: exactly one top-level value filling the bytes, nesting
 * at most {@link MAX_DEPTH}, at most `maxValues` values, every declared length within the bytes
 * left, only the types plain data uses (no extension types, no reserved byte 0xc1).
 * @throws {@link ProtocolError} `FRAME_MALFORMED`.
 * @internal exported for tests.
 */
export function scanMessage(bytes: Uint8Array, maxValues: number, options: CouplerErrorOptions = {}): void {
  const bad = (why: string): never => {
    throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `message is not valid msgpack: ${why}`, options);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  // pending[d]: values still to read in the container open at depth d (the top level: 1).
  const pending: number[] = [1];
  let pos = 0;
  let values = 0;
  const need = (n: number): void => {
    if (n > end - pos) bad('a length runs past the end');
  };
  const skip = (n: number): void => {
    need(n);
    pos += n;
  };
  const open = (items: number): void => {
    // Each item takes at least one byte: a count larger than what is left is a lie.
    if (items > end - pos) bad('a container declares more items than bytes remain');
    if (items === 0) return;
    if (pending.length > MAX_DEPTH) bad(`nesting deeper than ${MAX_DEPTH}`);
    pending.push(items);
  };
  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      continue;
    }
    pending[top]!--;
    if (++values > maxValues) bad(`more than ${maxValues} values`);
    if (pos >= end) bad('truncated');
    const b = bytes[pos++]!;
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) open(2 * (b & 0x0f)); // fixmap: keys and values
    else if (b <= 0x9f) open(b & 0x0f); // fixarray
    else if (b <= 0xbf) skip(b & 0x1f); // fixstr
    else {
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          break;
        case 0xc4: // bin 8
        case 0xd9: // str 8
          need(1);
          skip(bytes[pos++]!);
          break;
        case 0xc5: // bin 16
        case 0xda: // str 16
          need(2);
          pos += 2;
          skip(view.getUint16(pos - 2));
          break;
        case 0xc6: // bin 32
        case 0xdb: // str 32
          need(4);
          pos += 4;
          skip(view.getUint32(pos - 4));
          break;
        case 0xca: // float 32
          skip(4);
          break;
        case 0xcb: // float 64
          skip(8);
          break;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          skip(1);
          break;
        case 0xcd:
        case 0xd1:
          skip(2);
          break;
        case 0xce:
        case 0xd2:
          skip(4);
          break;
        case 0xcf:
        case 0xd3:
          skip(8);
          break;
        case 0xdc: // array 16
          need(2);
          pos += 2;
          open(view.getUint16(pos - 2));
          break;
        case 0xdd: // array 32
          need(4);
          pos += 4;
          open(view.getUint32(pos - 4));
          break;
        case 0xde: // map 16
          need(2);
          pos += 2;
          open(2 * view.getUint16(pos - 2));
          break;
        case 0xdf: // map 32
          need(4);
          pos += 4;
          open(2 * view.getUint32(pos - 4));
          break;
        default: // 0xc1 (never used), ext and fixext types
          bad(`type byte 0x${b.toString(16)} is not plain data`);
      }
    }
  }
  if (pos !== end) bad('trailing bytes after the value');
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
