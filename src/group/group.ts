/**
 * The group: the full mesh of authenticated channels among the roster parties of one task, and
 * round-based messaging over it.
 *
 * Formation ({@link joinGroup}) is the job of the {@link Mesh} (`mesh.ts`): listen, dial discovered
 * addresses and/or the relay, authenticate every peer against the roster, keep one channel per pair.
 *
 * Messaging: every message names a round; each peer may send one message per round. `gather`
 * waits for one message per peer under a deadline and names the peers that are missing.
 *
 * Blame: a party that stops a run because of an error tells every peer at once (an authenticated
 * abort notice with the error code and the parties it blames). A peer that gets one reports the root
 * cause, and names a blamed party only if it observed that party failing too (its channel lost
 * here, or its message missing here for at least half the round's deadline); it never names the
 * party that explained itself, and it names nobody when the claim does not hold here.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { AbortedError, CouplerError, ErrorCode, GroupError, InvalidArgumentError, TimeoutError, describeType } from '../errors.js';
import { assertIdentity, isValidPartyId, type Identity } from '../identity/identity.js';
import { Roster, compareIds } from '../identity/roster.js';
import { checkTransport, type ChannelPath, type Transport } from '../relay/mesh.js';
import type { RelayRefuseReason } from '../relay/protocol.js';
import type { Discovery, PeerAddress } from '../discovery/types.js';
import { parsePeerEntry } from '../discovery/_parse-list.js';
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_TIMER_MS, type SecureChannel, type ChannelLimits } from '../channel/channel.js';
import type { SuiteName } from '../channel/suite.js';
import type { RefuseReason } from '../channel/handshake.js';
import { DECODED_HEAP_BYTES, DEFAULT_MAX_VALUES, encodeBytesList, encodeMessage, encodeRoundMessage, type PlainData } from '../wire/codec.js';
import type { Mailbox } from './mailbox.js';
import { addDeadline, cancelDeadline, type Deadline } from './deadlines.js';
import { BATCH_ITEM_MAX_BYTES, BATCH_MAX_ITEMS, BATCH_ROUND, ROUND_PATTERN, abortNoticeFor, runOfRound, type AbortNotice } from './inbound.js';
import { Mesh, ROSTER_SOURCE } from './mesh.js';
import { DEFAULT_MAX_RUNS_AHEAD, RunWindow } from './runs.js';
import { MIN_OPENING_BYTES_PER_SECOND } from './commit.js';
import { joinEpoch } from './epoch.js';

export { ROUND_PATTERN } from './inbound.js';

/** Default deadline to form the mesh: 120 s (containers on vantage6 start minutes apart; raise it there). */
export const DEFAULT_JOIN_TIMEOUT_MS = 120_000;
/**
 * How much longer than its join deadline a party whose mesh is complete waits for the others'
 * epoch contributions: 10 % of the join deadline, at least 2 s and at most 30 s. Parties start at
 * different times; one still forming gives up at its own deadline and tells its peers whom it
 * waited for, and that notice should arrive before a complete party names it for being late.
 */
export function joinGraceMs(joinTimeoutMs: number): number {
  return Math.min(30_000, Math.max(2_000, Math.round(joinTimeoutMs / 10)));
}

/** Default deadline of one round: 60 s. */
export const DEFAULT_ROUND_TIMEOUT_MS = 60_000;
/**
 * Longest a party whose round deadline passed spends asking the parties it waited for (and whom
 * they wait for) whether they are alive, before it names anyone: half the round's deadline, at
 * most this, ms.
 */
export const STALL_PROBE_MAX_MS = 10_000;

/** How long to probe at a deadline of `timeoutMs`: half of it, at least 1 ms, at most {@link STALL_PROBE_MAX_MS}. */
function stallProbeMs(timeoutMs: number): number {
  return Math.max(1, Math.min(STALL_PROBE_MAX_MS, Math.floor(timeoutMs / 2)));
}
/** `work`'s result, or {@link AbortedError} once `signal` aborts first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.reject(new AbortedError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => signal.removeEventListener('abort', onAbort);
    work.then((v) => (done(), resolve(v)), (e: unknown) => (done(), reject(e)));
  });
}

/**
 * A deadline's verdict without the parties whose message came while it was being reached — after
 * the deadline, during the liveness probe: they are not silent, and a party that is done answers
 * the probe waiting for nobody, which named it (review17 R17-5; review11 R11-2 for `gatherSome`).
 * Not named, not made suspects either: the round still fails here (its deadline passed).
 */
function spareArrived(err: CouplerError, arrived: (party: string) => boolean): CouplerError {
  if (!(err instanceof TimeoutError)) return err;
  const came = err.peers.filter(arrived);
  if (came.length === 0) return err;
  const peers = err.peers.filter((p) => !came.includes(p));
  return new TimeoutError(`${err.message}; ${came.map((p) => `"${p}"`).join(', ')} sent ${came.length === 1 ? 'its message' : 'their messages'} after the deadline, during the probe: not named`, {
    ...(peers.length === 1 ? { peer: peers[0]! } : {}),
    peers,
    suspects: err.suspects.filter((p) => !came.includes(p)),
    cause: err,
  });
}

/** Default first retry delay for an address that failed: 100 ms. */
export const DEFAULT_DIAL_INITIAL_BACKOFF_MS = 100;
/** Default longest retry delay for an address: 5 s. */
export const DEFAULT_DIAL_MAX_BACKOFF_MS = 5_000;
/** Default time between discovery snapshots while the mesh is incomplete: 250 ms. */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 250;
/** Most runs a group remembers per kind of record (failed here, pairwise secrets derived). */
const MAX_REMEMBERED_RUNS = 4096;
/** Per peer, most runs not running here whose abort notice emitted an event and that are not started or ended here since. */
const MAX_UNSTARTED_NOTICE_EVENTS = 16;

/** Add `key` to an insertion-ordered set of at most {@link MAX_REMEMBERED_RUNS}, forgetting the oldest. */
function rememberBounded(set: Set<string>, key: string): void {
  if (set.size >= MAX_REMEMBERED_RUNS) set.delete(set.keys().next().value!);
  set.add(key);
}

/**
 * Default cap of undelivered decoded bytes (message bytes plus estimated heap) across all peers
 * together: 512 MiB, raised above 65 parties so that each peer's share stays at least
 * {@link MIN_DEFAULT_PENDING_SHARE_BYTES}. Each peer's share is this / (n − 1) (per-peer caps, so
 * one peer's flood never pushes out another's messages); k hostile peers pin at most k / (n − 1)
 * of it.
 */
export const DEFAULT_MAX_TOTAL_PENDING_BYTES = 512 * 1024 * 1024;
/**
 * Smallest default share of one peer: 8 MiB. The sums exchange long vectors in pieces of 1 MiB, a
 * piece ahead at most, so a peer's honest early messages take a few MiB whatever the length.
 */
export const MIN_DEFAULT_PENDING_SHARE_BYTES = 8 * 1024 * 1024;
/**
 * The old default cap per peer (512 MiB), now the default across all peers
 * ({@link DEFAULT_MAX_TOTAL_PENDING_BYTES}): a peer's default share is that / (n − 1).
 * @deprecated the default share is {@link DEFAULT_MAX_TOTAL_PENDING_BYTES} / (n − 1).
 */
export const DEFAULT_MAX_PENDING_BYTES_PER_PEER = 512 * 1024 * 1024;
/**
 * Default cap of the estimated heap of undelivered decoded values per peer: 8 MiB, raised in
 * rosters above 68 parties to fit 16·n² byte strings (thresholdSum's dealer reports). Protocol
 * messages carry vectors as byte strings and take at most a few kilobytes of heap at n = 5 (7.3 kB,
 * thresholdSum's confirmation); many small values are what one peer could amplify (512 KiB of
 * empty byte strings decode to 28 MiB of Buffer views). A message is refused before decoding when
 * it would not fit, so this also caps the heap of one message (about 200 000 numbers or 75 000
 * byte strings).
 */
export const DEFAULT_MAX_PENDING_HEAP_BYTES_PER_PEER = 8 * 1024 * 1024;
/** Default cap of undelivered rounds per peer. */
export const DEFAULT_MAX_PENDING_ROUNDS_PER_PEER = 256;
/** Progress events of {@link joinGroup}, for logs and progress displays (never contain secrets). */
export type GroupEvent =
  | {
      /**
       * Formation failed because of a peer, and this party, staying reachable until its join
       * deadline, told a peer that connected afterwards why it left (an abort notice), then closed.
       */
      type: 'told';
      peer: string;
    }
  | {
      /** The listener is up. */
      type: 'listening';
      /** Address it is bound to. */
      host: string;
      /** Port it is bound to (the real one when 0 was asked for). */
      port: number;
    }
  | {
      /** A dial to a discovered address started. */
      type: 'dialing';
      /** `host:port`. */
      address: string;
    }
  | {
      /** A dial failed; it is retried after `retryInMs`. */
      type: 'dial-failed';
      /** `host:port`. */
      address: string;
      /** The error code. */
      code: string;
      /** The party the far end claimed to be, when the handshake got that far. */
      peer?: string;
      /** Backoff before the next dial to this address. */
      retryInMs: number;
      /** Why the far end refused, when it said so (`order`, `duplicate`, `self` are normal). */
      reason?: RefuseReason;
      /** Why the relay refused, for a relayed pair. */
      relayReason?: RelayRefuseReason;
    }
  | {
      /**
       * An incoming connection was refused. `reason` says why when the handshake got far enough:
       * `self` (this party reached its own address), `order` / `duplicate` (the pair is already
       * connected, or the other side dials) are part of normal formation; anything else is not.
       */
      type: 'refused';
      /** The remote socket address. */
      remoteAddress?: string;
      /** The error code. */
      code: string;
      /** The party the connection claimed to be, if it got that far. */
      peer?: string;
      /** Why it was refused. */
      reason?: RefuseReason;
    }
  | {
      /** An authenticated channel to a roster peer is up. */
      type: 'connected';
      /** The peer. */
      peer: string;
      /** Whether this party dialled. */
      initiator: boolean;
      /** Channels up so far. */
      connected: number;
      /** Channels needed (roster size − 1). */
      expected: number;
    }
  | {
      /** The mesh is complete; `joinGroup` resolves. */
      type: 'ready';
      /** Number of peers. */
      peers: number;
      /** Time since `joinGroup` was called. */
      elapsedMs: number;
    }
  | {
      /**
       * A channel ended, or a peer said it stopped (an abort notice: for the whole group, once;
       * for one run, once per run, and for runs not running here at most 16 per peer until this
       * party starts or ends them — a peer making up run ids cannot make this party emit an
       * event per notice).
       */
      type: 'peer-lost';
      /** The peer. */
      peer: string;
      /** The error code (`PEER_LOST` for a clean close). */
      code: string;
      /** The peer closed it normally (e.g. it finished and closed its group). */
      graceful?: boolean;
    };

