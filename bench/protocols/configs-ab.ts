/**
 * Run the protocols benchmark under several configurations (node binary, environment, extra
 * bench flags) alternately — round r runs them in order, round r + 1 in reverse (ABBA) — and
 * summarise per configuration and n: the CPU per party of secureSum/seed, plainSum and mpyc
 * (median over repetitions, as the bench reports it), the wall-time ratio secureSum / mpyc paired
 * per repetition, and each configuration's secureSum CPU over the first configuration's in the
 * same round (median over rounds). Load averages are printed per run.
 *
 * ```sh
 * node --import tsx bench/protocols/configs-ab.ts --rounds=4 --configs=/tmp/configs.json -- \
 *   --parts=mesh --ns=5,10 --lengths=1 --reps=30 --variants=secureSum/seed,plainSum,mpyc
 * ```
 * with `/tmp/configs.json` an array of `{ "name": "…", "node"?: "/path/to/node",
 * "env"?: { "BENCH_NODE_ARGS": "--always-sparkplug" }, "args"?: ["--from=src"] }`.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

interface Config {
  name: string;
  node?: string;
  env?: Record<string, string>;
  args?: string[];
}

interface Sample {
  wallMs: number[];
  perParty: { cpuMs: number; mainMs?: number }[][];
}

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash < 0 ? argv : argv.slice(0, dash);
const benchArgs = dash < 0 ? [] : argv.slice(dash + 1);
const flag = (name: string): string | undefined => own.find((a) => a.startsWith(`--${name}=`))?.split('=').slice(1).join('=');
const rounds = Number(flag('rounds') ?? '4');
const configs = JSON.parse(readFileSync(flag('configs') ?? '', 'utf8')) as Config[];
const keep = flag('keep');
const root = join(__dirname, '..', '..');
const resultFile = join(root, 'bench', 'results', 'protocols.json');
if (keep) mkdirSync(keep, { recursive: true });

const median = (xs: number[]): number => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const cpuPerParty = (s: Sample): number => median(s.perParty.map((rep) => rep.reduce((a, x) => a + x.cpuMs, 0) / rep.length));
/** The main thread's share of the process CPU (Node ≥ 23.9 parties), median over repetitions. */
const mainShare = (s: Sample): number => median(s.perParty.map((rep) => rep.reduce((a, x) => a + (x.mainMs ?? Number.NaN), 0) / rep.reduce((a, x) => a + x.cpuMs, 0)));
const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

/** per config name → n → list over rounds of { ss, plain, mpyc, ratio } */
type Row = { ss: number; main: number; plain: number; mpyc: number; ratio: number; load: string };
const got = new Map<string, Map<number, Row[]>>();

for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? configs : [...configs].reverse();
  for (const c of order) {
    const load0 = loadavg()[0]!.toFixed(2);
    const t0 = Date.now();
    const res = spawnSync(c.node ?? process.execPath, ['--import', 'tsx', join(root, 'bench', 'run.ts'), 'protocols', ...benchArgs, ...(c.args ?? [])], {
      cwd: root,
      env: { ...process.env, ...(c.env ?? {}) },
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (res.status !== 0) {
      process.stderr.write(`${c.name}: bench exited ${res.status}\n${res.stderr}\n`);
      process.exit(1);
    }
    const load1 = loadavg()[0]!.toFixed(2);
    if (keep) copyFileSync(resultFile, join(keep, `r${r}-${c.name.replace(/[^\w.-]+/g, '_')}.json`));
    const j = JSON.parse(readFileSync(resultFile, 'utf8')) as { data: { mesh: { results: { n: number; L: number; samples: Record<string, Sample> }[] } } };
    const parts: string[] = [];
    for (const m of j.data.mesh.results) {
      const ss = m.samples['secureSum/seed'];
      const pl = m.samples['plainSum'];
      const mp = m.samples['mpyc'];
      const row: Row = {
        ss: ss ? cpuPerParty(ss) : Number.NaN,
        main: ss ? mainShare(ss) : Number.NaN,
        plain: pl ? cpuPerParty(pl) : Number.NaN,
        mpyc: mp ? cpuPerParty(mp) : Number.NaN,
        ratio: ss && mp ? median(ss.wallMs.map((w, i) => w / mp.wallMs[i]!)) : Number.NaN,
        load: `${load0}→${load1}`,
      };
      const byN = got.get(c.name) ?? new Map<number, Row[]>();
      got.set(c.name, byN);
      const list = byN.get(m.n) ?? [];
      byN.set(m.n, list);
      list[r] = row;
      parts.push(`n=${m.n} ss ${fmt(row.ss)}${Number.isFinite(row.main) ? ` (main thread ${fmt(100 * row.main, 0)} %)` : ''} plain ${fmt(row.plain)} mpyc ${fmt(row.mpyc)} ss/mpyc ${fmt(row.ratio)}`);
    }
    process.stdout.write(`round ${r} ${c.name} (${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load0}→${load1}): ${parts.join('; ')}\n`);
  }
}

const base = configs[0]!.name;
process.stdout.write(`\n| config | n | secureSum CPU/party ms (per round) | median | plainSum CPU | mpyc CPU | secureSum/mpyc wall, paired (per round) | median | secureSum CPU ÷ ${base}, same round (per round) | median |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n`);
for (const c of configs) {
  for (const [n, rows] of got.get(c.name) ?? []) {
    const baseRows = got.get(base)!.get(n)!;
    const rel = rows.map((x, i) => x.ss / baseRows[i]!.ss);
    process.stdout.write(
      `| ${c.name} | ${n} | ${rows.map((x) => fmt(x.ss)).join(', ')} | **${fmt(median(rows.map((x) => x.ss)))}** | ${fmt(median(rows.map((x) => x.plain)))} | ${fmt(median(rows.map((x) => x.mpyc)))} | ${rows.map((x) => fmt(x.ratio)).join(', ')} | **${fmt(median(rows.map((x) => x.ratio)))}** | ${c.name === base ? '—' : rel.map((x) => fmt(x)).join(', ')} | ${c.name === base ? '—' : `**${fmt(median(rel))}**`} |\n`,
    );
  }
}
