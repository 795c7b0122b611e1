/**
 * review16, held: the fixed-point encoding at the edges of the ring (pure math, no network).
 * Honest inputs at ±B for the largest B the ring allows decode exactly; the fast rounding path is
 * exact at its limit; −0 encodes as 0.
 */
import { checkParams, decodeRing64, encodeRing64, r64AddInPlace, r64Zeros } from '../../src/protocols/math';
import { ErrorCode } from '../../src/errors';

function sumOf(inputs: readonly (number | bigint)[], params: { parties: number; fractionalBits: number; bound: number | bigint }): unknown {
  const p = { ...params, modulus: 'ring64' as const };
  const enc = inputs.map((x) => encodeRing64(x, p));
  const acc = r64Zeros(1);
  for (const e of enc) r64AddInPlace(acc, e.vector);
  return decodeRing64(enc[0]!.shape, acc, p);
}

test('n = 4, f = 0, B = 2^60 (n·B·4 = 2^64, the largest allowed): ±B everywhere sums to ±2^62 exactly, floats and bigints', () => {
  const params = { parties: 4, fractionalBits: 0, bound: 2 ** 60 };
  expect(() => checkParams({ ...params, modulus: 'ring64' })).not.toThrow();
  expect(() => checkParams({ ...params, bound: 2 ** 60 + 2 ** 8, modulus: 'ring64' })).toThrow(expect.objectContaining({ code: ErrorCode.PARAMETERS_UNSAFE }));
  expect(sumOf([2 ** 60, 2 ** 60, 2 ** 60, 2 ** 60], params)).toBe(2 ** 62);
  expect(sumOf([-(2 ** 60), -(2 ** 60), -(2 ** 60), -(2 ** 60)], params)).toBe(-(2 ** 62));
  expect(sumOf([2n ** 60n, 2n ** 60n, 2n ** 60n, 2n ** 60n], params)).toBe(2n ** 62n);
  expect(sumOf([-(2n ** 60n), -(2n ** 60n), -(2n ** 60n), -(2n ** 60n)], params)).toBe(-(2n ** 62n));
});

test('the fast rounding path at its limit (B·2^f = 2^51): ties round half to even, −0 is 0', () => {
  const params = { parties: 2, fractionalBits: 1, bound: 2 ** 50 };
  // x = 2^50 − 0.25 → y = x·2 = 2^51 − 0.5, a tie → the even 2^51 → decodes to 2^50.
  expect(sumOf([2 ** 50 - 0.25, 0], params)).toBe(2 ** 50);
  expect(sumOf([2 ** 50 - 0.75, 0], params)).toBe(2 ** 50 - 1); // y = 2^51 − 1.5 → 2^51 − 2
  expect(sumOf([-0, -0], params)).toBe(0);
  expect(Object.is(sumOf([-0, -0], params), -0)).toBe(false);
});
