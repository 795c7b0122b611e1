/**
 * Discovery through DNS: Docker Swarm's embedded DNS (`tasks.<service>` answers one A record per
 * running container), network aliases, Kubernetes headless services (one A/AAAA record per ready
 * pod) and SRV records.
 *
 * @module
 */
import { promises as dnsPromises } from 'node:dns';
import { AbortedError, describeType, DiscoveryError, InvalidArgumentError, throwIfAborted } from '../errors';
import { canonicalHost, ipFamily } from './_ip';
import { finalizePeers, isValidHostname, isValidPort, makePeer, MAX_PEERS_PER_LOOKUP, peerKey } from './_peers';
import type { DiscoverOptions, Discovery, PeerAddress } from './types';

/** Default time budget of one lookup (all names, all record types), in milliseconds. */
export const DNS_LOOKUP_TIMEOUT = 2_000;
/** Largest accepted `timeoutMs`, in milliseconds. */
export const MAX_DNS_LOOKUP_TIMEOUT = 60_000;
/** Most names (plus SRV names) one discovery may query. */
export const MAX_DNS_NAMES = 64;
/** Most SRV targets resolved per lookup. */
export const MAX_SRV_TARGETS = 256;
/** Tries per query given to the resolver (the lookup deadline still bounds the total). */
const RESOLVER_TRIES = 2;
/** Grace after the deadline for the resolver to report its cancellation, in milliseconds. */
const CANCEL_GRACE_MS = 250;

/** Answers meaning "nothing (yet)": the snapshot is empty, the lookup did not fail. */
const NOT_YET_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ESERVFAIL', 'ENONAME']);

/** Options of {@link dnsDiscovery}. */
export interface DnsDiscoveryInit {
  /** Names whose A/AAAA records are peers, e.g. `tasks.sum` (Swarm) or `sum.ns.svc.cluster.local` (Kubernetes). */
  readonly names?: readonly string[];
  /** TCP port the peers listen on (DNS A/AAAA records carry no port). Required when `names` is not empty. */
  readonly port?: number;
  /** DNS servers as `ip`, `ip:port` or `[ipv6]:port`. Default: the system's resolvers. */
  readonly servers?: readonly string[];
  /** Which address records to ask for: `4` (A), `6` (AAAA) or `'any'` (both). Default `'any'`. */
  readonly family?: 4 | 6 | 'any';
  /**
   * SRV names, e.g. `_coupler._tcp.sum`; each record's target is resolved (same family, same
   * servers) and its port used. A target that does not resolve is left out until it does: host
   * names are never handed on to the dialler's system resolver.
   */
  readonly srv?: readonly string[];
  /** Time budget of one whole lookup, milliseconds. Default {@link DNS_LOOKUP_TIMEOUT}. */
  readonly timeoutMs?: number;
}

/** SRV targets resolved at once (and the step at which a lookup stops once it holds enough addresses). */
const SRV_TARGET_BATCH = 8;
/** Most addresses examined (duplicates included) when a lookup's answers are turned into peers. */
const MAX_EXAMINED = 4 * MAX_PEERS_PER_LOOKUP;

/**
 * Addresses as the resolver returned them, not yet checked or canonicalised: a hostile answer
 * holds thousands, and only the first {@link MAX_PEERS_PER_LOOKUP} distinct ones are kept.
 */
interface Found {
  readonly hosts: readonly string[];
  readonly port: number;
  readonly source: string;
}

type Outcome = { kind: 'ok'; found: Found[] } | { kind: 'empty' } | { kind: 'failed'; what: string; error: unknown };

function fail(message: string): never {
  throw new InvalidArgumentError(`dnsDiscovery: ${message}`);
}

/** Parse `ip`, `ip:port` or `[ipv6]:port`; returns the form `Resolver.setServers` accepts, or undefined. */
function checkServer(text: string): string | undefined {
  let host: string;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      port = rest.slice(1);
    }
    if (ipFamily(host) !== 6) return undefined;
  } else if (ipFamily(text) === 6) {
    return text;
  } else {
    const colon = text.indexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    port = colon === -1 ? undefined : text.slice(colon + 1);
    if (ipFamily(host) !== 4) return undefined;
  }
  if (port !== undefined && !(/^[0-9]{1,5}$/.test(port) && isValidPort(Number(port)))) return undefined;
  return text;
}

function checkNames(field: string, value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`"${field}" expected an array of DNS names, got ${describeType(value)}`);
  if (value.length > MAX_DNS_NAMES) fail(`"${field}" expected at most ${MAX_DNS_NAMES} names, got ${value.length}`);
  value.forEach((name: unknown, i) => {
    if (!isValidHostname(name)) fail(`"${field}" entry ${i} expected a DNS name, got ${describeType(name)}`);
  });
  return value as readonly string[];
}

/**
 * The first {@link MAX_PEERS_PER_LOOKUP} distinct addresses of `found`, in order, as peers: only
 * what is kept is checked and canonicalised (at most {@link MAX_EXAMINED} entries are looked at).
 */
