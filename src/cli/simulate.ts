/**
 * `coupler simulate`: run N parties of an algorithm as separate processes on this machine, each
 * started exactly as a vantage6 node starts an algorithm container (`coupler run` with base32
 * environment values, input/output files, the node proxy's address; under 4.x a temporary folder
 * and a token file, not the ids as variables; under 5.x a session folder with its state file and
 * the ids as variables), with generated identities, a
 * roster, and an embedded DNS server that answers `tasks.<service>` like Docker Swarm's.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { generateIdentity, saveIdentity } from '../identity/identity.js';
import { createRoster, rosterToJSON } from '../identity/roster.js';
import { startDevDnsServer } from '../discovery/dev-dns-server.js';
import { AbortedError, CouplerError, ErrorCode, InvalidArgumentError, throwIfAborted } from '../errors.js';
import { startRelay, type RelayServer } from '../relay/server.js';
import { DEMO_PROTOCOLS, demoVector } from './demo.js';
import { canBind, freePort } from './ports.js';
import { SESSION_STATE_FILE, writeDataframe, writeSessionStateFile } from './dataframes.js';
import { PROGRESS_LOG_PREFIX } from '../vantage6/peer.js';
import { KEY_EXCHANGE_METHOD } from '../vantage6/keys.js';
import { decodeTokenClaims, simulatedV4ContainerToken } from '../vantage6/proxy-client.js';
import type { RunProgress } from '../group/group.js';
import { readBoundedFile } from '../files.js';
import { DEFAULT_MAX_INPUT_BYTES } from '../vantage6/contract.js';

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
  /**
   * Print party log lines as they come (default true), and each sum's progress per party: on a
   * terminal (`live`) one status line redrawn in place; otherwise a plain line when a party's
   * run changes phase.
   */
  readonly progress?: boolean;
  /** Draw the progress as a live status line (default: when standard output is a terminal and `out` is not given). */
  readonly live?: boolean;
  /**
   * What to print at the end: `full` (default: the table, traffic per peer, agreement, timing),
   * `results` (only each party's result, one line `<party> <JSON>` each; failures on stderr-like
   * lines starting with `#`), `json` (one JSON document with every party's full result, exit,
   * signal, pid, traffic and paths, the agreement and the differences). `results` and `json`
   * print nothing else (no header, no progress).
   */
  readonly report?: 'full' | 'results' | 'json';
  /**
   * The vantage6 contract the parties run under (default 4), with the environment a node of that
   * version gives a container. 4 (as vantage6 4.14's docker/task_manager.py): `{method, args,
   * kwargs}` in `INPUT_FILE`, a `TEMPORARY_FOLDER`, a `TOKEN_FILE` (mode 0600, a JWT shaped as a
   * 4.14 server issues it, whose claims carry the organization id `1`…`n` and task id `1`; no
   * `ORGANIZATION_ID`/`TASK_ID` variables), `HOST`/`PORT`/`API_PATH` of a stand-in node proxy on
   * 127.0.0.1 that answers every request with HTTP 501 (there is no vantage6 server), data as
   * the database `default` (`DEFAULT_DATABASE_URI`, `USER_REQUESTED_DATABASE_LABELS`, `DB_LABELS`).
   * 5 (as vantage6 5.0's k8s/container_manager.py): kwargs in `INPUT_FILE`, `ALGORITHM_METHOD`,
   * `FUNCTION_ACTION=federated_compute`, `ORGANIZATION_ID`, `TASK_ID`, `NODE_ID`,
   * `COLLABORATION_ID`, `HOST`/`PORT`/`API_PATH` of the same stand-in proxy (a 5.0 node gives
   * every container its proxy's address), a `SESSION_FOLDER` and `SESSION_FILE` (the session's
   * `session_state.parquet` in it, as a node writes it), `USER_REQUESTED_DATAFRAMES` always (`""`
   * without data), no temporary folder and no token (a federated step gets none), data as the
   * Parquet dataframe `default` in the session folder (CSV data files are converted).
   */
  readonly vantage6?: 4 | 5;
  /**
   * How the parties connect (default `direct`). `relay`: an embedded relay on 127.0.0.1 (given the
   * roster) and every party with `COUPLER_TRANSPORT=relay` (no listener); `auto`: direct first,
   * the embedded relay for pairs still unconnected after 2 s. The report names each pair's path.
   */
  readonly transport?: 'direct' | 'relay' | 'auto';
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
  /** The process id it ran as. */
  readonly pid: number | undefined;
  /** Its exit code, or `null` when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended it (e.g. `SIGKILL`), or `null`. */
  readonly signal: NodeJS.Signals | null;
  readonly result: unknown;
  readonly elapsedMs: number;
  /**
   * Bytes per peer, the liveness probes and answers among the messages, and the path each channel
   * took (`direct` or `relay`).
   */
  readonly traffic: { peer: string; bytesSent: number; bytesReceived: number; probesSent?: number; probesReceived?: number; path?: 'direct' | 'relay' }[];
  /**
   * Why it failed, from the error line its entry point printed (`[coupler] error: <CODE>: <message>`):
   * the `COUPLER_ERR_*` code (`undefined` for an error without one, e.g. `RangeError`) and the
   * message. `undefined` when it printed none (it succeeded, or a signal ended it first).
   */
  readonly error: PartyError | undefined;
}

