/**
 * `latency`: the fixed cost of a protocol run at small L — message rounds and echo broadcasts —
 * with n parties in ONE process over real channels on 127.0.0.1 (every party's CPU work is on one
 * thread, so the numbers are the sum of all parties' work plus the rounds' latency; separate
 * processes overlap some of it, see `npm run bench -- jiff` for those).
 *
 * Variants, interleaved per repetition (ABC CBA …), each one operation at every party at once:
 * - `round`: `sendToAll` + `gather` of a small value (one message round — the floor);
 * - `echo`: `echoBroadcast` of a 32-byte value (two rounds; signs twice, verifies nothing unless
 *   digests differ);
 * - `echo + verify all`: the same, followed by verifying every signature the echo carried
 *   (n − 1 statements and n − 1 digests per party), which is what the echo did before signatures
 *   were checked only as evidence;
 * - `secureSum L=1`: a whole `secureSum` of one number (shape echo, share round, commitment echo,
 *   opening);
 * - `plainSum L=1`: a whole `plainSum` of one number (shape echo, value round).
 *
 * `--baseline=<dir>`: also run every variant with the code of another source tree (a checkout of
 * the commit before a change, e.g. `git worktree add /tmp/base <commit>`, with `node_modules`
 * linked), on its own groups in this same process, interleaved with this tree's: the paired
 * ratios this tree ÷ baseline, of the wall time and of the CPU time, show a change of a few
 * percent that separate runs on a loaded machine cannot.
 *
 * Flags: `--ns=3,5,9` (at most 9: the test harness's party ids), `--reps=40`,
 * `--variants=round,secureSum L=1` (a subset, e.g. to profile one with `node --cpu-prof`),
 * `--baseline=<dir>`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestGroups } from '../../test/support/group-harness';
import { echoBroadcast, ECHO_STATEMENT } from '../../src/group/echo';
import { ed25519Verify } from '../../src/crypto/ed25519';
import { encodeMessage } from '../../src/wire/codec';
import { secureSum } from '../../src/protocols/additive';
import { plainSum } from '../../src/protocols/baselines';
import type { Group } from '../../src/group/group';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { cell, fmt, interleave, pairedRatios, summarize } from '../lib/stats.js';

function flag(args: readonly string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

const VARIANTS = ['round', 'echo', 'echo + verify all', 'secureSum L=1', 'plainSum L=1'] as const;
type Variant = (typeof VARIANTS)[number];

/** The code a variant runs: this tree's, or a baseline tree's (`--baseline`). */
interface Impl {
  createTestGroups: typeof createTestGroups;
  echoBroadcast: typeof echoBroadcast;
  secureSum: typeof secureSum;
  plainSum: typeof plainSum;
}

const THIS_TREE: Impl = { createTestGroups, echoBroadcast, secureSum, plainSum };

/** The same functions from another source tree (its own module instances). */
async function loadTree(dir: string): Promise<Impl> {
  const at = (file: string): string => pathToFileURL(join(dir, file)).href;
  for (const f of ['test/support/group-harness.ts', 'src/group/echo.ts', 'src/protocols/additive.ts', 'src/protocols/baselines.ts']) {
    if (!existsSync(join(dir, f))) throw new Error(`latency: --baseline tree ${dir} has no ${f}`);
  }
  const harness = (await import(at('test/support/group-harness.ts'))) as { createTestGroups: Impl['createTestGroups'] };
  const echo = (await import(at('src/group/echo.ts'))) as { echoBroadcast: Impl['echoBroadcast'] };
  const additive = (await import(at('src/protocols/additive.ts'))) as { secureSum: Impl['secureSum'] };
  const baselines = (await import(at('src/protocols/baselines.ts'))) as { plainSum: Impl['plainSum'] };
  return { createTestGroups: harness.createTestGroups, echoBroadcast: echo.echoBroadcast, secureSum: additive.secureSum, plainSum: baselines.plainSum };
}

/** Label of a variant run with the baseline tree's code. */
const BASE = ' @baseline';

