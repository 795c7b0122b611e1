/**
 * Benchmark side of the netns testbed: start one mesh of n party processes (commands mode) on
 * the testbed's hosts, run one secure sum across all of them on request, and measure wall time
 * and the kernel's byte counters of every link.
 *
 * Not a benchmark itself (no index.ts): used by `bench/relay`.
 *
 * @module
 */
import { makeParties, startParties, type PartySet } from '../../test/netns/parties';
import { expectedChecksum } from '../../test/netns/inputs';
import type { Host, NsProcess, Testbed } from '../../test/netns/testbed';

/** Byte counters of one link over one measurement. */
export interface LinkDelta {
  readonly host: string;
  readonly tx: number;
  readonly rx: number;
}

/** One measured sum. */
export interface SumSample {
  /** Parent-measured: commands sent → last party's result, ms. */
  readonly wallMs: number;
  /** Slowest party's own protocol time, ms. */
  readonly partyMs: number;
  readonly links: LinkDelta[];
  /** Largest single-direction byte count over all links. */
  readonly busiestBytes: number;
  readonly busiestHost: string;
  readonly correct: boolean;
}

/** A running mesh in commands mode. */
export interface BenchMesh {
  readonly set: PartySet;
  readonly procs: NsProcess[];
  sum(length: number, protocol?: string): Promise<SumSample>;
  stop(): Promise<void>;
}

let nextId = 0;

/**
 * Start n parties on hosts 0..n-1. `discovery(i)` gives party i's discovery config; `port` is the
 * listen port.
 */
export async function startBenchMesh(
  tb: Testbed,
  n: number,
  opts: { port: number; discovery: (i: number, set: PartySet) => { kind: 'dns'; server: string; names: string[] } | { kind: 'static'; list: string[] }; roundTimeoutMs: number; measured: Host[] },
): Promise<BenchMesh> {
  const set = makeParties(n);
  const procs = startParties(tb, set, (i) => ({
    mode: 'commands',
    port: opts.port,
    discovery: opts.discovery(i, set),
    roundTimeoutMs: opts.roundTimeoutMs,
    joinTimeoutMs: 60_000,
    length: 0,
  }));
  await Promise.all(procs.map((p) => p.waitEvent('ready', 70_000)));
  return {
    set,
    procs,
    async sum(length, protocol = 'secureSum') {
      const id = ++nextId;
      const before = opts.measured.map((h) => tb.counters(h));
      const t0 = performance.now();
      for (const p of procs) p.send({ op: 'sum', id, length, protocol });
      const done = await Promise.all(procs.map((p) => p.waitEvent((e) => (e.event === 'result' && e.id === id) || e.event === 'error', opts.roundTimeoutMs * 8)));
      const wallMs = performance.now() - t0;
      const bad = done.find((e) => e.event === 'error');
      if (bad) throw new Error(`sum failed: ${JSON.stringify(bad)}`);
      const after = opts.measured.map((h) => tb.counters(h));
      const links = opts.measured.map((h, k) => ({ host: h.label, tx: after[k]!.tx - before[k]!.tx, rx: after[k]!.rx - before[k]!.rx }));
      let busiestBytes = 0;
      let busiestHost = '';
      for (const l of links) {
        const m = Math.max(l.tx, l.rx);
        if (m > busiestBytes) {
          busiestBytes = m;
          busiestHost = l.host;
        }
      }
      const want = expectedChecksum(n, length);
      return {
        wallMs,
        partyMs: Math.max(...done.map((e) => Number(e.ms))),
        links,
        busiestBytes,
        busiestHost,
        correct: done.every((e) => e.checksum === want),
      };
    },
    async stop() {
      for (const p of procs) p.send({ op: 'exit' });
      await Promise.all(procs.map((p) => p.waitExit(5000)));
      for (const p of procs) p.kill();
    },
  };
}
