/**
 * Shared test helpers for the examples: run an example for real with `simulate()` (one `coupler
 * run` process per station, as a vantage6 node starts algorithm containers), read CSV files in
 * the clear for the expected values, and transpile an example exactly as its Dockerfile does.
 *
 * Test-only: nothing here is part of an example users copy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { simulate, type SimulationOutcome } from '../../src/cli/simulate';

/** The repository root. */
export const REPO = resolve(__dirname, '..', '..');
/** The examples folder. */
export const EXAMPLES = join(REPO, 'examples');

/**
 * The built CLI (`dist/cli.js`). The examples run the real `coupler` command, so the package must
 * be built: fail loudly rather than skip.
 */
export function builtCli(): string {
  const cli = join(REPO, 'dist', 'cli.js');
  if (!existsSync(cli)) {
    throw new Error(`${cli} does not exist: run \`npm run build\` before the example tests (they run the built coupler CLI; \`npm test\` builds first)`);
  }
  return cli;
}

/** The data files of an example's stations, in order. */
export function stationFiles(example: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => join(EXAMPLES, example, 'data', `station-${i + 1}.csv`));
}

/** A temporary folder removed by `cleanup`. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Options of {@link runExample}. */
export interface RunExampleOptions {
  /** Path of the algorithm module (`.ts` runs through tsx, `.mjs` runs on plain Node). */
  readonly algorithm: string;
  readonly method: string;
  /** One data file per station; the number of stations. */
  readonly dataFiles: readonly string[];
  /** kwargs every station gets. */
  readonly kwargs?: Record<string, unknown>;
  /** kwargs merged for station i. */
  readonly perParty?: readonly Record<string, unknown>[];
  /** Deadline of the whole run and of every wait inside it, seconds (default 20: a hang fails well inside the jest timeout). */
  readonly timeoutSeconds?: number;
  /** The vantage6 contract the stations run under (default 4; 5: Parquet dataframes in SESSION_FOLDER). */
  readonly vantage6?: 4 | 5;
}

/** What a run gave: the outcome, and every line the stations printed (for checking error messages). */
export interface ExampleRun {
  readonly outcome: SimulationOutcome;
  /** The stations' own log lines (`  [party <id>] ...`), in the order they came. */
  readonly lines: string[];
  /** simulate's other lines: the header, progress summaries, the report. */
  readonly report: string[];
  /** Every station's result (undefined where it failed). */
  readonly results: unknown[];
  readonly exitCodes: (number | null)[];
}

/** Run an example with `simulate()`: the input goes through a temporary `--input` file, as on the command line. */
export async function runExample(options: RunExampleOptions): Promise<ExampleRun> {
  const cliPath = builtCli();
  const { dir, cleanup } = tempDir('coupler-example-');
  try {
    const inputFile = join(dir, 'input.json');
    writeFileSync(inputFile, JSON.stringify({ kwargs: options.kwargs ?? {}, ...(options.perParty ? { perParty: options.perParty } : {}) }));
    const lines: string[] = [];
    const outcome = await simulate({
      algorithm: options.algorithm,
      parties: options.dataFiles.length,
      method: options.method,
      dataFiles: options.dataFiles,
      inputFile,
      cliPath,
      timeoutSeconds: options.timeoutSeconds ?? 20,
      ...(options.vantage6 === undefined ? {} : { vantage6: options.vantage6 }),
      progress: true, // collected, not printed: the tests check the stations' error lines
      out: (line) => void lines.push(line),
    });
    const station = (l: string): boolean => /^ {2}\[party [^\]]+\] /.test(l);
    return {
      outcome,
      lines: lines.filter(station),
      report: lines.filter((l) => !station(l)),
      results: outcome.parties.map((p) => p.result),
      exitCodes: outcome.parties.map((p) => p.exitCode),
    };
  } finally {
    cleanup();
  }
}

/** A CSV file read in the clear (the test data has no quoted fields). */
export function readCsv(path: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim().length > 0);
  const header = lines[0]!.split(',').map((h) => h.trim());
  return { header, rows: lines.slice(1).map((l) => l.split(',').map((c) => c.trim())) };
}

/** The cells of one column of a CSV file. */
export function csvColumn(path: string, column: string): string[] {
  const { header, rows } = readCsv(path);
  const at = header.indexOf(column);
  if (at < 0) throw new Error(`test data: ${path} has no column ${column}`);
  return rows.map((r) => r[at] ?? '');
}

/** The esbuild step of an example's Dockerfile: the pinned version and the command-line arguments. */
export interface DockerfileBuildStep {
  readonly esbuildVersion: string;
  readonly esbuildArgs: string[];
  /** The files the build stage copies from the build context. */
  readonly copiedSources: string[];
}

/** Read the build stage of an example's Dockerfile (the pieces the image test re-runs). */
export function dockerfileBuildStep(example: string): DockerfileBuildStep {
  const text = readFileSync(join(EXAMPLES, example, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const version = /\besbuild@(\d+\.\d+\.\d+)\b/.exec(text)?.[1];
  if (version === undefined) throw new Error(`${example}/Dockerfile: no pinned esbuild@x.y.z`);
  const run = text.split('\n').find((l) => /^RUN\s+\S*esbuild\s/.test(l.trim()));
  if (run === undefined) throw new Error(`${example}/Dockerfile: no RUN line invoking esbuild`);
  const args = run.trim().replace(/^RUN\s+\S*esbuild\s+/, '').split(/\s+/).filter((a) => a.length > 0);
  const copiedSources = [...text.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+\s*$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
  return { esbuildVersion: version, esbuildArgs: args, copiedSources };
}

/**
 * Transpile an example the way its Dockerfile's build stage does (the same esbuild arguments,
 * run by the esbuild in node_modules), into an image-like layout: `<root>/app/algorithm.mjs` with
 * `<root>/node_modules/coupler`, a link to this package, above it (the base image links the
 * installed SDK at /node_modules/coupler). So the module resolves `coupler` exactly as in the
 * image: through the package's exports to dist/, with nothing else on the resolution path.
 */
export function transpileLikeImage(example: string, root: string): string {
  const step = dockerfileBuildStep(example);
  const build = join(root, 'build');
  const app = join(root, 'app');
  mkdirSync(build, { recursive: true });
  mkdirSync(app, { recursive: true });
  mkdirSync(join(root, 'node_modules'), { recursive: true });
  for (const src of step.copiedSources) copyFileSync(join(EXAMPLES, example, src), join(build, src));
  const esbuild = join(REPO, 'node_modules', '.bin', 'esbuild');
  const r = spawnSync(esbuild, step.esbuildArgs, { cwd: build, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`esbuild ${step.esbuildArgs.join(' ')} failed: ${r.stderr}`);
  copyFileSync(join(build, 'algorithm.mjs'), join(app, 'algorithm.mjs'));
  symlinkSync(REPO, join(root, 'node_modules', 'coupler'), 'dir');
  return join(app, 'algorithm.mjs');
}

/** Import a module in a fresh plain-Node process (no tsx, no jest) and list its exported functions. */
export function exportedFunctions(modulePath: string): { functions: string[]; stderr: string; status: number | null } {
  const script = `const m = await import(${JSON.stringify(modulePath)}); console.log(JSON.stringify(Object.keys(m).filter((k) => typeof m[k] === 'function').sort()));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: tmpdir(), encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  let functions: string[] = [];
  try {
    functions = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '[]') as string[];
  } catch {
    functions = [];
  }
  return { functions, stderr: r.stderr, status: r.status };
}

/** Write a file (creating its folder). */
export function writeText(path: string, text: string): string {
  mkdirSync(resolve(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}
