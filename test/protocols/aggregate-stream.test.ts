/**
 * The aggregated opening with long chunks (n × 2^17 elements or more): pieces and chunk answers
 * travel in 1 MiB parts under flow control and are summed and placed as they arrive (issue 18
 * item 4: bounded memory). Correct sums, bytes per party still ≈ 17L(n − 1)/n, and a part that is
 * not what its sender signed names the sender.
 */
import { secureSum, dkSecureSum } from '../../src/protocols';
import { AGGREGATE_PART_ELEMENTS } from '../../src/protocols/aggregate';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(60_000);

const inputs = (n: number, L: number): Float64Array[] => Array.from({ length: n }, (_, p) => Float64Array.from({ length: L }, (_, l) => ((l * 5 + p * 17) % 4001) - 2000));
const sumOf = (xs: Float64Array[]): number[] => Array.from({ length: xs[0]!.length }, (_, l) => xs.reduce((s, x) => s + x[l]!, 0));
const sent = (g: Group): number => g.stats().reduce((s, p) => s + p.bytesSent, 0);

/** The largest message payload (encoded bytes) a group sends from now on. */
function largestSent(g: Group): () => number {
  let max = 0;
  const see = (payload: PlainData): void => {
    max = Math.max(max, encodeMessage(payload).length);
  };
  const send = g.send.bind(g);
  const sendToAll = g.sendToAll.bind(g);
  g.send = (peer: string, round: string, payload: PlainData): Promise<void> => {
    see(payload);
    return send(peer, round, payload);
  };
  g.sendToAll = (round: string, payload: PlainData, to?: readonly string[]): Promise<void> => {
    see(payload);
    return sendToAll(round, payload, to);
  };
  return () => max;
}

test('chunks of several parts: secureSum and dkSecureSum give the sum, ≈ 17L(n − 1)/n bytes per party, no message above one part', async () => {
  const n = 3;
  const L = 6 * AGGREGATE_PART_ELEMENTS + 5_000; // chunks of ≈ 263 811 elements (2.1 MB): 3 parts each
  const t = await createTestGroups(n);
  try {
    const largest = t.groups.map(largestSent);
    const xs = inputs(n, L);
    for (const run of [secureSum, dkSecureSum]) {
      const before = t.groups.map(sent);
      const out = await Promise.all(t.groups.map((g, i) => run(g, xs[i]!, { opening: 'aggregate' })));
      for (const o of out) expect(Array.from(o.sum)).toEqual(sumOf(xs));
      for (const [i, g] of t.groups.entries()) {
        const bytes = sent(g) - before[i]!;
        expect(bytes).toBeGreaterThan((17 * L * (n - 1)) / n);
        expect(bytes).toBeLessThan((17 * L * (n - 1)) / n + 200_000);
      }
    }
    // Before the parts, each piece and answer was one message of a whole chunk (2.1 MB here).
    for (const m of largest) expect(m()).toBeLessThanOrEqual(9 * AGGREGATE_PART_ELEMENTS + 1024);
  } finally {
    await Promise.all(t.groups.map((g) => g.close()));
  }
});

test('a piece part that differs from what its sender signed: the receiver names the sender', async () => {
  const n = 3;
  const L = 3 * AGGREGATE_PART_ELEMENTS + 3; // 131 073 and 131 074 elements: two parts
  const t = await createTestGroups(n);
  try {
    const [g1, g2] = t.groups;
    // p2's first piece part to p1 is altered after p2 signed the piece (on p2's own outgoing path).
    const raw = g2!.send.bind(g2);
    g2!.send = async (peer: string, round: string, payload: PlainData): Promise<void> => {
      if (peer === g1!.localId && /\/pieces\/0$/.test(round) && payload instanceof Uint8Array) {
        const bad = Uint8Array.from(payload);
        bad[0]! ^= 1;
        return raw(peer, round, decodeMessage(encodeMessage(bad), 1 << 24, { peer }) as PlainData);
      }
      return raw(peer, round, payload);
    };
    const xs = inputs(n, L);
    const results = await settleAll(t.groups.map((g, i) => secureSum(g, xs[i]!, { opening: 'aggregate' })));
    expect(results.every((r) => !r.ok)).toBe(true);
    const e1 = (results[0] as { error: unknown }).error as CouplerError;
    expect(e1.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
    expect(e1.peers).toEqual([g2!.localId]);
  } finally {
    await Promise.all(t.groups.map((g) => g.close()));
  }
});
