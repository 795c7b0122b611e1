/**
 * The group: the full mesh of authenticated channels among the roster parties of one task, and
 * round-based messaging over it.
 *
 * Formation ({@link joinGroup}): listen, then repeatedly take a snapshot of the discovered
 * addresses and dial each one not yet accounted for, with exponential backoff per address while
 * peers are still starting. Every address is only a hint: whoever answers must prove a roster key
 * in the handshake. Of each pair, the party whose id sorts first dials and the other accepts
 * (a deterministic tie-break: both sides can dial blindly, and exactly one channel per pair
 * survives). An impostor, a stale container from another session or a dead address fails its
 * handshake, is backed off and never blocks the real peer. The mesh is complete when there is one
 * channel per roster peer; then the listener closes.
 *
 * Messaging: every message names a round; each peer may send one message per round. `gather`
 * waits for one message per peer under a deadline and names the peers that are missing.
 *
 * @module
 */
import { setMaxListeners } from 'node:events';
import { AbortedError, CouplerError, ErrorCode, GroupError, InvalidArgumentError, TimeoutError, describeType } from '../errors.js';
import { assertIdentity, isValidPartyId, type Identity } from '../identity/identity.js';
import { Roster, compareIds } from '../identity/roster.js';
import { channelPath, checkTransport, relayMesh, type ChannelPath, type Transport } from '../relay/mesh.js';
import type { Discovery, PeerAddress } from '../discovery/types.js';
import { connectChannel, listenChannels, type ChannelListener } from '../channel/transport.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type SecureChannel, type ChannelLimits } from '../channel/channel.js';
import type { SuiteName } from '../channel/suite.js';
import { refuseReasonOf, type RefuseReason } from '../channel/handshake.js';
import { DECODED_HEAP_BYTES, DEFAULT_MAX_VALUES, decodeMessageCost, encodeBytesList, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectArray, expectBytes, expectRecord, expectString } from '../wire/shape.js';
import { Mailbox } from './mailbox.js';

/** Default deadline to form the mesh: 120 s (containers on vantage6 start minutes apart; raise it there). */
export const DEFAULT_JOIN_TIMEOUT_MS = 120_000;
/** Default deadline of one round: 60 s. */
export const DEFAULT_ROUND_TIMEOUT_MS = 60_000;
/** Default first retry delay for an address that failed: 100 ms. */
export const DEFAULT_DIAL_INITIAL_BACKOFF_MS = 100;
/** Default longest retry delay for an address: 5 s. */
export const DEFAULT_DIAL_MAX_BACKOFF_MS = 5_000;
/** Default time between discovery snapshots while the mesh is incomplete: 250 ms. */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 250;
/** Default cap of undelivered decoded bytes (message bytes plus estimated heap) per peer: 512 MiB. */
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
/** Round names: 1 to 128 printable ASCII characters. */
export const ROUND_PATTERN: RegExp = /^[\x21-\x7e]{1,128}$/;

/**
 * The reserved "round" of an abort message (its space keeps it outside {@link ROUND_PATTERN}, so
 * no user round can collide with it). Payload: `{ code }`, a `COUPLER_ERR_*` code and nothing else.
 */
const ABORT_ROUND = 'coupler abort';
/**
 * The reserved "round" of a batch: several small round messages to one peer, sent in the same
 * event-loop turn, travel as one channel message `{r: BATCH_ROUND, p: [message bytes, ...]}`
 * (one AEAD seal, one frame). At small L a protocol's cost is per message, not per byte: the
 * shares and the shape statement of a secure sum, say, go out together. Each item is an encoded
 * round message, decoded and checked like any other; a batch inside a batch is refused.
 */
const BATCH_ROUND = 'coupler batch';
/** Messages up to this size (encoded) wait for company until the end of the event-loop turn. */
const BATCH_ITEM_MAX_BYTES = 16 * 1024;
/** Most messages in one batch. */
const BATCH_MAX_ITEMS = 64;
const ABORT_CODE_PATTERN = /^COUPLER_ERR_[A-Z0-9_]{1,48}$/;
/** How long {@link Group.abort} waits for its abort messages to leave before closing, ms. */
const ABORT_SEND_TIMEOUT_MS = 1_000;

