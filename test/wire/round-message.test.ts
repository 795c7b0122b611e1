/**
 * The round-message fast paths of the codec (perf18: the group's per-message cost) are the
 * general path, only cheaper: `encodeRoundMessage(round, p)` writes the bytes of
 * `encodeMessage({ r: round, p })` and refuses what it refuses, with the same error;
 * `decodeRoundMessage` either declines (another shape) or returns what `decodeMessageCost` returns
 * — the same round, payload and heap estimate — and throws what it throws, for well-formed and
 * for damaged bytes, under every cap.
 */
import fc from 'fast-check';
import { ROUND_PATTERN } from '../../src/group/inbound';
import { CouplerError } from '../../src/errors';
import { decodeMessageCost, decodeRoundMessage, encodeMessage, encodeRoundMessage, MAX_DEPTH, type DecodeLimits, type PlainData } from '../../src/wire/codec';

const plain: fc.Arbitrary<PlainData> = fc.letrec<{ v: PlainData }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 4 }),
  ),
})).v;

const roundName = fc.oneof(
  fc.stringMatching(/^[\x21-\x7e]{1,40}$/),
  fc.constantFrom('x.1/r', 'secureSum.3/shape/v', 'a'.repeat(31), 'a'.repeat(32), 'coupler batch', 'é/1', ''),
);

type Outcome = { ok: unknown } | { err: string };
const outcome = (f: () => unknown): Outcome => {
  try {
    return { ok: f() };
  } catch (e) {
    return { err: e instanceof CouplerError ? `${e.code}: ${e.message}` : `${(e as Error)?.name}: ${(e as Error)?.message}` };
  }
};

test('encodeRoundMessage writes and refuses exactly what encodeMessage({ r, p }) does', () => {
  fc.assert(
    fc.property(roundName, plain, (round, p) => {
      fc.pre(ROUND_PATTERN.test(round)); // its precondition: a checked round name
      expect(outcome(() => Buffer.from(encodeRoundMessage(round, p)).toString('hex'))).toEqual(outcome(() => Buffer.from(encodeMessage({ r: round, p })).toString('hex')));
    }),
    { numRuns: 400 },
  );
});

test('encodeRoundMessage writes byte strings of every length class as msgpackr does (bin 8, 16, 32)', () => {
  for (const len of [0, 1, 255, 256, 65535, 65536, 200_000]) {
    for (const round of ['x', 'x.1/r', 'a'.repeat(31), 'a'.repeat(32)]) {
      for (const p of [new Uint8Array(len).fill(len & 255), Buffer.alloc(len, 3)]) {
        expect(Buffer.from(encodeRoundMessage(round, p)).equals(Buffer.from(encodeMessage({ r: round, p })))).toBe(true);
      }
    }
  }
  // A view into a larger buffer: its own bytes only.
  const big = new Uint8Array(100).map((_, i) => i);
  const view = big.subarray(10, 20);
  expect(Buffer.from(encodeRoundMessage('x.1/r', view)).equals(Buffer.from(encodeMessage({ r: 'x.1/r', p: view })))).toBe(true);
});

test('encodeRoundMessage refuses the payloads encodeMessage refuses, with the same error (depth, non-plain values)', () => {
  let deep: PlainData = 1;
  for (let i = 0; i < MAX_DEPTH + 1; i++) {
    deep = [deep];
    for (const p of [deep, { a: deep }]) {
      expect(outcome(() => encodeRoundMessage('x.1/r', p))).toEqual(outcome(() => encodeMessage({ r: 'x.1/r', p })));
    }
  }
  const bad = [new Date(0), new Map(), new Set(), new Float64Array(2), { a: [1, () => 1] }, JSON.parse('{"__proto__": 1}'), '\ud800', { ['\udc00']: 1 }];
  for (const b of bad) {
    expect(outcome(() => encodeRoundMessage('x.1/r', b as PlainData))).toEqual(outcome(() => encodeMessage({ r: 'x.1/r', p: b as PlainData })));
  }
});

const limits = fc.oneof(
  fc.constant<DecodeLimits>({}),
  fc.record<DecodeLimits>({ maxValues: fc.integer({ min: 1, max: 64 }), maxHeapBytes: fc.integer({ min: 0, max: 4096 }) }),
);

/** Bytes: a round message (any name, any payload), possibly damaged. */
const wire = fc
  .tuple(roundName, plain, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.option(fc.nat()), fc.boolean())
  .map(([round, p, flips, cut, fixmap]) => {
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.from(encodeMessage({ r: round, p }));
    } catch {
      bytes = Uint8Array.from(encodeMessage({ r: 'x', p: 1 }));
    }
    // The same map as a fixmap (another encoder's choice): 0x82 for map 16 of two entries.
    if (fixmap && bytes[0] === 0xde && bytes[1] === 0 && bytes[2] === 2) bytes = Uint8Array.of(0x82, ...bytes.subarray(3));
    for (const [at, v] of flips) if (bytes.length > 0) bytes[at % bytes.length] = v;
    return cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
  });

test('decodeRoundMessage declines or agrees with decodeMessageCost: same round, payload, heap estimate, same errors', () => {
  let taken = 0;
  fc.assert(
    fc.property(wire, fc.integer({ min: 0, max: 2048 }), limits, (bytes, maxBytes, lim) => {
      const fast = outcome(() => decodeRoundMessage(bytes, maxBytes, { peer: 'p2' }, lim));
      const general = outcome(() => {
        const { value, heapBytes } = decodeMessageCost(bytes, maxBytes, { peer: 'p2' }, lim);
        const rec = value as Record<string, PlainData>;
        return { round: rec?.r, payload: rec?.p, heapBytes, keys: rec !== null && typeof rec === 'object' ? Object.keys(rec) : [] };
      });
      if ('ok' in fast && fast.ok === undefined) return; // declined: the general path decides
      taken++;
      if ('err' in fast) {
        expect(fast).toEqual(general);
        return;
      }
      // Taken: the general path reads the same envelope, a name the group accepts.
      expect('ok' in general).toBe(true);
      const g = (general as { ok: { round: unknown; payload: unknown; heapBytes: number; keys: string[] } }).ok;
      expect(g.keys).toEqual(['r', 'p']);
      expect(typeof g.round === 'string' && ROUND_PATTERN.test(g.round) && !g.round.includes(' ')).toBe(true);
      expect(fast.ok).toEqual({ round: g.round, payload: g.payload, heapBytes: g.heapBytes });
    }),
    { numRuns: 1500 },
  );
  expect(taken).toBeGreaterThan(100);
});

test('decodeRoundMessage takes the messages the group sends, and declines reserved rounds and long names', () => {
  const take = (r: string): boolean => decodeRoundMessage(encodeMessage({ r, p: new Uint8Array(300) }), 1 << 20) !== undefined;
  expect(take('x.1/0')).toBe(true);
  expect(take('a'.repeat(31))).toBe(true);
  expect(take('a'.repeat(32))).toBe(false);
  for (const reserved of ['coupler batch', 'coupler abort', 'coupler ping', 'coupler pong', 'coupler resume', 'coupler ack']) expect(take(reserved)).toBe(false);
  // A byte string's views stay on the received bytes, as msgpackr's are.
  const bytes = encodeMessage({ r: 'x.1/0', p: new Uint8Array([1, 2, 3]) });
  const got = decodeRoundMessage(bytes, 1 << 20)!;
  expect((got.payload as Uint8Array).buffer).toBe(bytes.buffer);
});
