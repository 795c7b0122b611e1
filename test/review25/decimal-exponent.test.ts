/**
 * Review 25 (docs/reviews/review25-math.md), R25-1: a decimal string whose exponent lies beyond
 * bignumber.js's RANGE (±1e9) is parsed as 0 or ±Infinity. The encoder promises that a decimal
 * with more than `decimalPlaces` places is refused rather than rounded (fixedpoint.ts module
 * notes: "decimal sums are exact"); "1e-1000000001" was accepted as exactly 0.
 */
import { decodeRing64, encodeField, encodeField61, encodeRing64 } from '../../src/protocols/math/fixedpoint';
import { CouplerError, ErrorCode } from '../../src/errors';

const params = { parties: 3, modulus: 'ring64' as const };

function refusal(fn: () => unknown): CouplerError | undefined {
  try {
    fn();
  } catch (e) {
    return e as CouplerError;
  }
  return undefined;
}

describe('R25-1: decimals with an exponent beyond the BigNumber range', () => {
  it.each(['1e-1000000001', '-1e-1000000001', '0.5e-1000000000', '7E-9999999999', '1e-1000000001'.padStart(40, '0')])('%s is refused (more places than decimalPlaces), not summed as 0', (s) => {
    for (const [enc, modulus] of [
      [encodeRing64, 'ring64'],
      [encodeField61, 'p61'],
      [encodeField, 'p127'],
    ] as const) {
      const err = refusal(() => enc(s, { ...params, modulus }));
      expect(err).toBeInstanceOf(CouplerError);
      expect(err!.code).toBe(ErrorCode.VALUE_INVALID);
      expect(err!.message).toMatch(/decimal places/);
    }
  });

  it.each(['1e1000000001', '-1e+99999999999'])('%s is refused as beyond the bound (it is finite)', (s) => {
    const err = refusal(() => encodeRing64(s, params));
    expect(err).toBeInstanceOf(CouplerError);
    expect(err!.code).toBe(ErrorCode.VALUE_INVALID);
    expect(err!.message).toMatch(/exceeds the bound/);
  });

  it('a zero with any exponent is still 0, and exact decimals at the range edge still work', () => {
    for (const s of ['0e-1000000001', '-0.000e+99999999999', '0']) {
      const { shape, vector } = encodeRing64(s, params);
      expect(decodeRing64(shape, vector, params)).toBe('0');
    }
    const { shape, vector } = encodeRing64(['1e-4', '12345e-4', '-2e3'], params);
    expect(decodeRing64(shape, vector, params)).toEqual(['0.0001', '1.2345', '-2000']);
  });
});
