/**
 * The aggregated opening of the partial sums (`opening: 'aggregate'`, src/protocols/aggregate.ts)
 * with honest parties over real channels in this process: it gives exactly the sums of the
 * broadcast opening for every n, L (L = 1, L < n, L = n, L not divisible by n, 1e4) and input
 * kind, in both protocols; the defaults and the parameter agreement; the Merkle helpers; and the
 * bytes per party, split by round, against the costs derived in aggregate.ts — the vector part
 * stays below 17L whatever n (the two-aggregator design before it: 24L), where the broadcast opening grows as (n − 1)·8L.
 *
 * Adversarial behaviour (real processes) is in adversarial.test.ts.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { AddressBook, joinLocal, settleAll, type TestParties } from '../support/group-harness';
import { testIdentity } from '../support/identity';
import { createRoster } from '../../src/identity/roster';
import { secureSum, dkSecureSum, type SumResult } from '../../src/protocols';
import { merkleLevels, merkleProof, merkleRootFromProof } from '../../src/protocols/aggregate';
import type { SumInput } from '../../src/protocols/math/index';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';

/** Parties a01..aNN (zero-padded, so the canonical order is the index order for n up to 99). */
function parties(n: number): TestParties {
  const ids = Array.from({ length: n }, (_, i) => `a${String(i + 1).padStart(2, '0')}`);
  const identities = new Map(ids.map((id) => [id, testIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  return { ids, identities, roster, sessionId: `test-agg-${randomBytes(8).toString('hex')}` };
}

const cache = new Map<number, Group[]>();
async function groupsOf(n: number): Promise<Group[]> {
  let g = cache.get(n);
  if (g === undefined) {
    g = await joinLocal(parties(n), parties(n).ids, new AddressBook());
    cache.set(n, g);
  }
  return g;
}
afterAll(async () => {
  await Promise.all([...cache.values()].flat().map((g) => g.close()));
});

/**
 * Rounds each group sends on, with the group's total bytes sent when it started sending on each
 * (wrappers on the instance; the protocols are untouched). A round's bytes are the difference to
 * the next mark: exact, because every round's sends are awaited before the next round's start.
 */
const marks = new WeakMap<Group, { round: string; at: number }[]>();
const totalSent = (g: Group): number => g.stats().reduce((s, p) => s + p.bytesSent, 0);
function watch(g: Group): { round: string; at: number }[] {
  let log = marks.get(g);
  if (log !== undefined) return log;
  log = [];
  const list = log;
  const see = (round: string): void => {
    if (list[list.length - 1]?.round !== round) list.push({ round, at: totalSent(g) });
  };
  const send = g.send.bind(g);
  const sendToAll = g.sendToAll.bind(g);
  g.send = (peer: string, round: string, payload: PlainData): Promise<void> => {
    see(round);
    return send(peer, round, payload);
  };
  g.sendToAll = (round: string, payload: PlainData, to?: readonly string[]): Promise<void> => {
    see(round);
    return to === undefined ? sendToAll(round, payload) : sendToAll(round, payload, to);
  };
  marks.set(g, log);
  return log;
}

type Proto = 'secureSum' | 'dkSecureSum';
const run = (proto: Proto, g: Group, x: SumInput, o: Record<string, unknown>): Promise<SumResult> =>
  proto === 'secureSum' ? secureSum(g, x, o) : dkSecureSum(g, x, o);

/** Run at every party of `gs`, with `opening`; every party must get the same sum; returns it. */
async function sumAll(proto: Proto, gs: Group[], inputs: readonly SumInput[], o: Record<string, unknown>): Promise<unknown> {
  const results = await Promise.all(gs.map((g, i) => run(proto, g, inputs[i]!, o)));
  const first = results[0]!.sum;
  for (const r of results) expect(r.sum).toEqual(first);
  return first;
}

describe('the aggregated opening gives exactly the sums of the broadcast opening', () => {
  test('random n ∈ 2..12, L ∈ {1, < n, = n, n + 1, not divisible by n, random}, both protocols, random k (property)', async () => {
    const sample = fc
      .integer({ min: 2, max: 12 })
      .chain((n) =>
        fc.record({
          n: fc.constant(n),
          proto: fc.constantFrom<Proto>('secureSum', 'dkSecureSum'),
          k: fc.integer({ min: 2, max: n }),
          shares: fc.constantFrom('seed', 'vector'),
          L: fc.oneof(fc.constant(1), fc.constant(Math.max(1, n - 1)), fc.constant(n), fc.constant(n + 1), fc.constant(3 * n + 2), fc.integer({ min: 1, max: 60 })),
        }),
      )
      .chain((s) => fc.record({ s: fc.constant(s), inputs: fc.array(fc.array(fc.bigInt({ min: -(2n ** 31n), max: 2n ** 31n }), { minLength: s.L, maxLength: s.L }), { minLength: s.n, maxLength: s.n }) }));
    await fc.assert(
      fc.asyncProperty(sample, async ({ s, inputs }) => {
        const gs = await groupsOf(s.n);
        const common = { shares: s.shares, allowTwoParties: true, ...(s.proto === 'dkSecureSum' ? { k: s.k } : {}) };
        const want = inputs[0]!.map((_, j) => inputs.reduce((acc, x) => acc + x[j]!, 0n));
        const agg = await sumAll(s.proto, gs, inputs, { ...common, opening: 'aggregate' });
        const bc = await sumAll(s.proto, gs, inputs, { ...common, opening: 'broadcast' });
        expect(agg).toEqual(want);
        expect(bc).toEqual(want);
      }),
      { numRuns: 24, endOnFailure: true },
    );
  }, 120_000);

  test.each([5, 7])('records and L = 1e4 floats, n = %i, both protocols: identical to broadcast', async (n) => {
    const gs = await groupsOf(n);
    const records = gs.map((_, i) => ({ total: 12.5 * i, count: BigInt(i), h: Array.from({ length: 13 }, (_, j) => (i - j) / 4), d: `${i}.25` }));
    const vectors = gs.map((_, i) => Float64Array.from({ length: 10_000 }, (_, j) => Math.sin(i * 31 + j) * 1000));
    for (const proto of ['secureSum', 'dkSecureSum'] as const) {
      for (const inputs of [records, vectors] as SumInput[][]) {
        const agg = await sumAll(proto, gs, inputs, { opening: 'aggregate' });
        const bc = await sumAll(proto, gs, inputs, { opening: 'broadcast' });
        expect(agg).toEqual(bc);
      }
    }
  }, 60_000);
});

describe('option and defaults', () => {
  const roundsOf = (g: Group, from: number): string[] => watch(g).slice(from).map((r) => r.round.split('/').slice(1).join('/'));

  test('dkSecureSum defaults to the aggregated opening for n ≥ 4 and to broadcast for n = 3; secureSum to broadcast', async () => {
    for (const [n, proto, want] of [
      [4, 'dkSecureSum', 'aggregate'],
      [5, 'dkSecureSum', 'aggregate'],
      [3, 'dkSecureSum', 'broadcast'],
      [5, 'secureSum', 'broadcast'],
      [3, 'secureSum', 'broadcast'],
    ] as const) {
      const gs = await groupsOf(n);
      const from = watch(gs[0]!).length;
      gs.slice(1).forEach(watch);
      await sumAll(proto, gs, gs.map((_, i) => i + 1), {});
      const rounds = roundsOf(gs[0]!, from);
      expect(rounds.includes('partial/pieces')).toBe(want === 'aggregate');
      // Broadcast opening: the T_p travel with the commitment echo's digests (`partial/c/d`) — for
      // secureSum's fused form (short vectors) with the shape digests (`shape/d`); no chunk sums.
      expect(rounds.includes('partial/sums')).toBe(want === 'aggregate');
      expect(rounds.includes('partial/c/d')).toBe(proto === 'dkSecureSum');
      expect(rounds.includes('shape/d')).toBe(true);
    }
  }, 30_000);

  test('a party with another opening → SHAPE_MISMATCH naming it at the others; the group stays usable', async () => {
    const gs = await groupsOf(4);
    for (const proto of ['secureSum', 'dkSecureSum'] as const) {
      const out = await settleAll(gs.map((g, i) => run(proto, g, 5, { opening: i === 2 ? 'broadcast' : 'aggregate' })));
      out.forEach((o, i) => {
        expect(o.ok).toBe(false);
        const e = (o as { error: CouplerError }).error;
        expect(e.code).toBe(ErrorCode.SHAPE_MISMATCH);
        expect(e.peers).toEqual(i === 2 ? ['a01', 'a02', 'a04'] : ['a03']);
      });
    }
    expect(await sumAll('dkSecureSum', gs, [1, 2, 3, 4], {})).toBe(10);
  }, 30_000);

  test('an unknown opening is refused locally (INVALID_ARGUMENT), nothing sent', async () => {
    const gs = await groupsOf(3);
    const before = gs[0]!.stats().reduce((s, p) => s + p.messagesSent, 0);
    for (const bad of ['Aggregate', 'all', 1, null]) {
      await expect(secureSum(gs[0]!, 1, { opening: bad as never })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
      await expect(dkSecureSum(gs[0]!, 1, { opening: bad as never })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    }
    expect(gs[0]!.stats().reduce((s, p) => s + p.messagesSent, 0)).toBe(before);
    expect(await sumAll('secureSum', gs, [1, 2, 3], { opening: 'aggregate' })).toBe(6);
  });
});

test('Merkle helpers: every proof verifies for n = 1..17; a changed leaf, index or proof does not', () => {
  for (let n = 1; n <= 17; n++) {
    const leaves = Array.from({ length: n }, () => new Uint8Array(randomBytes(32)));
    const levels = merkleLevels(leaves);
    const root = levels[levels.length - 1]![0]!;
    for (let i = 0; i < n; i++) {
      const proof = merkleProof(levels, i);
      expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
      expect(Buffer.from(merkleRootFromProof(leaves[i]!, i, n, proof)!).equals(Buffer.from(root))).toBe(true);
      const other = new Uint8Array(leaves[i]!);
      other[0]! ^= 1;
      expect(Buffer.from(merkleRootFromProof(other, i, n, proof) ?? []).equals(Buffer.from(root))).toBe(false);
      if (n > 1) {
        const j = (i + 1) % n;
        expect(Buffer.from(merkleRootFromProof(leaves[i]!, j, n, proof) ?? []).equals(Buffer.from(root))).toBe(false);
        expect(merkleRootFromProof(leaves[i]!, i, n, [...proof, root])).toBeUndefined();
      }
    }
  }
});

describe('bytes per party (dk, k = 4, aggregated opening, L = 2000): the vector part stays below 17L whatever n', () => {
  const L = 2000;
  /** Per party: bytes sent on the vector rounds (pieces + answers), the echo rounds of the opening, and the whole run. */
  async function measure(n: number, opening: 'aggregate' | 'broadcast'): Promise<{ vector: number; echo: number; open: number; total: number }[]> {
    const gs = await groupsOf(n);
    const from = gs.map((g) => watch(g).length);
    const inputs = gs.map((_, i) => Float64Array.from({ length: L }, (_, j) => ((i * 7 + j) % 1000) - 500));
    await sumAll('dkSecureSum', gs, inputs, { k: 4, opening });
    return gs.map((g, i) => {
      const log = [...watch(g).slice(from[i]), { round: 'end/end', at: totalSent(g) }];
      const tail = (r: string): string => r.split('/').slice(1).join('/');
      const sum = (f: (r: string) => boolean): number => log.slice(0, -1).reduce((s, x, j) => s + (f(tail(x.round)) ? log[j + 1]!.at - x.at : 0), 0);
      return {
        // With the broadcast opening the vectors ride on the commitment echo's digest round.
        vector: sum((r) => ['partial/pieces', 'partial/sums'].includes(r) || (opening === 'broadcast' && r === 'partial/c/d')),
        echo: sum((r) => /^partial\/(c|check)\//.test(r) && !(opening === 'broadcast' && r === 'partial/c/d')),
        open: sum((r) => r.startsWith('partial/')),
        total: log[log.length - 1]!.at - log[0]!.at,
      };
    });
  }

  test('n = 5, 10, 20: 17L·(n−1)/n ≤ vector bytes ≤ that + O(n log n) overhead (< 17L + 40 kB); echo O(n); broadcast (n−1)·8L', async () => {
    const rows: string[] = [];
    const vectorMeans: number[] = [];
    // Per piece message: a nonce and a proof, a signature, msgpack and frame overhead; per answer
    // message: a signature and overhead.
    const overheadOf = (n: number): number => (n - 1) * (32 + 32 * Math.ceil(Math.log2(n)) + 64 + 160) + (n - 1) * (64 + 120);
    for (const n of [5, 10, 20]) {
      const agg = await measure(n, 'aggregate');
      // Pieces: 8 bytes per element of every other party's chunk; answers: 8 bytes and a 1-byte
      // carry per element of this party's chunk, to n − 1 peers (L divisible by n here).
      const payload = (17 * L * (n - 1)) / n;
      for (const p of agg) {
        expect(p.vector).toBeGreaterThanOrEqual(payload);
        expect(p.vector).toBeLessThanOrEqual(payload + overheadOf(n));
        expect(p.vector).toBeLessThan(17 * L + 40_000);
        // Commitment echo + check echo: per peer, one value and one signed 32-byte digest each
        // (the compact echo of src/group/echo.ts) — linear in n, no O(n²) echo list.
        expect(p.echo).toBeLessThanOrEqual(2 * (n - 1) * 500);
      }
      const mean = agg.reduce((s, p) => s + p.vector, 0) / n;
      vectorMeans.push(mean);
      const bc = await measure(n, 'broadcast');
      const bcMean = bc.reduce((s, p) => s + p.vector, 0) / n;
      expect(bcMean).toBeGreaterThanOrEqual((n - 1) * 8 * L);
      rows.push(`n=${n}: aggregate vector ${mean.toFixed(0)} B (17L·(n−1)/n = ${payload.toFixed(0)}), echo ${(agg.reduce((s, p) => s + p.echo, 0) / n).toFixed(0)} B, open ${(agg.reduce((s, p) => s + p.open, 0) / n).toFixed(0)} B; broadcast vector ${bcMean.toFixed(0)} B`);
    }
    // Constant in n up to the (n − 1)/n factor and the per-message overhead: from n = 5 to 20 the
    // vector bytes may grow by at most 17L·(19/20 − 4/5) plus the overhead at n = 20.
    expect(vectorMeans[2]! - vectorMeans[0]!).toBeLessThanOrEqual(17 * L * (19 / 20 - 4 / 5) + overheadOf(20));
    expect(vectorMeans[2]!).toBeLessThan(0.15 * 19 * 8 * L); // broadcast at n = 20 sends > 6× more (here L is small: per-message overhead counts)
    console.log(`[aggregate bytes per party, dk k=4, L=${L}]\n${rows.join('\n')}`);
  }, 120_000);
});
