/**
 * Helpers for the CLI tests: run the built `coupler` command (`node dist/cli.js ...`) as a real
 * process, the way users run it, and keep track of children and temporary folders so that
 * `afterAll` can clean up even when a test fails.
 *
 * `npm test` builds dist/ before jest runs. These tests refuse to run against a missing build
 * (they fail with a message saying so) rather than skip.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export { v6Encode, v6EncodeEnv } from '../vantage6/helpers';

/** Repository root. */
export const ROOT = resolve(__dirname, '../..');
/** The built CLI, as `npm run build` writes it and as package.json's `bin` names it. */
export const CLI = join(ROOT, 'dist', 'cli.js');

/** Fail (not skip) when the build is missing. */
export function requireBuiltCli(path: string = CLI): string {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run "npm run build" first (npm test builds before running jest)`);
  }
  return path;
}

/** What a finished child did. */
export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** Set when the deadline passed and the child was killed. */
  readonly timedOut: boolean;
}

/** Options of {@link runProcess}. */
export interface RunOptions {
  readonly cwd?: string;
  /** The whole environment of the child (default: PATH and HOME of this process only). */
  readonly env?: NodeJS.ProcessEnv;
  /** Deadline; the child is SIGKILLed after it (default 30 s). */
  readonly timeoutMs?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Called with the child right after spawning. */
  readonly onSpawn?: (child: ChildProcess) => void;
}

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const strayPids = new Set<number>();

/** A minimal environment: no inherited COUPLER_* or vantage6 variables from the test runner. */
export function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra };
}

/** Run a command to completion, capturing its output. Never rejects for a non-zero exit. */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((done, fail) => {
    const spawnOptions: SpawnOptions = {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? baseEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    };
    const child = spawn(command, [...args], spawnOptions);
    children.add(child);
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      children.delete(child);
      fail(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      done({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/** Run `node dist/cli.js <args>`. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return runProcess(process.execPath, [requireBuiltCli(), ...args], options);
}

/** A temporary folder, removed by {@link cleanupAll}. */
export function tempDir(prefix = 'coupler-cli-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Remove one temporary folder now. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Remember a process that is not our direct child (e.g. a grandchild) so cleanup kills it. */
export function trackPid(pid: number): void {
  strayPids.add(pid);
}

/** Whether a process is alive (and not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Kill every child still running and every tracked process, remove every temporary folder. */
export function cleanupAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  for (const pid of strayPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  strayPids.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

const STACK_LINE = /^\s+at\s.+(?:\(|:\d+:\d+)/m;

/**
 * Assert a failure the way a user should see it: a non-zero exit, no stack trace, and the error
 * on stderr as `coupler: ...` (CLI errors) or `[coupler] error: ...` (the container wrapper).
 * Returns the error line.
 */
export function expectCleanFailure(run: Run, expected: { code?: number; errorCode?: string; mentions?: RegExp } = {}): string {
  const where = `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  if (run.timedOut) throw new Error(`the command did not finish in time\n${where}`);
  expect({ nonZero: run.code !== 0 && run.code !== null, where }).toEqual({ nonZero: true, where });
  if (expected.code !== undefined) expect({ code: run.code, where }).toEqual({ code: expected.code, where });
  expect({ stack: STACK_LINE.test(run.stderr) || STACK_LINE.test(run.stdout), where }).toEqual({ stack: false, where });
  const errorLines = run.stderr.split('\n').filter((l) => /^coupler: /.test(l) || /^\[coupler\] error: /.test(l));
  expect({ errorLines: errorLines.length, where }).toEqual({ errorLines: 1, where });
  const line = errorLines[0]!;
  if (expected.errorCode !== undefined) expect(line).toContain(expected.errorCode);
  if (expected.mentions !== undefined) expect(line).toMatch(expected.mentions);
  // Whatever else is on stderr is at most the "Run ... --help" hint (CLI) or info lines (wrapper).
  const others = run.stderr.split('\n').filter((l) => l.trim() !== '' && l !== line);
  for (const l of others) expect(l).toMatch(/^(?:Run "coupler .*--help" for usage\.|\[coupler\] (?:info|warn): )/);
  return line;
}

/** The direct children of `pid` (from /proc), once there are `count` of them. */
export async function childrenOf(pid: number, count: number, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let found: number[] = [];
  while (Date.now() < deadline) {
    found = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) found.push(Number(entry));
      } catch {
        /* gone */
      }
    }
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  return found;
}
