import fc from 'fast-check';
import { collusionThreshold, exposedParties, receivers, senders, shareGraph } from '../../../src/protocols/math/index';
import { CouplerError, ErrorCode } from '../../../src/errors';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${String(i).padStart(2, '0')}`);
const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('shareGraph', () => {
  test('every party sends to k − 1 others and receives from k − 1; k = n is complete', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 2, max: n }))), seedArb, ([n, k], seed) => {
        const g = shareGraph(ids(n), k, seed);
        expect([...g.keys()]).toEqual(ids(n));
        for (const p of ids(n)) {
          const to = receivers(g, p);
          expect(to).toHaveLength(k - 1);
          expect(new Set(to).size).toBe(k - 1);
          expect(to).not.toContain(p);
          const from = senders(g, p);
          expect(from).toHaveLength(k - 1);
          expect(from).not.toContain(p);
          if (k === n) expect(new Set(to)).toEqual(new Set(ids(n).filter((q) => q !== p)));
        }
      }),
      { numRuns: 100 },
    );
  });

  test('deterministic in the seed, independent of id order; different seeds give different graphs', () => {
    const seed = new Uint8Array(32).fill(7);
    const a = shareGraph(ids(8), 3, seed);
    const b = shareGraph([...ids(8)].reverse(), 3, seed.slice());
    expect([...a]).toEqual([...b]);
    const distinct = new Set<string>();
    for (let i = 0; i < 30; i++) distinct.add(JSON.stringify([...shareGraph(ids(8), 2, new Uint8Array(32).fill(i))]));
    expect(distinct.size).toBeGreaterThan(20);
  });

  test('the shuffle is unbiased enough: every position equally likely (n = 4, k = 2)', () => {
    // Count how often p00 sends to p01 over many seeds; expect 1/3.
    let hits = 0;
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const seed = new Uint8Array(32);
      new DataView(seed.buffer).setUint32(0, i);
      if (shareGraph(ids(4), 2, seed).get('p00')![0] === 'p01') hits++;
    }
    expect(Math.abs(hits - N / 3)).toBeLessThan(5 * Math.sqrt((N * 2) / 9));
  });

  test('collusionThreshold agrees with brute force over all coalitions, n ≤ 8, all k', () => {
    for (let n = 2; n <= 8; n++) {
      for (let k = 2; k <= n; k++) {
        const parties = ids(n);
        const g = shareGraph(parties, k, new Uint8Array(32).fill(n * 16 + k));
        let best = Infinity;
        for (let mask = 1; mask < 1 << n; mask++) {
          const C = parties.filter((_, i) => (mask >> i) & 1);
          if (C.length >= best) continue;
          // The coalition learns x_v iff it holds every segment v sent and every segment v received.
          const learns = parties.some(
            (v) => !C.includes(v) && [...g.get(v)!, ...parties.filter((u) => g.get(u)!.includes(v))].every((u) => C.includes(u)),
          );
          expect(exposedParties(g, C).length > 0).toBe(learns);
          if (learns) best = C.length;
        }
        expect(collusionThreshold(n, k)).toBe(best);
      }
    }
    expect(collusionThreshold(10, 10)).toBe(9);
    expect(collusionThreshold(10, 2)).toBe(2);
    expect(collusionThreshold(10, 3)).toBe(4);
  });

  test('refusals', () => {
    const seed = new Uint8Array(32);
    expect(() => shareGraph(['a'], 1, seed)).toThrow(CouplerError);
    expect(() => shareGraph(['a', 'a'], 2, seed)).toThrow(/duplicate/);
    expect(() => shareGraph(['a', ''], 2, seed)).toThrow(CouplerError);
    expect(() => shareGraph(['a', 'b'], 2, new Uint8Array(8))).toThrow(/16\.\.1024 bytes/);
    try {
      shareGraph(['a', 'b', 'c'], 1, seed);
    } catch (e) {
      expect((e as CouplerError).code).toBe(ErrorCode.PARAMETERS_UNSAFE);
    }
    expect(() => shareGraph(['a', 'b', 'c'], 4, seed)).toThrow(CouplerError);
    expect(() => receivers(shareGraph(['a', 'b'], 2, seed), 'z')).toThrow(CouplerError);
    expect(() => collusionThreshold(1, 2)).toThrow(CouplerError);
  });
});
