/**
 * The relay's resource model in one place: connections that have not been admitted yet, admitted
 * connections, sessions and the replay set, with their caps, deadlines and eviction policy. The
 * server only asks the table (`addPending`, `admit`, `release`, `activity`, `expire`) and acts on
 * what it answers (close these, pair those); no counter is kept anywhere else, so they cannot
 * drift apart (the shape of js-libp2p's reservation store).
 *
 * The model:
 * - **Unadmitted connections** (a TCP connection before its admission request is accepted) count
 *   against a per-source and a global cap; when either is full the oldest unadmitted one (of that
 *   source, or overall) is evicted. Each has an admission deadline.
 * - **Sessions** are keyed by (session id, roster digest). Each counts against the source that
 *   opened it and against its roster digest (static and roster-bound alike). When the table is
 *   full a newcomer may displace the longest-idle session not in use (see {@link RELAY_IN_USE_MS})
 *   of a source or digest that holds more than the newcomer's own (fair share); otherwise it is
 *   refused `relay-full`.
 * - **Admitted connections** count against their source, their session and a global cap; a full
 *   global cap is shared the same way (the longest-idle connection not in use of a heavier source).
 *   A pair or aggregation member that carried traffic within {@link RELAY_IN_USE_MS} is in use and
 *   never displaced: counts per source prove nothing (an outsider spreads over many addresses).
 * - **Aggregations** (relayed openings) count against their session, their roster digest, the
 *   source of their first member and a global cap; a full source or relay evicts the
 *   longest-waiting aggregation still missing members — or complete but behind the slowest
 *   allowed pace ({@link AGGREGATE_STALL_GRACE_MS}) — of a heavier digest (or source), never one
 *   keeping the pace. One missing members ends `aggregateJoinTimeoutMs` after its latest member came.
 * - **Deadlines**: an admitted connection waits `pairTimeoutMs` for its partner; a session that
 *   carries no traffic (no forwarded message, no WebSocket ping) for `idleTimeoutMs` ends.
 * - **Replays**: an accepted request's nonce is kept until its timestamp leaves the admission
 *   window ({@link ADMISSION_SKEW_MS}); the set never resets. It is capped per source (`busy`
 *   beyond) and globally; a full set gives way fairly (the oldest nonce of the source holding the
 *   most, when that is more than the newcomer's), else refuses `busy`.
 *
 * Memory is bounded by the caps: see {@link memoryBound}.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { Roster } from '../identity/roster.js';
import { ADMISSION_SKEW_MS, type RelayRefuseReason } from './protocol.js';
import type { AggregateAdmissionEvidence } from './aggregate-wire.js';

/** Default global cap on connections not admitted yet: 64. */
export const DEFAULT_RELAY_MAX_PENDING = 64;
/** Default cap on connections not admitted yet from one source address: 16 (room for one site's parties dialling all their peers at once). */
export const DEFAULT_RELAY_MAX_PENDING_PER_SOURCE = 16;
/** Default deadline for a connection's admission request, from TCP accept (ms): 10 s. */
export const DEFAULT_RELAY_ADMISSION_TIMEOUT_MS = 10_000;
/** Default global cap on admitted connections: 256. */
export const DEFAULT_RELAY_MAX_CONNECTIONS = 256;
/** Default cap on admitted connections from one source address: 128. */
export const DEFAULT_RELAY_MAX_CONNECTIONS_PER_SOURCE = 128;
/** Default cap on connections of one session (both directions of every pair count): 2·100·99. */
export const DEFAULT_RELAY_MAX_CONNECTIONS_PER_SESSION = 2 * 100 * 99;
/** Default cap on live sessions: 128. */
export const DEFAULT_RELAY_MAX_SESSIONS = 128;
/** Default cap on live sessions one source address opened: 16. */
export const DEFAULT_RELAY_MAX_SESSIONS_PER_SOURCE = 16;
/** Default cap on live sessions of one roster digest: 32. */
export const DEFAULT_RELAY_MAX_SESSIONS_PER_DIGEST = 32;
/** Default cap on the parties of a roster presented for a roster-bound session: 100. */
export const DEFAULT_RELAY_MAX_ROSTER_PARTIES = 100;
/** Default wait of an admitted connection for its partner at the relay (ms): 120 s (the parties wait as long, `DEFAULT_PAIR_TIMEOUT_MS`). */
export const DEFAULT_RELAY_PAIR_TIMEOUT_MS = 120_000;
/** Default deadline for a session that carries no traffic (ms): 10 min. */
export const DEFAULT_RELAY_IDLE_TIMEOUT_MS = 600_000;
/** Default cap on bytes forwarded per session: 64 GiB. */
export const DEFAULT_RELAY_MAX_BYTES_PER_SESSION = 64 * 2 ** 30;
/**
 * Default window per connection: the most the relay queues towards it (272 KiB: one largest
 * channel frame plus 16 KiB; the kernel's socket buffers carry the rest of the flow).
 */
export const DEFAULT_RELAY_WINDOW_BYTES = 272 * 1024;
/** Default cap on remembered admission nonces: 16 384 (≈ 27 admissions/s sustained, as a nonce lives up to 2 × 5 min). */
export const DEFAULT_RELAY_MAX_NONCES = 16_384;
/** Default cap on remembered admission nonces of one source address: 4 096. */
export const DEFAULT_RELAY_MAX_NONCES_PER_SOURCE = 4_096;
/**
 * Default cap on live aggregations (relayed openings): 4 (each holds up to
 * `AGGREGATE_MEMORY_BYTES`, 640 KiB; at this default the bound stays within 256 MiB with the
 * runtime). A member refused `relay-full` retries until its opening's deadline.
 */
export const DEFAULT_RELAY_MAX_AGGREGATIONS = 4;
/** Default cap on live aggregations of one session: 2. */
export const DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SESSION = 2;
/** Default cap on live aggregations of one roster digest: 2 (half the default global cap, so one roster never holds them all). */
export const DEFAULT_RELAY_MAX_AGGREGATIONS_PER_DIGEST = 2;
/** Default cap on live aggregations whose first member came from one source address: 2 (half the default global cap). */
export const DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SOURCE = 2;
/**
 * Default wait for the next member of an aggregation, from its latest member's admission (ms): 60 s,
 * the parties' own default round deadline (`DEFAULT_ROUND_TIMEOUT_MS`) — a member later than that
 * has already made the others time out on the commitments it owes them. An aggregation still
 * waiting for members is what a full relay evicts first.
 */
