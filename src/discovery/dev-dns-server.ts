/**
 * A small, real UDP DNS server for development and tests that answers like Docker's embedded
 * DNS: one name maps to many A/AAAA records (`tasks.<service>`), names answer NXDOMAIN until
 * records appear, and records can be changed while it runs. It has no dependencies beyond
 * `node:dgram`, binds to loopback by default, and is used by `coupler simulate` and by tests.
 *
 * It is not a general-purpose DNS server: it serves only the names it was given, over UDP only,
 * answers at most {@link MAX_UDP_PAYLOAD} bytes (more records set the TC flag), and never
 * recurses.
 *
 * @module
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { describeType, InvalidArgumentError } from '../errors';
import {
  CLASS_IN,
  CLASSIC_UDP_LIMIT,
  decodeQuery,
  encodeResponse,
  MAX_UDP_PAYLOAD,
  Rcode,
  RecordType,
  type DnsAnswer,
  type DnsQuestion,
} from './_dns-wire';
import { canonicalHost, ipFamily, parseIPv4, parseIPv6 } from './_ip';
import { isValidHostname, isValidPort } from './_peers';

/** Largest query datagram looked at; longer ones are ignored. */
export const MAX_QUERY_BYTES = 1232;
/** Most records of one type kept for one name. */
export const MAX_RECORDS_PER_NAME = 1024;
/** Most names the server holds. */
export const MAX_NAMES = 4096;
/** Longest delay an override may ask for, in milliseconds. */
export const MAX_OVERRIDE_DELAY_MS = 60_000;

const CLASS_ANY = 255;

/** Options of {@link startDevDnsServer}. */
export interface DevDnsServerInit {
  /** IP literal to bind to. Default `127.0.0.1` (loopback only). Use a bridge address in a testbed. */
  readonly host?: string;
  /** UDP port. Default `0`: a free port chosen by the system (read it from the result). */
  readonly port?: number;
  /** TTL of every answer, seconds. Default `0`, so resolvers never cache. */
  readonly ttl?: number;
}

/** One SRV record. */
export interface DevSrvRecord {
  /** Host name the service runs on. */
  readonly target: string;
  /** Port of the service. */
  readonly port: number;
  /** Default 0. */
  readonly priority?: number;
  /** Default 0. */
  readonly weight?: number;
}

/** Record types an override may be limited to. */
export type DevRecordType = 'A' | 'AAAA' | 'SRV';

/**
 * How to misbehave for one name, overriding its records: answer with an error code, drop the
 * query (the client times out), or answer late. `types` limits the override to some record
 * types (default: all).
 */
export type DevDnsOverride =
  | {
      /** Answer with an error code instead of the records. */
      readonly action: 'rcode';
      /** The response code to answer with. */
      readonly rcode: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
      /** Only for queries of these types (default: all). */
      readonly types?: readonly DevRecordType[];
    }
  | {
      /** Do not answer at all (the client times out). */
      readonly action: 'drop';
      /** Only for queries of these types (default: all). */
      readonly types?: readonly DevRecordType[];
    }
  | {
      /** Answer normally, `ms` milliseconds late. */
      readonly action: 'delay';
      /** The delay in milliseconds. */
      readonly ms: number;
      /** Only for queries of these types (default: all). */
      readonly types?: readonly DevRecordType[];
    };

/** Counters, for tests and diagnostics. */
export interface DevDnsStats {
  /** Datagrams received. */
  readonly received: number;
  /** Responses sent (any rcode). */
  readonly answered: number;
  /** Responses with FORMERR. */
  readonly formerr: number;
  /** Datagrams ignored: too short, too long, or themselves responses. */
  readonly ignored: number;
  /** Queries dropped by a `drop` override. */
  readonly dropped: number;
}

