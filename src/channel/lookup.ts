/**
 * Host-name lookups for outgoing connections (peer dials, relay dials) that a resolver which never
 * answers cannot turn against the rest of the process.
 *
 * Node resolves a host name with the system resolver (getaddrinfo), on libuv's thread pool: at
 * most two such lookups run at a time (slow I/O gets half the default pool of 4), each holds its
 * thread until the resolver gives up (~10 s against a silent server with glibc's defaults), and a
 * lookup cannot be cancelled — a dial's deadline ends the dial, not its lookup. A hostile overlay
 * DNS that is also the system resolver (Swarm's embedded DNS, kube-dns) could therefore hold
 * every name lookup of the process — the relay's, the vantage6 node proxy's, names the operator
 * put in /etc/hosts — behind lookups of peer names it never answers (review 22, R22-7).
 *
 * Here, a {@link LookupLane}:
 * - answers names listed in `/etc/hosts` itself (read with a cap, again when it changed), in the
 *   file's order — what glibc and musl do first with the usual `files dns` order — so those never
 *   wait for DNS;
 * - runs at most `concurrency` system lookups at a time (one per lane by default), so peer dials
 *   can take at most one of the pool's two slots and the relay's lane at most one more: nothing
 *   else of the process (the node proxy's client, `dns.lookup` callers) waits behind them;
 * - shares one lookup among all dials of the same name (single flight), and keeps a lookup that
 *   has not started only while a dial still wants it: a dial whose deadline passed or which was
 *   aborted leaves the queue, and so does the lookup when nobody is left;
 * - serves first the names whose last lookup answered within {@link SLOW_LOOKUP_MS} (or that it
 *   has not seen yet) and last those whose last lookup was slow or failed, so names a resolver
 *   holds queue behind names it answers.
 *
 * @module
 * @internal
 */
import { lookup as systemLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP } from 'node:net';
import { statSync } from 'node:fs';
import { readBoundedFileSync } from '../files';

/** A lookup slower than this (or failing) puts its name behind the others for {@link SLOW_MEMORY_MS}. */
export const SLOW_LOOKUP_MS = 2_000;
/** How long a name stays behind the others after a slow or failed lookup. */
export const SLOW_MEMORY_MS = 60_000;
/** Most names remembered as slow (oldest forgotten first). */
const MAX_SLOW_NAMES = 4_096;
/** Most lookups queued in one lane; a dial beyond it fails at once (ENOTFOUND-like `EBUSY`). */
export const MAX_QUEUED_LOOKUPS = 1_024;
/** Largest `/etc/hosts` read; a larger file is not used (lookups then go to the system resolver). */
const MAX_HOSTS_BYTES = 1 << 20;
/** `/etc/hosts` is checked for a change at most this often. */
const HOSTS_RECHECK_MS = 1_000;

/** The `lookup` option of `net.connect`, as `ws` and `http.request` pass it on. */
export type LookupFunction = (
  hostname: string,
  options: { family?: number | string; hints?: number; all?: boolean },
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) => void;

type Deliver = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

interface Pending {
  readonly key: string;
  readonly hostname: string;
  readonly options: LookupAllOptions;
  readonly waiters: Set<Deliver>;
  started: boolean;
}