export const DEFAULT_RELAY_AGGREGATE_JOIN_TIMEOUT_MS = 60_000;
/** Default cap on the elements of one aggregation's vectors: 2^24 (the sums' own default cap). */
export const DEFAULT_RELAY_MAX_AGGREGATE_ELEMENTS = 2 ** 24;
/**
 * Slowest average rate at which an aggregation's members must upload and download (bytes per
 * second per member): its deadline is the join timeout plus 17 bytes per element at this rate.
 */
export const AGGREGATE_MIN_BYTES_PER_SECOND = 1024 * 1024;
/**
 * How long after its last traffic (a forwarded message, an upload or a WebSocket ping; parties ping
 * every 30 s) a paired connection or aggregation member counts as in use (ms): 60 s. Fair share
 * (a full table) displaces only connections and sessions not in use — unpaired, or silent for
 * longer — and never a member of an aggregation whose members all came: an admission proves no
 * more than a key, and an outsider with keys of its own spread over many source addresses is always
 * the "lighter" source (review13 R13-1: it displaced a running task's pairs).
 */
export const RELAY_IN_USE_MS = 60_000;
/**
 * How long after its last member came an aggregation may move nothing before fair share may give
 * its slot to a newcomer (ms): 10 s. After that it must keep the pace its deadline assumes
 * ({@link AGGREGATE_MIN_BYTES_PER_SECOND} per member), or a newcomer of a lighter source or digest
 * may displace it when the relay is full. Before, an aggregation whose members all came was never
 * displaced: an outsider admitting both members of aggregations of its own, from two addresses,
 * held every slot for their whole deadline, uploading nothing (review13 R13-5).
 */
export const AGGREGATE_STALL_GRACE_MS = 10_000;
/** Bytes per element one member moves in an aggregation at most: 8 up, 8 + 1 down (carries of ≤ 256 members); 4-byte carries are rounded into the deadline's slack. */
const AGGREGATE_BYTES_PER_ELEMENT = 17;

/** Caps and deadlines of the relay's resource table. Every field has a default (the `DEFAULT_*` constants). */
export interface TableLimits {
  /** Connections not admitted yet, in all. Default {@link DEFAULT_RELAY_MAX_PENDING}. */
  readonly maxPending?: number;
  /** Connections not admitted yet per source address. Default {@link DEFAULT_RELAY_MAX_PENDING_PER_SOURCE}. */
  readonly maxPendingPerSource?: number;
  /** Admission deadline from TCP accept (ms). Default {@link DEFAULT_RELAY_ADMISSION_TIMEOUT_MS}. */
  readonly admissionTimeoutMs?: number;
  /** Admitted connections, in all. Default {@link DEFAULT_RELAY_MAX_CONNECTIONS}. */
  readonly maxConnections?: number;
  /** Admitted connections per source address. Default {@link DEFAULT_RELAY_MAX_CONNECTIONS_PER_SOURCE}. */
  readonly maxConnectionsPerSource?: number;
  /** Connections per session. Default {@link DEFAULT_RELAY_MAX_CONNECTIONS_PER_SESSION}. */
  readonly maxConnectionsPerSession?: number;
  /** Live sessions. Default {@link DEFAULT_RELAY_MAX_SESSIONS}. */
  readonly maxSessions?: number;
  /** Live sessions opened by one source address. Default {@link DEFAULT_RELAY_MAX_SESSIONS_PER_SOURCE}. */
  readonly maxSessionsPerSource?: number;
  /** Live sessions of one roster digest. Default {@link DEFAULT_RELAY_MAX_SESSIONS_PER_DIGEST}. */
  readonly maxSessionsPerDigest?: number;
  /** Parties of a presented (roster-bound) roster. Default {@link DEFAULT_RELAY_MAX_ROSTER_PARTIES}. */
  readonly maxRosterParties?: number;
  /** Wait for the partner (ms). Default {@link DEFAULT_RELAY_PAIR_TIMEOUT_MS}. */
  readonly pairTimeoutMs?: number;
  /** A session with no traffic for this long ends (ms). Default {@link DEFAULT_RELAY_IDLE_TIMEOUT_MS}. */
  readonly idleTimeoutMs?: number;
  /** Bytes forwarded per session. Default {@link DEFAULT_RELAY_MAX_BYTES_PER_SESSION}. */
  readonly maxBytesPerSession?: number;
  /** Remembered nonces. Default {@link DEFAULT_RELAY_MAX_NONCES}. */
  readonly maxNonces?: number;
  /** Remembered nonces per source address. Default {@link DEFAULT_RELAY_MAX_NONCES_PER_SOURCE}. */
  readonly maxNoncesPerSource?: number;
  /** Live aggregations (relayed openings). Default {@link DEFAULT_RELAY_MAX_AGGREGATIONS}. */
  readonly maxAggregations?: number;
  /** Live aggregations of one session. Default {@link DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SESSION}. */
  readonly maxAggregationsPerSession?: number;
  /** Live aggregations of one roster digest. Default {@link DEFAULT_RELAY_MAX_AGGREGATIONS_PER_DIGEST}. */
  readonly maxAggregationsPerDigest?: number;
  /** Live aggregations opened (first member) from one source address. Default {@link DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SOURCE}. */
  readonly maxAggregationsPerSource?: number;
  /** Wait for the next member of an aggregation, from the latest one's admission (ms). Default {@link DEFAULT_RELAY_AGGREGATE_JOIN_TIMEOUT_MS}. */
  readonly aggregateJoinTimeoutMs?: number;
  /** Elements of one aggregation's vectors. Default {@link DEFAULT_RELAY_MAX_AGGREGATE_ELEMENTS}. */
  readonly maxAggregateElements?: number;
}

/** {@link TableLimits} with every default filled in. */
export type ResolvedTableLimits = { readonly [K in keyof TableLimits]-?: number };

