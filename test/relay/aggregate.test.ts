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
import { expectSameNumbers } from '../support/same-numbers';

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
      for (const o of out) expectSameNumbers(Array.from(o.sum), Array.from(expected));
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
        for (const o of out) expectSameNumbers(Array.from(o.sum), Array.from(expected));
      }
      expect(r.stats().aggregations.completed).toBe(2);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });
});

describe('the default opening', () => {
  const sumOf = (xs: Float64Array[]): number[] => Array.from({ length: xs[0]!.length }, (_, l) => xs.reduce((s, x) => s + x[l]!, 0));

  test("every channel relayed and L ≥ 16 384: secureSum and dkSecureSum open through the relay; below 16 384 they don't", async () => {
    const parties = makeParties(4);
    const r = await startRelay({ rosters: [parties.roster] });
    relays.push(r);
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }));
    try {
      const long = inputs(4, 16_384);
      for (const run of [secureSum, dkSecureSum]) {
        const out = await Promise.all(groups.map((g, i) => run(g, long[i]!)));
        for (const o of out) expectSameNumbers(Array.from(o.sum), sumOf(long));
      }
      expect(r.stats().aggregations.completed).toBe(2);
      const short = inputs(4, 16_383);
      const out = await Promise.all(groups.map((g, i) => secureSum(g, short[i]!)));
      for (const o of out) expectSameNumbers(Array.from(o.sum), sumOf(short));
      expect(r.stats().aggregations.completed).toBe(2);
      // A party that asks for the broadcast explicitly agrees with the others' default (which then falls back).
      const mixed = await Promise.all(groups.map((g, i) => secureSum(g, long[i]!, i === 0 ? { opening: 'broadcast' } : {})));
      for (const o of mixed) expectSameNumbers(Array.from(o.sum), sumOf(long));
      expect(r.stats().aggregations.completed).toBe(2);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  test('auto with some pairs direct: a party whose every channel is relayed still agrees on the broadcast', async () => {
    const parties = makeParties(3);
    const r = await startRelay({ rosters: [parties.roster] });
    relays.push(r);
    const groups = await joinAll(parties, (id) => ({
      transport: 'auto',
      relayUrl: urlOf(r),
      autoFallbackMs: 1500,
      // p3 accepts no inbound connection and finds nobody to dial: all its channels are relayed.
      listen: id === 'p3' ? false : { host: '127.0.0.1', port: 0 },
      ...(id === 'p3' ? { discovery: [] } : {}),
    }));
    try {
      expect(groups[2]!.stats().every((s) => s.path === 'relay')).toBe(true);
      expect(groups[0]!.stats().find((s) => s.peer === 'p2')!.path).toBe('direct');
      const xs = inputs(3, 20_000);
      const out = await Promise.all(groups.map((g, i) => secureSum(g, xs[i]!)));
      for (const o of out) expectSameNumbers(Array.from(o.sum), sumOf(xs));
      expect(r.stats().aggregations.completed).toBe(0);
      // Asked for explicitly, the relayed opening works in such a group too.
      const again = await Promise.all(groups.map((g, i) => secureSum(g, xs[i]!, { opening: 'relay' })));
      for (const o of again) expectSameNumbers(Array.from(o.sum), sumOf(xs));
      expect(r.stats().aggregations.completed).toBe(1);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  test("opening: 'relay' in a group without a relay is refused before anything is sent", async () => {
    const parties = makeParties(3);
    const groups = await joinAll(parties, () => ({ listen: { host: '127.0.0.1', port: 0 } }));
    try {
      await expect(secureSum(groups[0]!, 1, { opening: 'relay' })).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
      const out = await Promise.all(groups.map((g, i) => secureSum(g, i)));
      for (const o of out) expect(o.sum).toBe(3);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });
});

describe("the relay's aggregation resources", () => {
  test('a full relay (maxAggregations: 1) queues a second group’s relayed opening: it retries and completes', async () => {
    const a = makeParties(3, 'a');
    const b = makeParties(3, 'b');
    const r = await startRelay({ rosters: [a.roster, b.roster], maxAggregations: 1 });
    relays.push(r);
    const [ga, gb] = await Promise.all([joinAll(a, () => ({ transport: 'relay', relayUrl: urlOf(r) })), joinAll(b, () => ({ transport: 'relay', relayUrl: urlOf(r) }))]);
    try {
      const xs = inputs(3, 200_000);
      const expected = Array.from({ length: 200_000 }, (_, l) => xs.reduce((s, x) => s + x[l]!, 0));
      const outs = await Promise.all([...ga, ...gb].map((g, i) => secureSum(g, xs[i % 3]!, { opening: 'relay' })));
      for (const o of outs) expectSameNumbers(Array.from(o.sum), expected);
      expect(r.stats().aggregations.completed).toBe(2);
      expect(r.stats().refused['relay-full'] ?? 0).toBeGreaterThan(0);
      expect(r.stats().aggregations.live).toBe(0);
    } finally {
      await Promise.all([...ga, ...gb].map((g) => g.close()));
    }
  });

  test('vectors over maxAggregateElements are refused (aggregate-mismatch, deterministic) before anything is uploaded', async () => {
    const parties = makeParties(3);
    const r = await startRelay({ rosters: [parties.roster], maxAggregateElements: 1000 });
    relays.push(r);
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }));
    try {
      const xs = inputs(3, 1001);
      const results = await Promise.allSettled(groups.map((g, i) => secureSum(g, xs[i]!, { opening: 'relay' })));
      for (const res of results) {
        expect(res.status).toBe('rejected');
        expect((res as PromiseRejectedResult).reason).toMatchObject({ code: 'COUPLER_ERR_RELAY_REFUSED', reason: 'aggregate-mismatch' });
      }
      expect(r.stats().aggregations.bytes).toBe(0);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });
});
