/**
 * memcap (b): messages for runs a peer makes up are kept for ever. A round of a run this party has
 * not started is filed until the run ends here — and a run that is never started here never ends:
 * the messages stay, counted against the sender's caps, for the life of the group, however many
 * runs this party has gone through since.
 *
 * Run ids of `nextRunId` are `<protocol>.<counter>`, the counter shared by every protocol of the
 * group (views: `<protocol>.<label>.<k>`): once this party has issued counter 2 (as `x.2`), a run
 * `sum.2` can never start here. And a run a million counters ahead is not one an honest peer is
 * in: an honest peer gets at most a few runs ahead of this party (a run needs this party's
 * messages, except a tolerant one that goes on without it). Neither kind is kept; messages of runs
 * one or two ahead (what an honest, faster peer sends) are.
 *
 * The namespace is coupler's protocol names (`sum`, `dk`, `threshold`, `ring`, `plain`) and the
 * names this party passed to `nextRunId`: a caller may name its own exchanges `job.5` without
 * `nextRunId`, and a message it is about to wait for must never be dropped (its sender would then
 * be named at the deadline). Runs with other names are held as before — until `endRun(run)` or the
 * group ends — within the sender's share of the caps (memcap-total.test.ts); the last test pins it.
 */
import { partiesWith, join, closeAll } from '../review17/support';

jest.setTimeout(60_000);
afterEach(closeAll);

test('a message for a run this party can no longer start (its counter passed) is not kept', async () => {
  const [victim, peer] = await join(partiesWith(['f1', 'f2']), 3000);
  await peer!.send('f1', 'sum.2/a', new Uint8Array(1000));
  await peer!.send('f1', 'mark.1/done', 1);
  await victim!.receive('f2', 'mark.1/done'); // ordered: made.2/a was handled before
  victim!.nextRunId('x'); // x.1
  victim!.nextRunId('x'); // x.2: sum.2 never starts here now
  const got = await victim!.receive('f2', 'sum.2/a', { timeoutMs: 300 }).then(
    () => 'kept',
    () => 'gone',
  );
  expect(got).toBe('gone');
});

test('a message for a run far ahead of this party (a million runs) is not kept', async () => {
  const [victim, peer] = await join(partiesWith(['g1', 'g2']), 3000);
  victim!.endRun(victim!.nextRunId('x')); // x.1: "x" is a name of this party's runs now
  await peer!.send('g1', 'sum.1000000/a', new Uint8Array(1000));
  await peer!.send('g1', 'x.1000000/a', new Uint8Array(1000)); // a name this party used
  await peer!.send('g1', 'mark.1/done', 1);
  await victim!.receive('g2', 'mark.1/done');
  for (const run of ['sum.1000000', 'x.1000000']) {
    const got = await victim!.receive('g2', `${run}/a`, { timeoutMs: 300 }).then(
      () => 'kept',
      () => 'gone',
    );
    expect(got).toBe('gone');
  }
});

test('held: messages of an honest peer one, two and sixteen runs ahead are kept and delivered, nobody is dropped', async () => {
  const [victim, peer] = await join(partiesWith(['h1', 'h2']), 3000);
  for (const k of [1, 2, 16]) await peer!.send('h1', `x.${k}/a`, k);
  await peer!.send('h1', 'mark.1/done', 1);
  await victim!.receive('h2', 'mark.1/done');
  for (let k = 1; k <= 16; k++) {
    const run = victim!.nextRunId('x');
    expect(run).toBe(`x.${k}`);
    if (k === 1 || k === 2 || k === 16) expect(await victim!.receive('h2', `${run}/a`, { timeoutMs: 2000 })).toBe(k);
    victim!.endRun(run);
  }
  expect(victim!.lostPeers).toEqual([]);
});

test('held: a caller-named run that only looks like a counter (job.5, a name never given to nextRunId) is kept after the counter passes 5, until endRun', async () => {
  const [victim, peer] = await join(partiesWith(['j1', 'j2']), 3000);
  await peer!.send('j1', 'job.5/a', 5);
  await peer!.send('j1', 'mark.1/done', 1);
  await victim!.receive('j2', 'mark.1/done');
  for (let k = 1; k <= 6; k++) victim!.endRun(victim!.nextRunId('x'));
  expect(await victim!.receive('j2', 'job.5/a', { timeoutMs: 2000 })).toBe(5);
  victim!.endRun('job.5');
  expect(victim!.lostPeers).toEqual([]);
});