/** Largest value a timer can take (ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function limit(options: TableLimits, name: keyof TableLimits, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) throw new InvalidArgumentError(`"${name}" must be an integer in 1..${max}, got ${String(v)}`);
  return v;
}

/** Check the limits field by field and fill in the defaults. @throws {@link InvalidArgumentError} naming the field. */
export function resolveTableLimits(options: TableLimits): ResolvedTableLimits {
  return {
    maxPending: limit(options, 'maxPending', DEFAULT_RELAY_MAX_PENDING),
    maxPendingPerSource: limit(options, 'maxPendingPerSource', DEFAULT_RELAY_MAX_PENDING_PER_SOURCE),
    admissionTimeoutMs: limit(options, 'admissionTimeoutMs', DEFAULT_RELAY_ADMISSION_TIMEOUT_MS, MAX_TIMER_MS),
    maxConnections: limit(options, 'maxConnections', DEFAULT_RELAY_MAX_CONNECTIONS),
    maxConnectionsPerSource: limit(options, 'maxConnectionsPerSource', DEFAULT_RELAY_MAX_CONNECTIONS_PER_SOURCE),
    maxConnectionsPerSession: limit(options, 'maxConnectionsPerSession', DEFAULT_RELAY_MAX_CONNECTIONS_PER_SESSION),
    maxSessions: limit(options, 'maxSessions', DEFAULT_RELAY_MAX_SESSIONS),
    maxSessionsPerSource: limit(options, 'maxSessionsPerSource', DEFAULT_RELAY_MAX_SESSIONS_PER_SOURCE),
    maxSessionsPerDigest: limit(options, 'maxSessionsPerDigest', DEFAULT_RELAY_MAX_SESSIONS_PER_DIGEST),
    maxRosterParties: limit(options, 'maxRosterParties', DEFAULT_RELAY_MAX_ROSTER_PARTIES),
    pairTimeoutMs: limit(options, 'pairTimeoutMs', DEFAULT_RELAY_PAIR_TIMEOUT_MS, MAX_TIMER_MS),
    idleTimeoutMs: limit(options, 'idleTimeoutMs', DEFAULT_RELAY_IDLE_TIMEOUT_MS, MAX_TIMER_MS),
    maxBytesPerSession: limit(options, 'maxBytesPerSession', DEFAULT_RELAY_MAX_BYTES_PER_SESSION),
    maxNonces: limit(options, 'maxNonces', DEFAULT_RELAY_MAX_NONCES),
    maxNoncesPerSource: limit(options, 'maxNoncesPerSource', DEFAULT_RELAY_MAX_NONCES_PER_SOURCE),
    maxAggregations: limit(options, 'maxAggregations', DEFAULT_RELAY_MAX_AGGREGATIONS),
    maxAggregationsPerSession: limit(options, 'maxAggregationsPerSession', DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SESSION),
    maxAggregationsPerDigest: limit(options, 'maxAggregationsPerDigest', DEFAULT_RELAY_MAX_AGGREGATIONS_PER_DIGEST),
    maxAggregationsPerSource: limit(options, 'maxAggregationsPerSource', DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SOURCE),
    aggregateJoinTimeoutMs: limit(options, 'aggregateJoinTimeoutMs', DEFAULT_RELAY_AGGREGATE_JOIN_TIMEOUT_MS, MAX_TIMER_MS),
    maxAggregateElements: limit(options, 'maxAggregateElements', DEFAULT_RELAY_MAX_AGGREGATE_ELEMENTS, 2 ** 30),
  };
}

/** A connection that has not been admitted yet. */
export interface PendingEntry<T> {
  /** The server's handle (its socket). */
  readonly handle: T;
  /** Source address. */
  readonly source: string;
  /** When it was accepted (ms). */
  readonly since: number;
}

/** A live session: the connections of one task run, keyed by (id, roster digest). */
export interface SessionEntry<T> {
  /** Session id as the parties signed it. */
  readonly id: string;
  /** Digest of the roster its parties were admitted on. */
  readonly digest: string;
  /** That roster. */
  readonly roster: Roster;
  /** The source address that opened it (the session counts against it). */
  readonly openedBy: string;
  /** When it was opened (ms). */
  readonly since: number;
  /** Its admitted connections. */
  readonly conns: Set<ConnEntry<T>>;
  /** Payload bytes forwarded. */
  bytes: number;
  /** Last forwarded message or ping in any of its connections, or its last admission (ms). */
  lastActive: number;
  /** Source addresses of its connections (for the log). */
  readonly sources: Set<string>;
  /** Its live aggregations. */
  readonly aggs: Set<AggEntry<T>>;
}

/** A live aggregation (a relayed opening): the members of one sum, keyed by (session, digest, id). */
export interface AggEntry<T> {
  /** The aggregation id the members signed. */
  readonly id: string;
  /** Its session. */
  readonly session: SessionEntry<T>;
  /** Every member, in canonical order. */
  readonly parties: readonly string[];
  /** Elements of every member's vector. */
  readonly length: number;
  /** Admitted members by id. */
  readonly members: Map<string, ConnEntry<T>>;
  /** The source address of its first member (the aggregation counts against it). */
  readonly openedBy: string;
  /** Its first member's signed admission (what fixed its member list and length), when given. */
  readonly admission: AggregateAdmissionEvidence | undefined;
  /** When its first member was admitted (ms). */
  readonly since: number;
  /**
   * When its latest member was admitted (ms): the join timeout counts from here, so a member that
   * opens the aggregation early (its id is known once the mesh has formed) cannot make it time out
   * before the others come.
   */
  joinedAt: number;
  /**
   * When it ends unless done (ms): the join timeout plus the transfer allowance, from the first
   * admission and again from the admission that completes it (so the first member does not
   * shorten the others' time either).
   */
  deadline: number;
  /** Set once the answer went out: a member leaving then ends only its own connection. */
  done: boolean;
  /** When its last member came (ms), once all did. */
  completedAt: number | undefined;
  /** Bytes its members uploaded and were answered so far. */
  bytes: number;
}

