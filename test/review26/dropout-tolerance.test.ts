/**
 * review26 question 3: the documented dropout tolerance of thresholdSum — "up to
 * n − max(⌈(n + t)/2⌉, minContributors) parties may drop (before dealing, or after it) and the sum
 * still completes", a frozen party (sockets open) included. Exactly that many drop, at each phase,
 * closed or frozen; every other party must complete with the sum over the dealers in Q, within a
 * bound of several round deadlines (not hung), and nobody is named.
 *
 * In this process, real groups on 127.0.0.1; the dropping parties run the real thresholdSum and stop
 * at their first post of the phase's round (test/review26/support.ts).
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { cases } from '../support/extended';
import { thresholdSum, thresholdQuorum, thresholdDealerFloor, type SumResult } from '../../src/protocols';
import type { CouplerError } from '../../src/errors';
import { dropAt, type Mode, type Phase } from './support';
import { PIECE_ELEMENTS } from '../../src/protocols/common';

afterEach(() => jest.restoreAllMocks());


async function scenario(n: number, t: number, phase: Phase, mode: Mode, minContributors?: number, L = 1, D = 1500): Promise<void> {
  const m = thresholdQuorum(n, t);
  const minC = minContributors ?? thresholdDealerFloor(n, t);
  const drops = n - Math.max(m, minC);
  expect(drops).toBeGreaterThan(0);
  const c = await createTestGroups(n, { roundTimeoutMs: D });
  try {
    const dropping = c.ids.slice(n - drops);
    const honest = c.ids.slice(0, n - drops);
    const { gone } = dropAt(c.byId, dropping, phase, mode);
    const inputs = c.ids.map((_, i) => 10 * (i + 1));
    const value = (i: number): number | Float64Array => (L === 1 ? inputs[i]! : new Float64Array(L).fill(inputs[i]!));
    const opts = { t, roundTimeoutMs: D, ...(minContributors === undefined ? {} : { minContributors }) };
    const t0 = Date.now();
    for (const id of dropping) void thresholdSum(c.byId.get(id)!, value(c.ids.indexOf(id)), opts).catch(() => undefined);
    const guard = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${20 * D} ms`)), 20 * D).unref());
    const out = await Promise.race([settleAll(honest.map((id) => thresholdSum(c.byId.get(id)!, value(c.ids.indexOf(id)), opts))), guard]);
    const elapsed = Date.now() - t0;
    // Dealers: every party that dealt before dropping (phases after the deal), else the honest ones.
    const dealers = phase === 'shape' || phase === 'deal/p1' ? honest : c.ids;
    const sum = dealers.reduce((a, id) => a + inputs[c.ids.indexOf(id)]!, 0);
    const seen = out.map((r, i) => (r.ok ? { id: honest[i], sum: L === 1 ? (r.value as SumResult).sum : [(r.value as SumResult<Float64Array>).sum[0], (r.value as SumResult<Float64Array>).sum[L - 1]], contributors: (r.value as SumResult).contributors } : { id: honest[i], code: (r.error as CouplerError).code, peers: (r.error as CouplerError).peers, message: (r.error as CouplerError).message }));
    expect(seen).toEqual(honest.map((id) => ({ id, sum: L === 1 ? sum : [sum, sum], contributors: dealers })));
    expect(elapsed).toBeLessThan(20 * D);
    expect([...gone].sort()).toEqual(dropping);
  } finally {
    jest.restoreAllMocks();
    await c.close();
  }
}

const phases: Phase[] = ['shape', 'dealers', 'confirm', 'partial', 'partial-1'];
// By default every phase once, alternately closed and frozen; all 21 cases with COUPLER_TESTS_EXTENDED=1.
const closedPhases = cases(phases, (_, i) => i % 2 === 0);
const frozenPhases = cases(phases, (_, i) => i % 2 === 1);

describe.each<Mode>(['closed', 'frozen'])('thresholdSum n = 6, t = 2 (m = 4, floor 3): 2 parties drop, %s', (mode) => {
  test.each(mode === 'closed' ? closedPhases : frozenPhases)('at %s: the other 4 complete over the dealers, nobody named', async (phase) => {
    await scenario(6, 2, phase, mode);
  }, 60_000);
});

describe.each<Mode>(['closed', 'frozen'])('thresholdSum n = 5, t = 2 (m = 4, floor 3), a long vector (pieces): 1 party drops, %s', (mode) => {
  test.each<Phase>(cases<Phase>(['deal/p1', 'dealers', 'confirm', 'partial/p1'], (p) => (mode === 'closed' ? p === 'deal/p1' : p === 'partial/p1')))('at %s: the other 4 complete over the dealers, nobody named', async (phase) => {
    await scenario(5, 2, phase, mode, undefined, PIECE_ELEMENTS + 1, 4000);
  }, 120_000);
});

describe('minContributors above the quorum', () => {
  test.each<[Phase, Mode]>(cases<[Phase, Mode]>([
    ['shape', 'frozen'],
    ['confirm', 'frozen'],
    ['partial-1', 'closed'],
  ], (c) => c[0] === 'confirm'))('thresholdSum n = 7, t = 2, minContributors = 6 (m = 5): 1 party drops at %s, %s', async (phase, mode) => {
    await scenario(7, 2, phase, mode, 6);
  }, 60_000);
});

describe('a larger group', () => {
  test.each<[Phase, Mode]>(cases<[Phase, Mode]>([
    ['dealers', 'frozen'],
    ['confirm', 'closed'],
    ['partial-1', 'frozen'],
  ], (c) => c[0] === 'partial-1'))('thresholdSum n = 9, t = 3 (m = 6, floor 4): 3 parties drop at %s, %s', async (phase, mode) => {
    await scenario(9, 3, phase, mode);
  }, 90_000);
});
