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

/**
 * Heap bytes charged per decoded value by the scan before decoding: what V8 allocates for each kind,
 * including the 8-byte slot that holds the value in its array or object. Measured on Node 20 x64
 * (8-byte slots) by decoding 2^17–2^18 values of one kind with this codec's msgpackr options and
 * comparing `heapUsed` after garbage collection; each constant rounds the worst measurement up.
 * The message bytes themselves are not included (byte strings are views on them).
 */
export const DECODED_HEAP_BYTES = {
  /** nil, true, false, fixint: a tagged slot (measured 8). */
  slot: 8,
  /** Any other number: a HeapNumber or one-digit BigInt plus its slot (measured 24 and 32). */
  number: 40,
  /** A string, plus {@link DECODED_HEAP_BYTES.perStringByte} per UTF-8 byte (measured 28 + length). */
  string: 40,
  /**
   * Per UTF-8 byte of a string: 2, since a string with one character beyond Latin-1 is stored
   * with two bytes per character (ASCII included).
   */
  perStringByte: 2,
  /** A byte string: a Buffer view on the message bytes (measured 104). */
  bytes: 112,
  /** An array, plus its elements (measured 40 empty, 56 with a backing store). */
  array: 64,
  /** A map (measured 64 empty, up to 181 with its own hidden class and one key). */
  map: 160,
  /** Per map entry, besides its key and value: property storage, dictionary entry or hidden class (measured ≤ 130). */
  mapEntry: 128,
  /**
   * Per array index up to the largest key of a map that is an array index below
   * {@link ELEMENTS_GAP} (`{"1000": 0}`: V8 allocates element storage for indices 0 to 1000,
   * measured 12.2 bytes per index, 12.5 kB for 9 wire bytes).
   */
  perIndexKey: 16,
} as const;

/** Keys that are array indices from this one on go to V8's dictionary elements (no storage for the gap). */
export const ELEMENTS_GAP = 1024;

/**
 * Heap one message may take when decoded, by default: 32 MiB. Real messages carry vectors as
 * byte strings and take a few kilobytes of heap; {@link DEFAULT_MAX_VALUES} values of the costliest
 * kinds stay just under this.
 */
export const DEFAULT_MAX_HEAP_BYTES = 32 * 1024 * 1024;

/** Limits of {@link decodeMessage} beyond the byte cap. */
export interface DecodeLimits {
  /** Most values in the message (default {@link DEFAULT_MAX_VALUES}). */
  readonly maxValues?: number;
  /**
   * Most heap the decoded value may take, as estimated from the bytes before decoding
   * ({@link DECODED_HEAP_BYTES}); default {@link DEFAULT_MAX_HEAP_BYTES}.
   */
  readonly maxHeapBytes?: number;
}

/** A decoded message and what it costs to hold. */
export interface DecodedMessage {
  /** The value. */
  readonly value: PlainData;
  /**
   * Estimated heap of `value` ({@link DECODED_HEAP_BYTES}), not counting the message bytes, which
   * its byte strings keep alive.
   */
  readonly heapBytes: number;
}

/** Plain data as admitted from the wire. */
export type PlainData = null | boolean | number | bigint | string | Uint8Array | PlainData[] | { [key: string]: PlainData };

/**
 * Encode plain data to msgpack bytes. The value is checked with {@link assertPlainData} first, so
 * a Date, Set, Map, class instance or non-byte typed array is refused here, at the sender, instead
 * of being sent and making the receiver drop the channel; so are a map with an own `__proto__` key
 * (as `JSON.parse` makes), which receivers would decode renamed, and a string or key with a lone
 * surrogate, which UTF-8 cannot carry.
 * @throws {@link ProtocolError} `FRAME_MALFORMED` if the value is not plain data or cannot be encoded.
 */
export function encodeMessage(value: PlainData): Uint8Array {
  checkPlain(value, {}, true);
  try {
    return packr.pack(value);
  } catch {
    throw cannotEncode();
  }
}

