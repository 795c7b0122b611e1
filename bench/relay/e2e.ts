/**
 * `relay-e2e`: the real coupler relay (`coupler relay`, src/relay) vs the direct mesh, on the
 * netns testbed. Unlike `relay` (index.ts: a TCP forwarder per destination emulating "everything
 * through a central server"), here the parties run `transport: 'relay'`: no listener at all,
 * every party host drops inbound connection attempts (tc ingress filter), each party dials out to
 * the relay, is admitted by roster signature and paired per (session, from, to); the channel
 * handshake and AEAD run end to end through it. The direct mesh (`transport: 'direct'`, static
 * discovery) runs on the same hosts first; then the filter goes on (it drops every inbound SYN,
 * so it cannot be lifted for one mesh only) and the relayed mesh is measured.
 *
 * Measured per sum: wall time (parent sends the command to every party → last result), the
 * busiest link's bytes (kernel counters, largest single-direction count over all hosts incl. the
 * relay), the bytes the relay moved (forwarded, and uploaded to or answered from its aggregations
 * when the sum used the relayed opening) and its CPU time.
 *
 * Flags: `--n=5`, `--sizes=1e3,1e5`, `--reps=3`, `--mbit=100`, `--protocols=secureSum,dkSecureSum`.
 */
import type { BenchOptions, BenchReport } from '../lib/registry.js';
import { fmt, summarize } from '../lib/stats.js';
import { createTestbed, netnsAvailable, type Host, type NsProcess, type Testbed } from '../../test/netns/testbed';
import { makeParties, type PartySet } from '../../test/netns/parties';
import { expectedChecksum } from '../../test/netns/inputs';
import { dropInbound, nextId, startRelayHost, startRelayParties } from '../../test/netns/relay-parties';

