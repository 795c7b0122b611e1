/**
 * The group's deadline queue (src/group/deadlines.ts), which replaced a Node timer per receive,
 * per send and per gather: a deadline fires once, not before its time (less Node's own
 * sub-millisecond truncation), never after it was cancelled; deadlines of different durations
 * fire in time order; a pending deadline keeps the process alive as a timer did, and none pending
 * lets it exit (a real child process).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { addDeadline, cancelDeadline } from '../../src/group/deadlines';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a deadline fires once, no earlier than its time; a cancelled one never fires', async () => {
  const t0 = performance.now();
  const fired: [string, number][] = [];
  addDeadline(60, () => fired.push(['a', performance.now() - t0]));
  const b = addDeadline(30, () => fired.push(['b', performance.now() - t0]));
  addDeadline(20, () => fired.push(['c', performance.now() - t0]));
  const d = addDeadline(20, () => fired.push(['d', performance.now() - t0]));
  cancelDeadline(d);
  cancelDeadline(d); // twice: nothing
  addDeadline(40, () => fired.push(['e', performance.now() - t0]));
  cancelDeadline(b);
  // Not hung: all due well within a few multiples of the longest (a loaded machine delays timers).
  for (let i = 0; i < 100 && fired.length < 3; i++) await sleep(20);
  await sleep(100);
  expect(fired.map(([k]) => k)).toEqual(['c', 'e', 'a']);
  const at = new Map(fired);
  expect(at.get('c')!).toBeGreaterThanOrEqual(19);
  expect(at.get('e')!).toBeGreaterThanOrEqual(39);
  expect(at.get('a')!).toBeGreaterThanOrEqual(59);
});

test('a shorter deadline added after a longer one is not held back by it', async () => {
  const t0 = performance.now();
  let longFired = false;
  const long = addDeadline(60_000, () => (longFired = true));
  const short = await new Promise<number>((resolve) => addDeadline(15, () => resolve(performance.now() - t0)));
  expect(short).toBeGreaterThanOrEqual(14);
  expect(short).toBeLessThan(5_000);
  cancelDeadline(long);
  expect(longFired).toBe(false);
});

test('a deadline cancelled from another deadline of the same instant does not fire', async () => {
  let fired = 0;
  let second: ReturnType<typeof addDeadline> | undefined;
  addDeadline(10, () => {
    fired++;
    cancelDeadline(second!);
  });
  second = addDeadline(10, () => (fired += 100));
  await sleep(80);
  // Both were due at once; the second, cancelled by the first, must not run.
  expect(fired).toBe(1);
});

test('pending deadlines keep a process alive; none pending lets it exit at once', () => {
  const mod = JSON.stringify(join(__dirname, '../../src/group/deadlines.ts'));
  const run = (body: string): { ms: number; out: string } => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `const { addDeadline, cancelDeadline } = require(${mod}); ${body}`], { encoding: 'utf8', timeout: 30_000 });
    return { ms: Date.now() - t0, out: r.stdout + r.stderr };
  };
  // Cancelled: the 20 s timer must not hold the process.
  const quick = run(`const d = addDeadline(20000, () => console.log('fired')); cancelDeadline(d);`);
  expect(quick.out).not.toContain('fired');
  // Pending: the process waits for it (300 ms), then exits.
  const held = run(`addDeadline(300, () => console.log('fired'));`);
  expect(held.out).toContain('fired');
  expect(held.ms).toBeGreaterThanOrEqual(300);
  expect(quick.ms).toBeLessThan(held.ms + 10_000);
});
