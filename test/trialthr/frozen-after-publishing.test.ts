/**
 * Trial finding T1 (docs/reviews/trial-threshold.md), three forms (tests below); the first reduced
 * from `npm run bench -- trial
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

/** A party's outcome as the assertions compare it: its error's code and message, or its contributors and sum. */
const view = (r: unknown): unknown =>
  r instanceof Error ? { error: (r as { code?: string }).code, message: r.message } : { contributors: (r as { contributors: string[] }).contributors, sum: [...(r as { sum: Float64Array }).sum] };
const input = (i: number): Float64Array => Float64Array.from({ length: 8 }, (_, k) => (i + 1) * (k + 1));
const sumOf = (idx: readonly number[]): number[] => Array.from({ length: 8 }, (_, k) => idx.reduce((s, i) => s + (i + 1) * (k + 1), 0));

// T1: the next sum after a party froze mid-publication fails at every honest party (3 of 3 runs
// fail on 65d3c61, in ~5 s). Unskipped by the thrlive fix (docs/reviews/trial-threshold.md, "T1 fix").
test('a party frozen while publishing its partial sum (reached some parties only) does not stop the next thresholdSum', async () => {
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
    const seen = r2.map(view);
    // Every honest party completes run 2, without p5 (it never started it), with the same sum.
    for (const v of seen) expect(v).toEqual({ contributors: ['p1', 'p2', 'p3', 'p4'], sum: sumOf([0, 1, 2, 3]) });
  } finally {
    await h.close();
  }
}, 60_000);

// T1, second form (the trial's partition failures): p5 is cut off from p2–p4 as soon as its
// dealer reports are in, from p1 R/3 later — its last dealer report and its dealer-set
// confirmation reach p1 and not (or not all of) p2–p4. The honest parties now wait for p5 in
// different rounds, one round deadline apart: p1 (which has p5's report and confirmation) in the
// confirmation round for p2–p4, whose confirmations come only after they waited out p5's report;
// or p1 for p5's partial sum (2R) while p2–p4 complete and start the next run. Either run 1 fails
// at every honest party (p1 TOO_FEW_PARTIES "only 2 parties confirmed", p2–p4 TIMEOUT waiting for
// p1's partial sum — the first trial's partition failure) or run 2 does (TOO_FEW_PARTIES /
// TIMEOUT — the re-run's). 5 of 5 runs failed here (4 in run 1, 1 in run 2) on 65d3c61. `TRIALTHR_DEBUG=1` prints every gather of the honest parties.
test('a party cut off while its dealer report and confirmation reach one party only stops neither this thresholdSum nor the next', async () => {
  const h = await oneViaForwarders(5, { roundTimeoutMs: ROUND_MS });
  try {
    const honest = h.groups.slice(0, 4);
    const far = h.byId.get('p5')!;
    // p5's dealer reports are in: its confirmations go out next, and reach p1 only.
    const orig = far.gatherSome.bind(far);
    let tripped = false;
    (far as { gatherSome: Group['gatherSome'] }).gatherSome = async (round, minimum, options) => {
      const got = await orig(round, minimum, options);
      if (!tripped && round.endsWith('/dealers')) {
        tripped = true;
        for (const p of ['p2', 'p3', 'p4']) h.via.get(p)!.freeze();
        // Then p1's path too (before p5's own run fails and tells p1).
        setTimeout(() => h.via.get('p1')!.freeze(), ROUND_MS / 3);
      }
      return got;
    };
    const run = (g: Group, i: number): Promise<unknown> => thresholdSum(g, input(i), { t: 3 }).then((r) => r, (e: unknown) => e);
    if (process.env.TRIALTHR_DEBUG) {
      const t0 = Date.now();
      for (const g of honest) {
        const o = g.gatherSome.bind(g);
        (g as { gatherSome: Group['gatherSome'] }).gatherSome = async (round, minimum, options) => {
          const s = Date.now() - t0;
          try {
            const got = await o(round, minimum, options);
            console.log(`${g.localId} ${round} ${s}..${Date.now() - t0} from ${String(options?.from ?? g.peers)} got ${[...got.keys()].join(',')}`);
            return got;
          } catch (e) {
            console.log(`${g.localId} ${round} ${s}..${Date.now() - t0} ${(e as Error).message}`);
            throw e;
          }
        };
      }
    }
    void run(far, 4);
    // p1 calls 100 ms after the others (parties never start in lockstep; well within a deadline):
    // without it, whether p1's next shape statement beats the others' deadline is a coin toss
    // (the trial's failure: it reached two of three); with it, it is late at all three.
    const first = honest.map((g, i) => (i === 0 ? new Promise((r) => setTimeout(r, 100)).then(() => run(g, i)) : run(g, i)));
    const second = honest.map((g, i) => first[i]!.then(() => run(g, i)));
    const r1 = await Promise.all(first);
    const r2 = await Promise.all(second);
    if (process.env.TRIALTHR_DEBUG) console.log(JSON.stringify({ r1: r1.map(view), r2: r2.map(view) }, null, 1));
    // Run 1: p5 dealt to everyone before it was cut off.
    for (const r of r1) expect(view(r)).toEqual({ contributors: ['p1', 'p2', 'p3', 'p4', 'p5'], sum: sumOf([0, 1, 2, 3, 4]) });
    for (const r of r2) expect(view(r)).toEqual({ contributors: ['p1', 'p2', 'p3', 'p4'], sum: sumOf([0, 1, 2, 3]) });
  } finally {
    await h.close();
  }
}, 60_000);

