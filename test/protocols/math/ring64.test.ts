import fc from 'fast-check';
import {
  r64Add,
  r64AddBytesInPlace,
  r64AddInPlace,
  r64Equal,
  r64FromBigInts,
  r64FromBytes,
  r64Length,
  r64Random,
  r64Sub,
  r64SubInPlace,
  r64ToBigInts,
  r64ToBytes,
  r64Zeros,
} from '../../../src/protocols/math/index';
import { CouplerError, ErrorCode } from '../../../src/errors';

const M = 1n << 64n;
const u64 = fc.bigInt({ min: 0n, max: M - 1n });
const edge = fc.constantFrom(0n, 1n, M - 1n, M - 2n, 1n << 63n, (1n << 63n) - 1n, 0xffffffffn, 1n << 32n);
const elem = fc.oneof(u64, edge);
const pair = fc.integer({ min: 0, max: 40 }).chain((L) => fc.tuple(fc.array(elem, { minLength: L, maxLength: L }), fc.array(elem, { minLength: L, maxLength: L })));

describe('ring64', () => {
  test('add/sub agree with a BigInt reference (wraparound included)', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const va = r64FromBigInts(a);
        const vb = r64FromBigInts(b);
        expect(r64ToBigInts(r64Add(va, vb))).toEqual(a.map((x, i) => (x + (b[i] as bigint)) % M));
        expect(r64ToBigInts(r64Sub(va, vb))).toEqual(a.map((x, i) => (((x - (b[i] as bigint)) % M) + M) % M));
        const c = va.slice();
        r64AddInPlace(c, vb);
        r64SubInPlace(c, vb);
        expect(r64Equal(c, va)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('explicit wraparound', () => {
    expect(r64ToBigInts(r64Add(r64FromBigInts([M - 1n]), r64FromBigInts([1n])))).toEqual([0n]);
    expect(r64ToBigInts(r64Sub(r64FromBigInts([0n]), r64FromBigInts([1n])))).toEqual([M - 1n]);
    expect(r64ToBigInts(r64Add(r64FromBigInts([0xffffffffn]), r64FromBigInts([1n])))).toEqual([1n << 32n]);
    expect(r64ToBigInts(r64FromBigInts([-1n, -(1n << 63n)]))).toEqual([M - 1n, 1n << 63n]);
  });

  test('bytes equal a little-endian BigUint64Array and round-trip', () => {
    fc.assert(
      fc.property(fc.array(elem, { maxLength: 30 }), (a) => {
        const v = r64FromBigInts(a);
        const bytes = r64ToBytes(v);
        const ref = new Uint8Array(new BigUint64Array(a).buffer);
        expect(Buffer.from(bytes).equals(Buffer.from(ref))).toBe(true);
        expect(r64ToBigInts(r64FromBytes(bytes))).toEqual(a);
        // unaligned copy path
        const buf = new Uint8Array(bytes.length + 1);
        buf.set(bytes, 1);
        const un = r64FromBytes(buf.subarray(1));
        expect(r64ToBigInts(un)).toEqual(a);
      }),
    );
  });

  test('r64AddBytesInPlace adds little-endian bytes at every byte offset, across its 64 KiB blocks', () => {
    // 2 · 8192 + 3 elements: two whole 64 KiB blocks and a short last one.
    const L = 2 * 8192 + 3;
    const a = Array.from({ length: L }, (_, i) => (BigInt(i) * 0x9e3779b97f4a7c15n + 0xffffffffn) % M);
    const b = Array.from({ length: L }, (_, i) => (i % 5 === 0 ? M - 1n : (BigInt(i) * 0xc2b2ae3d27d4eb4fn) % M));
    const want = a.map((x, i) => (x + b[i]!) % M);
    const bBytes = new Uint8Array(new BigUint64Array(b).buffer);
    for (let offset = 0; offset < 8; offset++) {
      const buf = new Uint8Array(bBytes.length + 8);
      buf.set(bBytes, offset);
      const acc = r64FromBigInts(a);
      expect(r64AddBytesInPlace(acc, buf.subarray(offset, offset + bBytes.length))).toBe(acc);
      expect(r64ToBigInts(acc)).toEqual(want);
      expect(Buffer.from(buf.subarray(offset, offset + bBytes.length)).equals(Buffer.from(bBytes))).toBe(true); // addend untouched
    }
  });

  test('r64AddBytesInPlace adds 0 to 9 addends at mixed offsets (passes of four and the rest) like a BigInt reference', () => {
    const L = 8192 + 5; // one whole block and a short one
    const rows = (seed: bigint) => Array.from({ length: L }, (_, i) => (i % 7 === 0 ? M - 1n - BigInt(i % 3) : ((BigInt(i) + seed) * 0x9e3779b97f4a7c15n) % M));
    const a = rows(1n);
    for (let count = 0; count <= 9; count++) {
      const addends = Array.from({ length: count }, (_, k) => rows(BigInt(k + 2)));
      const want = a.map((x, i) => addends.reduce((s, y) => s + y[i]!, x) % M);
      const bytes = addends.map((y, k) => {
        const offset = (3 * k + count) % 8;
        const buf = new Uint8Array(8 * L + 8);
        buf.set(new Uint8Array(new BigUint64Array(y).buffer), offset);
        return buf.subarray(offset, offset + 8 * L);
      });
      const acc = r64FromBigInts(a);
      r64AddBytesInPlace(acc, bytes);
      expect(r64ToBigInts(acc)).toEqual(want);
    }
    fc.assert(
      fc.property(pair, fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 6 }), ([x, y], offsets) => {
        const bytes = offsets.map((offset) => {
          const buf = new Uint8Array(8 * y.length + 8);
          buf.set(new Uint8Array(new BigUint64Array(y).buffer), offset);
          return buf.subarray(offset, offset + 8 * y.length);
        });
        const acc = r64FromBigInts(x);
        r64AddBytesInPlace(acc, bytes);
        expect(r64ToBigInts(acc)).toEqual(x.map((v, i) => (v + BigInt(offsets.length) * y[i]!) % M));
      }),
      { numRuns: 200 },
    );
  });

  test('r64AddBytesInPlace refuses a wrong length or type (InvalidArgumentError), touching nothing', () => {
    const acc = r64FromBigInts([1n, 2n]);
    const good = new Uint8Array(16);
    const bads: unknown[] = [new Uint8Array(8), new Uint8Array(18).subarray(1), new Uint8Array(24), new Uint32Array(4), 'x', null, [good, new Uint8Array(8)], [good, good, good, good, 'x']];
    for (const bad of bads) {
      const e = (() => {
        try {
          r64AddBytesInPlace(acc, bad as Uint8Array);
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(e).toBeInstanceOf(CouplerError);
      expect((e as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    expect(r64ToBigInts(acc)).toEqual([1n, 2n]);
  });

  test('aligned bytes are a zero-copy view', () => {
    const v = r64FromBigInts([5n]);
    const b = r64ToBytes(v);
    const w = r64FromBytes(b);
    w[0] = 7;
    expect(v[0]).toBe(7);
  });

  test('length validation', () => {
    expect(r64Length(r64Zeros(5))).toBe(5);
    expect(() => r64FromBytes(new Uint8Array(12))).toThrow(/multiple of 8/);
    expect(() => r64Add(r64Zeros(2), r64Zeros(3))).toThrow(CouplerError);
    expect(() => r64Length(new Uint32Array(3))).toThrow(/even number/);
    try {
      r64Zeros(-1);
    } catch (e) {
      expect((e as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    }
  });

  test('r64Random: right length, bytes look uniform, r64Equal', () => {
    const v = r64Random(1 << 16);
    expect(r64Length(v)).toBe(1 << 16);
    const counts = new Array<number>(256).fill(0);
    for (const b of r64ToBytes(v)) counts[b]!++;
    const expected = (8 << 16) / 256;
    const chi = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi).toBeLessThan(400); // 255 dof; p ≈ 1e-8
    expect(r64Equal(v, v.slice())).toBe(true);
    expect(r64Equal(v, r64Random(1 << 16))).toBe(false);
    expect(r64Equal(r64Zeros(1), r64Zeros(2))).toBe(false);
  });

  test('additive sharing: each share alone is uniform, the sum restores x', () => {
    const n = 5;
    const L = 1 << 14;
    const x = r64FromBigInts(Array.from({ length: L }, (_, i) => BigInt(i % 7)));
    const shares = Array.from({ length: n - 1 }, () => r64Random(L));
    const last = x.slice();
    for (const s of shares) r64SubInPlace(last, s);
    shares.push(last);
    const acc = r64Zeros(L);
    for (const s of shares) r64AddInPlace(acc, s);
    expect(r64Equal(acc, x)).toBe(true);
    // Each share (the computed last one included) has uniform-looking bytes despite x being structured.
    for (const s of shares) {
      const counts = new Array<number>(256).fill(0);
      for (const b of r64ToBytes(s)) counts[b]!++;
      const e = (8 * L) / 256;
      expect(counts.reduce((a, c) => a + (c - e) ** 2 / e, 0)).toBeLessThan(400);
      // and its top bit is set about half the time
      let top = 0;
      for (let i = 1; i < s.length; i += 2) top += s[i]! >>> 31;
      expect(Math.abs(top - L / 2)).toBeLessThan(6 * Math.sqrt(L / 4));
    }
  });

  test('adds a million elements quickly', () => {
    const a = r64Random(1_000_000);
    const b = r64Random(1_000_000);
    r64AddInPlace(a, b); // warm-up
    const t0 = performance.now();
    r64AddInPlace(a, b);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(100); // typically a few ms; generous for CI
  });
});
