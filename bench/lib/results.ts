/**
 * Results: machine description, `bench/results/<name>.json`, and Markdown tables on stdout.
 * @module
 */
import { cpus, freemem, platform, release, totalmem, arch, loadavg } from 'node:os';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchReport, ReportTable } from './registry.js';

/** Where and on what a run happened. */
export interface MachineInfo {
  date: string;
  node: string;
  v8: string;
  platform: string;
  release: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  totalMemBytes: number;
  freeMemBytes: number;
  loadavg: number[];
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: platform(),
    release: release(),
    arch: arch(),
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    totalMemBytes: totalmem(),
    freeMemBytes: freemem(),
    loadavg: loadavg(),
  };
}

/** Render one table as GitHub Markdown. */
export function markdownTable(t: ReportTable): string {
  const esc = (v: string | number): string => String(v).replace(/\|/g, '\\|');
  const lines = [`### ${t.title}`, '', `| ${t.columns.map(esc).join(' | ')} |`, `|${t.columns.map(() => ' --- ').join('|')}|`];
  for (const row of t.rows) lines.push(`| ${row.map(esc).join(' | ')} |`);
  if (t.notes?.length) lines.push('', ...t.notes);
  return lines.join('\n');
}

/** The whole report of one benchmark as Markdown. */
export function markdownReport(name: string, report: BenchReport, machine: MachineInfo, quick: boolean): string {
  const head = `## ${name}${quick ? ' (quick)' : ''}\n\n${machine.date} · node ${machine.node} · ${machine.cpus} × ${machine.cpuModel} · ${machine.platform} ${machine.release} · load avg at start ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`;
  const parts = [head, ...report.tables.map(markdownTable)];
  if (report.notes?.length) parts.push(report.notes.map((n) => `- ${n}`).join('\n'));
  return `${parts.join('\n\n')}\n`;
}

/** Write `<dir>/<name>.json` (via a temporary file, so a crash never leaves half a file). Returns the path. */
export async function writeResults(dir: string, name: string, report: BenchReport, machine: MachineInfo, extra: Record<string, unknown>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const tmp = `${path}.${process.pid}.tmp`;
  const body = { benchmark: name, ...extra, machine, parameters: report.parameters, tables: report.tables, notes: report.notes ?? [], data: report.data };
  await writeFile(tmp, `${JSON.stringify(body, null, 2)}\n`);
  await rename(tmp, path);
  return path;
}
