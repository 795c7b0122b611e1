/**
 * review26, noticed: with minContributors = n (no dropout accepted) a party that starts late is
 * absent from the run at the others' floor check, which probes it (`_stalled`). What it is called
 * depends on what it does when probed: not started yet and waiting for nobody (the group's
 * withholder rule: named), or already in the run (its statement arrived meanwhile: not named).
 * This records the first; the late party itself names nobody (R26-1's note).
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { ErrorCode, type CouplerError } from '../../src/errors';
import { thresholdSum } from '../../src/protocols';

const D = 1500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('thresholdSum n = 4, t = 2, minContributors = 4: p1 starts 2.5 D late — the others abort TOO_FEW_PARTIES naming p1 (idle when probed: the group rule); p1 names nobody', async () => {
  const c = await createTestGroups(4, { roundTimeoutMs: D });
  try {
    const o = { t: 2, minContributors: 4, roundTimeoutMs: D };
    const others = c.groups.slice(1).map((g, i) => thresholdSum(g, 10 * (i + 2), o));
    const late = sleep(2.5 * D).then(() => thresholdSum(c.groups[0]!, 10, o));
    const out = await settleAll([late, ...others]);
    const seen = out.map((r, i) => (r.ok ? { id: c.ids[i], ok: true } : { id: c.ids[i], code: (r.error as CouplerError).code, peers: (r.error as CouplerError).peers }));
    expect(seen).toEqual([
      { id: 'p1', code: ErrorCode.TOO_FEW_PARTIES, peers: [] },
      { id: 'p2', code: ErrorCode.TOO_FEW_PARTIES, peers: ['p1'] },
      { id: 'p3', code: ErrorCode.TOO_FEW_PARTIES, peers: ['p1'] },
      { id: 'p4', code: ErrorCode.TOO_FEW_PARTIES, peers: ['p1'] },
    ]);
  } finally {
    await c.close();
  }
}, 60_000);