/** Options of {@link joinGroup}. */
export interface JoinGroupOptions extends ChannelLimits {
  /** This party's identity (its key must be the roster key of `localId`). */
  readonly identity: Identity;
  /** The pinned parties of the task, including this one. */
  readonly roster: Roster;
  /** Session (task run) id; every party must use the same, and a fresh one per run. */
  readonly sessionId: string;
  /** This party's roster id. Default `identity.id`. */
  readonly localId?: string;
  /**
   * Where peers may be: one discovery method or several (their answers are merged). The roster's
   * own addresses (an entry's `address`) are dialled too, before any discovery's.
   */
  readonly discovery?: Discovery | readonly Discovery[];
  /** Where to listen. Default `{ host: '0.0.0.0', port: 8888 }`; `false` to only dial. */
  readonly listen?:
    | {
        /** Address to bind (default `0.0.0.0`). */
        readonly host?: string;
        /** Port to bind (default 8888; 0 picks a free one). */
        readonly port?: number;
      }
    | false;
  /**
   * Deadline to form the full mesh. Default {@link DEFAULT_JOIN_TIMEOUT_MS}. When formation fails
   * because of a peer (it aborted, was lost, or is blamed), `joinGroup` rejects at once but this
   * party stays reachable until this deadline (its listener, dialers and relay connections keep
   * running, which keeps the process alive) and tells each party that connects why it left, so
   * parties still starting learn the root cause instead of naming this one; `signal` stops it early.
   */
  readonly timeoutMs?: number;
  /** Default deadline of each round. Default {@link DEFAULT_ROUND_TIMEOUT_MS}. */
  readonly roundTimeoutMs?: number;
  /** Abort formation (and, later, pending rounds). */
  readonly signal?: AbortSignal;
  /** Cipher suite. Default `native`. */
  readonly suite?: SuiteName;
  /** Handshake deadline per connection, ms. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Retry delays for addresses that failed. */
  readonly dialBackoff?: {
    /** First retry delay (default {@link DEFAULT_DIAL_INITIAL_BACKOFF_MS}). */
    readonly initialMs?: number;
    /** Largest retry delay (default {@link DEFAULT_DIAL_MAX_BACKOFF_MS}). */
    readonly maxMs?: number;
  };
  /** Time between discovery snapshots while incomplete. Default {@link DEFAULT_DISCOVERY_INTERVAL_MS}. */
  readonly discoveryIntervalMs?: number;
  /** Caps of undelivered messages (what arrived before this party waited for it). */
  readonly mailbox?: {
    /**
     * Undelivered decoded bytes (message bytes plus the estimated heap of their values) across all
     * peers together (default {@link DEFAULT_MAX_TOTAL_PENDING_BYTES}: 512 MiB, or
     * {@link MIN_DEFAULT_PENDING_SHARE_BYTES} × (n − 1) if more). Each peer's share is this / (n − 1):
     * a peer past its share is dropped (`PROTOCOL_VIOLATION` naming it), and no peer can take
     * another's share.
     */
    readonly maxTotalPendingBytes?: number;
    /**
     * Undelivered decoded bytes per peer before it is dropped. Default: its share of
     * `maxTotalPendingBytes`. Given alone, it sets each peer's share (the total is then n − 1 times
     * it, as before); given with `maxTotalPendingBytes`, the smaller of the two.
     */
    readonly maxPendingBytes?: number;
    /**
     * Estimated heap of undelivered decoded values per peer before it is dropped (default
     * {@link DEFAULT_MAX_PENDING_HEAP_BYTES_PER_PEER}, more in rosters whose messages legitimately
     * hold more values). One message is refused before decoding if it would exceed what is left.
     */
    readonly maxPendingHeapBytes?: number;
    /** Undelivered rounds per peer before it is dropped (default {@link DEFAULT_MAX_PENDING_ROUNDS_PER_PEER}). */
    readonly maxPendingRounds?: number;
    /**
     * Runs ahead of this party's own (run ids of `nextRunId`, `<name>.<counter>`) whose early
     * messages are kept (default {@link DEFAULT_MAX_RUNS_AHEAD}: an honest peer is at most a run or
     * two ahead of a party that is not a straggler). A message of a run further ahead, or of a run
     * whose counter this party already gave to another run, is dropped — not filed, nobody named.
     */
    readonly maxRunsAhead?: number;
  };
  /** Progress callback of the mesh formation and of lost peers. */
  readonly onEvent?: (event: GroupEvent) => void;
  /**
   * Progress of every secure-sum run on this group (phase, wire bytes so far), on each phase
   * change and every `progressIntervalMs` while a run is on. Per call: the sum's own `onProgress`.
   */
  readonly onProgress?: (progress: RunProgress) => void;
  /** How often a running sum reports progress, ms (default 1000). */
  readonly progressIntervalMs?: number;
  /**
   * How channels are opened: `direct` (default: listen and dial), `relay` (every pair through the
   * relay at `relayUrl`; no listener unless `listen` is given) or `auto` (direct first, the relay
   * for pairs still unconnected after `autoFallbackMs`). See src/relay.
   */
  readonly transport?: Transport;
  /** The relay (`ws://` or `wss://`) for `transport: 'relay' | 'auto'`. */
  readonly relayUrl?: string;
  /** Grace period of `auto` before a pair falls back to the relay. Default 2000 ms. */
  readonly autoFallbackMs?: number;
}

/** Options of one receive or gather. */
export interface RoundOptions {
  /** Deadline, ms. Default: the group's `roundTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Aborts the wait with {@link AbortedError}. */
  readonly signal?: AbortSignal;
}

/** Where a secure-sum run is (see `JoinGroupOptions.onProgress` and the sums' `onProgress`). */
export interface RunProgress {
  /** The run (rounds are named after it). */
  readonly runId: string;
  /** `secureSum`, `dkSecureSum`, `thresholdSum`, `plainSum`, `ringSecureSum`. */
  readonly protocol: string;
  /**
   * `agree` (shape and parameters, run-seed coin toss), `share` (dealing and collecting shares),
   * `open` (committing and opening partial sums), `done`, or `failed`.
   */
  readonly phase: 'agree' | 'share' | 'open' | 'done' | 'failed';
  /** Wire bytes this party sent to all peers since the run started. */
  readonly bytesSent: number;
  /** Wire bytes this party received from all peers since the run started. */
  readonly bytesReceived: number;
  /** Milliseconds since the run started. */
  readonly elapsedMs: number;
}

/** Traffic with one peer. */
export interface PeerStats {
  /** The peer. */
  readonly peer: string;
  /** Wire bytes sent to it (sealed frames). */
  readonly bytesSent: number;
  /** Wire bytes received from it. */
  readonly bytesReceived: number;
  /** Messages sent to it. */
  readonly messagesSent: number;
  /** Messages received from it. */
  readonly messagesReceived: number;
  /**
   * Of {@link PeerStats.messagesSent}, the liveness probes and probe answers (`coupler ping` /
   * `coupler pong`: sent at a round deadline, to check a peer's abort notice, or, through the
   * relay, to check that it acknowledges what it reads; never run data).
   */
  readonly probesSent: number;
  /** Of {@link PeerStats.messagesReceived}, the liveness probes and probe answers. */
  readonly probesReceived: number;
  /** Whether the channel runs direct or through the relay. */
  readonly path: ChannelPath;
  /**
   * Bytes kept for resending to it: messages it has not acknowledged yet, through the relay only
   * (0 on a direct link). At most `retainCap` (32 MiB, or twice the largest message sent to it,
   * at most 256 MiB); a peer that reads and does not acknowledge is named (review14 R14-3).
   */
  readonly retainedBytes: number;
  /**
   * Round messages from it dropped unread because their run cannot start here any more or is
   * further ahead than `mailbox.maxRunsAhead` (not counted against its caps).
   */
  readonly messagesDropped: number;
}

/**
 * Calls a party refused before they took a run id, since its run counter was `at`: their protocols
 * in order, where the latest turn's refusals start, and whether that turn is still running (see
 * `Group._noteRefusedRun`).
 */
interface RefusedCalls {
  readonly at: number;
  readonly protocols: string[];
  /** Per call: whether the others may complete its run without this party (thresholdSum). */
  readonly tolerant: boolean[];
  turnStart: number;
  sameTurn: boolean;
}

/** The id of run `k` of `protocol` in the joined group (label undefined) or a view. */
function runIdOf(protocol: string, label: string | undefined, k: number): string {
  return label === undefined ? `${protocol}.${k}` : `${protocol}.${label}.${k}`;
}

/**
 * A timer option: a positive integer no larger than Node honours (2^31 − 1 ms; a larger delay
 * would fire at once).
 */
function positiveInt(value: number | undefined, fallback: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new InvalidArgumentError(`"${name}" must be a positive integer${max === MAX_TIMER_MS ? ` of at most ${MAX_TIMER_MS} ms` : ''}`);
  }
  return value;
}

function checkRound(round: unknown): string {
  if (typeof round !== 'string' || !ROUND_PATTERN.test(round)) {
    throw new InvalidArgumentError('"round" must be 1 to 128 printable ASCII characters without spaces');
  }
  return round;
}

/** Fail the sends of a batch to `peer` whose channel failed: with the peer's error for each one's run, if it has one. */
function failBatch(waiters: readonly { reject: (e: unknown) => void; run: string }[], peer: string, mailbox: Mailbox | undefined, err: unknown): void {
  for (const w of waiters) w.reject(mailbox?.errorFor(w.run) ?? new GroupError(ErrorCode.PEER_LOST, `cannot send to "${peer}": channel closed`, { peer, cause: err }));
}

/** A send still pending at its deadline (see Group.#sent). */
const PENDING: unique symbol = Symbol('pending');

/** The abort notice behind a PEER_ABORTED error a mailbox delivered. */
const noticeOf = new WeakMap<CouplerError, { peer: string; notice: AbortNotice }>();

/**
 * A registry-wide brand on every Group, so a Group made by one copy of coupler (the ESM build,
 * say) is accepted by the protocols of another copy (the CJS build, or a second bundle) in the
 * same process: `instanceof` alone fails across copies (the dual-package hazard).
 */
const GROUP_BRAND: unique symbol = Symbol.for('coupler.group.v1') as never;

/**
 * The mesh of one task. Created by {@link joinGroup}; close it with {@link Group.close}.
 */
export class Group {
  /**
   * Whether `value` is a Group, also one created by another copy of this library in the same
   * process (ESM and CJS builds loaded side by side).
   *
   * @param value - anything.
   * @returns true for a Group.
   */
  static isGroup(value: unknown): value is Group {
    if (value instanceof Group) return true;
    if (typeof value !== 'object' || value === null) return false;
    try {
      return (value as { [GROUP_BRAND]?: unknown })[GROUP_BRAND] === true;
    } catch {
      return false;
    }
  }

  /** @internal The brand read by {@link Group.isGroup}. */
  get [GROUP_BRAND](): true {
    return true;
  }

