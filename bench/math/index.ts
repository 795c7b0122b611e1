/**
 * Math benchmark: the operations of `micro.ts` (ring-2^64 vectors, ChaCha20 seed expansion,
 * fixed-point encoding, the p127 and p61 field codecs, Shamir sharing and reconstruction in both fields), run in a child
 * process, interleaved per repetition, reported as median (IQR) of ms per call.
 *
 * Flags (after `--`): `--reps=N`, `--ms=N` (minimum time per sample), `--ops=substring,…`
 * (operations whose name contains one of the substrings), `--all` (include the slow Shamir
 * operations in --quick).
 *
 * @module
 */
import { join } from 'node:path';
import { spawnWorker } from '../lib/child.js';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { cell, fmt, interleave, summarize, type Summary } from '../lib/stats.js';
import type { OpInfo } from './micro.js';

async function run(opts: BenchOptions): Promise<BenchReport> {
  const flag = (name: string): string | undefined => {
    const hit = opts.args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    return hit === undefined ? undefined : hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : '';
  };
  const reps = Math.max(1, Number(flag('reps') ?? (opts.quick ? 2 : 5)));
  const warmup = 1;
  const ms = Math.max(1, Number(flag('ms') ?? (opts.quick ? 40 : 250)));
  const filter = flag('ops')?.split(',').filter((s) => s !== '');
  const all = flag('all') !== undefined || !opts.quick;
  const w = spawnWorker(join(__dirname, 'micro.ts'), {}, { name: 'math', root: opts.root, deadlineMs: (opts.quick ? 2 : 15) * 60_000 });
  let samples: Record<string, number[]>;
  let list: OpInfo[];
  try {
    await w.waitEvent('ready', 120_000);
    list = (await w.call<OpInfo[]>('list', {}, 30_000)).filter((o) => (all || !o.heavy) && (filter === undefined || filter.some((f) => o.name.includes(f))));
    opts.log(`math: ${list.length} operations × (${reps} reps + ${warmup} warm-up) × ≥ ${ms} ms, interleaved`);
    samples = await interleave(
      list.map((o) => o.name),
      { warmup, reps },
      (name) => w.call<number>('measure', { name, ms }, 600_000),
    );
  } finally {
    await w.stop();
  }
  const summaries: Record<string, Summary> = {};
  const rows = list.map((o) => {
    const s = summarize(samples[o.name]!);
    summaries[o.name] = s;
    return [o.name, o.size, cell(s), fmt(1000 / s.median), fmt((s.median * 1e6) / o.elements)];
  });
  return {
    parameters: { reps, warmup, minMsPerSample: ms, quick: opts.quick, includeHeavy: all, ops: list.map((o) => o.name) },
    tables: [
      {
        title: 'Math layer, single thread: ms per call, median (IQR)',
        columns: ['operation', 'L', 'ms/op', 'ops/s (from median)', 'ns/element'],
        rows,
        notes: [
          'Each sample runs the operation for at least the minimum time (at least once) and reports the mean time per call; samples of all operations are interleaved (ABC…, …CBA) in one child process.',
          opts.quick && !all ? 'Quick run: Shamir operations for n = 10, 20 and the cheater checks are left out (--all includes them).' : 'All operations of bench/math/micro.ts.',
        ],
      },
    ],
    data: { samples, summaries },
  };
}

registerBenchmark({
  name: 'math',
  description: 'math layer micro-benchmarks (ring64, ChaCha20 expansion, encoding, p127 and p61 codecs, Shamir in both fields), single thread',
  run,
});
