/**
 * review12: the wire codec against an authenticated but malicious peer — hand-made msgpack bytes:
 * deep nesting, declared lengths far beyond the bytes present, extension types, `__proto__` and
 * `constructor` keys, duplicate and non-string keys, 64-bit integers, floats where integers are
 * expected, and the heap estimate of decodeMessageCost. Then the same bytes sent on a real group
 * channel: the receiver drops that peer with a typed error naming it.
 */
import { decodeMessage, decodeMessageCost, DEFAULT_MAX_HEAP_BYTES, encodeMessage, MAX_DEPTH, type PlainData } from '../../src/wire/codec';
import { expectRecord, expectUint } from '../../src/wire/shape';
import { CouplerError, ErrorCode } from '../../src/errors';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const str = (s: string): string => {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 31) throw new Error('short strings only');
  return (0xa0 | b.length).toString(16) + b.toString('hex');
};
const CAP = 1 << 20;

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    if (!(err instanceof CouplerError)) throw err;
    return err.code;
  }
}

const MALFORMED: [string, Uint8Array][] = [
  [`nesting ${MAX_DEPTH + 1} arrays deep`, hex('91'.repeat(MAX_DEPTH + 1) + 'c0')],
  ['nesting 100 000 arrays deep', hex('91'.repeat(100_000) + 'c0')],
  ['array 32 declaring 2^32 - 1 items, 3 present', hex('dd ffffffff c0c0c0')],
  ['map 32 declaring 2^32 - 1 entries', hex('df ffffffff' + str('a') + 'c0')],
  ['str 32 declaring 4 GiB', hex('db ffffffff 61')],
  ['bin 32 declaring 4 GiB', hex('c6 ffffffff 00')],
  ['array 16 declaring 65 535 items, none present', hex('dc ffff')],
  ['fixext 1 (type 0x01)', hex('d4 01 00')],
  ['ext 8 with a msgpackr record type', hex('c7 01 72 00')],
  ['timestamp extension (-1)', hex('d6 ff 00000000')],
  ['the reserved byte 0xc1', hex('c1')],
  ['a map with an integer key', hex('81 01 c0')],
  ['a map with a nil key', hex('81 c0 c0')],
  ['a map with a byte-string key', hex('81 c4 01 61 c0')],
  ['a map with a map key', hex('81 80 c0')],
  ['a map with an array key', hex('81 90 c0')],
  ['trailing bytes', hex('c0 c0')],
  ['empty', new Uint8Array(0)],
  ['truncated float 64', hex('cb 0000')],
];

test.each(MALFORMED)('refused before decoding: %s', (_name, bytes) => {
  expect(codeOf(() => decodeMessage(bytes, CAP, { peer: 'p2' }))).toBe(ErrorCode.FRAME_MALFORMED);
  try {
    decodeMessage(bytes, CAP, { peer: 'p2' });
  } catch (err) {
    expect((err as CouplerError).peer).toBe('p2');
  }
});

test('__proto__ and constructor keys: no prototype pollution, the record is plain, and shape checks refuse the unknown field', () => {
  const bytes = hex('83' + str('__proto__') + '81' + str('polluted') + 'c3' + str('constructor') + '01' + str('r') + str('x'));
  const v = decodeMessage(bytes, CAP, { peer: 'p2' }) as Record<string, unknown>;
  expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
  expect(typeof v.constructor).toBe('number'); // an own data property, nothing inherited replaced
  expect(codeOf(() => expectRecord(v as never, { what: 'round message', peer: 'p2' }, ['r', 'p']))).toBe(ErrorCode.FRAME_MALFORMED);
});

test('duplicate keys: refused (msgpackr kept the last, other decoders read the first: two views of one message, review17 R17-6; test/wire/duplicate-keys.test.ts)', () => {
  expect(codeOf(() => decodeMessage(hex('82' + str('r') + str('a') + str('r') + str('b')), CAP))).toBe(ErrorCode.FRAME_MALFORMED);
});

test('64-bit integers decode as bigint; expectUint accepts only safe in-range values; floats where integers are expected are refused', () => {
  const big = decodeMessage(hex('cf ffffffffffffffff'), CAP);
  expect(big).toBe(2n ** 64n - 1n);
  const ctx = { what: 'x', peer: 'p2' };
  expect(codeOf(() => expectUint(big as bigint, 'n', ctx))).toBe(ErrorCode.FRAME_MALFORMED);
  expect(expectUint(decodeMessage(hex('cf 0000000000000005'), CAP) as bigint, 'n', ctx)).toBe(5);
  for (const f of ['cb 3ff8000000000000' /* 1.5 */, 'cb 7ff8000000000000' /* NaN */, 'cb 7ff0000000000000' /* Inf */, 'cb c000000000000000' /* -2 */]) {
    expect(codeOf(() => expectUint(decodeMessage(hex(f), CAP) as number, 'n', ctx))).toBe(ErrorCode.FRAME_MALFORMED);
  }
  // An integer-valued float is that integer.
  expect(expectUint(decodeMessage(hex('ca 4b800000'), CAP) as number, 'n', ctx)).toBe(2 ** 24);
  expect(codeOf(() => expectUint(decodeMessage(hex('d3 ffffffffffffffff'), CAP) as bigint, 'n', ctx))).toBe(ErrorCode.FRAME_MALFORMED);
});

