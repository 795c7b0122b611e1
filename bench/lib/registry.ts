/**
 * Benchmark registry. A benchmark lives in `bench/<folder>/index.ts` and registers itself on import:
 *
 * ```ts
 * import { registerBenchmark } from '../lib/registry.js';
 * registerBenchmark({ name: 'mesh', description: 'mesh formation time vs party count', run: async (opts) => ({ parameters: {}, tables: [], data: {} }) });
 * ```
 *
 * `bench/run.ts` imports every `bench/<folder>/index.ts` (folders `lib` and `results` excepted),
 * so adding a benchmark needs no edit to a shared file.
 *
 * @module
 */

/** What the harness passes to {@link Benchmark.run}. */
export interface BenchOptions {
  /** Reduced set (small sizes, few repetitions); the whole `--quick` run must stay under 60 s. */
  readonly quick: boolean;
  /** Arguments after `--` that the harness did not consume (benchmark-specific flags). */
  readonly args: readonly string[];
  /** Absolute path of the repository root. */
  readonly root: string;
  /** Progress output (stderr), so stdout stays the Markdown report. */
  log(line: string): void;
}

/** One Markdown table of a report. */
export interface ReportTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  /** Lines printed under the table. */
  readonly notes?: readonly string[];
}

/** What a benchmark returns; the harness writes it to `bench/results/<name>.json` and prints the tables. */
export interface BenchReport {
  /** Everything needed to reproduce the run (sizes, repetitions, volumes, options). */
  readonly parameters: Record<string, unknown>;
  /** Human-readable summary: medians, IQR, ratios. */
  readonly tables: readonly ReportTable[];
  /** Machine-readable results: raw samples and their summaries. */
  readonly data: unknown;
  /** Observations printed after the tables (e.g. whether a target was met, measured not asserted). */
  readonly notes?: readonly string[];
  /**
   * Results file variant: written to `bench/results/<name>.<resultsVariant>.json` instead of
   * `<name>.json`, so a run with a different setting (e.g. `relay --rtt=20`) keeps the default run's file.
   */
  readonly resultsVariant?: string;
}

/** A registered benchmark. */
export interface Benchmark {
  /** Short unique name: `[a-z0-9-]+`; also the results file name. */
  readonly name: string;
  /** One line for `--list`. */
  readonly description: string;
  run(opts: BenchOptions): Promise<BenchReport>;
}

const benchmarks = new Map<string, Benchmark>();

/** Register a benchmark (call at module top level). */
export function registerBenchmark(benchmark: Benchmark): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(benchmark.name)) throw new Error(`benchmark name "${benchmark.name}" must match [a-z0-9-]+`);
  if (benchmarks.has(benchmark.name)) throw new Error(`benchmark "${benchmark.name}" is registered twice`);
  benchmarks.set(benchmark.name, benchmark);
}

/** All registered benchmarks, by name. */
export function registeredBenchmarks(): Benchmark[] {
  return [...benchmarks.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
