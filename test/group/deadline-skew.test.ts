/**
 * A round deadline that passes just after the deadlines of parties still behind: the party one
 * round ahead must not name them. The blame trial (bench/trial, partition of one party mid-run,
 * run 98) had exactly this: two parties waited in round r for the cut-off party; a third, which had
 * that party's round-r message and was in round r + 1 waiting for them, reached its deadline a few
 * milliseconds after theirs — before their abort notices arrived — and named them. Now a party
 * whose deadline passes asks the parties it waited for whether they are alive, and whom they wait
 * for in turn, and names the ones that are silent. Real channels on 127.0.0.1; the cut-off party is
 * a real process frozen with SIGSTOP (its channels stay open, it answers nothing), as a partition.
 * The deadlines differ per party here to make the skew deterministic.
 */
import { createTestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';
import { echoBroadcast } from '../../src/group/echo';
import { agreeEpoch } from '../../src/group/epoch';
import { withLoopbackP4 } from '../support/loopback-fourth';

/** p1, p2, p3 in this process, p4 a separate process frozen once the group is formed. */
const withFrozenP4 = (body: (groups: Group[]) => Promise<void>): Promise<void> =>
  withLoopbackP4(async (groups, p4) => {
    process.kill(p4.pid!, 'SIGSTOP');
    await body(groups);
  });

const outcome = (e: CouplerError | undefined): { code?: string; peers?: readonly string[] } => ({ code: e?.code, peers: e?.peers });

test('gather: p2 and p3 wait for p4 (cut off); p1, a round ahead, reaches its deadline first and names p4, not them', async () => {
  await withFrozenP4(async ([p1, p2, p3]) => {
    const behind = [p2!, p3!].map((g) => g.gather('sum.1/a', { from: ['p4'], timeoutMs: 6_000 }).then(() => undefined, (e: unknown) => e as CouplerError));
    const ahead = await p1!.gather('sum.1/b', { from: ['p2', 'p3', 'p4'], timeoutMs: 1_000 }).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(outcome(ahead)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
    expect(ahead!.message).toContain('wait for "p4"');
    for (const e of await Promise.all(behind)) expect(outcome(e)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
  });
}, 90_000);

test('receive: p1 waits for p2 alone, p2 waits for p4 (cut off): p1 names p4', async () => {
  await withFrozenP4(async ([p1, p2]) => {
    const behind = p2!.receive('p4', 'sum.1/a', { timeoutMs: 6_000 }).then(() => undefined, (e: unknown) => e as CouplerError);
    const ahead = await p1!.receive('p2', 'sum.1/b', { timeoutMs: 1_000 }).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(outcome(ahead)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
    expect(outcome(await behind)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
  });
}, 90_000);

test('a party that withholds but answers probes is still named; one that says it waits for a party that answers is not, nor is that party (both suspects)', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 2_000 });
  try {
    const [p1, p2] = h.groups;
    // p2 withholds and waits for nobody: p1 names p2.
    const e1 = await p1!.gather('sum.1/a', { from: ['p2'], timeoutMs: 500 }).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(outcome(e1)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p2'] });
    expect(e1!.message).toContain('each answers a liveness probe');
    // p2 waits for p3, which is alive (and waits for nobody): p2 may be kept waiting by p3 (which
    // would then withhold from p2 alone) or lie about it — nothing at p1 tells which, so p1 names
    // neither, and lists both as suspects. (Before: p1 named p2 — here an honest party behind.)
    const p2waits = p2!.receive('p3', 'sum.1/c', { timeoutMs: 5_000 }).catch(() => undefined);
    const e2 = await p1!.receive('p2', 'sum.1/b', { timeoutMs: 500 }).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(outcome(e2)).toEqual({ code: ErrorCode.TIMEOUT, peers: [] });
    expect(e2!.peer).toBeUndefined();
    expect(e2!.suspects).toEqual(['p2', 'p3']);
    void p2waits; // its outcome is not asserted: closing the groups ends it (it waited out its 5 s deadline)
  } finally {
    await h.close();
  }
}, 40_000);

test('a message arriving while the deadline is being judged is not taken: the round has failed here', async () => {
  await withFrozenP4(async ([p1, p2]) => {
    // p2 answers p1's probe, and sends its round message only after p1's deadline passed.
    const ahead = p1!.gather('sum.1/b', { from: ['p2', 'p4'], timeoutMs: 500 }).then(() => undefined, (e: unknown) => e as CouplerError);
    await new Promise((r) => setTimeout(r, 700));
    await p2!.send('p1', 'sum.1/b', 1);
    expect(outcome(await ahead)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
  });
}, 90_000);

test('the same for the group\'s other waits: gatherSome (dropout-tolerant rounds), an echo broadcast, the epoch agreement', async () => {
  await withFrozenP4(async ([p1, p2, p3]) => {
    const behind = [p2!, p3!].map((g) => g.gather('sum.1/a', { from: ['p4'], timeoutMs: 12_000 }).catch(() => undefined));
    // (trial run 74: at a partition during formation, p00 waited for everyone's epoch digests while
    // the others, behind, waited for the cut-off party's contribution; p00 named all four.)
    const some = await p1!.gatherSome('sum.1/b', 3, { timeoutMs: 800 }).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(outcome(some)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
    const echo = await echoBroadcast(p1!, 'sum.1/c', 1, { timeoutMs: 800 }).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(outcome(echo)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
    const epoch = await agreeEpoch(p1!, { round: 'sum.1/e', timeoutMs: 800 }).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(outcome(epoch)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
    // p2 and p3 only had to be still waiting up to here; their outcome is not asserted, and closing
    // the groups ends their waits (the test waited out their 12 s deadline).
    void behind;
  });
}, 120_000);
