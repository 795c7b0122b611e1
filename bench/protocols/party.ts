/**
 * One party of the protocols benchmark, as its own process (started by `index.ts` through
 * `bench/lib/child.ts`). It listens on its own loopback address, joins the group with static
 * discovery, and then, per request from the parent: runs a barrier round, one protocol run, and
 * reports its own time and the wire bytes it sent (`group.stats()` delta).
 *
 * Exits on its own at the deadline or when the parent goes away (`workerConfig()` guards).
 *
 * @module
 */
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { joinGroup, type Group } from '../../src/group/group.js';
import { parseIdentity } from '../../src/identity/identity.js';
import { parseRoster } from '../../src/identity/roster.js';
import { secureSum, dkSecureSum, thresholdSum, ringSecureSum, plainSum } from '../../src/protocols/index.js';
import type { SumResult } from '../../src/protocols/common.js';
import { emit, serve, workerConfig } from '../lib/worker.js';
import { BOUND, PROBE_VARIANTS, digestOf, hintedDiscovery, partyInput, type PartyConfig, type RunSample, type Variant } from './shared.js';
import { PROBE_CHUNK_BYTES, Probe, type ProbeAddress } from './probe.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const cfg = workerConfig<PartyConfig>();
/** Runs of at least this many elements start with a full GC. */
const GC_BEFORE_RUN_MIN_LENGTH = 10_000;
let group: Group | undefined;
const inputs = new Map<number, Float64Array>();
const probe = new Probe(cfg.id);
/**
 * `BENCH_PARTY_WINDOWS=<dir>`: append each timed span (`<variant> <L> <start µs> <end µs>`, on the
 * monotonic clock that `--cpu-prof` timestamps use) to `<dir>/windows.<pid>.txt`, after the span, so
 * `bench/protocols/profile-runs.cjs` can keep a child's profile samples inside the timed runs only
 * (not the barrier, the group's formation or the parent's requests).
 */
const WINDOWS_DIR = process.env.BENCH_PARTY_WINDOWS;
function noteWindow(variant: string, L: number, from: bigint): void {
  if (WINDOWS_DIR === undefined) return;
  appendFileSync(`${WINDOWS_DIR}/windows.${process.pid}.txt`, `${variant} ${L} ${from / 1000n} ${process.hrtime.bigint() / 1000n}\n`);
}

function totals(g: Group): { sent: number; received: number; messages: number } {
  let sent = 0;
  let received = 0;
  let messages = 0;
  for (const s of g.stats()) {
    sent += s.bytesSent;
    received += s.bytesReceived;
    messages += s.messagesSent;
  }
  return { sent, received, messages };
}

function runProtocol(g: Group, variant: Variant, x: Float64Array): Promise<SumResult> {
  const n = g.parties.length;
  const common = { bound: BOUND, roundTimeoutMs: cfg.roundTimeoutMs };
  switch (variant) {
    case 'secureSum/seed':
      return secureSum(g, x, { ...common, shares: 'seed' });
    case 'secureSum/vector':
      return secureSum(g, x, { ...common, shares: 'vector' });
    case 'dkSecureSum':
      return dkSecureSum(g, x, { ...common, k: Math.min(4, n) }); // default opening: aggregate for n ≥ 4
    case 'dkSecureSum/broadcast':
      return dkSecureSum(g, x, { ...common, k: Math.min(4, n), opening: 'broadcast' });
    case 'thresholdSum':
      return thresholdSum(g, x, { ...common, t: Math.floor(n / 2) + 1 });
    case 'ringSecureSum':
      return ringSecureSum(g, x, { ...common, acknowledgeInsecure: true });
    case 'plainSum':
      return plainSum(g, x, { ...common, acknowledgeInsecure: true });
    default:
      throw new Error(`unknown variant ${String(variant)}`);
  }
}

/** `process.threadCpuUsage` (Node ≥ 23.9): the calling thread's CPU; undefined on older Node. */
const threadCpuUsage = (process as unknown as { threadCpuUsage?: (prev?: NodeJS.CpuUsage) => NodeJS.CpuUsage }).threadCpuUsage?.bind(process);

