import { createCipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { P127, applySeedInPlace, applySeedsInPlace, expandSeed, expandSeedField, r64Add, r64FromBigInts, r64Sub, r64ToBytes } from '../../../src/protocols/math/index';
import { CouplerError } from '../../../src/errors';
import { _prgStream } from '../../../src/protocols/math/prg';

const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('expandSeed (ring64)', () => {
  test('node chacha20 is RFC 8439 ChaCha20 with a 4-byte LE counter then a 12-byte nonce', () => {
    // RFC 8439 §2.3.2 test vector: key 00..1f, nonce 000000090000004a00000000, counter 1.
    const iv = Buffer.from('01000000000000090000004a00000000', 'hex');
    const ks = createCipheriv('chacha20', Buffer.from(seed), iv).update(Buffer.alloc(64)).toString('hex');
    expect(ks).toBe(
      '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e' +
        'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e',
    );
  });

  test('matches the documented construction (HKDF-SHA256 key, zero IV, keystream bytes)', () => {
    const key = Buffer.from(hkdfSync('sha256', seed, Buffer.from('coupler/prg/v1'), Buffer.from('ring64\0coupler/test'), 32));
    const want = createCipheriv('chacha20', key, Buffer.alloc(16)).update(Buffer.alloc(8 * 3000));
    expect(Buffer.from(r64ToBytes(expandSeed(seed, 3000, 'coupler/test'))).equals(want)).toBe(true);
  });

  test('pinned vector (regression)', () => {
    expect(Buffer.from(r64ToBytes(expandSeed(seed, 4, 'coupler/test'))).toString('hex')).toBe(
      '8478cc4980cf43d0be8bacf8bd2d739bd0b708f71256cd406b2dfadfad5b15b5',
    );
  });

  test('deterministic, prefix-stable; different domains and seeds differ', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 20000 }), fc.string({ minLength: 1, maxLength: 20 }), (s, L, d) => {
        const a = expandSeed(s, L, d);
        expect(Buffer.from(r64ToBytes(a)).equals(Buffer.from(r64ToBytes(expandSeed(s, L, d))))).toBe(true);
        const longer = expandSeed(s, L + 3, d);
        expect(Buffer.from(r64ToBytes(longer)).subarray(0, 8 * L).equals(Buffer.from(r64ToBytes(a)))).toBe(true);
        const other = expandSeed(s, L, d + 'x');
        expect(Buffer.from(r64ToBytes(other)).equals(Buffer.from(r64ToBytes(a)))).toBe(false);
      }),
      { numRuns: 50 },
    );
    const s2 = seed.slice();
    s2[0] = 1;
    expect(Buffer.from(r64ToBytes(expandSeed(s2, 4, 'd'))).equals(Buffer.from(r64ToBytes(expandSeed(seed, 4, 'd'))))).toBe(false);
  });

  test('chi-square sanity check on bytes', () => {
    const bytes = r64ToBytes(expandSeed(seed, 1 << 17, 'chi'));
    const counts = new Array<number>(256).fill(0);
    for (const b of bytes) counts[b]!++;
    const e = bytes.length / 256;
    const chi = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi).toBeGreaterThan(150); // not suspiciously regular either (255 dof)
    expect(chi).toBeLessThan(400);
  });

  test('refuses bad seeds, lengths and domains with typed errors', () => {
    expect(() => expandSeed(new Uint8Array(31), 1, 'd')).toThrow(/32 bytes/);
    expect(() => expandSeed(seed, -1, 'd')).toThrow(CouplerError);
    expect(() => expandSeed(seed, 2 ** 40, 'd')).toThrow(CouplerError);
    expect(() => expandSeed(seed, 1, '')).toThrow(CouplerError);
    expect(expandSeed(seed, 0, 'd').length).toBe(0);
  });
});

describe('expandSeedField (p127)', () => {
  test('pinned vector and documented construction', () => {
    const out = expandSeedField(seed, 2, 'coupler/test');
    expect(out).toEqual([118134143915377758030895429760007867340n, 110846380907180397467289623708007668613n]);
    const key = Buffer.from(hkdfSync('sha256', seed, Buffer.from('coupler/prg/v1'), Buffer.from('p127\0coupler/test'), 32));
    const ks = createCipheriv('chacha20', key, Buffer.alloc(16)).update(Buffer.alloc(32));
    const first = (ks.readBigUInt64LE(8) << 64n) | ks.readBigUInt64LE(0);
    expect(out[0]).toBe(first & ((1n << 127n) - 1n));
  });

  test('elements in range, deterministic, domain-separated from ring64', () => {
    const a = expandSeedField(seed, 5000, 'd');
    expect(a.every((x) => x >= 0n && x < P127)).toBe(true);
    expect(expandSeedField(seed, 5000, 'd')).toEqual(a);
    expect(expandSeedField(seed, 10, 'e')).not.toEqual(a.slice(0, 10));
    // top bits look uniform: about half of the elements are ≥ 2^126
    const high = a.filter((x) => x >= 1n << 126n).length;
    expect(Math.abs(high - 2500)).toBeLessThan(250);
    const ring = r64ToBytes(expandSeed(seed, 2, 'd'));
    const lo = Buffer.from(ring).readBigUInt64LE(0);
    expect(a[0]! & ((1n << 64n) - 1n)).not.toBe(lo);
  });
});

