/**
 * Benchmark harness.
 *
 *   npm run bench                      every registered benchmark
 *   npm run bench -- channel           only `channel` (same as `--only channel`; repeatable)
 *   npm run bench -- --quick           reduced set (small sizes, few repetitions), < 60 s in total
 *   npm run bench -- --list            names and descriptions
 *
 * Benchmarks live in `bench/<folder>/index.ts` and call `registerBenchmark` (bench/lib/registry.ts).
 * Each run writes `bench/results/<name>.json` (`<name>.quick.json` with --quick) and prints Markdown tables on stdout; progress goes
 * to stderr. See bench/README.md.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { registeredBenchmarks, type BenchOptions } from './lib/registry.js';
import { machineInfo, markdownReport, writeResults } from './lib/results.js';

const BENCH_DIR = __dirname;
const ROOT = resolve(BENCH_DIR, '..');
const SKIP = new Set(['lib', 'results', 'node_modules']);

interface Args {
  only: string[];
  quick: boolean;
  list: boolean;
  help: boolean;
  rest: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { only: [], quick: false, list: false, help: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i]!;
    if (s === '--quick') a.quick = true;
    else if (s === '--list') a.list = true;
    else if (s === '--help' || s === '-h') a.help = true;
    else if (s === '--only') {
      const v = argv[++i];
      if (v === undefined) throw new Error('--only needs a benchmark name');
      a.only.push(...v.split(','));
    } else if (s.startsWith('--only=')) a.only.push(...s.slice(7).split(','));
    else if (!s.startsWith('-')) a.only.push(s);
    else a.rest.push(s);
  }
  return a;
}

async function loadBenchmarks(): Promise<string[]> {
  const failures: string[] = [];
  for (const entry of readdirSync(BENCH_DIR, { withFileTypes: true })) {
    if (!entry.isDirectory() || SKIP.has(entry.name)) continue;
    const file = join(BENCH_DIR, entry.name, 'index.ts');
    if (!existsSync(file)) continue;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(file);
    } catch (err) {
      failures.push(`bench/${entry.name}/index.ts: ${(err as Error).message}`);
    }
  }
  return failures;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write('usage: npm run bench -- [name ...] [--only name] [--quick] [--list] [benchmark flags]\n');
    return 0;
  }
  const loadFailures = await loadBenchmarks();
  for (const f of loadFailures) process.stderr.write(`bench: cannot load ${f}\n`);
  const all = registeredBenchmarks();
  if (args.list) {
    for (const b of all) process.stdout.write(`${b.name.padEnd(20)} ${b.description}\n`);
    return loadFailures.length ? 1 : 0;
  }
  const unknown = args.only.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`bench: unknown benchmark(s): ${unknown.join(', ')}; known: ${all.map((b) => b.name).join(', ') || '(none)'}\n`);
    return 2;
  }
  const selected = args.only.length ? all.filter((b) => args.only.includes(b.name)) : all;
  const opts: BenchOptions = {
    quick: args.quick,
    args: args.rest,
    root: ROOT,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  let failed = loadFailures.length;
  for (const b of selected) {
    const started = Date.now();
    process.stderr.write(`bench: ${b.name}${args.quick ? ' (quick)' : ''} ...\n`);
    try {
      const machine = machineInfo();
      const busy = machine.loadavg[0]! > cpus().length * 0.5;
      if (busy) process.stderr.write(`bench: warning: load average ${machine.loadavg[0]!.toFixed(2)} on ${machine.cpus} CPUs — other work is running; absolute numbers will be noisy, paired ratios less so\n`);
      const report = await b.run(opts);
      const seconds = (Date.now() - started) / 1000;
      const base = report.resultsVariant === undefined ? b.name : `${b.name}.${report.resultsVariant}`;
      const file = args.quick ? `${base}.quick` : base;
      const path = await writeResults(join(BENCH_DIR, 'results'), file, report, machine, { quick: args.quick, argv: process.argv.slice(2), seconds, loadavgAtEnd: loadavg() });
      process.stdout.write(`${markdownReport(b.name, report, machine, args.quick)}\n`);
      process.stderr.write(`bench: ${b.name} done in ${seconds.toFixed(1)} s -> ${path}\n`);
    } catch (err) {
      failed++;
      process.stderr.write(`bench: ${b.name} failed: ${String((err as Error)?.stack ?? err)}\n`);
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
