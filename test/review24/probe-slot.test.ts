/**
 * Review 24 B1: which pings are answered over the per-peer pong budget (`RunWindow.probeSlot`), and
 * that a peer cannot widen that set by the names it puts in front of counters.
 */
import { RunWindow } from '../../src/group/runs';

test('probeSlot: running runs, and counters within `ahead` either side of a namespace kept; one slot per counter whatever the name', () => {
  const w = new RunWindow(16);
  for (let k = 1; k <= 40; k++) {
    w.issued(`sum.${k}`, 'sum', k);
    if (k !== 3) w.ended(`sum.${k}`);
  }
  w.issued('sum.wabcdef012345.1', 'sum', 1, 'wabcdef012345');
  expect(w.probeSlot('sum.3')).toBe('#3'); // running, however old
  expect(w.probeSlot('sum.30')).toBe('#30'); // ended, recent
  expect(w.probeSlot('sum.41')).toBe('#41'); // not reached, within ahead
  expect(w.probeSlot('job.41')).toBe('#41'); // any name: the same slot
  expect(w.probeSlot('sum.56')).toBe('#56');
  expect(w.probeSlot('sum.57')).toBeUndefined(); // too far ahead
  expect(w.probeSlot('sum.24')).toBeUndefined(); // ended, too far behind
  expect(w.probeSlot('sum.wabcdef012345.5')).toBe('wabcdef012345#5'); // a view kept
  expect(w.probeSlot('sum.w000000000000.1')).toBeUndefined(); // a view never used here
  expect(w.probeSlot('ping')).toBeUndefined();
  const slots = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const s = w.probeSlot(`n${i}.${1 + (i % 100)}`);
    if (s !== undefined) slots.add(s);
  }
  expect(slots.size).toBeLessThanOrEqual(2 * 16 + 1);
});
