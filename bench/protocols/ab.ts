/**
 * Paired before/after of the large sums: this tree against another source tree (`--baseline`, a
 * checkout of the commit before a change with `node_modules` linked), with n parties of each tree
 * in ONE process (real channels on 127.0.0.1, groups of their own), plainSum and secureSum/seed at
 * one length, interleaved per repetition (ABCD, DCBA, …). It reports the process's CPU time per run
 * (all n parties together) and the ratio this tree ÷ baseline paired per repetition: on a loaded
 * machine, where separate runs of `npm run bench -- protocols` differ by more than a change of ten
 * percent, these ratios still show it. One process means one core: the wall time is the sum of all
 * parties' work, not a distributed run's (see `index.ts` for that).
 *
 * ```sh
 * node --expose-gc --import tsx bench/protocols/ab.ts --baseline=/tmp/base [--n=5] [--length=1e6] [--reps=8]
 * ```
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Group } from '../../src/group/group.js';
import type { SumResult } from '../../src/protocols/common.js';
import { cell, fmt, pairedRatios, summarize } from '../lib/stats.js';
import { BOUND } from './shared.js';

/** Default number of parties. */
const DEFAULT_PARTIES = 5;
/** Default elements per input. */
const DEFAULT_LENGTH = 1e6;
/** Default measured repetitions (one more is run first and discarded). */
const DEFAULT_REPS = 8;
/** Round deadline of the groups, ms (a run of 10^6 elements on one loaded core takes seconds). */
const ROUND_TIMEOUT_MS = 120_000;

type Variant = 'plainSum' | 'secureSum/seed';
const VARIANTS: readonly Variant[] = ['plainSum', 'secureSum/seed'];

/** One tree's code and its groups. */
interface Tree {
  readonly label: 'this tree' | 'baseline';
  readonly groups: readonly Group[];
  readonly plainSum: (g: Group, x: Float64Array, o: object) => Promise<SumResult>;
  readonly secureSum: (g: Group, x: Float64Array, o: object) => Promise<SumResult>;
}

function intFlag(name: string, fallback: number, min: number, max: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new Error(`ab: --${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
  return v;
}

async function loadTree(dir: string, label: Tree['label'], n: number): Promise<Tree> {
  const files = ['test/support/group-harness.ts', 'src/protocols/additive.ts', 'src/protocols/baselines.ts'];
  for (const f of files) if (!existsSync(join(dir, f))) throw new Error(`ab: tree ${dir} has no ${f}`);
  const at = (f: string): string => pathToFileURL(join(dir, f)).href;
  const harness = (await import(at(files[0]!))) as { createTestGroups(n: number, o: { roundTimeoutMs: number }): Promise<{ groups: Group[] }> };
  const additive = (await import(at(files[1]!))) as { secureSum: Tree['secureSum'] };
  const baselines = (await import(at(files[2]!))) as { plainSum: Tree['plainSum'] };
  const { groups } = await harness.createTestGroups(n, { roundTimeoutMs: ROUND_TIMEOUT_MS });
  return { label, groups, plainSum: baselines.plainSum, secureSum: additive.secureSum };
}

async function main(): Promise<void> {
  const baseline = process.argv.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
  if (baseline === undefined) throw new Error('ab: --baseline=<dir of the other source tree> is required');
  const n = intFlag('n', DEFAULT_PARTIES, 3, 9);
  const length = intFlag('length', DEFAULT_LENGTH, 1, 1 << 24);
  const reps = intFlag('reps', DEFAULT_REPS, 1, 1000);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('ab: run node with --expose-gc (a full GC before each run keeps one run\'s garbage off the next)');
  const trees = [await loadTree(resolve('.'), 'this tree', n), await loadTree(resolve(baseline), 'baseline', n)];
  const inputs = Array.from({ length: n }, (_, p) => Float64Array.from({ length }, (_, i) => Math.sin(i * (p + 1)) * (BOUND / 10)));
  const labels = VARIANTS.flatMap((v) => trees.map((t) => ({ v, t })));
  const cpu = new Map(labels.map((l) => [l, [] as number[]]));
  const digests = new Map<Variant, string>();
  for (let r = 0; r <= reps; r++) {
    for (const l of r % 2 === 0 ? labels : [...labels].reverse()) {
      gc();
      const c0 = process.cpuUsage();
      const run = (g: Group, p: number): Promise<SumResult> =>
        l.v === 'plainSum' ? l.t.plainSum(g, inputs[p]!, { bound: BOUND, acknowledgeInsecure: true }) : l.t.secureSum(g, inputs[p]!, { bound: BOUND, shares: 'seed' });
      const t0 = performance.now();
      const results = await Promise.all(l.t.groups.map(run));
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      const sum = results[0]!.sum;
      if (!(sum instanceof Float64Array)) throw new Error(`ab: ${l.v} (${l.t.label}) returned no Float64Array`);
      const digest = createHash('sha256').update(new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength)).digest('hex');
      if ((digests.get(l.v) ?? digest) !== digest) throw new Error(`ab: ${l.v} gave a different sum in ${l.t.label}`);
      digests.set(l.v, digest);
      if (r > 0) cpu.get(l)!.push((c.user + c.system) / 1000);
      process.stderr.write(`ab: rep ${r}${r === 0 ? ' (warm-up)' : ''} ${l.v} ${l.t.label}: ${ms.toFixed(0)} ms wall\n`);
    }
  }
  console.log(`### ${n} parties in one process, L = ${length}: CPU ms per run (all parties), median (IQR) of ${reps}; this tree ÷ baseline paired per repetition\n`);
  console.log('| variant | this tree | baseline | this tree ÷ baseline |');
  console.log('| --- | --- | --- | --- |');
  for (const v of VARIANTS) {
    const [mine, base] = trees.map((t) => cpu.get(labels.find((l) => l.v === v && l.t === t)!)!);
    const ratio = summarize(pairedRatios(mine!, base!));
    console.log(`| ${v} | ${cell(summarize(mine!))} | ${cell(summarize(base!))} | ${fmt(ratio.median)} (${fmt(ratio.q1)}–${fmt(ratio.q3)}) |`);
  }
  for (const t of trees) await Promise.all(t.groups.map((g) => g.close()));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
