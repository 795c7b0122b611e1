/**
 * `coupler simulate`: run N parties of an algorithm as separate processes on this machine, each
 * started exactly as a vantage6 node starts an algorithm container (`coupler run` with base32
 * environment values, input/output files, a temporary folder), with generated identities, a
 * roster, and an embedded DNS server that answers `tasks.<service>` like Docker Swarm's.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { generateIdentity, saveIdentity } from '../identity/identity.js';
import { createRoster, rosterToJSON } from '../identity/roster.js';
import { startDevDnsServer } from '../discovery/dev-dns-server.js';
import { AbortedError, InvalidArgumentError, throwIfAborted } from '../errors.js';
import { DEMO_PROTOCOLS, demoVector } from './demo.js';

/** Options of {@link simulate}. */
export interface SimulateOptions {
  /** `demo` for the built-in demo, or a path to an algorithm module. */
  readonly algorithm: string;
  readonly parties: number;
  /** Method to call. Default `sum` for the demo. */
  readonly method?: string;
  /** JSON file: `{ "kwargs": {...}, "perParty": [{...}, ...] }` (perParty[i] is merged for party i). */
  readonly inputFile?: string;
  /**
   * One data file per party, given to party i as the vantage6 database labelled `default`
   * (`USER_REQUESTED_DATABASE_LABELS`, `DEFAULT_DATABASE_URI`, `DEFAULT_DATABASE_TYPE`), so the
   * algorithm reads it from `ctx.databases` exactly as on a node.
   */
  readonly dataFiles?: readonly string[];
  /** Demo: protocol, vector length, k, t. */
  readonly protocol?: string;
  readonly length?: number;
  readonly k?: number;
  readonly t?: number;
  /** `dns` (embedded DNS server, default) or `static` (COUPLER_PEERS list). */
  readonly discovery?: 'dns' | 'static';
  /** Overall deadline, seconds. Default 120. */
  readonly timeoutSeconds?: number;
  /** Keep the temporary folder (identities, inputs, outputs) for inspection. */
  readonly keep?: boolean;
  /** Print party log lines as they come. Default true. */
  readonly progress?: boolean;
  /** Where to print (default process.stdout). */
  readonly out?: (line: string) => void;
  /**
   * The `coupler` CLI script each party runs as `node <cliPath> run` (default: the script of this
   * process, `process.argv[1]`). Tests and embedders that call `simulate()` from their own
   * process pass the built `dist/cli.js` (or `src/cli/main.ts`, run through tsx).
   */
  readonly cliPath?: string;
  /** Stops the simulation: the parties are killed, the temporary folder removed, and `simulate` rejects with {@link AbortedError}. */
  readonly signal?: AbortSignal;
  /**
   * After the first party fails, how long the others may take to finish on their own before they
   * are stopped (SIGTERM, then SIGKILL). Default 1000 ms; the run cannot succeed any more, and
   * parties still waiting for the failed one would otherwise wait until their deadline.
   */
  readonly failFastMs?: number;
}

/** What one party did. */
export interface PartyOutcome {
  readonly party: string;
  readonly exitCode: number | null;
  readonly result: unknown;
  readonly elapsedMs: number;
  readonly traffic: { peer: string; bytesSent: number; bytesReceived: number }[];
}

/** The outcome of a simulation. */
export interface SimulationOutcome {
  readonly parties: PartyOutcome[];
  readonly agreed: boolean;
  /** For the demo: whether the sum matches the one computed in the clear by the simulator. */
  readonly correct: boolean | undefined;
  readonly elapsedMs: number;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Base32 (RFC 4648) with `=` written as `!`, as a vantage6 node encodes environment values. */
export function encodeNodeEnvValue(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '!';
  return out;
}

/**
 * A TCP port that is free on `host` right now (bind to port 0, read it, close).
 * @internal also used by the benchmarks.
 */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/**
 * Whether this machine lets us bind `host` (e.g. 127.0.0.2: Linux routes all of 127/8 to loopback).
 * @internal also used by the benchmarks.
 */
export async function canBind(host: string): Promise<boolean> {
  try {
    await freePort(host);
    return true;
  } catch {
    return false;
  }
}

/** `<LABEL>_DATABASE_TYPE` for a data file, from its extension (as a node operator would configure it). */
function databaseType(file: string): string {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') return 'parquet';
  if (ext === '.xlsx' || ext === '.xls') return 'excel';
  return 'other';
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === 'elapsedMs') return undefined;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    return v;
  });
}

/**
 * Run the simulation.
 * @throws {@link InvalidArgumentError} for bad options or input files.
 */
