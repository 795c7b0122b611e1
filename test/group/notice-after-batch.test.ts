/**
 * A run's abort notice leaves after the round messages posted before it (review23, noticed): small
 * round messages wait in the turn's batch (sent at the end of the event-loop turn), while
 * `endRun(run, err)` sent the run's notice to the channel at once — so a message posted in the same
 * turn reached the peers after the notice, and a peer that needed only that message failed with
 * PEER_ABORTED instead of completing its round. (`abort()` already flushed first.) In-process
 * parties, real channels.
 */
import { createTestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';

test('a message posted before endRun(run, err) in the same turn reaches the peer before the notice', async () => {
  const h = await createTestGroups(2, { roundTimeoutMs: 5_000 });
  try {
    const [p1, p2] = h.groups;
    const run = p1!.nextRunId('census');
    expect(p2!.nextRunId('census')).toBe(run);
    const got = p2!.receive('p1', `${run}/a`).then(
      (v) => ({ ok: true as const, v }),
      (e: unknown) => ({ ok: false as const, code: (e as CouplerError).code }),
    );
    // Posted (batched), then the run fails here in the same turn.
    void p1!.send('p2', `${run}/a`, 42).catch(() => undefined);
    p1!.endRun(run, new CouplerError(ErrorCode.INVALID_ARGUMENT, 'this party stopped the run after sending'));
    expect(await got).toEqual({ ok: true, v: 42 });
  } finally {
    await h.close();
  }
});
