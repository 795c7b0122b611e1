/**
 * Random linear fingerprints over GF(2^89 − 1) (src/protocols/math/fingerprint.ts): the limb
 * arithmetic against a BigInt reference, linearity over integer sums with carries (what lets the
 * parties check an aggregator's sum against their own fingerprints), and the one-element changes
 * a smaller field would miss.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import {
  FINGERPRINT_PRIME,
  carriesFromBytes,
  carriesToBytes,
  carryWidth,
  fingerprintAdd,
  fingerprintFromBytes,
  fingerprintToBytes,
  r64AddWithCarries,
  r64Fingerprint,
  R64FingerprintStream,
} from '../../../src/protocols/math/fingerprint';
import { _prgStream } from '../../../src/protocols/math/prg';
import { r64FromBigInts, r64Zeros } from '../../../src/protocols/math/ring64';

const P = FINGERPRINT_PRIME;

/** The definition, one BigInt per element: Σ w_l·(v_l + 2^64·c_l) mod P, w_l = 89 bits of 12 keystream bytes. */
function reference(seed: Uint8Array, values: readonly bigint[], carries?: readonly number[]): bigint {
  const stream = _prgStream(seed, 'coupler/1 fingerprint weights');
  const bytes = new Uint8Array(12 * values.length);
  stream.fill(bytes);
  const view = new DataView(bytes.buffer);
  let acc = 0n;
  values.forEach((v, l) => {
    const a = BigInt(view.getUint32(12 * l, true));
    const b = BigInt(view.getUint32(12 * l + 4, true));
    const c = BigInt(view.getUint32(12 * l + 8, true) & 0x1ffffff);
    const w = a + (b << 32n) + (c << 64n);
    acc = (acc + w * (v + (BigInt(carries?.[l] ?? 0) << 64n))) % P;
  });
  return acc;
}

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

test('matches the BigInt definition, with and without carries, for every length (property)', () => {
  fc.assert(
    fc.property(fc.array(u64, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 2 ** 24 - 1 }), { minLength: 40, maxLength: 40 }), (values, cs) => {
      const seed = new Uint8Array(randomBytes(32));
      const v = r64FromBigInts(values);
      expect(r64Fingerprint(seed, v)).toBe(reference(seed, values));
      const carries = Uint32Array.from(cs.slice(0, values.length));
      expect(r64Fingerprint(seed, v, carries)).toBe(reference(seed, values, [...carries]));
    }),
    { numRuns: 200 },
  );
});

test('R64FingerprintStream: the same vector in blocks of any sizes gives the fingerprint of the whole (property)', () => {
  fc.assert(
    fc.property(fc.array(u64, { maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 13 }), { maxLength: 8 }), fc.integer({ min: 1, max: 7 }), (values, cuts, per) => {
      const seed = new Uint8Array(randomBytes(32));
      const v = r64FromBigInts(values);
      const carries = Uint8Array.from(values, (_, i) => (i * 37) % 251);
      // Block ends from the cuts (any sizes, empty blocks too), and weights drawn `per` at a time.
      const f = new R64FingerprintStream(seed, per);
      let at = 0;
      for (const c of [...cuts, values.length]) {
        const end = Math.min(values.length, at + c);
        f.update(v.subarray(2 * at, 2 * end), carries.subarray(at, end));
        at = end;
      }
      if (at < values.length) f.update(v.subarray(2 * at), carries.subarray(at));
      expect(f.digest()).toBe(reference(seed, values, [...carries]));
    }),
    { numRuns: 200 },
  );
  // A digested stream takes no more values.
  const f = new R64FingerprintStream(new Uint8Array(32));
  f.digest();
  expect(() => f.update(r64Zeros(1))).toThrow('already digested');
});

test('extreme values over many elements (every limb at its maximum): exact', () => {
  const seed = new Uint8Array(randomBytes(32));
  const L = 5000;
  const values = Array.from({ length: L }, () => 2n ** 64n - 1n);
  const carries = new Uint32Array(L).fill(2 ** 24 - 1);
  expect(r64Fingerprint(seed, r64FromBigInts(values), carries)).toBe(reference(seed, values, [...carries]));
});

test('linear over integer sums: Σ_p F(x_p) = F(S, κ) where S, κ come from r64AddWithCarries', () => {
  const seed = new Uint8Array(randomBytes(32));
  const L = 1000;
  const parties = Array.from({ length: 7 }, () => Array.from({ length: L }, () => BigInt(`0x${randomBytes(8).toString('hex')}`)));
  const sum = r64Zeros(L);
  const carries = new Uint32Array(L);
  let claims = 0n;
  for (const x of parties) {
    const v = r64FromBigInts(x);
    claims = fingerprintAdd(claims, r64Fingerprint(seed, v));
    r64AddWithCarries(sum, carries, v);
  }
  expect(r64Fingerprint(seed, sum, carries)).toBe(claims);
  for (let l = 0; l < L; l++) {
    const exact = parties.reduce((s, x) => s + x[l]!, 0n);
    expect(BigInt(carries[l]!)).toBe(exact >> 64n);
  }
  // Changing one element by P − 2^64·… is still caught: the field is larger than every value.
  const forged = Uint32Array.from(sum);
  forged[0] = (forged[0]! + 1) >>> 0;
  expect(r64Fingerprint(seed, forged, carries)).not.toBe(claims);
  const shiftedCarry = Uint32Array.from(carries);
  shiftedCarry[3]! += 1;
  expect(r64Fingerprint(seed, sum, shiftedCarry)).not.toBe(claims);
});

test('encodings: fingerprints and carries round-trip; out-of-range ones are refused', () => {
  for (const f of [0n, 1n, P - 1n]) expect(fingerprintFromBytes(fingerprintToBytes(f))).toBe(f);
  expect(fingerprintFromBytes(fingerprintToBytes(P))).toBeUndefined();
  expect(fingerprintFromBytes(new Uint8Array(11))).toBeUndefined();
  expect(carryWidth(256)).toBe(1);
  expect(carryWidth(257)).toBe(2);
  expect(carryWidth(70_000)).toBe(4);
  const c = Uint32Array.from([0, 3, 255]);
  for (const w of [1, 2, 4] as const) expect(Array.from(carriesFromBytes(carriesToBytes(c, w), 3, w, 255)!)).toEqual([0, 3, 255]);
  expect(carriesFromBytes(carriesToBytes(c, 1), 3, 1, 254)).toBeUndefined();
  expect(carriesFromBytes(carriesToBytes(c, 1), 4, 1, 255)).toBeUndefined();
});
