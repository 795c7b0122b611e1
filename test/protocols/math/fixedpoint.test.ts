import BigNumber from 'bignumber.js';
import fc from 'fast-check';
import {
  P127,
  checkParams,
  decodeField,
  decodeRing64,
  encodeField,
  encodeRing64,
  fAdd,
  r64AddInPlace,
  r64ToBigInts,
  r64Zeros,
  type EncodingParams,
  type SumInput,
} from '../../../src/protocols/math/index';
import { CouplerError, ErrorCode } from '../../../src/errors';
import { _ring64Encoder } from '../../../src/protocols/math/fixedpoint';

const BN64 = BigNumber.clone({ DECIMAL_PLACES: 64 });

/** n inputs of L elements each. */
function matrix<T>(arb: fc.Arbitrary<T>, maxN = 8, maxL = 10) {
  return fc
    .tuple(fc.integer({ min: 1, max: maxN }), fc.integer({ min: 1, max: maxL }))
    .chain(([n, L]) => fc.array(fc.array(arb, { minLength: L, maxLength: L }), { minLength: n, maxLength: n }));
}

function errorOf(fn: () => unknown): CouplerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CouplerError);
    return e as CouplerError;
  }
  throw new Error('expected an error');
}

/** Exact round-half-even(x·2^f) of a double, as a BigInt (reference). */
function refEncode(x: number, f: number): bigint {
  // exact dyadic decomposition
  let m = x;
  let k = 0;
  while (!Number.isInteger(m)) {
    m *= 2;
    k--;
  }
  const M = BigInt(m);
  const s = k + f;
  if (s >= 0) return M << BigInt(s);
  const d = 1n << BigInt(-s);
  let q = M / d; // truncates toward zero
  let rem = M - q * d;
  if (rem < 0n) {
    q -= 1n;
    rem += d;
  }
  const twice = 2n * rem;
  if (twice > d || (twice === d && (q & 1n) === 1n)) q += 1n;
  return q;
}

function sumRing(inputs: SumInput[], p: EncodingParams) {
  const encs = inputs.map((x) => encodeRing64(x, p));
  const acc = r64Zeros(encs[0]!.vector.length / 2);
  for (const e of encs) r64AddInPlace(acc, e.vector);
  return { shape: encs[0]!.shape, out: decodeRing64(encs[0]!.shape, acc, p) };
}

function sumField(inputs: SumInput[], p: EncodingParams) {
  const encs = inputs.map((x) => encodeField(x, p));
  const acc = encs[0]!.elements.map(() => 0n);
  for (const e of encs) e.elements.forEach((v, i) => (acc[i] = fAdd(acc[i]!, v)));
  return decodeField(encs[0]!.shape, acc, p);
}

