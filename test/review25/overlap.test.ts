/**
 * Review 25 (docs/reviews/review25-math.md), R25-2: the in-place vector operations of the public
 * math API (`r64AddInPlace`, `r64SubInPlace`, `r64AddBytesInPlace`, `f61AddInPlace`,
 * `f61MulAddInPlace`) given an operand that overlaps the accumulator at another offset (two
 * views of one buffer). Element-wise semantics `a[i] ← a[i] ∘ b[i]` must hold, computed here with
 * BigInt from copies taken before the call; the same object as both operands already works.
 */
import { f61AddInPlace, f61FromBigInts, f61MulAddInPlace, f61ToBigInts, P61, r64AddBytesInPlace, r64AddInPlace, r64FromBigInts, r64SubInPlace, r64ToBigInts } from '../../src/protocols/math/index';

const M64 = (1n << 64n) - 1n;
const L = 6;
const values = (k: number): bigint[] => Array.from({ length: L + k }, (_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15n) & M64);

describe('R25-2: in-place operations with overlapping views of one buffer', () => {
  for (const shift of [1, -1, 2, -3]) {
    it(`ring64 add / sub, operand shifted by ${shift} element(s)`, () => {
      for (const op of ['add', 'sub'] as const) {
        const buf = r64FromBigInts(values(Math.abs(shift)));
        const a = shift > 0 ? buf.subarray(2 * shift, 2 * (shift + L)) : buf.subarray(0, 2 * L);
        const b = shift > 0 ? buf.subarray(0, 2 * L) : buf.subarray(-2 * shift, 2 * (L - shift));
        const A = r64ToBigInts(a.slice());
        const B = r64ToBigInts(b.slice());
        if (op === 'add') r64AddInPlace(a, b);
        else r64SubInPlace(a, b);
        expect(r64ToBigInts(a)).toEqual(A.map((x, i) => (op === 'add' ? x + B[i]! : x - B[i]!) & M64));
      }
    });

    it(`ring64 add of byte strings, addend shifted by ${shift} element(s)`, () => {
      const buf = r64FromBigInts(values(Math.abs(shift)));
      const a = shift > 0 ? buf.subarray(2 * shift, 2 * (shift + L)) : buf.subarray(0, 2 * L);
      const b = shift > 0 ? buf.subarray(0, 2 * L) : buf.subarray(-2 * shift, 2 * (L - shift));
      const A = r64ToBigInts(a.slice());
      const B = r64ToBigInts(b.slice());
      r64AddBytesInPlace(a, [new Uint8Array(b.buffer, b.byteOffset, b.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength)]);
      expect(r64ToBigInts(a)).toEqual(A.map((x, i) => (x + 2n * B[i]!) & M64));
    });

    it(`field61 add / multiply-add, operand shifted by ${shift} element(s)`, () => {
      for (const op of ['add', 'muladd'] as const) {
        const buf = f61FromBigInts(values(Math.abs(shift)));
        const a = shift > 0 ? buf.subarray(2 * shift, 2 * (shift + L)) : buf.subarray(0, 2 * L);
        const b = shift > 0 ? buf.subarray(0, 2 * L) : buf.subarray(-2 * shift, 2 * (L - shift));
        const A = f61ToBigInts(a.slice());
        const B = f61ToBigInts(b.slice());
        const c = P61 - 3n;
        if (op === 'add') f61AddInPlace(a, b);
        else f61MulAddInPlace(a, c, b);
        expect(f61ToBigInts(a)).toEqual(A.map((x, i) => (op === 'add' ? x + B[i]! : x + c * B[i]!) % P61));
      }
    });
  }

  it('the same vector as both operands (already right)', () => {
    const a = r64FromBigInts(values(0));
    const A = r64ToBigInts(a.slice());
    r64AddInPlace(a, a);
    expect(r64ToBigInts(a)).toEqual(A.map((x) => (2n * x) & M64));
    const f = f61FromBigInts(values(0));
    const F = f61ToBigInts(f.slice());
    f61MulAddInPlace(f, 5n, f);
    expect(f61ToBigInts(f)).toEqual(F.map((x) => (6n * x) % P61));
  });
});
