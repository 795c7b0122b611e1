/**
 * Mesh formation benchmark: N party processes on loopback (each on its own 127.78.x.y address and
 * the same port, like containers on an overlay network) find each other through the development
 * DNS server (`tasks.<service>` → every address) and form the full mesh.
 *
 * Per repetition (fresh keys, session, DNS name and addresses; all N processes spawned at once):
 * - **start → mesh**: from the parent spawning the processes to the last party's `ready`
 *   (includes node + tsx start-up, the way a container's start counts);
 * - **listening → mesh**: from the last party's `listening` to the last party's `ready`
 *   (formation only, start-up excluded);
 * - **start-up**: from spawning to the last party's `listening`;
 * - **per-party join**: median over parties of `joinGroup` start → its `ready`.
 *
 * Flags (after `--`): `--sizes=3,5,10,20`, `--reps=N`, `--backoff=initialMs,maxMs` (joinGroup dial
 * backoff; default the library's 100 ms … 5 s).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startDevDnsServer } from '../../src/discovery/dev-dns-server.js';
import { generateIdentity, serializeIdentity } from '../../src/identity/identity.js';
import { createRoster, rosterToJSON } from '../../src/identity/roster.js';
import { spawnWorker, type Worker, type WorkerEvent } from '../lib/child.js';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { cell, summarize, type Summary } from '../lib/stats.js';
import type { MeshPartyConfig } from './shared.js';

const PORT = 7790;
const JOIN_TIMEOUT_MS = 120_000;

interface Sample {
  startToMeshMs: number;
  listeningToMeshMs: number;
  startupMs: number;
  medianJoinMs: number;
}

function flag(opts: BenchOptions, name: string): string | undefined {
  const hit = opts.args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  return hit === undefined ? undefined : hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : '';
}

async function oneRep(
  n: number,
  rep: number,
  dns: Awaited<ReturnType<typeof startDevDnsServer>>,
  root: string,
  backoff: MeshPartyConfig['backoff'],
): Promise<Sample> {
  const ids = Array.from({ length: n }, (_, i) => String(i + 1));
  const identities = ids.map((id) => generateIdentity(id));
  const roster = rosterToJSON(createRoster(identities.map((k, i) => ({ id: ids[i]!, publicKey: k.publicKey }))));
  const sessionId = `bench-${randomBytes(6).toString('hex')}`;
  // A fresh third octet per repetition: no listener of the previous one can answer.
  const hosts = ids.map((_, i) => `127.78.${(n * 13 + rep) % 250}.${i + 1}`);
  const name = `tasks.mesh-${n}-${rep}`;
  dns.setA(name, hosts);
  const file = join(root, 'bench', 'mesh', 'party.ts');
  const t0 = performance.timeOrigin + performance.now();
  const workers: Worker[] = identities.map((identity, i) => {
    const cfg: MeshPartyConfig = { identity: serializeIdentity(identity), roster, sessionId, host: hosts[i]!, port: PORT, name, dnsServer: dns.server, timeoutMs: JOIN_TIMEOUT_MS, ...(backoff ? { backoff } : {}) };
    return spawnWorker(file, cfg, { name: `mesh${n}.${ids[i]}`, root, deadlineMs: JOIN_TIMEOUT_MS + 30_000 });
  });
  try {
    const wait = (w: Worker, event: string): Promise<WorkerEvent> =>
      Promise.race([
        w.waitEvent(event, JOIN_TIMEOUT_MS + 10_000),
        w.waitEvent('failed', JOIN_TIMEOUT_MS + 10_000).then((e) => Promise.reject(new Error(`${w.name}: ${String(e.message)}`))),
      ]);
    const listening = await Promise.all(workers.map((w) => wait(w, 'listening')));
    const ready = await Promise.all(workers.map((w) => wait(w, 'ready')));
    for (const r of ready) if (r.peers !== n - 1) throw new Error(`a party reported ${String(r.peers)} channels, expected ${n - 1}`);
    const lastListening = Math.max(...listening.map((e) => e.t as number));
    const lastReady = Math.max(...ready.map((e) => e.t as number));
    return {
      startToMeshMs: lastReady - t0,
      listeningToMeshMs: lastReady - lastListening,
      startupMs: lastListening - t0,
      medianJoinMs: summarize(ready.map((e) => e.joinMs as number)).median,
    };
  } finally {
    await Promise.all(workers.map((w) => w.call('close', {}, 10_000).catch(() => undefined)));
    await Promise.all(workers.map((w) => w.stop()));
    dns.remove(name);
  }
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const sizes = (flag(opts, 'sizes') ?? (opts.quick ? '3,5' : '3,5,10,20')).split(',').map((s) => Number(s));
  if (sizes.some((s) => !Number.isInteger(s) || s < 2 || s > 200)) throw new Error('--sizes: integers 2..200');
  const reps = Math.max(1, Number(flag(opts, 'reps') ?? (opts.quick ? 2 : 7)));
  const warmup = opts.quick ? 0 : 1;
  const backoffFlag = flag(opts, 'backoff');
  const backoff = backoffFlag ? (([a, b]) => ({ initialMs: Number(a), maxMs: Number(b) }))(backoffFlag.split(',')) : undefined;
  const dns = await startDevDnsServer({ host: '127.0.0.1', port: 0 });
  const data: Record<string, { samples: Sample[]; summary: Record<keyof Sample, Summary> }> = {};
  const rows: (string | number)[][] = [];
  try {
    for (const n of sizes) {
      const samples: Sample[] = [];
      for (let r = 0; r < warmup + reps; r++) {
        const s = await oneRep(n, r, dns, opts.root, backoff);
        opts.log(`mesh: N=${n} rep ${r + 1}/${warmup + reps}${r < warmup ? ' (warm-up)' : ''}: start→mesh ${s.startToMeshMs.toFixed(0)} ms, listening→mesh ${s.listeningToMeshMs.toFixed(0)} ms`);
        if (r >= warmup) samples.push(s);
      }
      const summary = {
        startToMeshMs: summarize(samples.map((s) => s.startToMeshMs)),
        listeningToMeshMs: summarize(samples.map((s) => s.listeningToMeshMs)),
        startupMs: summarize(samples.map((s) => s.startupMs)),
        medianJoinMs: summarize(samples.map((s) => s.medianJoinMs)),
      };
      data[String(n)] = { samples, summary };
      rows.push([n, reps, cell(summary.startToMeshMs, 0), cell(summary.listeningToMeshMs, 0), cell(summary.startupMs, 0), cell(summary.medianJoinMs, 0)]);
    }
  } finally {
    await dns.close();
  }
  return {
    parameters: { sizes, reps, warmup, port: PORT, discovery: 'dns (dev DNS server, one A record per party)', backoff: backoff ?? 'library default (100 ms … 5 s)', joinTimeoutMs: JOIN_TIMEOUT_MS },
    tables: [
      {
        title: 'Mesh formation, N processes on loopback via DNS (ms, median (IQR))',
        columns: ['N', 'reps', 'start → full mesh', 'last listening → full mesh', 'start-up (spawn → last listening)', 'per-party join (median)'],
        rows,
        notes: [
          '`start → full mesh`: parent spawns all N `node --import tsx` processes at once; stops at the last party\'s `ready`.',
          '`last listening → full mesh`: formation alone (process start-up excluded).',
          'All N processes share the machine\'s cores; start-up (tsx loading the sources) dominates at larger N.',
        ],
      },
    ],
    data,
  };
}

registerBenchmark({ name: 'mesh', description: 'mesh formation time vs party count (N processes on loopback, DNS discovery)', run });
