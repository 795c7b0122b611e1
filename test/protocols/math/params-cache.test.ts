/**
 * perf19: the sums build one frozen parameter object per set of option values and `checkParams`
 * resolves it once (`_trustedParams`), where every run used to check its parameters three times.
 * What must not change: the same resolved values and encodings as an unremembered check; a
 * refused parameter set refused on every call; a caller's own object — which a getter can make
 * answer differently — checked afresh on every call.
 */
import { CouplerError, ErrorCode } from '../../../src/errors';
import { _trustedParams, checkParams, decodeRing64, encodeRing64, type EncodingParams } from '../../../src/protocols/math/fixedpoint';

describe('parameters checked once per trusted object', () => {
  it('gives the same resolution and encodings as a fresh check', () => {
    for (const p of [
      { parties: 5, modulus: 'ring64' as const },
      { parties: 5, modulus: 'ring64' as const, bound: 1e4, fractionalBits: 16 },
      { parties: 10, modulus: 'ring64' as const, bound: 10n ** 6n, fractionalBits: 20, decimalPlaces: 3, maxElements: 1000 },
    ]) {
      const trusted = _trustedParams({ ...p });
      expect(Object.isFrozen(trusted)).toBe(true);
      const a = checkParams(trusted);
      expect(checkParams(trusted)).toBe(a); // remembered
      expect(checkParams({ ...p })).toEqual(a);
      expect(checkParams({ ...p })).not.toBe(a);
      for (const x of [0, 1.5, -3.25, 999.75, [1, 2, 3], { a: 1.5, b: [2, -4] }, '12.5']) {
        const e1 = encodeRing64(x, trusted);
        const e2 = encodeRing64(x, { ...p });
        expect(Array.from(e1.vector)).toEqual(Array.from(e2.vector));
        expect(decodeRing64(e1.shape, e1.vector, trusted)).toEqual(decodeRing64(e2.shape, e2.vector, { ...p }));
      }
    }
  });

  it('refuses a refused trusted set on every call', () => {
    const bad = _trustedParams({ parties: 5, modulus: 'ring64' as const, bound: 2 ** 60, fractionalBits: 16 });
    for (let i = 0; i < 3; i++) {
      let err: unknown;
      try {
        checkParams(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CouplerError);
      expect((err as CouplerError).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    }
  });

  it("checks a caller's object afresh on every call (a getter may change its answer)", () => {
    let f = 16;
    const p = { parties: 5, modulus: 'ring64' as const, get fractionalBits() { return f; } } as EncodingParams;
    expect(checkParams(p).fractionalBits).toBe(16);
    f = 60;
    expect(() => checkParams(p)).toThrow(CouplerError);
    const frozen = Object.freeze({ parties: 5, modulus: 'ring64' as const, get bound() { return f === 60 ? 2 ** 62 : 1; } }) as EncodingParams;
    expect(() => checkParams(frozen)).toThrow(CouplerError);
    f = 16;
    expect(checkParams(frozen).bound).toBe(1);
  });
});
