/**
 * Review 24 (docs/reviews/review24-probe-second-look.md): b850e70's "busy in a run of another
 * namespace" answer (`RunWindow.busyElsewhere`) in the ordinary one-run-ahead case of honest
 * parties that run the same code. In-process parties, real channels on 127.0.0.1.
 */
import { createTestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';

jest.setTimeout(60_000);

const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);

test('B2: a party one run ahead, across namespaces (a group run, then a view run), keeps the withholder that holds the party behind among its suspects', async () => {
  const h = await createTestGroups(4, { roundTimeoutMs: 2_000 });
  try {
    const [p1, p2, p3] = h.groups;
    // Same code everywhere: a sum in the group, then one in a view without p4. In the group run p3
    // withholds from p2 alone; p1 got what it needed, ended the run and went on to the view run,
    // where it waits for p2 — which is still in the group run, waiting for p3. Asked about the view
    // run, p2 answers that it has not reached it and is in its group run (`x`, b850e70), and that it
    // waits for p3. Before b850e70 p1 followed that claim: p2 and p3 were both suspects. Since, p2
    // is taken as running other code and its claim is dropped: p3, the withholder, is not even a
    // suspect, and the error says the parties run different code.
    const g = [p1!.nextRunId('sum'), p2!.nextRunId('sum'), p3!.nextRunId('sum')][0]!;
    const behind = failure(
      p2!.gather(`${g}/a`, { from: ['p3'], timeoutMs: 4_000 }).catch((e: unknown) => {
        p2!.endRun(g, e);
        throw e;
      }),
    );
    p1!.endRun(g);
    const v1 = p1!.without(['p4']);
    const v3 = p3!.without(['p4']);
    const run = v1.nextRunId('sum');
    v3.nextRunId('sum');
    const e = await failure(v1.gather(`${run}/a`, { from: ['p2'], timeoutMs: 1_200 }));
    await behind;
    expect(e?.code).toBe(ErrorCode.TIMEOUT);
    expect(e?.peers ?? []).not.toContain('p2');
    expect(e?.suspects ?? []).toEqual(expect.arrayContaining(['p2', 'p3']));
  } finally {
    await h.close();
  }
});