/**
 * The error of a value msgpackr could not write, without msgpackr's error as its cause: that text
 * may hold the value itself ("123…890 was too large to fit…"), and a cause is printed with the
 * error (review19 R19-3). The plain-data walk refuses every case known to reach here first, with a
 * path instead of a value.
 */
function cannotEncode(): ProtocolError {
  return new ProtocolError(ErrorCode.FRAME_MALFORMED, 'value cannot be encoded');
}

/**
 * `encodeMessage({ r: round, p: payload })` for a round name the caller has checked already (1 to
 * 128 printable ASCII characters, so well-formed): the same bytes, with only the payload walked by
 * the plain-data check (the envelope's two constant keys and the checked name need no walk).
 * @throws {@link ProtocolError} `FRAME_MALFORMED` if the payload is not plain data or cannot be encoded.
 * @internal
 */
export function encodeRoundMessage(round: string, payload: PlainData): Uint8Array {
  checkPlain(payload, {}, true, true);
  // A byte string under a short name (the floor's messages, vectors, pieces): msgpackr's exact
  // bytes written here, without its map and string machinery.
  if (payload instanceof Uint8Array && round.length <= 31) return encodeBytesMessage(round, payload);
  try {
    return packr.pack({ r: round, p: payload });
  } catch {
    throw cannotEncode();
  }
}

/**
 * What msgpackr writes for `{ r: round, p: bytes }` with this codec's options (map 16 of two
 * entries, fixstr keys and name, bin 8/16/32), for a name of at most 31 ASCII characters (the
 * caller checked it).
 */
function encodeBytesMessage(round: string, bytes: Uint8Array): Uint8Array {
  const n = round.length;
  const len = bytes.length;
  const head = len < 256 ? 2 : len < 65536 ? 3 : 5;
  const out = Buffer.allocUnsafe(3 + 2 + 1 + n + 2 + head + len);
  out[0] = 0xde; // map 16: two entries
  out[1] = 0;
  out[2] = 2;
  out[3] = 0xa1; // "r"
  out[4] = 0x72;
  out[5] = 0xa0 | n;
  for (let i = 0; i < n; i++) out[6 + i] = round.charCodeAt(i);
  let at = 6 + n;
  out[at++] = 0xa1; // "p"
  out[at++] = 0x70;
  if (head === 2) {
    out[at++] = 0xc4;
    out[at++] = len;
  } else if (head === 3) {
    out[at++] = 0xc5;
    at = out.writeUInt16BE(len, at);
  } else {
    out[at++] = 0xc6;
    at = out.writeUInt32BE(len, at);
  }
  out.set(bytes, at);
  return out;
}

/**
 * The msgpack of `{ r: round, p: [items as byte strings] }` written directly: what
 * `encodeMessage({ r: round, p: items })` encodes, without walking and copying through msgpackr
 * (the group sends one such batch per peer and event-loop turn).
 * @throws {@link ProtocolError} `FRAME_MALFORMED` if `round` is longer than 31 bytes or an item is
 *   not a Uint8Array.
 * @internal
 */
export function encodeBytesList(round: string, items: readonly Uint8Array[]): Uint8Array {
  const name = Buffer.from(round, 'utf8');
  if (name.length > 31) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'batch round name too long');
  let size = 1 + 2 + 1 + name.length + 2 + (items.length < 16 ? 1 : items.length < 65536 ? 3 : 5);
  for (const item of items) {
    if (!isBytes(item)) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'batch item is not a byte string');
    size += item.length + (item.length < 256 ? 2 : item.length < 65536 ? 3 : 5);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = 0x82; // map of 2
  out[at++] = 0xa1; // "r"
  out[at++] = 0x72;
  out[at++] = 0xa0 | name.length;
  out.set(name, at);
  at += name.length;
  out[at++] = 0xa1; // "p"
  out[at++] = 0x70;
  if (items.length < 16) out[at++] = 0x90 | items.length;
  else if (items.length < 65536) {
    out[at++] = 0xdc;
    at = out.writeUInt16BE(items.length, at);
  } else {
    out[at++] = 0xdd;
    at = out.writeUInt32BE(items.length, at);
  }
  for (const item of items) {
    if (item.length < 256) {
      out[at++] = 0xc4;
      out[at++] = item.length;
    } else if (item.length < 65536) {
      out[at++] = 0xc5;
      at = out.writeUInt16BE(item.length, at);
    } else {
      out[at++] = 0xc6;
      at = out.writeUInt32BE(item.length, at);
    }
    out.set(item, at);
    at += item.length;
  }
  return out;
}

