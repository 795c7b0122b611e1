/**
 * review7: dkSecureSum's share graph and segment deal, attacked and stressed.
 * Real groups on 127.0.0.1 (test/support/group-harness.ts).
 */
import { dkSecureSum, secureSum } from '../../src/protocols';
import { createTestGroups, settleAll } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';
import { agreeRun, encodeRun, roundOptions, seedFor } from '../../src/protocols/common';
import { collectAdditive, dealAdditive, openPartials } from '../../src/protocols/additive';
import { collusionThreshold, receivers, senders, shareGraph } from '../../src/protocols/math';

jest.setTimeout(120_000);

describe('B1: dkSecureSum share vectors longer than one message', () => {
  // 300 000 elements: 2.4 MB per share vector, over maxMessageBytes = 2 MiB; secureSum deals such
  // vectors in pieces (shares: 'vector', L > PIECE_ELEMENTS) and completes with the same limits.
  const L = 300_000;
  const limits = { extra: () => ({ maxMessageBytes: 2 * 1024 * 1024 }) };

  it('secureSum (vector shares) completes under maxMessageBytes = 2 MiB (control)', async () => {
    const t = await createTestGroups(3, limits);
    try {
      const inputs = t.groups.map((_, i) => Float64Array.from({ length: L }, (_v, j) => (i + 1) * (j % 7)));
      const out = await settleAll(t.groups.map((g, i) => secureSum(g, inputs[i]!, { shares: 'vector' })));
      for (const r of out) expect(r.ok).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('dkSecureSum (vector shares) completes under the same limits, and the sum is right', async () => {
    const t = await createTestGroups(4, limits);
    try {
      const inputs = t.groups.map((_, i) => Float64Array.from({ length: L }, (_v, j) => (i + 1) * (j % 7)));
      const out = await settleAll(t.groups.map((g, i) => dkSecureSum(g, inputs[i]!, { shares: 'vector', k: 3 })));
      for (const r of out) {
        if (!r.ok) throw r.error;
        const sum = r.value.sum as Float64Array;
        expect(sum.length).toBe(L);
        for (const j of [0, 1, 6, 12345, L - 1]) expect(sum[j]).toBe(10 * (j % 7));
      }
    } finally {
      await t.close();
    }
  });
});

describe('B1b: a message over maxMessageBytes is the sender\'s own failure, not its receiver\'s loss', () => {
  it('group.send of an oversized message names nobody (before: PEER_LOST naming the honest receiver)', async () => {
    const t = await createTestGroups(3, { extra: () => ({ maxMessageBytes: 64 * 1024 }) });
    try {
      const g = t.byId.get('p1')!;
      const err = await g.send('p2', 'big', new Uint8Array(100 * 1024)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CouplerError);
      expect((err as CouplerError).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
      expect((err as CouplerError).peers).toEqual([]);
      expect((err as CouplerError).peer).toBeUndefined();
      // The channel is still usable: nothing was sent.
      await g.send('p2', 'small', 1);
      expect(await t.byId.get('p2')!.receive('p1', 'small')).toBe(1);
    } finally {
      await t.close();
    }
  });
});

/**
 * A malicious party running dkSecureSum's own steps (explicit opening 'broadcast', seeds) with one
 * deviation in the segment deal. It stays alive and answers probes throughout.
 */
type Deviation = 'wrong-receiver' | 'malformed-segment' | 'segment-to-all';
async function dkCheater(group: Group, input: number, k: number, deviation: Deviation, o: { roundTimeoutMs: number }): Promise<void> {
  const n = group.parties.length;
  const local = encodeRun(group, 'dk', input, o, 'ring64', { k, shares: 'seed', threshold: collusionThreshold(n, k), opening: 'broadcast' });
  const run = await agreeRun(group, local, o, undefined);
  await run.progress.around(async () => {
    const graph = shareGraph(group.parties, k, seedFor(run.seed, 'dk share graph'));
    const to = receivers(graph, group.localId);
    const from = senders(graph, group.localId);
    const round = `${run.runId}/segment`;
    const others = group.peers.filter((p) => !to.includes(p));
    if (deviation === 'wrong-receiver') {
      // Its first receiver gets nothing; a party outside its receivers gets the segment instead.
      await dealAdditive(group, round, run.encoded, [...to.slice(1), others[0]!], 'seed', undefined, roundOptions(o));
    } else if (deviation === 'malformed-segment') {
      await dealAdditive(group, round, run.encoded, to.slice(1), 'seed', undefined, roundOptions(o));
      await group.send(to[0]!, round, { s: new Uint8Array(31) });
    } else {
      await dealAdditive(group, round, run.encoded, group.peers, 'seed', undefined, roundOptions(o));
    }
    const partial = await collectAdditive(group, round, run.encoded, from, run.length, o);
    return openPartials(group, `${run.runId}/partial`, partial, run.length, o, 'broadcast');
  });
}

describe('B2: a cheater that deals its segments off the share graph', () => {
  const roundTimeoutMs = 3_000;
  for (const deviation of ['wrong-receiver', 'malformed-segment', 'segment-to-all'] as const) {
    it(`${deviation}: no honest party is named; the cheater is named where the deviation is seen`, async () => {
      const t = await createTestGroups(5, { roundTimeoutMs });
      try {
        const cheater = 'p3';
        const o = { roundTimeoutMs };
        const out = await settleAll(
          t.groups.map((g, i) =>
            g.localId === cheater ? dkCheater(g, i + 1, 3, deviation, o).then(() => undefined) : dkSecureSum(g, i + 1, { k: 3, opening: 'broadcast', roundTimeoutMs }),
          ),
        );
        const honest = t.groups.map((g, i) => ({ id: g.localId, r: out[i]! })).filter((x) => x.id !== cheater);
        for (const { id, r } of honest) {
          if (deviation === 'segment-to-all') {
            // An extra segment to a non-receiver is ignored: the cheater's input is what it kept
            // (its own choice, as changing its input), and the run completes everywhere.
            expect(r.ok).toBe(true);
            continue;
          }
          expect(r.ok).toBe(false);
          const e = (r as { error: unknown }).error as CouplerError;
          expect(e).toBeInstanceOf(CouplerError);
          for (const p of e.peers) expect([id, p]).toEqual([id, cheater]);
        }
        if (deviation !== 'segment-to-all') {
          // The party the cheater skipped (or sent a malformed segment) names it.
          const named = honest.filter(({ r }) => !r.ok && ((r as { error: CouplerError }).error.peers ?? []).includes(cheater));
          expect(named.length).toBeGreaterThan(0);
        }
      } finally {
        await t.close();
      }
    });
  }
});