function toPeers(found: readonly Found[]): PeerAddress[] {
  const seen = new Map<string, PeerAddress>();
  let examined = 0;
  for (const f of found) {
    for (const host of f.hosts) {
      if (seen.size >= MAX_PEERS_PER_LOOKUP || ++examined > MAX_EXAMINED) return finalizePeers(seen.values());
      const peer = makePeer(host, f.port, f.source);
      const key = peerKey(peer);
      if (!seen.has(key)) seen.set(key, peer);
    }
  }
  return finalizePeers(seen.values());
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

/**
 * A discovery that asks DNS for peer addresses at every lookup.
 *
 * One lookup queries every name (A and/or AAAA) and every SRV name in parallel through its own
 * resolver, bounded by `timeoutMs` as a whole. Answers are deduplicated and sorted. A name that
 * does not exist yet (NXDOMAIN), has no records of a type (NODATA) or gets SERVFAIL counts as
 * "no peers yet": containers may still be starting. The lookup fails only when every query
 * failed for another reason (no answer in time, refused, unreachable server); then it rejects
 * with a {@link DiscoveryError} that {@link waitForPeers} treats as transient.
 *
 * DNS is untrusted: the addresses are hints, identities are proven by the handshake.
 *
 * @param init - names, port, optional servers, family, SRV names and time budget
 * @returns a {@link Discovery} of kind `dns`; addresses have `source` `dns:<name>` or `dns-srv:<name>`
 * @throws {@link InvalidArgumentError} when neither `names` nor `srv` lists a name, a name is not a
 *   valid DNS name, `port` is missing or outside 1..65535, a `servers` entry is not `ip`,
 *   `ip:port` or `[ipv6]:port`, `family` is not 4, 6 or 'any', or `timeoutMs` is out of range
 *   (the message names the field)
 * @example
 * ```ts
 * // In a Docker Swarm service "sum" on an overlay network:
 * const discovery = dnsDiscovery({ names: ['tasks.sum'], port: 7000 });
 * const peers = await waitForPeers(discovery, { expected: 3, timeoutMs: 60_000 });
 * ```
 */
export function dnsDiscovery(init: DnsDiscoveryInit): Discovery {
  if (typeof init !== 'object' || init === null) fail(`options expected an object, got ${describeType(init)}`);
  const names = checkNames('names', init.names);
  const srvNames = checkNames('srv', init.srv);
  if (names.length === 0 && srvNames.length === 0) fail('"names" expected at least one DNS name (or give "srv")');
  if (names.length + srvNames.length > MAX_DNS_NAMES) fail(`"names" and "srv" expected at most ${MAX_DNS_NAMES} names together`);
  const port = init.port;
  if (names.length > 0 && !isValidPort(port)) fail(`"port" expected an integer in 1..65535, got ${describeType(port)}${typeof port === 'number' ? ` ${port}` : ''}`);
  if (port !== undefined && !isValidPort(port)) fail(`"port" expected an integer in 1..65535, got ${describeType(port)}`);
  const family = init.family ?? 'any';
  if (family !== 4 && family !== 6 && family !== 'any') fail(`"family" expected 4, 6 or 'any', got ${describeType(family)}`);
  const timeoutMs = init.timeoutMs ?? DNS_LOOKUP_TIMEOUT;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_DNS_LOOKUP_TIMEOUT) {
    fail(`"timeoutMs" expected an integer in 1..${MAX_DNS_LOOKUP_TIMEOUT}, got ${describeType(timeoutMs)}`);
  }
  let servers: string[] | undefined;
  if (init.servers !== undefined) {
    if (!Array.isArray(init.servers) || init.servers.length === 0) {
      fail(`"servers" expected a non-empty array of "ip", "ip:port" or "[ipv6]:port", got ${describeType(init.servers)}`);
    }
    if (init.servers.length > 16) fail(`"servers" expected at most 16 entries, got ${init.servers.length}`);
    servers = init.servers.map((s: unknown, i) => {
      const ok = typeof s === 'string' ? checkServer(s) : undefined;
      if (ok === undefined) fail(`"servers" entry ${i} expected "ip", "ip:port" or "[ipv6]:port" with port 1..65535`);
      return ok;
    });
  }
  const serverText = servers === undefined ? 'system resolvers' : servers.join(', ');
  const perTryMs = Math.max(1, Math.floor(timeoutMs / RESOLVER_TRIES));

  async function lookup(signal: AbortSignal | undefined): Promise<PeerAddress[]> {
    throwIfAborted(signal);
    // A resolver per lookup: cancel() then only cancels this lookup's queries.
    const resolver = new dnsPromises.Resolver({ timeout: perTryMs, tries: RESOLVER_TRIES });
    if (servers !== undefined) resolver.setServers(servers);
    let timedOut = false;
    const onAbort = (): void => resolver.cancel();
    const deadline = setTimeout(() => {
      timedOut = true;
      resolver.cancel();
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });

    const settle = async (what: string, query: () => Promise<Found[]>): Promise<Outcome> => {
      try {
        const found = (await query()).filter((f) => f.hosts.length > 0);
        return found.length === 0 ? { kind: 'empty' } : { kind: 'ok', found };
      } catch (error) {
        return NOT_YET_CODES.has(errorCode(error)) ? { kind: 'empty' } : { kind: 'failed', what, error };
      }
    };
    const addresses = async (name: string, p: number, source: string): Promise<Found[]> => {
      const settled = await Promise.allSettled([
        family === 6 ? [] : resolver.resolve4(name),
        family === 4 ? [] : resolver.resolve6(name),
      ]);
      return settled.flatMap((r) => (r.status === 'fulfilled' && r.value.length > 0 ? [{ hosts: r.value, port: p, source }] : []));
    };

    const jobs: Promise<Outcome>[] = [];
    for (const name of names) {
      const source = `dns:${name}`;
      if (family !== 6) jobs.push(settle(`${name} A`, async () => [{ hosts: await resolver.resolve4(name), port: port as number, source }]));
      if (family !== 4) jobs.push(settle(`${name} AAAA`, async () => [{ hosts: await resolver.resolve6(name), port: port as number, source }]));
    }
    for (const name of srvNames) {
      const source = `dns-srv:${name}`;
      jobs.push(
        settle(`${name} SRV`, async () => {
          const records = (await resolver.resolveSrv(name)).slice(0, MAX_SRV_TARGETS);
          // Targets in batches, in record order, until this name holds enough addresses: each
          // target's answer may hold thousands, and all 256 at once were ~1 M addresses and 512
          // parallel queries (review12 R12-3).
          const found: Found[] = [];
          let held = 0;
          // One resolution per target name, however many records (ports, spellings of case, a
          // trailing dot) name it: 256 records naming one target in 256 spellings made 512
          // queries (review22).
          const byTarget = new Map<string, Promise<readonly string[][]>>();
          const resolveTarget = (name: string): Promise<readonly string[][]> => {
            const key = canonicalHost(name);
            let p = byTarget.get(key);
            if (p === undefined) {
              p = addresses(name, 0, source).then((fs) => fs.map((f) => f.hosts as string[]));
              byTarget.set(key, p);
            }
            return p;
          };
          for (let i = 0; i < records.length && held < MAX_PEERS_PER_LOOKUP; i += SRV_TARGET_BATCH) {
            const batch = await Promise.all(
              records.slice(i, i + SRV_TARGET_BATCH).map(async (rec): Promise<Found[]> => {
                if (!isValidPort(rec.port)) return [];
                if (ipFamily(rec.name) !== 0) return [{ hosts: [rec.name], port: rec.port, source }];
                if (!isValidHostname(rec.name)) return [];
                // A target that does not resolve (yet) is left out; the next lookup asks again. Kept
                // as a name, it went to the system resolver at the dial (getaddrinfo: two lookups at
                // a time on libuv's pool, ~10 s each against a silent server, not cancellable), so a
                // DNS that named targets it never answers starved every name lookup of the process —
                // dials, the relay's host, the vantage6 proxy's (review22 R22-7). The same servers
                // resolve it here, so only a name known to /etc/hosts alone is no longer dialled.
                return (await resolveTarget(rec.name)).map((hosts) => ({ hosts, port: rec.port, source }));
              }),
            );
            for (const f of batch.flat()) {
              found.push(f);
              held += f.hosts.length;
            }
          }
          return found;
        }),
      );
    }

    let outcomes: Outcome[] | undefined;
    let grace: NodeJS.Timeout | undefined;
    try {
      // cancel() makes every pending query reject at once; the grace timer only guards against a
      // resolver that would not honour it, so that a lookup can never hang.
      const hardStop = new Promise<undefined>((resolve) => {
        grace = setTimeout(() => resolve(undefined), timeoutMs + CANCEL_GRACE_MS);
      });
      outcomes = await Promise.race([Promise.all(jobs), hardStop]);
    } finally {
      clearTimeout(deadline);
      clearTimeout(grace);
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw new AbortedError('dns lookup aborted');
    if (outcomes === undefined) {
      throw new DiscoveryError(`dns lookup via ${serverText}: no answer within ${timeoutMs} ms`);
    }
    const found = toPeers(outcomes.flatMap((o) => (o.kind === 'ok' ? o.found : [])));
    const failures = outcomes.filter((o): o is Extract<Outcome, { kind: 'failed' }> => o.kind === 'failed');
    if (failures.length === outcomes.length) {
      const first = failures[0];
      const reason = timedOut ? `no answer within ${timeoutMs} ms` : errorCode(first?.error);
      throw new DiscoveryError(
        `dns lookup of ${failures.map((f) => f.what).join(', ')} via ${serverText} failed: ${reason}`,
        { cause: first?.error },
      );
    }
    return found;
  }

  return {
    kind: 'dns',
    discover(options: DiscoverOptions = {}): Promise<PeerAddress[]> {
      return lookup(options.signal);
    },
  };
}
