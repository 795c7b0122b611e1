/**
 * `data`: reading a station's Parquet dataframe at real sizes (issue 19 item 5). A synthetic
 * cohort of 1e6 rows × 7 columns (bench/data/cohort.ts: int64, category, three float64 with
 * missing values, date, datetime64[ns]; the index stored as after a row filter), written as
 * pandas + pyarrow write it (version 1 pages, nulls, pandas metadata). Each variant reads the file
 * and sums two float columns in a fresh Node process loading the built package, as an algorithm
 * container does (bench/data/child.cjs):
 *
 * - `columns`: `readParquetColumns(file, { columns })` + `numericColumn` (the columnar path);
 * - `rows`: `readParquetFile(file, { columns })` (the row path, two columns);
 * - `rows-all`: `readParquetFile(file)`, every column (what `readStationTable(ctx)` does);
 * - `csv`, `csv-columns`: the same rows as a CSV file (vantage6 4.x), `readCsvFile` of every
 *   column and of the two (what `readStationColumns` does with a CSV database);
 * - `pandas`, `pandas-all`: `pandas.read_parquet` with and without `columns`, when pandas and a
 *   Parquet engine are installed (bench/data/pandas.py); the report says when they are not;
 * - `idle`: the package loaded, nothing read (the runtime's share of the peak memory).
 *
 * Reported: the read's time (median and IQR over repetitions, interleaved ABC/CBA in one run;
 * each repetition a new process, after one discarded warm-up round) and each process's peak RSS
 * (VmHWM, runtime included). Targets (issue 19, reported, never asserted): the columnar path ≤ 2 ×
 * pandas' time on the same file (without pandas here: the issue's 0.56 s) and ≤ 150 MB peak.
 *
 * Flags: `--rows=1e6`, `--reps=5`, `--variants=columns,rows,rows-all,csv,csv-columns,idle`.
 * Needs `npm run build`.
 *
 * @module
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { cell, fmt, interleave, median, pairedRatios, summarize } from '../lib/stats.js';
import { SUMMED, writeCohort } from './cohort.js';

/** The issue's measurement of pandas on its 1e6 × 7 file (s), used when pandas cannot run here. */
const ISSUE_PANDAS_SECONDS = 0.56;
/** Targets of issue 19 item 5. */
const TARGET_TIME_RATIO = 2;
const TARGET_PEAK_MB = 150;
/** The table size the targets are stated for. */
const TARGET_ROWS = 1e6;
/** Deadline of one measured process (ms). */
const CHILD_DEADLINE_MS = 120_000;

function flag(args: readonly string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

interface Sample {
  ms: number;
  cpuMs: number;
  peakMb: number;
  sums: Record<string, { sum: number; count: number; missing: number }>;
}

/** Run one measured process and parse its JSON line. */
function measureOnce(command: string, args: readonly string[]): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')}: ${signal ?? `exit ${code}`}: ${err.trim().slice(0, 500)}`));
      else resolve(JSON.parse(out.trim()) as Sample);
    });
  });
}