function lookupError(code: string, hostname: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${message} (${hostname})`), { code, hostname, syscall: 'getaddrinfo' });
}

function familyOf(f: number | string | undefined): 0 | 4 | 6 {
  if (f === 4 || f === 'IPv4') return 4;
  if (f === 6 || f === 'IPv6') return 6;
  return 0;
}

/** Host names → addresses from a hosts file, read with a cap, re-read when its mtime or size changes. */
class HostsFile {
  #checked = -Infinity;
  #stamp = '';
  #map = new Map<string, LookupAddress[]>();

  constructor(readonly path: string) {}

  get(hostname: string, family: 0 | 4 | 6): LookupAddress[] | undefined {
    this.#refresh();
    const all = this.#map.get(hostname.toLowerCase().replace(/\.$/, ''));
    if (all === undefined) return undefined;
    const wanted = family === 0 ? all : all.filter((a) => a.family === family);
    return wanted.length > 0 ? wanted : undefined;
  }

  #refresh(): void {
    const now = Date.now();
    if (now - this.#checked < HOSTS_RECHECK_MS) return;
    this.#checked = now;
    let stamp: string;
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      stamp = 'absent';
    }
    if (stamp === this.#stamp) return;
    this.#stamp = stamp;
    this.#map = new Map();
    if (stamp === 'absent') return;
    let text: string;
    try {
      text = readBoundedFileSync(this.path, MAX_HOSTS_BYTES).bytes.toString('utf8');
    } catch {
      return; // unreadable, a FIFO, too large: leave every name to the system resolver
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') continue;
      const [address, ...names] = line.split(/\s+/);
      const v = isIP(address!.replace(/%.*$/, ''));
      if (v === 0) continue;
      for (const name of names) {
        const key = name.toLowerCase();
        const list = this.#map.get(key) ?? [];
        if (!list.some((a) => a.address === address)) list.push({ address: address!, family: v });
        this.#map.set(key, list);
      }
    }
  }
}

/**
 * One queue of system lookups with its own concurrency (see the module's description). The
 * process has one for peer dials and one for relay dials ({@link peerLookupLane},
 * {@link relayLookupLane}).
 */
export class LookupLane {
  readonly #concurrency: number;
  readonly #hosts: HostsFile;
  readonly #pending = new Map<string, Pending>();
  /** Not started, in arrival order; the slow names are taken last. */
  #queue: Pending[] = [];
  #running = 0;
  /** Name → until when it is served last. */
  readonly #slow = new Map<string, number>();

  /**
   * @param concurrency - system lookups at a time (≥ 1).
   * @param hostsPath - the hosts file answered first. Default `/etc/hosts`.
   */
  constructor(concurrency = 1, hostsPath = '/etc/hosts') {
    this.#concurrency = Math.max(1, Math.floor(concurrency));
    this.#hosts = new HostsFile(hostsPath);
  }

  /** System lookups running now, and waiting to run (for tests and metrics). */
  get load(): { running: number; queued: number } {
    return { running: this.#running, queued: this.#queue.length };
  }

  /**
   * A `lookup` function for one connection attempt: its lookups leave the queue when `signal`
   * aborts (the attempt ended, by its deadline or its caller).
   */
  forAttempt(signal: AbortSignal): LookupFunction {
    return (hostname, options, callback) => {
      const family = familyOf(options.family);
      const adapt: Deliver = (err, addresses) => {
        if (err !== null) return callback(err, options.all === true ? [] : '', undefined);
        if (options.all === true) return callback(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      };
      this.#resolve(hostname, family, options.hints, signal, adapt);
    };
  }

  #resolve(hostname: string, family: 0 | 4 | 6, hints: number | undefined, signal: AbortSignal, deliver: Deliver): void {
    const literal = isIP(hostname);
    if (literal !== 0) return queueMicrotask(() => deliver(null, [{ address: hostname, family: literal }]));
    const fromHosts = this.#hosts.get(hostname, family);
    if (fromHosts !== undefined) return queueMicrotask(() => deliver(null, fromHosts));
    if (signal.aborted) return queueMicrotask(() => deliver(lookupError('ECANCELLED', hostname, 'lookup cancelled'), []));
    const key = `${family}|${hints ?? 0}|${hostname.toLowerCase()}`;
    let p = this.#pending.get(key);
    if (p === undefined) {
      if (this.#queue.length >= MAX_QUEUED_LOOKUPS) return queueMicrotask(() => deliver(lookupError('EBUSY', hostname, 'too many host-name lookups queued'), []));
      p = { key, hostname, options: { all: true, family, ...(hints === undefined ? {} : { hints }) }, waiters: new Set(), started: false };
      this.#pending.set(key, p);
      this.#queue.push(p);
    }
    const entry = p;
    let settled = false;
    const waiter: Deliver = (err, addresses) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      deliver(err, addresses);
    };
    const onAbort = (): void => {
      if (settled) return;
      entry.waiters.delete(waiter);
      if (!entry.started && entry.waiters.size === 0) {
        this.#pending.delete(entry.key);
        this.#queue = this.#queue.filter((q) => q !== entry);
      }
      waiter(lookupError('ECANCELLED', hostname, 'lookup cancelled'), []);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    entry.waiters.add(waiter);
    this.#pump();
  }

  #isSlow(hostname: string, now: number): boolean {
    const until = this.#slow.get(hostname.toLowerCase());
    if (until === undefined) return false;
    if (until > now) return true;
    this.#slow.delete(hostname.toLowerCase());
    return false;
  }

  #next(): Pending | undefined {
    const now = Date.now();
    let at = this.#queue.findIndex((p) => !this.#isSlow(p.hostname, now));
    if (at < 0) at = this.#queue.length > 0 ? 0 : -1;
    if (at < 0) return undefined;
    const [p] = this.#queue.splice(at, 1);
    return p;
  }

  #pump(): void {
    while (this.#running < this.#concurrency) {
      const p = this.#next();
      if (p === undefined) return;
      p.started = true;
      this.#running++;
      const began = Date.now();
      systemLookup(p.hostname, p.options, (err, addresses) => {
        this.#running--;
        this.#pending.delete(p.key);
        const name = p.hostname.toLowerCase();
        if (err !== null || Date.now() - began > SLOW_LOOKUP_MS) {
          this.#slow.delete(name);
          this.#slow.set(name, Date.now() + SLOW_MEMORY_MS);
          if (this.#slow.size > MAX_SLOW_NAMES) this.#slow.delete(this.#slow.keys().next().value!);
        } else {
          this.#slow.delete(name);
        }
        const list = err === null && Array.isArray(addresses) && addresses.length > 0 ? addresses : undefined;
        const failure = err ?? (list === undefined ? lookupError('ENOTFOUND', p.hostname, 'no address') : null);
        for (const w of [...p.waiters]) w(failure, list ?? []);
        this.#pump();
      });
    }
  }
}

/** The lane of every peer dial of the process ({@link connectChannel}). */
export const peerLookupLane = new LookupLane(1);
/** The lane of every relay dial of the process (channels and aggregations through a relay). */
export const relayLookupLane = new LookupLane(1);
