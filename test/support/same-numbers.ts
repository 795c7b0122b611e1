/**
 * `expect(actual).toEqual(expected)` for long arrays of numbers, with the same verdict and, when
 * they differ, the same failure: jest's deep equality sends every element through its generic
 * matcher (type checks, own-key lookups), about 3 s per 10^6 elements, which was a quarter of some
 * suites' time. For two plain arrays of numbers or bigints toEqual compares the lengths and each
 * element with Object.is, and for two typed arrays of the same class it compares the elements the
 * same way; so does the loop here. When it finds a difference (or anything else than two such
 * arrays), toEqual itself decides and reports.
 */
export function expectSameNumbers(actual: ArrayLike<unknown>, expected: ArrayLike<unknown>): void {
  if (sameNumbers(actual, expected)) return;
  expect(actual).toEqual(expected);
}

function sameNumbers(a: ArrayLike<unknown>, b: ArrayLike<unknown>): boolean {
  const plain = Array.isArray(a) && Array.isArray(b);
  const typed = ArrayBuffer.isView(a) && !(a instanceof DataView) && ArrayBuffer.isView(b) && a.constructor === b.constructor;
  if ((!plain && !typed) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x: unknown = a[i];
    const y: unknown = b[i];
    if ((typeof x !== 'number' && typeof x !== 'bigint') || !(i in a) || !(i in b) || !Object.is(x, y)) return false;
  }
  // A typed array with extra own properties is compared by toEqual (it compares its entries too).
  return plain || (Object.keys(a).length === a.length && Object.keys(b).length === b.length);
}