/** A failed party's error, as its entry point reported it (see {@link PartyOutcome.error}). */
export interface PartyError {
  /** The stable `COUPLER_ERR_*` code, or `undefined` for an error that has none. */
  readonly code: string | undefined;
  /** The message (for an error without a code, with its class name first, e.g. `RangeError: ...`). */
  readonly message: string;
}

/** The error line `coupler run` prints (src/vantage6/contract.ts, runAlgorithm), after `[coupler] `. */
const ERROR_LINE = 'error: ';

/** Split an error line's text into its code and message. */
function partyError(text: string): PartyError {
  const m = /^(COUPLER_ERR_[A-Z0-9_]+): ([\s\S]*)$/.exec(text);
  return m === null ? { code: undefined, message: text } : { code: m[1]!, message: m[2]! };
}

/** One line for a party's error: `CODE: message` or the message. */
function describePartyError(e: PartyError): string {
  return e.code === undefined ? e.message : `${e.code}: ${e.message}`;
}

/** Where the parties' results differ (see {@link SimulationOutcome.differences}). */
export interface ResultDifference {
  /** Top-level field of the result (`""` when the results are not objects or differ as a whole). */
  readonly field: string;
  /** The parties, grouped by the value they report for that field (each group in party order). */
  readonly groups: readonly (readonly string[])[];
}

