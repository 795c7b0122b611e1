/**
 * `trial --protocols=thresholdSum`: does the dropout-tolerant sum keep README's promise on the
 * netns testbed? (test/netns/threshold-trial.ts holds the run and its verdicts.)
 *
 * For each fault {kill -9, SIGTERM, SIGSTOP, partition} × transport {direct, relay}, N runs of:
 * n parties join and run thresholdSum back to back; `--dropouts` parties (chosen at random) are hit
 * by the fault, the further ones after a random extra delay. A mid-run fault must leave every
 * honest party completing, with the same contributors and sum, the sum right for those
 * contributors. Formation faults (not covered by the dropout promise: formation needs every
 * party) must leave honest parties naming only faulty ones.
 *
 * Flags (besides the trial's `--runs`, `--faults`, `--transports`, `--formation`, `--seed`,
 * `--round-ms`, `--join-ms`, `--length`): `--dropouts=1` (faulty parties per run), `--n` (default
 * 5 for one dropout, 6 for two), `--t` (default: the largest t whose tolerance
 * n − max(⌈(n + t)/2⌉, min(n, t + 1)) covers the dropouts), `--after=1` (runs entirely without the
 * faulty parties each honest party must complete).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchOptions, BenchReport } from '../lib/registry.js';
import { seeded } from '../lib/random.js';
import type { Testbed } from '../../test/netns/testbed';
import { createTrialTestbed, type TrialFault, type TrialTransport } from '../../test/netns/blame-trial';
import { runThresholdTrial, thresholdTolerance, type ThresholdTrialRun } from '../../test/netns/threshold-trial';

/** The trial's common flags, parsed by bench/trial/index.ts. */
export interface TrialFlags {
  readonly runs: number;
  readonly faults: TrialFault[];
  readonly transports: TrialTransport[];
  readonly formation: number;
  readonly seed: number;
  readonly roundTimeoutMs: number;
  readonly joinTimeoutMs: number;
  readonly length: number;
  readonly intFlag: (name: string, fallback: number, min: number, max: number) => number;
}

const faultName = (f: TrialFault): string => (f === 'kill' ? 'kill -9' : f === 'term' ? 'SIGTERM' : f === 'stop' ? 'SIGSTOP' : 'partition');

const describe = (r: ThresholdTrialRun): string =>
  r.honest.map((h) => `${h.id}: ${h.code === undefined ? `${h.clean} clean` : `${h.code.replace('COUPLER_ERR_', '')} [${(h.peers ?? []).join(',')}]`}`).join('; ');

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

const runData = (all: readonly ThresholdTrialRun[]): Record<string, unknown>[] =>
  all.map((r, i) => {
    const { logs, ...rest } = r;
    return { index: i, ...rest, ...(r.verdict === 'completed' || r.verdict === 'named' ? {} : { logs }) };
  });

async function writePartial(root: string, parameters: Record<string, unknown>, all: readonly ThresholdTrialRun[]): Promise<void> {
  const dir = join(root, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'trial-threshold.partial.json');
  await writeFile(`${path}.tmp`, `${JSON.stringify({ parameters, runs: runData(all) }, null, 1)}\n`);
  await rename(`${path}.tmp`, path);
}