/** CPU ms of this process since `start`: user + system, system alone, and the main thread's (if known). */
function cpuSince(start: NodeJS.CpuUsage, mainStart?: NodeJS.CpuUsage): { cpuMs: number; sysMs: number; mainMs?: number } {
  const d = process.cpuUsage(start);
  const m = mainStart === undefined || threadCpuUsage === undefined ? undefined : threadCpuUsage(mainStart);
  return { cpuMs: (d.user + d.system) / 1000, sysMs: d.system / 1000, ...(m === undefined ? {} : { mainMs: (m.user + m.system) / 1000 }) };
}

async function barrier(g: Group, seq: number): Promise<void> {
  const run = `bench.barrier.${seq}`;
  await g.sendToAll(`${run}/b`, { b: seq });
  await g.gather(`${run}/b`, { timeoutMs: cfg.roundTimeoutMs });
  g.endRun(run);
}

serve({
  async join(): Promise<{ ms: number }> {
    const t0 = performance.now();
    group = await joinGroup({
      identity: parseIdentity(cfg.identity),
      roster: parseRoster(cfg.roster),
      sessionId: cfg.sessionId,
      localId: cfg.id,
      discovery: hintedDiscovery(cfg.all, cfg.id),
      listen: { host: cfg.listen.host, port: cfg.listen.port },
      timeoutMs: cfg.joinTimeoutMs,
      roundTimeoutMs: cfg.roundTimeoutMs,
      dialBackoff: { initialMs: 50, maxMs: 500 },
      discoveryIntervalMs: 50,
    });
    return { ms: performance.now() - t0 };
  },

  prepare(params: { L: number }): { L: number } {
    inputs.clear();
    gc();
    inputs.set(params.L, partyInput(cfg.index, params.L));
    return { L: params.L };
  },

  async run(params: { variant: Variant; L: number; seq: number }): Promise<RunSample> {
    const g = group;
    if (g === undefined) throw new Error('not joined');
    const x = inputs.get(params.L);
    if (x === undefined) throw new Error(`no input of length ${params.L} prepared`);
    // A full GC before a long run, so one run's garbage is not charged to the next. Not before a
    // short one: the forced GC leaves concurrent sweeping for the next milliseconds (counted in the
    // run's CPU and competing for the cores), more than a short run's own garbage ever costs.
    if (params.L >= GC_BEFORE_RUN_MIN_LENGTH) gc();
    if (PROBE_VARIANTS.includes(params.variant)) {
      const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
      probe.expect(bytes.length, params.variant === 'probe/aead');
      await barrier(g, params.seq);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const written = await probe.exchange(bytes, cfg.roundTimeoutMs);
      const ms = performance.now() - t0;
      const cpu = cpuSince(c0);
      const peers = g.peers.length;
      return { ms, ...cpu, bytesSent: written, bytesReceived: written, messagesSent: peers * Math.ceil(bytes.length / PROBE_CHUNK_BYTES), digest: 'probe' };
    }
    if (params.variant === 'round') {
      await barrier(g, params.seq);
      const before = totals(g);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await barrier(g, -params.seq - 1);
      const ms = performance.now() - t0;
      const cpu = cpuSince(c0);
      const after = totals(g);
      return { ms, ...cpu, bytesSent: after.sent - before.sent, bytesReceived: after.received - before.received, messagesSent: after.messages - before.messages, digest: 'round' };
    }
    await barrier(g, params.seq);
    const before = totals(g);
    const h0 = process.hrtime.bigint();
    const m0 = threadCpuUsage?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const result = await runProtocol(g, params.variant, x);
    const ms = performance.now() - t0;
    const cpu = cpuSince(c0, m0);
    noteWindow(params.variant, params.L, h0);
    const after = totals(g);
    const sum = result.sum;
    if (!(sum instanceof Float64Array) || sum.length !== params.L) throw new Error(`${params.variant}: unexpected result shape`);
    return {
      ms,
      ...cpu,
      bytesSent: after.sent - before.sent,
      bytesReceived: after.received - before.received,
      messagesSent: after.messages - before.messages,
      digest: digestOf(sum),
    };
  },

  /** Listen for the probe's TCP links; returns the port. */
  probeListen(): Promise<number> {
    return probe.listen(cfg.listen.host);
  },

  /** Open the probe's links (one per pair) to every party. */
  probeConnect(params: { all: ProbeAddress[]; key: string }): Promise<void> {
    return probe.connect(params.all, params.key);
  },

  async close(): Promise<void> {
    probe.close();
    await group?.close();
    group = undefined;
  },
});

emit({ event: 'ready', pid: process.pid });
