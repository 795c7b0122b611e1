/**
 * Trial finding T1 (docs/reviews/trial-threshold.md), reduced from `npm run bench -- trial
 * --protocols=thresholdSum --faults=stop` on the netns testbed: 5 parties, t = 3 (README: one
 * party may drop, "a party frozen with its sockets open too"), sums back to back.
 *
 * p5 freezes (SIGSTOP) while publishing its partial sum: it reached p1, p2, p3, not p4. Run 1
 * completes everywhere — but p4 waits for p5's partial sum for the whole publication deadline (two
 * round deadlines) although it holds enough, while p1–p3, who got it, start run 2 at once and wait
 * only one round deadline for the shape statements: they miss p4's and p5's, hold 3 dealers of
 * the 4 needed and fail TOO_FEW_PARTIES; p4, arriving later, fails TIMEOUT. One frozen party — the
 * one dropout promised — stops the next sum at every honest party.
 *
 * Here p5 is reached through one forwarder per party (test/support/one-via-forwarders.ts): p4's
 * is frozen the moment p5 starts publishing (its `open` progress event, sent before the partial
 * sums), the others once p1–p3 completed run 1. Each honest party starts run 2 as soon as its run
 * 1 returned, as the trial parties do.
 */
import type { Group } from '../../src/group/group';
import { thresholdSum } from '../../src/protocols';
import { oneViaForwarders } from '../support/one-via-forwarders';

const ROUND_MS = 1_500;

const input = (i: number): Float64Array => Float64Array.from({ length: 8 }, (_, k) => (i + 1) * (k + 1));
const sumOf = (idx: readonly number[]): number[] => Array.from({ length: 8 }, (_, k) => idx.reduce((s, i) => s + (i + 1) * (k + 1), 0));

// T1: the next sum after a party froze mid-publication fails at every honest party (3 of 3 runs
// fail here, in ~5 s). Skipped: the fix belongs in src/protocols/threshold.ts (the publication
// round's wait for a partial sum it no longer needs, or the next shape round dropping a live party
// that says it waits for the frozen one), which review 26 owns and this trial may not edit.
test.skip('a party frozen while publishing its partial sum (reached some parties only) does not stop the next thresholdSum', async () => {
  let tripped = false;
  const h = await oneViaForwarders(5, {
    roundTimeoutMs: ROUND_MS,
    extra: (id) =>
      id === 'p5'
        ? {
            onProgress: (p) => {
              // p5 is about to send its partial sums: p4 will not get it.
              if (!tripped && p.phase === 'open') {
                tripped = true;
                h.via.get('p4')!.freeze();
              }
            },
          }
        : {},
  });
  try {
    const honest = h.groups.slice(0, 4);
    const far = h.byId.get('p5')!;
    const run = (g: Group, i: number): Promise<unknown> => thresholdSum(g, input(i), { t: 3 }).then((r) => r, (e: unknown) => e);
    void run(far, 4); // p5's own run: it freezes mid-way, its outcome is not looked at
    const first = honest.map((g, i) => run(g, i));
    // p1–p3 completed run 1 (with p5's partial sum): now p5 is frozen for everybody.
    void Promise.all(first.slice(0, 3)).then(() => {
      for (const v of h.via.values()) v.stall();
    });
    // Each honest party starts run 2 as soon as its run 1 returned.
    const second = honest.map((g, i) => first[i]!.then(() => run(g, i)));
    const r1 = await Promise.all(first);
    const r2 = await Promise.all(second);
    for (const r of r1) expect(r).toMatchObject({ contributors: ['p1', 'p2', 'p3', 'p4', 'p5'] });
    const view = (r: unknown): unknown =>
      r instanceof Error ? { error: (r as { code?: string }).code, message: r.message } : { contributors: (r as { contributors: string[] }).contributors, sum: [...((r as { sum: Float64Array }).sum)] };
    const seen = r2.map(view);
    // Every honest party completes run 2, without p5 (it never started it), with the same sum.
    for (const v of seen) expect(v).toEqual({ contributors: ['p1', 'p2', 'p3', 'p4'], sum: sumOf([0, 1, 2, 3]) });
  } finally {
    await h.close();
  }
}, 60_000);