/**
 * Decode untrusted msgpack bytes: cap → decode → structural check.
 *
 * @param bytes - the bytes received.
 * @param maxBytes - refuse (without decoding) anything longer.
 * @param options - the peer to name in errors.
 * @param limits - caps on values and decoded heap.
 * @throws {@link ProtocolError} `FRAME_TOO_LARGE` or `FRAME_MALFORMED`.
 */
export function decodeMessage(bytes: Uint8Array, maxBytes: number, options: CouplerErrorOptions = {}, limits: DecodeLimits = {}): PlainData {
  return decodeMessageCost(bytes, maxBytes, options, limits).value;
}

/**
 * {@link decodeMessage}, also returning the estimated heap of the value, for callers that hold
 * decoded messages and must bound what they hold (the group's mailboxes).
 *
 * @param bytes - the bytes received.
 * @param maxBytes - refuse (without decoding) anything longer.
 * @param options - the peer to name in errors.
 * @param limits - caps on values and decoded heap.
 * @throws {@link ProtocolError} `FRAME_TOO_LARGE` (bytes or estimated heap over the cap) or `FRAME_MALFORMED`.
 */
export function decodeMessageCost(bytes: Uint8Array, maxBytes: number, options: CouplerErrorOptions = {}, limits: DecodeLimits = {}): DecodedMessage {
  if (typeof options !== 'object' || options === null) options = {};
  const heapBytes = checkMessage(bytes, maxBytes, options, limits);
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch {
    // Without msgpackr's error as the cause: its text may quote the decoded value (R19-3).
    throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message is not valid msgpack', options);
  }
  // msgpackr keeps the last value of a key that a map holds twice (other decoders the first): such
  // a map reads two ways, and a signed statement in it would be evidence that says two things
  // (review17 R17-6). The walk counts the keys the decoded maps kept; the scan, the keys the bytes
  // declared: any difference is a duplicate. No honest encoder writes one.
  if (checkPlain(value, options, false) !== scanned.mapEntries) throw duplicateKey(options);
  return { value: value as PlainData, heapBytes };
}

function duplicateKey(options: CouplerErrorOptions): ProtocolError {
  return new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message is not valid msgpack: a map holds a key twice', options);
}

/** A round message as {@link decodeRoundMessage} reads it. */
export interface DecodedRoundMessage {
  /** The round name: 1 to 31 printable ASCII characters, no space. */
  readonly round: string;
  /** The payload, plain data. */
  readonly payload: PlainData;
  /** As {@link DecodedMessage.heapBytes}, of the whole message. */
  readonly heapBytes: number;
}

/**
 * A round message in the shape this library's encoder writes it — a map of two entries (map 16 or
 * fixmap), `r` then `p`, the round name a string of 1 to 31 printable ASCII characters without space — decoded with
 * every check of {@link decodeMessageCost} (size cap, the structural scan of the whole message,
 * values and heap caps, plain data), but the envelope read here: msgpackr decodes the payload
 * only (no envelope object, no round string through msgpackr's native string extractor, which
 * it calls for every message of 140 bytes or more), and only the payload is walked by the
 * plain-data check. Undefined when the message has another shape (reserved rounds, which have a
 * space, batches, longer names, other key orders): decode it with {@link decodeMessageCost}.
 *
 * @param bytes - the bytes received.
 * @param maxBytes - refuse (without decoding) anything longer.
 * @param options - the peer to name in errors.
 * @param limits - caps on values and decoded heap.
 * @throws {@link ProtocolError} `FRAME_TOO_LARGE` or `FRAME_MALFORMED`, as {@link decodeMessageCost}.
 * @internal
 */
