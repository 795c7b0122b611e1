/**
 * `memory`: peak resident memory (RSS) of each party process while it computes a secure sum of a
 * long vector, against the input's size. The protocols the demo offers run through the built CLI
 * exactly as a user does (`coupler simulate demo --parties N --length L --protocol P`): every
 * party is a separate `coupler run` process; this benchmark samples `/proc/<pid>/status` (VmRSS)
 * of each party every 50 ms and keeps its peak. The input is a Float64Array of L elements (8·L
 * bytes), made by the demo inside each party.
 *
 * Variants the demo does not offer (`secureSum/vector`; `secureSum/seed` to compare the two
 * paths) run in plain Node processes that load the built package as `coupler run` does
 * (`party.cjs`, n processes, one group), with the same kind of input (a Float64Array of L); each
 * reports its RSS just before the sum and its peak as the kernel kept it (VmHWM).
 *
 * Target (issue 18, reported, never asserted): peak RSS per party ≤ 3 × input bytes + 100 MB at
 * L = 1e7 for every protocol.
 *
 * Flags: `--lengths=1e6,1e7`, `--n=5`,
 * `--protocols=secureSum,dkSecureSum,plainSum,thresholdSum,secureSum/vector`, `--reps=1`,
 * `--transport=direct|relay` (relay: the demo's parties through `coupler simulate`'s embedded relay, so
 * long sums open through it; party processes always connect directly).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { summarize } from '../lib/stats.js';
import { setUpParties } from '../protocols/parties.js';
import { VARIANTS, isProbe, type Variant } from '../protocols/shared.js';

/** The protocols `coupler simulate demo` runs (its `--protocol`); others go through party processes. */
const CLI_PROTOCOLS = ['secureSum', 'dkSecureSum', 'thresholdSum', 'ringSecureSum', 'plainSum'];
/** RSS sampling period, ms. */
const SAMPLE_MS = 50;
/** A party process exits on its own after this, ms. */
const PARTY_DEADLINE_MS = 30 * 60_000;

