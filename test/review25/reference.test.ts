/**
 * Review 25 (docs/reviews/review25-math.md), "Tried and held": the math layer against an
 * independent BigInt reference computed here — field61 word arithmetic at edge values (0, 1,
 * p − 1, 2^k − 1) and lazy combinations of up to 1024 terms, GF(2^127 − 1) reductions,
 * Shamir over both fields with evaluation points above the cheap-multiplication limit (2^20) and
 * near p, the degree check naming a tampered point, the fixed-point encodings of −0, subnormals,
 * ±B, half-ulp ties, non-dyadic and bigint bounds at the budget's edge (a sum of n copies of each,
 * decoded), and the GF(2^89 − 1) fingerprint with maximal carries and its linearity over a sum
 * with carries. Deterministic (a fixed LCG).
 */
import * as M from '../../src/protocols/math/index';
import { encodeRing64, decodeRing64, encodeField61, decodeField61, encodeField, decodeField } from '../../src/protocols/math/fixedpoint';
import { r64AddWithCarries, r64Fingerprint, fingerprintAdd } from '../../src/protocols/math/fingerprint';

const P61 = (1n << 61n) - 1n;
let seed = 12345;
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
const r61 = (): bigint => {
  const k = rnd() % 6;
  if (k === 0) return P61 - 1n - BigInt(rnd() % 3);
  if (k === 1) return BigInt(rnd() % 3);
  if (k === 2) return (1n << BigInt(rnd() % 61)) - 1n;
  return ((BigInt(rnd()) << 32n) | BigInt(rnd())) % P61;
};
function exactRound(x: number, f: number): bigint {
  // exact round-half-even of x*2^f using bigint rational
  if (x === 0) return 0n;
  const buf = new DataView(new ArrayBuffer(8)); buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  const sign = bits >> 63n ? -1n : 1n; const e = Number((bits >> 52n) & 0x7ffn); const m = bits & ((1n << 52n) - 1n);
  const mant = e === 0 ? m : m | (1n << 52n); const exp = (e === 0 ? 1 : e) - 1075 + f;
  let r: bigint;
  if (exp >= 0) r = mant << BigInt(exp);
  else {
    const s = BigInt(-exp); const q = mant >> s; const rem = mant - (q << s); const half = 1n << (s - 1n);
    r = rem > half ? q + 1n : rem < half ? q : q + (q & 1n);
  }
  return sign * r;
}
describe('review25: math layer against a BigInt reference', () => {
  it('f61 ops', () => {
    for (let it = 0; it < 3000; it++) {
      const a = r61(), b = r61(), c = r61();
      const A = M.f61FromBigInts([a]), B = M.f61FromBigInts([b]);
      expect(M.f61ToBigInts(M.f61Add(A, B))[0]).toBe((a + b) % P61);
      expect(M.f61ToBigInts(M.f61Sub(A, B))[0]).toBe(((a - b) % P61 + P61) % P61);
      expect(M.f61ToBigInts(M.f61Mul(A, B))[0]).toBe((a * b) % P61);
      expect(M.f61ToBigInts(M.f61Scale(A, c))[0]).toBe((a * c) % P61);
      const acc = M.f61FromBigInts([b]);
      expect(M.f61ToBigInts(M.f61MulAddInPlace(acc, c, A))[0]).toBe((b + a * c) % P61);
    }
    for (const K of [1, 7, 8, 9, 16, 17, 100, 1024]) {
      const cs = Array.from({ length: K }, () => (rnd() % 2 ? P61 - 1n : r61()));
      const vs = Array.from({ length: K }, () => (rnd() % 2 ? P61 - 1n : r61()));
      const ref = cs.reduce((s, c, k) => (s + c * vs[k]!) % P61, 0n);
      expect(M.f61ToBigInts(M.f61Combine(cs, vs.map((v) => M.f61FromBigInts([v]))))[0]).toBe(ref);
      const all = Array.from({ length: K }, () => P61 - 1n);
      expect(M.f61ToBigInts(M.f61Combine(all, all.map((v) => M.f61FromBigInts([v]))))[0]).toBe(BigInt(K) % P61);
    }
  });
  it('shamir61 big points', () => {
    for (const xs of [[1n, 2n, 3n, 4n, 5n], [P61 - 1n, P61 - 2n, 1n << 20n, (1n << 20n) - 1n, 12345678901n]]) {
      for (let t = 1; t <= 5; t++) {
        const sec = [P61 - 1n, 0n, 1n, r61()];
        const shares = M.shamirShare61(M.f61FromBigInts(sec), t, xs);
        const pts = xs.map((x, i) => ({ x, y: shares[i]! }));
        expect(M.f61ToBigInts(M.lagrangeAtZero61(pts.slice(0, t)))).toEqual(sec);
        expect(M.f61ToBigInts(M.lagrangeAtZero61(pts.slice(5 - t)))).toEqual(sec);
        expect(M.checkDegree61(pts, t).ok).toBe(true);
      }
    }
  });
  it('fixed point edges ring64/p61/p127', () => {
    const cases: Array<[number, number | bigint, number]> = [[16, 2 ** 31, 3], [0, 2 ** 61, 1], [52, 2 ** 9, 2], [16, 2 ** 44, 1], [30, 2 ** 30, 2], [52, 1, 1], [20, 0.1, 7], [16, (1n << 45n) + 1n, 1]];
    for (const mod of ['ring64', 'p61', 'p127'] as const) {
      for (const [f, Bb, n] of cases) {
        const params = { parties: n, modulus: mod, fractionalBits: f, bound: Bb };
        if (!M.fitsModulus(params)) continue;
        const Bn = typeof Bb === 'bigint' ? Number(Bb) : Bb;
        const B = typeof Bb === 'bigint' && BigInt(Bn) > Bb ? Bn - 2 ** (Math.floor(Math.log2(Bn)) - 52) : Bn;
        const vals = [0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, B, -B, B / 3, -B / 3, 2 ** -f / 2, -(2 ** -f) / 2, 1.5 * 2 ** -f, -1.5 * 2 ** -f, 2 ** -f * 0.49999999999];
        for (const x of vals) {
          if (Math.abs(x) > B) continue;
          const X = exactRound(x, f);
          const input = new Float64Array(n).fill(x);
          // sum of n copies
          const sumRef = X * BigInt(n);
          const want = Number(sumRef) / 2 ** f;
          let got: number;
          if (mod === 'ring64') {
            const { vector } = encodeRing64(input, params);
            const one = M.r64ToBigInts(vector)[0]!;
            expect([mod, f, Bb, n, x, BigInt.asIntN(64, one)]).toEqual([mod, f, Bb, n, x, X]);
            const acc = M.r64Zeros(1);
            for (let i = 0; i < n; i++) M.r64AddInPlace(acc, vector.subarray(2 * i, 2 * i + 2));
            got = (decodeRing64(M.describeShape(1.5), acc, params) as number);
          } else if (mod === 'p61') {
            const { elements } = encodeField61(input, params);
            const one = M.f61ToBigInts(elements)[0]!;
            expect([mod, f, Bb, n, x, one > P61 / 2n ? one - P61 : one]).toEqual([mod, f, Bb, n, x, X]);
            let acc = M.f61Zeros(1);
            for (let i = 0; i < n; i++) acc = M.f61Add(acc, elements.subarray(2 * i, 2 * i + 2));
            got = (decodeField61(M.describeShape(1.5), acc, params) as number);
          } else {
            const { elements } = encodeField(input, params);
            const P = M.P127; const one = elements[0]!;
            expect([mod, f, Bb, n, x, one > P / 2n ? one - P : one]).toEqual([mod, f, Bb, n, x, X]);
            const acc = elements.reduce((s, e) => (s + e) % P, 0n);
            got = (decodeField(M.describeShape(1.5), [acc], params) as number);
          }
          expect([mod, f, Bb, n, x, got]).toEqual([mod, f, Bb, n, x, want]);
        }
      }
    }
  });
  it('fingerprint vs bigint', () => {
    const Pf = (1n << 89n) - 1n;
    const L = 50;
    const v = new Uint32Array(2 * L).fill(0xffffffff);
    const carries = new Uint32Array(L).fill(2 ** 24 - 1);
    const s = new Uint8Array(32).fill(7);
    const f1 = r64Fingerprint(s, v, carries);
    // reference weights: fingerprint of unit vectors
    let ref = 0n;
    for (let l = 0; l < L; l++) {
      const e = new Uint32Array(2 * (l + 1)); e[2 * l] = 1;
      const w = r64Fingerprint(s, e);
      ref = (ref + w * ((1n << 64n) - 1n + (1n << 64n) * BigInt(2 ** 24 - 1))) % Pf;
    }
    expect(f1).toBe(ref);
  });
  it('GF(2^127 − 1) at its edges', () => {
    const P = M.P127;
    const edge = [0n, 1n, 2n, P - 1n, P - 2n, (1n << 126n), (1n << 64n) - 1n, (1n << 61n) - 1n, P / 2n, P / 2n + 1n];
    for (const a of edge) {
      for (const b of edge) {
        expect(M.fAdd(a, b)).toBe((a + b) % P);
        expect(M.fSub(a, b)).toBe((((a - b) % P) + P) % P);
        expect(M.fMul(a, b)).toBe((a * b) % P);
      }
      if (a !== 0n) expect(M.fMul(a, M.fInv(a))).toBe(1n);
      expect(M.fNeg(a)).toBe((P - a) % P);
    }
    for (const x of [1n << 254n, (1n << 254n) - 1n, P * P, P, -P, -(1n << 300n), -1n, (1n << 64n) - 1n]) {
      expect(M.fReduce(x)).toBe(((x % P) + P) % P);
    }
  });

  it('Shamir over GF(2^127 − 1): reconstruct from any t, name one tampered point of t + 2', () => {
    const P = M.P127;
    const xs = [1n, P - 1n, 1n << 100n, 12345n, P - 7n];
    const secret = [P - 1n, 0n, 1n, 1n << 126n];
    for (let t = 1; t <= 3; t++) {
      const shares = M.shamirShare(secret, t, xs);
      const pts = xs.map((x, i) => ({ x, y: shares[i]! }));
      expect(M.lagrangeAtZero(pts.slice(0, t))).toEqual(secret);
      expect(M.lagrangeAtZero(pts.slice(5 - t))).toEqual(secret);
      expect(M.checkDegree(pts, t).ok).toBe(true);
    }
    const shares = M.shamirShare(secret, 3, xs);
    const pts = xs.map((x, i) => ({ x, y: shares[i]!.slice() }));
    pts[3]!.y[2] = (pts[3]!.y[2]! + 1n) % P;
    expect(M.checkDegree(pts, 3)).toEqual({ ok: false, suspects: [3] });
  });

  it('Shamir over GF(2^61 − 1): one tampered point of t + 2 named, points above 2^20', () => {
    const xs = [P61 - 1n, 1n << 20n, 3n, (1n << 40n) + 1n, 7n];
    const sec = M.f61FromBigInts([P61 - 1n, 5n, 0n]);
    const shares = M.shamirShare61(sec, 3, xs);
    const pts: M.Shamir61Point[] = xs.map((x, i) => ({ x, y: shares[i]! }));
    const bad = M.f61ToBigInts(pts[1]!.y);
    bad[0] = (bad[0]! + P61 - 1n) % P61;
    pts[1] = { x: xs[1]!, y: M.f61FromBigInts(bad) };
    expect(M.checkDegree61(pts, 3)).toEqual({ ok: false, suspects: [1] });
  });

  it('decodeField61 / decodeField of ints at the signed boundary (p − 1)/2', () => {
    const params61 = { parties: 1, modulus: 'p61' as const, fractionalBits: 0, bound: 1n };
    const shape = M.describeShape(1n);
    const h61 = (P61 - 1n) / 2n;
    expect(decodeField61(shape, M.f61FromBigInts([h61]), params61)).toBe(h61);
    expect(decodeField61(shape, M.f61FromBigInts([h61 + 1n]), params61)).toBe(-h61);
    expect(decodeField61(shape, M.f61FromBigInts([P61 - 1n]), params61)).toBe(-1n);
    const P = M.P127;
    const h = (P - 1n) / 2n;
    const params127 = { ...params61, modulus: 'p127' as const };
    expect(decodeField(shape, [h], params127)).toBe(h);
    expect(decodeField(shape, [h + 1n], params127)).toBe(-h);
  });

  it('the fingerprint is linear over a sum with carries (Σ F(x_p) = F(S, κ))', () => {
    const Pf = (1n << 89n) - 1n;
    const L = 37;
    const n = 300; // carries above 255
    const s = new Uint8Array(32).fill(3);
    const acc = new Uint32Array(2 * L);
    const carries = new Uint16Array(L);
    let sumF = 0n;
    for (let p = 0; p < n; p++) {
      const x = new Uint32Array(2 * L);
      for (let i = 0; i < x.length; i++) x[i] = p % 3 === 0 ? 0xffffffff : rnd();
      sumF = fingerprintAdd(sumF, r64Fingerprint(s, x));
      r64AddWithCarries(acc, carries, x);
    }
    expect(r64Fingerprint(s, acc, carries)).toBe(sumF);
    expect(sumF < Pf).toBe(true);
  });
});
