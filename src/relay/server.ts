/**
 * The relay server (`coupler relay`): parties dial out to it; it admits a connection only with a
 * signature by a roster key bound to the session and the relay's public URL, pairs the two
 * directions of one channel by (session, roster digest, from, to) and forwards binary messages
 * between them without looking inside. Stateless apart from live connections.
 *
 * What the relay can do to traffic (delay, drop, flip, replay, reorder, splice) the channel layer
 * detects end to end: the handshake binds session and both roster keys, and every frame is
 * AEAD-sealed with a per-direction counter.
 *
 * Resources (who may hold what, for how long, and what is evicted when full) are the
 * {@link RelayTable}'s; this file moves bytes and closes what the table says.
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict, encodeBase64 } from '../crypto/bytes.js';
import { ed25519KeyPairFromSeed, ed25519Verify } from '../crypto/ed25519.js';
import { InvalidArgumentError } from '../errors.js';
import { isValidPartyId } from '../identity/identity.js';
import { Roster, parseRoster, rosterDigest, sessionRosterDigest } from '../identity/roster.js';
import { SESSION_ID_PATTERN } from '../channel/handshake.js';
import { maxFrameBytes, DEFAULT_CHUNK_BYTES } from '../channel/channel.js';
import {
  ADMISSION_SKEW_MS,
  MAX_ADMISSION_BYTES,
  RELAY_PATH,
  RELAY_SUBPROTOCOL,
  admissionTranscript,
  normalizeRelayUrl,
  parseRelayRequest,
  type AdmissionRequest,
  type RelayRefuseReason,
} from './protocol.js';
import { aggregateTranscript, type AggregateAdmissionEvidence, type AggregateRequest } from './aggregate-wire.js';
import { AGGREGATE_MEMORY_BYTES, AGGREGATE_UPLOAD_MESSAGE_BYTES, RelayAggregation, type AggregateHooks } from './aggregate.js';
import { DEFAULT_RELAY_WINDOW_BYTES, RelayTable, memoryBound, type AggEntry, type ConnEntry, type SessionEntry, type TableLimits } from './table.js';
import { relayMetrics } from './metrics.js';
import { AbortedAggregations } from './aborted.js';

/** Default interface of {@link startRelay}: loopback. */
export const DEFAULT_RELAY_HOST = '127.0.0.1';
/** Largest forwarded message by default: one channel frame at the default chunk size (bytes). */
export const DEFAULT_RELAY_MAX_MESSAGE_BYTES = maxFrameBytes(DEFAULT_CHUNK_BYTES);
/** How long a closed or refused connection may linger before it is cut (ms). */
const CLOSE_GRACE_MS = 1_000;
/** Slowest sweep of the table's deadlines (ms); faster when a deadline is shorter. */
const MAX_SWEEP_INTERVAL_MS = 1_000;
/** Fastest sweep (ms). */
const MIN_SWEEP_INTERVAL_MS = 10;
/** Close code of a refusal; the close reason is the {@link RelayRefuseReason}. */
const REFUSE_CLOSE_CODE = 4403;
/** Close code when the partner left or the relay stops. */
const GOING_AWAY_CLOSE_CODE = 1001;
/** URL path of the liveness probe. */
export const RELAY_HEALTH_PATH = '/healthz';
/** URL path of the Prometheus metrics. */
export const RELAY_METRICS_PATH = '/metrics';

/** Limits of a relay. Every one has a default (the `DEFAULT_*` constants of this module and of the table). */
export interface RelayLimits extends TableLimits {
  /** Largest forwarded message (bytes). Default {@link DEFAULT_RELAY_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
  /**
   * Bytes queued towards one connection beyond which the relay stops reading its partner (at
   * least `maxMessageBytes`). Default {@link DEFAULT_RELAY_WINDOW_BYTES}.
   */
  readonly windowBytes?: number;
}

/** What the relay reports to {@link RelayOptions.onEvent} (for logs; never keys or payload). */
export type RelayEvent =
  | { readonly type: 'admitted'; readonly session: string; readonly digest: string; readonly from: string; readonly to: string; readonly source: string; readonly newSession: boolean }
  | {
      readonly type: 'session-end';
      readonly session: string;
      readonly digest: string;
      /** Source addresses of its connections. */
      readonly sources: readonly string[];
      /** Payload bytes forwarded. */
      readonly bytes: number;
      readonly durationMs: number;
      /** `closed` when its parties left, else the reason the relay ended it. */
      readonly reason: 'closed' | RelayRefuseReason;
    }
  | { readonly type: 'refused'; readonly reason: RelayRefuseReason; readonly source: string };

