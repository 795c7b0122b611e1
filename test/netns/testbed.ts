/**
 * A multi-host testbed on Linux network namespaces, for end-to-end tests and benchmarks with real
 * processes and real kernel networking.
 *
 * Layout of one testbed (run id `<run>`, every name starts with `cpl-<run>-`):
 *
 * ```
 *   cpl-<run>-sw    the switch: bridge br0, one veth end per host (v0, v1, ..., v<label>)
 *   cpl-<run>-h<i>  party host i: eth0 = 10.77.0.<i+10>/24, lo
 *   cpl-<run>-<lbl> auxiliary hosts (dns 10.77.0.2, relay, proxy, attacker, impostor, ...)
 * ```
 *
 * The veth pairs are created directly between the switch namespace and each host namespace, so
 * nothing is ever added to the root namespace: no interface, no address, no route. No namespace
 * has a default route; the only reachable network is 10.77.0.0/24 on a bridge that exists only
 * inside the switch namespace. Bandwidth caps are `tbf` qdiscs on BOTH ends of a host's veth pair
 * (tbf shapes egress only, so both ends are needed to cap both directions).
 *
 * Processes run as `ip netns exec <ns> node --import tsx <script>`; `ip netns exec` execs, so
 * the child's pid is node's. Children talk JSON lines: events on stdout, commands on stdin; they
 * exit when stdin closes (the parent is gone), see `child.ts`.
 *
 * Cleanup: {@link Testbed.close} (kills the processes it started, deletes its namespaces), an
 * `exit`/`SIGINT`/`SIGTERM` hook, and `node --import tsx test/netns/testbed.ts cleanup`, which
 * removes leftovers of every run (namespaces named `cpl-*`, and the processes inside them).
 *
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** Prefix of every namespace a testbed creates. */
export const NS_PREFIX = 'cpl-';
/** The test subnet (exists only on the testbed's bridge). */
export const SUBNET = '10.77.0';
/** Address of the DNS host. */
export const DNS_IP = `${SUBNET}.2`;
/** Repository root (children run with this cwd so `--import tsx` resolves). */
export const ROOT = resolve(__dirname, '..', '..');

/** Address of party host i. */
export const partyIp = (i: number): string => `${SUBNET}.${i + 10}`;

function ip(args: readonly string[], opts: { quiet?: boolean } = {}): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    if (opts.quiet) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

function tc(ns: string, args: readonly string[]): void {
  try {
    execFileSync('tc', ['-n', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`tc -n ${ns} ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`);
  }
}

let probed: { ok: boolean; reason: string } | undefined;

/**
 * Whether this machine can run the testbed: root, `ip` and `tc` present, and a namespace with a
 * veth pair and a tbf qdisc can be created (and is removed again).
 */
export function netnsAvailable(): { ok: boolean; reason: string } {
  if (probed) return probed;
  const fail = (reason: string): { ok: boolean; reason: string } => (probed = { ok: false, reason });
  if (process.platform !== 'linux') return fail(`not Linux (${process.platform})`);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return fail('not running as root (network namespaces need CAP_NET_ADMIN)');
  for (const tool of ['ip', 'tc']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return fail(`"${tool}" not found (install iproute2)`);
    }
  }
  const ns = `${NS_PREFIX}probe${process.pid}`;
  try {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'add', 'pa', 'type', 'veth', 'peer', 'name', 'pb']);
    tc(ns, ['qdisc', 'add', 'dev', 'pa', 'root', 'tbf', 'rate', '100mbit', 'burst', '64kb', 'latency', '20ms']);
  } catch (err) {
    return fail(`cannot create a network namespace with veth and tbf: ${(err as Error).message}`);
  } finally {
    ip(['netns', 'del', ns], { quiet: true });
  }
  return (probed = { ok: true, reason: '' });
}