/** The outcome of a simulation. */
export interface SimulationOutcome {
  readonly parties: PartyOutcome[];
  readonly agreed: boolean;
  /** When parties that finished disagree: which fields differ and who reports what. */
  readonly differences: readonly ResultDifference[];
  /** Parties that failed or gave no result. */
  readonly failed: readonly string[];
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

/** The `image` claim of a simulated 4.x container token (there is no image: the parties run on this machine). */
const SIMULATED_IMAGE = 'coupler-simulate';

/** What the stand-in node proxy answers: simulate runs no vantage6 server. */
const NO_SERVER_STATUS = 501;

/**
 * The stand-in for the node proxy (`HOST`/`PORT` of the simulated parties, 4.x and 5.x): every request is
 * answered {@link NO_SERVER_STATUS} with a JSON `msg`, the way the proxy reports errors; `onCall`
 * hears of each with the caller's organization (from its bearer token) when it has one.
 */
async function startNoServerProxy(onCall: (organizationId: number | undefined, method: string, path: string) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server: HttpServer = createHttpServer((req, res) => {
    req.resume();
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    let org: number | undefined;
    try {
      org = bearer === undefined ? undefined : decodeTokenClaims(bearer).organizationId;
    } catch {
      org = undefined;
    }
    onCall(org, req.method ?? '?', (req.url ?? '/').split('?')[0]!.slice(0, 100));
    res.writeHead(NO_SERVER_STATUS, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ msg: 'coupler simulate runs no vantage6 server: this node proxy answers nothing' }));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
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

/** Which fields of the parties' results differ, and how the parties group by value. */
export function resultDifferences(results: readonly { party: string; result: unknown }[]): ResultDifference[] {
  const groupBy = (value: (r: unknown) => unknown): string[][] => {
    const m = new Map<string, string[]>();
    for (const r of results) {
      const k = canonical(value(r.result)) ?? 'undefined';
      m.set(k, [...(m.get(k) ?? []), r.party]);
    }
    return [...m.values()];
  };
  if (results.length < 2) return [];
  const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!results.every((r) => isRecord(r.result))) {
    const groups = groupBy((v) => v);
    return groups.length > 1 ? [{ field: '', groups }] : [];
  }
  const fields = [...new Set(results.flatMap((r) => Object.keys(r.result as object)))].filter((f) => f !== 'elapsedMs').sort();
  const out: ResultDifference[] = [];
  for (const f of fields) {
    const groups = groupBy((v) => (v as Record<string, unknown>)[f]);
    if (groups.length > 1) out.push({ field: f, groups });
  }
  return out;
}

/** The progress log line of a party (`COUPLER_PROGRESS=1`, see src/vantage6/peer.ts), after `[coupler] `. */
const PROGRESS_LINE = `info: ${PROGRESS_LOG_PREFIX}`;

/** Megabytes with one decimal. */
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** How often, at most, a plain (non-terminal) progress line shows every party's bytes so far, in ms. */
export const PLAIN_PROGRESS_INTERVAL_MS = 1000;

/**
 * The parties' progress: on a terminal one status line, redrawn in place below the log lines
 * (`party 1 open 12.3/40.1 MB · party 2 …`); otherwise a plain line whenever a party's run
 * changes phase, and in between, at most every {@link PLAIN_PROGRESS_INTERVAL_MS}, one line with
 * every party's phase and bytes (a long opening is not silent).
 * @internal exported for tests.
 */
export class ProgressStatus {
  readonly #state = new Map<string, RunProgress>();
  #shown = false;
  #lastPlain = -Infinity;
  constructor(
    readonly ids: readonly string[],
    readonly emit: (line: string) => void,
    readonly live: boolean,
    readonly now: () => number = Date.now,
  ) {}

  update(party: string, json: string): void {
    let p: RunProgress;
    try {
      p = JSON.parse(json) as RunProgress;
    } catch {
      return;
    }
    if (typeof p !== 'object' || p === null || typeof p.phase !== 'string') return;
    const before = this.#state.get(party);
    this.#state.set(party, p);
    if (this.live) this.#draw();
    else if (before === undefined || before.phase !== p.phase || before.runId !== p.runId) {
      this.emit(`  [party ${party}] ${p.protocol} ${p.runId}: ${p.phase}, sent ${mb(p.bytesSent)}, received ${mb(p.bytesReceived)}, ${(p.elapsedMs / 1000).toFixed(1)} s`);
      this.#lastPlain = this.now();
    } else if (this.now() - this.#lastPlain >= PLAIN_PROGRESS_INTERVAL_MS) {
      this.emit(`  ${this.#summary()}`);
      this.#lastPlain = this.now();
    }
  }

  /** `progress: 1 open 12.3 MB↑ 11.0 MB↓ · 2 …` for the parties that reported. */
  #summary(): string {
    const parts = this.ids.filter((id) => this.#state.has(id)).map((id) => {
      const p = this.#state.get(id)!;
      return `${id} ${p.phase} ${mb(p.bytesSent)}↑ ${mb(p.bytesReceived)}↓`;
    });
    return `progress: ${parts.join(' · ')}`;
  }

  /** Print a log line (above the status line on a terminal). */
  print(line: string): void {
    if (this.live && this.#shown) process.stdout.write('\r\x1b[K');
    this.emit(line);
    if (this.live && this.#shown) this.#draw();
  }

  #draw(): void {
    if (this.#state.size === 0) return;
    const cols = process.stdout.columns ?? 120;
    process.stdout.write(`\r\x1b[K${this.#summary().slice(0, Math.max(20, cols - 1))}`);
    this.#shown = true;
  }

  /** Remove the status line (before the report). */
  clear(): void {
    if (this.live && this.#shown) process.stdout.write('\r\x1b[K');
    this.#shown = false;
  }
}

function describeDifferences(diffs: readonly ResultDifference[]): string {
  return diffs
    .slice(0, 8)
    .map((d) => `${d.field === '' ? 'the result' : `field "${d.field}"`}: ${d.groups.map((g) => `${g.length === 1 ? 'party' : 'parties'} ${g.join(', ')}`).join(' vs ')}`)
    .join('; ');
}

/** Shortest name that counts as a prefix match in {@link suggest} (a one-letter option such as `--t` must not swallow every name starting with t). */
const MIN_PREFIX_CHARS = 3;

/**
 * "did you mean" for a name among candidates: edit distance ≤ 2 (a swap of two neighbouring
 * letters counts as one edit), or one of them a prefix of the other (of at least 3 characters).
 */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
    return d[a.length]![b.length]!;
  };
  const prefix = (short: string, long: string): boolean => short.length >= MIN_PREFIX_CHARS && long.startsWith(short);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = prefix(name, c) || prefix(c, name) ? 1 : dist(name.toLowerCase(), c.toLowerCase());
    if (dd < bestD) {
      best = c;
      bestD = dd;
    }
  }
  return bestD <= Math.max(1, Math.min(2, Math.floor(name.length / 3))) ? best : undefined;
}