/** TLS material for a relay that serves `wss://` itself (PEM). */
export interface RelayTlsOptions {
  /** Certificate chain, PEM. */
  readonly cert: string | Buffer;
  /** Private key, PEM. */
  readonly key: string | Buffer;
}

/** Options of {@link startRelay}. */
export interface RelayOptions extends RelayLimits {
  /** Rosters whose parties may use this relay (one per task, or one shared). May be empty with `rosterBoundSessions`. */
  readonly rosters: readonly Roster[];
  /**
   * Also admit roster-bound sessions (a session id `<label>#<roster digest>`, from
   * `rosterBoundSessionId`) on the roster the parties present, after checking its digest against
   * the id: for tasks whose keys are made per task (vantage6 key subtasks), which no operator can
   * list in advance. Nobody can join such a session without a key of its roster, or take its id
   * over with another roster; but anyone who can reach the relay can make a roster of their own
   * keys and relay between them, within the limits. Default false.
   */
  readonly rosterBoundSessions?: boolean;
  /** Interface to bind. Default {@link DEFAULT_RELAY_HOST}. */
  readonly host?: string;
  /** Port. Default 0 (any free port). */
  readonly port?: number;
  /**
   * URLs under which parties reach this relay (`ws://` or `wss://`, e.g. behind a TLS proxy); the
   * admission signature must name one of them. Default: `ws://<host>:<bound port>` (`wss://` with
   * `tls`). Required when `host` is a wildcard address (`0.0.0.0`, `::`), which no party can dial.
   */
  readonly publicUrls?: readonly string[];
  /** Serve TLS (`wss://`) with this certificate and key. Default: plain `ws://`. */
  readonly tls?: RelayTlsOptions;
  /** Called on every refusal (for logging; never with secrets). */
  readonly onRefused?: (reason: RelayRefuseReason, remoteAddress: string | undefined) => void;
  /** Called on admissions, session ends and refusals (for logging; never with secrets). */
  readonly onEvent?: (event: RelayEvent) => void;
  /**
   * The relay's Ed25519 key pair (tweetnacl layout: 32-byte public key, 64-byte secret key), with
   * which it signs the answers of relayed openings (`opening: 'relay'`). Default: a fresh key per
   * start. The parties agree on the key each run (they echo the key they were given); giving one
   * here only keeps it stable across restarts.
   */
  readonly signingKey?: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array };
  /** @internal test hooks (a deliberately malicious relay). */
  readonly _hooks?: RelayHooks;
}

/** @internal hooks that let tests turn the relay malicious. */
export interface RelayHooks extends AggregateHooks {
  /** Map the slot a connection's partner is looked up under (cross-wiring). */
  partnerOf?(session: string, from: string, to: string): { session: string; from: string; to: string };
  /** Decide what to forward for one message: return the messages to send (none = drop). */
  forward?(session: string, from: string, to: string, data: Uint8Array): Uint8Array[];
}

/** Counters of a relay. */
export interface RelayStats {
  /** Connections not admitted yet (TCP accepted, no admission yet). */
  readonly pending: number;
  /** Admitted connections open now. */
  readonly connections: number;
  /** Pairs currently forwarding. */
  readonly pairs: number;
  /** Live sessions. */
  readonly sessions: number;
  /** Remembered admission nonces (the replay set). */
  readonly nonces: number;
  /** Admissions since start. */
  readonly admitted: number;
  /** Sessions ended since start. */
  readonly sessionsEnded: number;
  /** Bytes forwarded since start (payload of binary messages). */
  readonly bytesForwarded: number;
  /** Messages forwarded since start. */
  readonly messagesForwarded: number;
  /** Bytes the relay holds now on their way to a connection (at most `windowBytes` per connection). */
  readonly queuedBytes: number;
  /** Refusals since start, by reason. */
  readonly refused: Readonly<Partial<Record<RelayRefuseReason, number>>>;
  /** The most the relay's connections, sessions and nonces can hold at these limits (bytes, see `memoryBound`). */
  readonly memoryBoundBytes: number;
  /** Relayed openings: live now, answered and failed since start, and the bytes they moved (uploads and answers). */
  readonly aggregations: { readonly live: number; readonly completed: number; readonly failed: number; readonly bytes: number };
}

/** A running relay. */
export interface RelayServer {
  /** The bound port. */
  readonly port: number;
  /** The bound address. */
  readonly host: string;
  /** The URLs admission signatures may name. */
  readonly publicUrls: readonly string[];
  /** The relay's Ed25519 public key (it signs the answers of relayed openings). */
  readonly publicKey: Uint8Array;
  /** Counters. */
  stats(): RelayStats;
  /** Stop: refuse new connections and drop every live one. */
  close(): Promise<void>;
}