/** Namespaces of leftover runs (all `cpl-*`), or of one run. */
export function listNamespaces(prefix = NS_PREFIX): string[] {
  return ip(['netns', 'list'], { quiet: true })
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

/** Kill every process inside `ns` (only our namespaces are ever passed) and delete it. */
function deleteNamespace(ns: string): void {
  const pids = ip(['netns', 'pids', ns], { quiet: true })
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((p) => Number.isSafeInteger(p) && p > 1);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  ip(['netns', 'del', ns], { quiet: true });
}

/** Remove every namespace whose name starts with `prefix` (default: all testbed runs). */
export function cleanupNamespaces(prefix = NS_PREFIX): string[] {
  const list = listNamespaces(prefix);
  for (const ns of list) deleteNamespace(ns);
  return list;
}

/** One host (network namespace) of a testbed. */
export interface Host {
  /** Party index, or -1 for an auxiliary host. */
  readonly index: number;
  /** Short label: `h<i>` or the auxiliary label. */
  readonly label: string;
  /** Namespace name. */
  readonly ns: string;
  /** Address on the test bridge. */
  readonly ip: string;
  /** Name of this host's veth end inside the switch namespace. */
  readonly swIf: string;
}

/** A JSON-line event from a child. */
export type ChildEvent = { event: string } & Record<string, unknown>;

/** A process running inside a namespace. */
export class NsProcess {
  readonly child: ChildProcess;
  readonly host: Host;
  readonly name: string;
  readonly events: ChildEvent[] = [];
  /** Non-JSON output (stderr and stray stdout), for diagnostics. */
  log = '';
  /** Resolves with the exit code, or the signal name. */
  readonly exited: Promise<number | string>;
  exitStatus: number | string | undefined;
  readonly #waiters: { match: (e: ChildEvent) => boolean; resolve: (e: ChildEvent) => void }[] = [];

  constructor(name: string, host: Host, child: ChildProcess) {
    this.name = name;
    this.host = host;
    this.child = child;
    this.exited = new Promise((res) => {
      child.on('exit', (code, signal) => {
        this.exitStatus = code ?? signal ?? 'unknown';
        res(this.exitStatus);
      });
      child.on('error', (err) => {
        this.log += `spawn error: ${err.message}\n`;
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const t = line.trim();
      if (t.startsWith('{')) {
        try {
          const e = JSON.parse(t) as ChildEvent;
          if (typeof e.event === 'string') {
            this.events.push(e);
            for (const w of [...this.#waiters]) {
              if (w.match(e)) {
                this.#waiters.splice(this.#waiters.indexOf(w), 1);
                w.resolve(e);
              }
            }
            return;
          }
        } catch {
          /* not JSON */
        }
      }
      this.log += `${line}\n`;
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.log += d.toString('utf8');
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    });
    child.stdin!.on('error', () => {
      /* child gone */
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Send a JSON command line on stdin. */
  send(command: Record<string, unknown>): void {
    if (this.child.stdin?.writable) this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /** The first event (past or future) matching `match`. */
  waitEvent(match: string | ((e: ChildEvent) => boolean), timeoutMs = 30_000): Promise<ChildEvent> {
    const m = typeof match === 'string' ? (e: ChildEvent) => e.event === match : match;
    const seen = this.events.find(m);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        rej(new Error(`${this.name}: no matching event within ${timeoutMs} ms; exit=${String(this.exitStatus)}; log tail: ${this.log.slice(-2000)}`));
      }, timeoutMs);
      const waiter = {
        match: m,
        resolve: (e: ChildEvent) => {
          clearTimeout(timer);
          res(e);
        },
      };
      this.#waiters.push(waiter);
      void this.exited.then(() => {
        // Let stdout drain first, then give up if the event never came.
        setTimeout(() => {
          if (this.#waiters.includes(waiter)) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            clearTimeout(timer);
            rej(new Error(`${this.name}: exited (${String(this.exitStatus)}) without a matching event; log tail: ${this.log.slice(-2000)}`));
          }
        }, 200);
      });
    });
  }

  /** Exit status within `timeoutMs`, or undefined if still running. */
  async waitExit(timeoutMs: number): Promise<number | string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), timeoutMs)))]);
    clearTimeout(timer);
    return r;
  }

  /** Signal the process (by its pid). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exitStatus === undefined) {
      try {
        this.child.kill(signal);
      } catch {
        /* gone */
      }
    }
  }
}

/** Options of {@link createTestbed}. */
export interface TestbedOptions {
  /** Party hosts. */
  readonly n: number;
  /** Per-host cap in Mbit/s on every host (both directions). Default: uncapped. */
  readonly bandwidthMbit?: number;
  /** Auxiliary hosts: label → last octet (2..9). `dns` (10.77.0.2) is always created. */
  readonly aux?: Readonly<Record<string, number>>;
  /** Run id (default random); namespaces are `cpl-<run>-*`. */
  readonly run?: string;
  /** Whether to start the DNS server (default true). */
  readonly dns?: boolean;
  /** Hard deadline of every child process, ms (`CPL_DEADLINE_MS`). Default 120 s. */
  readonly childDeadlineMs?: number;
}

