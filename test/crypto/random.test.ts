/**
 * perf19: `random32()` (src/crypto/random.ts) hands out the protocols' nonces and coin
 * contributions from a pool of CSPRNG output: each is a fresh 32-byte Uint8Array of its own
 * (changing one changes no other), no two are equal across several refills of the pool, and the
 * bytes look uniform (a coarse check: every byte value occurs, the mean is near 127.5).
 */
import { random32 } from '../../src/crypto/random';

describe('random32', () => {
  it('gives distinct, independent 32-byte values across pool refills', () => {
    const seen = new Set<string>();
    const values: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) {
      const v = random32();
      expect(v.constructor).toBe(Uint8Array);
      expect(v.length).toBe(32);
      expect(v.byteOffset).toBe(0);
      expect(v.buffer.byteLength).toBe(32);
      seen.add(Buffer.from(v).toString('hex'));
      values.push(v);
    }
    expect(seen.size).toBe(1000);
    const before = Buffer.from(values[1]!).toString('hex');
    values[0]!.fill(0);
    expect(Buffer.from(values[1]!).toString('hex')).toBe(before);
    const counts = new Array<number>(256).fill(0);
    let sum = 0;
    for (const v of values) for (const b of v) {
      counts[b]!++;
      sum += b;
    }
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(Math.abs(sum / 32000 - 127.5)).toBeLessThan(3);
  });
});
