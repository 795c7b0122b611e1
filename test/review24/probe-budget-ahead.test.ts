/**
 * Review 24 (docs/reviews/review24-probe-second-look.md): the per-run liveness probes of R21-4 and
 * the pong budget (W10) when the asker is one batch of concurrent runs ahead. In-process parties,
 * real channels on 127.0.0.1.
 */
import { createTestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';

jest.setTimeout(60_000);

const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);

test('B1: an honest party still held up in the previous batch of concurrent runs is not named by a party one batch ahead for the probes over its answer budget', async () => {
  // mailbox.maxRunsAhead 64: a batch of 20 concurrent sums one batch ahead is within the window.
  const h = await createTestGroups(3, { roundTimeoutMs: 2_000, extra: () => ({ mailbox: { maxRunsAhead: 64 } }) });
  try {
    const [p1, p2, p3] = h.groups;
    // A loop of batches of 20 sums started together (`for (…) await Promise.all(…)`). In batch 1, p3
    // withholds from p2 alone; p1 got what it needed and went on to batch 2 (its counter 21..40);
    // p2, honest, is still in batch 1 waiting for p3 (counter 20), so it has not reached batch 2.
    // p1's 20 deadlines pass together: 20 pings to p2, each naming its run. p2 answers 16 a second
    // from one party; over that budget only pings about runs running at p2 are answered (W10), and
    // batch 2 does not run there yet: p2 was silent at p1 in 4 runs and named, the withholder not.
    const batch1 = Array.from({ length: 20 }, () => [p1!.nextRunId('sum'), p2!.nextRunId('sum'), p3!.nextRunId('sum')][0]!);
    const batch2 = Array.from({ length: 20 }, () => p1!.nextRunId('sum'));
    const behind = batch1.map((run) =>
      failure(
        p2!.gather(`${run}/a`, { from: ['p3'], timeoutMs: 3_500 }).catch((e: unknown) => {
          p2!.endRun(run, e);
          throw e;
        }),
      ),
    );
    const ahead = await Promise.all(batch2.map((run) => failure(p1!.gather(`${run}/a`, { from: ['p2'], timeoutMs: 1_200 }))));
    await Promise.all(behind);
    const named = ahead.filter((e) => e?.peers?.includes('p2') === true).length;
    for (const e of ahead) expect(e?.code).toBe(ErrorCode.TIMEOUT);
    expect(named).toBe(0);
  } finally {
    await h.close();
  }
});

test('B1b: a party that ended its runs is not named, over its answer budget, when a withholder says it waits for it', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 2_000 });
  try {
    const [p1, p2, p3] = h.groups;
    // 20 runs at once. p2 is done with each (ended it). p3 withholds from p1 in each and, asked,
    // says it waits for p2 (here: it waits for p2 in an exchange of its own, which a probe answer
    // does not tell apart). p1 follows the claim and asks p2 about each of its 20 runs: over the
    // budget only runs running at p2 were answered (W10), so p2 was silent at p1 in 4 runs and
    // named — the honest party, not the withholder.
    const runs = Array.from({ length: 20 }, () => [p1!.nextRunId('sum'), p2!.nextRunId('sum'), p3!.nextRunId('sum')][0]!);
    for (const run of runs) p2!.endRun(run);
    const held = failure(p3!.gather('own/x', { from: ['p2'], timeoutMs: 4_000 }));
    const errs = await Promise.all(runs.map((run) => failure(p1!.gather(`${run}/a`, { from: ['p3'], timeoutMs: 1_200 }))));
    await held;
    for (const e of errs) expect(e?.code).toBe(ErrorCode.TIMEOUT);
    expect(errs.filter((e) => e?.peers?.includes('p2') === true).length).toBe(0);
  } finally {
    await h.close();
  }
});
