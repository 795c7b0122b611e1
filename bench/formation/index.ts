/**
 * Formation under attack, and how fast a refusal reaches a party (issues 17 item 3 and 16 item 4).
 *
 * - **slowloris**: five parties on their own 127.0.x.y addresses find each other through the
 *   development DNS server; four start, and the fifth — egress only, it must get into the others'
 *   listeners — starts 2.5 s later. Measured: that late party's `joinGroup` start → mesh complete,
 *   with no attack, and while an attacker process (attacker.ts) opens 70 connections a second to
 *   every listener that each send one valid hello and never finish, from 1 and from 8 source
 *   addresses. Variants run interleaved per
 *   repetition; the ratio attacked ÷ unattacked is paired per repetition (target ≤ 2).
 * - **refusal**: a party whose signature the relay rejects (`bad-signature`), and one that signed
 *   for another relay URL (`url-mismatch`): `joinGroup` start → the typed `RelayError` (target ≤ 5 s;
 *   the join deadline is 60 s).
 *
 * Flags (after `--`): `--reps=N` (default 5; --quick 2).
 *
 * @module
 */
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { join as joinPath } from 'node:path';
import { startDevDnsServer, type DevDnsServer } from '../../src/discovery/dev-dns-server.js';
import { dnsDiscovery } from '../../src/discovery/dns.js';
import { joinGroup, type Group } from '../../src/group/group.js';
import { generateIdentity, serializeIdentity, type Identity } from '../../src/identity/identity.js';
import { createRoster, rosterToJSON, type Roster } from '../../src/identity/roster.js';
import { startRelay } from '../../src/relay/server.js';
import { RelayError } from '../../src/relay/protocol.js';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { cell, summarize } from '../lib/stats.js';

const PARTIES = 5;
const LATE_START_MS = 2_500;
const ATTACK_PER_SECOND = 70;