/** One TCP connection, from accept to close. */
interface Link {
  readonly socket: Socket;
  readonly source: string;
  ws: WebSocket | undefined;
  conn: ConnEntry<Link> | undefined;
  /** Bytes handed to `ws.send` towards this link and not yet written out. */
  queued: number;
  /** Reading paused because the partner's queue is full. */
  paused: boolean;
  ended: boolean;
}

export { ABORTED_AGGREGATIONS_MAX, ABORTED_PER_SOURCE_MAX, ABORTED_AGGREGATION_TTL_MS } from './aborted.js';

/** Key of an aborted aggregation: session, roster digest and aggregation id. */
function abortedKey(session: string, digest: string, agg: string): string {
  return `${session}\n${digest}\n${agg}`;
}

/** The answer a relay gives an aggregation member once it is admitted (text message). */
interface AggregateAdmitted {
  readonly t: 'admitted';
  /** The relay's public key, base64. */
  readonly key: string;
}

const RENAMED: Readonly<Record<string, string>> = {
  maxBoundSessionsPerSource: '"maxBoundSessionsPerSource" is now "maxSessionsPerSource" (it counts every session a source opens)',
  highWaterBytes: '"highWaterBytes" is now "windowBytes" (bytes queued towards one connection)',
};

function positive(v: number | undefined, d: number, name: string): number {
  if (v === undefined) return d;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`"${name}" must be a positive integer, got ${String(v)}`);
  return v;
}

/**
 * The unit the per-source caps count: an IPv4 address, or an IPv6 /64 (one site's prefix: a host
 * can take any number of addresses inside its /64, so counting addresses would not bound it).
 */
