/**
 * `jiff`: coupler secureSum vs JIFF (jiff-mpc) on the same secure sum, loopback only.
 *
 * JIFF is a benchmark-only dependency: it lives in `bench/jiff/package.json` (+ lockfile) and is
 * installed into `bench/jiff/node_modules` by this benchmark (`npm ci --prefix bench/jiff`) when
 * missing; it is not a dependency of the library. If it cannot be installed or does not run, the
 * benchmark reports itself as BLOCKED and prints no JIFF numbers.
 *
 * Both sides: n party processes on 127.0.0.1 with the same deterministic integer inputs (the
 * sum is checked against the same checksum). JIFF: one JIFF server process (JIFF's coordinator,
 * which also relays every message) + n `JIFFClient`s; per sum `share_array` → local `sadd` →
 * `open_array` (additive-style n-out-of-n Shamir sharing over JIFF's default prime field).
 * coupler: n parties forming a direct mesh (static discovery), `secureSum`.
 * Reported: setup time (JIFF: connect + wait for all parties; coupler: joinGroup), time per sum
 * and per element (medians, interleaved repetitions), and the per-element ratio.
 *
 * Flags: `--n=3,5`, `--sizes=1,1e3,1e4`, `--reps=3`, `--large-reps=1` (JIFF's repetitions for L ≥ 1e4, no
 * warm-up; coupler keeps its warm-up and `--reps` there).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { fmt, interleave, pairedRatios, summarize, type Summary } from '../lib/stats.js';
import { runLocal, type NsProcess } from '../../test/netns/testbed';
import { makeParties } from '../../test/netns/parties';
import { expectedChecksum, type PartyConfig } from '../../test/netns/inputs';

function flag(args: readonly string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}
const nums = (s: string): number[] => s.split(',').map((x) => Number(x));

let portBase = 21000 + Math.floor(Math.random() * 20000);

function ensureJiff(root: string, log: (s: string) => void): string | undefined {
  const dir = join(root, 'bench', 'jiff');
  if (existsSync(join(dir, 'node_modules', 'jiff-mpc', 'package.json'))) return undefined;
  log('jiff: installing the benchmark-only dependency (npm ci --prefix bench/jiff) ...');
  try {
    execFileSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund', '--ignore-scripts'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return `npm ci --prefix bench/jiff failed: ${(e.stderr?.toString() ?? e.message).trim().slice(-500)}`;
  }
  return existsSync(join(dir, 'node_modules', 'jiff-mpc', 'package.json')) ? undefined : 'jiff-mpc missing after npm ci';
}

interface Side {
  setupMs: number;
  procs: NsProcess[];
  sum(length: number): Promise<number>;
  stop(): Promise<void>;
}

/** Ratio a/b of two unpaired summaries: median over median; quartiles and range as the widest combinations. */
function ratioOfMedians(a: Summary, b: Summary): Summary {
  const q1 = a.q1 / b.q3;
  const q3 = a.q3 / b.q1;
  return { n: a.n, median: a.median / b.median, q1, q3, iqr: q3 - q1, p90: a.p90 / b.median, min: a.min / b.max, max: a.max / b.min };
}

/** Pause before every timed sum, ms (not part of the time). */
const SETTLE_MS = 1000;

let cmdId = 0;
async function sumAll(procs: NsProcess[], length: number, n: number, what: string): Promise<number> {
  const id = ++cmdId;
  const t0 = performance.now();
  for (const p of procs) p.send({ op: 'sum', id, length });
  const done = await Promise.all(procs.map((p) => p.waitEvent((e) => (e.event === 'result' && e.id === id) || e.event === 'error', 600_000)));
  const ms = performance.now() - t0;
  const bad = done.find((e) => e.event === 'error');
  if (bad) throw new Error(`${what}: ${JSON.stringify(bad)}`);
  const want = expectedChecksum(n, length);
  if (!done.every((e) => e.checksum === want)) {
    const wrong = done.map((e, i) => (e.checksum === want ? undefined : i + 1)).filter((i) => i !== undefined);
    // coupler must never be wrong: that aborts the benchmark. JIFF's wrong results are recorded as
    // findings (the time is still what the sum took) so that one bad JIFF run does not lose the rest.
    if (what !== 'jiff') throw new Error(`${what}: wrong sum (${done.map((e) => String(e.checksum)).join(',')} vs ${want})`);
    wrongResults.push(`JIFF: n=${n}, L=${length}: party ${wrong.join(', ')} of ${n} output a wrong sum (checksum ${done.map((e) => String(e.checksum)).join(',')}, expected ${want})`);
  }
  return ms;
}