export function decodeRoundMessage(bytes: Uint8Array, maxBytes: number, options: CouplerErrorOptions = {}, limits: DecodeLimits = {}): DecodedRoundMessage | undefined {
  if (!isBytes(bytes) || bytes.length < 7) return undefined;
  // A map of two entries: map 16 (msgpackr writes every map so) or a fixmap; then the key "r".
  const r = bytes[0] === 0xde && bytes[1] === 0 && bytes[2] === 2 ? 3 : bytes[0] === 0x82 ? 1 : -1;
  if (r < 0 || bytes[r] !== 0xa1 || bytes[r + 1] !== 0x72) return undefined;
  const n = bytes[r + 2]! - 0xa0;
  if (n < 1 || n > 31) return undefined;
  const name = r + 3;
  const at = name + n; // the key "p"
  if (at + 2 >= bytes.length || bytes[at] !== 0xa1 || bytes[at + 1] !== 0x70) return undefined;
  for (let i = name; i < at; i++) {
    const c = bytes[i]!;
    if (c < 0x21 || c > 0x7e) return undefined;
  }
  if (typeof options !== 'object' || options === null) options = {};
  // The whole message, as decodeMessageCost checks it: then the payload is exactly one value.
  const heapBytes = checkMessage(bytes, maxBytes, options, limits);
  let payload: unknown;
  try {
    payload = unpackr.unpack(bytes.subarray(at + 2));
  } catch {
    // Without msgpackr's error as the cause: its text may quote the decoded value (R19-3).
    throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message is not valid msgpack', options);
  }
  // As the payload of an envelope: the same paths in errors as the general path's.
  // The envelope's two keys are in the scan's count (as in decodeMessageCost's duplicate check).
  if (checkPlain(payload, options, false, true) + 2 !== scanned.mapEntries) throw duplicateKey(options);
  return { round: String.fromCharCode.apply(null, bytes.subarray(name, at) as unknown as number[]), payload: payload as PlainData, heapBytes };
}

/**
 * Every check of {@link decodeMessageCost} before msgpackr runs: arguments, the size cap, the
 * structural scan, the heap cap.
 * @returns the estimated heap of the decoded value.
 */
function checkMessage(bytes: Uint8Array, maxBytes: number, options: CouplerErrorOptions, limits: DecodeLimits): number {
  // A cap that is not a number would make the size check below silently pass.
  if (typeof maxBytes !== 'number' || !(maxBytes >= 0)) throw new InvalidArgumentError('"maxBytes" must be a non-negative number');
  if (!isBytes(bytes)) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message is not a byte string', options);
  if (bytes.length > maxBytes) {
    throw new ProtocolError(ErrorCode.FRAME_TOO_LARGE, `message of ${bytes.length} bytes exceeds the cap of ${maxBytes}`, options);
  }
  if (bytes.length === 0) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'empty message', options);
  const maxValues = limits.maxValues ?? DEFAULT_MAX_VALUES;
  if (!Number.isSafeInteger(maxValues) || maxValues < 1) throw new InvalidArgumentError('"maxValues" must be a positive integer');
  const maxHeapBytes = limits.maxHeapBytes ?? DEFAULT_MAX_HEAP_BYTES;
  if (typeof maxHeapBytes !== 'number' || !(maxHeapBytes >= 0)) throw new InvalidArgumentError('"maxHeapBytes" must be a non-negative number');
  // Structure first, without allocating: msgpackr builds every value it reads (16 MiB of one-byte
  // empty maps became 3 GB of heap), so a message it may not finish must never reach it.
  const heapBytes = scanMessage(bytes, maxValues, options);
  // A few hundred kilobytes of small values decode to tens of megabytes (512 KiB of empty byte
  // strings: 28 MiB of Buffer views): the heap is capped, not only the bytes.
  if (heapBytes > maxHeapBytes) {
    throw new ProtocolError(
      ErrorCode.FRAME_TOO_LARGE,
      `message of ${bytes.length} bytes would take about ${mib(heapBytes)} of heap decoded, over the cap of ${mib(maxHeapBytes)}`,
      options,
    );
  }
  return heapBytes;
}

