/**
 * The heap estimate of the decode scan (DECODED_HEAP_BYTES) is an upper bound of what decoding
 * really allocates, for every kind of value a peer can send, including the shapes that amplify
 * most (empty byte strings, empty containers, maps with a key of their own). The group's
 * mailboxes charge peers this estimate, so an estimate below the truth would let a peer hold more
 * heap than its budget. Measured: heapUsed after garbage collection, with the value kept alive.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Packr } from 'msgpackr';
import { decodeMessageCost, encodeMessage, type PlainData } from '../../src/wire/codec';
import { ErrorCode, ProtocolError } from '../../src/errors';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const N = 1 << 16;
const many = <T>(make: (i: number) => T, count = N): T[] => Array.from({ length: count }, (_, i) => make(i));
/** msgpackr as a hostile sender may use it (any key type), not through encodeMessage. */
const rawPackr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false, variableMapSize: true });

const shapes: [string, () => Uint8Array][] = [
  ['empty byte strings', () => encodeMessage(many(() => new Uint8Array(0)))],
  ['32-byte byte strings', () => encodeMessage(many(() => new Uint8Array(32)))],
  ['fixints', () => encodeMessage(many((i) => i % 100))],
  ['nulls', () => encodeMessage(many(() => null))],
  ['floats', () => encodeMessage(many((i) => i + 0.5))],
  ['uint32 above 2^31', () => encodeMessage(many((i) => 2 ** 31 + i))],
  ['64-bit integers (bigint)', () => encodeMessage(many((i) => 2n ** 63n - BigInt(i)))],
  ['random 6-character strings', () => encodeMessage(many(() => Math.random().toString(36).slice(2, 8)))],
  ['3-byte UTF-8 strings', () => encodeMessage(many((i) => `€€€${i}`))],
  ['ASCII strings with one non-Latin-1 character (two bytes per character)', () => encodeMessage(many((i) => `${'a'.repeat(40)}${i}€`))],
  ['empty arrays', () => encodeMessage(many(() => []))],
  ['one-element arrays', () => encodeMessage(many(() => [1]))],
  ['empty maps', () => encodeMessage(many(() => ({})))],
  ['maps with a key of their own', () => encodeMessage(many((i) => ({ [`k${i}`]: 0 }), N / 4))],
  ['maps with two keys of their own', () => encodeMessage(many((i) => ({ [`a${i}`]: 0, [`b${i}`]: 0 }), N / 4))],
  ['one map of many keys', () => encodeMessage(Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`key${i}`, i])))],
  ['maps with a sparse index key', () => encodeMessage(many((i) => ({ [String(4_000_000_000 - i * 7919)]: 0 }), N / 4))],
  ['maps with the key "1000" (element storage for indices 0 to 1000)', () => encodeMessage(many(() => ({ '1000': 0 }), N / 64))],
  ['maps with the key "1023"', () => encodeMessage(many(() => ({ '1023': 0 }), N / 64))],
  ['maps with keys "0" to "99" ascending', () => encodeMessage(many(() => Object.fromEntries(Array.from({ length: 100 }, (_, k) => [String(k), k])), N / 64))],
  ['maps with keys "500" down to "0"', () => encodeMessage(many(() => Object.fromEntries(Array.from({ length: 50 }, (_, k) => [String(500 - 10 * k), k])), N / 64))],
  ['nested empty containers', () => encodeMessage(many(() => [[[]], {}], N / 4))],
];

test.each(shapes)('%s: the scan estimate is at least the heap decoding takes', (_name, make) => {
  const bytes = make();
  // Once before measuring: the first run of a decoding path compiles code that stays on the heap.
  decodeMessageCost(bytes, bytes.length, {}, { maxValues: 1 << 20, maxHeapBytes: 1 << 30 });
  // The least of three readings: code the optimizing compiler installs between two readings (its
  // timing varies with the machine's load) is not the decoded value's; an estimate below the
  // truth shows in every reading.
  // The upper-bound check takes the least reading, the lower-bound check the greatest: a reading
  // can be off either way (compiled code installed, or other garbage collected, in between).
  let used = Infinity;
  let usedMax = -Infinity;
  let heapBytes = 0;
  const kept: unknown[] = []; // every decoded value stays alive until the end
  for (let k = 0; k < 3; k++) {
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const decoded = decodeMessageCost(bytes, bytes.length, {}, { maxValues: 1 << 20, maxHeapBytes: 1 << 30 });
    kept.push(decoded.value);
    collectGarbage();
    const reading = process.memoryUsage().heapUsed - before;
    used = Math.min(used, reading);
    usedMax = Math.max(usedMax, reading);
    heapBytes = decoded.heapBytes;
  }
  expect(kept.every((v) => v !== undefined)).toBe(true);
  // Some slack for unrelated allocations between the two readings (jest, timers).
  expect(used).toBeLessThanOrEqual(heapBytes + 256 * 1024);
  // And not wildly above it: the budget must not refuse honest messages for nothing.
  expect(heapBytes).toBeLessThan(Math.max(6 * usedMax, 1 << 20));
});

test('a map key that is not a string (msgpackr would make "1000" of the number 1000) is refused', () => {
  for (const key of [1000, 1.5, true, null]) {
    const bytes = rawPackr.pack(new Map([[key, 0]]));
    expect(() => decodeMessageCost(bytes, bytes.length, { peer: 'p2' })).toThrow(/map key is not a string/);
  }
});

test('a message whose estimate exceeds maxHeapBytes is refused before decoding, naming the peer', () => {
  const bytes = encodeMessage(many(() => new Uint8Array(0)) as PlainData);
  let err: unknown;
  try {
    decodeMessageCost(bytes, bytes.length, { peer: 'p2' }, { maxHeapBytes: 1 << 19 });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ProtocolError);
  expect((err as ProtocolError).code).toBe(ErrorCode.FRAME_TOO_LARGE);
  expect((err as ProtocolError).peers).toEqual(['p2']);
  expect((err as ProtocolError).message).toMatch(/would take about 7\.0 MiB of heap decoded, over the cap of 0\.5 MiB/);
});