/** Wrong sums JIFF returned during the run (reported in the notes). */
const wrongResults: string[] = [];

async function stopAll(procs: NsProcess[]): Promise<void> {
  for (const p of procs) p.send({ op: 'exit' });
  await Promise.all(procs.map((p) => p.waitExit(3000)));
  for (const p of procs) p.kill();
}

async function startJiff(n: number): Promise<Side> {
  const port = portBase++;
  const server = runLocal('bench/jiff/server.ts', { CPL_JIFF: JSON.stringify({ port }) }, 'jiff-server');
  await server.waitEvent('listening', 30_000);
  const computationId = `sum${Date.now()}`;
  const t0 = performance.now();
  const procs = Array.from({ length: n }, (_, i) =>
    runLocal('bench/jiff/party.ts', { CPL_JIFF: JSON.stringify({ port, computationId, partyCount: n, partyId: i + 1 }) }, `jiff-${i + 1}`),
  );
  const ready = await Promise.all(procs.map((p) => p.waitEvent('ready', 60_000)));
  void t0;
  return {
    setupMs: Math.max(...ready.map((e) => Number(e.ms))),
    procs,
    sum: (L) => sumAll(procs, L, n, 'jiff'),
    stop: async () => {
      await stopAll(procs);
      server.kill();
    },
  };
}

