import fc from 'fast-check';
import {
  P127,
  fAdd,
  fInv,
  fMul,
  fNeg,
  fRandom,
  fRandomVector,
  fReduce,
  fSub,
  fVecAdd,
  fVecAddInPlace,
  fVecScale,
  fVecSub,
  isFieldElement,
} from '../../../src/protocols/math/index';
import { CouplerError, ErrorCode } from '../../../src/errors';

const el = fc.oneof(fc.bigInt({ min: 0n, max: P127 - 1n }), fc.constantFrom(0n, 1n, 2n, P127 - 1n, P127 - 2n, 1n << 126n));
const mod = (x: bigint): bigint => ((x % P127) + P127) % P127;

describe('GF(2^127 − 1)', () => {
  test('operations agree with BigInt % reference', () => {
    fc.assert(
      fc.property(el, el, (a, b) => {
        expect(fAdd(a, b)).toBe(mod(a + b));
        expect(fSub(a, b)).toBe(mod(a - b));
        expect(fMul(a, b)).toBe(mod(a * b));
        expect(fNeg(a)).toBe(mod(-a));
        if (a !== 0n) expect(fMul(a, fInv(a))).toBe(1n);
      }),
      { numRuns: 500 },
    );
  });

  test('fReduce: any bigint, including negative and huge', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 400n), max: 1n << 400n }), (x) => {
        expect(fReduce(x)).toBe(mod(x));
      }),
    );
    expect(fReduce(P127)).toBe(0n);
    expect(fReduce(-P127)).toBe(0n);
    expect(fReduce(2n * P127 + 5n)).toBe(5n);
  });

  test('random elements are canonical and distinct', () => {
    const v = fRandomVector(1000);
    expect(v.every(isFieldElement)).toBe(true);
    expect(new Set(v).size).toBe(1000);
    expect(isFieldElement(fRandom())).toBe(true);
  });

  test('vector ops', () => {
    const a = [1n, P127 - 1n];
    const b = [2n, 3n];
    expect(fVecAdd(a, b)).toEqual([3n, 2n]);
    expect(fVecSub(b, a)).toEqual([1n, 4n]);
    expect(fVecScale(a, 2n)).toEqual([2n, P127 - 2n]);
    fVecAddInPlace(a, b);
    expect(a).toEqual([3n, 2n]);
  });

  test('typed errors for non-canonical input', () => {
    for (const f of [() => fAdd(P127, 0n), () => fMul(-1n, 1n), () => fInv(0n), () => fVecAdd([1n], [1n, 2n]), () => fAdd(1 as unknown as bigint, 1n)]) {
      try {
        f();
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(CouplerError);
        expect((e as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
      }
    }
  });
});