export function relaySourceKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  // Expand `::` and keep the first four groups.
  const [head, tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => (g.replace(/^0+/, '') || '0').toLowerCase()).join(':')}::/64`;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/**
 * Start a relay.
 *
 * @throws {@link InvalidArgumentError} for bad options (checked before the port is bound); a `net`
 *   error if the port cannot be bound.
 * @example
 * const relay = await startRelay({ rosters: [roster], host: '0.0.0.0', port: 8889, publicUrls: ['wss://relay.example.org'] });
 */
export async function startRelay(options: RelayOptions): Promise<RelayServer> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  for (const [old, hint] of Object.entries(RENAMED)) if (old in options) throw new InvalidArgumentError(hint);
  if (options.rosterBoundSessions !== undefined && typeof options.rosterBoundSessions !== 'boolean') throw new InvalidArgumentError('"rosterBoundSessions" must be a boolean');
  const rosterBound = options.rosterBoundSessions === true;
  if (!Array.isArray(options.rosters) || (options.rosters.length === 0 && !rosterBound) || !options.rosters.every((r) => r instanceof Roster)) {
    throw new InvalidArgumentError('"rosters" must be a non-empty array of Roster (or empty with "rosterBoundSessions")');
  }
  const table = new RelayTable<Link>(options);
  const maxMessageBytes = positive(options.maxMessageBytes, DEFAULT_RELAY_MAX_MESSAGE_BYTES, 'maxMessageBytes');
  const windowBytes = positive(options.windowBytes, Math.max(DEFAULT_RELAY_WINDOW_BYTES, maxMessageBytes), 'windowBytes');
  if (windowBytes < maxMessageBytes) throw new InvalidArgumentError(`"windowBytes" (${windowBytes}) must be at least "maxMessageBytes" (${maxMessageBytes})`);
  const host = options.host ?? DEFAULT_RELAY_HOST;
  if (typeof host !== 'string') throw new InvalidArgumentError('"host" must be a string');
  const port = options.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError('"port" must be an integer in 0..65535');
  const tls = options.tls;
  if (tls !== undefined) {
    const pem = (v: unknown): boolean => (typeof v === 'string' && v.length > 0) || Buffer.isBuffer(v);
    if (typeof tls !== 'object' || tls === null || !pem(tls.cert) || !pem(tls.key)) throw new InvalidArgumentError('"tls" must be { cert, key } with PEM strings or Buffers');
  }
  // Public URLs are checked before anything is bound (a bad one must not leave a relay listening).
  let givenUrls: string[] | undefined;
  if (options.publicUrls !== undefined) {
    if (!Array.isArray(options.publicUrls) || options.publicUrls.length === 0) throw new InvalidArgumentError('"publicUrls" must be a non-empty array of ws:// or wss:// URLs');
    givenUrls = options.publicUrls.map((u: unknown) => {
      try {
        return normalizeRelayUrl(u as string);
      } catch {
        throw new InvalidArgumentError(`"publicUrls" must be ws:// or wss:// URLs, got ${JSON.stringify(String(u).slice(0, 100))}`);
      }
    });
  } else if (isWildcard(host)) {
    throw new InvalidArgumentError(`"publicUrls" is required when "host" is ${host}: parties sign the URL they dial, and no party can dial ${host}`);
  }
  const hooks = options._hooks;
  const signingKey = options.signingKey ?? ed25519KeyPairFromSeed(new Uint8Array(randomBytes(32)));
  if (!(signingKey.publicKey instanceof Uint8Array) || signingKey.publicKey.length !== 32 || !(signingKey.secretKey instanceof Uint8Array) || signingKey.secretKey.length !== 64) {
    throw new InvalidArgumentError('"signingKey" must be { publicKey: 32 bytes, secretKey: 64 bytes }');
  }
  // Aggregation uploads are single messages of one chunk each: a relay whose message cap is below
  // that refuses aggregations (`aggregate-mismatch`) rather than cutting every member.
  const aggregationsFit = maxMessageBytes >= AGGREGATE_UPLOAD_MESSAGE_BYTES;
  const engines = new Map<AggEntry<Link>, RelayAggregation>();
  /**
   * Aggregations that aborted, by session, roster digest and aggregation id, with the abort
   * message and when: a member that comes after the abort gets the same message (the evidence
   * naming the culprit) instead of a fresh aggregation that waits for members who already left —
   * which made a late honest party fail naming nobody when a cheater uploaded early. Bounded,
   * with a quota per source (see `relay/aborted.ts`).
   */
  const aborted = new AbortedAggregations();
  let aggCompleted = 0;
  let aggFailed = 0;
  let aggBytes = 0;
  const digestOf = new Map(options.rosters.map((ro) => [ro, rosterDigest(ro)] as const));
  const memoryBoundBytes = memoryBound({ limits: table.limits, maxMessageBytes, windowBytes, aggregationBytes: AGGREGATE_MEMORY_BYTES });
  const refused: Partial<Record<RelayRefuseReason, number>> = {};
  /** Live links by the TCP connection's remote address and port (the same for a TLS socket over it). */
  const links = new Map<string, Link>();
  const tcpKey = (sock: Socket): string => `${sock.remoteAddress ?? ''}|${sock.remotePort ?? ''}`;
  let bytesForwarded = 0;
  let messagesForwarded = 0;
  let queuedBytes = 0;
  let admitted = 0;
  let sessionsEnded = 0;
  let publicUrls: string[] = givenUrls ?? [];

  const emit = (e: RelayEvent): void => {
    try {
      options.onEvent?.(e);
      if (e.type === 'refused') options.onRefused?.(e.reason, e.source);
    } catch {
      /* logging must not break the relay */
    }
  };

  const stats = (): RelayStats => {
    const counts = table.counts();
    return {
      ...counts,
      admitted,
      sessionsEnded,
      bytesForwarded,
      messagesForwarded,
      queuedBytes,
      refused: { ...refused },
      memoryBoundBytes,
      aggregations: { live: counts.aggregations, completed: aggCompleted, failed: aggFailed, bytes: aggBytes },
    };
  };

  const onHttp = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === RELAY_HEALTH_PATH) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    else if (req.method === 'GET' && path === RELAY_METRICS_PATH) res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(relayMetrics(stats()));
    else res.writeHead(426, { 'content-type': 'text/plain' }).end('coupler relay: WebSocket required\n');
  };
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onHttp) : createHttpServer(onHttp);
  server.headersTimeout = table.limits.admissionTimeoutMs;
  server.requestTimeout = table.limits.admissionTimeoutMs;
  const wss = new WebSocketServer({
    server,
    path: RELAY_PATH,
    perMessageDeflate: false,
    maxPayload: maxMessageBytes,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(RELAY_SUBPROTOCOL) ? RELAY_SUBPROTOCOL : false),
  });
  wss.on('error', () => undefined);

  // Links ended with a close grace (their refusal, or "going away", is sent and the socket kept up
  // to CLOSE_GRACE_MS for the close handshake), in which `ws` still reads and buffers up to
  // maxMessageBytes of a frame. They have left the pending table, so no admission cap counts them:
  // a stranger whose every connection was refused at once held as many sockets, each with a cut
  // frame, as it could open in a second (242 of 300 at once; review22 R22-1 at the party's
  // listener). At most maxPending of them linger; beyond that the oldest is destroyed now.
  const lingering = new Set<Link>();
  const linger = (link: Link): void => {
    lingering.add(link);
    link.socket.once('close', () => lingering.delete(link));
    while (lingering.size > table.limits.maxPending) {
      const oldest = lingering.values().next().value as Link;
      lingering.delete(oldest);
      oldest.socket.destroy();
    }
    setTimeout(() => link.socket.destroy(), CLOSE_GRACE_MS).unref();
  };

  /** Cut a link: with a refusal reason (sent and used as close reason) or as "going away". */
  const end = (link: Link, reason: RelayRefuseReason | undefined, ev?: AggregateAdmissionEvidence): void => {
    if (link.ended) return;
    link.ended = true;
    if (reason !== undefined) {
      refused[reason] = (refused[reason] ?? 0) + 1;
      emit({ type: 'refused', reason, source: link.source });
    }
    const ws = link.ws;
    if (ws !== undefined && ws.readyState === WebSocket.OPEN) {
      try {
        if (reason !== undefined) ws.send(JSON.stringify({ t: 'refused', reason, ...(ev === undefined ? {} : { ev }) }));
        ws.close(reason === undefined ? GOING_AWAY_CLOSE_CODE : REFUSE_CLOSE_CODE, reason);
      } catch {
        /* best effort */
      }
      linger(link);
    } else link.socket.destroy();
  };

  const sessionEnded = (s: SessionEntry<Link>, reason: 'closed' | RelayRefuseReason): void => {
    sessionsEnded++;
    emit({ type: 'session-end', session: s.id, digest: s.digest, sources: [...s.sources], bytes: s.bytes, durationMs: Date.now() - s.since, reason });
  };

  /** Release `conn` in the table and cut every link that ends with it (`reason` for `conn`'s own). */
  const drop = (conn: ConnEntry<Link>, reason: RelayRefuseReason | undefined): void => {
    // A member that leaves an unanswered aggregation ends it: the others learn who left, and the
    // engine (its accumulators) goes with it.
    const e = conn.agg === undefined || !table.isLive(conn) ? undefined : engines.get(conn.agg);
    if (e !== undefined && !e.ended) e.abort('member-left', conn.from);
    const released = table.release(conn);
    for (const c of released) end(c.handle, c === conn ? reason : undefined);
    if (released.length > 0 && conn.session.conns.size === 0) sessionEnded(conn.session, reason ?? 'closed');
  };

  /** Several released connections (already out of the table) ending for one reason. */
  const endReleased = (conns: readonly ConnEntry<Link>[], reason: RelayRefuseReason): void => {
    const ended = new Set<SessionEntry<Link>>();
    for (const c of conns) {
      end(c.handle, reason);
      if (c.session.conns.size === 0) ended.add(c.session);
    }
    for (const s of ended) sessionEnded(s, reason);
  };

  /** Connections the table evicted to make room: cut them, and forget the aggregations that ended with them. */
  const evict = (conns: readonly ConnEntry<Link>[]): void => {
    for (const c of conns) {
      const e = c.agg === undefined ? undefined : engines.get(c.agg);
      if (e !== undefined) {
        e.dispose();
        engines.delete(c.agg!);
        aggFailed++;
      }
    }
    endReleased(conns, 'evicted');
  };

  const forward = (src: Link, data: Buffer): void => {
    const c = src.conn!;
    const p = c.partner!;
    const dst = p.handle;
    const out = hooks?.forward ? hooks.forward(c.session.id, c.from, c.to, new Uint8Array(data)) : [data];
    for (const m of out) {
      if (!table.activity(c, m.length, Date.now())) {
        // The session's budget is spent: both directions of the pair learn why.
        endReleased(table.release(c), 'bytes-limit');
        return;
      }
      bytesForwarded += m.length;
      messagesForwarded++;
      dst.queued += m.length;
      queuedBytes += m.length;
      dst.ws!.send(m, { binary: true }, () => {
        dst.queued -= m.length;
        queuedBytes -= m.length;
        if (src.paused && dst.queued <= windowBytes - maxMessageBytes) {
          src.paused = false;
          src.ws!.resume();
        }
      });
    }
    // Backpressure: stop reading this writer while its partner's queue could not take another
    // full message within the window.
    if (dst.queued > windowBytes - maxMessageBytes && !src.paused) {
      src.paused = true;
      src.ws!.pause();
    }
  };

  const transcriptOf = (url: string, r: AdmissionRequest | AggregateRequest): Uint8Array => ('op' in r ? aggregateTranscript(url, r) : admissionTranscript(url, r));

  /**
   * The candidates under whose key for `from` the signature verifies over `msg`. Each distinct key
   * is checked once: rosters of several tasks often hold the same key for a party, and an
   * unauthenticated request must not cost one signature check per roster (review13 R13-4).
   */
  const verifiedUnder = (msg: Uint8Array, sig: Uint8Array, candidates: readonly Roster[], from: string): Roster[] => {
    const byKey = new Map<string, boolean>();
    return candidates.filter((ro) => {
      const key = ro.get(from)!.publicKey;
      const hex = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
      let ok = byKey.get(hex);
      if (ok === undefined) byKey.set(hex, (ok = ed25519Verify(msg, sig, key)));
      return ok;
    });
  };

  const verify = (r: AdmissionRequest | AggregateRequest, sig: Uint8Array, candidates: readonly Roster[]): Roster | undefined => {
    for (const url of publicUrls) {
      const verified = verifiedUnder(transcriptOf(url, r), sig, candidates, r.from);
      if (verified.length === 0) continue;
      if (verified.length === 1) return verified[0];
      // Several rosters with the same key: join the live session of one of them, else the first.
      const live = new Set([...table.sessions()].map((s) => `${s.id}\n${s.digest}`));
      return verified.find((ro) => live.has(`${r.session}\n${digestOf.get(ro) ?? rosterDigest(ro)}`)) ?? verified[0];
    }
    return undefined;
  };

  /** The rosters a request may be admitted on, or the refusal. */
  const rostersFor = (r: AdmissionRequest | AggregateRequest): readonly Roster[] | RelayRefuseReason => {
    // A session belongs to what its parties prove: the id and the roster they are admitted on.
    // A roster-bound id (`<label>#<digest>`) names its roster: it is admitted only on a roster
    // with that digest, presented by the party (`rosterBoundSessions`) or listed at the relay.
    const boundDigest = sessionRosterDigest(r.session);
    if (boundDigest === undefined) return options.rosters;
    const listed = options.rosters.filter((ro) => digestOf.get(ro) === boundDigest);
    if (listed.length > 0) return listed;
    if (r.roster === undefined) return 'roster-digest';
    if (!rosterBound) return 'not-in-roster';
    let presented: Roster;
    try {
      presented = parseRoster(r.roster);
    } catch {
      return 'malformed';
    }
    return rosterDigest(presented) === boundDigest ? [presented] : 'roster-digest';
  };

  const admit = (link: Link, text: string): void => {
    let parsed: ReturnType<typeof parseRelayRequest>;
    try {
      parsed = parseRelayRequest(text);
    } catch {
      end(link, 'malformed');
      return;
    }
    if (parsed.kind === 'aggregate') {
      admitMember(link, parsed.req);
      return;
    }
    const r = parsed.req;
    const sig = decodeBase64Strict(r.sig);
    if (!SESSION_ID_PATTERN.test(r.session) || !isValidPartyId(r.from) || !isValidPartyId(r.to) || r.from === r.to || sig === undefined || sig.length !== 64) {
      end(link, 'malformed');
      return;
    }
    // Signed for another URL? checkSigned says so, when the hint names a URL the signature verifies under.
    const roster = checkSigned(link, r, sig, [r.from, r.to]);
    if (roster === undefined) return;
    const digest = digestOf.get(roster) ?? rosterDigest(roster);
    const result = table.admit(
      {
        handle: link,
        source: link.source,
        session: r.session,
        digest,
        roster,
        from: r.from,
        to: r.to,
        nonce: r.nonce,
        ts: r.ts,
        ...(hooks?.partnerOf ? { partnerSlot: hooks.partnerOf(r.session, r.to, r.from) } : {}),
      },
      Date.now(),
    );
    if (!result.ok) {
      end(link, result.reason);
      return;
    }
    evict(result.evicted);
    admitted++;
    const ws = link.ws!;
    link.conn = result.conn;
    emit({ type: 'admitted', session: r.session, digest, from: r.from, to: r.to, source: link.source, newSession: result.conn.session.conns.size === 1 });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const c = link.conn;
      if (c === undefined || !table.isLive(c)) return;
      // Only opaque binary frames after pairing; anything else ends the connection.
      if (!isBinary || c.partner === undefined) drop(c, 'malformed');
      else forward(link, data);
    });
    ws.on('ping', () => {
      const c = link.conn;
      if (c !== undefined && c.partner !== undefined && table.isLive(c)) table.activity(c, 0, Date.now());
    });
    ws.send(JSON.stringify({ t: 'admitted' }));
    if (result.partner) {
      result.partner.handle.ws!.send(JSON.stringify({ t: 'paired' }));
      ws.send(JSON.stringify({ t: 'paired' }));
    }
  };

  /** The signature, roster and URL checks every admission shares; the roster, or undefined after ending the link. */
  const checkSigned = (link: Link, r: AdmissionRequest | AggregateRequest, sig: Uint8Array, ids: readonly string[]): Roster | undefined => {
    if (Math.abs(Date.now() - r.ts) > ADMISSION_SKEW_MS) {
      end(link, 'stale');
      return undefined;
    }
    const found = rostersFor(r);
    if (typeof found === 'string') {
      end(link, found);
      return undefined;
    }
    const holding = found.filter((ro) => ids.every((id) => ro.has(id)));
    // The party said which roster it uses (an unsigned hint): only that one, when the relay has it
    // and it holds the ids. Several rosters may hold the signer's key, and a guess let a member of
    // another of them split one pair across two sessions (review13 R13-6).
    const hinted = r.digest === undefined ? [] : holding.filter((ro) => (digestOf.get(ro) ?? rosterDigest(ro)) === r.digest);
    const candidates = hinted.length > 0 ? hinted : holding;
    if (candidates.length === 0) {
      end(link, 'not-in-roster');
      return undefined;
    }
    const roster = verify(r, sig, candidates);
    if (roster) return roster;
    let hintedUrl: string | undefined;
    try {
      hintedUrl = r.url === undefined ? undefined : normalizeRelayUrl(r.url);
    } catch {
      hintedUrl = undefined;
    }
    const mismatch = hintedUrl !== undefined && !publicUrls.includes(hintedUrl) && verifiedUnder(transcriptOf(hintedUrl, r), sig, candidates, r.from).length > 0;
    end(link, mismatch ? 'url-mismatch' : 'bad-signature');
    return undefined;
  };

  /** Admit a member of a relayed opening: the same checks as a channel, then the aggregation. */
  const admitMember = (link: Link, r: AggregateRequest): void => {
    const sig = decodeBase64Strict(r.sig);
    const sorted = [...r.parties].sort();
    const wellFormed =
      SESSION_ID_PATTERN.test(r.session) &&
      isValidPartyId(r.from) &&
      r.parties.length >= 2 &&
      r.parties.every((p) => isValidPartyId(p)) &&
      new Set(r.parties).size === r.parties.length &&
      r.parties.every((p, k) => p === sorted[k]) &&
      r.parties.includes(r.from) &&
      r.len >= 1 &&
      sig !== undefined &&
      sig.length === 64;
    if (!wellFormed) {
      end(link, 'malformed');
      return;
    }
    const roster = checkSigned(link, r, sig, r.parties);
    if (roster === undefined) return;
    if (!aggregationsFit) {
      end(link, 'aggregate-mismatch');
      return;
    }
    const digest = digestOf.get(roster) ?? rosterDigest(roster);
    const gone = aborted.get(abortedKey(r.session, digest, r.agg), Date.now());
    if (gone !== undefined) {
      // The aggregation already ended: this member gets the abort the others got.
      const ws = link.ws;
      if (ws !== undefined && ws.readyState === WebSocket.OPEN) ws.send(gone, () => end(link, undefined));
      else end(link, undefined);
      return;
    }
    // The URL it signed (one of ours: checkSigned verified it), kept with its request as the
    // evidence a mismatching later member is refused with.
    const key = roster.get(r.from)!.publicKey;
    const url = publicUrls.length === 1 ? publicUrls[0]! : publicUrls.find((u) => ed25519Verify(aggregateTranscript(u, r), sig, key))!;
    const admission: AggregateAdmissionEvidence = { url, from: r.from, parties: [...r.parties], len: r.len, ts: r.ts, nonce: r.nonce, sig: r.sig };
    const result = table.admit(
      { handle: link, source: link.source, session: r.session, digest, roster, from: r.from, to: '', nonce: r.nonce, ts: r.ts, aggregate: { id: r.agg, parties: r.parties, length: r.len, admission } },
      Date.now(),
    );
    if (!result.ok) {
      end(link, result.reason, result.conflict);
      return;
    }
    evict(result.evicted);
    admitted++;
    const conn = result.conn;
    const agg = conn.agg!;
    link.conn = conn;
    emit({ type: 'admitted', session: r.session, digest, from: r.from, to: `aggregation ${r.agg.slice(0, 16)}`, source: link.source, newSession: conn.session.conns.size === 1 });
    let engine = engines.get(agg);
    if (engine === undefined) {
      const connOf = (p: string): ConnEntry<Link> | undefined => agg.members.get(p);
      const e = new RelayAggregation({
        session: r.session,
        agg: r.agg,
        parties: agg.parties,
        length: agg.length,
        keyOf: (p) => roster.get(p)!.publicKey,
        secretKey: signingKey.secretKey,
        windowBytes,
        ...(hooks === undefined ? {} : { hooks }),
        onBytes: (p, bytes) => {
          const c = connOf(p);
          aggBytes += bytes;
          return c === undefined || table.activity(c, bytes, Date.now());
        },
        onDone: () => {
          aggCompleted++;
          table.aggregationDone(agg);
          engines.delete(agg);
          // The close frame follows the answer in each member's queue.
          for (const c of agg.members.values()) c.handle.ws?.close(1000);
        },
        onAbort: (reason, _party, text) => {
          aggFailed++;
          engines.delete(agg);
          if (text !== undefined) aborted.add(abortedKey(r.session, digest, r.agg), text, [...agg.members.values()].map((c) => c.source), Date.now());
          const first = agg.members.values().next().value as ConnEntry<Link> | undefined;
          if (first === undefined) return;
          const released = table.release(first);
          if (reason === 'bytes-limit') endReleased(released, 'bytes-limit');
          else for (const c of released) end(c.handle, undefined);
          if (released.length > 0 && first.session.conns.size === 0) sessionEnded(first.session, 'closed');
        },
      });
      engines.set(agg, e);
      engine = e;
    }
    const ws = link.ws!;
    const member = r.from;
    const io = {
      send: (data: Buffer | string, done: () => void): void => {
        const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
        link.queued += size;
        queuedBytes += size;
        ws.send(data, { binary: typeof data !== 'string' }, () => {
          link.queued -= size;
          queuedBytes -= size;
          done();
        });
      },
      pause: () => ws.pause(),
      resume: () => ws.resume(),
    };
    engine.attach(member, io);
    const theEngine = engine;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const c = link.conn;
      if (c === undefined || !table.isLive(c) || theEngine.ended) return;
      if (!isBinary) theEngine.abort('upload-malformed', member);
      else theEngine.onUpload(member, data);
    });
    ws.on('ping', () => {
      const c = link.conn;
      if (c !== undefined && table.isLive(c)) table.activity(c, 0, Date.now());
    });
    const announced = hooks?.aggregateKey ? hooks.aggregateKey({ session: r.session, agg: r.agg, to: member }, Uint8Array.from(signingKey.publicKey)) : signingKey.publicKey;
    const admittedMsg: AggregateAdmitted = { t: 'admitted', key: encodeBase64(announced) };
    ws.send(JSON.stringify(admittedMsg));
  };

  server.on('connection', (socket: Socket) => {
    const link: Link = { socket, source: relaySourceKey(socket.remoteAddress), ws: undefined, conn: undefined, queued: 0, paused: false, ended: false };
    const k = tcpKey(socket);
    links.set(k, link);
    socket.once('close', () => {
      if (links.get(k) === link) links.delete(k);
      table.removePending(link);
      link.ended = true;
      if (link.conn !== undefined) drop(link.conn, undefined);
    });
    for (const old of table.addPending(link, link.source, Date.now())) end(old, 'busy');
  });

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    ws.on('error', () => undefined);
    const link = links.get(tcpKey(req.socket as Socket));
    if (link === undefined || link.ended || !table.isPending(link) || ws.protocol !== RELAY_SUBPROTOCOL) {
      ws.terminate();
      return;
    }
    link.ws = ws;
    ws.once('message', (data: Buffer, isBinary: boolean) => {
      if (link.ended || !table.isPending(link)) return;
      if (isBinary || data.length > MAX_ADMISSION_BYTES) end(link, 'malformed');
      else admit(link, data.toString('utf8'));
    });
  });

  const L = table.limits;
  const sweepMs = Math.max(MIN_SWEEP_INTERVAL_MS, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(Math.min(L.admissionTimeoutMs, L.pairTimeoutMs, L.idleTimeoutMs) / 4)));
  const sweep = setInterval(() => {
    const x = table.expire(Date.now());
    for (const link of x.pending) end(link, 'admission-timeout');
    // Aggregations that expire learn why first (whom the relay waited for).
    for (const c of [...x.unpaired, ...x.aggregates, ...x.idle]) {
      const e = c.agg === undefined ? undefined : engines.get(c.agg);
      if (e !== undefined) e.timeout();
    }
    endReleased(x.unpaired, 'pair-timeout');
    endReleased(x.aggregates, 'aggregate-timeout');
    endReleased(x.idle, 'idle-timeout');
  }, sweepMs);
  sweep.unref();

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
      server.listen(port, host);
    });
  } catch (err) {
    clearInterval(sweep);
    throw err;
  }
  server.on('error', () => undefined);
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr : { port, address: host };
  const hostForUrl = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  if (givenUrls === undefined) publicUrls = [normalizeRelayUrl(`${tls ? 'wss' : 'ws'}://${hostForUrl}:${bound.port}`)];
  let closing: Promise<void> | undefined;
  return {
    port: bound.port,
    host: bound.address,
    publicUrls,
    publicKey: Uint8Array.from(signingKey.publicKey),
    stats,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(sweep);
        for (const link of [...links.values()]) link.socket.destroy();
        wss.close();
        // Resolve once every socket is gone (or after the grace period, whichever is first).
        const grace = setTimeout(resolve, CLOSE_GRACE_MS);
        grace.unref();
        server.close(() => {
          clearTimeout(grace);
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