interface World {
  ids: string[];
  identities: Map<string, Identity>;
  roster: Roster;
  sessionId: string;
  hosts: string[];
  port: number;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function world(net: number): Promise<World> {
  const ids = Array.from({ length: PARTIES }, (_, i) => `p${i + 1}`);
  const identities = new Map(ids.map((id) => [id, generateIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  const hosts = ids.map((_, i) => `127.0.${net}.${i + 1}`);
  return { ids, identities, roster, sessionId: `bench-${randomBytes(6).toString('hex')}`, hosts, port: await freePort(hosts[0]!) };
}

/** Counts of one repetition's group events, by party class and kind (e.g. `late dial-failed busy`). */
type Tally = Map<string, number>;

function count(tally: Tally, key: string): void {
  tally.set(key, (tally.get(key) ?? 0) + 1);
}

function join(w: World, dns: DevDnsServer, id: string, name: string, listen: boolean, tally: Tally, t0: number): Promise<Group> {
  const i = w.ids.indexOf(id);
  const who = listen ? 'listener' : 'late';
  const debug = process.env.BENCH_FORMATION_DEBUG === '1';
  return joinGroup({
    identity: w.identities.get(id)!,
    roster: w.roster,
    sessionId: w.sessionId,
    discovery: dnsDiscovery({ names: [name], port: w.port, servers: [`127.0.0.1:${dns.port}`], family: 4, timeoutMs: 500 }),
    listen: listen ? { host: w.hosts[i]!, port: w.port } : false,
    timeoutMs: 60_000,
    discoveryIntervalMs: 50,
    dialBackoff: { initialMs: 50, maxMs: 500 },
    onEvent: (e) => {
      if (e.type === 'dial-failed') count(tally, `${who} dial-failed ${e.reason ?? e.code}`);
      if (e.type === 'refused') count(tally, `${who} refused ${e.remoteAddress === '127.0.0.1' ? 'late party' : 'other'} ${e.reason ?? e.code}`);
      if (debug && (!listen || (e.type === 'refused' && e.remoteAddress === '127.0.0.1'))) process.stderr.write(`${(performance.now() - t0).toFixed(0).padStart(6)} ${id} ${JSON.stringify(e)}\n`);
    },
  });
}

/** Start the attacker process against every listener of `w`; resolves once it runs, with its stop. */
async function slowloris(w: World, sources: readonly string[]): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ['--import', 'tsx', joinPath(__dirname, 'attacker.ts')], {
    env: {
      ...process.env,
      CPL_ATTACK: JSON.stringify({
        targets: w.hosts.map((host) => ({ host, port: w.port })),
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
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`attacker exited (${String(code)})`)));
  });
  return () =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/** One repetition of one variant: the late party's join time, ms, and the group events counted. */
async function lateJoin(dns: DevDnsServer, net: number, sources: number): Promise<{ ms: number; tally: Tally }> {
  const tally: Tally = new Map();
  const start = performance.now();
  const w = await world(net);
  const name = `tasks.f${net}`;
  dns.setA(name, w.hosts);
  const stop = sources === 0 ? undefined : await slowloris(w, Array.from({ length: sources }, (_, i) => `127.0.${net}.${100 + i}`));
  const groups: Group[] = [];
  try {
    const first = w.ids.slice(1).map((id) => join(w, dns, id, name, true, tally, start));
    await new Promise((r) => setTimeout(r, LATE_START_MS));
    const t0 = performance.now();
    const late = await join(w, dns, 'p1', name, false, tally, start);
    const ms = performance.now() - t0;
    groups.push(late, ...(await Promise.all(first)));
    return { ms, tally };
  } finally {
    await stop?.();
    await Promise.all(groups.map((g) => g.close()));
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
  description: 'mesh formation under a talking slowloris (1 and 8 sources, 70 hellos/s per listener) vs none; time to a deterministic relay refusal',
  async run(opts: BenchOptions): Promise<BenchReport> {
    const repsFlag = opts.args.find((a) => a.startsWith('--reps='));
    const reps = repsFlag === undefined ? (opts.quick ? 2 : 5) : Number(repsFlag.slice(7));
    const dns = await startDevDnsServer({ host: '127.0.0.1', port: 0 });
    const variants = [
      { label: 'no attack', sources: 0 },
      { label: 'slowloris, 1 source', sources: 1 },
      { label: 'slowloris, 8 sources', sources: 8 },
    ];
    const samples = new Map<string, number[]>(variants.map((v) => [v.label, []]));
    const ratios = new Map<string, number[]>(variants.slice(1).map((v) => [v.label, []]));
    const tallies = new Map<string, Record<string, number>[]>(variants.map((v) => [v.label, []]));
    const refusals = { 'bad-signature': [] as number[], 'url-mismatch': [] as number[] };
    try {
      let net = 80;
      for (let r = 0; r < reps; r++) {
        // Rotate the order per repetition so no variant always runs first.
        const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
        const got = new Map<string, number>();
        for (const v of order) {
          const { ms, tally } = await lateJoin(dns, net++, v.sources);
          got.set(v.label, ms);
          samples.get(v.label)!.push(ms);
          tallies.get(v.label)!.push(Object.fromEntries(tally));
          const counts = [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`).join(', ');
          opts.log(`rep ${r + 1}/${reps} ${v.label}: ${ms.toFixed(0)} ms${counts === '' ? '' : ` (${counts})`}`);
        }
        for (const v of variants.slice(1)) ratios.get(v.label)!.push(got.get(v.label)! / got.get('no attack')!);
        for (const kind of ['bad-signature', 'url-mismatch'] as const) refusals[kind].push(await refusal(kind));
      }
    } finally {
      await dns.close();
    }
    const rows = variants.map((v) => [v.label, cell(summarize(samples.get(v.label)!), 0), v.sources === 0 ? '1' : cell(summarize(ratios.get(v.label)!), 2)]);
    return {
      parameters: { parties: PARTIES, lateStartMs: LATE_START_MS, attackPerSecondPerListener: ATTACK_PER_SECOND, reps },
      tables: [
        { title: 'late egress-only party: joinGroup → mesh complete (ms, median (IQR)); ratio paired per repetition (target ≤ 2)', columns: ['variant', 'join ms', 'attacked ÷ none'], rows },
        {
          title: 'deterministic relay refusal: joinGroup → typed RelayError (ms; join deadline 60 s; target ≤ 5000)',
          columns: ['reason', 'ms'],
          rows: Object.entries(refusals).map(([k, v]) => [k, cell(summarize(v), 0)]),
        },
      ],
      data: { samples: Object.fromEntries(samples), ratios: Object.fromEntries(ratios), events: Object.fromEntries(tallies), refusals },
    };
  },
});
