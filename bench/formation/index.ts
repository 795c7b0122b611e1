/**
 * Formation under attack, and how fast a refusal reaches a party (issues 17 item 3 and 16 item 4).
 *
 * - **slowloris**: five parties, each in its own process (party.ts; as containers would be — the
 *   listeners' work on the attacker's hellos does not run on the late party's event loop), on their
 *   own 127.0.x.y addresses, find each other through the development DNS server; four start, and
 *   the fifth — egress only, it must get into the others' listeners, and it dials from 127.0.0.1,
 *   an address discovery does not return — starts 2.5 s later. Every process first forms and
 *   closes a throwaway group (warm-up), so the late party's first join carries no module loading.
 *   Measured: the late party's `joinGroup` start → mesh complete, with no attack, and while an
 *   attacker process (attacker.ts) opens 70 connections a second to every listener that each send
 *   one valid hello and never finish, from 1 and from 8 source addresses. Variants run interleaved
 *   per repetition; the ratio attacked ÷ unattacked is paired per repetition (target ≤ 2). Also
 *   logged per repetition: the late party's CPU time over its join, each listener's share of a CPU,
 *   and the group events counted (dial failures and refusals by reason; `refused late party` is a
 *   listener dropping the late party's handshake, e.g. by eviction). `--single-process` runs every
 *   party in the benchmark's own process instead (the layout of the first measurements).
 * - **refusal**: a party whose signature the relay rejects (`bad-signature`), and one that signed
 *   for another relay URL (`url-mismatch`): `joinGroup` start → the typed `RelayError` (target ≤ 5 s;
 *   the join deadline is 60 s).
 *
 * Flags (after `--`): `--reps=N` (default 5; --quick 2), `--single-process`.
 *
 * @module
 */
import { freePort } from '../../src/cli/ports.js';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join as joinPath } from 'node:path';
import { startDevDnsServer, type DevDnsServer } from '../../src/discovery/dev-dns-server.js';
import { joinGroup, type Group } from '../../src/group/group.js';
import { generateIdentity, serializeIdentity, type Identity } from '../../src/identity/identity.js';
import { createRoster, rosterToJSON, type Roster } from '../../src/identity/roster.js';
import { startRelay } from '../../src/relay/server.js';
import { RelayError } from '../../src/relay/protocol.js';
import { spawnWorker } from '../lib/child.js';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { joinParty } from './join.js';
import type { FormationPartyConfig, JoinResult } from './shared.js';
import { cell, summarize } from '../lib/stats.js';

const PARTIES = 5;
const LATE_START_MS = 2_500;
const ATTACK_PER_SECOND = 70;
/** Deadline for the attacker process to start, ms. */
const ATTACKER_START_MS = 30_000;
/** Time the attacker gets to exit on SIGTERM before SIGKILL, ms. */
const ATTACKER_STOP_GRACE_MS = 2_000;
/** Join deadline of every party, ms. */
const JOIN_TIMEOUT_MS = 60_000;

/** Where the parties run: one process each (as containers would), or all in this process. */
type Layout = 'processes' | 'single-process';

interface World {
  ids: string[];
  identities: Map<string, Identity>;
  roster: Roster;
  sessionId: string;
  hosts: string[];
  port: number;
}

