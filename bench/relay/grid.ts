/**
 * `relay-grid`: direct vs relay vs auto, side by side in one run (issue 10's grid): secureSum and
 * dkSecureSum, n = 5 and 10, L = 1e3 and 1e6, 100 Mbit/s per host (the relay host included), on
 * the netns testbed with the real `coupler relay`.
 *
 * Three meshes live on the same hosts at the same time, each with its own roster and session:
 * - `direct`: every party listens (port 8888) and dials; static discovery.
 * - `relay`: no party listens at all (egress only by construction), every pair through the relay.
 * - `auto`: every party listens on 8890 and dials, but on every other host inbound SYNs to 8890
 *   are dropped (a tc filter on the destination port), so the pairs whose accepting side is such
 *   a host fall back to the relay after `autoFallbackMs`; the others stay direct. The path counts
 *   per mesh come from `group.stats()`.
 * Per (protocol, L) one warm-up per mesh, then `reps` repetitions, each running the three meshes
 * one after the other in a rotating order (D R A, R A D, A D R, …): ratios are paired per
 * repetition. Every result is checked against the expected checksum. Every mesh uses the sums'
 * default opening, so the relayed mesh (every channel through the relay) opens through the relay's
 * aggregation from L = 16 384 on (`opening: 'relay'`). With `--relay-broadcast`, the relayed
 * mesh also runs each sum with `opening: 'broadcast'` (the opening it used before) in the same
 * rotation, as a fourth column: before and after side by side.
 *
 * Plot: `node --import tsx bench/plots/plot.ts` (relay-grid-*.svg).
 *
 * Flags: `--ns=5,10`, `--sizes=1e3,1e6`, `--reps=3`, `--mbit=100`, `--protocols=secureSum,dkSecureSum`,
 * `--relay-broadcast`.
 *
 * @module
 */
import type { BenchOptions, BenchReport, ReportTable } from '../lib/registry.js';
import { fmt, summarize } from '../lib/stats.js';
import { createTestbed, netnsAvailable, type NsProcess } from '../../test/netns/testbed';
import { makeParties, type PartySet } from '../../test/netns/parties';
import { dropInboundPort, startRelayHost, startRelayParties, statsOf } from '../../test/netns/relay-parties';
import { measure, type Sample } from './e2e';

const AUTO_PORT = 8890;
const MESHES = ['direct', 'relay', 'auto'] as const;
type Mesh = (typeof MESHES)[number] | 'relay-broadcast';

function flag(args: readonly string[], name: string): string | undefined {
  return args.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
}

interface GridRow {
  n: number;
  protocol: string;
  L: number;
  samples: Record<Mesh, Sample[]>;
  paths: Record<(typeof MESHES)[number], { direct: number; relay: number }>;
}

async function runGrid(n: number, sizes: number[], protocols: string[], reps: number, mbit: number, withBroadcast: boolean, log: (l: string) => void): Promise<GridRow[]> {
  const tb = await createTestbed({ n, bandwidthMbit: mbit, aux: { relay: 3 }, childDeadlineMs: 3_600_000 });
  const rows: GridRow[] = [];
  const procs: NsProcess[] = [];
  try {
    // Half of the hosts refuse inbound connections to the auto mesh's port.
    tb.hosts.forEach((h, i) => {
      if (i % 2 === 1) dropInboundPort(h, AUTO_PORT);
    });
    const sets: Record<(typeof MESHES)[number], PartySet> = { direct: makeParties(n), relay: makeParties(n), auto: makeParties(n) };
    const relay = startRelayHost(tb, sets.relay, sets.auto);
    procs.push(relay);
    await relay.waitEvent('listening', 30_000);
    const common = { joinTimeoutMs: 120_000, roundTimeoutMs: 900_000 };
    const ps: Record<(typeof MESHES)[number], NsProcess[]> = {
      direct: startRelayParties(tb, sets.direct, () => ({ ...common, transport: 'direct', listen: true })),
      relay: startRelayParties(tb, sets.relay, () => ({ ...common, transport: 'relay', listen: false })),
      auto: startRelayParties(tb, sets.auto, () => ({
        ...common,
        transport: 'auto',
        listen: true,
        port: AUTO_PORT,
        autoFallbackMs: 2000,
        discovery: { kind: 'static', list: tb.hosts.slice(0, n).map((h) => `${h.ip}:${AUTO_PORT}`) },
      })),
    };
    for (const m of MESHES) procs.push(...ps[m]);
    for (const m of MESHES) await Promise.all(ps[m].map((p) => p.waitEvent('ready', 150_000)));
    const paths = {} as Record<(typeof MESHES)[number], { direct: number; relay: number }>;
    for (const m of MESHES) {
      const c = { direct: 0, relay: 0 };
      for (const s of (await Promise.all(ps[m].map((p) => statsOf(p)))).flat()) c[s.path === 'relay' ? 'relay' : 'direct']++;
      paths[m] = { direct: c.direct / 2, relay: c.relay / 2 };
      log(`relay-grid: n=${n} ${m}: ${paths[m].direct} pairs direct, ${paths[m].relay} relayed`);
    }
    const measured = [...tb.hosts, tb.aux.relay!];
    for (const protocol of protocols) {
      for (const L of sizes) {
        const samples = { direct: [], relay: [], auto: [], 'relay-broadcast': [] } as Record<Mesh, Sample[]>;
        const variants: Mesh[] = withBroadcast ? [...MESHES, 'relay-broadcast'] : [...MESHES];
        const run = (m: Mesh): Promise<Sample> =>
          m === 'relay-broadcast' ? measure(tb, ps.relay, n, protocol, L, measured, relay, 'broadcast') : measure(tb, ps[m], n, protocol, L, measured, relay);
        for (const m of variants) await run(m); // warm-up
        for (let rep = 0; rep < reps; rep++) {
          const order = variants.map((_, k) => variants[(k + rep) % variants.length]!);
          for (const m of order) {
            const s = await run(m);
            samples[m].push(s);
            log(`relay-grid: n=${n} ${protocol} L=${L} rep ${rep} ${m}: ${s.wallMs.toFixed(0)} ms, relay ${(s.relayBytes / 1e6).toFixed(2)} MB`);
          }
        }
        rows.push({ n, protocol, L, samples, paths });
      }
    }
    for (const p of procs) p.send({ op: 'exit' });
  } finally {
    for (const p of procs) p.kill();
    await tb.close();
  }
  return rows;
}