async function startCoupler(n: number): Promise<Side> {
  const set = makeParties(n);
  const ports = Array.from({ length: n }, () => portBase++);
  const procs = set.ids.map((id, i) => {
    const cfg: PartyConfig = {
      id,
      identity: set.identities[i]!,
      roster: set.rosterJson,
      sessionId: set.sessionId,
      port: ports[i]!,
      listenHost: '127.0.0.1',
      discovery: { kind: 'static', list: ports.filter((_, j) => j !== i).map((p) => `127.0.0.1:${p}`) },
      joinTimeoutMs: 60_000,
      roundTimeoutMs: 600_000,
      mode: 'commands',
      length: 0,
    };
    return runLocal('test/netns/party.ts', { CPL_PARTY: JSON.stringify(cfg) }, id);
  });
  const ready = await Promise.all(procs.map((p) => p.waitEvent('ready', 60_000)));
  return { setupMs: Math.max(...ready.map((e) => Number(e.ms))), procs, sum: (L) => sumAll(procs, L, n, 'coupler'), stop: () => stopAll(procs) };
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const blocked = ensureJiff(opts.root, opts.log);
  if (blocked) {
    opts.log(`jiff: BLOCKED: ${blocked}`);
    return { parameters: { blocked }, tables: [], data: { blocked }, notes: [`BLOCKED: ${blocked}. No JIFF numbers are reported.`] };
  }
  const ns = nums(flag(opts.args, 'n') ?? (opts.quick ? '3' : '3,5'));
  const sizes = nums(flag(opts.args, 'sizes') ?? (opts.quick ? '1,1e3' : '1,1e3,1e4'));
  const reps = Number(flag(opts.args, 'reps') ?? (opts.quick ? 1 : 3));
  const largeReps = Number(flag(opts.args, 'large-reps') ?? 1);
  const rows: (string | number)[][] = [];
  const setupRows: (string | number)[][] = [];
  const cells: unknown[] = [];
  for (const n of ns) {
    let jiff: Side | undefined;
    let coupler: Side | undefined;
    try {
      jiff = await startJiff(n);
      coupler = await startCoupler(n);
      setupRows.push([n, fmt(jiff.setupMs), fmt(coupler.setupMs)]);
      const sides = { jiff, coupler };
      for (const L of sizes) {
        const measure = async (v: 'jiff' | 'coupler', rep: number): Promise<number> => {
          // Let the previous sum's processes go quiet first (JIFF's keep working after their
          // result arrives: socket.io and GC), so neither side is timed while the other still runs.
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          const ms = await sides[v].sum(L);
          opts.log(`jiff: n=${n} L=${L} ${v} rep ${rep}: ${ms.toFixed(1)} ms`);
          return ms;
        };
        // JIFF needs about a minute per sum at n = 5, L = 1e4: there it runs `largeReps` times
        // without warm-up, while coupler (well under a second) keeps its warm-up and `reps`
        // repetitions, each after a JIFF run where there is one; the ratio is then the ratio
        // of medians (range: slowest vs fastest sample of each), not paired.
        const big = L >= 1e4;
        let samples: Record<'jiff' | 'coupler', number[]>;
        if (!big) {
          samples = await interleave(['jiff', 'coupler'] as const, { warmup: 1, reps }, measure);
        } else {
          samples = { jiff: [], coupler: [] };
          await measure('coupler', -1); // warm-up
          for (let rep = 0; rep < Math.max(reps, largeReps); rep++) {
            if (rep < largeReps) samples.jiff.push(await measure('jiff', rep));
            samples.coupler.push(await measure('coupler', rep));
          }
        }
        const j: Summary = summarize(samples.jiff);
        const c: Summary = summarize(samples.coupler);
        const ratio: Summary = big ? ratioOfMedians(j, c) : summarize(pairedRatios(samples.jiff, samples.coupler));
        rows.push([
          n,
          L,
          fmt(j.median),
          fmt(c.median),
          fmt((j.median / L) * 1000),
          fmt((c.median / L) * 1000),
          `${fmt(ratio.median)} (${fmt(ratio.min)}–${fmt(ratio.max)})`,
          `${ratio.median >= 1000 ? 'met' : 'NOT met'}`,
        ]);
        cells.push({ n, L, jiff: { ms: j, samples: samples.jiff }, coupler: { ms: c, samples: samples.coupler }, ratio });
      }
    } finally {
      await jiff?.stop();
      await coupler?.stop();
    }
  }
  const version = (require(join(opts.root, 'bench', 'jiff', 'node_modules', 'jiff-mpc', 'package.json')) as { version: string }).version;
  return {
    parameters: { n: ns, sizes, reps, largeReps, jiffVersion: version, transport: 'loopback 127.0.0.1', jiffOptions: { crypto_provider: true, Zp: 'default' } },
    tables: [
      {
        title: `coupler secureSum vs JIFF ${version} (loopback, medians over ${reps} reps after 1 warm-up; L ≥ 1e4: JIFF ${largeReps} rep without warm-up, coupler ${reps} reps after 1 warm-up, ratio of medians)`,
        columns: ['n', 'L', 'JIFF ms / sum', 'coupler ms / sum', 'JIFF µs / element', 'coupler µs / element', 'per-element ratio JIFF/coupler (min–max)', 'target ≥ 1000×'],
        rows,
        notes: ['time per sum: parent-measured, command to every party → last party result (the parties are already connected).'],
      },
      { title: 'Setup (connect until every party is known), ms', columns: ['n', 'JIFF', 'coupler (joinGroup)'], rows: setupRows },
    ],
    data: { cells, setup: setupRows, wrongResults },
    notes: wrongResults.length === 0 ? ['Every sum of both libraries matched the expected checksum.'] : [`coupler's sums all matched; JIFF returned wrong sums ${wrongResults.length} time(s):`, ...wrongResults],
  };
}

registerBenchmark({ name: 'jiff', description: 'coupler secureSum vs JIFF (jiff-mpc) secure sum on loopback: per-element time and setup', run });