  /** This party's id. */
  readonly localId: string;
  /** The session id. */
  readonly sessionId: string;
  /** Every party of the roster, in canonical order (including this one). */
  readonly parties: readonly string[];
  /** The other parties, in canonical order. */
  readonly peers: readonly string[];
  /** The roster. */
  readonly roster: Roster;
  /** This party's identity (used for signed statements in echo rounds). */
  readonly identity: Identity;

  readonly #mesh: Mesh;
  readonly #roundTimeoutMs: number;
  readonly #maxMessageBytes: number;
  #localFailure: string | undefined;
  readonly #onEvent: ((e: GroupEvent) => void) | undefined;
  readonly #onProgress: ((p: RunProgress) => void) | undefined;
  readonly #progressIntervalMs: number;
  #closing = false;
  #runCounter = 0;
  /** Runs this party stopped (its notice went out once). */
  readonly #failedRuns = new Set<string>();
  #epoch: Uint8Array | undefined;
  /** What this group was constructed from (a view is constructed from its root's, see `without`). */
  readonly #init: GroupInit;
  /** The joined group a view was made from; the group itself otherwise. */
  readonly #root: Group;
  /** Run ids (with purpose) whose pairwise secrets were derived (on the root). */
  readonly #pairwiseClaimed = new Set<string>();
  /**
   * Calls this party refused before they took a run id (its own input or options, see
   * {@link Group._noteRefusedRun}) since its run counter last moved, by view label ('' for the
   * joined group), on the root.
   */
  readonly #refused = new Map<string, RefusedCalls>();
  /** Run-label infix of a view (`''` for the joined group). */
  readonly #label: string;
  /** Run counters of the views made from this (root) group, by label. */
  readonly #viewRuns = new Map<string, number>();
  /** Which runs early messages are kept for (shared with the mesh's mailboxes). */
  readonly #runs: RunWindow;
  /**
   * Per peer, runs not running here whose abort notice emitted a `peer-lost` event (at most
   * {@link MAX_UNSTARTED_NOTICE_EVENTS}; a run leaves when it is issued or ended here).
   */
  readonly #noticedUnstarted = new Map<string, Set<string>>();
  /** Small messages waiting for the end of this event-loop turn, per peer (see BATCH_ROUND). */
  readonly #outbox = new Map<string, { items: Uint8Array[]; bytes: number; waiters: { resolve: () => void; reject: (e: unknown) => void; run: string; options: RoundOptions }[] }>();
  #flushScheduled = false;

