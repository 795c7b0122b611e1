/**
 * `coupler simulate`'s progress when standard output is not a terminal: a line on every phase
 * change, and in between, at most once a second, one line with every party's phase and bytes —
 * so a long opening (10 s at L = 10^7) is not silent. The clock is injected: no timing here.
 */
import { PLAIN_PROGRESS_INTERVAL_MS, ProgressStatus } from '../../src/cli/simulate';
import { demoVector } from '../../src/cli/demo';

const report = (phase: string, sent: number, elapsedMs: number): string =>
  JSON.stringify({ runId: 'sum.1', protocol: 'secureSum', phase, bytesSent: sent, bytesReceived: sent, elapsedMs });

test('phase changes print at once; the reports in between print every party\'s bytes at most once per interval', () => {
  let clock = 0;
  const lines: string[] = [];
  const status = new ProgressStatus(['1', '2'], (l) => lines.push(l), false, () => clock);
  status.update('1', report('open', 0, 5000));
  status.update('2', report('open', 0, 5000));
  expect(lines).toEqual(['  [party 1] secureSum sum.1: open, sent 0.0 MB, received 0.0 MB, 5.0 s', '  [party 2] secureSum sum.1: open, sent 0.0 MB, received 0.0 MB, 5.0 s']);
  lines.length = 0;
  // Each party reports every second; a line at most every PLAIN_PROGRESS_INTERVAL_MS.
  for (let t = 1; t <= 10; t++) {
    clock = t * (PLAIN_PROGRESS_INTERVAL_MS / 2);
    status.update(t % 2 === 0 ? '1' : '2', report('open', t * 1e6, 5000 + clock));
  }
  expect(lines).toHaveLength(5);
  expect(lines[0]).toBe('  progress: 1 open 2.0 MB↑ 2.0 MB↓ · 2 open 1.0 MB↑ 1.0 MB↓');
  expect(lines.at(-1)).toBe('  progress: 1 open 10.0 MB↑ 10.0 MB↓ · 2 open 9.0 MB↑ 9.0 MB↓');
  lines.length = 0;
  status.update('1', report('done', 20e6, 20_000));
  expect(lines).toEqual(['  [party 1] secureSum sum.1: done, sent 20.0 MB, received 20.0 MB, 20.0 s']);
});

test('the demo\'s private vectors: deterministic, three decimals in [-1000, 1000], different per party', () => {
  const a = demoVector(0, 10_000);
  expect(demoVector(0, 10_000)).toEqual(a);
  const b = demoVector(1, 10_000);
  let same = 0;
  for (let j = 0; j < a.length; j++) {
    expect(Math.abs(a[j]!)).toBeLessThanOrEqual(1000);
    expect(Math.round(a[j]! * 1000) / 1000).toBe(a[j]);
    if (a[j] === b[j]) same++;
  }
  expect(same).toBeLessThan(10);
  expect(new Set(a).size).toBeGreaterThan(9_000);
});
