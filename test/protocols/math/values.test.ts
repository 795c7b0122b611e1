import BigNumber from 'bignumber.js';
import fc from 'fast-check';
import {
  assertShape,
  assertShapesEqual,
  describeShape,
  shapeDigest,
  shapeLength,
  type Shape,
  type SumInput,
} from '../../../src/protocols/math/index';
import { CouplerError, ErrorCode } from '../../../src/errors';

function errorOf(fn: () => unknown): CouplerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CouplerError);
    return e as CouplerError;
  }
  throw new Error('expected an error');
}

describe('describeShape', () => {
  test('scalars, vectors, records (sorted)', () => {
    expect(describeShape(1.5)).toEqual({ kind: 'scalar', entries: [{ name: '', type: 'float', kind: 'scalar', length: 1 }] });
    expect(describeShape(3n).entries[0]!.type).toBe('int');
    expect(describeShape('1.5').entries[0]!.type).toBe('decimal');
    expect(describeShape(new BigNumber(2)).entries[0]!.type).toBe('decimal');
    expect(describeShape(new Float64Array(4))).toEqual({ kind: 'vector', entries: [{ name: '', type: 'float', kind: 'vector', length: 4 }] });
    expect(describeShape([1n, 2n]).entries[0]).toEqual({ name: '', type: 'int', kind: 'vector', length: 2 });
    const s = describeShape({ b: [1, 2], a: 1n, 'Z': '3' });
    expect(s.kind).toBe('record');
    expect(s.entries.map((e) => e.name)).toEqual(['Z', 'a', 'b']);
    expect(shapeLength(s)).toBe(4);
    expect(Object.isFrozen(s)).toBe(true);
    expect(describeShape(Object.assign(Object.create(null) as object, { x: 1 }) as SumInput).kind).toBe('record');
  });

  test('refusals name the place, never the value', () => {
    expect(errorOf(() => describeShape([])).message).toMatch(/empty vector/);
    expect(errorOf(() => describeShape([1, 2n] as unknown as SumInput)).message).toBe('input element 1 is bigint, expected float like element 0');
    expect(errorOf(() => describeShape({ __proto__: 1 } as unknown as SumInput)).code).toBe(ErrorCode.VALUE_INVALID);
    expect(errorOf(() => describeShape(JSON.parse('{"__proto__": 1}') as SumInput)).message).toMatch(/not allowed/);
    expect(errorOf(() => describeShape({ constructor: 1 } as unknown as SumInput)).message).toMatch(/not allowed/);
    expect(errorOf(() => describeShape({ prototype: 1 })).message).toMatch(/not allowed/);
    expect(errorOf(() => describeShape({})).message).toMatch(/empty record/);
    expect(errorOf(() => describeShape({ a: { b: 1 } } as unknown as SumInput)).message).toMatch(/field "a" is object/);
    expect(errorOf(() => describeShape(new Date() as unknown as SumInput)).message).toMatch(/expected a number/);
    expect(errorOf(() => describeShape(new DataView(new ArrayBuffer(8)) as unknown as SumInput)).message).toMatch(/is a DataView; numbers come as number\[\] or a numeric typed array/);
    // Numeric typed arrays are accepted: as floats, or exactly as ints (BigInt64Array).
    expect(describeShape(new Int32Array(2)).entries[0]).toMatchObject({ type: 'float', length: 2 });
    expect(describeShape(new BigUint64Array(3)).entries[0]).toMatchObject({ type: 'int', length: 3 });
    expect(errorOf(() => describeShape({ [Symbol('s')]: 1 } as unknown as SumInput)).message).toMatch(/names must be strings/);
    expect(errorOf(() => describeShape({ ['x'.repeat(300)]: 1 })).message).toMatch(/1\.\.256 characters/);
    const getter = Object.defineProperty({}, 'a', { get: () => 1, enumerable: true }) as SumInput;
    expect(errorOf(() => describeShape(getter)).message).toMatch(/accessor/);
    expect(errorOf(() => describeShape(new Array(5).fill(1), 4)).message).toMatch(/more than the cap 4/);
    expect(errorOf(() => describeShape({ a: [1, 2, 3], b: [1, 2] }, 4)).message).toMatch(/more than 4 elements/);
  });
});