test('decode cost: messages whose decoded heap would exceed the cap are refused before msgpackr builds anything', () => {
  // 1 MiB of empty maps in one array (each 1 byte): ~1 M maps, ~160 MiB of heap if built.
  const n = 1 << 20;
  const maps = new Uint8Array(5 + n);
  maps.set(hex('dd 00100000'), 0);
  maps.fill(0x80, 5);
  expect(codeOf(() => decodeMessageCost(maps, 2 << 20, { peer: 'p2' }, { maxValues: 2 << 20 }))).toBe(ErrorCode.FRAME_TOO_LARGE);
  // Maps keyed by array indices near 1023: each 7 bytes allocates element storage up to index 1023.
  const keyed = new Uint8Array(5 + 7 * 20_000);
  keyed.set(hex('dd 00004e20'), 0);
  for (let i = 0; i < 20_000; i++) keyed.set(hex('81 a4 31303233 c0'), 5 + 7 * i);
  const cost = codeOf(() => decodeMessageCost(keyed, 1 << 20, { peer: 'p2' }));
  expect(cost).toBe(ErrorCode.FRAME_TOO_LARGE);
  // What is admitted is charged: 100 000 empty byte strings (Buffer views) are ~100 bytes each.
  const okFixed = new Uint8Array(5 + 200_000);
  okFixed.set(hex('dd 000186a0'), 0);
  for (let i = 0; i < 100_000; i++) okFixed.set(hex('c4 00'), 5 + 2 * i);
  const { heapBytes } = decodeMessageCost(okFixed, 1 << 20, {}, { maxValues: 1 << 18 });
  expect(heapBytes).toBeGreaterThan(100_000 * 100);
  expect(heapBytes).toBeLessThanOrEqual(DEFAULT_MAX_HEAP_BYTES);
});

/**
 * R12-5 (low): a float64 -0 passes expectUint as an integer and comes back as -0, not 0: equal
 * under ===, but not the same value (Object.is, 1 / x, a float when re-encoded), so two receivers
 * of "0" and "-0" hold values that compare equal yet encode differently.
 */
test('R12-5: expectUint turns a float -0 into the integer 0', () => {
  const v = decodeMessage(hex('cb 8000000000000000'), CAP) as number;
  expect(Object.is(v, -0)).toBe(true);
  expect(Object.is(expectUint(v, 'n', { what: 'x', peer: 'p2' }), 0)).toBe(true);
});

/**
 * R12-7 (low): a map with an own `__proto__` key (JSON.parse makes one) was encoded as is, and every
 * receiver's msgpackr renames that key to `__proto_`: the payload arrived changed, silently. The
 * sender must refuse it instead.
 */
test('R12-7: encodeMessage refuses an own __proto__ key (it would arrive renamed), at any depth', () => {
  for (const text of ['{"__proto__": {"x": 1}, "a": 2}', '{"a": [{"__proto__": 1}]}']) {
    const v = JSON.parse(text) as PlainData;
    let caught: unknown;
    let echoed: unknown;
    try {
      echoed = decodeMessage(encodeMessage(v), CAP);
    } catch (err) {
      caught = err;
    }
    expect([text, echoed === undefined ? undefined : JSON.stringify(echoed), (caught as CouplerError | undefined)?.code]).toEqual([text, undefined, ErrorCode.FRAME_MALFORMED]);
  }
  // A key merely containing it is fine.
  expect(decodeMessage(encodeMessage({ '__proto__x': 1 }), CAP)).toEqual({ '__proto__x': 1 });
});

/**
 * R12-7b (low), the same class: a string with a lone surrogate (not valid Unicode) is encoded as
 * UTF-8 with U+FFFD in its place, so the receiver gets another string, silently — as a value or as
 * a map key. The sender must refuse it.
 */
test('R12-7b: encodeMessage refuses strings and map keys that are not well-formed Unicode', () => {
  for (const v of ['\ud800', 'a\udc00b', { k: ['x', '\ud83d'] }, { ['\udfff']: 1 }] as PlainData[]) {
    expect(codeOf(() => encodeMessage(v))).toBe(ErrorCode.FRAME_MALFORMED);
  }
  // Well-formed astral characters are fine and arrive unchanged.
  expect(decodeMessage(encodeMessage({ '\ud83d\ude00': '\ud83d\ude00' }), CAP)).toEqual({ '\ud83d\ude00': '\ud83d\ude00' });
});