/** Median of the per-repetition ratios a/b. */
function pairedRatio(a: Sample[], b: Sample[]): number {
  return summarize(a.map((s, i) => s.wallMs / b[i]!.wallMs)).median;
}

/** Run the benchmark (registered from index.ts). */
export async function runRelayGrid(opts: BenchOptions): Promise<BenchReport> {
  const avail = netnsAvailable();
  if (!avail.ok) {
    opts.log(`relay-grid: SKIPPED: ${avail.reason}`);
    return { parameters: { skipped: avail.reason }, tables: [], data: {}, notes: [`SKIPPED: the netns testbed is unavailable: ${avail.reason}`] };
  }
  const ns = (flag(opts.args, 'ns') ?? (opts.quick ? '3' : '5,10')).split(',').map(Number);
  const sizes = (flag(opts.args, 'sizes') ?? (opts.quick ? '1e3' : '1e3,1e6')).split(',').map(Number);
  const reps = Number(flag(opts.args, 'reps') ?? (opts.quick ? 1 : 3));
  const mbit = Number(flag(opts.args, 'mbit') ?? 100);
  const protocols = (flag(opts.args, 'protocols') ?? 'secureSum,dkSecureSum').split(',');
  const withBroadcast = opts.args.includes('--relay-broadcast');
  const rows: GridRow[] = [];
  for (const n of ns) rows.push(...(await runGrid(n, sizes, protocols, reps, mbit, withBroadcast, opts.log)));

  const withB = withBroadcast;
  const table: ReportTable = {
    title: `direct vs relay vs auto, ${mbit} Mbit/s per host (relay host included); medians over ${reps} interleaved reps after one warm-up each`,
    columns: [
      'n',
      'protocol',
      'L',
      'direct ms',
      'relay ms',
      'auto ms',
      ...(withB ? ['relay, broadcast opening ms'] : []),
      'relay/direct',
      'auto/direct',
      ...(withB ? ['relay broadcast/direct'] : []),
      'auto pairs direct/relayed',
      'relay moved MB (relay mesh)',
      'per party / 8L',
      'relay CPU ms',
    ],
    rows: rows.map((r) => {
      const med = (m: Mesh): number => summarize(r.samples[m].map((s) => s.wallMs)).median;
      const fwd = summarize(r.samples.relay.map((s) => s.relayBytes)).median;
      return [
        r.n,
        r.protocol,
        r.L,
        fmt(med('direct')),
        fmt(med('relay')),
        fmt(med('auto')),
        ...(withB ? [fmt(med('relay-broadcast'))] : []),
        fmt(pairedRatio(r.samples.relay, r.samples.direct)),
        fmt(pairedRatio(r.samples.auto, r.samples.direct)),
        ...(withB ? [fmt(pairedRatio(r.samples['relay-broadcast'], r.samples.direct))] : []),
        `${r.paths.auto.direct}/${r.paths.auto.relay}`,
        fmt(fwd / 1e6),
        fmt(fwd / r.n / (8 * r.L)),
        fmt(summarize(r.samples.relay.map((s) => s.relayCpuMs)).median),
      ];
    }),
    notes: [
      'time: parent-measured, command to every party → last result. Ratios: medians of the per-repetition ratios (paired). relay moved: bytes the relay forwarded between channels plus the bytes uploaded to and answered from its aggregations, during one relay-mesh sum (default opening).',
      `auto: inbound SYNs to the auto mesh's port dropped on every other host; a pair goes through the relay when its accepting side is such a host.`,
      ...(withB ? ["relay, broadcast opening: the relayed mesh with opening: 'broadcast' (every partial sum to every party through the relay: the opening before the aggregating relay)."] : []),
    ],
  };
  return {
    parameters: { ns, sizes, reps, mbitPerHost: mbit, protocols, autoFallbackMs: 2000, relay: 'coupler relay (src/relay) on its own host' },
    tables: [table],
    data: { rows },
    notes: [],
  };
}