export async function simulate(options: SimulateOptions): Promise<SimulationOutcome> {
  const print = options.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const n = options.parties;
  if (!Number.isSafeInteger(n) || n < 2 || n > 64) throw new InvalidArgumentError('--parties must be an integer in 2..64');
  const demo = options.algorithm === 'demo' || options.algorithm === 'coupler:demo';
  const method = options.method ?? (demo ? 'sum' : undefined);
  if (method === undefined) throw new InvalidArgumentError('--method is required for an algorithm module');
  if (demo && options.protocol !== undefined && !(DEMO_PROTOCOLS as readonly string[]).includes(options.protocol)) {
    throw new InvalidArgumentError(`--protocol must be one of ${DEMO_PROTOCOLS.join(', ')}`);
  }
  const timeoutMs = Math.round((options.timeoutSeconds ?? 120) * 1000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new InvalidArgumentError('--timeout must be a positive number of seconds');
  const length = options.length ?? 1000;
  if (!Number.isSafeInteger(length) || length < 1 || length > 1 << 24) throw new InvalidArgumentError('--length must be an integer in 1..16777216');
  if (options.k !== undefined && (!Number.isSafeInteger(options.k) || options.k < 2 || options.k > n)) throw new InvalidArgumentError(`--k must be an integer in 2..${n} for ${n} parties`);
  if (options.t !== undefined && (!Number.isSafeInteger(options.t) || options.t < 2 || options.t > n)) throw new InvalidArgumentError(`--t must be an integer in 2..${n} for ${n} parties`);
  if (!demo) {
    const st = await stat(resolve(options.algorithm)).catch(() => undefined);
    if (st === undefined || !st.isFile()) throw new InvalidArgumentError(`the algorithm module ${resolve(options.algorithm)} does not exist (give "demo" or the path of a module)`);
  }
  throwIfAborted(options.signal);

  let common: Record<string, unknown> = {};
  let perParty: Record<string, unknown>[] = [];
  if (options.inputFile !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(options.inputFile, 'utf8'));
    } catch (err) {
      throw new InvalidArgumentError(`--input: cannot read a JSON object from the file (${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('--input: the file must hold a JSON object');
    const p = parsed as { kwargs?: unknown; perParty?: unknown };
    if (p.kwargs !== undefined && (typeof p.kwargs !== 'object' || p.kwargs === null || Array.isArray(p.kwargs))) {
      throw new InvalidArgumentError('--input: "kwargs" must be an object');
    }
    if (p.perParty !== undefined && (!Array.isArray(p.perParty) || p.perParty.some((x) => typeof x !== 'object' || x === null || Array.isArray(x)))) {
      throw new InvalidArgumentError('--input: "perParty" must be an array of objects');
    }
    common = (p.kwargs as Record<string, unknown>) ?? {};
    perParty = (p.perParty as Record<string, unknown>[]) ?? [];
    if (perParty.length > 0 && perParty.length !== n) throw new InvalidArgumentError(`--input: "perParty" has ${perParty.length} entries for ${n} parties`);
  }

  const dataFiles = (options.dataFiles ?? []).map((f) => resolve(f));
  if (dataFiles.length > 0) {
    if (dataFiles.length !== n) throw new InvalidArgumentError(`--data: ${dataFiles.length} data files for ${n} parties (give one per party)`);
    for (const f of dataFiles) {
      const st = await stat(f).catch(() => undefined);
      if (st === undefined || !st.isFile()) throw new InvalidArgumentError(`--data: ${f} is not a readable file`);
    }
  }

  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'coupler-sim-'));
  const children: ChildProcess[] = [];
  const timers: NodeJS.Timeout[] = [];
  let stopping = false;
  /** Stop every party still running: SIGTERM (they close their groups and exit), SIGKILL after 3 s. */
  const stopParties = (why: string): void => {
    if (stopping) return;
    stopping = true;
    print(`coupler simulate: ${why}; stopping the parties`);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    timers.push(setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, 3000));
  };
  const onAbort = (): void => stopParties('stopped');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const failFastMs = options.failFastMs ?? 1000;
  // Parties whose entry point is up (it has printed its first line, so its signal handlers are
  // installed) or that have exited. Fail-fast waits for all of them: a party still starting Node
  // would otherwise be killed by the stop signal before it could even report its own error.
  const up = new Set<string>();
  let pendingStop: string | undefined;
  const scheduleStop = (why: string): void => {
    pendingStop ??= why;
    if (up.size < n || stopping) return;
    const reason = pendingStop;
    timers.push(setTimeout(() => stopParties(reason), failFastMs));
    pendingStop = undefined;
  };
  const markUp = (id: string): void => {
    if (up.has(id)) return;
    up.add(id);
    if (pendingStop !== undefined) scheduleStop(pendingStop);
  };
  const dns = options.discovery === 'static' ? undefined : await startDevDnsServer({ host: '127.0.0.1', port: 0 });
  try {
    const ids = Array.from({ length: n }, (_, i) => String(i + 1));
    const identities = ids.map((id) => generateIdentity(id));
    const roster = createRoster(identities.map((x) => ({ id: x.id!, publicKey: x.publicKey })));
    const rosterFile = join(dir, 'roster.json');
    await writeFile(rosterFile, rosterToJSON(roster));
    // Like Docker: every party has its own address and the same port, when loopback allows it.
    const perAddress = await canBind('127.0.0.2');
    const hosts = ids.map((_, i) => (perAddress ? `127.0.0.${i + 2}` : '127.0.0.1'));
    const samePort = perAddress ? await freePort('127.0.0.1') : 0;
    const ports = perAddress ? ids.map(() => samePort) : await Promise.all(ids.map(() => freePort('127.0.0.1')));
    const service = 'tasks.coupler-sim';
    if (dns !== undefined) {
      if (!perAddress) throw new InvalidArgumentError('DNS discovery needs per-party loopback addresses (127.0.0.2...); use --discovery static');
      dns.setA(service, hosts);
    }
    const sessionId = `sim-${randomBytes(12).toString('hex')}`;
    const cliPath = options.cliPath ?? process.argv[1] ?? '';
    const moduleSpec = demo ? 'coupler:demo' : resolve(options.algorithm);
    const needsTsx = cliPath.endsWith('.ts') || moduleSpec.endsWith('.ts') || moduleSpec.endsWith('.mts');
    print(`coupler simulate: ${n} parties, ${demo ? `demo (${options.protocol ?? 'secureSum'}, length ${length})` : moduleSpec} method "${method}", discovery ${dns ? `dns (${service} via 127.0.0.1:${dns.port})` : 'static'}`);

    const outcomes = ids.map(async (id, i): Promise<PartyOutcome> => {
      const pdir = join(dir, `party-${id}`);
      await mkdir(join(pdir, 'tmp'), { recursive: true, mode: 0o700 });
      await saveIdentity(join(pdir, 'identity.json'), identities[i]!);
      const kwargs: Record<string, unknown> = { ...common, ...(perParty[i] ?? {}), sessionId };
      if (demo) Object.assign(kwargs, { protocol: options.protocol ?? 'secureSum', length, index: i, ...(options.k !== undefined ? { k: options.k } : {}), ...(options.t !== undefined ? { t: options.t } : {}) });
      await writeFile(join(pdir, 'input'), JSON.stringify({ method, args: [], kwargs }));
      await writeFile(join(pdir, 'output'), '');
      const raw: Record<string, string> = {
        INPUT_FILE: join(pdir, 'input'),
        OUTPUT_FILE: join(pdir, 'output'),
        TEMPORARY_FOLDER: join(pdir, 'tmp'),
        ORGANIZATION_ID: id,
        TASK_ID: '1',
        COUPLER_IDENTITY_FILE: join(pdir, 'identity.json'),
        COUPLER_ROSTER_FILE: rosterFile,
        COUPLER_PORT: String(ports[i]),
        COUPLER_LISTEN_HOST: hosts[i]!,
        COUPLER_STATS_FILE: join(pdir, 'stats.json'),
        ...(dataFiles[i] === undefined
          ? {}
          : { USER_REQUESTED_DATABASE_LABELS: 'default', DEFAULT_DATABASE_URI: dataFiles[i]!, DEFAULT_DATABASE_TYPE: databaseType(dataFiles[i]!) }),
        COUPLER_JOIN_TIMEOUT_MS: String(timeoutMs),
        COUPLER_ROUND_TIMEOUT_MS: String(timeoutMs),
        ...(dns
          ? { COUPLER_DISCOVERY: 'dns', COUPLER_DNS_NAMES: service, COUPLER_DNS_SERVERS: `127.0.0.1:${dns.port}` }
          : { COUPLER_DISCOVERY: 'static', COUPLER_PEERS: ids.map((_, j) => `${hosts[j]}:${ports[j]}`).join(',') }),
      };
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? dir,
        PKG_NAME: moduleSpec,
        // The party exits (and removes this folder) if simulate disappears, even by SIGKILL.
        COUPLER_SIM_PARENT_PID: String(process.pid),
        COUPLER_SIM_DIR: dir,
      };
      for (const [k, v] of Object.entries(raw)) env[k] = encodeNodeEnvValue(v);
      const t0 = Date.now();
      const child = spawn(process.execPath, [...(needsTsx ? ['--import', 'tsx'] : []), cliPath, 'run'], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
      children.push(child);
      if (stopping) child.kill('SIGTERM');
      const lines = createInterface({ input: child.stderr! });
      lines.on('line', (line) => {
        markUp(id);
        if (options.progress !== false) print(`  [party ${id}] ${line.replace(/^\[coupler\] /, '')}`);
      });
      child.stdout!.on('data', (d: Buffer) => {
        if (options.progress !== false) for (const l of d.toString('utf8').split('\n')) if (l.trim()) print(`  [party ${id}] ${l}`);
      });
      const exitCode = await new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      markUp(id);
      if (exitCode !== 0 && !stopping) {
        // The run cannot succeed any more; parties still waiting for this one would wait until
        // their deadline. Give them a moment to finish (and report what they saw), then stop them.
        scheduleStop(`party ${id} failed`);
      }
      let result: unknown;
      try {
        const text = await readFile(join(pdir, 'output'), 'utf8');
        result = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        result = undefined;
      }
      let traffic: PartyOutcome['traffic'] = [];
      try {
        traffic = (JSON.parse(await readFile(join(pdir, 'stats.json'), 'utf8')) as { peers: PartyOutcome['traffic'] }).peers;
      } catch {
        /* no stats: the party did not form a group */
      }
      return { party: id, exitCode, result, elapsedMs: Date.now() - t0, traffic };
    });
    timers.push(setTimeout(() => stopParties(`deadline of ${timeoutMs / 1000} s passed`), timeoutMs + 5000));
    const parties = await Promise.all(outcomes);
    if (options.signal?.aborted) throw new AbortedError('simulation stopped');

    const ok = parties.filter((p) => p.exitCode === 0 && p.result !== undefined);
    const agreed = ok.length === n && ok.every((p) => canonical(p.result) === canonical(ok[0]!.result));
    let correct: boolean | undefined;
    if (demo && ok.length > 0) {
      const expected = new Float64Array(length);
      for (let i = 0; i < n; i++) {
        const v = demoVector(i, length);
        for (let j = 0; j < length; j++) expected[j]! += v[j]!;
      }
      // Each input element is rounded to the fixed-point grid (2^-16) once: |error| ≤ n·2^-17 per
      // element, so ≤ L·n·2^-17 for the total.
      const r = ok[0]!.result as { head: number[]; total: number };
      let expectedTotal = 0;
      for (let j = 0; j < length; j++) expectedTotal += expected[j]!;
      correct =
        r.head.every((h, j) => Math.abs(h - expected[j]!) <= n * 2 ** -15) &&
        typeof r.total === 'number' &&
        Math.abs(r.total - expectedTotal) <= length * n * 2 ** -15 + Math.abs(expectedTotal) * 1e-12;
    }

    print('');
    print('party  exit  time(ms)  sent(bytes)  received(bytes)  result');
    for (const p of parties) {
      const sent = p.traffic.reduce((a, t) => a + t.bytesSent, 0);
      const recv = p.traffic.reduce((a, t) => a + t.bytesReceived, 0);
      const res = p.result === undefined ? '(no result)' : JSON.stringify(p.result).slice(0, 110);
      print(`${p.party.padStart(5)}  ${String(p.exitCode).padStart(4)}  ${String(p.elapsedMs).padStart(8)}  ${String(sent).padStart(11)}  ${String(recv).padStart(15)}  ${res}`);
    }
    const trafficLines = parties.flatMap((p) => p.traffic.map((t) => `  ${p.party} -> ${t.peer}: sent ${t.bytesSent} B, received ${t.bytesReceived} B`));
    if (trafficLines.length > 0 && n <= 8) {
      print('');
      print('traffic per peer (wire bytes, including framing and authentication tags):');
      for (const l of trafficLines) print(l);
    }
    print('');
    print(`agreement: ${agreed ? `all ${n} parties report the same result` : 'FAILED: parties disagree or some failed'}`);
    if (correct !== undefined) print(`check against the sum computed in the clear: ${correct ? 'correct' : 'WRONG'}`);
    const elapsedMs = Date.now() - started;
    print(`total time: ${elapsedMs} ms`);
    if (options.keep) print(`files kept in ${dir}`);
    return { parties, agreed, correct, elapsedMs };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    for (const t of timers) clearTimeout(t);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await dns?.close();
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
}