describe('checkParams', () => {
  test('defaults and the exact inequality boundary', () => {
    expect(checkParams({ parties: 3, modulus: 'ring64' })).toMatchObject({ fractionalBits: 16, bound: 2 ** 31, parties: 3 });
    // ring64: log2 n + log2 B + f + 2 = 2 + 44 + 16 + 2 = 64 → accepted; one more bit → refused
    expect(() => checkParams({ parties: 4, bound: 2 ** 44, fractionalBits: 16, modulus: 'ring64' })).not.toThrow();
    const e = errorOf(() => checkParams({ parties: 4, bound: 2 ** 45, fractionalBits: 16, modulus: 'ring64' }));
    expect(e.code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    expect(e.message).toMatch(/n = 4, B = 35184372088832, f = 16/);
    expect(() => checkParams({ parties: 4, bound: 2 ** 44, fractionalBits: 17, modulus: 'ring64' })).toThrow(/modulus too small/);
    expect(() => checkParams({ parties: 5, bound: 2 ** 44, fractionalBits: 16, modulus: 'ring64' })).toThrow(/modulus too small/);
    // just below the boundary with a fractional bound
    expect(() => checkParams({ parties: 4, bound: 2 ** 44 - 0.5, fractionalBits: 16, modulus: 'ring64' })).not.toThrow();
    expect(() => checkParams({ parties: 4, bound: 2 ** 44 + 2 ** -8, fractionalBits: 16, modulus: 'ring64' })).toThrow(/modulus too small/);
    // p127: p = 2^127 − 1 < 2^127, so exactly 127 bits is one short
    expect(() => checkParams({ parties: 1, bound: 2n ** 125n, fractionalBits: 0, modulus: 'p127' })).toThrow(/modulus too small/);
    expect(() => checkParams({ parties: 1, bound: 2n ** 124n, fractionalBits: 0, modulus: 'p127' })).not.toThrow();
    expect(() => checkParams({ parties: 1, bound: (P127 - 3n) / 4n, fractionalBits: 0, modulus: 'p127' })).not.toThrow();
    expect(() => checkParams({ parties: 1, bound: (P127 + 1n) / 4n, fractionalBits: 0, modulus: 'p127' })).toThrow(/modulus too small/);
  });

  test('refuses malformed parameters with PARAMETERS_UNSAFE', () => {
    const bad: unknown[] = [
      { parties: 0, modulus: 'ring64' },
      { parties: 1.5, modulus: 'ring64' },
      { parties: 3, modulus: 'ring32' },
      { parties: 3, modulus: 'ring64', fractionalBits: 53 },
      { parties: 3, modulus: 'ring64', fractionalBits: -1 },
      { parties: 3, modulus: 'ring64', fractionalBits: 1.5 },
      { parties: 3, modulus: 'ring64', bound: 0 },
      { parties: 3, modulus: 'ring64', bound: -1n },
      { parties: 3, modulus: 'ring64', bound: NaN },
      { parties: 3, modulus: 'ring64', bound: Infinity },
      { parties: 3, modulus: 'ring64', bound: '5' },
    ];
    for (const p of bad) expect(errorOf(() => checkParams(p as EncodingParams)).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    expect(errorOf(() => encodeRing64(1, { parties: 3, modulus: 'p127' })).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
  });
});

describe('float encoding', () => {
  test('exact round-half-even(x·2^f) at every magnitude (no 2^53 limit)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 52 }), fc.double({ noNaN: true, noDefaultInfinity: true }), (f, raw) => {
        const B = 2 ** (62 - f); // n = 1: 0 + (62 − f) + f + 2 = 64
        const p: EncodingParams = { parties: 1, bound: B, fractionalBits: f, modulus: 'ring64' };
        const x = Math.abs(raw) <= B ? raw : raw / 2 ** 1000 > B ? B : (raw % B) || 0;
        const want = refEncode(x, f);
        expect(r64ToBigInts(encodeRing64(x, p).vector)[0]).toBe(BigInt.asUintN(64, want));
        const fp: EncodingParams = { ...p, modulus: 'p127' };
        expect(encodeField(x, fp).elements[0]).toBe(want >= 0n ? want : P127 + want);
      }),
      { numRuns: 2000 },
    );
  });

  test('bounds with B·2^f ≤ 2^51 (rounded by one add and subtract) encode exactly, up to the limit', () => {
    // Float64Array and number[] inputs take separate loops; both must match the exact reference.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 51 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -3, max: 3 }), (f, raw, k) => {
        const B = 2 ** (51 - f);
        const p: EncodingParams = { parties: 1, bound: B, fractionalBits: f, modulus: 'ring64' };
        // raw folded into [−B, B], plus values at the limit and ties next to it
        const folded = Math.abs(raw) <= B ? raw : (raw % B) || 0;
        const xs = [folded, B, -B, B - 0.5 * 2 ** -f, -B + 0.5 * 2 ** -f, (k + 0.5) * 2 ** -f, B - (Math.abs(k) + 0.5) * 2 ** -f];
        const want = xs.map((x) => BigInt.asUintN(64, refEncode(x, f)));
        expect(r64ToBigInts(encodeRing64(Float64Array.from(xs), p).vector)).toEqual(want);
        expect(r64ToBigInts(encodeRing64(xs, p).vector)).toEqual(want);
      }),
      { numRuns: 2000 },
    );
  });

  test('ties round to even', () => {
    const p: EncodingParams = { parties: 3, fractionalBits: 1, modulus: 'ring64' };
    const enc = (x: number) => BigInt.asIntN(64, r64ToBigInts(encodeRing64(x, p).vector)[0]!);
    expect([0.25, 0.75, 1.25, -0.25, -0.75, -1.25].map(enc)).toEqual([0n, 2n, 2n, 0n, -2n, -2n]);
    // f = 0 near the awkward spots of a floor-based rounding: (−0.5, 0), ±0.5, 2^52 ± 0.5
    const p0: EncodingParams = { parties: 1, bound: 2 ** 60, fractionalBits: 0, modulus: 'ring64' };
    const enc0 = (x: number) => BigInt.asIntN(64, r64ToBigInts(encodeRing64(x, p0).vector)[0]!);
    const xs = [-(0.5 - 2 ** -55), -0.5, 0.5, -1.5, 1.5, -2.5, -(2 ** -1074), 0.49999999999999994, 2 ** 52 - 0.5, -(2 ** 52) + 0.5, 2 ** 53 + 2];
    expect(xs.map(enc0)).toEqual(xs.map((x) => refEncode(x, 0)));
    expect(xs.map(enc0)).toEqual([0n, 0n, 0n, -2n, 2n, -2n, 0n, 0n, 2n ** 52n, -(2n ** 52n), 2n ** 53n + 2n]);
  });

  test('sums decode to the sum within n·2^-(f+1), ring64 and p127 alike', () => {
    fc.assert(
      fc.property(
        matrix(fc.double({ min: -1e6, max: 1e6, noNaN: true })),
        fc.integer({ min: 0, max: 30 }),
        fc.boolean(),
        (inputs, f, typed) => {
          const n = inputs.length;
          const p: EncodingParams = { parties: n, bound: 1e6, fractionalBits: f, modulus: 'ring64' };
          const { out } = sumRing(inputs.map((v) => (typed ? Float64Array.from(v) : v)), p);
          const fout = sumField(inputs, { ...p, modulus: 'p127' });
          expect(out).toBeInstanceOf(Float64Array);
          expect(fout).toEqual(out);
          const exact = inputs[0]!.map((_, i) => inputs.reduce((s, v) => s.plus(v[i]!), new BigNumber(0)));
          (out as Float64Array).forEach((got, i) => {
            const err = new BigNumber(got).minus(exact[i]!).abs().toNumber();
            expect(err).toBeLessThanOrEqual(n * 2 ** -(f + 1) + Math.abs(got) * 2 ** -52);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  test('scalars decode to numbers; negative values', () => {
    const p: EncodingParams = { parties: 3, modulus: 'ring64' };
    expect(sumRing([1.5, -2.25, -0.5], p).out).toBe(-1.25);
    expect(sumField([1.5, -2.25, -0.5], { ...p, modulus: 'p127' })).toBe(-1.25);
  });

  test('±B accepted, just past B refused, NaN / ±Infinity refused naming the element', () => {
    const B = 1000;
    const p: EncodingParams = { parties: 3, bound: B, modulus: 'ring64' };
    const pf: EncodingParams = { ...p, modulus: 'p127' };
    expect(sumRing([[B, -B], [B, -B], [B, -B]], p).out).toEqual(Float64Array.from([3 * B, -3 * B]));
    const past = B + 2 ** -40;
    for (const enc of [encodeRing64, encodeField] as const) {
      const pp = enc === encodeRing64 ? p : pf;
      let e = errorOf(() => enc([0, 1, past], pp));
      expect(e.code).toBe(ErrorCode.VALUE_INVALID);
      expect(e.message).toBe('element 2 exceeds the bound |x| ≤ 1000');
      e = errorOf(() => enc(new Float64Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, NaN]), pp));
      expect(e.message).toBe('element 17 is NaN');
      e = errorOf(() => enc({ w: [1, -Infinity] }, pp));
      expect(e.message).toBe('field "w" element 1 is -Infinity');
      e = errorOf(() => enc({ a: 1, z: Infinity }, pp));
      expect(e.message).toBe('field "z" is +Infinity');
      e = errorOf(() => enc(-past, pp));
      expect(e.message).toBe('value exceeds the bound |x| ≤ 1000');
      expect(e.message).not.toContain(String(past));
    }
  });

  test('bigint bound B above 2^53: floats compared exactly', () => {
    const B = 2n ** 60n + 1n; // Number(B) rounds to 2^60, which is ≤ B: allowed
    const p: EncodingParams = { parties: 1, bound: B, fractionalBits: 0, modulus: 'ring64' };
    expect(r64ToBigInts(encodeRing64(2 ** 60, p).vector)).toEqual([2n ** 60n]);
    const B2 = 2n ** 60n - 1n; // Number(B2) rounds up to 2^60 > B2: 2^60 must be refused
    expect(() => encodeRing64(2 ** 60, { ...p, bound: B2 })).toThrow(/exceeds the bound/);
  });
});

describe('int and decimal encoding', () => {
  test('ints are exact and unscaled; sums exact; bound enforced', () => {
    fc.assert(
      fc.property(matrix(fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })), (inputs) => {
        const B = 2n ** 40n;
        const n = inputs.length;
        const p: EncodingParams = { parties: n, bound: B, modulus: 'ring64' };
        const want = inputs[0]!.map((_, i) => inputs.reduce((s, v) => s + v[i]!, 0n));
        expect(sumRing(inputs, p).out).toEqual(want);
        expect(sumField(inputs, { ...p, modulus: 'p127' })).toEqual(want);
      }),
      { numRuns: 100 },
    );
    const p: EncodingParams = { parties: 3, bound: 10, modulus: 'ring64' };
    expect(sumRing([10n, -10n, 10n], p).out).toBe(10n);
    expect(errorOf(() => encodeRing64([1n, 11n], p)).message).toBe('element 1 exceeds the bound |x| ≤ 10');
    expect(errorOf(() => encodeRing64([1n, 2] as unknown as SumInput, p)).message).toMatch(/element 1 is number, expected int/);
  });

  test('decimals: exact sums at scale 10^d, exact decimal output', () => {
    const decArb = fc
      .tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 6 }))
      .map(([m, d]) => new BigNumber(m).shiftedBy(-d).toFixed());
    fc.assert(
      fc.property(matrix(decArb, 6, 5), fc.integer({ min: 0, max: 28 }), (inputs, f) => {
        const n = inputs.length;
        const p: EncodingParams = { parties: n, bound: 1e9, fractionalBits: f, modulus: 'ring64', decimalPlaces: 6 };
        const want = inputs[0]!.map((_, i) => inputs.reduce((s, v) => s.plus(new BN64(v[i]!)), new BN64(0)).toFixed());
        const mixed = inputs.map((v, j) => (j % 2 === 0 ? v : v.map((s) => new BigNumber(s))));
        expect(sumRing(mixed, p).out).toEqual(want);
        expect(sumField(mixed, { ...p, modulus: 'p127' })).toEqual(want);
      }),
      { numRuns: 100 },
    );
  });

  test('decimals: more places than d are refused, never rounded; the 10^d budget is checked', () => {
    const p: EncodingParams = { parties: 3, bound: 100, modulus: 'ring64', decimalPlaces: 2 };
    expect(sumRing(['10.01', '10.01', '10.01'], p).out).toBe('30.03');
    expect(errorOf(() => encodeRing64(['1', '0.001'], p)).message).toBe('element 1 has more than 2 decimal places (raise decimalPlaces)');
    const e = errorOf(() => encodeRing64('1', { parties: 3, bound: 2 ** 31, modulus: 'ring64', decimalPlaces: 30 }));
    expect(e.code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    expect(e.message).toMatch(/d = 30/);
    // floats are unaffected by d
    expect(() => encodeRing64(1.5, { parties: 3, bound: 2 ** 31, modulus: 'ring64', decimalPlaces: 30 })).not.toThrow();
  });

  test('decimal edge cases', () => {
    const p: EncodingParams = { parties: 2, bound: 100, fractionalBits: 2, modulus: 'ring64', decimalPlaces: 3 };
    expect(sumRing(['100', '-100'], p).out).toBe('0');
    expect(sumRing(['0.125', '0.375'], p).out).toBe('0.5');
    expect(sumRing(['1e2', '-.5'], p).out).toBe('99.5');
    expect(errorOf(() => encodeRing64(['1', '100.0000000001'], p)).message).toBe('element 1 exceeds the bound |x| ≤ 100');
    for (const s of ['0x10', 'Infinity', 'NaN', '1,5', ' 1', '', '1e']) {
      expect(errorOf(() => encodeRing64(s, p)).message).toBe('value is not a decimal number string');
    }
    expect(errorOf(() => encodeRing64(new BigNumber(NaN), p)).message).toBe('value is NaN');
    expect(errorOf(() => encodeRing64({ d: new BigNumber(-Infinity) }, p)).message).toBe('field "d" is -Infinity');
    expect(errorOf(() => encodeRing64('1e999999999999', p)).message).toMatch(/Infinity|exceeds/);
    expect(errorOf(() => encodeRing64(['1e-999999', '0'], p)).message).toMatch(/more than 3 decimal places/);
    // a BigNumber from another constructor (clone) is accepted through its exact string
    const Other = BigNumber.clone({ DECIMAL_PLACES: 2, EXPONENTIAL_AT: 1 });
    expect(sumRing([new Other('12.25'), '0'], p).out).toBe('12.25');
  });
});

