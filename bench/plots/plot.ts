/**
 * Plots from benchmark results, as hand-written SVG (no plotting dependency), plus a Markdown
 * table of every plotted number with the command that reproduces it.
 *
 *   node --import tsx bench/plots/plot.ts [--results=bench/results] [--out=docs/img]
 *
 * Reads `relay.json`, `relay.rtt20.json` (`relay --rtt=20`) and `jiff.json` (whichever exist;
 * `--quick` variants are used only when the full ones are missing) and writes `relay-time.svg`,
 * `relay-bytes.svg`, `relay-rtt20-time.svg`, `relay-grid-<protocol>.svg` (from `relay-grid.json`),
 * `jiff-per-element.svg` and `results.md` into the
 * output folder.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

interface Series {
  label: string;
  color: string;
  dash?: boolean;
  points: { x: number; y: number }[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const PALETTE = ['#1b6ac9', '#d1495b', '#2e933c', '#edae49', '#7b4b94', '#00798c'];

function niceLogTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

function fmtTick(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  if (v < 1) return String(v);
  return String(v);
}

/** A log-log line chart. */
function lineChart(title: string, xLabel: string, yLabel: string, series: Series[]): string {
  const W = 720;
  const H = 440;
  const m = { l: 80, r: 200, t: 40, b: 60 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x)).filter((v) => v > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((v) => v > 0);
  const xt = niceLogTicks(Math.min(...xs), Math.max(...xs));
  const yt = niceLogTicks(Math.min(...ys), Math.max(...ys));
  const lx0 = Math.log10(xt[0]!);
  const lx1 = Math.log10(xt[xt.length - 1]!);
  const ly0 = Math.log10(yt[0]!);
  const ly1 = Math.log10(yt[yt.length - 1]!);
  const px = (x: number): number => m.l + ((Math.log10(x) - lx0) / (lx1 - lx0 || 1)) * (W - m.l - m.r);
  const py = (y: number): number => H - m.b - ((Math.log10(y) - ly0) / (ly1 - ly0 || 1)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const t of xt) {
    parts.push(`<line x1="${px(t)}" y1="${m.t}" x2="${px(t)}" y2="${H - m.b}" stroke="#ddd"/>`);
    parts.push(`<text x="${px(t)}" y="${H - m.b + 18}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  for (const t of yt) {
    parts.push(`<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 8}" y="${py(t) + 4}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + (W - m.l - m.r) / 2}" y="${H - 18}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(20 ${m.t + (H - m.t - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => p.x > 0 && p.y > 0);
    const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const p of pts) parts.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    const ly = m.t + 10 + i * 20;
    parts.push(`<line x1="${W - m.r + 15}" y1="${ly}" x2="${W - m.r + 45}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${W - m.r + 52}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

interface RelayCell {
  n: number;
  L: number;
  direct: { wallMs: { median: number }; busiestBytes: { median: number } };
  relay: { wallMs: { median: number }; busiestBytes: { median: number } };
  ratio: { median: number; min: number; max: number };
}
interface JiffCell {
  n: number;
  L: number;
  jiff: { ms: { median: number } };
  coupler: { ms: { median: number } };
  ratio: { median: number; min: number; max: number };
}

function load(dir: string, name: string): { file: string; body: Record<string, unknown> } | undefined {
  for (const f of [`${name}.json`, `${name}.quick.json`]) {
    const p = join(dir, f);
    if (existsSync(p)) return { file: f, body: JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown> };
  }
  return undefined;
}

const f3 = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toPrecision(3));

/** The Markdown section and SVG plots of one relay results file (`relay.json` or a `--rtt` variant). */
function relaySection(dir: string, out: string, name: string, prefix: string, md: string[]): void {
  const relay = load(dir, name);
  if (!relay) return;
  const cells = (relay.body.data as { cells: RelayCell[] }).cells;
  const argv = (relay.body.argv as string[]).join(' ');
  const cmd = `npm run bench -- ${argv}`;
  const params = relay.body.parameters as { mbitPerHost?: number; rttMs?: number };
  const mbit = params.mbitPerHost ?? 100;
  const rtt = params.rttMs ?? 0;
  const rttFlag = rtt > 0 ? ` --rtt=${rtt}` : '';
  const link = `${mbit} Mbit/s per host${rtt > 0 ? `, ${rtt} ms RTT (relay path ${2 * rtt} ms)` : ''}`;
  const nsSeen = [...new Set(cells.map((c) => c.n))];
  const time: Series[] = [];
  const bytes: Series[] = [];
  nsSeen.forEach((n, i) => {
    const cs = cells.filter((c) => c.n === n);
    time.push({ label: `direct n=${n}`, color: PALETTE[i]!, points: cs.map((c) => ({ x: c.L, y: c.direct.wallMs.median })) });
    time.push({ label: `relay n=${n}`, color: PALETTE[i]!, dash: true, points: cs.map((c) => ({ x: c.L, y: c.relay.wallMs.median })) });
    bytes.push({ label: `direct n=${n}`, color: PALETTE[i]!, points: cs.map((c) => ({ x: c.L, y: c.direct.busiestBytes.median / 1e6 })) });
    bytes.push({ label: `relay n=${n}`, color: PALETTE[i]!, dash: true, points: cs.map((c) => ({ x: c.L, y: c.relay.busiestBytes.median / 1e6 })) });
  });
  writeFileSync(join(out, `${prefix}-time.svg`), lineChart(`secureSum wall time, ${link}`, 'vector length L (elements)', 'ms (median)', time));
  if (rtt === 0) writeFileSync(join(out, `${prefix}-bytes.svg`), lineChart('bytes through the busiest link (one direction)', 'vector length L (elements)', 'MB (median)', bytes));
  md.push(`## Direct mesh vs relay, ${link} (\`${relay.file}\`)`, '', `Reproduce: \`${cmd}\` (root, iproute2; then \`node --import tsx bench/plots/plot.ts\`)`, '');
  md.push('| n | L | direct ms | relay ms | relay/direct (paired, min–max) | target 0.8·n | direct busiest MB | relay busiest MB | command |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of cells) {
    const target = 0.8 * c.n;
    md.push(
      `| ${c.n} | ${c.L} | ${f3(c.direct.wallMs.median)} | ${f3(c.relay.wallMs.median)} | ${f3(c.ratio.median)} (${f3(c.ratio.min)}–${f3(c.ratio.max)}) | ${c.L >= 1e5 ? `${f3(target)} ${c.ratio.median >= target ? 'met' : 'NOT met'}` : '—'} | ${f3(c.direct.busiestBytes.median / 1e6)} | ${f3(c.relay.busiestBytes.median / 1e6)} | \`npm run bench -- relay --n=${c.n} --sizes=${c.L}${rttFlag}\` |`,
    );
  }
  md.push('', `![time](${prefix}-time.svg)`, '', ...(rtt === 0 ? [`![bytes](${prefix}-bytes.svg)`, ''] : []));
}

interface GridSample {
  wallMs: number;
}
interface GridRowData {
  n: number;
  protocol: string;
  L: number;
  samples: Record<'direct' | 'relay' | 'auto', GridSample[]>;
}

const med = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** `relay-grid.json`: wall time by transport (direct, relay, auto), one chart per protocol. */
function gridSection(dir: string, out: string, md: string[]): void {
  const grid = load(dir, 'relay-grid');
  if (!grid) return;
  const rows = (grid.body.data as { rows: GridRowData[] }).rows;
  const argv = (grid.body.argv as string[]).join(' ');
  md.push(`## Direct vs relay vs auto (\`${grid.file}\`)`, '', `Reproduce: \`npm run bench -- ${argv}\` (root, iproute2; then \`node --import tsx bench/plots/plot.ts\`)`, '');
  for (const protocol of [...new Set(rows.map((r) => r.protocol))]) {
    const series: Series[] = [];
    [...new Set(rows.map((r) => r.n))].forEach((n, i) => {
      (['direct', 'relay', 'auto'] as const).forEach((m, k) => {
        const rs = rows.filter((r) => r.protocol === protocol && r.n === n);
        series.push({ label: `${m} n=${n}`, color: PALETTE[i * 3 + k]!, dash: m !== 'direct', points: rs.map((r) => ({ x: r.L, y: med(r.samples[m].map((s) => s.wallMs)) })) });
      });
    });
    writeFileSync(join(out, `relay-grid-${protocol}.svg`), lineChart(`${protocol}: wall time by transport (100 Mbit/s per host)`, 'vector length L (elements)', 'ms (median)', series));
    md.push(`![${protocol}](relay-grid-${protocol}.svg)`, '');
  }
}

function main(): void {
  const arg = (k: string, d: string): string => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3) ?? d;
  const root = resolve(__dirname, '..', '..');
  const dir = resolve(root, arg('results', 'bench/results'));
  const out = resolve(root, arg('out', 'docs/img'));
  mkdirSync(out, { recursive: true });
  const md: string[] = ['# Benchmark results (generated by `node --import tsx bench/plots/plot.ts`)', ''];

  relaySection(dir, out, 'relay', 'relay', md);
  relaySection(dir, out, 'relay.rtt20', 'relay-rtt20', md);
  gridSection(dir, out, md);

  const jiff = load(dir, 'jiff');
  if (jiff && (jiff.body.data as { cells?: unknown }).cells) {
    const cells = (jiff.body.data as { cells: JiffCell[] }).cells;
    const argv = (jiff.body.argv as string[]).join(' ');
    const nsSeen = [...new Set(cells.map((c) => c.n))];
    const per: Series[] = [];
    nsSeen.forEach((n, i) => {
      const cs = cells.filter((c) => c.n === n);
      per.push({ label: `JIFF n=${n}`, color: PALETTE[i]!, dash: true, points: cs.map((c) => ({ x: c.L, y: (c.jiff.ms.median / c.L) * 1000 })) });
      per.push({ label: `coupler n=${n}`, color: PALETTE[i]!, points: cs.map((c) => ({ x: c.L, y: (c.coupler.ms.median / c.L) * 1000 })) });
    });
    writeFileSync(join(out, 'jiff-per-element.svg'), lineChart('secure sum: time per element (loopback)', 'vector length L (elements)', 'µs per element (median)', per));
    md.push(`## coupler vs JIFF (\`${jiff.file}\`)`, '', `Reproduce: \`npm run bench -- ${argv}\``, '');
    md.push('| n | L | JIFF ms | coupler ms | JIFF µs/elem | coupler µs/elem | ratio (paired; L ≥ 1e4: of medians; min–max) | command |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const c of cells) {
      md.push(
        `| ${c.n} | ${c.L} | ${f3(c.jiff.ms.median)} | ${f3(c.coupler.ms.median)} | ${f3((c.jiff.ms.median / c.L) * 1000)} | ${f3((c.coupler.ms.median / c.L) * 1000)} | ${f3(c.ratio.median)} (${f3(c.ratio.min)}–${f3(c.ratio.max)}) | \`npm run bench -- jiff --n=${c.n} --sizes=${c.L}\` |`,
      );
    }
    const setup = (jiff.body.data as { setup: (string | number)[][] }).setup;
    md.push('', '| n | JIFF setup ms | coupler setup ms (joinGroup) |', '| --- | --- | --- |', ...setup.map((r) => `| ${r.join(' | ')} |`));
    md.push('', '![per element](jiff-per-element.svg)', '');
  }
  writeFileSync(join(out, 'results.md'), `${md.join('\n')}\n`);
  process.stdout.write(`${md.join('\n')}\n`);
}

main();
