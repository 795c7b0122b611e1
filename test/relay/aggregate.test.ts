/**
 * The aggregating relay (`opening: 'relay'`): a real relay on 127.0.0.1 adds the parties' masked
 * partial sums and streams one sum back; real parties check it. Correct sums for several n and L
 * (one chunk and many), and the relay's traffic shows it did the adding (each party uploads ≈ 8L
 * and downloads ≈ 9L instead of sending (n − 1)·8L).
 */
import { secureSum, dkSecureSum } from '../../src/protocols';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties } from '../support/group-harness';
import { joinAll } from './_relay';

jest.setTimeout(60_000);

const relays: RelayServer[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()));
});
const urlOf = (r: RelayServer): string => `ws://127.0.0.1:${r.port}`;

/** Deterministic integer-valued inputs (exact in fixed point). */
function inputs(n: number, L: number): Float64Array[] {
  return Array.from({ length: n }, (_, p) => Float64Array.from({ length: L }, (_, l) => ((l * 7 + p * 13) % 2001) - 1000));
}

describe('opening: relay — correct sums through the aggregating relay', () => {
  test.each([
    [3, 1],
    [4, 1000],
    [5, 40_000], // three chunks of 16 384 elements, the last one short
  ])('n = %i, L = %i: every party gets the sum; the relay carried ≈ n·17L, not n·(n − 1)·8L', async (n, L) => {
    const parties = makeParties(n);
    const r = await startRelay({ rosters: [parties.roster] });
    relays.push(r);
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }));
    try {
      const xs = inputs(n, L);
      const expected = Float64Array.from({ length: L }, (_, l) => xs.reduce((s, x) => s + x[l]!, 0));
      const before = r.stats();
      const out = await Promise.all(groups.map((g, i) => secureSum(g, xs[i]!, { opening: 'relay' })));
      for (const o of out) expect(Array.from(o.sum)).toEqual(Array.from(expected));
      const after = r.stats();
      expect(after.aggregations.completed - before.aggregations.completed).toBe(1);
      // The relay summed: uploads n·8L in, answers n·9L out (plus small control traffic through
      // the channels), far below the broadcast's n·(n − 1)·8L once L is large.
      const aggBytes = after.aggregations.bytes - before.aggregations.bytes;
      expect(aggBytes).toBeGreaterThanOrEqual(n * 17 * L);
      expect(aggBytes).toBeLessThan(n * 17 * L + n * 4096 * Math.ceil(L / 16384) + n * 8192);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  test('dkSecureSum with opening: relay, and a second run in the same group (fresh aggregation)', async () => {
    const parties = makeParties(4);
    const r = await startRelay({ rosters: [parties.roster] });
    relays.push(r);
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }));
    try {
      for (let run = 0; run < 2; run++) {
        const xs = inputs(4, 20_000 + run);
        const expected = Float64Array.from({ length: xs[0]!.length }, (_, l) => xs.reduce((s, x) => s + x[l]!, 0));
        const out = await Promise.all(groups.map((g, i) => dkSecureSum(g, xs[i]!, { opening: 'relay' })));
        for (const o of out) expect(Array.from(o.sum)).toEqual(Array.from(expected));
      }
      expect(r.stats().aggregations.completed).toBe(2);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });
});
