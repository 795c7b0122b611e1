/**
 * The codec: round trips of plain data, refusal of everything msgpackr can decode that is not
 * plain data, prototype pollution, depth and size caps, hostile headers; fast-check fuzzing of
 * arbitrary bytes. Also the shape helpers.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { CouplerError, ErrorCode, ProtocolError } from '../../src/errors';
import { MAX_DEPTH, assertPlainData, decodeMessage, encodeMessage, type PlainData } from '../../src/wire';
import { encodeBytesList } from '../../src/wire/codec';
import { expectArray, expectBytes, expectLiteral, expectRecord, expectString, expectUint } from '../../src/wire';

const CAP = 1 << 20;
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const str8 = (s: string): number[] => [0xa0 | s.length, ...Buffer.from(s)];

function refused(input: Uint8Array, code: string = ErrorCode.FRAME_MALFORMED, max = CAP): ProtocolError {
  try {
    decodeMessage(input, max, { peer: 'p' });
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as CouplerError).code).toBe(code);
    expect((e as CouplerError).peer).toBe('p');
    return e as ProtocolError;
  }
  throw new Error(`decoded ${Buffer.from(input).toString('hex')} instead of refusing it`);
}

/** Plain data as the codec admits it (no undefined, no -0 surprises, depth below the cap). */
const plain: fc.Arbitrary<PlainData> = fc.letrec<{ v: PlainData }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: false }).filter((d) => !Object.is(d, -0)),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).filter((b) => b < -(2n ** 53n) || b > 2n ** 53n),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 5 }),
  ),
})).v;

function normalise(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(normalise);
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}

describe('round trip', () => {
  it('plain data survives encode -> decode', () => {
    fc.assert(
      fc.property(plain, (v) => {
        const back = decodeMessage(encodeMessage(v), CAP);
        expect(normalise(back)).toEqual(normalise(v));
      }),
      { numRuns: 300 },
    );
  });

  it('byte strings come back as Uint8Array with the same bytes', () => {
    const b = new Uint8Array([0, 1, 2, 255]);
    const back = decodeMessage(encodeMessage({ b }), CAP) as { b: Uint8Array };
    expect(back.b).toBeInstanceOf(Uint8Array);
    expect([...back.b]).toEqual([0, 1, 2, 255]);
  });
});

