/**
 * Parties whose code runs different sequences of runs (R21-4: an image that calls joinPeerGroup's
 * `agreeOn`, which takes run id `v6-input.1`, beside an older one whose first sum takes `sum.1`).
 * The station in `sum.1` reaches its deadline and probes the others; they are alive, in their own
 * run under the same counter, and — between rounds, or just after their own run failed — wait for
 * nobody. Read as "alive and waiting for nobody", they were named TIMEOUT for withholding a run they
 * never started (under load, 3 of about 25 runs of test/review21/agree-on-skew.test.ts). A probe
 * now says which run it asks about, and a party that gave that run's counter to another run says
 * so: nobody is named, and the error says the parties' runs differ. A party that did take the same
 * run id and withholds is still named (second test). In-process parties, real channels.
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { secureSum } from '../../src/protocols';
import { ErrorCode, type CouplerError } from '../../src/errors';

jest.setTimeout(60_000);

test('a party that gave this run\'s counter to another run is not named for withholding it', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_500 });
  try {
    const [p1, p2, p3] = h.groups;
    // p1 and p2 run other code: counter 1 went to "other.1", and they wait for nobody now.
    expect(p1!.nextRunId('other')).toBe('other.1');
    expect(p2!.nextRunId('other')).toBe('other.1');
    const [r] = await settleAll([secureSum(p3!, 5)]);
    expect(r!.ok).toBe(false);
    const e = r!.error as CouplerError;
    expect(e.code).toBe(ErrorCode.TIMEOUT);
    expect(e.peers ?? []).toEqual([]);
    expect(e.message).toContain('"other.1"');
  } finally {
    await h.close();
  }
});

test('control: parties that took the same run id and withhold are still named', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_500 });
  try {
    const [p1, p2, p3] = h.groups;
    expect(p1!.nextRunId('sum')).toBe('sum.1');
    expect(p2!.nextRunId('sum')).toBe('sum.1');
    const [r] = await settleAll([secureSum(p3!, 5)]);
    const e = r!.error as CouplerError;
    expect(e.code).toBe(ErrorCode.TIMEOUT);
    expect([...(e.peers ?? [])].sort()).toEqual([p1!.localId, p2!.localId]);
  } finally {
    await h.close();
  }
});