/** A running testbed. */
export interface Testbed {
  readonly runId: string;
  /** Party hosts h0..h(n-1). */
  readonly hosts: readonly Host[];
  /** Auxiliary hosts by label (always includes `dns`). */
  readonly aux: Readonly<Record<string, Host>>;
  /** DNS: replace the A records of `name` (resolves once the server applied it). */
  setA(name: string, ips: readonly string[]): Promise<void>;
  /** Start `script` (path relative to the repo root) in a party host (index) or aux host. */
  run(host: number | Host, script: string, env?: Record<string, string>, name?: string): NsProcess;
  /** Cut host i off the bridge (its switch-side veth goes down). */
  partition(host: number | Host): void;
  /** Undo {@link Testbed.partition}. */
  heal(host: number | Host): void;
  /** Cap a host's link at `mbit` both ways (replaces any cap); `undefined` removes the cap. */
  setBandwidth(host: number | Host, mbit: number | undefined): void;
  /** Kernel byte counters of a host's link (eth0 in its namespace). */
  counters(host: number | Host): { tx: number; rx: number };
  /** Kill every process started here and delete every namespace. Idempotent. */
  close(): Promise<void>;
}

const live = new Set<{ close(): Promise<void>; closeSync(): void }>();
let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const t of live) t.closeSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const t of live) t.closeSync();
      process.exit(130);
    });
  }
}

function tbfArgs(mbit: number): string[] {
  // Burst: 20 ms worth of the rate, at least 32 KiB (above GSO-sized packets' segments, above
  // the MTU at low rates). Queue: 50 ms worth of latency.
  const burstBytes = Math.max(32 * 1024, Math.round((mbit * 1e6) / 8 / 50));
  return ['tbf', 'rate', `${mbit}mbit`, 'burst', String(burstBytes), 'latency', '50ms'];
}

/**
 * Build a testbed. Throws (after removing whatever it created) if any step fails.
 */