/** pandas with a Parquet engine, or why not. */
function pandasAvailable(): { ok: true; engine: string } | { ok: false; why: string } {
  const probe = spawnSync('python3', ['-c', 'import pandas\ntry:\n import pyarrow; print("pyarrow", pyarrow.__version__, pandas.__version__)\nexcept ImportError:\n import fastparquet; print("fastparquet", fastparquet.__version__, pandas.__version__)'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.status === 0) return { ok: true, engine: probe.stdout.trim() };
  const noPandas = /No module named 'pandas'/.test(probe.stderr ?? '');
  return {
    ok: false,
    why: noPandas
      ? 'pandas is not installed (Debian 12 packages python3-pandas 1.5.3 but no Parquet engine for it: no python3-pyarrow, no python3-fastparquet)'
      : 'pandas is installed but has no Parquet engine (no pyarrow, no fastparquet; Debian 12 packages neither)',
  };
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const dist = join(opts.root, 'dist', 'vantage6.js');
  if (!existsSync(dist)) throw new Error('data: dist/vantage6.js is missing; run `npm run build` first');
  const rows = Number(flag(opts.args, 'rows') ?? (opts.quick ? 1e5 : 1e6));
  const reps = Number(flag(opts.args, 'reps') ?? (opts.quick ? 2 : 5));
  const pandas = pandasAvailable();
  const wanted = (flag(opts.args, 'variants') ?? `columns,rows,rows-all,csv,csv-columns,idle${pandas.ok ? ',pandas,pandas-all' : ''}`).split(',');
  const dir = mkdtempSync(join(tmpdir(), 'coupler-bench-data-'));
  const load0 = loadavg();
  try {
    const file = join(dir, 'cohort.parquet');
    opts.log(`data: writing ${rows} rows × 7 columns (pyarrow-shaped) ...`);
    const csvFile = join(dir, 'cohort.csv');
    const { bytes, csvBytes, sums: expected } = await writeCohort(file, rows, wanted.some((v) => v.startsWith('csv')) ? csvFile : undefined);
    const child = join(opts.root, 'bench', 'data', 'child.cjs');
    const script = join(opts.root, 'bench', 'data', 'pandas.py');
    const columns = SUMMED.join(',');
    const peaks: Record<string, number[]> = Object.fromEntries(wanted.map((v) => [v, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(wanted.map((v) => [v, []]));
    const wrong: string[] = [];
    const times = await interleave(wanted, { warmup: 1, reps, onRep: (r, warm) => opts.log(`data: ${warm ? 'warm-up' : `rep ${r}/${reps}`}`) }, async (variant) => {
      const s = variant.startsWith('pandas')
        ? await measureOnce('python3', [script, variant, file, columns])
        : await measureOnce(process.execPath, [child, dist, variant, variant.startsWith('csv') ? csvFile : file, columns]);
      peaks[variant]!.push(s.peakMb);
      cpu[variant]!.push(s.cpuMs);
      if (variant !== 'idle') {
        for (const c of SUMMED) {
          const got = s.sums[c]!;
          const want = expected[c]!;
          if (got.count !== want.count || got.missing !== want.missing || Math.abs(got.sum - want.sum) > 1e-9 * Math.abs(want.sum)) wrong.push(`${variant}: ${c}`);
        }
      }
      return s.ms;
    });
    // interleave keeps the warm-up's peaks out of `times` only; drop them from `peaks` too
    for (const v of wanted) {
      peaks[v] = peaks[v]!.slice(peaks[v]!.length - reps);
      cpu[v] = cpu[v]!.slice(cpu[v]!.length - reps);
    }
    const seconds = (s: ReturnType<typeof summarize>): string => cell({ ...s, median: s.median / 1000, q1: s.q1 / 1000, q3: s.q3 / 1000 });

    const tableRows = wanted.map((v) => {
      const t = summarize(times[v]!);
      const p = summarize(peaks[v]!);
      return [v, v === 'idle' ? '—' : seconds(t), v === 'idle' ? '—' : seconds(summarize(cpu[v]!)), cell(p), v === 'columns' || v === 'idle' ? '—' : fmt(median(pairedRatios(times[v]!, times.columns ?? times[v]!)))];
    });
    const columnsSeconds = median(times.columns ?? [Number.NaN]) / 1000;
    const columnsPeak = Math.max(...(peaks.columns ?? [Number.NaN]));
    const pandasSeconds = pandas.ok && times.pandas ? median(times.pandas) / 1000 : undefined;
    const reference = pandasSeconds ?? ISSUE_PANDAS_SECONDS;
    const notes = [
      `File: ${rows} rows × 7 columns + the stored index, ${(bytes / 2 ** 20).toFixed(1)} MiB (snappy, row groups of 1,048,576 rows, version 1 pages, as pyarrow writes); summed: ${SUMMED.join(', ')}.${csvBytes > 0 ? ` The same rows as CSV (csv variants): ${(csvBytes / 2 ** 20).toFixed(1)} MiB.` : ''}`,
      pandas.ok ? `pandas: ${pandas.engine} (engine, version, pandas version), same file, same sums.` : `pandas: not run — ${pandas.why}. Compared with the issue's measurement instead: pandas read its 1e6 × 7 file (14 MB) in ${ISSUE_PANDAS_SECONDS} s.`,
      ...(rows === TARGET_ROWS || pandasSeconds !== undefined
        ? [
            `Target time (columnar ≤ ${TARGET_TIME_RATIO} × pandas = ${fmt(TARGET_TIME_RATIO * reference)} s${pandasSeconds === undefined ? ", against the issue's figure" : ''}): ${columnsSeconds <= TARGET_TIME_RATIO * reference ? 'met' : 'NOT met'} (median ${fmt(columnsSeconds)} s).`,
          ]
        : [`Target time: stated for ${TARGET_ROWS} rows against the issue's pandas figure; this run has ${rows} rows (columnar median ${fmt(columnsSeconds)} s).`]),
      `Target memory (columnar peak RSS ≤ ${TARGET_PEAK_MB} MB at ${TARGET_ROWS} rows, runtime included): ${rows === TARGET_ROWS ? (columnsPeak <= TARGET_PEAK_MB ? 'met' : 'NOT met') : `not evaluated at ${rows} rows`} (max ${fmt(columnsPeak)} MB over ${reps} processes).`,
      wrong.length === 0 ? 'Every variant read the expected sums, counts and missing counts.' : `WRONG sums: ${[...new Set(wrong)].join('; ')}.`,
      `Load average (1/5/15 min) at the start ${load0.map((x) => x.toFixed(2)).join(' ')}, at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}.`,
    ];
    return {
      parameters: { rows, reps, warmup: 1, variants: wanted, summed: SUMMED, fileBytes: bytes, csvBytes, pandas: pandas.ok ? pandas.engine : pandas.why, node: process.version },
      tables: [
        {
          title: `Read ${SUMMED.length} of 7 columns of a ${rows}-row Parquet file and sum them (each repetition a fresh process; median (IQR))`,
          columns: ['variant', 'read + sum, s', 'CPU, s', 'peak RSS, MB', 'time ÷ columns (paired)'],
          rows: tableRows,
          notes: [
            "Peak RSS is the process's VmHWM (Node runtime and package included: see `idle`); pandas' is ru_maxrss of the Python process. CPU is user + system time of the read in that process (every thread, the garbage collector's too): on a loaded machine it moves less than the wall time.",
          ],
        },
      ],
      data: { times, cpu, peaks, expected },
      notes,
      ...(flag(opts.args, 'rows') === undefined ? {} : { resultsVariant: `rows${rows}` }),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

registerBenchmark({ name: 'data', description: 'reading 2 of 7 columns of a 1e6-row pyarrow-shaped Parquet file: columnar vs row path (vs pandas when installed), time and peak RSS', run });