// T1, third form (trial `--length=100000`, kill -9 through the relay in the first run): p5 vanishes
// while dealing — its shape statement and share reach p1 and p2, not p3 and p4. p1 and p2 then
// wait for p5's dealer report (one deadline), p3 and p4 for its shape statement (one deadline, each
// from the moment it called), and send their reports only then. In the trial p3's report made p1's
// and p2's deadline and p4's did not: p1 and p2 confirmed to p2/p1 and p3 only and failed
// TOO_FEW_PARTIES (3 confirmations of 4), p3 waited for their partial sums (TIMEOUT), p4 got no
// confirmation from them (TOO_FEW_PARTIES). Here the same calls are 100 ms apart: p3 first, then
// p1, p2 (and p5), then p4 — a skew any run has. Fails on 65d3c61.
test('a party that vanishes while its first flight (shape statement and share) reached some parties only stops no thresholdSum', async () => {
  const h = await oneViaForwarders(5, { roundTimeoutMs: ROUND_MS });
  try {
    const honest = h.groups.slice(0, 4);
    const far = h.byId.get('p5')!;
    const run = (g: Group, i: number): Promise<unknown> => thresholdSum(g, input(i), { t: 3 }).then((r) => r, (e: unknown) => e);
    h.via.get('p3')!.freeze();
    h.via.get('p4')!.freeze();
    const after = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    // p3 calls first, p1, p2 and p5 100 ms later, p4 100 ms after them.
    void after(100).then(() => run(far, 4));
    // p5's first flight reached p1 and p2; then it is gone for them too.
    void after(100 + ROUND_MS / 3).then(() => {
      h.via.get('p1')!.freeze();
      h.via.get('p2')!.freeze();
    });
    const first = honest.map((g, i) => after([100, 100, 0, 200][i]!).then(() => run(g, i)));
    const second = honest.map((g, i) => first[i]!.then(() => run(g, i)));
    const r1 = await Promise.all(first);
    const r2 = await Promise.all(second);
    if (process.env.TRIALTHR_DEBUG) console.log(JSON.stringify({ r1: r1.map(view), r2: r2.map(view) }, null, 1));
    // p3 and p4 never got p5's share: p5 is no dealer, for everyone.
    for (const r of [...r1, ...r2]) expect(view(r)).toEqual({ contributors: ['p1', 'p2', 'p3', 'p4'], sum: sumOf([0, 1, 2, 3]) });
  } finally {
    await h.close();
  }
}, 60_000);