/** The threshold trial (called by bench/trial/index.ts for `--protocols=thresholdSum`). */
export async function runThresholdBench(opts: BenchOptions, f: TrialFlags): Promise<BenchReport> {
  const dropouts = f.intFlag('dropouts', 1, 1, 10);
  const n = f.intFlag('n', dropouts === 1 ? 5 : dropouts + 4, 3, 20);
  let tDefault = 0;
  for (let t = 2; t <= n; t++) if (thresholdTolerance(n, t) >= dropouts) tDefault = t;
  const t = f.intFlag('t', tDefault === 0 ? Math.floor(n / 2) + 1 : tDefault, 2, n);
  const after = f.intFlag('after', 1, 1, 10);
  const tolerance = thresholdTolerance(n, t);
  if (tolerance < dropouts) throw new Error(`--dropouts=${dropouts} exceeds what README promises for n = ${n}, t = ${t}: ${tolerance} (n − max(⌈(n + t)/2⌉, min(n, t + 1)))`);
  const random = seeded(f.seed);
  const parameters = {
    protocol: 'thresholdSum',
    runs: f.runs,
    faults: f.faults,
    transports: f.transports,
    formationFraction: f.formation,
    seed: f.seed,
    parties: n,
    t,
    dropouts,
    tolerance,
    after,
    roundTimeoutMs: f.roundTimeoutMs,
    joinTimeoutMs: f.joinTimeoutMs,
    length: f.length,
  };
  opts.log(`trial: ${JSON.stringify(parameters)}`);
  const beds = new Map<TrialTransport, Testbed>();
  const all: ThresholdTrialRun[] = [];
  try {
    for (const tr of f.transports) beds.set(tr, await createTrialTestbed(tr, n));
    for (let k = 0; k < f.runs; k++) {
      for (const transport of f.transports) {
        for (const fault of f.faults) {
          const faulty: number[] = [];
          while (faulty.length < dropouts) {
            const i = Math.floor(random() * n);
            if (!faulty.includes(i)) faulty.push(i);
          }
          const phase = random() < f.formation ? 'formation' : 'run';
          opts.log(`trial: run ${k + 1}/${f.runs} ${fault}/${transport}, ${phase}, faulty ${faulty.map((i) => `p${String(i).padStart(2, '0')}`).join(',')}`);
          const started = Date.now();
          const r = await runThresholdTrial(beds.get(transport)!, { fault, transport, phase, faulty, random, t, after, roundTimeoutMs: f.roundTimeoutMs, joinTimeoutMs: f.joinTimeoutMs, length: f.length, log: opts.log });
          opts.log(
            `trial:   ${r.verdict} (${r.struck}, ${((Date.now() - started) / 1000).toFixed(1)} s${r.completeMs === undefined ? '' : `, all clean after ${(r.completeMs / 1000).toFixed(1)} s`})${r.setupProblem === undefined ? '' : ` (${r.setupProblem.slice(0, 200)})`}: ${describe(r)}${r.problems.length ? `\n         ${r.problems.join('\n         ')}` : ''}`,
          );
          all.push(r);
          await writePartial(opts.root, parameters, all);
        }
      }
    }
  } finally {
    for (const tb of beds.values()) await tb.close();
  }

  const rows: (string | number)[][] = [];
  const scenarios: Record<string, unknown>[] = [];
  for (const fault of f.faults) {
    for (const transport of f.transports) {
      const rs = all.filter((r) => r.fault === fault && r.transport === transport);
      const count = (v: ThresholdTrialRun['verdict']): number => rs.filter((r) => r.verdict === v).length;
      const agreed = rs.filter((r) => !r.problems.some((p) => p.includes('disagree'))).length;
      const sumsRight = rs.filter((r) => !r.problems.some((p) => p.includes('is not the sum'))).length;
      const ms = median(rs.filter((r) => r.completeMs !== undefined).map((r) => r.completeMs!));
      const row = {
        fault,
        transport,
        runs: rs.length,
        completed: count('completed'),
        named: count('named'),
        failed: count('failed'),
        wrong: count('wrong'),
        setup: count('setup'),
        struckFormation: rs.filter((r) => r.struck === 'formation').length,
        contributorsAgreed: agreed,
        sumsRight,
        faultyInStruckRun: rs.filter((r) => r.faultyIn.length > 0).length,
        medianCompleteMs: ms,
      };
      scenarios.push(row);
      rows.push([faultName(fault), transport, rs.length, row.completed, row.named, row.failed, row.wrong, row.setup, row.struckFormation, `${agreed}/${rs.length}`, `${sumsRight}/${rs.length}`, row.faultyInStruckRun, ms === undefined ? '–' : (ms / 1000).toFixed(1)]);
    }
  }
  const notOk = all.filter((r) => r.verdict !== 'completed' && r.verdict !== 'named');
  const injected = all.filter((r) => r.verdict !== 'setup').length;
  return {
    parameters,
    resultsVariant: `threshold-d${dropouts}`,
    tables: [
      {
        title: `thresholdSum under faults (${n} parties, t = ${t}, ${dropouts} faulty per run, promised tolerance ${tolerance}; ${f.runs} runs per scenario)`,
        columns: ['fault', 'transport', 'runs', 'completed', 'named (formation)', 'failed', 'wrong', 'no fault (setup failed)', 'struck during formation', 'contributors agreed', 'sums right', 'runs where the faulty one is in a run ending after its fault', 'median s to all clean'],
        rows,
        notes: [
          `completed: every honest party completed ${after} run(s) without the faulty part${dropouts > 1 ? 'ies' : 'y'}, every run id with the same contributors and sum at every honest party, the sum = Σ of the contributors' inputs; named: a formation fault, honest parties failed naming only faulty ones; failed: an honest party failed or stalled where the promise says it completes; wrong: an honest party named, a disagreement, a wrong sum, or a faulty party counted in a run it never started.`,
          `median s to all clean: from the (first) fault to the last honest party's ${after}-th completed run without the faulty part${dropouts > 1 ? 'ies' : 'y'}.`,
          `Command: npm run bench -- trial ${opts.args.join(' ')}`.trimEnd(),
        ],
      },
      {
        title: 'Runs that were not completed / named',
        columns: ['#', 'scenario', 'faulty', 'struck', 'verdict', 'honest parties', 'problems'],
        rows: notOk.map((r) => [all.indexOf(r), `${r.fault}/${r.transport}`, r.faulty.join(','), r.struck, r.verdict, describe(r), r.problems.join(' | ').slice(0, 600)]),
      },
    ],
    data: { scenarios, runs: runData(all) },
    notes: [`Promise (README, thresholdSum): ${notOk.length === 0 ? 'kept' : `NOT kept in ${notOk.filter((r) => r.verdict !== 'setup').length}`} of ${injected} runs with a fault.`],
  };
}