describe('records', () => {
  test('mixed records round-trip with sorted names and exact types', () => {
    const p: EncodingParams = { parties: 3, bound: 1e6, modulus: 'ring64' };
    const a = { z: 1.5, count: 2n, mean: [1, 2], dec: '0.25', f64: new Float64Array([0.5]), ints: [1n, 2n], decs: ['1', '2.5'] };
    const b = { z: -1, count: 3n, mean: [0.5, -4], dec: '-1.75', f64: new Float64Array([2]), ints: [10n, -2n], decs: ['3', new BigNumber('0.5')] };
    const c = { count: 0n, dec: '0', decs: ['0', '0'], f64: new Float64Array([0]), ints: [0n, 0n], mean: [0, 0], z: 0 };
    const { shape, out } = sumRing([a, b, c], p);
    expect(shape.entries.map((e) => e.name)).toEqual(['count', 'dec', 'decs', 'f64', 'ints', 'mean', 'z']);
    const want = {
      count: 5n,
      dec: '-1.5',
      decs: ['4', '3'],
      f64: Float64Array.from([2.5]),
      ints: [11n, 0n],
      mean: Float64Array.from([1.5, -2]),
      z: 0.5,
    };
    expect(out).toEqual(want);
    expect(Object.keys(out as object)).toEqual(Object.keys(want));
    expect(sumField([a, b, c], { ...p, modulus: 'p127' })).toEqual(want);
  });

  test('decoding in place (reuse) gives what a fresh decode gives, for every field of a record', () => {
    const p: EncodingParams = { parties: 3, bound: 2 ** 40, fractionalBits: 16, modulus: 'ring64' };
    const input = { a: new Float64Array([-(2 ** 40), -1.5, -(2 ** -16), 0, 2 ** 40 - 2 ** -16]), b: 7n, c: [3.25, -1e6, 1e-5], d: -0.5 };
    const { shape, vector } = encodeRing64(input, p);
    const fresh = decodeRing64(shape, vector, p);
    expect(decodeRing64(shape, vector, p, true)).toEqual(fresh);
    expect(fresh).toEqual({ a: Float64Array.from([-(2 ** 40), -1.5, -(2 ** -16), 0, 2 ** 40 - 2 ** -16]), b: 7n, c: Float64Array.from([3.25, -1e6, 2 ** -16]), d: -0.5 });
  });

  test('decode refuses a vector of the wrong length', () => {
    const p: EncodingParams = { parties: 3, modulus: 'ring64' };
    const { shape } = encodeRing64([1, 2], p);
    expect(errorOf(() => decodeRing64(shape, r64Zeros(3), p)).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(errorOf(() => decodeField(shape, [1n], { ...p, modulus: 'p127' })).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('_ring64Encoder: any range of the encoding, block by block', () => {
  const params = { parties: 3, modulus: 'ring64' as const };
  test('every split of a mixed record into blocks rebuilds exactly what encodeRing64 returns (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e4, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }),
        (floats, ints, sizes) => {
          const input = { a: Float64Array.from(floats), b: floats.map((x) => x / 2), c: ints.map((x) => BigInt(x)), d: 1.5, e: floats.map((x) => x.toFixed(2)) };
          const whole = encodeRing64(input, params).vector;
          const enc = _ring64Encoder(input, params);
          expect(enc.length).toBe(whole.length / 2);
          const rebuilt = new Uint32Array(whole.length);
          for (let at = 0, k = 0; at < enc.length; k++) {
            const n = Math.min(sizes[k % sizes.length]!, enc.length - at);
            enc.encodeInto(at, rebuilt.subarray(2 * at, 2 * (at + n)));
            at += n;
          }
          expect(rebuilt).toEqual(whole);
        },
      ),
      { numRuns: 100 },
    );
  });
  test('a range outside the encoding is refused; a changed input gives another encoding or VALUE_INVALID', () => {
    const x = Float64Array.from([1, 2, 3]);
    const enc = _ring64Encoder(x, params);
    expect(() => enc.encodeInto(2, new Uint32Array(4))).toThrow('outside');
    const before = new Uint32Array(6);
    enc.encodeInto(0, before);
    x[1] = 7;
    const after = new Uint32Array(6);
    enc.encodeInto(0, after);
    expect(after).not.toEqual(before);
    x[1] = Number.NaN;
    expect(() => enc.encodeInto(1, new Uint32Array(2))).toThrow(expect.objectContaining({ code: ErrorCode.VALUE_INVALID }));
  });
});

describe('contexts are kept per parameter set: interleaved parameters never borrow each other\'s', () => {
  test('±B, just past B, bigint vs number bounds, negative zero, decimals at several d, in alternation', () => {
    const num: EncodingParams = { parties: 3, bound: 2.5, modulus: 'ring64' };
    const big: EncodingParams = { parties: 3, bound: 2n, modulus: 'ring64' };
    const d2: EncodingParams = { parties: 3, bound: 100, modulus: 'ring64', decimalPlaces: 2 };
    const d4: EncodingParams = { parties: 3, bound: 100, modulus: 'ring64', decimalPlaces: 4 };
    const f0: EncodingParams = { parties: 3, bound: 100, modulus: 'ring64', fractionalBits: 0, decimalPlaces: 2 };
    for (let round = 0; round < 3; round++) {
      // number bound 2.5: ±2.5 accepted, the next double past it refused
      expect(sumRing([2.5, -2.5, 2.5], num).out).toBe(2.5);
      expect(errorOf(() => encodeRing64(2.5 + 2 ** -50, num)).message).toBe('value exceeds the bound |x| ≤ 2.5');
      expect(errorOf(() => encodeRing64(-(2.5 + 2 ** -50), num)).message).toBe('value exceeds the bound |x| ≤ 2.5');
      // bigint bound 2n, the same parties and modulus: 2.5 refused, ±2n and ±2 accepted
      expect(errorOf(() => encodeRing64(2.5, big)).message).toBe('value exceeds the bound |x| ≤ 2n');
      expect(sumRing([2n, -2n, 2n], big).out).toBe(2n);
      expect(errorOf(() => encodeRing64(-3n, big)).message).toBe('value exceeds the bound |x| ≤ 2n');
      expect(sumRing([-2, 2, -2], big).out).toBe(-2);
      // negative zero encodes as zero, and the sum decodes to zero
      expect(r64ToBigInts(encodeRing64(-0, num).vector)).toEqual([0n]);
      expect(Object.is(sumRing([-0, -0, -0], num).out, 0)).toBe(true);
      // decimals: d = 2 refuses a third place that d = 4 takes; decoding scales by each one's 10^d
      expect(errorOf(() => encodeRing64('1.234', d2)).message).toBe('value has more than 2 decimal places (raise decimalPlaces)');
      expect(sumRing(['1.234', '-0.0001', '100'], d4).out).toBe('101.2339');
      expect(sumRing(['0.01', '0.01', '-100'], d2).out).toBe('-99.98');
      expect(sumRing(['-100', '100', '-0'], f0).out).toBe('0');
      expect(sumRing([1.5, 1.5, 1.5], f0).out).toBe(6); // f = 0: each 1.5 rounds half to even, to 2
      expect(sumRing([1.5, 1.5, 1.5], d2).out).toBe(4.5);
    }
  });

  test('maxElements and parties are part of the parameter set', () => {
    const wide: EncodingParams = { parties: 3, modulus: 'ring64', maxElements: 3 };
    const narrow: EncodingParams = { parties: 3, modulus: 'ring64', maxElements: 2 };
    for (let round = 0; round < 2; round++) {
      const { shape, vector } = encodeRing64([1, 2, 3], wide);
      expect(errorOf(() => encodeRing64([1, 2, 3], narrow)).code).toBe(ErrorCode.VALUE_INVALID);
      expect(errorOf(() => decodeRing64(shape, vector, narrow)).code).toBe(ErrorCode.VALUE_INVALID);
      expect(decodeRing64(shape, vector, wide)).toEqual(Float64Array.from([1, 2, 3]));
      // B = 2^31, f = 16: 2^(31 + 16 + 2) · n ≤ 2^64 holds for n = 2^15, not for n = 2^15 + 1
      expect(() => encodeRing64(1, { parties: 2 ** 15, modulus: 'ring64' })).not.toThrow();
      expect(errorOf(() => encodeRing64(1, { parties: 2 ** 15 + 1, modulus: 'ring64' })).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    }
  });
});
