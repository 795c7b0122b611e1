/**
 * `Group.endRun`: a caller's own exchange (rounds `run/...` sent and gathered with the group's
 * round API) releases what the mailboxes hold for it, as the protocols' runs do. Before there
 * was no way to: every message of such an exchange that the caller did not take stayed filed and
 * counted against its sender's caps (with the default cap of 256 rounds, 256 exchanges later the
 * honest sender was dropped for "more undelivered data than the mailbox allows"), and the record
 * of the rounds each peer sent grew with every exchange. In-process parties, real channels; the
 * rounds cap is lowered so a few exchanges show it.
 */
import { createTestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode, InvalidArgumentError } from '../../src/errors';
import type { Group } from '../../src/group/group';

const EXCHANGES = 24;

/** One exchange: every party sends to all; p1 takes only p2's message (it needs no more). */
async function exchange(groups: readonly Group[], run: string): Promise<void> {
  const [p1, p2] = groups;
  await Promise.all(groups.map((g, j) => g.sendToAll(`${run}/v`, { j })));
  await p1!.receive(p2!.localId, `${run}/v`);
  await Promise.all(groups.slice(1).map((g) => g.gather(`${run}/v`)));
}

test('exchanges ended with endRun leave nothing behind: the untaken messages do not fill the sender\'s mailbox', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000, extra: () => ({ mailbox: { maxPendingRounds: 4 } }) });
  try {
    const [p1, , p3] = h.groups;
    for (let k = 0; k < EXCHANGES; k++) {
      const runs = h.groups.map((g) => g.nextRunId('census'));
      expect(new Set(runs).size).toBe(1);
      await exchange(h.groups, runs[0]!);
      for (const g of h.groups) g.endRun(runs[0]!);
    }
    expect(p1!.lostPeers).toEqual([]);
    // p3's later messages of an ended exchange are dropped; a wait of one ends ABORTED.
    await expect(p1!.receive(p3!.localId, 'census.1/v', { timeoutMs: 2_000 })).rejects.toMatchObject({ code: ErrorCode.ABORTED });
    // The group still works for the protocols' own runs and for a new exchange.
    const run = h.groups.map((g) => g.nextRunId('census'))[0]!;
    await Promise.all(h.groups.map((g) => g.sendToAll(`${run}/v`, { ok: 1 })));
    const got = await Promise.all(h.groups.map((g) => g.gather(`${run}/v`)));
    for (const m of got) expect(m.size).toBe(2);
  } finally {
    await h.close();
  }
}, 60_000);

test('without endRun the same exchanges fill p3\'s mailbox at p1 (the case endRun exists for)', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000, extra: () => ({ mailbox: { maxPendingRounds: 4 } }) });
  try {
    const [p1, , p3] = h.groups;
    let failure: unknown;
    for (let k = 0; k < 8 && failure === undefined; k++) {
      const run = h.groups.map((g) => g.nextRunId('census'))[0]!;
      await exchange(h.groups, run).catch((err: unknown) => (failure = err));
      if (p1!.lostPeers.length > 0) break;
    }
    expect(p1!.lostPeers).toEqual([p3!.localId]);
  } finally {
    await h.close();
  }
}, 60_000);

test('endRun refuses malformed names', async () => {
  const h = await createTestGroups(2, { roundTimeoutMs: 2_000 });
  try {
    const [g] = h.groups;
    for (const bad of ['', 'a/b', 'with space', 'x'.repeat(129), 7 as unknown as string]) {
      expect(() => g!.endRun(bad)).toThrow(InvalidArgumentError);
    }
    try {
      g!.endRun('a/b');
    } catch (err) {
      expect((err as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    }
  } finally {
    await h.close();
  }
});