function flag(args: readonly string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** Direct children of `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

interface Run {
  peaksMb: number[];
  /** RSS of each party just before the sum (party processes only; the CLI's parties start with the run). */
  beforeMb?: number[];
  wallMs: number;
  ok: boolean;
}

/** Sample the RSS of `pids()` every {@link SAMPLE_MS} until `done` settles; the peak per pid, MiB. */
async function peaksWhile(pids: () => number[], done: Promise<unknown>): Promise<Map<number, number>> {
  const peaks = new Map<number, number>();
  const sample = (): void => {
    for (const pid of pids()) {
      const r = rssKb(pid);
      if (r !== undefined && r > (peaks.get(pid) ?? 0)) peaks.set(pid, r);
    }
  };
  const timer = setInterval(sample, SAMPLE_MS);
  try {
    await done;
  } finally {
    clearInterval(timer);
    sample();
  }
  return new Map([...peaks].map(([pid, kb]) => [pid, kb / 1024]));
}

/** What a party process (party.cjs) reports. */
type PartyEvent = { event: 'ready'; rssMb: number } | { event: 'done'; digest: string; ms: number; hwmMb: number } | { event: 'failed'; error: string; hwmMb?: number };

/**
 * One run of `variant` in n plain Node processes that load the built package (`party.cjs`, a group
 * formed for it): RSS before the sum, and the kernel's peak (VmHWM) of each.
 */
async function partiesOnce(opts: BenchOptions, n: number, L: number, variant: Variant): Promise<Run> {
  const t0 = performance.now();
  const setup = await setUpParties(n, 'bench-memory');
  const dist = join(opts.root, 'dist', 'index.js');
  const file = join(opts.root, 'bench', 'memory', 'party.cjs');
  const children = setup.configs.map((c) =>
    spawn(process.execPath, [file], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_MEMORY_PARTY: JSON.stringify({ ...c, dist, L, variant, deadlineMs: PARTY_DEADLINE_MS }) },
    }),
  );
  const next = (child: ChildProcess, event: string): Promise<PartyEvent> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: PartyEvent): void => {
        if (m.event !== event && m.event !== 'failed') return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m);
      };
      const onExit = (code: number | null): void => reject(new Error(`memory: party process exited (${code}) before "${event}"`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  try {
    const ready = await Promise.all(children.map((c) => next(c, 'ready')));
    const done = children.map((c) => next(c, 'done'));
    for (const c of children) c.send({ op: 'run' });
    const results = await Promise.all(done);
    const digests = new Set(results.map((r) => (r.event === 'done' ? r.digest : `failed: ${r.event === 'failed' ? r.error : ''}`)));
    const ok = results.every((r) => r.event === 'done') && digests.size === 1;
    if (!ok) opts.log(`memory: ${variant} L=${L}: ${[...digests].join('; ')}`);
    return {
      peaksMb: results.map((r) => (r.event === 'ready' ? Number.NaN : (r.hwmMb ?? Number.NaN))),
      beforeMb: ready.map((r) => (r.event === 'ready' ? r.rssMb : Number.NaN)),
      wallMs: performance.now() - t0,
      ok,
    };
  } finally {
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise<void>((r) => {
      const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
      c.once('exit', () => {
        clearTimeout(timer);
        r();
      });
    }))));
  }
}

async function simulateOnce(cli: string, n: number, L: number, protocol: string, transport: string): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'simulate', 'demo', '--parties', String(n), '--length', String(L), '--protocol', protocol, '--discovery', 'static', '--transport', transport, '--quiet', '--timeout', '600'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', () => undefined);
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const peaks = await peaksWhile(() => childrenOf(child.pid!), exited);
  const code = await exited;
  const lines = stdout.trim().split('\n');
  return { peaksMb: [...peaks.values()], wallMs: performance.now() - t0, ok: code === 0 && lines.length === n };
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const cli = join(opts.root, 'dist', 'cli.js');
  const lengths = (flag(opts.args, 'lengths') ?? (opts.quick ? '1e5' : '1e6,1e7')).split(',').map(Number);
  const n = Number(flag(opts.args, 'n') ?? (opts.quick ? 3 : 5));
  const protocols = (flag(opts.args, 'protocols') ?? (opts.quick ? 'secureSum' : 'secureSum,dkSecureSum,plainSum,thresholdSum,secureSum/vector')).split(',');
  for (const p of protocols) {
    if (!CLI_PROTOCOLS.includes(p) && !(VARIANTS.includes(p as Variant) && !isProbe(p as Variant))) {
      throw new Error(`memory: unknown protocol "${p}" (the demo's: ${CLI_PROTOCOLS.join(', ')}; in party processes: ${VARIANTS.filter((v) => !isProbe(v)).join(', ')})`);
    }
  }
  if (protocols.some((p) => CLI_PROTOCOLS.includes(p)) && !existsSync(cli)) throw new Error('memory: dist/cli.js is missing; run `npm run build` first');
  const reps = Number(flag(opts.args, 'reps') ?? 1);
  // `relay`: every party through an embedded relay, so the sums open through it (opening 'relay').
  const transport = flag(opts.args, 'transport') ?? 'direct';
  const load0 = loadavg();
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown> = {};
  const notes: string[] = [];
  for (const L of lengths) {
    const inputMb = (8 * L) / 2 ** 20;
    for (const protocol of protocols) {
      const viaCli = CLI_PROTOCOLS.includes(protocol);
      const peaks: number[] = [];
      const before: number[] = [];
      const walls: number[] = [];
      let ok = true;
      for (let r = 0; r < reps; r++) {
        opts.log(`memory: ${protocol} n=${n} L=${L} rep ${r + 1}/${reps}${viaCli ? '' : ' (party processes)'}`);
        const res = viaCli ? await simulateOnce(cli, n, L, protocol, transport) : await partiesOnce(opts, n, L, protocol as Variant);
        ok &&= res.ok;
        peaks.push(...res.peaksMb);
        before.push(...(res.beforeMb ?? []));
        walls.push(res.wallMs);
      }
      const s = summarize(peaks);
      const max = Math.max(...peaks);
      const target = 3 * inputMb + 100;
      rows.push([
        L,
        protocol,
        viaCli ? 'coupler simulate' : 'party processes',
        inputMb.toFixed(1),
        before.length === 0 ? '–' : summarize(before).median.toFixed(0),
        s.median.toFixed(0),
        max.toFixed(0),
        (s.median / inputMb).toFixed(2),
        target.toFixed(0),
        ok ? (max <= target ? 'met' : 'missed') : 'FAILED RUN',
        (summarize(walls).median / 1000).toFixed(1),
      ]);
      data[`${protocol}|${L}`] = { peaksMb: peaks, beforeMb: before, wallMs: walls, ok, via: viaCli ? 'cli' : 'parties' };
      if (L >= 1e7) notes.push(`Target (${protocol}, L = ${L}: peak ≤ 3 × ${inputMb.toFixed(0)} MB + 100 MB = ${target.toFixed(0)} MB): ${ok ? (max <= target ? 'met' : 'missed') : 'run failed'} (max ${max.toFixed(0)} MB over ${peaks.length} party processes).`);
    }
  }
  const load1 = loadavg();
  notes.push(`Load average (1/5/15 min) at the start ${load0.map((x) => x.toFixed(2)).join(' ')}, at the end ${load1.map((x) => x.toFixed(2)).join(' ')}.`);
  return {
    parameters: { n, lengths, protocols, reps, transport, sampleEveryMs: 50, input: 'Float64Array of L elements (the demo)' },
    tables: [
      {
        title: `Peak RSS per party process, MiB (n = ${n}; every party a separate process: \`coupler simulate demo\`, or party.cjs on the built package)`,
        columns: ['L', 'protocol', 'run by', 'input MB (8L)', 'RSS before the sum', 'median peak', 'max peak', 'median ÷ input', 'target 3·input + 100', 'max vs target', 'wall s (whole run)'],
        rows,
        notes: [
          "MB here are MiB. RSS includes the Node.js runtime (≈ 45–60 MB; party processes also load tsx) and the party's own input vector. Long vectors travel in 1 MiB pieces under flow control: secureSum's and dkSecureSum/broadcast's openings, plainSum's values, secureSum's vector shares and thresholdSum's partial sums; thresholdSum adds every dealer's share to a running sum as it arrives and keeps it, until the dealer set is agreed (dropout tolerance), in an encrypted temporary file (not in RSS). The aggregated opening (dkSecureSum's default for n ≥ 4) and the relayed one (`--transport=relay`) write the received sum over the party's masked partial sum and rebuild that from the input and the seeds for its fingerprint (seed shares), so they hold the input and one more L-vector (plus 1 byte of carries per element).",
          'wall s: the whole run (process start, mesh formation, the sum); party processes: start, formation, input and the sum.',
        ],
      },
    ],
    data,
    notes,
  };
}

registerBenchmark({ name: 'memory', description: 'peak RSS per party process vs input size (coupler simulate demo, L = 1e6 and 1e7)', run });