  /** @internal use {@link joinGroup}. */
  constructor(init: GroupInit, view?: { readonly root: Group; readonly members: readonly string[]; readonly label: string }) {
    this.localId = init.localId;
    this.sessionId = init.sessionId;
    this.roster = init.roster;
    this.identity = init.identity;
    this.parties = view?.members ?? init.roster.ids;
    this.peers = this.parties.filter((id) => id !== init.localId);
    this.#init = init;
    this.#root = view?.root ?? this;
    this.#label = view?.label ?? '';
    this.#mesh = init.mesh;
    this.#roundTimeoutMs = init.roundTimeoutMs;
    this.#maxMessageBytes = init.maxMessageBytes;
    this.#onEvent = init.onEvent;
    this.#onProgress = init.onProgress;
    this.#progressIntervalMs = init.progressIntervalMs ?? 1000;
    this.#runs = view === undefined ? (init.runs ?? new RunWindow()) : view.root.#runs;
    if (view !== undefined) return;
    this.#runs.onIssue((run) => {
      for (const set of this.#noticedUnstarted.values()) set.delete(run);
    });
    const group = this;
    init.mesh.join({
      onAbort: (peer, notice) => this.#onAbortNotice(peer, notice),
      get closing() {
        return group.#closing;
      },
      flush: (peer) => this.#flush(peer),
    });
  }

  /**
   * The epoch of this formation: 32 bytes every party agreed on when the group formed, fresh per
   * formation, bound into every signed statement and commitment (see `group/epoch.ts`).
   */
  get epoch(): Uint8Array {
    if (this.#epoch === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, 'the group has no epoch yet (use the group joinGroup returns)');
    return Uint8Array.from(this.#epoch);
  }

  /** @internal set once by joinGroup, after the epoch agreement. */
  _setEpoch(epoch: Uint8Array): void {
    if (this.#epoch !== undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, 'the epoch is set once');
    this.#epoch = Uint8Array.from(epoch);
  }

  /** @internal the relay's URL when the group was joined with one (read by the relayed opening). */
  get _relayUrl(): string | undefined {
    return this.#mesh.relayUrl;
  }

  /** @internal the group's progress hook and interval (read by the protocols). */
  get _progress(): { readonly hook: ((p: RunProgress) => void) | undefined; readonly intervalMs: number } {
    return { hook: this.#onProgress, intervalMs: this.#progressIntervalMs };
  }

  /** Default deadline of a round, ms. */
  get roundTimeoutMs(): number {
    return this.#roundTimeoutMs;
  }

  #mailbox(peer: string): Mailbox {
    return this.#mesh.mailboxes.get(peer)!;
  }

  #peerChannel(peer: string): SecureChannel {
    if (this.#root !== this && !this.peers.includes(peer)) throw new InvalidArgumentError(`"${String(peer).slice(0, 64)}" is not a peer of this group`);
    // A peer whose link is down still has its (closed) channel: the mailbox reports why.
    const link = this.#mesh.links.get(peer);
    if (link !== undefined) return link.channel;
    const mailbox = typeof peer === 'string' && peer !== this.localId ? this.#mesh.mailboxes.get(peer) : undefined;
    // A roster peer without a channel is a lost peer, never an argument error.
    if (mailbox !== undefined) throw mailbox.error ?? new GroupError(ErrorCode.PEER_LOST, `no channel to peer "${peer}"`, { peer });
    throw new InvalidArgumentError(`"${String(peer).slice(0, 64)}" is not a peer of this group`);
  }

  /** Peers whose channel is gone (crashed, closed, misbehaved, or left with an abort notice). */
  get lostPeers(): string[] {
    return this.peers.filter((p) => this.#mailbox(p).error !== undefined);
  }

  /**
   * Send `payload` for `round` to one peer.
   * @param options - the round's deadline and signal: a peer that left with a notice blaming
   *   another party fails the send with the notice's verdict, for which that party is asked for
   *   half this deadline (default: the group's); the signal ends that wait with {@link AbortedError}.
   * @throws {@link GroupError} `PEER_LOST` if the peer is gone; {@link InvalidArgumentError}.
   */
  async send(peer: string, round: string, payload: PlainData, options: RoundOptions = {}): Promise<void> {
    checkRound(round);
    this.#peerChannel(peer);
    const lost = this.#mailbox(peer).errorFor(runOfRound(round));
    if (lost) throw await this.#judgedFor(lost, options);
    await this.#sent(round, [peer], [this.#post(peer, runOfRound(round), encodeRoundMessage(round, payload), options)], options);
  }

  /**
   * {@link Group.#judged} for a send: within the round's deadline (`options.timeoutMs`, else the
   * group's), ended by its signal ({@link AbortedError}). Resolves with the error to report.
   */
  #judgedFor(err: unknown, options: RoundOptions): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.#roundTimeoutMs;
    return untilAborted(this.#judged(err, timeoutMs), options.signal).catch((e: unknown) => e);
  }

  /**
   * Wait for the sends `posts` (to `peers`, in the same order) of `round`. A send completes when
   * its bytes are handed to the socket: toward a peer that stopped reading (a stopped process, a
   * paused VM, a path cut without a reset) that stops happening once the kernel's buffers and the
   * channel's are full, and a protocol step that awaited its sends before its gather waited for
   * ever. So a send fails once its peer's socket has taken none of this party's bytes for
   * the round's deadline (`options.timeoutMs`, else the group's; a slow link that still moves bytes at 1 MiB/s on average is waited for, as the pieces exchanges' longer
   * deadlines expect), as a gather fails for a silent peer: a {@link TimeoutError} naming those of
   * the stalled peers that do not answer a liveness probe (a probe travels behind the bytes that do
   * not leave, so a peer that stopped reading is silent), or all of them; the round's signal ends
   * the wait ({@link AbortedError}). One timer per call and no work per peer until it fires.
   */
  #sent(round: string, peers: readonly string[], posts: Promise<void>[], options: RoundOptions): Promise<void> {
    return untilAborted(this.#sentWithin(round, peers, posts, options.timeoutMs ?? this.#roundTimeoutMs), options.signal);
  }

  #sentWithin(round: string, peers: readonly string[], posts: Promise<void>[], timeoutMs: number): Promise<void> {
    const all = posts.length === 1 ? posts[0]! : Promise.all(posts);
    // Nearly every send is handed to the socket within the event-loop turn: wait for that under a
    // deadline in the group's queue (deadlines.ts: no Node timer, race or extra promise per send),
    // and only past it look at each peer's progress (#stallCheck).
    return new Promise<void>((resolve, reject) => {
      let late = false;
      const deadline = addDeadline(timeoutMs, () => {
        late = true;
        this.#stallCheck(round, peers, posts, all, timeoutMs).then(resolve, reject);
      });
      all.then(
        () => {
          if (late) return;
          cancelDeadline(deadline);
          resolve();
        },
        (err: unknown) => {
          if (late) return;
          cancelDeadline(deadline);
          reject(err);
        },
      );
    });
  }

  /** {@link Group.#sentWithin} once its first deadline passed with `all` (the sends `posts`) still pending. */
  async #stallCheck(round: string, peers: readonly string[], posts: Promise<void>[], all: Promise<unknown>, timeoutMs: number): Promise<void> {
    // Besides "no progress for the deadline": from the first deadline on, each peer's channel must
    // take bytes at MIN_OPENING_BYTES_PER_SECOND on average, after one more deadline of grace
    // (whatever message they belong to: a send queued behind a long one on a fast link is not
    // late). A peer that took the bytes just often enough to show progress each deadline held the
    // sender in the send for (size / send batch) deadlines (review8 R8-9). Measured from the first
    // timer, so nothing per peer is done before it fires.
    let from: { at: number; ch: SecureChannel | undefined; n: number }[] | undefined;
    let waitMs = timeoutMs;
    for (let first = true; ; first = false) {
      if (!first) {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<typeof PENDING>((resolve) => (timer = setTimeout(() => resolve(PENDING), waitMs)));
        try {
          if ((await Promise.race([all, late])) !== PENDING) return;
        } finally {
          clearTimeout(timer);
        }
      }
      // Which sends are still pending: racing a settled promise against an already resolved one
      // yields the settled one's outcome (its reaction was queued first).
      const now = Date.now();
      from ??= peers.map((p) => {
        const ch = this.#mesh.links.get(p)?.channel;
        return { at: now, ch, n: ch?.takenBytes ?? 0 };
      });
      const stalled: string[] = [];
      let nextMs = Infinity;
      for (let i = 0; i < posts.length; i++) {
        if ((await Promise.race([posts[i]!, Promise.resolve(PENDING)])) !== PENDING) continue;
        const ch = this.#mesh.links.get(peers[i]!)?.channel;
        const tookAt = ch?.tookAt ?? -Infinity;
        const base = from[i]!;
        const moved = ch === undefined ? 0 : ch === base.ch ? ch.takenBytes - base.n : ch.takenBytes;
        const floorAt = base.at + timeoutMs + (1000 * moved) / MIN_OPENING_BYTES_PER_SECOND;
        if (now - tookAt >= timeoutMs || now >= floorAt) stalled.push(peers[i]!);
        else nextMs = Math.min(nextMs, tookAt + timeoutMs - now, floorAt - now);
      }
      if (stalled.length > 0) {
        all.catch(() => undefined);
        throw await this.#stalled(round, stalled, timeoutMs);
      }
      if (nextMs === Infinity) {
        await all;
        return;
      }
      waitMs = Math.max(1, nextMs);
    }
  }

  /**
   * Send one encoded round message: small ones join the peer's batch of this event-loop turn,
   * larger ones go at once (after the pending batch, so the order per peer is kept).
   */
  #post(peer: string, run: string, bytes: Uint8Array, options: RoundOptions): Promise<void> {
    // Over the cap: this party's own message, refused before anything is counted or sent — not a
    // lost peer (it was reported as PEER_LOST naming the receiver, an honest party).
    if (bytes.length > this.#maxMessageBytes) return Promise.reject(this.#tooLarge(bytes.length));
    if (bytes.length > BATCH_ITEM_MAX_BYTES) {
      this.#flush(peer);
      return this.#mesh.links.get(peer)!.send(bytes).catch((err: unknown) => {
        throw new GroupError(ErrorCode.PEER_LOST, `cannot send to "${peer}": channel closed`, { peer, cause: err });
      });
    }
    let box = this.#outbox.get(peer);
    if (box === undefined) {
      box = { items: [], waiters: [], bytes: 0 };
      this.#outbox.set(peer, box);
    }
    // A batch stays within the cap (each item costs at most 5 bytes of framing, the header 64).
    if (box.items.length > 0 && box.bytes + bytes.length + 5 + 64 > this.#maxMessageBytes) {
      this.#flush(peer);
      box = { items: [], waiters: [], bytes: 0 };
      this.#outbox.set(peer, box);
    }
    const b = box;
    const done = new Promise<void>((resolve, reject) => b.waiters.push({ resolve, reject, run, options }));
    b.items.push(bytes);
    b.bytes += bytes.length + 5;
    if (b.items.length >= BATCH_MAX_ITEMS) this.#flush(peer);
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        for (const p of [...this.#outbox.keys()]) this.#flush(p);
      });
    }
    return done;
  }

  /**
   * A message of this party's own over `maxMessageBytes`: its own failure (the peer is not lost,
   * the channel stays open, nothing was sent), naming nobody.
   */
  #tooLarge(bytes: number): CouplerError {
    return new CouplerError(ErrorCode.MESSAGE_TOO_LARGE, `a message of ${bytes} bytes exceeds maxMessageBytes ${this.#maxMessageBytes}`, { peers: [] });
  }

  /** Send the peer's pending batch now (one message, or the single item as it is). */
  #flush(peer: string): void {
    const box = this.#outbox.get(peer);
    if (box === undefined) return;
    this.#outbox.delete(peer);
    const link = this.#mesh.links.get(peer);
    const mailbox = this.#mesh.mailboxes.get(peer);
    if (mailbox?.error !== undefined) {
      // The peer stopped between these sends and their batch (its notice was read in between):
      // they fail with the notice's verdict, as a send after it does (send, sendToAll) — not with
      // the notice as first filed, which names nobody unless confirmed at once (blame trial).
      // Each within its own round's deadline and signal, and by its own run's notice.
      for (const w of box.waiters) void this.#judgedFor(mailbox.errorFor(w.run), w.options).then(w.reject);
      return;
    }
    if (link === undefined) return failBatch(box.waiters, peer, mailbox, undefined);
    const bytes = box.items.length === 1 ? box.items[0]! : encodeBytesList(BATCH_ROUND, box.items);
    // No named closure per flush (a `const fail = …` cost an allocation, and under tsx — every
    // benchmark — esbuild's keepNames made it a defineProperty on a fresh function: 2–6 µs per
    // message in profiles of the floor bench).
    link.send(bytes).then(
      () => {
        for (const w of box.waiters) w.resolve();
      },
      (err: unknown) => failBatch(box.waiters, peer, mailbox, err),
    );
  }

  /**
   * Send the same payload for `round` to every peer (or to `to`). Encodes once.
   * Not a broadcast channel: a dishonest sender could send different values; see {@link echoBroadcast}.
   * `options`: the round's deadline and signal, as for {@link Group.send}.
   */
  async sendToAll(round: string, payload: PlainData, to: readonly string[] = this.peers, options: RoundOptions = {}): Promise<void> {
    checkRound(round);
    const bytes = encodeRoundMessage(round, payload);
    const run = runOfRound(round);
    // Every peer is tried (a refused one does not stop the others), as one async function per
    // peer did, without one: a round at small L is mostly this bookkeeping.
    const posts: Promise<void>[] = [];
    for (const peer of to) {
      try {
        this.#peerChannel(peer);
        const lost = this.#mailbox(peer).errorFor(run);
        posts.push(lost ? this.#judgedFor(lost, options).then((judged) => Promise.reject(judged)) : this.#post(peer, run, bytes, options));
      } catch (err) {
        posts.push(Promise.reject(err));
      }
    }
    await this.#sent(round, to, posts, options);
  }

  /**
   * The message of `round` from `peer`.
   * @throws {@link TimeoutError} naming the peer, or, when the peer answers a liveness probe and
   *   says it waits for a party that is silent here, that party (see {@link Group.gather});
   *   {@link GroupError} `PEER_LOST`/`PEER_ABORTED`/`PROTOCOL_VIOLATION`.
   */
  receive(peer: string, round: string, options: RoundOptions = {}): Promise<PlainData> {
    checkRound(round);
    this.#peerChannel(peer);
    const timeoutMs = positiveInt(options.timeoutMs, this.#roundTimeoutMs, 'timeoutMs', MAX_TIMER_MS);
    return this.#mailbox(peer)
      .take(round, timeoutMs, options.signal)
      .catch(async (err: unknown) => {
        // (The caller's signal ends the verdict's wait too, as it ends the wait at a deadline below.)
        if (!(err instanceof TimeoutError)) throw await this.#judgedFor(err, options.signal === undefined ? { timeoutMs } : { timeoutMs, signal: options.signal });
        // The deadline passed: the peer may be behind, waiting for the culprit as this party did,
        // and about to say so. Ask it (and whom it waits for) before naming it; a notice it sends
        // meanwhile decides where it names someone confirmed here. The caller's signal still ends
        // the wait (AbortedError), as it ends a gather's.
        throw await untilAborted(
          (async () => {
            // A message that came during the probe is filed (the wait had ended): its sender is not silent.
            const stalled = spareArrived(await this.#stalled(round, [peer], timeoutMs), () => this.#mailbox(peer).has(round));
            const notice = this.#mesh.noticeFrom(peer, runOfRound(round));
            if (notice === undefined) return stalled;
            const judged = await this.#mesh.judgeAbort(peer, notice, stallProbeMs(timeoutMs), undefined, this.parties);
            return judged.peers.length > 0 ? judged : stalled;
          })(),
          options.signal,
        );
      });
  }

  /**
   * The error for a round whose deadline passed with `names` missing: a {@link TimeoutError}
   * naming the parties that are silent here — probed, with whom each answering party says it
   * waits for probed in turn ({@link Mesh.traceStall}, up to {@link stallProbeMs}) — or, when every
   * party asked answers (a party that withholds while staying alive), naming `names`. So a party
   * one round ahead, whose deadline passes just after those still behind gave up waiting for the
   * culprit, names the culprit rather than them.
   */
  async #stalled(round: string, names: readonly string[], timeoutMs: number): Promise<CouplerError> {
    return this._stalled(round, names, timeoutMs);
  }

  /**
   * @internal `err` (a deadline's verdict for `round`) without the parties whose message of
   * `round` has come since the wait for it ended — during the probe (see `spareArrived`): for the
   * group's own round helpers that probe after a tolerant gather (the epoch agreement).
   */
  _spareArrived(err: CouplerError, round: string): CouplerError {
    return spareArrived(err, (p) => this.#mesh.mailboxes.get(p)?.has(round) === true);
  }

  /**
   * @internal Which of `names` (parties missing from `round`) are silent here, and whom each one
   * that answers says it waits for: the liveness probe of a deadline ({@link Mesh.traceStall}, up
   * to `probeMs`, followed through whom they wait for), naming nobody. While it runs this party's
   * own probe answers say it waits for `names`. For thresholdSum's tolerant rounds, which end once
   * they hold what they need and the missing parties are silent, and give a missing party that is
   * alive and held up by a silent one one more deadline (trial T1).
   */
  async _traceMissing(round: string, names: readonly string[], probeMs: number): Promise<{ silent: string[]; waiting: ReadonlyMap<string, readonly string[]> }> {
    if (names.length === 0) return { silent: [], waiting: new Map() };
    const { silent, waiting } = await this.#mesh.traceStall(names, Math.max(1, Math.min(probeMs, STALL_PROBE_MAX_MS)), this.peers, runOfRound(round));
    return { silent, waiting };
  }

  /**
   * @internal {@link Group.#stalled} for the group's own round helpers (the epoch agreement, echo
   * broadcast). When every party asked answers, a missing party that says it waits for another
   * live party of the round is not named (it may be honest, held up by a withholder that answers
   * probes too): it and the parties it names are `suspects`; one whose abort notice for the run
   * arrived meanwhile is not named either (its notice, judged here, is the error when all have one).
   */
  async _stalled(round: string, names: readonly string[], timeoutMs: number): Promise<CouplerError> {
    const list = (xs: readonly string[]): string => xs.map((m) => `"${m}"`).join(', ');
    // Only links resuming through the relay are missing: the relay is gone, unless it admits this
    // party's dials and a peer does not come to it (that peer is then missing here and is asked
    // like any other). Decided after the dials in flight settle (bounded): a peer that broke its
    // own channels just before the deadline was still "resuming" at it, and the relay was blamed
    // (review14 R14-1). Here for every deadline — a receive, a send, a tolerant gather, the echo —
    // not only gather's: the others probed the peer over no channel and named it for the relay's
    // absence (test/group/relay-gone-receive.test.ts).
    const relayGone = (): GroupError | undefined =>
      names.length > 0 && names.every((m) => this.#mesh.isResuming(m))
        ? new GroupError(ErrorCode.RELAY_LOST, `round "${round}": the relay ${this.#mesh.relayUrl ?? ''} is unreachable; the links to ${list(names)} did not come back within ${timeoutMs} ms`, {
            peers: [],
          })
        : undefined;
    if (relayGone() !== undefined) {
      // This party still waits for them meanwhile (the trace has not started, a receive's wait has
      // ended): a party ahead that asks now must hear so — before, it heard "nobody" for up to the
      // peer's grace and named this party (review23 W2).
      await this.#mesh.waitingWhile(names, this.#mesh.resumeSettled(names));
      const gone = relayGone();
      if (gone !== undefined) return gone;
    }
    const base = `round "${round}": no message from ${list(names)} within ${timeoutMs} ms`;
    const one = names.length === 1 ? { peer: names[0]! } : {};
    const run = runOfRound(round);
    const { silent, waiting, elsewhere } = await this.#mesh.traceStall(names, stallProbeMs(timeoutMs), this.peers, run);
    if (silent.length === 0) {
      // Every party asked answers. A missing party that sent its abort notice for the run meanwhile
      // is not named: its notice, judged here, speaks for it. A missing party that waits for nobody
      // (or only for this party, whose messages went before its probe on the same ordered channel)
      // withholds: it is named. One that says it waits for another live party of the round may be
      // honest and kept waiting by that party (which withholds from it alone), or lying about it:
      // nothing here tells which, so neither is named — both are suspects. (Naming it named the
      // honest party kept waiting whenever a party ahead reached its deadline first:
      // test/protocols/aggregate-review.test.ts F5, test/group/deadline-skew.test.ts.)
      const explained = names.filter((m) => this.#mesh.noticeFrom(m, run) !== undefined);
      if (explained.length === names.length) return this.#mesh.judgeAbort(explained[0]!, this.#mesh.noticeFrom(explained[0]!, run)!, stallProbeMs(timeoutMs), undefined, this.parties);
      // A missing party that gave this run's counter to another run of its own runs other code (an
      // image that takes another sequence of runs): it will never send this run's messages, and
      // whom it waits for concerns its own run. Which side runs the "right" code nothing here can
      // tell: it is not named, only a suspect (claiming so gains a withholder no more than saying
      // it waits for another live party does; review21 R21-4).
      const skewed = names.filter((m) => !explained.includes(m) && elsewhere.has(m));
      const open = names.filter((m) => !explained.includes(m) && !skewed.includes(m));
      // (A party that says it waits for itself, or for this party, waits for nobody else.)
      const claims = (m: string): string[] => (waiting.get(m) ?? []).filter((q) => q !== m && q !== this.localId && this.peers.includes(q));
      const certain = open.filter((m) => claims(m).length === 0);
      const unsure = open.filter((m) => claims(m).length > 0);
      if (skewed.length > 0) {
        const sameCounter = (m: string): boolean => elsewhere.get(m)!.tookCounter;
        // A party that has not reached this run, busy in a run of another namespace, may simply be
        // one run behind (the same code: a group run, then a view run) and held up there by whom it
        // waits for — as before b850e70 those are suspects too; dropping them let the withholder
        // that held it up out of the suspects (review24 B2). One that took this run's counter for
        // another run waits in that run: its waits say nothing of this one (R21-4).
        const behind = skewed.filter((m) => !sameCounter(m));
        const differ = skewed
          .map((m) =>
            sameCounter(m)
              ? `${list([m])} took this run's counter for its run ${list([elsewhere.get(m)!.run])}`
              : `${list([m])} has not reached this run and is in its run ${list([elsewhere.get(m)!.run])}, which this party is not running${claims(m).length > 0 ? `, and says it waits for ${list(claims(m))}` : ''}`,
          )
          .join('; ');
        const suspects = [...new Set([...skewed, ...behind.flatMap(claims), ...unsure, ...unsure.flatMap(claims)])].filter((q) => !certain.includes(q));
        const why = behind.length === skewed.length ? 'the parties are at different runs (one behind, or running different sequences of runs)' : 'the parties run different sequences of runs (different code?)';
        return new TimeoutError(
          `${base}; each answers a liveness probe; ${differ} — ${why}, so ${certain.length === 0 ? 'nobody is named' : `only ${list(certain)} is named`} (suspects: ${list(suspects)})`,
          { ...(certain.length === 1 ? { peer: certain[0]! } : {}), peers: certain, suspects },
        );
      }
      if (unsure.length === 0) return new TimeoutError(`${base}; each answers a liveness probe`, { ...(certain.length === 1 ? { peer: certain[0]! } : {}), peers: certain });
      const suspects = [...new Set([...unsure, ...unsure.flatMap(claims)])].filter((q) => !certain.includes(q));
      const said = unsure.map((m) => `${list([m])} says it waits for ${list(claims(m))}`).join('; ');
      return new TimeoutError(
        `${base}; each answers a liveness probe; ${said}, which answers too — either may withhold, so ${certain.length === 0 ? 'nobody is named' : `only ${list(certain)} is named`} (suspects: ${list(suspects)})`,
        { ...(certain.length === 1 ? { peer: certain[0]! } : {}), peers: certain, suspects },
      );
    }
    const alive = names.filter((m) => waiting.has(m));
    if (alive.length === 0) return new TimeoutError(base, { ...one, peers: silent });
    const waitsFor = [...new Set(alive.flatMap((m) => waiting.get(m)!))];
    return new TimeoutError(`${base}; ${list(alive)} answer a liveness probe and wait for ${waitsFor.length === 0 ? 'nobody' : list(waitsFor)}; ${list(silent)} do not answer here`, { peers: silent });
  }

  /**
   * The error to report for a failed receive or send: a peer's abort notice judged now (as
   * `gather` judges it: a blamed party not yet seen failing here is probed for half the round's
   * deadline), any other error as it is.
   */
  async #judged(err: unknown, timeoutMs: number): Promise<unknown> {
    const why = err instanceof CouplerError ? noticeOf.get(err) : undefined;
    if (why === undefined) return err;
    // Only parties of this group (a view's members) can be confirmed: the run is theirs.
    return this.#mesh.judgeAbort(why.peer, why.notice, Math.max(1, Math.floor(timeoutMs / 2)), undefined, this.parties);
  }

  /** Whether this party observed `party` failing: its channel ended here without an abort notice. */
  #failedHere(party: string): boolean {
    return this.#mesh.failedHere(party);
  }

  /**
   * One message of `round` from each of `from` (default: every peer), under one deadline.
   * @returns messages by peer id.
   * @throws {@link TimeoutError} naming, of the parties still missing at the deadline (never a peer
   *   that explained why it stopped), those silent here: each is asked whether it is alive, and
   *   whom it waits for in turn, for half the deadline (at most {@link STALL_PROBE_MAX_MS}); a party
   *   behind that waits for a silent one is not named, the silent one is; when every party asked
   *   answers, the missing ones that wait for nobody are named, and one that says it waits for
   *   another live party is only a suspect, with that party (see `_stalled`). No
   *   message is taken after the deadline.
   *   {@link GroupError} `PEER_LOST` naming a peer whose channel
   *   ended, `PEER_ABORTED` when a peer stopped the run (naming the parties it blamed that failed
   *   here too, itself when it blamed nobody, else nobody; a notice still being judged at the
   *   deadline is waited for, and decides unless it names nobody), `RELAY_LOST`.
   */
  async gather(round: string, options: RoundOptions & { from?: readonly string[] } = {}): Promise<Map<string, PlainData>> {
    return this.#inRound(round, options, (from, timeoutMs, wait, onTimer) =>
      new Promise<Map<string, PlainData>>((resolve, reject) => {
        const results = new Map<string, PlainData>();
        const missing = new Set(from);
        /** Parties whose message came after the deadline, while its verdict was being traced. */
        const cameLate = new Set<string>();
        let judging = 0;
        /** The deadline's verdict, being traced (see onTimer): set once the deadline has passed. */
        let late: Promise<CouplerError> | undefined;
        let done = false;
        const finish = (err: unknown): void => {
          if (done) return;
          done = true;
          if (err !== undefined) reject(err);
          else {
            const ordered = new Map<string, PlainData>();
            for (const p of from) ordered.set(p, results.get(p)!);
            resolve(ordered);
          }
        };
        for (const peer of from) {
          wait(peer).then(
              (value) => {
                // Past the deadline the round has failed here: a message arriving now is not taken
                // (completing a round the others gave up on would put this party a round ahead),
                // but its sender is not named for silence (spareArrived).
                if (late !== undefined) {
                  cameLate.add(peer);
                  return;
                }
                results.set(peer, value);
                missing.delete(peer);
                if (missing.size === 0 && judging === 0) finish(undefined);
              },
              (err: unknown) => {
                if (!(err instanceof CouplerError) || !noticeOf.has(err)) return finish(err);
                // The peer stopped the run and said why: this run cannot complete. Report its root
                // cause, naming whom it blamed only where that holds here too (probed if need be);
                // past the deadline, a cause that names nobody leaves the traced verdict standing.
                missing.delete(peer);
                judging++;
                void this.#judged(err, timeoutMs).then((judged) => {
                  judging--;
                  if (late !== undefined && judged instanceof CouplerError && judged.peers.length === 0) void late.then(finish);
                  else finish(judged);
                });
              },
            );
        }
        onTimer(() => {
          const names = [...missing];
          // Only peers that explained themselves are missing: their judgement ends the gather.
          if (names.length === 0) return;
          // A party still missing may be one that is behind, waiting for the culprit as this party
          // did, and about to say so: ask before naming (#stalled; links resuming through a relay
          // that is gone end it with RELAY_LOST). A peer's notice being judged, or arriving
          // meanwhile, decides where it confirms someone here.
          late = this.#stalled(round, names, timeoutMs).then((verdict) => spareArrived(verdict, (p) => cameLate.has(p)));
          void late.then((timeout) => {
            if (judging === 0) finish(timeout);
          });
        });
      }),
    );
  }

  /**
   * Like {@link Group.gather}, but tolerates peers that are lost or silent: waits until every peer
   * in `from` has answered or is lost, or the deadline passes, and returns whoever answered.
   *
   * `options.onMessage` sees each message as it is taken (before the round ends).
   * @throws {@link TimeoutError} naming the missing peers (never one that explained why it left)
   *   when fewer than `minimum` answered.
   */
  async gatherSome(
    round: string,
    minimum: number,
    options: RoundOptions & { from?: readonly string[]; onMessage?: (peer: string, msg: PlainData) => void } = {},
  ): Promise<Map<string, PlainData>> {
    return this.#inRound(round, options, async (from, timeoutMs, wait, onTimer) => {
      const results = new Map<string, PlainData>();
      const all = Promise.all(
        from.map(async (peer) => {
          try {
            const msg = await wait(peer);
            results.set(peer, msg);
            try {
              options.onMessage?.(peer, msg);
            } catch {
              /* an observer's failure is its own business: the message was taken */
            }
          } catch {
            /* lost, stopped or cancelled: not among those who answered */
          }
        }),
      );
      await Promise.race([all, new Promise<void>((resolve) => onTimer(resolve))]);
      if (results.size < minimum) {
        const missing = from.filter((p) => !results.has(p) && !this.#mesh.explainedFor(p, runOfRound(round)));
        // Whom to name: the silent ones among them (#stalled), as a gather's deadline does.
        const traced = missing.length === 0 ? undefined : await this.#stalled(round, missing, timeoutMs);
        // Messages that came while the probe was out count: enough of them, and the round is
        // complete after all; and a party whose message came is never named (review11 R11-2: a
        // party whose deadline had started before the others' was named by the one it waited for,
        // whose message arrived during the probe).
        if (results.size >= minimum) return new Map(from.filter((p) => results.has(p)).map((p) => [p, results.get(p)!]));
        // The missing links are all resuming through a relay that is gone: say so, naming nobody.
        if (traced?.code === ErrorCode.RELAY_LOST) throw traced;
        throw new TimeoutError(`round "${round}": only ${results.size} of the ${minimum} needed answers; missing ${from.filter((p) => !results.has(p)).map((m) => `"${m}"`).join(', ')}`, {
          peers: (traced?.peers ?? []).filter((p) => !results.has(p)),
          // The trace's suspects (a missing party that says it waits for another live one, with
          // that party) were dropped here: a tolerant piece exchange always reported none.
          ...(traced !== undefined && traced.suspects.length > 0 ? { suspects: traced.suspects } : {}),
        });
      }
      return new Map(from.filter((p) => results.has(p)).map((p) => [p, results.get(p)!]));
    });
  }

  /**
   * The scope of one gather: checks the round and peers, gives `body` a wait per peer (no timer
   * of its own) and runs `onTimer`'s callback at the round deadline; when `body` settles, or the
   * caller's signal aborts (the gather then fails with {@link AbortedError}), the timer is cleared
   * and the waits still pending are cancelled. One timer per round, and no AbortController: a
   * round at small L is mostly this bookkeeping (an AbortController, a timer per peer and the
   * DOMException of every abort() showed in profiles).
   */
  async #inRound<T>(
    round: string,
    options: RoundOptions & { from?: readonly string[] },
    body: (from: readonly string[], timeoutMs: number, wait: (peer: string) => Promise<PlainData>, onTimer: (fire: () => void) => void) => Promise<T>,
  ): Promise<T> {
    checkRound(round);
    const from = options.from ?? this.peers;
    for (const p of from) this.#peerChannel(p);
    const timeoutMs = positiveInt(options.timeoutMs, this.#roundTimeoutMs, 'timeoutMs', MAX_TIMER_MS);
    const signal = options.signal;
    if (signal?.aborted) throw new AbortedError();
    let deadline: Deadline | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const work = body(
        from,
        timeoutMs,
        (peer) => this.#mailbox(peer).wait(round),
        (fire) => {
          deadline = addDeadline(timeoutMs, fire);
        },
      );
      if (signal === undefined) return await work;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new AbortedError());
        signal.addEventListener('abort', onAbort, { once: true });
      });
      return await Promise.race([work, aborted]);
    } finally {
      if (deadline !== undefined) cancelDeadline(deadline);
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
      for (const p of from) this.#mailbox(p).cancel(round);
    }
  }

  /**
   * A fresh run label for `protocol` (`<protocol>.<counter>`). Every party that runs the same
   * sequence of protocols in a group gets the same labels, so round names never repeat.
   */
  nextRunId(protocol: string): string {
    if (this.#root !== this) return this.#root._nextViewRunId(protocol, this.#label);
    this.#skipRefusedRun(undefined);
    this.#runCounter++;
    const run = `${protocol}.${this.#runCounter}`;
    this.#runs.issued(run, protocol, this.#runCounter);
    return run;
  }

  /**
   * @internal A call of a sum protocol was refused here before it took a run id (this party's own
   * input or options; nothing was sent). It takes no id, so that a party may fix its input and
   * retry — alone, or while the others wait in that run. But the others may have made the call
   * too: they took its id, failed it (naming this party by a timeout) and told this party with an
   * abort notice for that id. So the next run here skips the ids of refused calls the others ran —
   * the i-th refused call since the counter last moved would have had position counter + i, and
   * ids are skipped while a notice for each has arrived — and a retry of every party is in step.
   * Before, the refusing party took the id the others had used: it failed at once on their
   * notices and they named it by a timeout, in that run and every later one (review16 R16-1). A
   * notice that has not arrived when the next run starts (the others still wait) leaves the id to
   * that run, which then meets theirs; refused calls that were retries of one another are not
   * skipped past what the others ran.
   *
   * A run started in the same turn of the event loop as refusals (sums started together:
   * `Promise.all(stats.map((s) => secureSum(group, s)))`) is not a retry of them — its caller
   * cannot have seen them yet — but the next of the calls the others make too: it skips those
   * ids at once. Before, it took the refused id, met the others' refused call, and every party
   * accepted the sum of two different calls' inputs (review16 R16-3). Refusals with no run after
   * them in their turn skip nothing by themselves (a party that tries several bad values alone
   * stays in step). A call started in a later turn while the others still wait in the refused run
   * cannot be told from a retry: it takes that id.
   */
  _noteRefusedRun(protocol: string, othersMayComplete = false): void {
    if (this.#root !== this) return this.#root.#noteRefused(protocol, this.#label, othersMayComplete);
    this.#noteRefused(protocol, undefined, othersMayComplete);
  }

  #counterOf(label: string | undefined): number {
    return label === undefined ? this.#runCounter : (this.#viewRuns.get(label) ?? 0);
  }

  #noteRefused(protocol: string, label: string | undefined, othersMayComplete: boolean): void {
    const now = this.#counterOf(label);
    let r = this.#refused.get(label ?? '');
    if (r === undefined || r.at !== now) {
      r = { at: now, protocols: [], tolerant: [], turnStart: 0, sameTurn: false };
      this.#refused.set(label ?? '', r);
    }
    if (!r.sameTurn) {
      // A new turn: its refusals are new calls to each other, but the first may retry the last one
      // of an earlier turn.
      r.turnStart = r.protocols.length;
      r.sameTurn = true;
      const calls = r;
      // Runs before the caller's own reaction to the refusal (queued later, when the call's
      // promise rejects): a call after this is one that could have seen it.
      queueMicrotask(() => {
        calls.sameTurn = false;
      });
    }
    r.protocols.push(protocol);
    r.tolerant.push(othersMayComplete);
  }

  /**
   * On the root, before a run of `label` takes its id: skip the ids of refused calls the others
   * ran (an abort notice for the id of the i-th refused call, position counter + i, for each call
   * before it), and, if this run starts in the turn of the latest refusals, those too (see
   * {@link Group._noteRefusedRun}).
   */
  #skipRefusedRun(label: string | undefined): void {
    const key = label ?? '';
    const r = this.#refused.get(key);
    if (r === undefined) return;
    this.#refused.delete(key);
    if (r.at !== this.#counterOf(label)) return;
    const earlier = r.sameTurn ? r.turnStart : r.protocols.length;
    // The others ran a refused call's id if one stopped it (an abort notice), or — for a protocol
    // that completes without a party that never stated its shape (thresholdSum) — if one sent
    // anything for it: they may have completed it without this party and send no notice then
    // (review16 R16-5). A secure sum cannot complete without this party: its peers still wait
    // in it until they stop it, and a retry joins them.
    const ran = (k: number): boolean => {
      const id = runIdOf(r.protocols[k]!, label, r.at + k + 1);
      return [...this.#mesh.mailboxes.values()].some((m) => m.stoppedRun(id) || (r.tolerant[k] === true && m.sentFor(id)));
    };
    const skipped: string[] = [];
    while (skipped.length < earlier && ran(skipped.length)) skipped.push(runIdOf(r.protocols[skipped.length]!, label, r.at + skipped.length + 1));
    if (r.sameTurn) for (const protocol of r.protocols.slice(r.turnStart)) skipped.push(runIdOf(protocol, label, r.at + skipped.length + 1));
    if (skipped.length === 0) return;
    if (label === undefined) this.#runCounter += skipped.length;
    else this.#viewRuns.set(label, r.at + skipped.length);
    // What the others sent for them (their statements) is released; their notices stay remembered.
    for (const id of skipped) this._runEnded(id);
  }

  /**
   * @internal One secret per peer for run `runId`, which only this party and that peer can
   * compute (see `PeerLink.pairwiseSeed`): HKDF of the pair's link secret, salted with the
   * formation's epoch, for the session, the run and the pair (ids in canonical order) under
   * `purpose`. A run id is claimed once per group formation (views included): a second request
   * for the same run and purpose throws, so a secret is never used for two runs.
   * For a peer whose link is gone, a random secret (see the code).
   * @throws {@link GroupError} `PROTOCOL_VIOLATION` for a run id already used.
   */
  _pairwiseSeeds(runId: string, purpose: string): Map<string, Uint8Array> {
    this.#root._claimPairwise(`${purpose}\n${runId}`);
    const out = new Map<string, Uint8Array>();
    for (const peer of this.peers) {
      const link = this.#mesh.links.get(peer);
      if (link === undefined || link.state === 'down') {
        // A lost peer: the run fails in its first round, which reports the peer as every round
        // does (lost, or the reason it gave). Its secret is never used: nothing is opened before
        // that peer's statement arrives, and it cannot arrive any more.
        out.set(peer, new Uint8Array(randomBytes(32)));
        continue;
      }
      const [a, b] = [this.localId, peer].sort(compareIds);
      out.set(peer, link.pairwiseSeed(this.epoch, encodeMessage(['coupler/1 pairwise', purpose, this.sessionId, runId, a!, b!])));
    }
    return out;
  }

  /** @internal see {@link Group._pairwiseSeeds}. */
  _claimPairwise(key: string): void {
    if (this.#pairwiseClaimed.has(key)) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, 'a pairwise secret was requested twice for one run', { peers: [] });
    // Bounded: run ids come from counters that never repeat (`nextRunId`), so the record guards
    // against a second derivation within a run, which happens right after the first if at all.
    rememberBounded(this.#pairwiseClaimed, key);
  }

  /** @internal run labels of a view: `<protocol>.<label>.<k>`, counted per label on the root. */
  _nextViewRunId(protocol: string, label: string): string {
    this.#skipRefusedRun(label);
    const k = (this.#viewRuns.get(label) ?? 0) + 1;
    this.#viewRuns.set(label, k);
    const run = `${protocol}.${label}.${k}`;
    this.#runs.issued(run, protocol, k, label);
    return run;
  }

  /**
   * The same group without `parties`: a view over the same channels and epoch whose runs involve
   * only the other members — to retry a sum without a party an error named. Every remaining party
   * must make the same view (same excluded parties, in any order) and run the same sequence on it;
   * its runs are labelled apart from the group's and from other views', so they never collide with
   * them. The excluded parties' channels stay open (close the group to close them); closing or
   * aborting a view closes or aborts the whole group.
   *
   * When a retry without a party is safe (docs/design.md, "Retrying without a named party"): only
   * without parties named with certainty — `peers` of a `CheatingDetectedError`, never its
   * `suspects` — or without parties that failed before any value that depends on the inputs was
   * opened. Never for `thresholdSum`, with any `peers`: a party that stops is only a dropout to
   * the others, who may publish and complete without it and then sit out the retry, which
   * completes without them too — two sums over dealer sets a coalition can steer (review9 P1; its
   * dropout tolerance is its retry). The sums of the two runs differ by the excluded parties' inputs: an honest party
   * excluded after the first run revealed its sum to anyone (a last opener, a party that withheld
   * its opening) has its input revealed by the difference. A party named by a timeout may be an
   * honest one whose path from this party alone is cut (one that says it waits for another live
   * party is only a suspect, never named): leave a timed-out party out at most once per sum, or
   * retries could be steered to drop honest parties one by one (README, "What is not protected").
   * A view's round errors (timeouts, losses, notices) name only its members: a notice blaming a
   * left-out party is never confirmed in it.
   *
   * @param parties - members of this group to leave out (not this party).
   * @returns the view.
   * @throws {@link InvalidArgumentError} for an empty list, a non-member, or this party itself.
   * @example
   * try {
   *   return await secureSum(group, x);
   * } catch (err) {
   *   if (err instanceof CheatingDetectedError && err.peers.length > 0) return await secureSum(group.without(err.peers), x);
   *   throw err;
   * }
   */
  without(parties: readonly string[]): Group {
    if (!Array.isArray(parties) || parties.length === 0) throw new InvalidArgumentError('"parties" must be a non-empty array of party ids');
    const out = new Set<string>();
    for (const p of parties as unknown[]) {
      if (typeof p !== 'string' || !this.parties.includes(p)) throw new InvalidArgumentError(`"${String(p).slice(0, 64)}" is not a member of this group`);
      if (p === this.localId) throw new InvalidArgumentError('a party cannot leave itself out of a group view');
      out.add(p);
    }
    const members = this.parties.filter((p) => !out.has(p));
    const excluded = this.#root.parties.filter((p) => !members.includes(p));
    const label = `w${createHash('sha256').update(excluded.join('\n')).digest('hex').slice(0, 12)}`;
    const view = new Group(this.#init, { root: this.#root, members, label });
    view.#epoch = this.#epoch;
    return view;
  }

  /** Traffic per peer so far (wire bytes, including framing). */
  stats(): PeerStats[] {
    return this.peers.map((peer) => {
      const link = this.#mesh.links.get(peer)!;
      const s = link.stats;
      const probes = this.#mesh.probeCounts(peer);
      const messagesDropped = this.#mesh.mailboxes.get(peer)?.dropped ?? 0;
      return { peer, bytesSent: s.bytesSent, bytesReceived: s.bytesReceived, messagesSent: s.messagesSent, messagesReceived: s.messagesReceived, probesSent: probes.sent, probesReceived: probes.received, path: this.#mesh.pathOf(peer), retainedBytes: link.retainedBytes, messagesDropped };
    });
  }

  /** Largest message a peer may send. */
  get maxMessageBytes(): number {
    return this.#maxMessageBytes;
  }

  /** A peer's abort notice, after the group was formed. */
  #onAbortNotice(peer: string, notice: AbortNotice): void {
    // For a single receive: name what holds here now (gather judges it, probing if need be).
    const err = this.#mesh.explainAbort(peer, notice, (b) => this.#failedHere(b) || this.#mesh.confessed(b, notice.run));
    noticeOf.set(err, { peer, notice });
    const mailbox = this.#mailbox(peer);
    if (notice.run === undefined) {
      const first = mailbox.error === undefined;
      mailbox.fail(err, true);
      if (first) this.#onEvent?.({ type: 'peer-lost', peer, code: ErrorCode.PEER_ABORTED, graceful: true });
      return;
    }
    // One event per run, and for runs not running here (made up, or not started yet) at most
    // MAX_UNSTARTED_NOTICE_EVENTS outstanding per peer: one per notice let a peer make this party
    // emit (and log) an event for every run id it made up.
    if (!mailbox.failRun(notice.run, err) || !this.#noticeEventDue(peer, notice.run)) return;
    this.#onEvent?.({ type: 'peer-lost', peer, code: ErrorCode.PEER_ABORTED, graceful: true });
  }

  /** Whether a run notice of `peer` for `run` still gets its event (see #onAbortNotice). */
  #noticeEventDue(peer: string, run: string): boolean {
    if (this.#runs.running(run)) return true;
    let set = this.#noticedUnstarted.get(peer);
    if (set === undefined) this.#noticedUnstarted.set(peer, (set = new Set()));
    if (set.size >= MAX_UNSTARTED_NOTICE_EVENTS) return false;
    set.add(run);
    return true;
  }

  /**
   * @internal A run failed at this party: tell every peer now (one abort notice per run, with the
   * error code and whom this party blames), so that none of them waits for its deadline or blames
   * this party for going silent. The group stays open (a later run may exclude a culprit).
   */
  _runFailed(runId: string, err: unknown): void {
    if (this.#root !== this) return this.#root._runFailed(runId, err);
    if (this.#closing || this.#failedRuns.has(runId)) return;
    rememberBounded(this.#failedRuns, runId);
    // What this party posted before (the turn's batch of small round messages) leaves first, as in
    // abort(): sent after the notice, a message the peer needed only failed its round instead.
    for (const p of [...this.#outbox.keys()]) this.#flush(p);
    void this.#mesh.sendAbort(abortNoticeFor(err, this.localId, runId)).catch(() => undefined);
  }

  /**
   * @internal Run `runId` ended at this party, done or failed (its last step, after any abort
   * notice): every peer's mailbox releases what it holds for the run and drops the run's later
   * messages (see `Mailbox.closeRun`), so a long-lived group holds nothing per finished run beyond
   * a bounded record of the latest ones.
   */
  _runEnded(runId: string): void {
    if (this.#root !== this) return this.#root._runEnded(runId);
    for (const mailbox of this.#mesh.mailboxes.values()) mailbox.closeRun(runId);
    this.#runs.ended(runId);
    for (const set of this.#noticedUnstarted.values()) set.delete(runId);
  }

  /**
   * End the caller's own exchange `run`: the rounds named `run` or `run/<anything>` that it sent
   * and gathered with {@link Group.sendToAll}, {@link Group.send}, {@link Group.gather} and
   * {@link Group.receive}. Every peer's mailbox releases what it holds for them — messages not
   * taken, the record of which rounds each peer sent (kept so that a second message for a round
   * is refused) — any receive of them still pending ends with `ABORTED`, and their later messages
   * are dropped. The protocols do this for their own runs; a long-lived group that runs its own
   * rounds should too, naming each exchange apart ({@link Group.nextRunId} gives names every
   * party agrees on), or the record of those rounds grows with every exchange.
   *
   * Without `error` only this party's bookkeeping changes: nothing is sent. Peers still sending
   * for `run` lose those messages here. The latest 4096 ended runs are remembered (older ones are
   * forgotten); do not reuse a name once ended.
   *
   * With `error` (the exchange failed here: a round, an `echoBroadcast` or
   * `commitThenOpen` of it threw), every peer is first told, as the protocols tell it for
   * their runs: an abort notice for `run` with the error's code and whom it names (never its
   * message text). Their waits for this party's messages of the run end at once with
   * `PEER_ABORTED`, judged as the README's blame rules say — instead of running into their
   * deadline, finding this party alive and waiting for nobody, and naming it (`TIMEOUT`): an
   * honest party stopped by a cheater was named that way (review17 R17-2). Once per run.
   *
   * @param run - the exchange's name: 1 to 128 printable ASCII characters, no spaces, no `/`.
   * @param error - why the exchange failed here, if it did (typically the error a round threw).
   * @throws {@link InvalidArgumentError} for a malformed name.
   * @example
   * const run = group.nextRunId('census'); // "census.7" at every party
   * try {
   *   await group.sendToAll(`${run}/counts`, { n: myCount });
   *   const counts = await echoBroadcast(group, `${run}/total`, sum(await group.gather(`${run}/counts`)));
   *   group.endRun(run);
   * } catch (err) {
   *   group.endRun(run, err); // the peers learn why, and do not name this party for its silence
   *   throw err;
   * }
   */
  endRun(run: string, error?: unknown): void {
    checkRound(run);
    if (run.includes('/')) throw new InvalidArgumentError('"run" is the part of a round name before its first "/" and cannot contain one');
    if (error !== undefined) this._runFailed(run, error);
    this._runEnded(run);
  }

  /**
   * Stop: tell every connected peer why (an authenticated abort notice carrying the error code and
   * whom this party blames — never a message text, which may mention data), then
   * {@link Group.close}. Each peer's pending and later receives from this party fail with
   * `PEER_ABORTED` at once instead of at their deadline. Idempotent with close.
   *
   * @param reason - the error that stopped this party, or its code.
   */
  async abort(reason: CouplerError | string): Promise<void> {
    if (this.#root !== this) return this.#root.abort(reason);
    if (this.#closing) return;
    const code = typeof reason === 'string' ? reason : reason?.code;
    if (typeof code === 'string' && /^COUPLER_ERR_[A-Z0-9_]{1,48}$/.test(code)) {
      this.#closing = true;
      for (const p of [...this.#outbox.keys()]) this.#flush(p);
      await this.#mesh.sendAbort(typeof reason === 'string' ? { code, blame: [] } : abortNoticeFor(reason, this.localId));
      this.#closing = false;
    }
    await this.close();
  }

  /**
   * @internal A protocol run refused this party's own input (nothing was sent): remembered until
   * a later run starts cleanly, so that closing the group then tells the peers why.
   */
  _noteLocalFailure(code: string | undefined): void {
    if (this.#root !== this) return this.#root._noteLocalFailure(code);
    this.#localFailure = code;
  }

  /**
   * Close every channel cleanly (queued messages are flushed first; idempotent). If this party's
   * last protocol run failed on its own input, each peer first gets an abort notice with the error
   * code, and reports `PEER_ABORTED` instead of a lost peer.
   */
  async close(): Promise<void> {
    if (this.#root !== this) return this.#root.close();
    if (this.#closing) return;
    this.#closing = true;
    for (const p of [...this.#outbox.keys()]) this.#flush(p);
    const code = this.#localFailure;
    if (code !== undefined) await this.#mesh.sendAbort({ code, blame: [] });
    this.#mesh.shutdown();
    for (const mb of this.#mesh.mailboxes.values()) mb.fail(new GroupError(ErrorCode.CHANNEL_CLOSED, 'the group is closed'));
    await Promise.all([...this.#mesh.channels.values()].map((ch) => ch.close()));
  }

  /**
   * @internal Send raw bytes as one message to a peer's channel, bypassing the encoder: for tests
   * that play a hostile roster peer (malformed or oversized messages). Nothing a peer could not
   * send anyway; it only saves a test from re-implementing the handshake.
   */
  async _sendRaw(peer: string, bytes: Uint8Array): Promise<void> {
    this.#peerChannel(peer);
    await this.#mesh.links.get(peer)!.send(bytes);
  }

  /**
   * @internal The id of the link to `peer` (its first channel's transcript, which the peer holds
   * too): for tests that play a hostile roster peer speaking the link protocol (`coupler resume`).
   */
  _linkId(peer: string): Uint8Array | undefined {
    const id = this.#mesh.links.get(peer)?.id;
    return id === undefined ? undefined : Uint8Array.from(id);
  }

  /** @internal drop a misbehaving peer. */
  _dropPeer(peer: string, error: CouplerError): void {
    this.#mesh.drop(peer, error);
  }

  /**
   * @internal `work`, during which this party's probe answers say it waits for `parties` (see
   * `Mesh.waitingFor`): for a wait that is on no peer's round message — the relayed opening waits
   * for the relay, whose answer needs every member's upload. A party held up that way answered
   * "waiting for nobody" and the parties ahead named it (review8 R8-7).
   */
  _waitingOn<T>(parties: readonly string[], work: Promise<T>): Promise<T> {
    return this.#mesh.waitingWhile(parties.filter((p) => p !== this.localId && this.#root.peers.includes(p)), work);
  }

  /** @internal whether close() was called. */
  get _closing(): boolean {
    return this.#root.#closing;
  }
}

/** @internal what a Group is constructed from (see joinGroup). */
interface GroupInit {
  readonly mesh: Mesh;
  readonly localId: string;
  readonly sessionId: string;
  readonly roster: Roster;
  readonly identity: Identity;
  readonly roundTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly onEvent: ((e: GroupEvent) => void) | undefined;
  /** The run window the mesh's mailboxes use (a fresh one, gating nothing of the mesh, if not given). */
  readonly runs?: RunWindow | undefined;
  readonly onProgress?: ((p: RunProgress) => void) | undefined;
  readonly progressIntervalMs?: number;
}

/**
 * The other parties' roster addresses (`address` of an entry: `coupler roster build … 3=<key>@host:port`),
 * each labelled with its entry's id and `source` `"roster"`, as a discovery the dial loop serves
 * first (see `Mesh`). Undefined when the roster has none.
 * @throws {@link InvalidArgumentError} naming the entry whose address is not `host:port` / `[v6]:port`
 *   or not a unicast address.
 */
function rosterDiscovery(roster: Roster, localId: string): Discovery | undefined {
  const found: PeerAddress[] = [];
  for (const e of roster.entries()) {
    if (e.id === localId || e.address === undefined) continue;
    found.push({ ...parsePeerEntry(e.address, found.length, `roster entry "${e.id}" address`, ROSTER_SOURCE), partyHint: e.id });
  }
  return found.length === 0 ? undefined : { kind: 'roster', discover: () => Promise.resolve([...found]) };
}

function normalizeDiscovery(d: JoinGroupOptions['discovery']): Discovery[] {
  if (d === undefined) return [];
  const list = Array.isArray(d) ? (d as Discovery[]) : [d as Discovery];
  for (const item of list) {
    if (typeof item !== 'object' || item === null || typeof item.discover !== 'function') {
      throw new InvalidArgumentError(`"discovery" must be a Discovery (an object with discover()), got ${describeType(item)}`);
    }
  }
  return list;
}

/**
 * Form the mesh of one task: listen, dial discovered addresses, authenticate every peer against
 * the roster, and resolve once there is exactly one channel per roster peer.
 *
 * @returns the {@link Group}.
 * @throws {@link TimeoutError} (`peers` = the parties still missing) when the deadline passes;
 *   {@link AbortedError}; a {@link GroupError} (`PEER_ABORTED`, `PEER_LOST`) when a peer gave up
 *   first; a `RelayError` when the relay refuses in a way retrying cannot fix;
 *   {@link InvalidArgumentError} for bad options.
 * @example
 * const group = await joinGroup({
 *   identity, roster, sessionId: `task-${taskId}-${nonce}`,
 *   discovery: dnsDiscovery({ names: ['tasks.sum'], port: 8888 }),
 *   listen: { host: '0.0.0.0', port: 8888 },
 * });
 */
export async function joinGroup(options: JoinGroupOptions): Promise<Group> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${describeType(options)}`);
  const identity = assertIdentity(options.identity);
  if (!(options.roster instanceof Roster)) throw new InvalidArgumentError(`"roster" must be a Roster, got ${describeType(options.roster)}`);
  const roster = options.roster;
  const localId = options.localId ?? identity.id;
  if (!isValidPartyId(localId)) throw new InvalidArgumentError('"localId" (or identity.id) must be a valid party id');
  const given = normalizeDiscovery(options.discovery);
  const fromRoster = rosterDiscovery(roster, localId);
  const discoveries = fromRoster === undefined ? given : [...given, fromRoster];
  const timeoutMs = positiveInt(options.timeoutMs, DEFAULT_JOIN_TIMEOUT_MS, 'timeoutMs', MAX_TIMER_MS);
  const roundTimeoutMs = positiveInt(options.roundTimeoutMs, DEFAULT_ROUND_TIMEOUT_MS, 'roundTimeoutMs', MAX_TIMER_MS);
  const backoffInitial = positiveInt(options.dialBackoff?.initialMs, DEFAULT_DIAL_INITIAL_BACKOFF_MS, 'dialBackoff.initialMs', MAX_TIMER_MS);
  const backoffMax = positiveInt(options.dialBackoff?.maxMs, DEFAULT_DIAL_MAX_BACKOFF_MS, 'dialBackoff.maxMs', MAX_TIMER_MS);
  const interval = positiveInt(options.discoveryIntervalMs, DEFAULT_DISCOVERY_INTERVAL_MS, 'discoveryIntervalMs', MAX_TIMER_MS);
  // Undelivered bytes: a share per peer of a total across peers (see JoinGroupOptions.mailbox).
  const peerCount = Math.max(1, roster.size - 1);
  const perPeerGiven = options.mailbox?.maxPendingBytes === undefined ? undefined : positiveInt(options.mailbox.maxPendingBytes, 0, 'mailbox.maxPendingBytes');
  const totalGiven = options.mailbox?.maxTotalPendingBytes === undefined ? undefined : positiveInt(options.mailbox.maxTotalPendingBytes, 0, 'mailbox.maxTotalPendingBytes');
  const total = totalGiven ?? (perPeerGiven === undefined ? Math.max(DEFAULT_MAX_TOTAL_PENDING_BYTES, MIN_DEFAULT_PENDING_SHARE_BYTES * peerCount) : undefined);
  const share = total === undefined ? perPeerGiven! : Math.min(perPeerGiven ?? Infinity, Math.floor(total / peerCount));
  if (share < 1) throw new InvalidArgumentError('"mailbox.maxTotalPendingBytes" must leave each peer at least one byte');
  const runs = new RunWindow(positiveInt(options.mailbox?.maxRunsAhead, DEFAULT_MAX_RUNS_AHEAD, 'mailbox.maxRunsAhead'));
  const mailboxLimits = {
    maxPendingBytes: share,
    maxPendingRounds: positiveInt(options.mailbox?.maxPendingRounds, DEFAULT_MAX_PENDING_ROUNDS_PER_PEER, 'mailbox.maxPendingRounds'),
    maxPendingHeapBytes: positiveInt(
      options.mailbox?.maxPendingHeapBytes,
      Math.max(DEFAULT_MAX_PENDING_HEAP_BYTES_PER_PEER, 16 * roster.size * roster.size * DECODED_HEAP_BYTES.bytes),
      'mailbox.maxPendingHeapBytes',
    ),
  };
  const { transport, relayUrl } = checkTransport(options.transport, options.relayUrl);
  const autoFallbackMs = positiveInt(options.autoFallbackMs, 2_000, 'autoFallbackMs', MAX_TIMER_MS);
  const progressIntervalMs = positiveInt(options.progressIntervalMs, 1000, 'progressIntervalMs', MAX_TIMER_MS);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InvalidArgumentError('"onProgress" must be a function');
  if (options.handshakeTimeoutMs !== undefined) positiveInt(options.handshakeTimeoutMs, 0, 'handshakeTimeoutMs', MAX_TIMER_MS);
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const emit = (e: GroupEvent): void => {
    try {
      options.onEvent?.(e);
    } catch {
      /* a progress callback must not break formation */
    }
  };
  const listenCfg = options.listen === undefined ? (transport === 'relay' ? false : { host: '0.0.0.0', port: 8888 }) : options.listen;
  const mesh = new Mesh({
    localId,
    roster,
    channelOptions: {
      identity,
      roster,
      sessionId: options.sessionId,
      localId,
      suite: options.suite ?? 'native',
      ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
      ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
      ...(options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes }),
      ...(options.sendHighWaterBytes === undefined ? {} : { sendHighWaterBytes: options.sendHighWaterBytes }),
      ...(options.receiveHighWaterBytes === undefined ? {} : { receiveHighWaterBytes: options.receiveHighWaterBytes }),
    },
    discoveries,
    listen: listenCfg === false ? false : { host: listenCfg.host ?? '0.0.0.0', port: listenCfg.port ?? 8888 },
    transport,
    relayUrl,
    autoFallbackMs,
    timeoutMs,
    resumeTimeoutMs: roundTimeoutMs,
    backoffInitialMs: backoffInitial,
    backoffMaxMs: backoffMax,
    discoveryIntervalMs: interval,
    mailboxLimits,
    runs,
    // Values one round message may hold: the default, or more where lists grow with n² (dealer
    // reports of thresholdSum: n reports of up to n dealers each). Bounds decoding memory.
    inbound: { maxBytes: maxMessageBytes + 1024, maxValues: Math.max(DEFAULT_MAX_VALUES, 16 * roster.size * roster.size), roster },
    signal: options.signal,
    emit,
  });
  await mesh.form();
  const group = new Group({
    mesh,
    localId,
    sessionId: options.sessionId,
    roster,
    identity,
    roundTimeoutMs,
    maxMessageBytes,
    onEvent: options.onEvent,
    runs,
    onProgress: options.onProgress,
    progressIntervalMs,
  });
  // The caller's signal keeps meaning "stop" after joining: abort the group, telling the peers.
  options.signal?.addEventListener('abort', () => void group.abort(new AbortedError('stopped by the caller')), { once: true });
  // The formation's epoch, bound into every signed statement (group/epoch.ts).
  // A party still forming gives up at its own join deadline and says whom it waited for; give its
  // notice time to arrive before this (complete) party names it for being late.
  await joinEpoch(group, { remainingMs: timeoutMs - mesh.elapsedMs + joinGraceMs(timeoutMs), signal: options.signal });
  emit({ type: 'ready', peers: mesh.peers.length, elapsedMs: mesh.elapsedMs });
  return group;
}
