/**
 * The threshold trial's own arithmetic (test/netns/threshold-trial.ts), without a testbed: the
 * promised tolerance n − max(⌈(n + t)/2⌉, min(n, t + 1)) for the configurations the trial uses, and
 * the expected sum digest it checks every completed run against.
 */
import { createHash } from 'node:crypto';
import { partyInput } from './inputs';
import { expectedDigest, thresholdTolerance } from './threshold-trial';

test('the promised dropout tolerance of the trial configurations', () => {
  expect(thresholdTolerance(5, 2)).toBe(1);
  expect(thresholdTolerance(5, 3)).toBe(1); // default t = ⌊n/2⌋ + 1: the one-fault trial
  expect(thresholdTolerance(5, 4)).toBe(0);
  expect(thresholdTolerance(6, 2)).toBe(2); // the two-fault trial
  expect(thresholdTolerance(6, 3)).toBe(1);
  expect(thresholdTolerance(7, 3)).toBe(2);
});

test('the expected digest is the SHA-256 of the Float64Array sum of exactly the given inputs', () => {
  const length = 1000;
  const s = new Float64Array(length);
  for (const i of [0, 2, 3]) {
    const x = partyInput(i, length);
    for (let k = 0; k < length; k++) s[k] = s[k]! + x[k]!;
  }
  const digest = createHash('sha256').update(new Uint8Array(s.buffer)).digest('hex');
  expect(expectedDigest([0, 2, 3], length)).toBe(digest);
  // One input more or less is another digest (a wrong contributor list is caught).
  expect(expectedDigest([0, 2, 3, 4], length)).not.toBe(digest);
  expect(expectedDigest([0, 2], length)).not.toBe(digest);
});