/** Progress events of {@link joinGroup}, for logs and progress displays (never contain secrets). */
export type GroupEvent =
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
      /** A channel ended. */
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
  /** Where peers may be: one discovery method or several (their answers are merged). */
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
  /** Deadline to form the full mesh. Default {@link DEFAULT_JOIN_TIMEOUT_MS}. */
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
  /** Caps of undelivered messages per peer. */
  readonly mailbox?: {
    /**
     * Undelivered decoded bytes per peer (message bytes plus the estimated heap of their values)
     * before it is dropped (default {@link DEFAULT_MAX_PENDING_BYTES_PER_PEER}).
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
  /** Whether the channel runs direct or through the relay. */
  readonly path: ChannelPath;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`"${name}" must be a positive integer`);
  return value;
}

function checkRound(round: unknown): string {
  if (typeof round !== 'string' || !ROUND_PATTERN.test(round)) {
    throw new InvalidArgumentError('"round" must be 1 to 128 printable ASCII characters without spaces');
  }
  return round;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

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

  readonly #channels: Map<string, SecureChannel>;
  readonly #mailboxes: Map<string, Mailbox>;
  readonly #roundTimeoutMs: number;
  readonly #maxMessageBytes: number;
  #localFailure: string | undefined;
  readonly #onEvent: ((e: GroupEvent) => void) | undefined;
  readonly #onProgress: ((p: RunProgress) => void) | undefined;
  readonly #progressIntervalMs: number;
  #closing = false;
  #runCounter = 0;
  /** Small messages waiting for the end of this event-loop turn, per peer (see BATCH_ROUND). */
  readonly #outbox = new Map<string, { items: Uint8Array[]; waiters: { resolve: () => void; reject: (e: unknown) => void }[] }>();
  #flushScheduled = false;

  /** @internal use {@link joinGroup}. */
  constructor(init: {
    localId: string;
    sessionId: string;
    roster: Roster;
    identity: Identity;
    channels: Map<string, SecureChannel>;
    mailboxes: Map<string, Mailbox>;
    roundTimeoutMs: number;
    maxMessageBytes: number;
    onEvent: ((e: GroupEvent) => void) | undefined;
    onProgress?: ((p: RunProgress) => void) | undefined;
    progressIntervalMs?: number;
  }) {
    this.localId = init.localId;
    this.sessionId = init.sessionId;
    this.roster = init.roster;
    this.identity = init.identity;
    this.parties = init.roster.ids;
    this.peers = init.roster.ids.filter((id) => id !== init.localId);
    this.#channels = init.channels;
    this.#mailboxes = init.mailboxes;
    this.#roundTimeoutMs = init.roundTimeoutMs;
    this.#maxMessageBytes = init.maxMessageBytes;
    this.#onEvent = init.onEvent;
    this.#onProgress = init.onProgress;
    this.#progressIntervalMs = init.progressIntervalMs ?? 1000;
  }

  /** @internal the group's progress hook and interval (read by the protocols). */
  get _progress(): { readonly hook: ((p: RunProgress) => void) | undefined; readonly intervalMs: number } {
    return { hook: this.#onProgress, intervalMs: this.#progressIntervalMs };
  }

  /** Default deadline of a round, ms. */
  get roundTimeoutMs(): number {
    return this.#roundTimeoutMs;
  }

  #peerChannel(peer: string): SecureChannel {
    const ch = this.#channels.get(peer);
    if (ch !== undefined) return ch;
    const mailbox = typeof peer === 'string' && peer !== this.localId ? this.#mailboxes.get(peer) : undefined;
    // A roster peer without a channel is a lost peer, never an argument error.
    if (mailbox !== undefined) throw mailbox.error ?? new GroupError(ErrorCode.PEER_LOST, `no channel to peer "${peer}"`, { peer });
    throw new InvalidArgumentError(`"${String(peer).slice(0, 64)}" is not a peer of this group`);
  }

  /** Peers whose channel is gone (crashed, closed, misbehaved). */
  get lostPeers(): string[] {
    return this.peers.filter((p) => this.#mailboxes.get(p)!.error !== undefined);
  }

  /**
   * Send `payload` for `round` to one peer.
   * @throws {@link GroupError} `PEER_LOST` if the peer is gone; {@link InvalidArgumentError}.
   */
  async send(peer: string, round: string, payload: PlainData): Promise<void> {
    checkRound(round);
    const ch = this.#peerChannel(peer);
    const lost = this.#mailboxes.get(peer)!.error;
    if (lost) throw lost;
    await this.#post(peer, ch, encodeMessage({ r: round, p: payload }));
  }

  /**
   * Send one encoded round message: small ones join the peer's batch of this event-loop turn,
   * larger ones go at once (after the pending batch, so the order per peer is kept).
   */
  #post(peer: string, ch: SecureChannel, bytes: Uint8Array): Promise<void> {
    if (bytes.length > BATCH_ITEM_MAX_BYTES) {
      this.#flush(peer);
      return ch.send(bytes).catch((err: unknown) => {
        throw new GroupError(ErrorCode.PEER_LOST, `cannot send to "${peer}": channel closed`, { peer, cause: err });
      });
    }
    let box = this.#outbox.get(peer);
    if (box === undefined) {
      box = { items: [], waiters: [] };
      this.#outbox.set(peer, box);
    }
    const b = box;
    const done = new Promise<void>((resolve, reject) => b.waiters.push({ resolve, reject }));
    b.items.push(bytes);
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

  /** Send the peer's pending batch now (one message, or the single item as it is). */
  #flush(peer: string): void {
    const box = this.#outbox.get(peer);
    if (box === undefined) return;
    this.#outbox.delete(peer);
    const ch = this.#channels.get(peer);
    const lost = this.#mailboxes.get(peer)?.error;
    const fail = (err: unknown): void => {
      const e = lost ?? new GroupError(ErrorCode.PEER_LOST, `cannot send to "${peer}": channel closed`, { peer, cause: err });
      for (const w of box.waiters) w.reject(e);
    };
    if (ch === undefined || lost !== undefined) return fail(undefined);
    const bytes = box.items.length === 1 ? box.items[0]! : encodeBytesList(BATCH_ROUND, box.items);
    ch.send(bytes).then(() => {
      for (const w of box.waiters) w.resolve();
    }, fail);
  }

  /**
   * Send the same payload for `round` to every peer (or to `to`). Encodes once.
   * Not a broadcast channel: a dishonest sender could send different values; see {@link echoBroadcast}.
   */
  async sendToAll(round: string, payload: PlainData, to: readonly string[] = this.peers): Promise<void> {
    checkRound(round);
    const bytes = encodeMessage({ r: round, p: payload });
    await Promise.all(
      to.map(async (peer) => {
        const ch = this.#peerChannel(peer);
        const lost = this.#mailboxes.get(peer)!.error;
        if (lost) throw lost;
        await this.#post(peer, ch, bytes);
      }),
    );
  }

  /**
   * The message of `round` from `peer`.
   * @throws {@link TimeoutError} naming the peer; {@link GroupError} `PEER_LOST`/`PROTOCOL_VIOLATION`.
   */
  receive(peer: string, round: string, options: RoundOptions = {}): Promise<PlainData> {
    checkRound(round);
    this.#peerChannel(peer);
    return this.#mailboxes.get(peer)!.take(round, options.timeoutMs ?? this.#roundTimeoutMs, options.signal);
  }

  /**
   * One message of `round` from each of `from` (default: every peer), under one deadline.
   * @returns messages by peer id.
   * @throws {@link TimeoutError} whose `peers` lists everyone still missing at the deadline;
   *   {@link GroupError} `PEER_LOST` naming a peer that left (as soon as it is known).
   */
  async gather(round: string, options: RoundOptions & { from?: readonly string[] } = {}): Promise<Map<string, PlainData>> {
    return this.#inRound(round, options, async (from, timeoutMs, wait, onTimer) => {
      const results = new Map<string, PlainData>();
      const missing = new Set(from);
      const all = Promise.all(
        from.map(async (peer) => {
          try {
            results.set(peer, await wait(peer));
          } catch (err) {
            // A peer that closed its channel on purpose (it gave up first, e.g. on the same
            // missing party) is not the only one this round lacks: name the others still missing
            // too, so the party at fault is named whoever gives up first. (A crash, a channel
            // error, names the crashed peer alone.)
            const others = [...missing].filter((p) => p !== peer && !results.has(p));
            if (err instanceof GroupError && err.code === ErrorCode.PEER_LOST && err.cause === undefined && others.length > 0) {
              throw new GroupError(err.code, `${err.message}; round "${round}" still had no message from ${others.map((o) => `"${o}"`).join(', ')}`, {
                peer,
                peers: [peer, ...others],
                cause: err,
              });
            }
            throw err;
          }
          missing.delete(peer);
        }),
      );
      const deadline = new Promise<never>((_, reject) => {
        onTimer(() => {
          const names = [...missing];
          reject(new TimeoutError(`round "${round}": no message from ${names.map((n) => `"${n}"`).join(', ')} within ${timeoutMs} ms`, { peers: names }));
        });
      });
      await Promise.race([all, deadline]);
      return new Map([...from].map((p) => [p, results.get(p)!]));
    });
  }

  /**
   * Like {@link Group.gather}, but tolerates peers that are lost or silent: waits until every peer
   * in `from` has answered or is lost, or the deadline passes, and returns whoever answered.
   *
   * @throws {@link TimeoutError} naming the missing peers when fewer than `minimum` answered.
   */
  async gatherSome(round: string, minimum: number, options: RoundOptions & { from?: readonly string[] } = {}): Promise<Map<string, PlainData>> {
    return this.#inRound(round, options, async (from, _timeoutMs, wait, onTimer) => {
      const results = new Map<string, PlainData>();
      const all = Promise.all(
        from.map(async (peer) => {
          try {
            results.set(peer, await wait(peer));
          } catch {
            /* lost or cancelled: not among those who answered */
          }
        }),
      );
      await Promise.race([all, new Promise<void>((resolve) => onTimer(resolve))]);
      if (results.size < minimum) {
        const missing = from.filter((p) => !results.has(p));
        throw new TimeoutError(`round "${round}": only ${results.size} of the ${minimum} needed answers; missing ${missing.map((m) => `"${m}"`).join(', ')}`, {
          peers: missing,
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
    const timeoutMs = options.timeoutMs ?? this.#roundTimeoutMs;
    const signal = options.signal;
    if (signal?.aborted) throw new AbortedError();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const work = body(from, timeoutMs, (peer) => this.#mailboxes.get(peer)!.wait(round), (fire) => {
        timer = setTimeout(fire, timeoutMs);
      });
      if (signal === undefined) return await work;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(new AbortedError());
        signal.addEventListener('abort', onAbort, { once: true });
      });
      return await Promise.race([work, aborted]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
      for (const p of from) this.#mailboxes.get(p)!.cancel(round);
    }
  }

  /**
   * A fresh run label for `protocol` (`<protocol>.<counter>`). Every party that runs the same
   * sequence of protocols in a group gets the same labels, so round names never repeat.
   */
  nextRunId(protocol: string): string {
    this.#runCounter++;
    return `${protocol}.${this.#runCounter}`;
  }

  /** Traffic per peer so far (wire bytes, including framing). */
  stats(): PeerStats[] {
    return this.peers.map((peer) => {
      const s = this.#channels.get(peer)!.stats;
      const path = channelPath(this.#channels.get(peer)!);
      return { peer, bytesSent: s.bytesSent, bytesReceived: s.bytesReceived, messagesSent: s.messagesSent, messagesReceived: s.messagesReceived, path };
    });
  }

  /** Largest message a peer may send. */
  get maxMessageBytes(): number {
    return this.#maxMessageBytes;
  }

  /**
   * Stop: tell every connected peer why (an authenticated abort message carrying only the error
   * code — never a message text, which may mention data), then {@link Group.close}. Each peer's
   * pending and later receives from this party fail with `PEER_ABORTED` naming it and its code,
   * at once instead of at their deadline. Idempotent with close.
   *
   * @param reason - the error that stopped this party, or its code.
   */
  async abort(reason: CouplerError | string): Promise<void> {
    if (this.#closing) return;
    const code = typeof reason === 'string' ? reason : reason?.code;
    if (typeof code === 'string' && ABORT_CODE_PATTERN.test(code)) this.#localFailure = code;
    await this.close();
  }

  /**
   * @internal A protocol run refused this party's own input (nothing was sent): remembered until
   * a later run starts cleanly, so that closing the group then tells the peers why.
   */
  _noteLocalFailure(code: string | undefined): void {
    this.#localFailure = code;
  }

  /**
   * Close every channel cleanly (queued messages are flushed first; idempotent). If this party's last protocol run failed on
   * its own input, or {@link Group.abort} was called, each peer first gets an abort message with
   * the error code, and reports `PEER_ABORTED` instead of a lost peer.
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const p of [...this.#outbox.keys()]) this.#flush(p);
    const code = this.#localFailure;
    if (code !== undefined) {
      const bytes = encodeMessage({ r: ABORT_ROUND, p: { code } });
      const live = this.peers.filter((p) => this.#mailboxes.get(p)!.error === undefined && this.#channels.has(p));
      const sends = Promise.all(live.map((p) => this.#channels.get(p)!.send(bytes).catch(() => undefined)));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([sends, new Promise((r) => (timer = setTimeout(r, ABORT_SEND_TIMEOUT_MS)))]);
      clearTimeout(timer);
    }
    for (const mb of this.#mailboxes.values()) mb.fail(new GroupError(ErrorCode.CHANNEL_CLOSED, 'the group is closed'));
    await Promise.all([...this.#channels.values()].map((ch) => ch.close()));
  }

  /**
   * @internal Send raw bytes as one message to a peer's channel, bypassing the encoder: for tests
   * that play a hostile roster peer (malformed or oversized messages). Nothing a peer could not
   * send anyway; it only saves a test from re-implementing the handshake.
   */
  async _sendRaw(peer: string, bytes: Uint8Array): Promise<void> {
    await this.#peerChannel(peer).send(bytes);
  }

  /** @internal drop a misbehaving peer. */
  _dropPeer(peer: string, error: CouplerError): void {
    this.#mailboxes.get(peer)?.fail(error);
    this.#channels.get(peer)?.destroy(error);
    this.#onEvent?.({ type: 'peer-lost', peer, code: error.code });
  }

  /** @internal whether close() was called. */
  get _closing(): boolean {
    return this.#closing;
  }
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

const addressKey = (a: PeerAddress): string => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;

/**
 * Form the mesh of one task: listen, dial discovered addresses, authenticate every peer against
 * the roster, and resolve once there is exactly one channel per roster peer.
 *
 * @returns the {@link Group}.
 * @throws {@link TimeoutError} (`peers` = the parties still missing) when the deadline passes;
 *   {@link AbortedError}; {@link InvalidArgumentError} for bad options.
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
  const discoveries = normalizeDiscovery(options.discovery);
  const timeoutMs = positiveInt(options.timeoutMs, DEFAULT_JOIN_TIMEOUT_MS, 'timeoutMs');
  const roundTimeoutMs = positiveInt(options.roundTimeoutMs, DEFAULT_ROUND_TIMEOUT_MS, 'roundTimeoutMs');
  const backoffInitial = positiveInt(options.dialBackoff?.initialMs, DEFAULT_DIAL_INITIAL_BACKOFF_MS, 'dialBackoff.initialMs');
  const backoffMax = positiveInt(options.dialBackoff?.maxMs, DEFAULT_DIAL_MAX_BACKOFF_MS, 'dialBackoff.maxMs');
  const interval = positiveInt(options.discoveryIntervalMs, DEFAULT_DISCOVERY_INTERVAL_MS, 'discoveryIntervalMs');
  const mailboxLimits = {
    maxPendingBytes: positiveInt(options.mailbox?.maxPendingBytes, DEFAULT_MAX_PENDING_BYTES_PER_PEER, 'mailbox.maxPendingBytes'),
    maxPendingRounds: positiveInt(options.mailbox?.maxPendingRounds, DEFAULT_MAX_PENDING_ROUNDS_PER_PEER, 'mailbox.maxPendingRounds'),
    maxPendingHeapBytes: positiveInt(
      options.mailbox?.maxPendingHeapBytes,
      Math.max(DEFAULT_MAX_PENDING_HEAP_BYTES_PER_PEER, 16 * roster.size * roster.size * DECODED_HEAP_BYTES.bytes),
      'mailbox.maxPendingHeapBytes',
    ),
  };
  const peers = roster.ids.filter((id) => id !== localId);
  const { transport, relayUrl } = checkTransport(options.transport, options.relayUrl);
  const autoFallbackMs = positiveInt(options.autoFallbackMs, 2_000, 'autoFallbackMs');
  const progressIntervalMs = positiveInt(options.progressIntervalMs, 1000, 'progressIntervalMs');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new InvalidArgumentError('"onProgress" must be a function');
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const emit = (e: GroupEvent): void => {
    try {
      options.onEvent?.(e);
    } catch {
      /* a progress callback must not break formation */
    }
  };
  const channelOptions = {
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
  };

  const channels = new Map<string, SecureChannel>();
  const mailboxes = new Map<string, Mailbox>(peers.map((p) => [p, new Mailbox(p, mailboxLimits)]));
  const reserved = new Set<string>();
  const start = Date.now();
  let group: Group | undefined;
  let settle: (() => void) | undefined;
  const complete = new Promise<void>((r) => (settle = r));
  let failed: CouplerError | undefined;
  let leftEarly: GroupError | undefined;
  let meshComplete = false;

  const lower = (a: string, b: string): boolean => compareIds(a, b) < 0;
  const acceptPeer = (peer: string, stage: 'hello' | 'reply' | 'finish'): RefuseReason | undefined => {
    if (peer === localId) return 'self';
    if (!mailboxes.has(peer)) return 'unknown-peer';
    if (channels.has(peer)) return 'duplicate';
    // The party whose id sorts first dials; the other accepts.
    if (stage === 'reply') {
      if (!lower(localId, peer)) return 'order';
      if (reserved.has(peer)) return 'duplicate';
      reserved.add(peer);
    } else if (lower(localId, peer)) return 'order';
    return undefined;
  };

  // Values one round message may hold: the default, or more where lists grow with n² (dealer
  // reports of thresholdSum: n reports of up to n dealers each). Bounds decoding memory.
  const valueCap = Math.max(DEFAULT_MAX_VALUES, 16 * roster.size * roster.size);
  const register = (ch: SecureChannel): void => {
    reserved.delete(ch.peerId);
    if (channels.has(ch.peerId) || failed !== undefined) {
      ch.destroy();
      return;
    }
    channels.set(ch.peerId, ch);
    const mailbox = new Mailbox(ch.peerId, mailboxLimits);
    mailboxes.set(ch.peerId, mailbox);
    const maxBytes = maxMessageBytes + 1024;
    /** Handle one round message; a batch is unpacked here (never nested). */
    const deliver = (bytes: Uint8Array, inBatch: boolean): void => {
      // At most what the peer's mailbox has room for: refused before msgpackr builds anything.
      const { value, heapBytes } = decodeMessageCost(bytes, maxBytes, { peer: ch.peerId }, { maxValues: valueCap, maxHeapBytes: mailbox.heapRoom });
      const rec = expectRecord(value, { what: 'round message', peer: ch.peerId }, ['r', 'p']);
      if (rec.r === BATCH_ROUND && !inBatch) {
        const ctx = { what: 'batch', peer: ch.peerId };
        const items = expectArray(rec.p ?? null, 'p', ctx, BATCH_MAX_ITEMS);
        if (items.length < 2) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${ch.peerId}" sent a batch of fewer than two messages`, { peer: ch.peerId });
        for (const item of items) deliver(expectBytes(item, 'item', ctx, undefined, BATCH_ITEM_MAX_BYTES), true);
        return;
      }
      if (rec.r === ABORT_ROUND) {
        const ctx = { what: 'abort message', peer: ch.peerId };
        const code = expectString(expectRecord(rec.p ?? null, ctx, ['code']).code, 'code', ctx, 64, ABORT_CODE_PATTERN);
        const err = new GroupError(ErrorCode.PEER_ABORTED, `peer "${ch.peerId}" aborted the run (${code})`, { peer: ch.peerId });
        mailbox.fail(err);
        emit({ type: 'peer-lost', peer: ch.peerId, code: ErrorCode.PEER_ABORTED, graceful: true });
        if (group === undefined) {
          leftEarly ??= err;
          controller.abort();
        }
        return;
      }
      const round = expectString(rec.r, 'r', { what: 'round message', peer: ch.peerId }, 128, ROUND_PATTERN);
      if (!('p' in rec)) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${ch.peerId}" sent a round message without payload`, { peer: ch.peerId });
      const violation = mailbox.put(round, rec.p as PlainData, { bytes: bytes.length, heapBytes });
      if (violation) dropPeer(ch.peerId, violation);
    };
    ch.setMessageHandler((bytes) => {
      try {
        deliver(bytes, false);
      } catch (err) {
        dropPeer(
          ch.peerId,
          err instanceof CouplerError ? err : new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${ch.peerId}" sent a malformed message`, { peer: ch.peerId }),
        );
      }
    });
    ch.onClose((error) => {
      // While the mesh is still forming, a lost channel is forgotten so the peer can reconnect.
      // Once it is complete (even before joinGroup returns), a loss is a loss: the channel stays
      // in the map and the peer's mailbox fails, so sends and gathers report PEER_LOST. (Deleting
      // it then made the group start without the peer and a send raise "not a peer of this group".)
      if (group === undefined && !meshComplete && failed === undefined && channels.get(ch.peerId) === ch) {
        channels.delete(ch.peerId);
        emit({ type: 'peer-lost', peer: ch.peerId, code: error?.code ?? ErrorCode.PEER_LOST, graceful: error === undefined });
        if (error === undefined) {
          // An authenticated close frame: the peer closed its group on purpose (its algorithm
          // failed right after joining, say). It will not come back; waiting for it until the join
          // deadline would only delay the same failure.
          leftEarly ??= new GroupError(ErrorCode.PEER_LOST, `peer "${ch.peerId}" closed its channel before the group was complete`, { peer: ch.peerId });
          controller.abort();
        }
        // Otherwise lost (crash, network): forget it so the peer (restarted) can connect again.
        return;
      }
      if (group?._closing) return;
      // Joining failed and closed its own channels: nobody was lost.
      if (failed !== undefined) return;
      // Dropped for misbehaviour: dropPeer already failed the mailbox and reported the loss.
      if (mailbox.error !== undefined) return;
      const err = new GroupError(
        ErrorCode.PEER_LOST,
        error === undefined ? `peer "${ch.peerId}" closed its channel` : `lost peer "${ch.peerId}": ${error.message}`,
        { peer: ch.peerId, cause: error },
      );
      mailbox.fail(err);
      emit({ type: 'peer-lost', peer: ch.peerId, code: error?.code ?? ErrorCode.PEER_LOST, graceful: error === undefined });
    });
    emit({ type: 'connected', peer: ch.peerId, initiator: ch.initiator, connected: channels.size, expected: peers.length });
    if (channels.size === peers.length) settle?.();
  };

  const dropPeer = (peer: string, error: CouplerError): void => {
    if (group) group._dropPeer(peer, error);
    else {
      mailboxes.get(peer)?.fail(error);
      channels.get(peer)?.destroy(error);
    }
  };

  let listener: ChannelListener | undefined;
  const listenCfg = options.listen === undefined ? (transport === 'relay' ? false : { host: '0.0.0.0', port: 8888 }) : options.listen;
  if (listenCfg !== false) {
    listener = await listenChannels({
      ...channelOptions,
      host: listenCfg.host ?? '0.0.0.0',
      port: listenCfg.port ?? 8888,
      acceptPeer,
      onChannel: register,
      onHandshakeError: (err, remoteAddress) =>
        emit({
          type: 'refused',
          code: err.code,
          ...(remoteAddress === undefined ? {} : { remoteAddress }),
          ...(err.peer === undefined ? {} : { peer: err.peer }),
          ...(refuseReasonOf(err) === undefined ? {} : { reason: refuseReasonOf(err)! }),
        }),
    });
    emit({ type: 'listening', host: listener.host, port: listener.port });
  }

  const controller = new AbortController();
  // One listener per dial in flight (one per discovered address) plus the lookup and the sleep:
  // more than Node's default 10 once ten or so addresses are discovered.
  setMaxListeners(0, controller.signal);
  const onAbort = (): void => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const backoff = new Map<string, { next: number; delay: number }>();
  const inFlight = new Set<string>();
  const settledAddresses = new Map<string, string>();

  const dial = async (addr: PeerAddress): Promise<void> => {
    const key = addressKey(addr);
    inFlight.add(key);
    emit({ type: 'dialing', address: key });
    try {
      const ch = await connectChannel({ host: addr.host, port: addr.port }, { ...channelOptions, acceptPeer, signal: controller.signal });
      settledAddresses.set(key, ch.peerId);
      register(ch);
    } catch (err) {
      const e = err instanceof CouplerError ? err : new GroupError(ErrorCode.HANDSHAKE_FAILED, 'dial failed', { cause: err });
      if (e.peer !== undefined) reserved.delete(e.peer);
      const prev = backoff.get(key);
      const delay = prev === undefined ? backoffInitial : Math.min(prev.delay * 2, backoffMax);
      const jittered = Math.round(delay * (0.75 + Math.random() * 0.5));
      backoff.set(key, { next: Date.now() + jittered, delay });
      const reason = refuseReasonOf(err);
      emit({ type: 'dial-failed', address: key, code: e.code, ...(e.peer === undefined ? {} : { peer: e.peer }), retryInMs: jittered, ...(reason === undefined ? {} : { reason }) });
    } finally {
      inFlight.delete(key);
    }
  };

  const loop = async (): Promise<void> => {
    while (channels.size < peers.length && !controller.signal.aborted) {
      const snapshots = await Promise.all(
        discoveries.map((d) => d.discover({ signal: controller.signal }).catch(() => [] as PeerAddress[])),
      );
      const now = Date.now();
      for (const addr of snapshots.flat()) {
        const key = addressKey(addr);
        if (inFlight.has(key)) continue;
        const owner = settledAddresses.get(key);
        if (owner !== undefined && channels.has(owner)) continue;
        if (addr.partyHint !== undefined && addr.partyHint !== '' && roster.has(addr.partyHint)) {
          if (addr.partyHint === localId || !lower(localId, addr.partyHint) || channels.has(addr.partyHint)) continue;
        }
        const b = backoff.get(key);
        if (b !== undefined && b.next > now) continue;
        void dial(addr);
      }
      await sleep(interval, controller.signal);
    }
  };

  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const looping = Promise.all([
    transport === 'relay' || discoveries.length === 0 ? Promise.resolve() : loop(),
    relayUrl === undefined || transport === 'direct'
      ? Promise.resolve()
      : relayMesh({
          relayUrl,
          transport,
          fallbackMs: autoFallbackMs,
          peers,
          channelOptions,
          acceptPeer,
          has: (p) => channels.has(p),
          register,
          remainingMs: () => timeoutMs - (Date.now() - start),
          signal: controller.signal,
          onFailure: (peer, e, retryInMs) => emit({ type: 'dial-failed', address: `relay:${peer}`, code: e.code, peer, retryInMs }),
        }),
  ]);
  try {
    await Promise.race([complete, new Promise<void>((r) => controller.signal.addEventListener('abort', () => r(), { once: true }))]);
    if (leftEarly !== undefined) {
      failed = leftEarly;
      throw failed;
    }
    if (channels.size < peers.length) {
      const missing = peers.filter((p) => !channels.has(p));
      failed = options.signal?.aborted
        ? new AbortedError('joining the group was aborted', { peers: missing })
        : new TimeoutError(`mesh incomplete after ${timeoutMs} ms: no channel to ${missing.map((m) => `"${m}"`).join(', ')}`, { peers: missing });
      throw failed;
    }
    meshComplete = true;
  } catch (err) {
    for (const ch of channels.values()) ch.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
    options.signal?.removeEventListener('abort', onAbort);
    await looping.catch(() => undefined);
    await listener?.close();
  }
  group = new Group({
    localId,
    sessionId: options.sessionId,
    roster,
    identity,
    channels,
    mailboxes,
    roundTimeoutMs,
    maxMessageBytes,
    onEvent: options.onEvent,
    onProgress: options.onProgress,
    progressIntervalMs,
  });
  // The caller's signal keeps meaning "stop" after joining: abort the group, telling the peers.
  const joined = group;
  options.signal?.addEventListener('abort', () => void joined.abort(new AbortedError('stopped by the caller')), { once: true });
  emit({ type: 'ready', peers: peers.length, elapsedMs: Date.now() - start });
  return group;
}
