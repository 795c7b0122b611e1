/**
 * Input types the sums accept and what comes back (the runtime side of the type test in
 * test/types/sum-types.typecheck.ts): readonly arrays, numeric typed arrays (exact as float64),
 * BigInt64Array, and BigNumber decimals that come back as BigNumber. In-process parties, real
 * channels.
 */
import BigNumber from 'bignumber.js';
import { secureSum, thresholdSum } from '../../src/protocols';
import { ErrorCode, ValueError } from '../../src/errors';
import { createTestGroups, type TestGroups } from '../support/group-harness';

jest.setTimeout(30_000);
let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(3);
});
afterAll(() => h.close());

test('Int32Array, Uint8Array and Float32Array sum as floats; BigInt64Array exactly', async () => {
  const out = await Promise.all(h.groups.map((g, i) => secureSum(g, { a: new Int32Array([i, -i]), b: new Uint8Array([i, 255]), c: new Float32Array([0.5, i]), d: new BigInt64Array([BigInt(i) << 20n]) })));
  for (const o of out) {
    expect(o.sum.a).toEqual(new Float64Array([3, -3]));
    expect(o.sum.b).toEqual(new Float64Array([3, 765]));
    expect(o.sum.c).toEqual(new Float64Array([1.5, 3]));
    expect(o.sum.d).toEqual([3n << 20n]);
  }
});

test('BigNumber decimals come back as BigNumber (strings stay strings), in secureSum and thresholdSum', async () => {
  for (const run of [secureSum, thresholdSum] as const) {
    const out = await Promise.all(h.groups.map((g, i) => run(g, { x: new BigNumber(`${i}.25`), xs: [new BigNumber('0.1'), new BigNumber(i)], s: '1.5' })));
    for (const o of out) {
      expect(BigNumber.isBigNumber(o.sum.x)).toBe(true);
      expect(o.sum.x.toFixed()).toBe('3.75');
      expect(o.sum.xs.map((b) => b.toFixed())).toEqual(['0.3', '3']);
      expect(o.sum.s).toBe('4.5');
    }
  }
});

test('a readonly array is accepted; a Uint32Array above the bound is refused like a number above it, before anything is sent', async () => {
  const ro: readonly number[] = Object.freeze([1, 2]);
  const out = await Promise.all(h.groups.map((g) => secureSum(g, ro)));
  for (const o of out) expect(o.sum).toEqual(new Float64Array([3, 6]));
  await expect(secureSum(h.groups[0]!, new Uint32Array([2 ** 32 - 1]))).rejects.toMatchObject({ code: ErrorCode.VALUE_INVALID });
  await expect(secureSum(h.groups[0]!, new Uint32Array([2 ** 32 - 1]))).rejects.toBeInstanceOf(ValueError);
  // The group is still in step: the refusal sent nothing.
  const again = await Promise.all(h.groups.map((g, i) => secureSum(g, i)));
  for (const o of again) expect(o.sum).toBe(3);
});

test('a typed array that cannot be summed exactly (Float16Array-like DataView) is refused with a message that says what is accepted', async () => {
  await expect(secureSum(h.groups[0]!, new DataView(new ArrayBuffer(8)) as never)).rejects.toThrow(/numeric typed array/);
});