/** An admitted connection: one direction of a channel (`from` → `to`). */
export interface ConnEntry<T> {
  /** The server's handle. */
  readonly handle: T;
  /** Source address. */
  readonly source: string;
  /** Its session. */
  readonly session: SessionEntry<T>;
  /** Sender's roster id. */
  readonly from: string;
  /** Wanted peer's roster id. */
  readonly to: string;
  /** When it was admitted (ms). */
  readonly since: number;
  /** The signed timestamp of its admission request (ms, the sender's clock). */
  readonly ts: number;
  /** The other direction, once paired. */
  partner: ConnEntry<T> | undefined;
  /** Last forwarded message or ping on this pair (ms). */
  lastActive: number;
  /**
   * Last forwarded message, upload or ping on this pair or aggregation member (ms); undefined until
   * the first. A connection with traffic within {@link RELAY_IN_USE_MS} is in use: fair share never
   * displaces it.
   */
  lastTraffic: number | undefined;
  /** The aggregation this connection is a member of (`to` is then empty). */
  readonly agg: AggEntry<T> | undefined;
}

/** What {@link RelayTable.admit} is asked to admit (after the signature was checked). */
export interface AdmitRequest<T> {
  /** The server's handle of the connection (the same as its pending entry's). */
  readonly handle: T;
  /** Source address. */
  readonly source: string;
  /** Session id. */
  readonly session: string;
  /** Digest of the roster it is admitted on. */
  readonly digest: string;
  /** That roster. */
  readonly roster: Roster;
  /** Sender's roster id. */
  readonly from: string;
  /** Wanted peer. */
  readonly to: string;
  /** Signed nonce (hex). */
  readonly nonce: string;
  /** Signed timestamp (ms since the epoch, the sender's clock). */
  readonly ts: number;
  /** Where the partner is looked up (a test hook may cross-wire it): the partner's `from` and `to`, and its session id. */
  readonly partnerSlot?: { readonly session: string; readonly from: string; readonly to: string };
  /**
   * An aggregation member instead of one direction of a channel (`to` is ignored); `admission` is
   * its signed request, kept if it opens the aggregation (evidence for a later `aggregate-mismatch`).
   */
  readonly aggregate?: { readonly id: string; readonly parties: readonly string[]; readonly length: number; readonly admission?: AggregateAdmissionEvidence };
}

/** The answer of {@link RelayTable.admit}. */
export type AdmitResult<T> =
  | {
      readonly ok: false;
      readonly reason: RelayRefuseReason;
      /** For `aggregate-mismatch` against a live aggregation: its first member's signed admission (another member list or length). */
      readonly conflict?: AggregateAdmissionEvidence;
    }
  | {
      readonly ok: true;
      /** The new connection. */
      readonly conn: ConnEntry<T>;
      /** The waiting connection it was paired with, if any. */
      readonly partner: ConnEntry<T> | undefined;
      /** Connections released to make room (fair share): close them with `evicted`. */
      readonly evicted: readonly ConnEntry<T>[];
    };

/** What {@link RelayTable.expire} found past its deadline; every entry is already released. */
export interface Expired<T> {
  /** Not admitted within the admission deadline. */
  readonly pending: readonly T[];
  /** Admitted, no partner within the pair deadline. */
  readonly unpaired: readonly ConnEntry<T>[];
  /** Connections of sessions that carried no traffic within the idle deadline. */
  readonly idle: readonly ConnEntry<T>[];
  /** Members of aggregations past their deadline (or whose members did not all come within the join deadline). */
  readonly aggregates: readonly ConnEntry<T>[];
}

/** Counters of a table. */
export interface TableCounts {
  /** Connections not admitted yet. */
  readonly pending: number;
  /** Admitted connections. */
  readonly connections: number;
  /** Pairs forwarding. */
  readonly pairs: number;
  /** Live sessions. */
  readonly sessions: number;
  /** Remembered nonces. */
  readonly nonces: number;
  /** Live aggregations. */
  readonly aggregations: number;
}

function bump(m: Map<string, number>, k: string, d: number): void {
  const v = (m.get(k) ?? 0) + d;
  if (v <= 0) m.delete(k);
  else m.set(k, v);
}

const keyOf = (session: string, digest: string): string => `${session}\n${digest}`;
const slotOf = (sessionKey: string, from: string, to: string): string => `${sessionKey}\n${from}\n${to}`;
/** The `to` of an aggregation member's slot (no party id contains a NUL). */
const aggTo = (id: string): string => `\0agg ${id}`;

/**
 * The relay's table of connections, sessions and nonces with its caps, deadlines and fair-share
 * eviction. Pure state: the caller passes the clock (`now`, ms) and closes what it is told to.
 */
export class RelayTable<T> {
  /** The limits in force. */
  readonly limits: ResolvedTableLimits;
  readonly #pending = new Map<T, PendingEntry<T>>();
  readonly #pendingBySource = new Map<string, Set<PendingEntry<T>>>();
  readonly #sessions = new Map<string, SessionEntry<T>>();
  readonly #slots = new Map<string, ConnEntry<T>>();
  readonly #waiting = new Map<string, ConnEntry<T>>();
  readonly #conns = new Set<ConnEntry<T>>();
  readonly #connsBySource = new Map<string, number>();
  readonly #sessionsBySource = new Map<string, number>();
  readonly #sessionsByDigest = new Map<string, number>();
  /** Nonces by expiry: insertion order is not expiry order (timestamps differ), so a min-heap. */
  readonly #nonces = new Map<string, { expires: number; source: string }>();
  readonly #nonceHeap: { expires: number; key: string }[] = [];
  /** Each source's nonces in the order they were accepted (the oldest first, for fair-share eviction). */
  readonly #noncesBySource = new Map<string, Set<string>>();
  readonly #aggs = new Map<string, AggEntry<T>>();
  readonly #aggsBySource = new Map<string, number>();
  readonly #aggsByDigest = new Map<string, number>();
  #pairs = 0;

  /** @throws {@link InvalidArgumentError} naming a bad limit. */
  constructor(limits: TableLimits = {}) {
    this.limits = resolveTableLimits(limits);
  }

  /**
   * Count a new, unadmitted connection. Returns the handles evicted to make room (the oldest
   * unadmitted of the same source when that source is at its cap, else the oldest overall).
   */
  addPending(handle: T, source: string, now: number): T[] {
    const evicted: T[] = [];
    const mine = this.#pendingBySource.get(source);
    if (mine !== undefined && mine.size >= this.limits.maxPendingPerSource) {
      const oldest = mine.values().next().value as PendingEntry<T>;
      this.removePending(oldest.handle);
      evicted.push(oldest.handle);
    }
    if (this.#pending.size >= this.limits.maxPending) {
      const oldest = this.#pending.values().next().value as PendingEntry<T>;
      this.removePending(oldest.handle);
      evicted.push(oldest.handle);
    }
    const e: PendingEntry<T> = { handle, source, since: now };
    this.#pending.set(handle, e);
    let set = this.#pendingBySource.get(source);
    if (set === undefined) this.#pendingBySource.set(source, (set = new Set()));
    set.add(e);
    return evicted;
  }

