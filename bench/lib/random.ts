/**
 * A small seeded PRNG for benchmarks (mulberry32): replayable choices and data, uniform in [0, 1).
 * Not for anything secret.
 *
 * @module
 */

/** mulberry32 seeded with `seed`: a function returning the next value in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