function flag(args: readonly string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

/** One measured sum. */
export interface Sample {
  wallMs: number;
  busiestBytes: number;
  relayBytes: number;
  relayCpuMs: number;
}

/** The bytes the relay moved so far (forwarded between channels, plus uploaded to and answered from its aggregations) and its CPU time. */
export async function relayStats(relay: NsProcess): Promise<{ bytes: number; cpuMs: number }> {
  const id = nextId();
  relay.send({ op: 'stats', id });
  const e = await relay.waitEvent((x) => x.event === 'stats' && x.id === id, 10_000);
  const st = e.stats as { bytesForwarded: number; aggregations?: { bytes: number } };
  return { bytes: st.bytesForwarded + (st.aggregations?.bytes ?? 0), cpuMs: Number(e.cpuMs) };
}

/** One sum on every party of a mesh: wall time, busiest link, relay bytes and CPU (checked against the expected sum). */
export async function measure(tb: Testbed, ps: NsProcess[], n: number, protocol: string, L: number, measured: Host[], relay?: NsProcess, opening?: string): Promise<Sample> {
  const id = nextId();
  const before = measured.map((h) => tb.counters(h));
  const r0 = relay ? await relayStats(relay) : { bytes: 0, cpuMs: 0 };
  const t0 = performance.now();
  for (const p of ps) p.send({ op: 'sum', protocol, length: L, id, ...(opening === undefined ? {} : { opening }) });
  const done = await Promise.all(ps.map((p) => p.waitEvent((e) => (e.event === 'result' && e.id === id) || e.event === 'error', 600_000)));
  const wallMs = performance.now() - t0;
  const bad = done.find((e) => e.event === 'error');
  if (bad) throw new Error(`sum failed: ${JSON.stringify(bad)}`);
  const want = expectedChecksum(n, L);
  if (!done.every((e) => e.checksum === want)) throw new Error(`${protocol} n=${n} L=${L}: wrong sum`);
  const after = measured.map((h) => tb.counters(h));
  const busiestBytes = Math.max(...measured.map((_, k) => Math.max(after[k]!.tx - before[k]!.tx, after[k]!.rx - before[k]!.rx)));
  const r1 = relay ? await relayStats(relay) : { bytes: 0, cpuMs: 0 };
  return { wallMs, busiestBytes, relayBytes: r1.bytes - r0.bytes, relayCpuMs: r1.cpuMs - r0.cpuMs };
}

/** Run the benchmark (registered from index.ts). */
export async function runRelayE2e(opts: BenchOptions): Promise<BenchReport> {
  const avail = netnsAvailable();
  if (!avail.ok) {
    opts.log(`relay-e2e: SKIPPED: ${avail.reason}`);
    return { parameters: { skipped: avail.reason }, tables: [], data: {}, notes: [`SKIPPED: the netns testbed is unavailable: ${avail.reason}`] };
  }
  const n = Number(flag(opts.args, 'n') ?? 5);
  const sizes = (flag(opts.args, 'sizes') ?? '1e3,1e5').split(',').map(Number);
  const reps = Number(flag(opts.args, 'reps') ?? (opts.quick ? 1 : 3));
  const mbit = Number(flag(opts.args, 'mbit') ?? 100);
  const protocols = (flag(opts.args, 'protocols') ?? 'secureSum,dkSecureSum').split(',');
  const tb = await createTestbed({ n, bandwidthMbit: mbit, aux: { relay: 3 }, childDeadlineMs: 3_600_000 });
  const results: Record<string, Sample[]> = {};
  const key = (path: string, protocol: string, L: number): string => `${path}|${protocol}|${L}`;
  const runAll = async (path: string, set: PartySet, ps: NsProcess[], relay?: NsProcess): Promise<void> => {
    await Promise.all(ps.map((p) => p.waitEvent('ready', 70_000)));
    const measured = [...tb.hosts, tb.aux.relay!];
    for (const protocol of protocols) {
      for (const L of sizes) {
        await measure(tb, ps, set.ids.length, protocol, L, measured, relay); // warm-up
        for (let rep = 0; rep < reps; rep++) {
          const s = await measure(tb, ps, set.ids.length, protocol, L, measured, relay);
          (results[key(path, protocol, L)] ??= []).push(s);
          opts.log(`relay-e2e: ${path} ${protocol} n=${n} L=${L} rep ${rep}: ${s.wallMs.toFixed(0)} ms, busiest ${(s.busiestBytes / 1e6).toFixed(2)} MB`);
        }
      }
    }
    for (const p of ps) p.send({ op: 'exit' });
    await Promise.all(ps.map((p) => p.waitExit(5000)));
  };
  let relay: NsProcess | undefined;
  try {
    const direct = makeParties(n);
    await runAll('direct', direct, startRelayParties(tb, direct, () => ({ transport: 'direct', listen: true, joinTimeoutMs: 60_000, roundTimeoutMs: 600_000 })));
    for (const h of tb.hosts) dropInbound(h);
    const relayed = makeParties(n);
    relay = startRelayHost(tb, relayed);
    await relay.waitEvent('listening', 30_000);
    await runAll('relay', relayed, startRelayParties(tb, relayed, () => ({ joinTimeoutMs: 60_000, roundTimeoutMs: 600_000 })), relay);
  } finally {
    relay?.kill();
    await tb.close();
  }
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown>[] = [];
  for (const protocol of protocols) {
    for (const L of sizes) {
      const d = results[key('direct', protocol, L)]!;
      const r = results[key('relay', protocol, L)]!;
      const dw = summarize(d.map((s) => s.wallMs));
      const rw = summarize(r.map((s) => s.wallMs));
      const relayBytes = summarize(r.map((s) => s.relayBytes));
      const relayCpu = summarize(r.map((s) => s.relayCpuMs));
      rows.push([
        protocol,
        n,
        L,
        fmt(dw.median),
        fmt(rw.median),
        fmt(rw.median / dw.median),
        fmt(summarize(d.map((s) => s.busiestBytes)).median / 1e6),
        fmt(summarize(r.map((s) => s.busiestBytes)).median / 1e6),
        fmt(relayBytes.median / 1e6),
        fmt(relayBytes.median / n / (8 * L)),
        fmt(relayCpu.median),
      ]);
      data.push({ protocol, n, L, direct: d, relay: r });
    }
  }
  return {
    parameters: { n, sizes, reps, mbitPerHost: mbit, protocols, relay: 'coupler relay (src/relay), parties egress-only (inbound SYNs dropped), transport "relay"' },
    tables: [
      {
        title: `coupler relay vs direct mesh (${mbit} Mbit/s per host incl. the relay host, medians over ${reps} reps after one warm-up)`,
        columns: ['protocol', 'n', 'L', 'direct ms', 'relay ms', 'relay/direct', 'direct busiest link MB', 'relay busiest link MB', 'relay forwarded MB', 'forwarded per party / 8L', 'relay CPU ms'],
        rows,
        notes: [
          'time: parent-measured, command to every party → last result. busiest link: largest single-direction kernel byte count over all hosts (the relay host included).',
          'direct and relay are measured one after the other (the inbound filter cannot be lifted for one mesh only), not interleaved.',
          'forwarded per party / 8L: the relay\'s forwarded payload bytes per party in units of the input vector size (8 bytes per element).',
        ],
      },
    ],
    data: { cells: data },
  };
}