  /** Forget an unadmitted connection (closed, refused, or admitted). Returns whether it was pending. */
  removePending(handle: T): boolean {
    const e = this.#pending.get(handle);
    if (e === undefined) return false;
    this.#pending.delete(handle);
    const set = this.#pendingBySource.get(e.source)!;
    set.delete(e);
    if (set.size === 0) this.#pendingBySource.delete(e.source);
    return true;
  }

  /** Whether `handle` is an unadmitted connection the table still counts. */
  isPending(handle: T): boolean {
    return this.#pending.has(handle);
  }

  /**
   * Admit a connection whose signature was checked: replay, slot, caps and fair share. On success
   * the connection is counted (and no longer pending), paired if its partner waits, and the
   * connections evicted to make room are released.
   */
  admit(req: AdmitRequest<T>, now: number): AdmitResult<T> {
    const L = this.limits;
    this.#expireNonces(now);
    if (this.#nonces.has(`${req.from}\n${req.nonce}`)) return { ok: false, reason: 'duplicate' };
    if (req.roster.size > L.maxRosterParties) return { ok: false, reason: 'session-limit' };
    const key = keyOf(req.session, req.digest);
    const ag = req.aggregate;
    const slot = slotOf(key, req.from, ag === undefined ? req.to : aggTo(ag.id));
    // The slot is held: for a channel, by an earlier connection of this same signer for this same
    // peer — one it has given up on (its path died; the relay's side may be half-open for minutes,
    // kept from idling by the partner's pings). A fresh signed request (its nonce is new) proves the
    // signer is here now: the new connection takes the slot, the old one and its partner are closed
    // (the partner resumes). Before, every re-dial was `duplicate` until the party's resume window
    // ended and the others named it (review13 R13-8). An aggregation member's slot stays its own:
    // its uploads are bound to that connection.
    // Only a request signed later than the held one's takes over: a replay of an older request (its
    // nonce forgotten by the replay set's fair share) cannot push the signer out.
    const held = this.#slots.get(slot);
    if (held !== undefined && (ag !== undefined || req.ts <= held.ts)) return { ok: false, reason: 'duplicate' };
    const takeover = held === undefined ? [] : [held, ...(held.partner === undefined ? [] : [held.partner])];
    const freed = (where: (c: ConnEntry<T>) => boolean): number => takeover.filter(where).length;
    const aggKey = ag === undefined ? undefined : `${key}\n${ag.id}`;
    const liveAgg = aggKey === undefined ? undefined : this.#aggs.get(aggKey);
    let aggVictim: AggEntry<T> | undefined;
    if (ag !== undefined) {
      if (ag.length > L.maxAggregateElements || ag.parties.length > L.maxRosterParties || !ag.parties.includes(req.from)) return { ok: false, reason: 'aggregate-mismatch' };
      if (liveAgg !== undefined && (liveAgg.length !== ag.length || liveAgg.parties.join('\n') !== ag.parties.join('\n'))) {
        return { ok: false, reason: 'aggregate-mismatch', ...(liveAgg.admission === undefined ? {} : { conflict: liveAgg.admission }) };
      }
      if (liveAgg?.done === true) return { ok: false, reason: 'aggregate-mismatch' };
      if (liveAgg === undefined) {
        if ((this.#sessions.get(key)?.aggs.size ?? 0) >= L.maxAggregationsPerSession) return { ok: false, reason: 'session-limit' };
        if ((this.#aggsByDigest.get(req.digest) ?? 0) >= L.maxAggregationsPerDigest) return { ok: false, reason: 'roster-limit' };
        // A full source, or a full relay, is shared fairly (see #aggVictim); nothing is released
        // before every refusal below has been ruled out.
        if ((this.#aggsBySource.get(req.source) ?? 0) >= L.maxAggregationsPerSource) {
          aggVictim = this.#aggVictim(key, req.source, req.digest, true, now);
          if (aggVictim === undefined) return { ok: false, reason: 'source-limit' };
        } else if (this.#aggs.size >= L.maxAggregations) {
          aggVictim = this.#aggVictim(key, req.source, req.digest, false, now);
          if (aggVictim === undefined) return { ok: false, reason: 'relay-full' };
        }
      }
    }
    if ((this.#noncesBySource.get(req.source)?.size ?? 0) >= L.maxNoncesPerSource) return { ok: false, reason: 'busy' };
    const nonceVictim = this.#nonces.size >= L.maxNonces ? this.#nonceVictim(req.source) : undefined;
    if (this.#nonces.size >= L.maxNonces && nonceVictim === undefined) return { ok: false, reason: 'busy' };
    const existing = this.#sessions.get(key);
    if (existing !== undefined && existing.conns.size - takeover.length >= L.maxConnectionsPerSession) return { ok: false, reason: 'session-limit' };
    if ((this.#connsBySource.get(req.source) ?? 0) - freed((c) => c.source === req.source) >= L.maxConnectionsPerSource) return { ok: false, reason: 'source-limit' };
    if (existing === undefined) {
      if ((this.#sessionsBySource.get(req.source) ?? 0) >= L.maxSessionsPerSource) return { ok: false, reason: 'source-limit' };
      if ((this.#sessionsByDigest.get(req.digest) ?? 0) >= L.maxSessionsPerDigest) return { ok: false, reason: 'roster-limit' };
    }
    // Room: a full table is shared fairly. A newcomer may displace the longest-idle entry of a
    // source (or digest) that holds more than its own source (or digest) would after admission.
    // Every victim is chosen before any is released: a refusal must leave the table as it was (a
    // victim released for a newcomer that is then refused would be out of the table yet never
    // returned as `evicted`, so never closed or told, its aggregation engine kept for ever).
    let sessionVictim: SessionEntry<T> | undefined;
    if (existing === undefined && this.#sessions.size >= L.maxSessions) {
      // Evicting the aggregation ends its session too when it holds nothing else.
      const freesSession = aggVictim !== undefined && [...aggVictim.session.conns].every((c) => c.agg === aggVictim);
      if (!freesSession) {
        sessionVictim = this.#sessionVictim(req.source, req.digest, now);
        if (sessionVictim === undefined) return { ok: false, reason: 'relay-full' };
      }
    }
    // An evicted aggregation or session frees at least one connection (neither lives without one).
    let connVictim: ConnEntry<T> | undefined;
    if (this.#conns.size - takeover.length >= L.maxConnections && aggVictim === undefined && sessionVictim === undefined) {
      connVictim = this.#connVictim(req.source, now);
      if (connVictim === undefined) return { ok: false, reason: 'relay-full' };
    }
    const evicted: ConnEntry<T>[] = [];
    if (held !== undefined) evicted.push(...this.release(held));
    if (aggVictim !== undefined) {
      const first = aggVictim.members.values().next().value as ConnEntry<T> | undefined;
      if (first !== undefined) evicted.push(...this.release(first));
    }
    if (sessionVictim !== undefined) for (const c of [...sessionVictim.conns]) evicted.push(...this.release(c));
    if (connVictim !== undefined) evicted.push(...this.release(connVictim));

    this.removePending(req.handle);
    if (nonceVictim !== undefined) {
      this.#forgetNonce(nonceVictim);
      // A forgotten nonce leaves its heap entry behind until it expires; keep the heap within
      // twice the cap by rebuilding it from the live nonces.
      if (this.#nonceHeap.length >= 2 * L.maxNonces) this.#rebuildNonceHeap();
    }
    const expires = req.ts + ADMISSION_SKEW_MS;
    const nonceKey = `${req.from}\n${req.nonce}`;
    this.#nonces.set(nonceKey, { expires, source: req.source });
    this.#heapPush({ expires, key: nonceKey });
    let mine = this.#noncesBySource.get(req.source);
    if (mine === undefined) this.#noncesBySource.set(req.source, (mine = new Set()));
    mine.add(nonceKey);

    let s = this.#sessions.get(key);
    if (s === undefined) {
      s = { id: req.session, digest: req.digest, roster: req.roster, openedBy: req.source, since: now, conns: new Set(), bytes: 0, lastActive: now, sources: new Set(), aggs: new Set() };
      this.#sessions.set(key, s);
      bump(this.#sessionsBySource, req.source, 1);
      bump(this.#sessionsByDigest, req.digest, 1);
    }
    let agg: AggEntry<T> | undefined;
    if (ag !== undefined) {
      // (A live aggregation of an evicted session was released with it above.)
      agg = this.#aggs.get(aggKey!);
      if (agg === undefined) {
        agg = { id: ag.id, session: s, parties: [...ag.parties], length: ag.length, members: new Map(), openedBy: req.source, admission: ag.admission, since: now, joinedAt: now, deadline: this.#aggDeadline(now, ag.length), done: false, completedAt: undefined, bytes: 0 };
        this.#aggs.set(aggKey!, agg);
        s.aggs.add(agg);
        bump(this.#aggsBySource, req.source, 1);
        bump(this.#aggsByDigest, req.digest, 1);
      }
    }
    const conn: ConnEntry<T> = { handle: req.handle, source: req.source, session: s, from: req.from, to: ag === undefined ? req.to : '', since: now, ts: req.ts, partner: undefined, lastActive: now, lastTraffic: undefined, agg };
    s.conns.add(conn);
    s.sources.add(req.source);
    s.lastActive = now;
    this.#conns.add(conn);
    bump(this.#connsBySource, req.source, 1);
    this.#slots.set(slot, conn);
    if (agg !== undefined) {
      agg.members.set(req.from, conn);
      agg.joinedAt = now;
      if (agg.members.size === agg.parties.length) {
        agg.deadline = Math.max(agg.deadline, this.#aggDeadline(now, agg.length));
        agg.completedAt = now;
      }
      return { ok: true, conn, partner: undefined, evicted };
    }
    const want = req.partnerSlot ?? { session: req.session, from: req.to, to: req.from };
    const wantKey = slotOf(keyOf(want.session, req.digest), want.from, want.to);
    const partner = this.#waiting.get(wantKey);
    if (partner !== undefined) {
      this.#waiting.delete(wantKey);
      partner.partner = conn;
      conn.partner = partner;
      partner.lastActive = now;
      this.#pairs++;
    } else this.#waiting.set(slot, conn);
    return { ok: true, conn, partner, evicted };
  }

  /**
   * Release an admitted connection (closed, refused, evicted, expired). Returns the connections
   * the caller must close because of it: its partner, if paired (a pair ends as a whole).
   * Releasing twice is harmless.
   */
  release(conn: ConnEntry<T>): ConnEntry<T>[] {
    if (!this.#conns.delete(conn)) return [];
    const s = conn.session;
    const key = keyOf(s.id, s.digest);
    const slot = slotOf(key, conn.from, conn.agg === undefined ? conn.to : aggTo(conn.agg.id));
    if (this.#slots.get(slot) === conn) this.#slots.delete(slot);
    if (this.#waiting.get(slot) === conn) this.#waiting.delete(slot);
    bump(this.#connsBySource, conn.source, -1);
    s.conns.delete(conn);
    if (s.conns.size === 0 && this.#sessions.get(key) === s) {
      this.#sessions.delete(key);
      bump(this.#sessionsBySource, s.openedBy, -1);
      bump(this.#sessionsByDigest, s.digest, -1);
    }
    const out: ConnEntry<T>[] = [conn];
    const agg = conn.agg;
    if (agg !== undefined && agg.members.get(conn.from) === conn) {
      agg.members.delete(conn.from);
      // An aggregation ends as a whole until its answer went out.
      if (!agg.done) for (const m of [...agg.members.values()]) out.push(...this.release(m));
      if ((agg.members.size === 0 || !agg.done) && this.#aggs.get(`${key}\n${agg.id}`) === agg) {
        this.#aggs.delete(`${key}\n${agg.id}`);
        s.aggs.delete(agg);
        bump(this.#aggsBySource, agg.openedBy, -1);
        bump(this.#aggsByDigest, s.digest, -1);
      }
    }
    const p = conn.partner;
    if (p !== undefined) {
      conn.partner = undefined;
      p.partner = undefined;
      this.#pairs--;
      out.push(...this.release(p));
    }
    return out;
  }

  /** Whether the session of `conn` is still live (it has not been ended). */
  isLive(conn: ConnEntry<T>): boolean {
    return this.#conns.has(conn);
  }

  /**
   * Record traffic on a pair: `bytes` forwarded from `conn` (0 for a ping). Returns false when the
   * session is over its byte cap (the caller ends the pair with `bytes-limit`).
   */
  activity(conn: ConnEntry<T>, bytes: number, now: number): boolean {
    const s = conn.session;
    s.lastActive = now;
    conn.lastActive = now;
    conn.lastTraffic = now;
    if (conn.agg !== undefined) conn.agg.bytes += bytes;
    if (conn.partner) {
      conn.partner.lastActive = now;
      conn.partner.lastTraffic = now;
    }
    s.bytes += bytes;
    return s.bytes <= this.limits.maxBytesPerSession;
  }

  /**
   * Everything past its deadline at `now`, released: unadmitted connections past the admission
   * deadline, unpaired ones past the pair deadline, sessions idle past the idle deadline; and
   * nonces whose timestamp left the admission window.
   */
  expire(now: number): Expired<T> {
    const L = this.limits;
    const pending: T[] = [];
    for (const e of this.#pending.values()) {
      if (now - e.since < L.admissionTimeoutMs) break; // insertion order is age order
      pending.push(e.handle);
    }
    for (const h of pending) this.removePending(h);
    const unpaired: ConnEntry<T>[] = [];
    for (const c of [...this.#waiting.values()]) if (now - c.since >= L.pairTimeoutMs) unpaired.push(...this.release(c));
    const aggregates: ConnEntry<T>[] = [];
    for (const a of [...this.#aggs.values()]) {
      if (a.done) continue;
      const incomplete = a.members.size < a.parties.length && now - a.joinedAt >= L.aggregateJoinTimeoutMs;
      if (!incomplete && now < a.deadline) continue;
      const first = a.members.values().next().value as ConnEntry<T> | undefined;
      if (first !== undefined) (incomplete ? unpaired : aggregates).push(...this.release(first));
    }
    const idle: ConnEntry<T>[] = [];
    for (const s of [...this.#sessions.values()]) {
      if (now - s.lastActive < L.idleTimeoutMs) continue;
      for (const c of [...s.conns]) idle.push(...this.release(c));
    }
    this.#expireNonces(now);
    return { pending, unpaired, idle, aggregates };
  }

  /** Live sessions (for metrics and logs). */
  sessions(): IterableIterator<SessionEntry<T>> {
    return this.#sessions.values();
  }

  /** Counters. */
  counts(): TableCounts {
    return { pending: this.#pending.size, connections: this.#conns.size, pairs: this.#pairs, sessions: this.#sessions.size, nonces: this.#nonces.size, aggregations: this.#aggs.size };
  }

  /**
   * Mark an aggregation answered: from now on a member that leaves ends only its own connection,
   * and the aggregation is forgotten with its last member.
   */
  aggregationDone(agg: AggEntry<T>): void {
    agg.done = true;
  }

  /** An aggregation's deadline counted from `now`: the join timeout plus 17 bytes per element at the slowest allowed rate. */
  #aggDeadline(now: number, length: number): number {
    return now + this.limits.aggregateJoinTimeoutMs + Math.ceil((1000 * AGGREGATE_BYTES_PER_ELEMENT * length) / AGGREGATE_MIN_BYTES_PER_SECOND);
  }

  /**
   * Whether `c` is in use at `now` (fair share never displaces it): a paired connection or an
   * aggregation member with traffic within {@link RELAY_IN_USE_MS}, or a member of an aggregation
   * whose members all came.
   */
  #inUse(c: ConnEntry<T>, now: number): boolean {
    if (c.agg !== undefined && (c.agg.done || (c.agg.completedAt !== undefined && !this.#aggStalled(c.agg, now)))) return true;
    return (c.partner !== undefined || c.agg !== undefined) && c.lastTraffic !== undefined && now - c.lastTraffic < RELAY_IN_USE_MS;
  }

  /**
   * Whether a complete, unanswered aggregation is behind the slowest allowed pace at `now`: more
   * than {@link AGGREGATE_STALL_GRACE_MS} after its last member came, its members have moved less
   * than {@link AGGREGATE_MIN_BYTES_PER_SECOND} each since then (the pace its deadline assumes).
   */
  #aggStalled(a: AggEntry<T>, now: number): boolean {
    if (a.done || a.completedAt === undefined) return false;
    const late = now - a.completedAt - AGGREGATE_STALL_GRACE_MS;
    return late > 0 && a.bytes < (AGGREGATE_MIN_BYTES_PER_SECOND * a.parties.length * late) / 1000;
  }

  /** The longest-idle session not in use (no connection of it in use) of a source or digest that holds more sessions than the newcomer's would. */
  #sessionVictim(source: string, digest: string, now: number): SessionEntry<T> | undefined {
    const mineBySource = (this.#sessionsBySource.get(source) ?? 0) + 1;
    const mineByDigest = (this.#sessionsByDigest.get(digest) ?? 0) + 1;
    let victim: SessionEntry<T> | undefined;
    for (const s of this.#sessions.values()) {
      if ([...s.conns].some((c) => this.#inUse(c, now))) continue;
      const heavier = (this.#sessionsBySource.get(s.openedBy) ?? 0) > mineBySource || (this.#sessionsByDigest.get(s.digest) ?? 0) > mineByDigest;
      if (heavier && (victim === undefined || s.lastActive < victim.lastActive)) victim = s;
    }
    return victim;
  }

  /**
   * The aggregation a newcomer of (`source`, `digest`) may evict: one still waiting for members,
   * or one whose members all came but that is behind the slowest allowed pace (see
   * {@link AGGREGATE_STALL_GRACE_MS}; one that keeps the pace, or has answered, is never evicted), of a roster digest — or, when the relay is
   * full rather than the newcomer's source, of a source — that holds more aggregations than the
   * newcomer's would after admission; of those, one of the digest holding the most, the
   * longest-waiting first. `sameSource`: only aggregations opened from `source` (its cap is full).
   * Never one of the newcomer's own session (`key`): within a session its own cap decides.
   */
  #aggVictim(key: string, source: string, digest: string, sameSource: boolean, now: number): AggEntry<T> | undefined {
    const mineBySource = (this.#aggsBySource.get(source) ?? 0) + 1;
    const mineByDigest = (this.#aggsByDigest.get(digest) ?? 0) + 1;
    let victim: AggEntry<T> | undefined;
    let victimHeld = 0;
    for (const a of this.#aggs.values()) {
      if (a.done || (a.completedAt !== undefined && !this.#aggStalled(a, now)) || (sameSource && a.openedBy !== source) || keyOf(a.session.id, a.session.digest) === key) continue;
      const held = this.#aggsByDigest.get(a.session.digest) ?? 0;
      const heavier = held > mineByDigest || (!sameSource && (this.#aggsBySource.get(a.openedBy) ?? 0) > mineBySource);
      if (heavier && (victim === undefined || held > victimHeld || (held === victimHeld && a.since < victim.since))) {
        victim = a;
        victimHeld = held;
      }
    }
    return victim;
  }

  /** The longest-idle connection not in use of a source that holds more connections than the newcomer's would. */
  #connVictim(source: string, now: number): ConnEntry<T> | undefined {
    const mine = (this.#connsBySource.get(source) ?? 0) + 1;
    let victim: ConnEntry<T> | undefined;
    for (const c of this.#conns) {
      if (this.#inUse(c, now)) continue;
      if ((this.#connsBySource.get(c.source) ?? 0) > mine && (victim === undefined || c.lastActive < victim.lastActive)) victim = c;
    }
    return victim;
  }

  /**
   * A full replay set is shared fairly: the oldest nonce of the source holding the most, when it
   * holds more than the newcomer's source would. Forgetting it makes that one request (sent from
   * the heaviest source) replayable until its timestamp leaves the window: a replay gets the
   * signer's slot at most, where it cannot complete the end-to-end handshake without the
   * signer's key.
   */
  #nonceVictim(source: string): string | undefined {
    const mine = (this.#noncesBySource.get(source)?.size ?? 0) + 1;
    let heaviest: Set<string> | undefined;
    for (const set of this.#noncesBySource.values()) if (heaviest === undefined || set.size > heaviest.size) heaviest = set;
    return heaviest !== undefined && heaviest.size > mine ? (heaviest.values().next().value as string) : undefined;
  }

  #forgetNonce(key: string): void {
    const e = this.#nonces.get(key);
    if (e === undefined) return;
    this.#nonces.delete(key);
    const set = this.#noncesBySource.get(e.source)!;
    set.delete(key);
    if (set.size === 0) this.#noncesBySource.delete(e.source);
  }

  #rebuildNonceHeap(): void {
    this.#nonceHeap.length = 0;
    for (const [key, e] of this.#nonces) this.#heapPush({ expires: e.expires, key });
  }

  #expireNonces(now: number): void {
    const h = this.#nonceHeap;
    while (h.length > 0 && h[0]!.expires < now) {
      const top = this.#heapPop()!;
      const e = this.#nonces.get(top.key);
      if (e !== undefined && e.expires === top.expires) this.#forgetNonce(top.key);
    }
  }

  #heapPush(item: { expires: number; key: string }): void {
    const h = this.#nonceHeap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.expires <= h[i]!.expires) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  #heapPop(): { expires: number; key: string } | undefined {
    const h = this.#nonceHeap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.expires < h[m]!.expires) m = l;
        if (r < h.length && h[r]!.expires < h[m]!.expires) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Inputs of {@link memoryBound} (bytes and counts). */
export interface MemoryBoundInputs {
  /** Resolved table limits. */
  readonly limits: ResolvedTableLimits;
  /** Largest WebSocket message a connection may send (bytes). */
  readonly maxMessageBytes: number;
  /** Window per connection (bytes). */
  readonly windowBytes: number;
  /** What one aggregation (relayed opening) holds at most (bytes; `AGGREGATE_MEMORY_BYTES`). Default 0 (none counted). */
  readonly aggregationBytes?: number;
}

/** Bytes one socket read can add to a paused connection's receive buffer (Node's read size). */
export const SOCKET_READ_BYTES = 64 * 1024;
/**
 * Fixed cost of one connection in the relay (socket, WebSocket, table entry), bytes: ≈ 17 KiB
 * measured (`relay-attacks` (a): 256 idle admitted connections), rounded up.
 */
export const CONNECTION_OVERHEAD_BYTES = 24 * 1024;
/**
 * Cost of one remembered nonce (map, per-source set and heap entries), bytes: ≈ 266 B measured
 * with one source, ≈ 656 B in the worst case (every nonce from another source, the heap at twice
 * the cap after fair-share evictions; heap after GC, 32 768 nonces), rounded up.
 */
export const NONCE_BYTES = 704;
/** Cost of one roster party kept for a session, bytes: ≈ 436 B measured (heap after GC, 128 rosters of 100), rounded up. */
export const ROSTER_PARTY_BYTES = 512;

/**
 * The data the relay can be made to hold, at most (bytes, on top of the Node.js runtime):
 *
 *   maxPending × (maxMessageBytes + overhead)
 * + maxConnections × (window + maxMessageBytes + SOCKET_READ_BYTES + overhead)
 * + maxNonces × NONCE_BYTES + maxSessions × maxRosterParties × ROSTER_PARTY_BYTES
 * + maxAggregations × aggregationBytes
 *
 * An unadmitted connection can hold one partial message; an admitted one one partial message
 * inbound (plus one socket read after it is paused) and at most `window` queued towards it; an
 * aggregation its open accumulators (its members are connections).
 */
export function memoryBound(i: MemoryBoundInputs): number {
  const L = i.limits;
  return (
    L.maxPending * (i.maxMessageBytes + CONNECTION_OVERHEAD_BYTES) +
    L.maxConnections * (i.windowBytes + i.maxMessageBytes + SOCKET_READ_BYTES + CONNECTION_OVERHEAD_BYTES) +
    L.maxNonces * NONCE_BYTES +
    L.maxSessions * L.maxRosterParties * ROSTER_PARTY_BYTES +
    L.maxAggregations * (i.aggregationBytes ?? 0)
  );
}