describe('shapes on the wire', () => {
  const shapeArb = fc.oneof(
    fc.constantFrom<SumInput>(1, 2n, '3', [1, 2], [1n], ['1', '2']),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k)), fc.constantFrom<SumInput>(1, 2n, '3', [1, 2, 3]), { minKeys: 1, maxKeys: 6 }),
  );

  test('assertShape accepts what describeShape produces (after a JSON round trip); digest is stable', () => {
    fc.assert(
      fc.property(shapeArb, (input) => {
        const s = describeShape(input as SumInput);
        const wire = JSON.parse(JSON.stringify(s)) as unknown;
        const back = assertShape(wire);
        expect(back).toEqual(s);
        expect(shapeDigest(back)).toBe(shapeDigest(s));
        expect(shapeDigest(s)).toMatch(/^[0-9a-f]{64}$/);
        expect(() => assertShapesEqual(s, back)).not.toThrow();
      }),
    );
  });

  test('digests differ for different shapes', () => {
    const ds = [1, [1], [1, 2], 1n, '1', { a: 1 }, { a: [1] }, { b: 1 }, { a: 1n }].map((x) => shapeDigest(describeShape(x as SumInput)));
    expect(new Set(ds).size).toBe(ds.length);
  });

  test('assertShape refuses malformed or oversized shapes', () => {
    const good = JSON.parse(JSON.stringify(describeShape({ a: [1, 2], b: 1n }))) as { kind: string; entries: Record<string, unknown>[] };
    const mut = (f: (s: typeof good) => void): unknown => {
      const c = JSON.parse(JSON.stringify(good)) as typeof good;
      f(c);
      return c;
    };
    const bad: unknown[] = [
      null,
      [],
      'record',
      mut((s) => (s.kind = 'tensor')),
      mut((s) => ((s as Record<string, unknown>)['extra'] = 1)),
      mut((s) => (s.entries = [])),
      mut((s) => s.entries.reverse()),
      mut((s) => (s.entries[1]!['name'] = 'a')),
      mut((s) => (s.entries[0]!['name'] = '__proto__')),
      mut((s) => (s.entries[0]!['length'] = 1e12)),
      mut((s) => (s.entries[0]!['length'] = 2.5)),
      mut((s) => (s.entries[0]!['length'] = -1)),
      mut((s) => (s.entries[0]!['length'] = '2')),
      mut((s) => (s.entries[0]!['type'] = 'complex')),
      mut((s) => (s.entries[1]!['length'] = 2)), // a scalar of length 2
      mut((s) => (s.entries[0]!['kind'] = 'matrix')),
      mut((s) => delete s.entries[0]!['type']),
      mut((s) => (s.kind = 'scalar')),
      { kind: 'record', entries: Array.from({ length: 5000 }, (_, i) => ({ name: `f${String(i).padStart(5, '0')}`, type: 'int', kind: 'scalar', length: 1 })) },
      { kind: 'vector', entries: [{ name: 'x', type: 'int', kind: 'vector', length: 2 }] },
      { kind: 'vector', entries: [{ name: '', type: 'int', kind: 'scalar', length: 1 }] },
      { kind: 'record', entries: [{ name: 'a', type: 'int', kind: 'vector', length: 2 ** 24 }, { name: 'b', type: 'int', kind: 'scalar', length: 1 }] },
    ];
    for (const b of bad) expect(errorOf(() => assertShape(b)).code).toBe(ErrorCode.VALUE_INVALID);
    expect(() => assertShape(good)).not.toThrow();
    expect(errorOf(() => assertShape(good, 2)).message).toMatch(/more than 2 elements/);
  });

  test('assertShapesEqual names the difference with SHAPE_MISMATCH', () => {
    const a: Shape = describeShape({ a: [1, 2], b: 1n });
    const cases: [SumInput, RegExp][] = [
      [{ a: [1, 2, 3], b: 1n }, /entry 0 has length 2 vs 3/],
      [{ a: [1, 2], b: 1 }, /entry 1 has element type int vs float/],
      [{ a: [1, 2], c: 1n }, /entry 1 is named "b" vs "c"/],
      [{ a: [1, 2] }, /2 vs 1 entries/],
      [[1, 2], /kind record vs vector/],
    ];
    for (const [other, re] of cases) {
      const e = errorOf(() => assertShapesEqual(a, describeShape(other)));
      expect(e.code).toBe(ErrorCode.SHAPE_MISMATCH);
      expect(e.message).toMatch(re);
    }
  });
});

describe('assertShape remembers only the shapes it made (deeply frozen)', () => {
  test('its own output comes back as is; a caller\'s object is checked again every time, also after a change', () => {
    const mine = { kind: 'vector', entries: [{ name: '', type: 'float', kind: 'vector', length: 2 }] };
    const out = assertShape(mine);
    expect(out).not.toBe(mine);
    expect(Object.isFrozen(out) && Object.isFrozen(out.entries) && Object.isFrozen(out.entries[0])).toBe(true);
    expect(assertShape(out)).toBe(out);
    mine.entries[0]!.length = 0;
    expect(() => assertShape(mine)).toThrow(/length must be an integer/);
    mine.entries[0]!.length = 3;
    expect(assertShape(mine).entries[0]!.length).toBe(3);
  });

  test('a remembered shape is still refused under a smaller cap, with the same message as the first time', () => {
    const out = assertShape({ kind: 'vector', entries: [{ name: '', type: 'int', kind: 'vector', length: 5 }] }, 10);
    const fresh = (): unknown => ({ kind: 'vector', entries: [{ name: '', type: 'int', kind: 'vector', length: 5 }] });
    const msg = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(msg(() => assertShape(out, 4))).toBe(msg(() => assertShape(fresh(), 4)));
    expect(msg(() => assertShape(out, 4))).toMatch(/length must be an integer in \[1, 4\]/);
    expect(assertShape(out, 5)).toBe(out);
  });
});
