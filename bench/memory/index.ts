/**
 * `memory`: peak resident memory (RSS) of each party process while it computes a secure sum of a
 * long vector, against the input's size. Runs the built CLI exactly as a user does
 * (`coupler simulate demo --parties N --length L --protocol P`): every party is a separate
 * `coupler run` process; this benchmark samples `/proc/<pid>/status` (VmRSS) of each party every
 * 50 ms and keeps its peak. The input is a Float64Array of L elements (8·L bytes), made by the
 * demo inside each party.
 *
 * Target (issue 12, reported, never asserted): peak RSS per party ≤ 3 × input bytes + 100 MB at
 * L = 1e7 for secureSum.
 *
 * Flags: `--lengths=1e6,1e7`, `--n=5`, `--protocols=secureSum,dkSecureSum,plainSum`, `--reps=1`,
 * `--transport=direct|relay` (relay: the parties through `coupler simulate`'s embedded relay, so
 * long sums open through it).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { summarize } from '../lib/stats.js';

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
  wallMs: number;
  ok: boolean;
}

async function simulateOnce(cli: string, n: number, L: number, protocol: string, transport: string): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'simulate', 'demo', '--parties', String(n), '--length', String(L), '--protocol', protocol, '--discovery', 'static', '--transport', transport, '--quiet', '--timeout', '600'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', () => undefined);
  const peaks = new Map<number, number>();
  const timer = setInterval(() => {
    for (const pid of childrenOf(child.pid!)) {
      const r = rssKb(pid);
      if (r !== undefined && r > (peaks.get(pid) ?? 0)) peaks.set(pid, r);
    }
  }, 50);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearInterval(timer);
  const lines = stdout.trim().split('\n');
  return { peaksMb: [...peaks.values()].map((kb) => kb / 1024), wallMs: performance.now() - t0, ok: code === 0 && lines.length === n };
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const cli = join(opts.root, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error('memory: dist/cli.js is missing; run `npm run build` first');
  const lengths = (flag(opts.args, 'lengths') ?? (opts.quick ? '1e5' : '1e6,1e7')).split(',').map(Number);
  const n = Number(flag(opts.args, 'n') ?? (opts.quick ? 3 : 5));
  const protocols = (flag(opts.args, 'protocols') ?? (opts.quick ? 'secureSum' : 'secureSum,dkSecureSum,plainSum')).split(',');
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
      const peaks: number[] = [];
      const walls: number[] = [];
      let ok = true;
      for (let r = 0; r < reps; r++) {
        opts.log(`memory: ${protocol} n=${n} L=${L} rep ${r + 1}/${reps}`);
        const res = await simulateOnce(cli, n, L, protocol, transport);
        ok &&= res.ok;
        peaks.push(...res.peaksMb);
        walls.push(res.wallMs);
      }
      const s = summarize(peaks);
      const target = 3 * inputMb + 100;
      rows.push([L, protocol, inputMb.toFixed(1), s.median.toFixed(0), Math.max(...peaks).toFixed(0), (s.median / inputMb).toFixed(2), target.toFixed(0), ok ? (Math.max(...peaks) <= target ? 'met' : 'missed') : 'FAILED RUN', (summarize(walls).median / 1000).toFixed(1)]);
      data[`${protocol}|${L}`] = { peaksMb: peaks, wallMs: walls, ok };
      if (protocol === 'secureSum' && L >= 1e7) notes.push(`Target (secureSum, L = ${L}: peak ≤ 3 × ${inputMb.toFixed(0)} MB + 100 MB = ${target.toFixed(0)} MB): ${Math.max(...peaks) <= target ? 'met' : 'missed'} (max ${Math.max(...peaks).toFixed(0)} MB over ${peaks.length} party processes).`);
    }
  }
  const load1 = loadavg();
  notes.push(`Load average (1/5/15 min) at the start ${load0.map((x) => x.toFixed(2)).join(' ')}, at the end ${load1.map((x) => x.toFixed(2)).join(' ')}.`);
  return {
    parameters: { n, lengths, protocols, reps, transport, sampleEveryMs: 50, input: 'Float64Array of L elements (the demo)' },
    tables: [
      {
        title: `Peak RSS per party process, MB (n = ${n}; every party a separate \`coupler run\` process under \`coupler simulate demo\`)`,
        columns: ['L', 'protocol', 'input MB (8L)', 'median peak', 'max peak', 'median ÷ input', 'target 3·input + 100', 'max vs target', 'wall s (simulate)'],
        rows,
        notes: [
          'RSS includes the Node.js runtime (≈ 45–60 MB) and the demo\'s own input vector. secureSum and dkSecureSum/broadcast open long partial sums in 2 MiB pieces under flow control; the aggregated opening (dkSecureSum default, n ≥ 4) and plainSum (no privacy, every vector to every party) are not chunked.',
        ],
      },
    ],
    data,
    notes,
  };
}

registerBenchmark({ name: 'memory', description: 'peak RSS per party process vs input size (coupler simulate demo, L = 1e6 and 1e7)', run });
