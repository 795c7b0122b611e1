/**
 * thresholdSum under one fault on the netns testbed, once per scenario (the multi-run version is
 * `npm run bench -- trial --protocols=thresholdSum`, test/netns/threshold-trial.ts): 5 parties,
 * t = 3 (one dropout promised), sums back to back; one party is killed (SIGKILL), stopped
 * (SIGTERM), frozen (SIGSTOP) or cut off (its link goes down) mid-run, directly and through a
 * relay. Asserted: integrity — every run id has the same contributors and sum at every honest
 * party, the sum is Σ of the contributors' known inputs, the faulty party is a contributor only of
 * runs it had started, no honest party is named. Completion (the promise) is logged, not asserted:
 * it fails in a few percent of runs by trial finding T1 (docs/reviews/trial-threshold.md,
 * test/trialthr/frozen-after-publishing.test.ts, skipped there until threshold.ts is fixed).
 * Needs root and iproute2; skips visibly otherwise.
 */
import { netnsAvailable, type Testbed } from './testbed';
import { createTrialTestbed, type TrialFault, type TrialTransport } from './blame-trial';
import { runThresholdTrial } from './threshold-trial';
import { EXTENDED } from '../support/extended';

const avail = netnsAvailable();
if (!avail.ok) console.warn(`[netns] SKIPPED test/netns/threshold-dropout.test.ts: ${avail.reason}`);
const suite = avail.ok ? describe : describe.skip;

const ROUND_TIMEOUT_MS = 4_000;
const JOIN_TIMEOUT_MS = 20_000;

/**
 * Which party each scenario hits. In the default test run one scenario (a party frozen with its
 * sockets open, directly); all eight with COUPLER_TESTS_EXTENDED=1 (≈ 95 s — the multi-run trial's
 * territory; CI stays within its time budget).
 */
const FAULTY: Record<TrialTransport, Partial<Record<TrialFault, number>>> =
  EXTENDED
    ? { direct: { kill: 1, term: 3, stop: 0, partition: 4 }, relay: { kill: 2, term: 0, stop: 4, partition: 3 } }
    : { direct: { stop: 0 }, relay: {} };

suite('netns testbed: thresholdSum after one faulty party', () => {
  for (const transport of (['direct', 'relay'] as const).filter((t) => Object.keys(FAULTY[t]).length > 0)) {
    describe(transport, () => {
      let tb: Testbed;
      beforeAll(async () => {
        tb = await createTrialTestbed(transport);
      }, 60_000);
      afterAll(async () => {
        await tb?.close();
      });

      for (const fault of (['kill', 'term', 'stop', 'partition'] as const).filter((f) => FAULTY[transport][f] !== undefined)) {
        test(`${fault} of one party mid-run (${transport}): same contributors and a right sum everywhere, no honest party named`, async () => {
          const r = await runThresholdTrial(tb, {
            fault,
            transport,
            phase: 'run',
            faulty: [FAULTY[transport][fault]!],
            random: () => 0.3,
            t: 3,
            roundTimeoutMs: ROUND_TIMEOUT_MS,
            joinTimeoutMs: JOIN_TIMEOUT_MS,
            length: 1000,
          });
          if (r.verdict !== 'completed') console.log(`[netns] threshold ${fault}/${transport}: ${r.verdict}; ${r.problems.join(' | ')}`);
          expect({ struck: r.struck, setupProblem: r.setupProblem }).toEqual({ struck: 'run', setupProblem: undefined });
          expect(r.verdict).not.toBe('wrong');
          expect(r.problems.filter((p) => !/ failed: | completed \d+ of /.test(p))).toEqual([]);
        }, 150_000);
      }
    });
  }
});
