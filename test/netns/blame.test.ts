/**
 * Whom the honest parties name after a fault (issue 17 item 1), once per scenario: 5 parties run
 * secure sums back to back on the netns testbed, then ONE party is killed (SIGKILL), stopped
 * (SIGTERM, handled as `coupler run` handles it), frozen (SIGSTOP: its sockets stay open and
 * nothing is read or answered) or cut off (its link goes down), directly and
 * through a relay (every party host drops inbound SYNs). Every honest party must end with a typed
 * error, and none may name an honest party. The 20-run version with formation faults is
 * `npm run bench -- trial`. Needs root and iproute2; skips visibly otherwise.
 */
import { netnsAvailable, type Testbed } from './testbed';
import { createTrialTestbed, runTrial, type TrialFault, type TrialRun, type TrialTransport } from './blame-trial';

const avail = netnsAvailable();
if (!avail.ok) console.warn(`[netns] SKIPPED test/netns/blame.test.ts: ${avail.reason}`);
const suite = avail.ok ? describe : describe.skip;

/** Round deadline here: short, so a partition is noticed quickly; long enough for a loaded machine. */
const ROUND_TIMEOUT_MS = 4_000;
/** Join deadline here: covers five processes starting on a loaded machine. */
const JOIN_TIMEOUT_MS = 20_000;

/** Which party each scenario hits: a different one each time (lowest, middle, highest id). */
const FAULTY: Record<TrialTransport, Record<TrialFault, number>> = {
  direct: { kill: 1, term: 3, stop: 0, partition: 4 },
  relay: { kill: 2, term: 0, stop: 4, partition: 3 },
};

/** Every name an honest party gave that is not the faulty party, as "who named whom (code)". */
function wrongNames(r: TrialRun): string[] {
  return r.honest.flatMap((o) => (o.peers ?? []).filter((p) => p !== r.faulty).map((p) => `${o.id} named ${p} (${o.code ?? '?'}: ${o.message ?? ''})`));
}

/** A timeline of the run for the failure message (events after the fault, relative ms). */
function timeline(r: TrialRun): string {
  const t0 = r.faultAt ?? 0;
  const lines: [number, string][] = [];
  for (const [name, log] of Object.entries(r.logs)) {
    for (const e of log.events) {
      const t = typeof e.t === 'number' ? e.t : 0;
      if (t >= t0 - 1000 && e.event !== 'progress') lines.push([t, `${String(t - t0).padStart(6)} ${name} ${JSON.stringify(e)}`]);
    }
  }
  return lines.sort((a, b) => a[0] - b[0]).map((l) => l[1]).slice(0, 200).join('\n');
}

suite('netns testbed: blame after one faulty party', () => {
  for (const transport of ['direct', 'relay'] as const) {
    describe(transport, () => {
      let tb: Testbed;
      beforeAll(async () => {
        tb = await createTrialTestbed(transport);
      }, 60_000);
      afterAll(async () => {
        await tb?.close();
      });

      for (const fault of ['kill', 'term', 'stop', 'partition'] as const) {
        test(`${fault === 'kill' ? 'kill -9' : fault === 'term' ? 'SIGTERM' : fault === 'stop' ? 'SIGSTOP' : 'partition'} of one party mid-run (${transport}): no honest party is named`, async () => {
          const r = await runTrial(tb, {
            fault,
            transport,
            phase: 'run',
            faulty: FAULTY[transport][fault],
            random: () => 0.3,
            roundTimeoutMs: ROUND_TIMEOUT_MS,
            joinTimeoutMs: JOIN_TIMEOUT_MS,
            length: 1000,
          });
          const context = `verdict ${r.verdict}; faulty ${r.faulty}; ${JSON.stringify(r.honest)}\n${r.setupProblem ?? ''}\n${timeline(r)}`;
          if (r.verdict !== 'correct') console.log(`[netns] blame ${fault}/${transport}: ${context}`);
          expect({ struck: r.struck, setupProblem: r.setupProblem }).toEqual({ struck: 'run', setupProblem: undefined });
          for (const o of r.honest) expect({ id: o.id, code: o.code }).toEqual({ id: o.id, code: expect.stringMatching(/^COUPLER_ERR_[A-Z_]+$/) });
          expect(wrongNames(r)).toEqual([]);
        }, 90_000);
      }
    });
  }
});