describe('internal keystream', () => {
  test('nextU32 reads the same bytes as fill, across chunk boundaries; uniform() stays in range', () => {
    const a = _prgStream(seed, 'x');
    const b = _prgStream(seed, 'x');
    const skip = new Uint8Array(65536 - 2); // leave 2 bytes in the first chunk
    a.fill(skip);
    b.fill(skip);
    const bytes = new Uint8Array(16);
    b.fill(bytes);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < 4; i++) expect(a.nextU32()).toBe(dv.getUint32(4 * i, true));
    for (let i = 0; i < 100000; i++) {
      const bound = 1 + (i % 13);
      const u = a.uniform(bound);
      expect(u >= 0 && u < bound && Number.isInteger(u)).toBe(true);
    }
  });
});

describe('applySeedInPlace (the streaming form used when dealing and collecting seeds)', () => {
  test.each([1, 8191, 8192, 8193, 100_001])('L = %i: adding equals expandSeed; subtracting undoes it', (L) => {
    const seed = new Uint8Array(32).fill(L & 0xff);
    const target = new Uint32Array(2 * L);
    applySeedInPlace(target, seed, 'test-domain', 'add');
    expect(target).toEqual(expandSeed(seed, L, 'test-domain'));
    applySeedInPlace(target, seed, 'test-domain', 'sub');
    expect(target.every((w) => w === 0)).toBe(true);
  });
  test('bad arguments are refused', () => {
    expect(() => applySeedInPlace(new Uint32Array(3), new Uint8Array(32), 'd', 'add')).toThrow(/ring vector/);
    expect(() => applySeedInPlace(new Uint32Array(2), new Uint8Array(31), 'd', 'add')).toThrow();
  });
});

describe('applySeedsInPlace (several seeds, four per pass)', () => {
  const seedsOf = (count: number, salt: number) => Array.from({ length: count }, (_, k) => Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + k * 31 + salt) & 0xff));
  test.each([
    [1, 0],
    [1, 4],
    [8193, 3],
    [8193, 4],
    [20_000, 9],
  ])('L = %i, %i seeds: equals adding (subtracting) every expandSeed, from a nonzero target', (L, count) => {
    const seeds = seedsOf(count, L);
    const start = r64FromBigInts(Array.from({ length: L }, (_, i) => (BigInt(i) * 0x9e3779b97f4a7c15n) & ((1n << 64n) - 1n)));
    let wantAdd: Uint32Array = start.slice();
    let wantSub: Uint32Array = start.slice();
    for (const s of seeds) {
      wantAdd = r64Add(wantAdd, expandSeed(s, L, 'test-domain'));
      wantSub = r64Sub(wantSub, expandSeed(s, L, 'test-domain'));
    }
    const t = start.slice();
    expect(applySeedsInPlace(t, seeds, 'test-domain', 'add')).toBe(t);
    expect(t).toEqual(wantAdd);
    const u = start.slice();
    applySeedsInPlace(u, seeds, 'test-domain', 'sub');
    expect(u).toEqual(wantSub);
  });
  test('bad arguments are refused before anything changes', () => {
    const t = new Uint32Array(2).fill(5);
    expect(() => applySeedsInPlace(t, [seed, new Uint8Array(31)], 'd', 'add')).toThrow(CouplerError);
    expect(() => applySeedsInPlace(t, [seed, seed, seed, seed, 'x' as unknown as Uint8Array], 'd', 'sub')).toThrow(/seeds\[4\]/);
    expect(() => applySeedsInPlace(t, seed as unknown as Uint8Array[], 'd', 'add')).toThrow(CouplerError);
    expect(() => applySeedsInPlace(t, [seed], 'd', 'mul' as 'add')).toThrow(CouplerError);
    expect(t.every((w) => w === 5)).toBe(true);
  });
});