async function world(net: number): Promise<World> {
  const ids = Array.from({ length: PARTIES }, (_, i) => `p${i + 1}`);
  const identities = new Map(ids.map((id) => [id, generateIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  const hosts = ids.map((_, i) => `127.0.${net}.${i + 1}`);
  return { ids, identities, roster, sessionId: `bench-${randomBytes(6).toString('hex')}`, hosts, port: await freePort(hosts[0]!) };
}

/** The config of party `id` in world `w` (listening on its own address unless it is the late one). */
function partyConfig(w: World, dns: DevDnsServer, id: string, name: string, listen: boolean, net: number): FormationPartyConfig {
  const i = w.ids.indexOf(id);
  return {
    id,
    identity: serializeIdentity(w.identities.get(id)!),
    roster: rosterToJSON(w.roster),
    sessionId: w.sessionId,
    ...(listen ? { listenHost: w.hosts[i]! } : {}),
    port: w.port,
    name,
    dnsServer: `127.0.0.1:${dns.port}`,
    timeoutMs: JOIN_TIMEOUT_MS,
    warmHosts: [`127.0.${net}.${200 + 2 * i}`, `127.0.${net}.${201 + 2 * i}`],
  };
}

/** Add one party's event counts to the repetition's. */
function addEvents(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/**
 * Start the attacker process against every listener of `w`; resolves once it runs, with its stop.
 * A start that fails (it once hung while loading its modules) is retried once.
 */
async function slowloris(w: World, sources: readonly string[]): Promise<() => Promise<number | undefined>> {
  try {
    return await startAttacker(w, sources);
  } catch (err) {
    process.stderr.write(`bench formation: attacker start failed (${(err as Error).message}); retrying once\n`);
    return startAttacker(w, sources);
  }
}

async function startAttacker(w: World, sources: readonly string[]): Promise<() => Promise<number | undefined>> {
  const child = spawn(process.execPath, ['--import', 'tsx', joinPath(__dirname, 'attacker.ts')], {
    env: {
      ...process.env,
      CPL_ATTACK: JSON.stringify({
        // The listeners (not the late party's address: nothing listens there, and refused
        // connects would only burn the shared CPUs).
        targets: w.hosts.slice(1).map((host) => ({ host, port: w.port })),
        sources,
        perSecond: ATTACK_PER_SECOND,
        identity: serializeIdentity(w.identities.get('p1')!),
        localId: 'p1',
        roster: rosterToJSON(w.roster),
        sessionId: w.sessionId,
      }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`attacker exited (${String(code)})`)));
      timer = setTimeout(() => reject(new Error(`attacker not ready within ${ATTACKER_START_MS} ms`)), ATTACKER_START_MS);
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  // SIGTERM, then SIGKILL: an attacker process once sat blocked on a futex (not running its
  // signal handler) and the repetition waited for it forever.
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return async () => {
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), ATTACKER_STOP_GRACE_MS);
    await exited;
    clearTimeout(kill);
    const line = out.split('\n').find((l) => l.startsWith('{'));
    return line === undefined ? undefined : (JSON.parse(line) as { cpuShare: number }).cpuShare;
  };
}

/** One repetition of one variant: the late party's join time, ms, and the group events counted. */
async function lateJoin(dns: DevDnsServer, net: number, sources: number, layout: Layout, root: string): Promise<JoinResult & { listenerCpuShare: number | undefined; attackerCpuShare: number | undefined }> {
  const w = await world(net);
  const name = `tasks.f${net}`;
  dns.setA(name, w.hosts);
  const configs = w.ids.map((id, i) => partyConfig(w, dns, id, name, i > 0, net));
  const events: Record<string, number> = {};
  // The party processes start (and load) before the attack and the clock; the single-process
  // layout runs every party on this process's event loop.
  const workers = layout === 'processes' ? configs.map((c) => spawnWorker(joinPath(root, 'bench', 'formation', 'party.ts'), c, { name: `formation.${c.id}`, root, deadlineMs: JOIN_TIMEOUT_MS + 30_000 })) : [];
  const groups: Group[] = [];
  const join = async (i: number): Promise<JoinResult> => {
    if (layout === 'processes') return workers[i]!.call<JoinResult>('join', {}, JOIN_TIMEOUT_MS + 10_000);
    const { group, result } = await joinParty(configs[i]!);
    groups.push(group);
    return result;
  };
  let stop: (() => Promise<number | undefined>) | undefined;
  try {
    await Promise.all(workers.map((wk) => wk.call('warm', {}, JOIN_TIMEOUT_MS)));
    stop = sources === 0 ? undefined : await slowloris(w, Array.from({ length: sources }, (_, i) => `127.0.${net}.${100 + i}`));
    const first = configs.slice(1).map((_, i) => join(i + 1));
    await new Promise((r) => setTimeout(r, LATE_START_MS));
    const late = await join(0);
    const listeners = await Promise.all(first);
    for (const r of [late, ...listeners]) {
      if (r.peers !== PARTIES - 1) throw new Error(`a party reported ${r.peers} channels, expected ${PARTIES - 1}`);
      addEvents(events, r.events);
    }
    // A listener's share of one CPU over its join (from its start to the late party's arrival).
    const share = layout === 'processes' ? listeners.map((r) => r.cpuMs / r.joinMs) : [];
    // Stopped here (not only in finally) to read its CPU share.
    const attackerCpuShare = await stop?.();
    stop = undefined;
    return { ...late, events, attackerCpuShare, listenerCpuShare: share.length === 0 ? undefined : share.reduce((a, b) => a + b, 0) / share.length };
  } finally {
    await stop?.();
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all(workers.map((wk) => wk.call('close', {}, 10_000).catch(() => undefined)));
    await Promise.all(workers.map((wk) => wk.stop()));
    dns.remove(name);
  }
}

/** Time from joinGroup to the typed refusal, ms. */
async function refusal(kind: 'bad-signature' | 'url-mismatch'): Promise<number> {
  const ids = ['p1', 'p2', 'p3'];
  const identities = new Map(ids.map((id) => [id, generateIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  const relayRoster =
    kind === 'bad-signature' ? createRoster(ids.map((id) => ({ id, publicKey: id === 'p2' ? generateIdentity('p2').publicKey : identities.get(id)!.publicKey }))) : roster;
  const relay = await startRelay({ rosters: [relayRoster], host: '127.0.0.1', port: 0, ...(kind === 'url-mismatch' ? { publicUrls: ['wss://relay.invalid'] } : {}) });
  try {
    const t0 = performance.now();
    const err = await joinGroup({ identity: identities.get('p2')!, roster, sessionId: `bench-${randomBytes(4).toString('hex')}`, transport: 'relay', relayUrl: `ws://127.0.0.1:${relay.port}`, timeoutMs: 60_000 }).then(
      (g) => g.close().then(() => undefined),
      (e: unknown) => e,
    );
    const ms = performance.now() - t0;
    if (!(err instanceof RelayError) || err.reason !== kind) throw new Error(`expected a RelayError ${kind}, got ${String((err as Error)?.message ?? err)}`);
    return ms;
  } finally {
    await relay.close();
  }
}

registerBenchmark({
  name: 'formation',
  description: 'mesh formation under a talking slowloris (1 and 8 sources, 70 hellos/s per listener) vs none, one process per party; time to a deterministic relay refusal',
  async run(opts: BenchOptions): Promise<BenchReport> {
    const repsFlag = opts.args.find((a) => a.startsWith('--reps='));
    const reps = repsFlag === undefined ? (opts.quick ? 2 : 5) : Number(repsFlag.slice(7));
    const layout: Layout = opts.args.includes('--single-process') ? 'single-process' : 'processes';
    const dns = await startDevDnsServer({ host: '127.0.0.1', port: 0 });
    const variants = [
      { label: 'no attack', sources: 0 },
      { label: 'slowloris, 1 source', sources: 1 },
      { label: 'slowloris, 8 sources', sources: 8 },
    ];
    const samples = new Map<string, number[]>(variants.map((v) => [v.label, []]));
    const ratios = new Map<string, number[]>(variants.slice(1).map((v) => [v.label, []]));
    const lateCpu = new Map<string, number[]>(variants.map((v) => [v.label, []]));
    const tallies = new Map<string, Record<string, number>[]>(variants.map((v) => [v.label, []]));
    const refusals = { 'bad-signature': [] as number[], 'url-mismatch': [] as number[] };
    try {
      let net = 80;
      for (let r = 0; r < reps; r++) {
        // Rotate the order per repetition so no variant always runs first.
        const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
        const got = new Map<string, number>();
        for (const v of order) {
          const { joinMs: ms, cpuMs, events, listenerCpuShare, attackerCpuShare } = await lateJoin(dns, net++, v.sources, layout, opts.root);
          got.set(v.label, ms);
          samples.get(v.label)!.push(ms);
          tallies.get(v.label)!.push(events);
          const counts = Object.entries(events).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`).join(', ');
          lateCpu.get(v.label)!.push(cpuMs);
          opts.log(`rep ${r + 1}/${reps} ${v.label}: ${ms.toFixed(0)} ms (late party CPU ${cpuMs.toFixed(0)} ms${listenerCpuShare === undefined ? '' : `, listener CPU ${(listenerCpuShare * 100).toFixed(0)} % each`}${attackerCpuShare === undefined ? '' : `, attacker CPU ${(attackerCpuShare * 100).toFixed(0)} %`})${counts === '' ? '' : ` (${counts})`}`);
        }
        for (const v of variants.slice(1)) ratios.get(v.label)!.push(got.get(v.label)! / got.get('no attack')!);
        for (const kind of ['bad-signature', 'url-mismatch'] as const) refusals[kind].push(await refusal(kind));
      }
    } finally {
      await dns.close();
    }
    const rows = variants.map((v) => [v.label, cell(summarize(samples.get(v.label)!), 0), v.sources === 0 ? '1' : cell(summarize(ratios.get(v.label)!), 2)]);
    return {
      parameters: { parties: PARTIES, layout, lateStartMs: LATE_START_MS, attackPerSecondPerListener: ATTACK_PER_SECOND, reps },
      tables: [
        { title: 'late egress-only party: joinGroup → mesh complete (ms, median (IQR)); ratio paired per repetition (target ≤ 2)', columns: ['variant', 'join ms', 'attacked ÷ none'], rows },
        {
          title: 'deterministic relay refusal: joinGroup → typed RelayError (ms; join deadline 60 s; target ≤ 5000)',
          columns: ['reason', 'ms'],
          rows: Object.entries(refusals).map(([k, v]) => [k, cell(summarize(v), 0)]),
        },
      ],
      data: { samples: Object.fromEntries(samples), lateCpuMs: Object.fromEntries(lateCpu), ratios: Object.fromEntries(ratios), events: Object.fromEntries(tallies), refusals },
    };
  },
});
