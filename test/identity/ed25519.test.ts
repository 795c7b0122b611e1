/**
 * Ed25519 backends: RFC 8032 vectors under both, and cross-backend compatibility (keys and
 * signatures are byte-identical, each verifies the other's signatures).
 */
import fc from 'fast-check';
import vectors from '../vectors/ed25519-rfc8032.json';
import { ed25519KeyPairFromSeed, ed25519Sign, ed25519Verify, type CryptoBackend } from '../../src/crypto/ed25519';
import { generateIdentity } from '../../src/identity';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const BACKENDS: CryptoBackend[] = ['native', 'tweetnacl'];

describe('RFC 8032 section 7.1 vectors', () => {
  it('has the three vectors', () => {
    expect(vectors.vectors.map((v) => v.name)).toEqual(['TEST 1', 'TEST 2', 'TEST 3']);
  });
  for (const v of vectors.vectors) {
    for (const backend of BACKENDS) {
      it(`${v.name} under ${backend}`, () => {
        const kp = ed25519KeyPairFromSeed(hex(v.secretKey));
        expect(Buffer.from(kp.publicKey).toString('hex')).toBe(v.publicKey);
        const msg = hex(v.message);
        const sig = ed25519Sign(msg, kp.secretKey, backend);
        expect(Buffer.from(sig).toString('hex')).toBe(v.signature);
        expect(ed25519Verify(msg, hex(v.signature), hex(v.publicKey), backend)).toBe(true);
        // A modified message and a modified signature must not verify.
        expect(ed25519Verify(new Uint8Array([...msg, 0]), sig, kp.publicKey, backend)).toBe(false);
        const bad = new Uint8Array(sig);
        bad[10]! ^= 1;
        expect(ed25519Verify(msg, bad, kp.publicKey, backend)).toBe(false);
      });
    }
  }
});

describe('cross-backend', () => {
  it('native and tweetnacl produce identical signatures that verify under the other', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, msg) => {
        const { publicKey, secretKey } = ed25519KeyPairFromSeed(seed);
        const sn = ed25519Sign(msg, secretKey, 'native');
        const st = ed25519Sign(msg, secretKey, 'tweetnacl');
        expect(Buffer.from(sn).equals(Buffer.from(st))).toBe(true);
        expect(ed25519Verify(msg, sn, publicKey, 'tweetnacl')).toBe(true);
        expect(ed25519Verify(msg, st, publicKey, 'native')).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('both backends reject the same tampered signatures and wrong keys', () => {
    const me = generateIdentity();
    const other = generateIdentity();
    const msg = new Uint8Array(Buffer.from('coupler'));
    const sig = ed25519Sign(msg, me.secretKey);
    for (const backend of BACKENDS) {
      expect(ed25519Verify(msg, sig, other.publicKey, backend)).toBe(false);
      for (let i = 0; i < 64; i += 7) {
        const bad = new Uint8Array(sig);
        bad[i]! ^= 0x80;
        expect(ed25519Verify(msg, bad, me.publicKey, backend)).toBe(false);
      }
    }
  });

  it('verify returns false (never throws) for malformed inputs under both backends', () => {
    const me = generateIdentity();
    const msg = new Uint8Array(3);
    const sig = ed25519Sign(msg, me.secretKey);
    const badKeys: unknown[] = [new Uint8Array(31), new Uint8Array(33), new Uint8Array(32), new Uint8Array(32).fill(0xff), null, 'x', {}];
    const badSigs: unknown[] = [new Uint8Array(63), new Uint8Array(65), new Uint8Array(64), null, [], { length: 64 }];
    for (const backend of BACKENDS) {
      for (const k of badKeys) expect(ed25519Verify(msg, sig, k as Uint8Array, backend)).toBe(false);
      for (const s of badSigs) expect(ed25519Verify(msg, s as Uint8Array, me.publicKey, backend)).toBe(false);
    }
  });
});