export async function createTestbed(options: TestbedOptions): Promise<Testbed> {
  const n = options.n;
  if (!Number.isSafeInteger(n) || n < 1 || n > 200) throw new Error('n must be 1..200');
  const runId = options.run ?? randomBytes(3).toString('hex');
  if (!/^[a-z0-9]{1,8}$/.test(runId)) throw new Error('run id: 1-8 of [a-z0-9]');
  const pre = `${NS_PREFIX}${runId}-`;
  const sw = `${pre}sw`;
  const created: string[] = [];
  const procs = new Set<NsProcess>();
  let closed = false;

  const closeSync = (): void => {
    if (closed) return;
    closed = true;
    for (const p of procs) p.kill('SIGKILL');
    for (const ns of [...created].reverse()) deleteNamespace(ns);
    live.delete(handle);
  };
  const handle = {
    closeSync,
    close: async (): Promise<void> => {
      if (closed) return;
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all([...procs].map((p) => p.waitExit(2000)));
      closeSync();
    },
  };
  installHooks();
  live.add(handle);

  const addNs = (ns: string): void => {
    ip(['netns', 'add', ns]);
    created.push(ns);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  };

  const hosts: Host[] = [];
  const aux: Record<string, Host> = {};
  try {
    addNs(sw);
    ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    const attach = (host: Host): void => {
      addNs(host.ns);
      ip(['-n', sw, 'link', 'add', host.swIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
      ip(['-n', sw, 'link', 'set', host.swIf, 'master', 'br0']);
      ip(['-n', sw, 'link', 'set', host.swIf, 'up']);
      ip(['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    };
    const auxSpec: Record<string, number> = { dns: 2, ...(options.aux ?? {}) };
    for (const [label, octet] of Object.entries(auxSpec)) {
      if (!/^[a-z][a-z0-9]{0,6}$/.test(label) || octet < 2 || octet > 9) throw new Error(`aux host "${label}": label [a-z][a-z0-9]{0,6}, octet 2..9`);
      const h: Host = { index: -1, label, ns: `${pre}${label}`, ip: `${SUBNET}.${octet}`, swIf: `v${label}` };
      attach(h);
      aux[label] = h;
    }
    for (let i = 0; i < n; i++) {
      const h: Host = { index: i, label: `h${i}`, ns: `${pre}h${i}`, ip: partyIp(i), swIf: `v${i}` };
      attach(h);
      hosts.push(h);
    }
  } catch (err) {
    closeSync();
    throw err;
  }

  const hostOf = (h: number | Host): Host => {
    if (typeof h !== 'number') return h;
    const x = hosts[h];
    if (!x) throw new Error(`no host ${h}`);
    return x;
  };

  const run = (h: number | Host, script: string, env: Record<string, string> = {}, name?: string): NsProcess => {
    const host = hostOf(h);
    const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, '--import', 'tsx', resolve(ROOT, script)], {
      cwd: ROOT,
      env: { ...process.env, CPL_DEADLINE_MS: String(options.childDeadlineMs ?? 120_000), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const p = new NsProcess(name ?? `${host.label}:${script}`, host, child);
    procs.add(p);
    return p;
  };

  const setBandwidth = (h: number | Host, mbit: number | undefined): void => {
    const host = hostOf(h);
    for (const [ns, dev] of [
      [host.ns, 'eth0'],
      [sw, host.swIf],
    ] as const) {
      if (mbit === undefined) {
        try {
          tc(ns, ['qdisc', 'del', 'dev', dev, 'root']);
        } catch {
          /* no qdisc */
        }
      } else tc(ns, ['qdisc', 'replace', 'dev', dev, 'root', ...tbfArgs(mbit)]);
    }
  };

  const counters = (h: number | Host): { tx: number; rx: number } => {
    const host = hostOf(h);
    const j = JSON.parse(ip(['-n', host.ns, '-s', '-j', 'link', 'show', 'eth0'])) as { stats64: { tx: { bytes: number }; rx: { bytes: number } } }[];
    return { tx: j[0]!.stats64.tx.bytes, rx: j[0]!.stats64.rx.bytes };
  };

  let dnsProc: NsProcess | undefined;
  let cmdId = 0;
  try {
    if (options.bandwidthMbit !== undefined) for (const h of [...hosts, ...Object.values(aux)]) setBandwidth(h, options.bandwidthMbit);
    if (options.dns !== false) {
      dnsProc = run(aux.dns!, 'test/netns/dns-host.ts', { CPL_DNS_HOST: DNS_IP }, 'dns');
      await dnsProc.waitEvent('listening', 20_000);
    }
  } catch (err) {
    await handle.close();
    throw err;
  }

  return {
    runId,
    hosts,
    aux,
    async setA(name, ips) {
      if (!dnsProc) throw new Error('no DNS server in this testbed');
      const id = ++cmdId;
      dnsProc.send({ op: 'setA', id, name, ips });
      await dnsProc.waitEvent((e) => e.event === 'ack' && e.id === id, 10_000);
    },
    run,
    partition(h) {
      ip(['-n', sw, 'link', 'set', hostOf(h).swIf, 'down']);
    },
    heal(h) {
      ip(['-n', sw, 'link', 'set', hostOf(h).swIf, 'up']);
    },
    setBandwidth,
    counters,
    close: handle.close,
  };
}

const localProcs = new Set<NsProcess>();

/**
 * Start `script` in the ROOT namespace (no testbed), for loopback-only benchmarks. The process
 * is killed when this process exits. Scripts started this way must only use 127.0.0.1.
 */
export function runLocal(script: string, env: Record<string, string> = {}, name?: string, deadlineMs = 600_000): NsProcess {
  if (localProcs.size === 0) {
    process.on('exit', () => {
      for (const p of localProcs) p.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, script)], {
    cwd: ROOT,
    env: { ...process.env, CPL_DEADLINE_MS: String(deadlineMs), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const p = new NsProcess(name ?? script, { index: -1, label: 'local', ns: '', ip: '127.0.0.1', swIf: '' }, child);
  localProcs.add(p);
  void p.exited.then(() => localProcs.delete(p));
  return p;
}

// `node --import tsx test/netns/testbed.ts cleanup`: remove leftovers of every run.
if (require.main === module) {
  const cmd = process.argv[2];
  if (cmd === 'cleanup') {
    const removed = cleanupNamespaces();
    process.stdout.write(removed.length ? `removed ${removed.join(' ')}\n` : 'nothing to clean up\n');
  } else if (cmd === 'check') {
    const a = netnsAvailable();
    process.stdout.write(a.ok ? 'netns testbed available\n' : `netns testbed unavailable: ${a.reason}\n`);
    process.exit(a.ok ? 0 : 1);
  } else {
    process.stderr.write('usage: node --import tsx test/netns/testbed.ts cleanup|check\n');
    process.exit(2);
  }
}