/** A running development DNS server. */
export interface DevDnsServer {
  /** The bound IP address. */
  readonly address: string;
  /** The bound UDP port. */
  readonly port: number;
  /** `ip:port` (or `[ip]:port` for IPv6), ready for `dnsDiscovery({ servers: [server.server] })`. */
  readonly server: string;
  /** Replace the A records of `name`. An empty list removes them. Duplicates are served as given. */
  setA(name: string, ips: readonly string[]): void;
  /** Replace the AAAA records of `name`. An empty list removes them. */
  setAAAA(name: string, ips: readonly string[]): void;
  /** Replace both A and AAAA records of `name` from a mixed list of IPv4/IPv6 literals. */
  setRecords(name: string, ips: readonly string[]): void;
  /** Add A or AAAA records (by family) to `name`. */
  addRecords(name: string, ips: readonly string[]): void;
  /** Replace the SRV records of `name`. */
  setSRV(name: string, records: readonly DevSrvRecord[]): void;
  /** Remove every record of `name` (it answers NXDOMAIN again) and its override. */
  remove(name: string): void;
  /** Set or (with `undefined`) clear the override of `name`. */
  setOverride(name: string, override: DevDnsOverride | undefined): void;
  /** Current counters. */
  stats(): DevDnsStats;
  /** Stop answering and release the socket and timers. Idempotent. */
  close(): Promise<void>;
}

interface NameRecords {
  a: Uint8Array[];
  aaaa: Uint8Array[];
  srv: DevSrvRecord[];
}

function fail(message: string): never {
  throw new InvalidArgumentError(`startDevDnsServer: ${message}`);
}

function normaliseName(method: string, name: unknown): string {
  if (!isValidHostname(name)) fail(`${method}: "name" expected a DNS name, got ${describeType(name)}`);
  return canonicalHost(name);
}

function checkList(method: string, field: string, list: unknown): readonly unknown[] {
  if (!Array.isArray(list)) fail(`${method}: "${field}" expected an array, got ${describeType(list)}`);
  if (list.length > MAX_RECORDS_PER_NAME) fail(`${method}: "${field}" expected at most ${MAX_RECORDS_PER_NAME} records, got ${list.length}`);
  return list;
}

function toAddress(method: string, ip: unknown, family: 4 | 6, index: number): Uint8Array {
  const bytes = typeof ip !== 'string' ? undefined : family === 4 ? parseIPv4(ip) : parseIPv6(ip);
  if (bytes === undefined) fail(`${method}: entry ${index} expected an IPv${family} address, got ${describeType(ip)}`);
  return bytes;
}

function checkSrv(record: unknown, index: number): DevSrvRecord {
  if (typeof record !== 'object' || record === null) fail(`setSRV: entry ${index} expected an object, got ${describeType(record)}`);
  const r = record as Partial<DevSrvRecord>;
  if (!isValidHostname(r.target)) fail(`setSRV: entry ${index} "target" expected a DNS name`);
  if (!isValidPort(r.port)) fail(`setSRV: entry ${index} "port" expected an integer in 1..65535`);
  const u16 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;
  if (r.priority !== undefined && !u16(r.priority)) fail(`setSRV: entry ${index} "priority" expected an integer in 0..65535`);
  if (r.weight !== undefined && !u16(r.weight)) fail(`setSRV: entry ${index} "weight" expected an integer in 0..65535`);
  return { target: canonicalHost(r.target), port: r.port, priority: r.priority ?? 0, weight: r.weight ?? 0 };
}

function checkOverride(override: unknown): DevDnsOverride {
  if (typeof override !== 'object' || override === null) fail(`setOverride: expected an object, got ${describeType(override)}`);
  const o = override as { action?: unknown; rcode?: unknown; ms?: unknown; types?: unknown };
  if (o.types !== undefined) {
    if (!Array.isArray(o.types) || !o.types.every((t) => t === 'A' || t === 'AAAA' || t === 'SRV')) {
      fail('setOverride: "types" expected an array of "A", "AAAA", "SRV"');
    }
  }
  if (o.action === 'drop') return override as DevDnsOverride;
  if (o.action === 'rcode' && (o.rcode === 'NXDOMAIN' || o.rcode === 'SERVFAIL' || o.rcode === 'REFUSED')) {
    return override as DevDnsOverride;
  }
  if (o.action === 'delay' && typeof o.ms === 'number' && Number.isInteger(o.ms) && o.ms >= 0 && o.ms <= MAX_OVERRIDE_DELAY_MS) {
    return override as DevDnsOverride;
  }
  return fail('setOverride: expected {action:"drop"}, {action:"rcode", rcode:"NXDOMAIN"|"SERVFAIL"|"REFUSED"} or {action:"delay", ms}');
}

function typeName(qtype: number): DevRecordType | undefined {
  if (qtype === RecordType.A) return 'A';
  if (qtype === RecordType.AAAA) return 'AAAA';
  if (qtype === RecordType.SRV) return 'SRV';
  return undefined;
}