/** The array index (0 to {@link ELEMENTS_GAP} − 1) that the `n` bytes at `at` spell in decimal, else −1. */
function smallArrayIndex(bytes: Uint8Array, at: number, n: number): number {
  if (n === 0 || (n > 1 && bytes[at] === 0x30)) return -1;
  let value = 0;
  for (let i = at; i < at + n; i++) {
    const d = bytes[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value < ELEMENTS_GAP ? value : -1;
}

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;

/**
 * Walk msgpack bytes without decoding them: exactly one top-level value filling the bytes, nesting
 * at most {@link MAX_DEPTH}, at most `maxValues` values, every declared length within the bytes
 * left, only the types plain data uses (no extension types, no reserved byte 0xc1).
 * @returns the heap the decoded value would take, estimated with {@link DECODED_HEAP_BYTES}.
 * @throws {@link ProtocolError} `FRAME_MALFORMED`.
 * @internal exported for tests.
 */
export function scanMessage(bytes: Uint8Array, maxValues: number, options: CouplerErrorOptions = {}): number {
  // One loop, no closures: this runs on every message, and a closure per helper per call showed up
  // in profiles of small-message rounds.
  const C = DECODED_HEAP_BYTES;
  const end = bytes.length;
  // pending[d]: values still to read in the container open at depth d (the top level: 1).
  const pending: number[] = [1];
  // keyed[d]: -1 for an array (and the top level); for a map, 1 + the largest array-index key
  // charged so far (0: none).
  const keyed: number[] = [-1];
  let pos = 0;
  let values = 0;
  let heap = 0;
  let mapEntries = 0;
  scanned.mapEntries = -1;
  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      keyed.pop();
      continue;
    }
    // In a map, items alternate key, value: a key when an even number is left.
    const isKey = keyed[top]! >= 0 && (pending[top]! & 1) === 0;
    pending[top]!--;
    if (++values > maxValues) return scanFailed(`more than ${maxValues} values`, options);
    if (pos >= end) return scanFailed('truncated', options);
    const b = bytes[pos++]!;
    // What the type byte announces: a string or byte string of `len` bytes, `items` container
    // items (a map's keys and values), or `len` bytes of a number.
    let len = -1;
    let kind: 'str' | 'bin' | 'array' | 'map' | 'fixed' | 'none' = 'none';
    if (b <= 0x7f || b >= 0xe0) {
      heap += C.slot; // fixint
    } else if (b <= 0x8f) {
      kind = 'map';
      len = b & 0x0f;
    } else if (b <= 0x9f) {
      kind = 'array';
      len = b & 0x0f;
    } else if (b <= 0xbf) {
      kind = 'str';
      len = b & 0x1f;
    } else {
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          heap += C.slot;
          break;
        case 0xc4: // bin 8, 16, 32
        case 0xc5:
        case 0xc6:
        case 0xd9: // str 8, 16, 32
        case 0xda:
        case 0xdb:
        case 0xdc: // array 16, 32
        case 0xdd:
        case 0xde: // map 16, 32
        case 0xdf: {
          const size = b === 0xc4 || b === 0xd9 ? 1 : b === 0xc5 || b === 0xda || b === 0xdc || b === 0xde ? 2 : 4;
          if (size > end - pos) return scanFailed('a length runs past the end', options);
          len = size === 1 ? bytes[pos]! : size === 2 ? (bytes[pos]! << 8) | bytes[pos + 1]! : ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0;
          pos += size;
          kind = b <= 0xc6 ? 'bin' : b <= 0xdb ? 'str' : b <= 0xdd ? 'array' : 'map';
          break;
        }
        case 0xca: // float 32
        case 0xce: // uint 32
        case 0xd2: // int 32
          kind = 'fixed';
          len = 4;
          heap += C.number;
          break;
        case 0xcb: // float 64
        case 0xcf: // uint 64
        case 0xd3: // int 64
          kind = 'fixed';
          len = 8;
          heap += C.number;
          break;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          kind = 'fixed';
          len = 1;
          heap += C.slot;
          break;
        case 0xcd: // uint 16
        case 0xd1: // int 16
          kind = 'fixed';
          len = 2;
          heap += C.slot;
          break;
        default: // 0xc1 (never used), ext and fixext types
          return scanFailed(`type byte 0x${b.toString(16)} is not plain data`, options);
      }
    }
    // msgpackr turns other keys into strings (a number key 500 into "500") or throws; plain data
    // has string keys only.
    if (isKey && kind !== 'str') return scanFailed('a map key is not a string', options);
    if (kind === 'str' || kind === 'bin' || kind === 'fixed') {
      if (len > end - pos) return scanFailed('a length runs past the end', options);
      pos += len;
      if (kind === 'bin') heap += C.bytes;
      else if (kind === 'str') {
        heap += C.string + C.perStringByte * len;
        if (isKey && len <= 4) {
          const index = smallArrayIndex(bytes, pos - len, len);
          if (index >= 0) {
            // An element, not a property: charged as the element storage up to it instead of an entry.
            heap -= C.mapEntry;
            if (index >= keyed[top]!) {
              heap += C.perIndexKey * (index + 1 - keyed[top]!);
              keyed[top] = index + 1;
            }
          }
        }
      }
    } else if (kind === 'array' || kind === 'map') {
      const items = kind === 'map' ? 2 * len : len;
      heap += kind === 'map' ? C.map + C.mapEntry * len : C.array;
      if (kind === 'map') mapEntries += len;
      // Each item takes at least one byte: a count larger than what is left is a lie.
      if (items > end - pos) return scanFailed('a container declares more items than bytes remain', options);
      if (items > 0) {
        if (pending.length > MAX_DEPTH) return scanFailed(`nesting deeper than ${MAX_DEPTH}`, options);
        pending.push(items);
        keyed.push(kind === 'map' ? 0 : -1);
      }
    }
  }
  if (pos !== end) return scanFailed('trailing bytes after the value', options);
  scanned.mapEntries = mapEntries;
  return heap;
}

