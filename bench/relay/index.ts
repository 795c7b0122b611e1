/**
 * `relay`: direct mesh vs relay-through-a-central-server, on the network-namespace testbed.
 *
 * Both variants run the SAME protocol (coupler secureSum) with the SAME crypto (end-to-end
 * authenticated encrypted channels between every pair of parties); only the path differs:
 *
 * - direct: every party dials its peers' addresses found through the testbed's DNS
 *   (`tasks.sum`), so a pair's bytes cross only the two parties' links.
 * - relay (the vantage6 shape): every party dials every peer through ONE central server host,
 *   which forwards the bytes (listen port 9000+j → party j). Every byte between two parties
 *   goes party → server → party; the server only ever sees ciphertext. This is the cheapest
 *   possible central server — it stores nothing, polls nothing, re-encodes nothing (a real
 *   vantage6 server adds HTTP, polling, base64 (+33 %) and a database) — so the relay numbers
 *   are a lower bound on the cost of the central path.
 *
 * Every host (the server too) has the same link: a tbf cap (default 100 Mbit/s) both ways.
 * Measured per sum: wall time (parent sends the command to every party → last result) and the
 * kernel byte counters of every link; reported: medians over repetitions, and the bytes through
 * the busiest link (largest single-direction count). Variants are interleaved per repetition.
 *
 * With `--rtt=MS` (this kernel has no netem) a WAN latency is emulated with the testbed's
 * userspace delay forwarder, under the model "any two hosts are MS apart (round trip)": direct —
 * a forwarder inside each party's own namespace delays everything to and from that party's
 * listener by MS/2 each way (one connection per pair survives the tie-break, so every pair sees
 * an RTT of MS; the bytes still cross only the two parties' links); relay — the server's forwarder
 * delays each direction by MS (party → server → party crosses two such paths: RTT 2·MS). The
 * forwarder terminates TCP, so TCP's congestion control sees the short hops, not the RTT.
 *
 * Flags: `--n=3,5,10`, `--sizes=1e3,1e5,1e6`, `--reps=3`, `--mbit=100`, `--rtt=0` (ms).
 */
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { fmt, interleave, pairedRatios, summarize } from '../lib/stats.js';
import { createTestbed, netnsAvailable, DNS_IP, type Testbed } from '../../test/netns/testbed';
import { PARTY_PORT } from '../../test/netns/parties';
import { startBenchMesh, type BenchMesh, type SumSample } from '../netns/mesh';
import { runRelayE2e } from './e2e';
import { runRelayGrid } from './grid';
import { runRelayAttacks } from './attacks';

const RELAY_BASE_PORT = 9000;
const RELAY_PARTY_PORT = 8889;
/** Where a party's own delay forwarder listens (`--rtt`); it forwards to the party's listener on 127.0.0.1. */
const DELAY_PORT = 8890;

function flag(args: readonly string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}
const nums = (s: string): number[] => s.split(',').map((x) => Number(x));

interface Cell {
  n: number;
  L: number;
  direct: SumSample[];
  relay: SumSample[];
}