describe('fuzz: arbitrary bytes', () => {
  it('returns plain data or throws ProtocolError FRAME_MALFORMED / FRAME_TOO_LARGE, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 256 }), (input, max) => {
        try {
          const v = decodeMessage(input, max);
          expect(() => assertPlainData(v)).not.toThrow();
          expect(input.length).toBeLessThanOrEqual(max);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect([ErrorCode.FRAME_MALFORMED, ErrorCode.FRAME_TOO_LARGE]).toContain((e as CouplerError).code);
          if (input.length > max) expect((e as CouplerError).code).toBe(ErrorCode.FRAME_TOO_LARGE);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('msgpack-shaped inputs (valid prefixes and random ext types) are refused or plain', () => {
    const ext = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 20 })).map(([type, data]) => bytes(0xc7, data.length, type, ...data));
    const mutated = fc.tuple(plain, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, i, b]) => {
      const enc = new Uint8Array(encodeMessage(v));
      if (enc.length > 0) enc[i % enc.length] = b;
      return enc;
    });
    fc.assert(
      fc.property(fc.oneof(ext, mutated), (input) => {
        try {
          assertPlainData(decodeMessage(input, CAP));
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect((e as CouplerError).code).toBe(ErrorCode.FRAME_MALFORMED);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('refuses non-plain values msgpackr would build', () => {
  // Encoded by a permissive msgpackr, i.e. exactly what a hostile peer can send.
  const permissive = new Packr({ moreTypes: true, structuredClone: true, useRecords: false });
  const cases: [string, unknown][] = [
    ['Set (ext 0x73)', new Set([1, 2])],
    ['Date (timestamp ext 0xff)', new Date(0)],
    ['RegExp (ext 0x78)', /a+/g],
    ['Error (ext 0x65)', new Error('boom')],
    ['TypeError (ext 0x65)', new TypeError('boom')],
  ];
  // Typed arrays: the bytes a permissive msgpackr (moreTypes) writes in plain node; under jest's
  // sandboxed globals it would fall back to maps, so the encodings are spelled out.
  const typed: [string, string][] = [
    ['Float32Array (ext 0x74)', 'c70974070000803f00000040'],
    ['Float64Array (ext 0x74)', 'c7097408000000000000f03f'],
    ['Int8Array (ext 0x74)', 'c702740001'],
    ['Uint16Array (ext 0x74)', 'c70374040100'],
    ['Uint32Array(0) (fixext1 0x74)', 'd47406'],
  ];
  for (const [name, hex] of typed) {
    it(name, () => {
      refused(new Uint8Array(Buffer.from(hex, 'hex')));
      refused(new Uint8Array(Buffer.from(`81a178${hex}`, 'hex'))); // { x: <typed array> }
    });
  }
  for (const [name, value] of cases) {
    it(name, () => {
      const enc = permissive.pack(value);
      refused(enc);
      // Nested inside plain data, too.
      refused(permissive.pack({ ok: [1, { deep: value }] }));
    });
  }

  it('a Uint8Array sent as ext 0x74 instead of bin is at most a genuine Uint8Array', () => {
    let v: unknown;
    try {
      v = decodeMessage(new Uint8Array(Buffer.from('c702740101', 'hex')), CAP);
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      return;
    }
    expect(ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === Uint8Array.prototype || Buffer.isBuffer(v)).toBe(true);
    expect([...(v as Uint8Array)]).toEqual([1]);
  });

  it('hand-built extension bytes', () => {
    refused(bytes(0xd4, 0x73, 0x90)); // Set of []
    refused(bytes(0xd6, 0xff, 0, 0, 0, 1)); // timestamp 32
    refused(bytes(0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 1)); // timestamp 64
    refused(bytes(0xc7, 12, 0xff, ...new Array(12).fill(0))); // timestamp 96
    refused(bytes(0xc7, 5, 0x78, 0x92, ...str8('a'), 0xa0)); // RegExp('a')
    refused(bytes(0xc7, 9, 0x65, 0x92, ...str8('Error'), 0xa1, 0x78)); // Error
    refused(bytes(0xc7, 5, 0x74, 0x04, 0, 0, 0, 0)); // typed array
    refused(bytes(0xd4, 0x05, 0x00)); // unknown ext
    refused(bytes(0xc1)); // never-used byte
  });

  it('encodeMessage refuses non-plain input at the sender, naming where it is', () => {
    for (const v of [new Set([1]), new Date(0), /x/, new Map([[1, 2]]), new Float32Array(2), { a: [1, new Date(0)] }, () => 1, undefined]) {
      expect(() => encodeMessage(v as unknown as PlainData)).toThrow(ProtocolError);
    }
    expect(() => encodeMessage({ a: [1, new Date(0)] } as unknown as PlainData)).toThrow(/\$\.a\[1\]/);
    // Plain data still round-trips.
    expect(decodeMessage(encodeMessage({ a: [1, 'x', null, true, 2n, new Uint8Array([1])] }), CAP)).toEqual({ a: [1, 'x', null, true, 2n, new Uint8Array([1])] });
  });
});

describe('prototype pollution', () => {
  it('__proto__, constructor and prototype keys do not pollute Object.prototype or change the result prototype', () => {
    const mk = (key: string): Uint8Array => bytes(0x81, ...str8(key), 0x81, ...str8('polluted'), 0xc3);
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      let v: unknown;
      try {
        v = decodeMessage(mk(key), CAP);
      } catch (e) {
        expect(e).toBeInstanceOf(ProtocolError);
        continue;
      }
      expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((v as Record<string, unknown>).polluted).toBeUndefined();
    }
    // Nested, and inside an array.
    const nested = bytes(0x91, 0x81, ...str8('a'), 0x81, ...str8('__proto__'), 0x81, ...str8('polluted'), 0xc3);
    try {
      decodeMessage(nested, CAP);
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('assertPlainData refuses objects with another prototype', () => {
    const evil = JSON.parse('{"__proto__": {"x": 1}}') as object;
    expect(() => assertPlainData({ a: Object.create({ x: 1 }) })).toThrow(ProtocolError);
    expect(() => assertPlainData(Object.create(null))).toThrow(ProtocolError);
    expect(() => assertPlainData(evil)).not.toThrow(); // JSON.parse makes an own "__proto__" key: still plain
  });
});

describe('caps', () => {
  const nestArrays = (n: number): Uint8Array => bytes(...new Array(n).fill(0x91), 0x01);
  const nestMaps = (n: number): Uint8Array => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(0x81, 0xa1, 0x6b);
    out.push(0x01);
    return new Uint8Array(out);
  };

  it(`accepts nesting of ${MAX_DEPTH} containers and refuses ${MAX_DEPTH + 1}`, () => {
    expect(() => decodeMessage(nestArrays(MAX_DEPTH), CAP)).not.toThrow();
    expect(refused(nestArrays(MAX_DEPTH + 1)).message).toMatch(/deeper/);
    expect(() => decodeMessage(nestMaps(MAX_DEPTH), CAP)).not.toThrow();
    refused(nestMaps(MAX_DEPTH + 1));
  });

  it('very deep nesting (100k levels) is refused, not a crash', () => {
    refused(nestArrays(100_000));
    refused(nestMaps(30_000));
  });

  it('headers claiming 2^32-1 items/bytes in a tiny buffer are refused quickly', () => {
    const huge = [0xff, 0xff, 0xff, 0xff];
    for (const h of [bytes(0xdd, ...huge), bytes(0xdf, ...huge), bytes(0xdb, ...huge, 0x41), bytes(0xc6, ...huge, 1, 2), bytes(0xc9, ...huge, 0x01, 0)]) {
      refused(h);
    }
    // Array with 2^16-1 claimed items but no bodies.
    refused(bytes(0xdc, 0xff, 0xff));
  }, 2000);

  it('checks the cap before decoding (a valid message one byte over the cap is FRAME_TOO_LARGE)', () => {
    const enc = encodeMessage({ a: 'x'.repeat(100) });
    expect(() => decodeMessage(enc, enc.length)).not.toThrow();
    refused(enc, ErrorCode.FRAME_TOO_LARGE, enc.length - 1);
    // Garbage over the cap is TOO_LARGE, not MALFORMED: the decoder never saw it.
    refused(new Uint8Array(101).fill(0xc1), ErrorCode.FRAME_TOO_LARGE, 100);
  });

  it('refuses empty input and trailing bytes', () => {
    refused(new Uint8Array(0));
    refused(bytes(0x01, 0x02));
    refused(bytes(0x90, 0x90));
  });

  it('refuses a message with too many values', () => {
    // 1.1 million nils in arrays of 65535: small on the wire, many values.
    const parts: number[] = [0xdc, 0x00, 0x12];
    const inner = [0xdc, 0xff, 0xff, ...new Array(65535).fill(0xc0)];
    for (let i = 0; i < 18; i++) parts.push(...inner);
    refused(new Uint8Array(parts), ErrorCode.FRAME_MALFORMED, 4 << 20);
  });
});

describe('shape helpers', () => {
  const ctx = { what: 'test', peer: 'p' };
  const fails = (fn: () => unknown, re: RegExp): void => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as CouplerError).code).toBe(ErrorCode.FRAME_MALFORMED);
      expect((e as CouplerError).peer).toBe('p');
      expect((e as Error).message).toMatch(re);
      return;
    }
    throw new Error('expected a ProtocolError');
  };
  it('expectRecord refuses non-maps and unknown fields', () => {
    expect(expectRecord({ a: 1 }, ctx, ['a'])).toEqual({ a: 1 });
    fails(() => expectRecord([], ctx, []), /map/);
    fails(() => expectRecord(new Uint8Array(1), ctx, []), /map/);
    fails(() => expectRecord({ b: 1 }, ctx, ['a']), /"b"/);
  });
  it('expectString / expectBytes / expectUint / expectArray / expectLiteral', () => {
    expect(expectString('ab', 'f', ctx, 2)).toBe('ab');
    fails(() => expectString('abc', 'f', ctx, 2), /"f"/);
    fails(() => expectString('a b', 'f', ctx, 10, /^\S+$/), /malformed/);
    fails(() => expectString(1, 'f', ctx), /"f"/);
    expect(expectBytes(new Uint8Array(3), 'b', ctx, 3)).toHaveLength(3);
    fails(() => expectBytes(new Uint8Array(2), 'b', ctx, 3), /3 bytes/);
    fails(() => expectBytes(new Uint8Array(5), 'b', ctx, undefined, 4), /longer/);
    fails(() => expectBytes('x', 'b', ctx), /bytes/);
    expect(expectUint(5, 'n', ctx, 10)).toBe(5);
    expect(expectUint(5n, 'n', ctx, 10)).toBe(5);
    for (const bad of [-1, 1.5, NaN, 11, 11n, -1n, '1', null]) fails(() => expectUint(bad as PlainData, 'n', ctx, 10), /"n"/);
    expect(expectArray([1], 'a', ctx, 1)).toEqual([1]);
    fails(() => expectArray([1, 2], 'a', ctx, 1), /more than/);
    fails(() => expectArray({}, 'a', ctx, 1), /array/);
    expect(expectLiteral('x', 'l', ctx, ['x', 'y'])).toBe('x');
    fails(() => expectLiteral('z', 'l', ctx, ['x', 'y']), /one of/);
  });
});

describe('encodeBytesList (the group batch, written without msgpackr)', () => {
  it('gives the bytes encodeMessage gives for {r, p: [byte strings]} at every length boundary (but a fixmap header where msgpackr writes map 16)', () => {
    const sizes = [0, 1, 255, 256, 65535, 65536];
    for (const count of [0, 1, 2, 6, 15, 16, 300]) {
      const items = Array.from({ length: count }, (_, i) => new Uint8Array(count === 300 ? i % 3 : sizes[i % sizes.length]!).fill(i & 0xff));
      const direct = encodeBytesList('coupler batch', items);
      const viaMsgpackr = encodeMessage({ r: 'coupler batch', p: items });
      expect([direct[0], ...viaMsgpackr.subarray(0, 3)]).toEqual([0x82, 0xde, 0x00, 0x02]);
      expect(Buffer.from(direct.subarray(1)).equals(Buffer.from(viaMsgpackr.subarray(3)))).toBe(true);
      expect(decodeMessage(direct, direct.length, {}, { maxValues: 1 << 10 })).toEqual({ r: 'coupler batch', p: items });
    }
  });
  it('refuses a long round name and an item that is not bytes', () => {
    expect(() => encodeBytesList('x'.repeat(32), [])).toThrow(ProtocolError);
    expect(() => encodeBytesList('b', ['no' as unknown as Uint8Array])).toThrow(/not a byte string/);
  });
});