/** Verify what the previous echo verified at `g`: every peer's round-1 statement and round-2 signature (same count and sizes). */
function verifyAll(g: Group, round: string, value: Uint8Array): void {
  const h = new Uint8Array(createHash('sha256').update(encodeMessage(value)).digest());
  for (const peer of g.peers) {
    const pk = g.roster.get(peer)!.publicKey;
    const stmt = encodeMessage({ t: ECHO_STATEMENT.broadcast, s: g.sessionId, r: `${round}/v`, from: peer, h });
    // The signatures are not at hand outside echo.ts; verifying against a fixed 64-byte value costs
    // the same as a real verification (Ed25519 verification time does not depend on the outcome).
    ed25519Verify(stmt, new Uint8Array(64).fill(1), pk);
    ed25519Verify(encodeMessage({ t: ECHO_STATEMENT.digest, s: g.sessionId, r: `${round}/d`, from: peer, d: h }), new Uint8Array(64).fill(2), pk);
  }
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const ns = (flag(opts.args, 'ns') ?? (opts.quick ? '3' : '3,5,9')).split(',').map(Number);
  const reps = Number(flag(opts.args, 'reps') ?? (opts.quick ? 10 : 40));
  const picked = flag(opts.args, 'variants')?.split(',');
  const unknown = picked?.filter((v) => !(VARIANTS as readonly string[]).includes(v)) ?? [];
  if (unknown.length > 0) throw new Error(`latency: unknown variants ${unknown.join(', ')} (known: ${VARIANTS.join(', ')})`);
  const variants = picked === undefined ? VARIANTS : VARIANTS.filter((v) => picked.includes(v));
  const baselineDir = flag(opts.args, 'baseline');
  const trees: { label: string; impl: Impl }[] = [{ label: '', impl: THIS_TREE }];
  if (baselineDir !== undefined) trees.push({ label: BASE, impl: await loadTree(resolve(baselineDir)) });
  const labels = trees.flatMap((t) => variants.map((v) => `${v}${t.label}`));
  const value = new Uint8Array(32).fill(7);
  const rows: (string | number)[][] = [];
  const cpuRows: (string | number)[][] = [];
  const ratioRows: (string | number)[][] = [];
  const data: unknown[] = [];
  for (const n of ns) {
    const groups: Group[][] = [];
    try {
      for (const t of trees) groups.push((await t.impl.createTestGroups(n, { roundTimeoutMs: 30_000 })).groups as Group[]);
      let k = 0;
      // CPU time of this process (user + system, all n parties) per operation, by variant and
      // repetition: on a loaded machine the wall time also counts waiting for a core, this does not.
      const cpu = new Map<string, number[]>(labels.map((l) => [l, []]));
      const once = async (label: string): Promise<number> => {
        const tree = label.endsWith(BASE) ? 1 : 0;
        const { impl } = trees[tree]!;
        const v = (tree === 1 ? label.slice(0, -BASE.length) : label) as Variant;
        const round = `lat.${++k}`;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(
          groups[tree]!.map(async (g) => {
            if (v === 'round') {
              await g.sendToAll(round, value);
              await g.gather(round);
            } else if (v === 'echo') {
              await impl.echoBroadcast(g, round, value);
            } else if (v === 'echo + verify all') {
              await impl.echoBroadcast(g, round, value);
              verifyAll(g, round, value);
            } else if (v === 'secureSum L=1') {
              await impl.secureSum(g, 1.5);
            } else {
              await impl.plainSum(g, 1.5, { acknowledgeInsecure: true });
            }
          }),
        );
        const ms = performance.now() - t0;
        const c = process.cpuUsage(c0);
        cpu.get(label)!.push((c.user + c.system) / 1000);
        // The round and echo variants are exchanges of the bench's own (the protocols end their
        // runs themselves); a baseline tree older than Group.endRun keeps their record.
        if (v === 'round' || v.startsWith('echo')) for (const g of groups[tree]!) (g as { endRun?: (run: string) => void }).endRun?.(round);
        return ms;
      };
      const samples = await interleave(labels, { warmup: 3, reps }, (l) => once(l));
      // The warm-up repetitions' CPU samples come first (one per variant and repetition).
      const cpuSamples = Object.fromEntries(labels.map((l) => [l, cpu.get(l)!.slice(3)]));
      cpuRows.push([n, ...labels.map((l) => cell(summarize(cpuSamples[l]!)))]);
      const summaries = Object.fromEntries(labels.map((l) => [l, summarize(samples[l]!)]));
      const paired = samples['echo + verify all'] !== undefined && samples.echo !== undefined;
      const saving = paired ? summarize(pairedRatios(samples['echo + verify all']!, samples.echo!)) : undefined;
      rows.push([n, ...labels.map((l) => cell(summaries[l]!)), saving === undefined ? '–' : `${fmt(saving.median)} (${fmt(saving.q1)}–${fmt(saving.q3)})`]);
      const ratios: Record<string, { wall: ReturnType<typeof summarize>; cpu: ReturnType<typeof summarize> }> = {};
      if (trees.length === 2) {
        ratioRows.push([
          n,
          ...variants.flatMap((v) => {
            const wall = summarize(pairedRatios(samples[v]!, samples[`${v}${BASE}`]!));
            const c = summarize(pairedRatios(cpuSamples[v]!, cpuSamples[`${v}${BASE}`]!));
            ratios[v] = { wall, cpu: c };
            return [`${fmt(wall.median)} (${fmt(wall.q1)}–${fmt(wall.q3)})`, `${fmt(c.median)} (${fmt(c.q1)}–${fmt(c.q3)})`];
          }),
        ]);
      }
      data.push({ n, samples, summaries, echoVerifyAllOverEcho: saving, cpuMs: cpuSamples, ...(trees.length === 2 ? { overBaseline: ratios } : {}) });
      opts.log(`latency: n=${n} done`);
    } finally {
      for (const gs of groups) await Promise.all(gs.map((g) => g.close()));
    }
  }
  return {
    parameters: { ns, reps, warmup: 3, transport: 'loopback 127.0.0.1, all parties in one process', ...(baselineDir === undefined ? {} : { baseline: resolve(baselineDir) }) },
    tables: [
      {
        title: `Fixed cost per operation, all n parties in one process, ms (median (IQR) of ${reps})`,
        columns: ['n', ...labels, '(echo + verify all) / echo, paired'],
        rows,
        notes: ['one operation = the same call at every party at once; time until the last party returns.'],
      },
      {
        title: `CPU time per operation, all n parties together (this process, user + system), ms (median (IQR) of ${reps})`,
        columns: ['n', ...labels],
        rows: cpuRows,
        notes: ['÷ n for the CPU one party spends; less sensitive to other load on the machine than the wall time.'],
      },
      ...(trees.length === 2
        ? [
            {
              title: `This tree ÷ baseline (${resolve(baselineDir!)}), paired per repetition: median (IQR)`,
              columns: ['n', ...variants.flatMap((v) => [`${v} wall`, `${v} CPU`])],
              rows: ratioRows,
              notes: ['Both trees run in this process on groups of their own, interleaved per repetition (ABC…, …CBA); below 1: this tree is faster.'],
            },
          ]
        : []),
    ],
    data,
  };
}

registerBenchmark({ name: 'latency', description: 'fixed cost of a message round, an echo broadcast and secureSum of one number (in-process parties)', run });