/**
 * What the latest {@link scanMessage} counted besides the heap: the entries its maps declared
 * (−1 while a scan runs or after one failed). Read right after the scan, with nothing in between
 * that could scan again (everything here is synchronous): one object, not one per message.
 */
const scanned = { mapEntries: -1 };

function scanFailed(why: string, options: CouplerErrorOptions): never {
  throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `message is not valid msgpack: ${why}`, options);
}

/**
 * Check that a decoded value is plain data, iteratively (no recursion on attacker-controlled depth).
 * @throws {@link ProtocolError} `FRAME_MALFORMED` naming the path of the first bad value.
 */
export function assertPlainData(value: unknown, options: CouplerErrorOptions = {}): asserts value is PlainData {
  checkPlain(value, options, false);
}

/**
 * The walk behind {@link assertPlainData}; the sender also admits null-prototype objects (msgpack
 * writes them as maps). Allocates one frame per open container (at most {@link MAX_DEPTH}), not per
 * value: the path of a bad value is built only when one is found.
 */
interface PlainFrame {
  /** The container's values: the array itself, or a map's `Object.values` (one builtin call, then plain indexed reads). */
  items: readonly unknown[];
  /** The map, for the path of a bad value (its keys are read only then); undefined for an array. */
  map: object | undefined;
  next: number;
}

/** The path of the value being checked, `$.key[3]`, from the frames of its containers. */
function plainPath(frames: readonly PlainFrame[]): string {
  return '$' + frames.map((f) => (f.map === undefined ? `[${f.next - 1}]` : `.${mapKey(f.map, f.next - 1).slice(0, 32)}`)).join('');
}

/** The `i`-th own enumerable key of `map` (the order of `Object.values`), or `?` if it cannot be read. */
function mapKey(map: object, i: number): string {
  try {
    return Object.keys(map)[i] ?? '?';
  } catch {
    return '?';
  }
}