async function runN(tb: Testbed, n: number, sizes: number[], reps: number, rttMs: number, log: (s: string) => void): Promise<Cell[]> {
  const relayHost = tb.aux.relay!;
  const fwd = tb.run(relayHost, 'test/netns/forwarder.ts', {
    CPL_FWD: JSON.stringify({ routes: tb.hosts.map((h, j) => ({ listenPort: RELAY_BASE_PORT + j, host: h.ip, port: RELAY_PARTY_PORT })), delayMs: rttMs }),
  }, 'relay');
  const delays = rttMs > 0
    ? tb.hosts.map((h, j) => tb.run(j, 'test/netns/forwarder.ts', { CPL_FWD: JSON.stringify({ routes: [{ listenPort: DELAY_PORT, host: '127.0.0.1', port: PARTY_PORT }], delayMs: rttMs / 2 }) }, `delay-${h.label}`))
    : [];
  await Promise.all([fwd, ...delays].map((p) => p.waitEvent('listening', 20_000)));
  await tb.setA('tasks.sum', tb.hosts.map((h) => h.ip));
  const measured = [...tb.hosts, relayHost];
  const roundTimeoutMs = 600_000;
  let direct: BenchMesh | undefined;
  let relay: BenchMesh | undefined;
  try {
    direct = await startBenchMesh(tb, n, {
      port: PARTY_PORT,
      roundTimeoutMs,
      measured,
      // With a delay, peers are reached through their own delay forwarders (ip:DELAY_PORT) —
      // DNS A records carry no port, so the list is static there.
      discovery: (i) =>
        rttMs > 0
          ? { kind: 'static', list: tb.hosts.filter((_, j) => j !== i).map((h) => `${h.ip}:${DELAY_PORT}`) }
          : { kind: 'dns', server: `${DNS_IP}:53`, names: ['tasks.sum'] },
    });
    relay = await startBenchMesh(tb, n, {
      port: RELAY_PARTY_PORT,
      roundTimeoutMs,
      measured,
      discovery: (i) => ({ kind: 'static', list: tb.hosts.map((_, j) => `${relayHost.ip}:${RELAY_BASE_PORT + j}`).filter((_, j) => j !== i) }),
    });
    const meshes = { direct, relay };
    const cells: Cell[] = [];
    for (const L of sizes) {
      const samples: Record<'direct' | 'relay', SumSample[]> = { direct: [], relay: [] };
      await interleave(['direct', 'relay'] as const, { warmup: L <= 1e5 ? 1 : 0, reps }, async (v, rep) => {
        const s = await meshes[v].sum(L);
        if (!s.correct) throw new Error(`${v} n=${n} L=${L}: wrong sum`);
        if (rep >= (L <= 1e5 ? 1 : 0)) samples[v].push(s);
        log(`relay: n=${n} L=${L} ${v} rep ${rep}: ${s.wallMs.toFixed(0)} ms, busiest ${s.busiestHost} ${(s.busiestBytes / 1e6).toFixed(2)} MB`);
        return s.wallMs;
      });
      cells.push({ n, L, ...samples });
    }
    return cells;
  } finally {
    await direct?.stop();
    await relay?.stop();
    fwd.kill();
    for (const d of delays) d.kill();
  }
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const avail = netnsAvailable();
  if (!avail.ok) {
    opts.log(`relay: SKIPPED: ${avail.reason}`);
    return { parameters: { skipped: avail.reason }, tables: [], data: {}, notes: [`SKIPPED: the netns testbed is unavailable: ${avail.reason}`] };
  }
  const ns = nums(flag(opts.args, 'n') ?? (opts.quick ? '3' : '3,5,10'));
  const sizes = nums(flag(opts.args, 'sizes') ?? (opts.quick ? '1e3,1e5' : '1e3,1e5,1e6'));
  const reps = Number(flag(opts.args, 'reps') ?? (opts.quick ? 1 : 3));
  const mbit = Number(flag(opts.args, 'mbit') ?? 100);
  const rttMs = Number(flag(opts.args, 'rtt') ?? 0);
  if (!Number.isFinite(rttMs) || rttMs < 0 || rttMs > 10_000) throw new Error('--rtt must be a number of milliseconds in 0..10000');
  const cells: Cell[] = [];
  for (const n of ns) {
    const tb = await createTestbed({ n, bandwidthMbit: mbit, aux: { relay: 3 }, childDeadlineMs: 3_600_000 });
    try {
      cells.push(...(await runN(tb, n, sizes, reps, rttMs, opts.log)));
    } finally {
      await tb.close();
    }
  }
  const rows = cells.map((c) => {
    const dw = summarize(c.direct.map((s) => s.wallMs));
    const rw = summarize(c.relay.map((s) => s.wallMs));
    const ratio = summarize(pairedRatios(c.relay.map((s) => s.wallMs), c.direct.map((s) => s.wallMs)));
    const db = summarize(c.direct.map((s) => s.busiestBytes));
    const rb = summarize(c.relay.map((s) => s.busiestBytes));
    const target = 0.8 * c.n;
    return {
      c,
      dw,
      rw,
      ratio,
      db,
      rb,
      row: [
        c.n,
        c.L,
        fmt(dw.median),
        fmt(rw.median),
        `${fmt(ratio.median)} (${fmt(ratio.min)}–${fmt(ratio.max)})`,
        fmt(db.median / 1e6),
        fmt(rb.median / 1e6),
        `${c.relay[0]?.busiestHost ?? ''}`,
        fmt(rb.median / db.median),
        c.L >= 1e5 ? `${fmt(target)}: ${ratio.median >= target ? 'met' : 'NOT met'}` : '—',
      ],
    };
  });
  return {
    parameters: {
      n: ns,
      sizes,
      reps,
      mbitPerHost: mbit,
      rttMs,
      protocol: 'secureSum (seed shares)',
      relay: 'TCP forwarder host, one port per destination party',
      ...(rttMs > 0 ? { latency: `userspace delay forwarders: direct pair RTT ${rttMs} ms, relay path RTT ${2 * rttMs} ms` } : {}),
    },
    tables: [
      {
        title: `Direct mesh vs relay through a central server (${mbit} Mbit/s per host${rttMs > 0 ? `, ${rttMs} ms RTT between any two hosts (relay path ${2 * rttMs} ms)` : ''}, secureSum, medians over ${reps} reps)`,
        columns: ['n', 'L', 'direct ms', 'relay ms', 'relay/direct time (min–max)', 'direct busiest link MB', 'relay busiest link MB', 'relay busiest host', 'busiest-link bytes relay/direct', 'target ≥ 0.8·n (large L)'],
        rows: rows.map((r) => r.row),
        notes: [
          'time: parent-measured, command to every party → last party result; busiest link: the largest single-direction byte count (kernel counters) over all hosts incl. the server.',
          'ratios are paired per repetition (direct and relay interleaved).',
        ],
      },
    ],
    ...(rttMs > 0 ? { resultsVariant: `rtt${rttMs}` } : {}),
    data: {
      cells: rows.map((r) => ({
        n: r.c.n,
        L: r.c.L,
        direct: { wallMs: r.dw, busiestBytes: r.db, samples: r.c.direct },
        relay: { wallMs: r.rw, busiestBytes: r.rb, samples: r.c.relay },
        ratio: r.ratio,
      })),
    },
  };
}

registerBenchmark({ name: 'relay', description: 'direct mesh vs relay through a central server on the netns testbed (wall time, busiest-link bytes)', run });

registerBenchmark({
  name: 'relay-e2e',
  description: 'the real coupler relay (egress-only parties) vs the direct mesh on the netns testbed (wall time, busiest link, relay bytes and CPU)',
  run: runRelayE2e,
});

registerBenchmark({
  name: 'relay-grid',
  description: 'direct vs relay vs auto side by side (secureSum, dkSecureSum; n = 5, 10; L = 1e3, 1e6; 100 Mbit/s per host) on the netns testbed',
  run: runRelayGrid,
});

registerBenchmark({
  name: 'relay-attacks',
  description: 'relay RSS and a real 5-party mesh formation under each exhaustion attempt of issue 16 (a)-(e), default limits, on 127.0.0.x',
  run: runRelayAttacks,
});