/**
 * Start a development DNS server on UDP.
 *
 * @param init - where to bind (default `127.0.0.1`, a free port) and the answer TTL
 * @returns the running server; read `port` (or `server`) to point a resolver at it
 * @throws {@link InvalidArgumentError} when `host` is not an IP literal or `port`/`ttl` is out of
 *   range; rejects with the socket error when the address cannot be bound
 * @example
 * ```ts
 * const dns = await startDevDnsServer();
 * dns.setA('tasks.sum', ['127.0.0.2', '127.0.0.3']);
 * const discovery = dnsDiscovery({ names: ['tasks.sum'], port: 7000, servers: [dns.server] });
 * console.log(await discovery.discover()); // two addresses
 * await dns.close();
 * ```
 */
export async function startDevDnsServer(init: DevDnsServerInit = {}): Promise<DevDnsServer> {
  if (typeof init !== 'object' || init === null) fail(`options expected an object, got ${describeType(init)}`);
  const host = init.host ?? '127.0.0.1';
  const family = typeof host === 'string' ? ipFamily(host) : 0;
  if (family === 0) fail(`"host" expected an IP address literal, got ${describeType(host)}`);
  const port = init.port ?? 0;
  if (!(port === 0 || isValidPort(port))) fail(`"port" expected an integer in 0..65535, got ${describeType(port)}`);
  const ttl = init.ttl ?? 0;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > 86_400) {
    fail(`"ttl" expected an integer in 0..86400 seconds, got ${describeType(ttl)}`);
  }

  const records = new Map<string, NameRecords>();
  const overrides = new Map<string, DevDnsOverride>();
  const timers = new Set<NodeJS.Timeout>();
  const counters = { received: 0, answered: 0, formerr: 0, ignored: 0, dropped: 0 };
  let closed = false;

  const socket: Socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });

  const entry = (name: string): NameRecords => {
    let found = records.get(name);
    if (found === undefined) {
      if (records.size >= MAX_NAMES) fail(`expected at most ${MAX_NAMES} names`);
      found = { a: [], aaaa: [], srv: [] };
      records.set(name, found);
    }
    return found;
  };
  const prune = (name: string): void => {
    const r = records.get(name);
    if (r !== undefined && r.a.length === 0 && r.aaaa.length === 0 && r.srv.length === 0) records.delete(name);
  };

  const send = (bytes: Uint8Array, to: RemoteInfo): void => {
    if (closed) return;
    counters.answered++;
    socket.send(bytes, to.port, to.address, () => {
      /* a send error (e.g. the client went away) is not the server's problem */
    });
  };

  const answersFor = (question: DnsQuestion): { rcode: number; answers: DnsAnswer[] } => {
    const r = records.get(question.name);
    if (r === undefined) return { rcode: Rcode.NXDOMAIN, answers: [] };
    if (question.type === RecordType.A) return { rcode: Rcode.NOERROR, answers: r.a.map((address) => ({ type: RecordType.A, address })) };
    if (question.type === RecordType.AAAA) {
      return { rcode: Rcode.NOERROR, answers: r.aaaa.map((address) => ({ type: RecordType.AAAA, address })) };
    }
    if (question.type === RecordType.SRV) {
      return {
        rcode: Rcode.NOERROR,
        answers: r.srv.map((s) => ({ type: RecordType.SRV, priority: s.priority ?? 0, weight: s.weight ?? 0, port: s.port, target: s.target })),
      };
    }
    return { rcode: Rcode.NOERROR, answers: [] }; // NODATA for every other type
  };

  const handle = (msg: Buffer, from: RemoteInfo): void => {
    counters.received++;
    if (closed) return;
    if (msg.length > MAX_QUERY_BYTES) {
      counters.ignored++;
      return;
    }
    const query = decodeQuery(msg);
    if (query.header === undefined || (query.header.flags & 0x8000) !== 0) {
      counters.ignored++; // too short to answer, or a response (never answer those: no loops)
      return;
    }
    if (!query.ok) {
      counters.formerr++;
      send(encodeResponse({ id: query.header.id, queryFlags: query.header.flags, rcode: Rcode.FORMERR }), from);
      return;
    }
    const { header, question } = query;
    const maxSize = query.ednsUdpSize === undefined ? CLASSIC_UDP_LIMIT : Math.min(Math.max(query.ednsUdpSize, CLASSIC_UDP_LIMIT), MAX_UDP_PAYLOAD);
    const edns = query.ednsUdpSize === undefined ? {} : { ednsUdpSize: MAX_UDP_PAYLOAD };
    const base = { id: header.id, queryFlags: header.flags, question, maxSize, ttl, ...edns };
    const opcode = (header.flags >> 11) & 0xf;
    if (opcode !== 0) return send(encodeResponse({ ...base, rcode: Rcode.NOTIMP }), from);
    if (question.qclass !== CLASS_IN && question.qclass !== CLASS_ANY) return send(encodeResponse({ ...base, rcode: Rcode.REFUSED }), from);

    const override = overrides.get(question.name);
    const applies = override !== undefined && (override.types === undefined || override.types.includes(typeName(question.type) ?? 'A'));
    if (override !== undefined && applies) {
      if (override.action === 'drop') {
        counters.dropped++;
        return;
      }
      if (override.action === 'rcode') {
        return send(encodeResponse({ ...base, rcode: Rcode[override.rcode] }), from);
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        const { rcode, answers } = answersFor(question);
        send(encodeResponse({ ...base, rcode, answers }), from);
      }, override.ms);
      timers.add(timer);
      return;
    }
    const { rcode, answers } = answersFor(question);
    send(encodeResponse({ ...base, rcode, answers }), from);
  };

  socket.on('message', (msg, from) => {
    try {
      handle(msg, from);
    } catch {
      // Never let one datagram take the server down; the codec does not throw on input, so this
      // is only reached by an internal bug, and the next query is still served.
      counters.ignored++;
    }
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', onError);
      socket.on('error', () => {
        /* runtime socket errors (ICMP unreachable on some systems) are ignored */
      });
      resolve();
    });
  });

  const bound = socket.address();
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => resolve()));

  const server: DevDnsServer = {
    address: bound.address,
    port: bound.port,
    server: family === 6 ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`,
    setA(name, ips) {
      const key = normaliseName('setA', name);
      const list = checkList('setA', 'ips', ips).map((ip, i) => toAddress('setA', ip, 4, i));
      entry(key).a = list;
      prune(key);
    },
    setAAAA(name, ips) {
      const key = normaliseName('setAAAA', name);
      const list = checkList('setAAAA', 'ips', ips).map((ip, i) => toAddress('setAAAA', ip, 6, i));
      entry(key).aaaa = list;
      prune(key);
    },
    setRecords(name, ips) {
      const key = normaliseName('setRecords', name);
      const list = checkList('setRecords', 'ips', ips);
      const a: Uint8Array[] = [];
      const aaaa: Uint8Array[] = [];
      list.forEach((ip, i) => {
        if (typeof ip === 'string' && ipFamily(ip) === 4) a.push(toAddress('setRecords', ip, 4, i));
        else aaaa.push(toAddress('setRecords', ip, 6, i));
      });
      const r = entry(key);
      r.a = a;
      r.aaaa = aaaa;
      prune(key);
    },
    addRecords(name, ips) {
      const key = normaliseName('addRecords', name);
      const list = checkList('addRecords', 'ips', ips);
      const r = entry(key);
      const a = [...r.a];
      const aaaa = [...r.aaaa];
      list.forEach((ip, i) => {
        if (typeof ip === 'string' && ipFamily(ip) === 4) a.push(toAddress('addRecords', ip, 4, i));
        else aaaa.push(toAddress('addRecords', ip, 6, i));
      });
      if (a.length > MAX_RECORDS_PER_NAME || aaaa.length > MAX_RECORDS_PER_NAME) {
        prune(key);
        fail(`addRecords: expected at most ${MAX_RECORDS_PER_NAME} records per type`);
      }
      r.a = a;
      r.aaaa = aaaa;
      prune(key);
    },
    setSRV(name, list) {
      const key = normaliseName('setSRV', name);
      const srv = checkList('setSRV', 'records', list).map(checkSrv);
      entry(key).srv = srv;
      prune(key);
    },
    remove(name) {
      const key = normaliseName('remove', name);
      records.delete(key);
      overrides.delete(key);
    },
    setOverride(name, override) {
      const key = normaliseName('setOverride', name);
      if (override === undefined) overrides.delete(key);
      else overrides.set(key, checkOverride(override));
    },
    stats() {
      return { ...counters };
    },
    close() {
      if (!closed) {
        closed = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        socket.close();
      }
      return closedPromise;
    },
  };
  return server;
}