function notPlain(what: string, frames: readonly PlainFrame[], options: CouplerErrorOptions): never {
  throw new ProtocolError(ErrorCode.FRAME_MALFORMED, `${what} at ${plainPath(frames)}`, options);
}

/** The range of msgpack's integers (int 64, uint 64). */
const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

/** Whether `s` has no lone surrogate (`String.prototype.isWellFormed`, Node 20+). */
const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * The frame of the envelope `{ r, p }` with its payload being checked (see
 * {@link encodeRoundMessage}): counted in the depth, named in the path (`$.p…`), never advanced
 * (no items left in it).
 */
const ENVELOPE_FRAME: PlainFrame = Object.freeze({ items: Object.freeze([]) as readonly unknown[], map: Object.freeze({ r: 0, p: 0 }), next: 2 });

/** @returns the entries of every map walked (the keys they hold), for the duplicate-key check. */
function checkPlain(value: unknown, options: CouplerErrorOptions, nullPrototypeOk: boolean, inEnvelope = false): number {
  // In an envelope: as if the walk had come from `{ r: <checked name>, p: value }` (two values
  // visited, one level deep), so the same payloads pass and fail, with the same paths.
  const frames: PlainFrame[] = inEnvelope ? [ENVELOPE_FRAME] : [];
  let visited = inEnvelope ? 2 : 0;
  let entries = 0;
  let v: unknown = value;
  for (;;) {
    if (++visited > 1_000_000) throw new ProtocolError(ErrorCode.FRAME_MALFORMED, 'message has too many values', options);
    // The sender only: UTF-8 has no lone surrogates, so msgpackr writes U+FFFD instead and the
    // receiver would get another string (review12 R12-7b).
    if (nullPrototypeOk && typeof v === 'string' && !isWellFormed(v)) notPlain('a string that is not well-formed Unicode (a lone surrogate)', frames, options);
    // The sender only: msgpack integers are 64-bit; msgpackr's refusal quotes the value (R19-3).
    if (nullPrototypeOk && typeof v === 'bigint' && (v < MIN_INT64 || v > MAX_UINT64)) notPlain('a bigint outside the 64-bit range msgpack carries', frames, options);
    if (!(v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'bigint' || typeof v === 'number')) {
      if (frames.length >= MAX_DEPTH) notPlain(`message nests deeper than ${MAX_DEPTH}`, frames, options);
      if (v instanceof Uint8Array) {
        if (Object.getPrototypeOf(v) !== Uint8Array.prototype && Object.getPrototypeOf(v) !== Buffer.prototype) notPlain('unexpected byte type', frames, options);
      } else if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) notPlain('unexpected array type', frames, options);
        if (v.length > 0) frames.push({ items: v, map: undefined, next: 0 });
      } else if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || (nullPrototypeOk && Object.getPrototypeOf(v) === null))) {
        // The sender only: msgpackr renames a received "__proto__" key to "__proto_", so a payload
        // with that own key (JSON.parse makes one) would arrive changed (review12 R12-7).
        if (nullPrototypeOk) {
          if (Object.prototype.hasOwnProperty.call(v, '__proto__')) notPlain('a map key "__proto__" (receivers rename it)', frames, options);
          for (const key of Object.keys(v)) if (!isWellFormed(key)) notPlain('a map key that is not well-formed Unicode (a lone surrogate)', frames, options);
        }
        // Values, not keys then a keyed read per key: maps of many shapes made that read
        // megamorphic (a generic lookup per value on every message).
        const values = Object.values(v);
        entries += values.length;
        if (values.length > 0) frames.push({ items: values, map: v, next: 0 });
      } else notPlain(`unexpected ${typeof v === 'object' ? 'object type' : typeof v}`, frames, options);
    }
    // The next value: the following item of the innermost container not yet finished.
    for (;;) {
      const f = frames[frames.length - 1];
      if (f === undefined) return entries;
      if (f.next < f.items.length) {
        v = f.items[f.next++];
        break;
      }
      frames.pop();
    }
  }
}