/** Whether `--import tsx` would work for the parties (tsx resolvable from the working directory or from coupler). */
function tsxAvailable(): boolean {
  for (const base of [join(process.cwd(), 'noop.js'), __filename]) {
    try {
      createRequire(base).resolve('tsx');
      return true;
    } catch {
      /* try the next */
    }
  }
  return false;
}

/** The methods a module exports, asked of a `coupler run --list-methods` process (it loads the module as the parties will). */
async function listMethods(cliPath: string, moduleSpec: string, needsTsx: boolean, signal?: AbortSignal): Promise<string[] | undefined> {
  const child = spawn(process.execPath, [...(needsTsx ? ['--import', 'tsx'] : []), cliPath, 'run', '--list-methods', '--module', moduleSpec], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    ...(signal ? { signal } : {}),
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((r) => {
    child.once('error', () => r(null));
    child.once('exit', (c) => r(c));
  });
  clearTimeout(timer);
  if (code !== 0) {
    const line = err.split('\n').find((l) => l.trim() !== '') ?? `exit ${String(code)}`;
    throw new InvalidArgumentError(`the algorithm module cannot be loaded: ${line.replace(/^coupler: /, '').slice(0, 300)}`);
  }
  try {
    const v = JSON.parse(out) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Run the simulation.
 * @throws {@link InvalidArgumentError} for bad options or input files.
 */
export async function simulate(options: SimulateOptions): Promise<SimulationOutcome> {
  const out = options.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const report = options.report ?? 'full';
  if (report !== 'full' && report !== 'results' && report !== 'json') throw new InvalidArgumentError('"report" must be full, results or json');
  // Everything but the final report goes through `print`, silent unless the report is the full one.
  const print = report === 'full' ? out : (): void => undefined;
  const version = options.vantage6 ?? 4;
  if (version !== 4 && version !== 5) throw new InvalidArgumentError('--vantage6 must be 4 or 5');
  const transport = options.transport ?? 'direct';
  if (transport !== 'direct' && transport !== 'relay' && transport !== 'auto') throw new InvalidArgumentError('--transport must be direct, relay or auto');
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
    const where = `--input ${options.inputFile.slice(0, 300)}`;
    let text: string;
    try {
      // Bounded, and never waiting on a FIFO with no writer (review22 R22-3): the cap a party's
      // INPUT_FILE has (the input is written to one per party).
      text = (await readBoundedFile(options.inputFile, DEFAULT_MAX_INPUT_BYTES)).bytes.toString('utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOTREG' ? 'not a regular file' : code === 'EFBIG' ? `larger than ${DEFAULT_MAX_INPUT_BYTES} bytes` : (code ?? 'error');
      throw new InvalidArgumentError(`${where}: cannot read the file (${why})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InvalidArgumentError(`${where}: not valid JSON (${(err as Error).message.slice(0, 120)})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`${where}: the file must hold a JSON object {"kwargs": {...}, "perParty": [...]}`);
    const p = parsed as { kwargs?: unknown; perParty?: unknown };
    const unknownKeys = Object.keys(p).filter((k) => k !== 'kwargs' && k !== 'perParty');
    if (unknownKeys.length > 0) throw new InvalidArgumentError(`${where}: unknown field "${unknownKeys[0]!.slice(0, 40)}" (the file holds "kwargs" and "perParty")`);
    if (p.kwargs !== undefined && (typeof p.kwargs !== 'object' || p.kwargs === null || Array.isArray(p.kwargs))) {
      throw new InvalidArgumentError(`${where}: "kwargs" must be an object`);
    }
    if (p.perParty !== undefined && (!Array.isArray(p.perParty) || p.perParty.some((x) => typeof x !== 'object' || x === null || Array.isArray(x)))) {
      throw new InvalidArgumentError(`${where}: "perParty" must be an array of objects`);
    }
    common = (p.kwargs as Record<string, unknown>) ?? {};
    perParty = (p.perParty as Record<string, unknown>[]) ?? [];
    if (perParty.length > 0 && perParty.length !== n) throw new InvalidArgumentError(`${where}: "perParty" has ${perParty.length} entries for ${n} parties`);
  }

  const dataFiles = (options.dataFiles ?? []).map((f) => resolve(f));
  if (dataFiles.length > 0) {
    if (dataFiles.length !== n) throw new InvalidArgumentError(`--data: ${dataFiles.length} data files for ${n} parties (give one per party)`);
    for (const f of dataFiles) {
      const st = await stat(f).catch(() => undefined);
      if (st === undefined || !st.isFile()) throw new InvalidArgumentError(`--data: ${f} is not a readable file`);
    }
  }

  const cliPath = options.cliPath ?? process.argv[1] ?? '';
  const moduleSpec = demo ? 'coupler:demo' : resolve(options.algorithm);
  const needsTsx = cliPath.endsWith('.ts') || moduleSpec.endsWith('.ts') || moduleSpec.endsWith('.mts') || moduleSpec.endsWith('.cts');
  if (needsTsx && !tsxAvailable()) {
    throw new InvalidArgumentError(
      'the algorithm module is TypeScript: install tsx where you run coupler (npm install --save-dev tsx), or compile the module to JavaScript (.js/.mjs) first',
    );
  }
  if (!demo) {
    // Check the method before starting any party: the module is loaded once, as the parties will.
    const methods = await listMethods(cliPath, moduleSpec, needsTsx, options.signal);
    // The runtime's built-in method runs too, but the module does not export it: not listed.
    if (methods !== undefined && !methods.includes(method) && method !== KEY_EXCHANGE_METHOD) {
      const hint = suggest(method, [...methods, KEY_EXCHANGE_METHOD]);
      throw new InvalidArgumentError(
        `--method "${method.slice(0, 60)}" is not a function the module exports${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; it exports: ${methods.length > 0 ? methods.slice(0, 30).join(', ') : 'none'}`,
      );
    }
  }
  throwIfAborted(options.signal);

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
  const dns = options.discovery === 'static' || transport === 'relay' ? undefined : await startDevDnsServer({ host: '127.0.0.1', port: 0 });
  let relay: RelayServer | undefined;
  let nodeProxy: { port: number; close(): Promise<void> } | undefined;
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
    // 5.x: every data file as a Parquet dataframe, converted before any party starts; an error
    // names the file (the reader's own message names only the line).
    const dataframes: string[] = [];
    if (version === 5) {
      for (const [i, f] of dataFiles.entries()) {
        const target = join(dir, `dataframe-${i + 1}.parquet`);
        try {
          await writeDataframe(f, target);
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          const code = err instanceof CouplerError ? err.code : ErrorCode.INVALID_ARGUMENT;
          throw new CouplerError(code, `--data ${f.slice(0, 300)}: cannot hand it over as a Parquet dataframe (--vantage6 5): ${why.slice(0, 300)}`, { cause: err });
        }
        dataframes.push(target);
      }
    }
    const sessionId = `sim-${randomBytes(12).toString('hex')}`;
    if (transport !== 'direct') relay = await startRelay({ rosters: [roster], host: '127.0.0.1', port: 0 });
    const relayUrl = relay === undefined ? undefined : `ws://127.0.0.1:${relay.port}`;
    print(
      `coupler simulate: ${n} parties, ${demo ? `demo (${options.protocol ?? 'secureSum'}, length ${length})` : moduleSpec} method "${method}", vantage6 ${version}.x contract, ` +
        (transport === 'relay' ? `every pair through the relay at ${relayUrl}` : `discovery ${dns ? `dns (${service} via 127.0.0.1:${dns.port})` : 'static'}${transport === 'auto' ? `, relay at ${relayUrl} for pairs without a direct path` : ''}`),
    );

    const status = new ProgressStatus(ids, print, options.live ?? (options.out === undefined && process.stdout.isTTY === true));
    // Every container gets the node proxy's address (4.14 task_manager.py:540-548; 5.0
    // k8s/container_manager.py:424-427, 440, whatever the step); under 4.x every container also
    // gets a token, under 5.x a federated step none. The proxy here is a stand-in that refuses
    // every call, and the tokens are signed with a key no server knows.
    const tokenKey = randomBytes(32);
    const called = new Set<number | undefined>();
    nodeProxy = await startNoServerProxy((org, method, path) => {
      if (called.has(org) || options.progress === false) return;
      called.add(org);
      status.print(`  [${org === undefined ? 'a party' : `party ${org}`}] node proxy: ${method} ${path} answered ${NO_SERVER_STATUS} (coupler simulate runs no vantage6 server)`);
    });
    const proxyAddress = { HOST: 'http://127.0.0.1', PORT: String(nodeProxy.port), API_PATH: '' };
    const outcomes = ids.map(async (id, i): Promise<PartyOutcome> => {
      const pdir = join(dir, `party-${id}`);
      // 4.x: a per-job TEMPORARY_FOLDER; 5.x: a SESSION_FOLDER (read-write, shared by the session's
      // tasks on the node) holding the requested dataframes.
      const stateDir = join(pdir, version === 5 ? 'session' : 'tmp');
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      await saveIdentity(join(pdir, 'identity.json'), identities[i]!);
      const kwargs: Record<string, unknown> = { ...common, ...(perParty[i] ?? {}), sessionId };
      if (demo) Object.assign(kwargs, { protocol: options.protocol ?? 'secureSum', length, index: i, ...(options.k !== undefined ? { k: options.k } : {}), ...(options.t !== undefined ? { t: options.t } : {}) });
      await writeFile(join(pdir, 'input'), JSON.stringify(version === 5 ? kwargs : { method, args: [], kwargs }));
      await writeFile(join(pdir, 'output'), '');
      let data: Record<string, string> = {};
      if (version === 5) {
        // container_manager.py:1004-1029 (5.0): every step but data extraction gets the requested
        // dataframes, `""` when the task requests none. The session folder holds the dataframe
        // the extraction step wrote and the session's state file (session_manager.py:136-160,
        // run_io.py:239-244), named in SESSION_FILE.
        const requested = dataFiles[i] === undefined ? [] : ['default'];
        if (dataFiles[i] !== undefined) await copyFile(dataframes[i]!, join(stateDir, 'default.parquet'));
        await writeSessionStateFile(join(stateDir, SESSION_STATE_FILE), requested);
        data = { USER_REQUESTED_DATAFRAMES: requested.join(',') };
      } else {
        // task_manager.py:582-640 (4.14): both lists always set (empty without databases), and
        // each node database's URI and type.
        const labels = dataFiles[i] === undefined ? '' : 'default';
        data = {
          USER_REQUESTED_DATABASE_LABELS: labels,
          DB_LABELS: labels,
          ...(dataFiles[i] === undefined ? {} : { DEFAULT_DATABASE_URI: dataFiles[i]!, DEFAULT_DATABASE_TYPE: databaseType(dataFiles[i]!) }),
        };
        // task_manager.py:476-480: the token next to input and output, ASCII. Its claims carry
        // what a 4.x container knows of itself (resource/token.py:335-351, 4.14).
        const token = simulatedV4ContainerToken(
          { nodeId: i + 1, organizationId: i + 1, collaborationId: 1, taskId: 1, image: SIMULATED_IMAGE, databases: dataFiles[i] === undefined ? [] : [{ label: 'default' }] },
          tokenKey,
        );
        await writeFile(join(pdir, 'token'), token, { encoding: 'ascii', mode: 0o600 });
      }
      const raw: Record<string, string> = {
        INPUT_FILE: join(pdir, 'input'),
        OUTPUT_FILE: join(pdir, 'output'),
        ...(version === 5
          ? // container_manager.py (5.0): :954-963 the session folder and its state file; :424-427,
            // 440 the proxy's address; :442-452 the ids as variables; no token for a federated
            // step (:429-430).
            { SESSION_FOLDER: stateDir, SESSION_FILE: join(stateDir, SESSION_STATE_FILE), ...proxyAddress, ALGORITHM_METHOD: method, FUNCTION_ACTION: 'federated_compute', TASK_ID: '1', NODE_ID: id, ORGANIZATION_ID: id, COLLABORATION_ID: '1' }
          : // task_manager.py:540-548 (4.14): no ORGANIZATION_ID/TASK_ID, the ids are claims of the token.
            { TOKEN_FILE: join(pdir, 'token'), TEMPORARY_FOLDER: stateDir, ...proxyAddress }),
        COUPLER_IDENTITY_FILE: join(pdir, 'identity.json'),
        COUPLER_ROSTER_FILE: rosterFile,
        ...(transport === 'relay' ? {} : { COUPLER_PORT: String(ports[i]), COUPLER_LISTEN_HOST: hosts[i]! }),
        COUPLER_STATS_FILE: join(pdir, 'stats.json'),
        ...(options.progress !== false && report === 'full' ? { COUPLER_PROGRESS: '1' } : {}),
        ...data,
        COUPLER_JOIN_TIMEOUT_MS: String(timeoutMs),
        COUPLER_ROUND_TIMEOUT_MS: String(timeoutMs),
        ...(transport === 'relay'
          ? {}
          : dns
            ? { COUPLER_DISCOVERY: 'dns', COUPLER_DNS_NAMES: service, COUPLER_DNS_SERVERS: `127.0.0.1:${dns.port}` }
            : { COUPLER_DISCOVERY: 'static', COUPLER_PEERS: ids.map((_, j) => `${hosts[j]}:${ports[j]}`).join(',') }),
        ...(relayUrl === undefined ? {} : { COUPLER_TRANSPORT: transport, COUPLER_RELAY_URL: relayUrl }),
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
      let error: PartyError | undefined;
      lines.on('line', (line) => {
        markUp(id);
        const text = line.replace(/^\[coupler\] /, '');
        // The entry point prints one error line when the method fails: kept for every report.
        if (line.startsWith(`[coupler] ${ERROR_LINE}`)) {
          error = partyError(text.slice(ERROR_LINE.length));
          // Failed: a party whose formation failed because of a peer stays up (until its join
          // deadline) to tell late parties why; here every party is started together, so stop
          // the others after a moment, as when a party exits.
          if (!stopping) scheduleStop(`party ${id} failed`);
        }
        if (options.progress === false) return;
        if (text.startsWith(PROGRESS_LINE)) {
          status.update(id, text.slice(PROGRESS_LINE.length));
          return;
        }
        status.print(`  [party ${id}] ${text}`);
      });
      child.stdout!.on('data', (d: Buffer) => {
        if (options.progress !== false) for (const l of d.toString('utf8').split('\n')) if (l.trim()) status.print(`  [party ${id}] ${l}`);
      });
      // 'close', not 'exit': every stderr line (the error line included) has been read by then.
      const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('close', (code, sig) => r([code, sig])));
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
      return { party: id, pid: child.pid, exitCode, signal, result, elapsedMs: Date.now() - t0, traffic, error: exitCode === 0 ? undefined : error };
    });
    timers.push(setTimeout(() => stopParties(`deadline of ${timeoutMs / 1000} s passed`), timeoutMs + 5000));
    const parties = await Promise.all(outcomes);
    status.clear();
    if (options.signal?.aborted) throw new AbortedError('simulation stopped');

    const ok = parties.filter((p) => p.exitCode === 0 && p.result !== undefined);
    const failed = parties.filter((p) => !ok.includes(p)).map((p) => p.party);
    const agreed = ok.length === n && ok.every((p) => canonical(p.result) === canonical(ok[0]!.result));
    const differences = resultDifferences(ok);
    let correct: boolean | undefined;
    if (demo && ok.length > 0) {
      print(`checking the result against the sum computed in the clear (${n} vectors of ${length})`);
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
    const elapsedMs = Date.now() - started;
    const ended = (p: PartyOutcome): string => (p.signal !== null ? p.signal : `exit ${String(p.exitCode)}`);
    const pathCounts = { direct: 0, relay: 0 };
    for (const p of parties) for (const t of p.traffic) pathCounts[t.path ?? 'direct']++;

    if (report === 'json') {
      out(JSON.stringify({ agreed, correct: correct ?? null, failed, differences, elapsedMs, vantage6: version, transport, parties }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
    } else if (report === 'results') {
      for (const p of parties) {
        out(p.result === undefined ? `# party ${p.party}: no result (${ended(p)})${p.error === undefined ? '' : `: ${describePartyError(p.error)}`}` : `${p.party} ${JSON.stringify(p.result)}`);
      }
      if (!agreed && failed.length === 0) out(`# the parties disagree: ${describeDifferences(differences)}`);
    } else {
      print('');
      print('party      pid     exit  time(ms)  sent(bytes)  received(bytes)  result');
      for (const p of parties) {
        const sent = p.traffic.reduce((a, t) => a + t.bytesSent, 0);
        const recv = p.traffic.reduce((a, t) => a + t.bytesReceived, 0);
        const json = p.result === undefined ? '(no result)' : JSON.stringify(p.result);
        const res = json.length > 100 ? `${json.slice(0, 99)}… (--json for all)` : json;
        print(`${p.party.padStart(5)}  ${String(p.pid ?? '-').padStart(7)}  ${(p.signal ?? String(p.exitCode)).padStart(7)}  ${String(p.elapsedMs).padStart(8)}  ${String(sent).padStart(11)}  ${String(recv).padStart(15)}  ${res}`);
      }
      const probes = (t: PartyOutcome['traffic'][number]): string => ((t.probesSent ?? 0) + (t.probesReceived ?? 0) > 0 ? `, probes ${t.probesSent ?? 0} sent, ${t.probesReceived ?? 0} received` : '');
      const trafficLines = parties.flatMap((p) => p.traffic.map((t) => `  ${p.party} -> ${t.peer}: sent ${t.bytesSent} B, received ${t.bytesReceived} B${probes(t)}${t.path === 'relay' ? ', via the relay' : ''}`));
      if (trafficLines.length > 0 && n <= 8) {
        print('');
        print('traffic per peer (wire bytes, including framing and authentication tags):');
        for (const l of trafficLines) print(l);
      }
      if (pathCounts.direct + pathCounts.relay > 0) print(`paths: ${pathCounts.direct / 2} pair(s) direct, ${pathCounts.relay / 2} through the relay`);
      print('');
      if (agreed) print(`agreement: all ${n} parties report the same result`);
      else {
        const why = [
          ...(failed.length > 0
            ? [
                `${failed.length === 1 ? 'party' : 'parties'} ${failed.join(', ')} failed or gave no result (${parties
                  .filter((p) => failed.includes(p.party))
                  .map((p) => `${p.party}: ${ended(p)}${p.error === undefined ? '' : `, ${describePartyError(p.error)}`}`)
                  .join('; ')})`,
              ]
            : []),
          ...(differences.length > 0 ? [`the results differ: ${describeDifferences(differences)}`] : []),
        ];
        print(`agreement: FAILED: ${why.join('; ')}`);
      }
      if (correct !== undefined) print(`check against the sum computed in the clear: ${correct ? 'correct' : 'WRONG'}`);
      print(`total time: ${elapsedMs} ms`);
      if (options.keep) print(`files kept in ${dir}`);
    }
    const outcome: SimulationOutcome = { parties, agreed, differences, failed, correct, elapsedMs };
    return outcome;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    for (const t of timers) clearTimeout(t);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await dns?.close();
    await relay?.close();
    await nodeProxy?.close();
    if (!options.keep) await rm(dir, { recursive: true, force: true });
  }
}
