/**
 * Formation of the mesh of one task, and the life of its channels afterwards.
 *
 * {@link Mesh} holds one phase, in one variable:
 *
 * - `forming`: listen, dial discovered addresses (and/or the relay), authenticate every peer
 *   against the roster. A channel lost now is forgotten and the pair is connected again.
 * - `complete`: there is one channel per roster peer; the listener and the dialers stop.
 * - `joined`: the {@link Group} owns the channels; a channel lost now is a lost peer.
 * - `failed`: formation gave up (deadline, a peer that left, a refusal that retrying cannot fix);
 *   every connected peer was told why (an abort notice naming whom this party blames) before its
 *   channel was closed.
 *
 * Both parties of a pair may dial (a party whose resolver stalls is still reached by the other).
 * The accept policy keeps exactly one channel per pair: an initiator goes on past the reply only
 * if the pair has no channel; a responder keeps a connection only if the pair has no channel and,
 * when its id sorts first, it has no dial of its own to that peer past the reply (simultaneous
 * dials: the lower id's dial wins). The responder's confirmation (`ok`) is sent in the same turn
 * as its decision, and the initiator holds a channel only after that confirmation, so both ends
 * always agree which connection survived.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { AbortedError, CouplerError, ErrorCode, GroupError, TimeoutError } from '../errors.js';
import type { Roster } from '../identity/roster.js';
import { compareIds } from '../identity/roster.js';
import { RELAY_RETRY_INITIAL_MS, RELAY_RETRY_MAX_MS, channelPath, isDeterministicRefusal, markRelayed, relayMesh, type Transport } from '../relay/mesh.js';
import { relayChannel, relayedChannelInfo } from '../relay/client.js';
import { RelayError } from '../relay/protocol.js';
import type { Discovery, PeerAddress } from '../discovery/types.js';
import { isUnicastHost, sourceKey } from '../discovery/_ip.js';
import { connectChannel, listenChannels, type ChannelListener, type ChannelOptions } from '../channel/transport.js';
import type { AcceptPolicy } from '../channel/driver.js';
import { MAX_TIMER_MS, type SecureChannel } from '../channel/channel.js';
import { refuseReasonOf, type RefuseReason } from '../channel/handshake.js';
import { Mailbox, type MailboxLimits } from './mailbox.js';
import { runCounterOf, type RunWindow } from './runs.js';
import { PeerLink } from './link.js';
import { PROBE_NONCE_BYTES, attachInbound, abortNoticeFor, encodeAbort, encodeProbe, type AbortNotice, type InboundLimits } from './inbound.js';
import type { GroupEvent } from './group.js';

/** The phase of a mesh (see the module documentation). */
/** A liveness probe's answer (see {@link Mesh.probeStatus}). */
export interface ProbeAnswer {
  /** The parties the peer says it is waiting for (roster ids, possibly none). */
  readonly waitingFor: readonly string[];
  /** Asked about a run: the peer's own run instead, when its claim is one an honest party makes. */
  readonly elsewhere?: OtherRun;
}

/** A peer's claim, answering a probe about a run, that it is in another run. */
export interface OtherRun {
  /** The peer's run. */
  readonly run: string;
  /**
   * True: the peer gave the asked run's counter to this run (its code runs another sequence of
   * runs, R21-4). False: it has not reached the asked run and is in this run of another counter
   * namespace, which the asker is not running (review23 W7).
   */
  readonly tookCounter: boolean;
}

/** What {@link Mesh.traceStall} found. */
export interface StallTrace {
  /** Parties that do not answer, or whose channel ended here without a notice, in the order found. */
  readonly silent: string[];
  /** What each party that answered says it waits for. */
  readonly waiting: Map<string, readonly string[]>;
  /** Parties that answered that they are in another run (see {@link OtherRun}), with that claim. */
  readonly elsewhere: Map<string, OtherRun>;
}

export type MeshPhase = 'forming' | 'complete' | 'joined' | 'failed';

/** Pings one peer may have answered per second (more are ignored: the prober then sees no answer). */
export const MAX_PONGS_PER_SECOND = 16;

/** How long a forming party waits for a blamed party's answer to a liveness probe, ms. */
export const FORMATION_PROBE_MS = 2_000;

/**
 * How often a forming party that was told a party it has not reached failed looks again whether it
 * has reached it (until half its join deadline, when no channel counts as failed here too), ms.
 */
export const FORMATION_NOTICE_POLL_MS = 100;

/** Fewest dials a forming party keeps in flight at once (else twice the roster's size). */
export const MIN_DIALS_IN_FLIGHT = 8;
/**
 * How long a dial holds one of the in-flight slots ({@link MIN_DIALS_IN_FLIGHT}), ms. An honest peer
 * answers within a few round trips; a dial still unanswered after this (an address that accepts and
 * never answers, a black hole) gives its slot to the next address and stays open, under
 * {@link MAX_DIALS_OPEN}, until its handshake deadline. Before, such addresses listed ahead of the
 * real ones held every slot for the whole 10 s deadline each, and the real peers were dialled only
 * after all of them (review12 R12-2).
 */
export const DIAL_SLOT_MS = 500;
/** Most dials a forming party has open at once, holding a slot or not (sockets). */
export const MAX_DIALS_OPEN = 256;
/**
 * `source` of the addresses a roster gives (an entry's `address`): a forming party dials them before
 * anything a discovery returns (they are the same trusted configuration as the keys).
 */
export const ROSTER_SOURCE = 'roster';
/** Most addresses whose dial outcome (owner, backoff) a forming party remembers. */
export const MAX_DIAL_RECORDS = 16_384;

/** How long a party waits for its abort notices to leave before it closes its channels, ms. */
export const ABORT_SEND_TIMEOUT_MS = 1_000;

/** Most runs whose abort notice is remembered per peer (older ones are forgotten first). */
export const MAX_NOTICE_RUNS_PER_PEER = 1024;

/** A peer's abort notices: the one for the whole group, if any, and one per run. */
interface NoticeRecord {
  group: AbortNotice | undefined;
  readonly runs: Map<string, AbortNotice>;
  /** The latest notice, whichever. */
  last: AbortNotice;
}

/** Everything formation needs (validated by `joinGroup`). */
export interface MeshConfig {
  readonly localId: string;
  readonly roster: Roster;
  /** Channel options shared by every connection (without the accept policy, which the mesh supplies). */
  readonly channelOptions: ChannelOptions;
  readonly discoveries: readonly Discovery[];
  readonly listen: { readonly host: string; readonly port: number } | false;
  readonly transport: Transport;
  readonly relayUrl: string | undefined;
  readonly autoFallbackMs: number;
  readonly timeoutMs: number;
  /** How long a link through the relay may take to come back after its channel was lost, ms. */
  readonly resumeTimeoutMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly discoveryIntervalMs: number;
  readonly mailboxLimits: MailboxLimits;
  /** Which runs early messages are kept for (see `RunWindow`); every run without one. */
  readonly runs?: RunWindow | undefined;
  readonly inbound: InboundLimits;
  readonly signal: AbortSignal | undefined;
  readonly emit: (e: GroupEvent) => void;
}

/** What the owner of a joined mesh (the group) is told about its channels. */
export interface MeshOwner {
  /** A peer's abort notice arrived. */
  onAbort(peer: string, notice: AbortNotice): void;
  /** Whether the owner is closing (channel ends are then expected). */
  readonly closing: boolean;
  /**
   * Hand what the owner holds for `peer` (its batch of small round messages, sent at the end of
   * the event-loop turn) to the channel now: a probe answer is about to go, and must not overtake
   * a message posted before it (review23 W1).
   */
  flush(peer: string): void;
}

/**
 * Channel errors that, on a channel through a relay, the relay or a path to it can cause as well as
 * the peer: a frame that fails authentication, arrives out of sequence, or is not a frame at all.
 */
const RELAY_DOABLE_CHANNEL_ERRORS: ReadonlySet<string> = new Set([ErrorCode.FRAME_AUTH_FAILED, ErrorCode.FRAME_SEQUENCE, ErrorCode.FRAME_MALFORMED, ErrorCode.FRAME_TOO_LARGE]);

/**
 * How long a resuming link's dial, once the relay admitted it, waits for the peer before the peer
 * counts as missing here (at most half the resume window): the longest backoff of a peer's own
 * resume loop (RELAY_RETRY_MAX_MS, +25 % jitter) and a margin for its handshake.
 */
export const RELAY_PEER_GRACE_MS = Math.ceil(RELAY_RETRY_MAX_MS * 1.25) + 1_000;

/**
 * A relayed link whose channel breaks again within this long of resuming waits before it dials
 * (100 ms doubling to RELAY_RETRY_MAX_MS); one that stayed up this long resumes at once, ms.
 */
export const RESUME_STABLE_MS = 30_000;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.min(ms, MAX_TIMER_MS));
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

const addressKey = (a: PeerAddress): string => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * Whether a failed formation lingers (see {@link Mesh.lingering}): when a peer caused it — it
 * aborted, was lost, or is blamed — not for this party's own deadline, its caller's stop signal, or
 * the relay.
 */
function lingers(failure: CouplerError): boolean {
  if (failure.code === ErrorCode.TIMEOUT || failure.code === ErrorCode.ABORTED) return false;
  return failure.code === ErrorCode.PEER_ABORTED || failure.code === ErrorCode.PEER_LOST || abortNoticeFor(failure, '').blame.length > 0;
}

/** The mesh of one task: formation, then the channels' lives (see the module documentation). */
export class Mesh {
  #phase: MeshPhase = 'forming';
  readonly peers: readonly string[];
  readonly channels = new Map<string, SecureChannel>();
  /** The link to each connected peer (it outlives a lost channel through the relay). */
  readonly links = new Map<string, PeerLink>();
  readonly mailboxes: Map<string, Mailbox>;
  /**
   * Peers that sent an abort notice (for any run, or the group): their channel's end is explained,
   * not a failure. Whether a party explained itself for one run is {@link Mesh.explainedFor}.
   */
  readonly explained = new Set<string>();
  /** The abort notices of each peer that sent one (by run; see {@link Mesh.noticeFrom}). */
  readonly #notices = new Map<string, NoticeRecord>();
  /** Peers whose channel was lost here while forming (not closed after a notice), and not back since. */
  readonly #lostForming = new Set<string>();
  /** Peers whose link resumes because the relay said their connection ended (1001): missing here, not the relay's failure, until they are back. */
  readonly #goneAtRelay = new Set<string>();
  readonly #cfg: MeshConfig;
  readonly #started = Date.now();
  /** Initiator attempts past the reply, per peer (the accept policy's reservations). */
  readonly #outFlight = new Map<string, number>();
  #owner: MeshOwner | undefined;
  /** Stops the resume loops of links through the relay (the group closed). */
  readonly #resumeController = new AbortController();
  #failure: CouplerError | undefined;
  /** Peers' notices received while forming whose verdict is still out (the mesh does not complete meanwhile). */
  #judging = 0;
  /**
   * Notices read after the mesh completed and before the group took it over (phase `complete`):
   * handed to the group when it joins, which judges them as any later notice (see {@link Mesh.join}).
   */
  readonly #held: { peer: string; notice: AbortNotice }[] = [];
  #settle: (() => void) | undefined;
  readonly #settled = new Promise<void>((r) => (this.#settle = r));
  readonly #controller = new AbortController();
  /**
   * Stops the listener's use, the dialers and the relay loop: with {@link Mesh.form}'s end, or —
   * when formation failed because of a peer — at the end of the linger (see {@link Mesh.lingering}).
   */
  readonly #loops = new AbortController();
  /** While lingering: the notice each newly connected peer gets, and the peers told already. */
  #linger: { notice: Uint8Array; told: Set<string> } | undefined;
  /**
   * Settles when a failed formation stops lingering: a party whose formation failed because of a
   * peer stays reachable (listener, dialers, relay) until its own join deadline and tells every
   * party that connects in that time why it left — the parties still forming learn the root cause
   * instead of timing out on an honest party that left early. Undefined when it does not linger.
   */
  lingering: Promise<void> | undefined;
  /**
   * Hosts discovery returned (their connections are never evicted for strangers'), the latest
   * {@link MAX_DIAL_RECORDS}: every pass refreshes the hosts it sees, so a host discovery keeps
   * returning stays however many others a hostile answer adds.
   */
  readonly #knownHosts = new Set<string>();

  #rememberHost(address: string): void {
    const host = sourceKey(address);
    this.#knownHosts.delete(host);
    this.#knownHosts.add(host);
    if (this.#knownHosts.size > MAX_DIAL_RECORDS) this.#knownHosts.delete(this.#knownHosts.values().next().value!);
  }
  /** The last relay failure per peer (for the final error). */
  readonly #lastRelayFailure = new Map<string, CouplerError>();
  /** Probes in flight: nonce (hex) -> resolve. */
  readonly #probes = new Map<string, { peer: string; run: string | undefined; resolve: (answer: ProbeAnswer | undefined) => void }>();
  /** Answered pings per peer within the current second (a peer cannot make us echo without bound). */
  readonly #pongBudget = new Map<string, { second: number; count: number; runs: Set<string> | undefined }>();

  constructor(cfg: MeshConfig) {
    this.#cfg = cfg;
    this.peers = cfg.roster.ids.filter((id) => id !== cfg.localId);
    this.mailboxes = new Map(this.peers.map((p) => [p, this.#newMailbox(p)]));
    // A run issued here: what was filed for runs that can no longer start is released.
    const runs = cfg.runs;
    if (runs !== undefined) {
      const gone = (run: string): boolean => !runs.admits(run);
      runs.onIssue(() => {
        for (const mb of this.mailboxes.values()) mb.releaseWhere(gone);
      });
    }
    // One listener per dial in flight plus the lookups and sleeps: more than Node's default 10.
    setMaxListeners(0, this.#controller.signal);
    setMaxListeners(0, this.#loops.signal);
  }

  #newMailbox(peer: string): Mailbox {
    const runs = this.#cfg.runs;
    return new Mailbox(peer, this.#cfg.mailboxLimits, runs === undefined ? undefined : (run) => runs.admits(run));
  }

  /** The current phase. */
  get phase(): MeshPhase {
    return this.#phase;
  }

  /** Milliseconds since formation started. */
  get elapsedMs(): number {
    return Date.now() - this.#started;
  }

  /** The accept policy (see the module documentation). */
  readonly policy: AcceptPolicy = {
    reply: (peer) => {
      const no = this.#refuseBasic(peer);
      if (no !== undefined) return no;
      this.#outFlight.set(peer, (this.#outFlight.get(peer) ?? 0) + 1);
      return undefined;
    },
    release: (peer) => this.#release(peer),
    finish: (peer) => {
      const no = this.#refuseBasic(peer);
      if (no !== undefined) return no;
      // Simultaneous dials: the dial of the party whose id sorts first wins.
      if (compareIds(this.#cfg.localId, peer) < 0 && (this.#outFlight.get(peer) ?? 0) > 0) return 'order';
      return undefined;
    },
  };

  #refuseBasic(peer: string): RefuseReason | undefined {
    if (peer === this.#cfg.localId) return 'self';
    if (!this.mailboxes.has(peer)) return 'unknown-peer';
    if (this.channels.has(peer)) return 'duplicate';
    if (this.#phase === 'failed') return this.#linger === undefined || this.#linger.told.has(peer) ? 'duplicate' : undefined;
    // After formation only a link through the relay that lost its channel takes a new one.
    if (this.#phase !== 'forming' && this.links.get(peer)?.state !== 'resuming') return 'duplicate';
    return undefined;
  }

  #release(peer: string): void {
    const n = (this.#outFlight.get(peer) ?? 0) - 1;
    if (n <= 0) this.#outFlight.delete(peer);
    else this.#outFlight.set(peer, n);
  }

  /** A finished channel, from the listener, a dial or the relay. */
  register(ch: SecureChannel): void {
    if (ch.initiator) this.#release(ch.peerId);
    const peer = ch.peerId;
    if (this.#phase === 'failed' && this.#linger !== undefined && !this.#linger.told.has(peer)) {
      // Lingering after a failed formation: tell it why this party left, then close.
      this.#linger.told.add(peer);
      this.#cfg.emit({ type: 'told', peer });
      // Through the relay a link's first message is its resume (the peer drops anything before it):
      // the notice goes as the first counted message of a fresh link.
      const link = new PeerLink(peer, ch, channelPath(ch) === 'relay');
      if (link.resumable) link.attach(ch);
      link.send(this.#linger.notice).then(
        () => ch.close().catch(() => undefined),
        () => ch.destroy(),
      );
      return;
    }
    const resuming = this.links.get(peer)?.state === 'resuming';
    if (this.channels.has(peer) || (this.#phase !== 'forming' && !(resuming && this.#phase === 'joined')) || (resuming && channelPath(ch) !== 'relay')) {
      ch.destroy();
      return;
    }
    this.channels.set(peer, ch);
    let link = this.links.get(peer);
    let mailbox = this.mailboxes.get(peer)!;
    if (link !== undefined && resuming) {
      this.#goneAtRelay.delete(peer);
      link.attach(ch);
    } else {
      mailbox = this.#newMailbox(peer);
      this.mailboxes.set(peer, mailbox);
      this.explained.delete(peer);
      this.#notices.delete(peer);
      this.#lostForming.delete(peer);
      link = new PeerLink(peer, ch, channelPath(ch) === 'relay');
      link.onCheckSent = () => this.#countProbe(peer, 'sent');
      this.links.set(peer, link);
      if (link.resumable) link.attach(ch);
    }
    const l = link;
    const mb = mailbox;
    attachInbound(ch, this.#cfg.inbound, {
      round: (round, payload, cost) => (l.awaitingResume ? this.#early(peer) : mb.put(round, payload, cost)),
      heapRoom: () => mb.heapRoom,
      abort: (notice) => (l.awaitingResume ? this.drop(peer, this.#early(peer)) : this.#onAbort(ch, mb, notice)),
      probe: (kind, nonce, waitingFor, run) => this.#onProbe(ch, kind, nonce, waitingFor, run),
      counted: (bytes) => l.onCounted(bytes),
      ...(l.resumable
        ? {
            resume: (id: Uint8Array, n: number) => this.#onResume(ch, l, id, n),
            ack: (n: number) => {
              const bad = l.onAck(n);
              if (bad !== undefined) this.drop(peer, bad);
            },
          }
        : {}),
      violation: (error) => this.drop(peer, error),
    });
    ch.onClose((error) => this.#onClose(ch, mb, error));
    this.#cfg.emit({ type: 'connected', peer, initiator: ch.initiator, connected: this.channels.size, expected: this.peers.length });
    // Not while a peer's notice is being judged: that peer gave up on the group, and completing
    // would hand its mailbox, failed with the notice unjudged, to the group's first step, which
    // then reported nobody (the blame trial: a party killed right after its last handshake,
    // blamed by a notice that came with the channel completing this mesh). The verdict ends the
    // formation instead (see #onAbort).
    if (this.channels.size === this.peers.length && this.#phase === 'forming' && this.#judging === 0) {
      this.#phase = 'complete';
      this.#settle?.();
    }
  }

  /** A counted message before the peer's resume: the peer broke the link protocol. */
  #early(peer: string): CouplerError {
    return new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent a message on a resumed link before its resume message`, { peer });
  }

  #onResume(ch: SecureChannel, link: PeerLink, id: Uint8Array, n: number): void {
    const bad = link.onResume(id, n);
    if (bad === undefined) return;
    const fresh = Buffer.from(link.id).equals(Buffer.from(ch.transcript));
    // The other side continues an older link while this one is new: it resets on our resume.
    if (fresh && bad.code === ErrorCode.PEER_LOST) return;
    if (this.#phase === 'forming' && bad.code === ErrorCode.PEER_LOST) {
      // The peer restarted while the mesh was forming: start the link afresh on this channel.
      this.channels.delete(ch.peerId);
      this.links.delete(ch.peerId);
      ch.destroy();
      return;
    }
    if (bad.code === ErrorCode.RELAY_LOST) {
      // This side no longer holds messages the peer lacks (dropped beyond the link's cap while
      // the relay or a path held them, review14 R14-3): nobody can tell whose doing that is. Say
      // so on the new channel — a notice marked as the relay's — and close it: dropped without a
      // word, the peer waited for this party and named it at its round deadline.
      const peer = ch.peerId;
      this.mailboxes.get(peer)?.fail(bad);
      ch.send(encodeAbort({ code: bad.code, blame: [], relay: true })).catch(() => undefined);
      void ch.close().catch(() => undefined);
      if (this.#phase === 'joined') this.#cfg.emit({ type: 'peer-lost', peer, code: bad.code });
      return;
    }
    this.drop(ch.peerId, bad);
  }

  #onAbort(ch: SecureChannel, mailbox: Mailbox, notice: AbortNotice): void {
    // Before the group exists a peer gives up once: a notice repeated on the same channel is not
    // judged again (each started a loop polling until half the join deadline, and an event).
    if (this.#phase !== 'joined' && this.#notices.has(ch.peerId)) return;
    this.explained.add(ch.peerId);
    this.#record(ch.peerId, notice);
    if (this.#phase === 'joined') {
      this.#owner?.onAbort(ch.peerId, notice);
      return;
    }
    if (this.#phase === 'complete') {
      // Formation is over but the group does not own the mesh yet (form() still stops its loops):
      // filed here the notice went unjudged to the group's first step, which named nobody. The
      // group judges it when it joins, as it judges every notice after.
      this.#held.push({ peer: ch.peerId, notice });
      return;
    }
    // Before the group exists: the peer gave up on the group. A blamed party with no channel here
    // either, after half the join deadline, failed here too; one with a channel is asked directly.
    // A notice that comes earlier waits for that point (or for a channel to the blamed party, which
    // is then asked): judged at once, a party that had not reached the blamed one yet named nobody
    // (the blame trial's "nobody" verdicts in formation).
    mailbox.fail(this.explainAbort(ch.peerId, notice, () => false));
    this.#cfg.emit({ type: 'peer-lost', peer: ch.peerId, code: ErrorCode.PEER_ABORTED, graceful: true });
    const halfMs = this.#cfg.timeoutMs / 2;
    const noChannelLong = (b: string): boolean => !this.channels.has(b) && this.elapsedMs >= halfMs;
    const unreached = notice.blame.filter((b) => b !== this.#cfg.localId && b !== ch.peerId && this.#cfg.roster.has(b));
    this.#judging++;
    void (async () => {
      const signal = this.#controller.signal;
      // (A party already seen failing here, or that told this party it stopped, needs no wait.)
      const pending = (b: string): boolean => !this.channels.has(b) && !this.failedHere(b) && !this.explained.has(b);
      // Nor does a notice of which one blamed party answers here: naming needs every blamed party
      // confirmed, so it names nobody whatever the others do.
      const reached = unreached.filter((b) => this.channels.has(b) && !this.failedHere(b) && !this.explained.has(b));
      const oneAlive = reached.length > 0 && unreached.some(pending) && (await Promise.all(reached.map((b) => this.probe(b, FORMATION_PROBE_MS)))).some((alive) => alive);
      while (!oneAlive && !signal.aborted && this.#phase === 'forming' && this.elapsedMs < halfMs && unreached.some(pending)) {
        await sleep(Math.min(FORMATION_NOTICE_POLL_MS, Math.max(1, halfMs - this.elapsedMs)), signal);
      }
      return this.judgeAbort(ch.peerId, notice, FORMATION_PROBE_MS, noChannelLong);
    })().then((err) => {
      this.#judging--;
      this.#fail(err);
    });
  }

  /**
   * Judge a peer's abort notice: the error to report, naming each party the notice blames only if
   * this party sees it failing too — its channel ended here without a notice, `alsoFailed` says so,
   * it told this party itself that it stopped on its own (a notice blaming nobody), or it does not
   * answer a liveness probe within `probeMs` — else nobody (the claim does not hold here); naming
   * the sender itself when it blamed nobody. A blamed party that explained why it stopped (and
   * blamed others) is not probed: it left on purpose, and its silence proves nothing.
   */
  async judgeAbort(
    peer: string,
    notice: AbortNotice,
    probeMs: number,
    alsoFailed: (party: string) => boolean = () => false,
    scope?: readonly string[],
  ): Promise<GroupError> {
    const blamed = notice.blame.filter((b) => b !== this.#cfg.localId && b !== peer);
    const verdicts = await Promise.all(
      blamed.map(async (b) => {
        // A party outside the run (a `Group.without` view's left-out party) did not stop it,
        // whatever it did before: never confirmed (review8 R8-8: it was named, and the retry
        // guidance's `view.without(err.peers)` threw).
        if (scope !== undefined && !scope.includes(b)) return false;
        if (this.failedHere(b) || this.confessed(b, notice.run) || alsoFailed(b)) return true;
        // (A notice of b for another run says nothing about this one: b is asked.)
        if (this.explainedFor(b, notice.run) || !this.channels.has(b)) return false;
        // While this party asks, it waits for b: a party ahead that asks it meanwhile must hear
        // so (an honest party judging a notice awaits no round message — it answered "nobody" and
        // was named, review8 R8-2).
        const answered = await this.#waitingWhile([b], this.probe(b, probeMs));
        // Checked again after the probe: the blamed party's own notice ("I stopped on my own") or
        // the loss of its channel may have come meanwhile — a party stopping on SIGTERM tells
        // everyone, then still answers pings until it exits (found by the blame trial).
        if (this.failedHere(b) || this.confessed(b, notice.run) || alsoFailed(b)) return true;
        return !answered;
      }),
    );
    return this.explainAbort(peer, notice, (b) => verdicts[blamed.indexOf(b)] === true);
  }

  /**
   * Whether this party saw `party` fail: its channel ended here without an abort notice (also a
   * channel lost while the mesh was forming, or one the relay said the party's connection ended
   * for, until the party is connected again).
   */
  failedHere(party: string): boolean {
    if (this.#lostForming.has(party) && !this.channels.has(party)) return true;
    // The relay said its connection ended and its link has not come back: observed failing here
    // as a lost channel is, until it does (before its link resumed on that, its mailbox failed).
    if (this.#goneAtRelay.has(party) && !this.channels.has(party)) return true;
    const mb = this.mailboxes.get(party);
    return mb?.error !== undefined && !this.explained.has(party) && (this.#phase === 'joined' || this.#phase === 'complete');
  }

  /** File a peer's notice (bounded per peer: the latest {@link MAX_NOTICE_RUNS_PER_PEER} runs). */
  #record(party: string, notice: AbortNotice): void {
    let rec = this.#notices.get(party);
    if (rec === undefined) {
      rec = { group: undefined, runs: new Map(), last: notice };
      this.#notices.set(party, rec);
    }
    rec.last = notice;
    if (notice.run === undefined) {
      rec.group = notice;
      return;
    }
    rec.runs.delete(notice.run);
    if (rec.runs.size >= MAX_NOTICE_RUNS_PER_PEER) rec.runs.delete(rec.runs.keys().next().value!);
    rec.runs.set(notice.run, notice);
  }

  /**
   * The abort notice `party` sent here for `run` (else the one for the whole group), if any; with
   * `run` undefined, only the whole group's. (Before, only a peer's latest notice was kept: a
   * notice for another run hid the one for this run.)
   */
  noticeFrom(party: string, run: string | undefined): AbortNotice | undefined {
    const rec = this.#notices.get(party);
    if (rec === undefined) return undefined;
    return (run === undefined ? undefined : rec.runs.get(run)) ?? rec.group;
  }

  /**
   * Whether `party` explained why it stopped `run` (or left the group): its notice speaks for it
   * there, and its silence proves nothing. A notice for another run does not: a party that stopped
   * an earlier run is asked in this one like any other (review8 R8-3: it was never asked, counted
   * as waiting for nobody, and named).
   */
  explainedFor(party: string, run: string | undefined): boolean {
    return this.noticeFrom(party, run) !== undefined;
  }

  /**
   * Whether `party` told this party that it stopped on its own: an abort notice blaming nobody
   * (not a lost relay connection, nor anything else the relay did to it), for the whole group or
   * for `run`.
   */
  confessed(party: string, run: string | undefined): boolean {
    const n = this.noticeFrom(party, run);
    return n !== undefined && n.blame.length === 0 && n.nobody !== true && n.code !== ErrorCode.RELAY_LOST && n.relay !== true;
  }

  /** Liveness probes and answers sent to and received from `peer` (see {@link Mesh.probeCounts}). */
  readonly #probeCounts = new Map<string, { sent: number; received: number }>();

  /** Liveness probes and probe answers sent to and received from `peer` so far. */
  probeCounts(peer: string): { sent: number; received: number } {
    return { ...(this.#probeCounts.get(peer) ?? { sent: 0, received: 0 }) };
  }

  #countProbe(peer: string, what: 'sent' | 'received'): void {
    const c = this.#probeCounts.get(peer) ?? { sent: 0, received: 0 };
    c[what]++;
    this.#probeCounts.set(peer, c);
  }

  #onProbe(ch: SecureChannel, kind: 'ping' | 'pong', nonce: Uint8Array, waitingFor: readonly string[], run: string | undefined): void {
    this.#countProbe(ch.peerId, 'received');
    if (kind === 'pong') {
      // The answer to a link's acknowledgement check (review14 R14-3): a peer that read four
      // windows and acknowledged none of them is named.
      const link = this.links.get(ch.peerId);
      const verdict = link === undefined ? 'not-ours' : link.onPong(ch, nonce);
      if (verdict instanceof CouplerError) {
        this.drop(ch.peerId, verdict);
        return;
      }
      if (verdict === 'ok') return;
      const key = Buffer.from(nonce).toString('hex');
      const p = this.#probes.get(key);
      if (p !== undefined && p.peer === ch.peerId) {
        this.#probes.delete(key);
        // An honest party's other run is at the counter asked about, and is not the run asked
        // about (`RunWindow.elsewhere`); it names none when asked about none. Any other `x` is
        // untrue: it claims nothing, and the answer is judged by its waits (it made a withholder a
        // mere suspect, review23 W9).
        // Or it is busy in a run of another counter namespace (a view's, or the group's own) that
        // this party is not running, not having reached the run asked about (RunWindow.busyElsewhere,
        // review23 W7).
        const other = run === undefined || p.run === undefined || run === p.run ? undefined : this.#otherRun(run, p.run);
        p.resolve(other === undefined ? { waitingFor } : { waitingFor, elsewhere: other });
      }
      return;
    }
    const second = Math.floor(Date.now() / 1000);
    let b = this.#pongBudget.get(ch.peerId);
    if (b === undefined || b.second !== second) this.#pongBudget.set(ch.peerId, (b = { second, count: 0, runs: undefined }));
    if (b.count >= MAX_PONGS_PER_SECOND) {
      // Over the budget, a ping about a run that is running here still gets its answer, once per
      // run and second: a probe names its run (R21-4), so an honest asker's deadlines in many runs
      // at once (sums started together) are as many pings, and the ones over the budget found this
      // party silent and named it (review23 W10). Not only a run running here: one this party has
      // not reached yet (it is still held up in the runs before — an asker one batch of
      // concurrent runs ahead asks about each of its next batch) or gave its counter to another
      // run; there too a silent party was named, and the withholder that held it up was not
      // (review24 B1). Once per counter slot and second, bounded by the runs running here and
      // `ahead` counters either side of each counter this party keeps (`RunWindow.probeSlot`).
      const slot = run === undefined ? undefined : this.#cfg.runs?.probeSlot(run);
      if (slot === undefined || b.runs?.has(slot) === true) return;
      (b.runs ??= new Set()).add(slot);
    } else b.count++;
    this.#countProbe(ch.peerId, 'sent');
    // Asked about a run whose counter this party gave to another run of its own, it says which:
    // it will never start the asker's run, and its waits (about its own run) say nothing of it.
    const runs = this.#cfg.runs;
    const answer = encodeProbe('pong', nonce, this.waitingFor(), run === undefined || runs === undefined ? undefined : (runs.elsewhere(run) ?? runs.busyElsewhere(run)));
    // Every message posted before the answer leaves before it: a round message still in the
    // turn's batch went after an answer that no longer waits for anything, and the asker — its
    // deadline judged on that answer before the message came — named a party whose message was
    // on its way (review23 W1; the R17-5 case, decided by which of two writes left first).
    this.#owner?.flush(ch.peerId);
    ch.send(answer).catch(() => undefined);
  }

  /**
   * A probe answer's `x` read against the run asked about, as far as an honest party could claim
   * it: another run at the same counter of the same namespace (`RunWindow.elsewhere`), or a run of
   * another namespace this party is not running (`RunWindow.busyElsewhere`); undefined otherwise.
   */
  #otherRun(x: string, asked: string): OtherRun | undefined {
    const a = runCounterOf(asked);
    const b = runCounterOf(x);
    if (a === undefined || b === undefined) return undefined;
    if (a.space === b.space) return a.k === b.k ? { run: x, tookCounter: true } : undefined;
    return this.#cfg.runs?.running(x) === true ? undefined : { run: x, tookCounter: false };
  }

  /**
   * The peers this party is waiting for right now: a round of theirs is awaited here; a round
   * deadline passed without it and this party is still asking why ({@link Mesh.traceStall}; a
   * receive's wait has ended by then, yet a party asked meanwhile must hear whom it waited for);
   * a send of this party to them has not left yet (a peer reading slowly holds it in the send);
   * or this party is asking them about a notice that blames them ({@link Mesh.judgeAbort}). An
   * honest party held up by others never answers "nobody" (review8 R8-1, R8-2).
   */
  waitingFor(): string[] {
    const out: string[] = [];
    for (const [peer, mb] of this.mailboxes) {
      if (mb.awaited || this.#tracing.has(peer) || this.links.get(peer)?.channel.sending === true) out.push(peer);
    }
    return out;
  }

  /**
   * Parties this party waits for beyond its mailboxes, with how many reasons each: a
   * {@link Mesh.traceStall} in progress was started for them, or a notice's verdict asks them
   * ({@link Mesh.judgeAbort}). (Sends still pending toward a peer count too: {@link Mesh.waitingFor}.)
   */
  readonly #tracing = new Map<string, number>();

  /** `work`, with `parties` reported as waited for (see {@link Mesh.waitingFor}) until it settles. */
  waitingWhile<T>(parties: readonly string[], work: Promise<T>): Promise<T> {
    return this.#waitingWhile(parties, work);
  }

  async #waitingWhile<T>(parties: readonly string[], work: Promise<T>): Promise<T> {
    for (const p of parties) this.#tracing.set(p, (this.#tracing.get(p) ?? 0) + 1);
    try {
      return await work;
    } finally {
      for (const p of parties) {
        const k = this.#tracing.get(p)! - 1;
        if (k === 0) this.#tracing.delete(p);
        else this.#tracing.set(p, k);
      }
    }
  }

  /**
   * Ask `peer` directly whether it is alive (a `ping` it must echo): true when it answers within
   * `ms`, false when it does not, or has no live channel here.
   */
  async probe(peer: string, ms: number): Promise<boolean> {
    return (await this.probeStatus(peer, ms)) !== undefined;
  }

  /**
   * {@link Mesh.probe} with the answer's content: the parties `peer` says it is waiting for itself
   * (roster ids, possibly none) and, asked about `run`, the run it gave that run's counter to
   * instead if it did; undefined when it does not answer within `ms`.
   */
  probeStatus(peer: string, ms: number, run?: string): Promise<ProbeAnswer | undefined> {
    // Several waits reaching their deadline together (an echo round's receives) ask once: a peer
    // answers at most MAX_PONGS_PER_SECOND pings a second from one party. A probe in flight that
    // ends unanswered before this caller's own window does not decide for it: it asks again for
    // the rest (else a short probe, e.g. of another round's deadline, made a party silent here).
    // (One in flight per peer and run asked about: the answer about one run is not the other's.)
    const key = run === undefined ? peer : `${peer}\n${run}`;
    const inflight = this.#statusProbes.get(key);
    if (inflight !== undefined) {
      const until = Date.now() + ms;
      return inflight.then((w) => (w !== undefined || until - Date.now() < 1 ? w : this.probeStatus(peer, until - Date.now(), run)));
    }
    const asked = this.#probeStatusOnce(peer, ms, run);
    this.#statusProbes.set(key, asked);
    void asked.then(() => this.#statusProbes.delete(key));
    return asked;
  }

  /** Status probes in flight, by peer (and run asked about; see {@link Mesh.probeStatus}). */
  readonly #statusProbes = new Map<string, Promise<ProbeAnswer | undefined>>();

  #probeStatusOnce(peer: string, ms: number, run: string | undefined): Promise<ProbeAnswer | undefined> {
    const ch = this.channels.get(peer);
    if (ch === undefined || ch.isClosed) return Promise.resolve(undefined);
    const nonce = new Uint8Array(randomBytes(PROBE_NONCE_BYTES));
    const key = Buffer.from(nonce).toString('hex');
    return new Promise<ProbeAnswer | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#probes.delete(key);
        resolve(undefined);
      }, Math.max(1, Math.min(ms, MAX_TIMER_MS)));
      this.#probes.set(key, {
        peer,
        run,
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
      });
      this.#countProbe(peer, 'sent');
      ch.send(encodeProbe('ping', nonce, [], run)).catch(() => undefined);
      void ch.closed.then(() => {
        if (this.#probes.delete(key)) {
          clearTimeout(timer);
          resolve(undefined);
        }
      });
    });
  }

  /**
   * Why `missing` did not send in time, as far as this party can see within `ms`: each is asked
   * directly (a liveness probe), and a party that answers says whom it is waiting for itself, who
   * are followed in turn (each party once). Returns the parties that do not answer, or whose channel
   * ended here without a notice (`silent`, in the order found), and what each party that answered
   * is waiting for. A party that explained why it stopped (an abort notice) is neither silent nor
   * followed: its notice speaks for it.
   *
   * Every peer is asked at once, at the start, and each gets the whole `ms`: a party reached only
   * through another party's answer has had as long to answer as those asked first. (Asked only once
   * that answer came, it had what was left of the window: a withholding party that answered just
   * before the end, saying it waits for an honest one, had that one named in its place.) While the
   * trace runs, this party's own probe answers say it waits for `missing` ({@link Mesh.waitingFor}).
   *
   * Only the parties of the round (`scope`: a view's members) are asked or followed: a party that
   * says it waits for one outside the round (a party a retry left out) speaks of another run.
   *
   * Asked about `run` (one this party took from its counter and is running), a party that gave
   * that counter to another run of its own says which (`elsewhere`): its code runs another sequence
   * of runs, and whether it waits for anyone says nothing about this run (review21 R21-4).
   */
  async traceStall(missing: readonly string[], ms: number, scope: readonly string[] = this.peers, run?: string): Promise<StallTrace> {
    return this.#waitingWhile(missing, this.#trace(missing, ms, scope, run));
  }

  async #trace(missing: readonly string[], ms: number, scope: readonly string[], run: string | undefined): Promise<StallTrace> {
    // A party explained for this run (or the group) speaks by its notice; one that stopped another
    // run is asked like any other (review8 R8-3). Without a run, any notice counts, as before.
    const explained = (p: string): boolean => (run === undefined ? this.explained.has(p) : this.explainedFor(p, run));
    // Only a run of this party's counter is asked about: a caller's own name that merely looks like
    // one (`job.1`, counted by the caller) would read as "another run" at a party whose counter 1
    // went to a sum, and a withholding party would go unnamed.
    const about = run !== undefined && this.#cfg.runs?.running(run) === true ? run : undefined;
    const asked = new Map(scope.filter((p) => p !== this.#cfg.localId).map((p) => [p, this.probeStatus(p, ms, about)]));
    const seen = new Set<string>([this.#cfg.localId]);
    const silent: string[] = [];
    const waiting = new Map<string, readonly string[]>();
    const elsewhere = new Map<string, OtherRun>();
    let wave = missing.filter((p) => !seen.has(p));
    while (wave.length > 0) {
      for (const p of wave) seen.add(p);
      const answers = await Promise.all(
        wave.map(async (p) => {
          // (Checked before and after its answer: a notice or a lost channel may come meanwhile.)
          const answer = this.failedHere(p) || explained(p) ? undefined : await (asked.get(p) ?? Promise.resolve(undefined));
          if (this.failedHere(p)) return undefined;
          if (explained(p)) return { waitingFor: [] };
          return answer;
        }),
      );
      const next: string[] = [];
      wave.forEach((p, i) => {
        const a = answers[i];
        if (a === undefined) {
          silent.push(p);
          return;
        }
        waiting.set(p, a.waitingFor);
        if (a.elsewhere !== undefined) elsewhere.set(p, a.elsewhere);
        for (const q of a.waitingFor) if (!seen.has(q) && !next.includes(q) && asked.has(q)) next.push(q);
      });
      wave = next;
    }
    return { silent, waiting, elsewhere };
  }

  /**
   * The error to report for a peer's abort notice: the root cause it gave, and whom this party
   * names — the parties it blamed only where this party observed them failing too (`observed`),
   * the sender itself when it blamed nobody (its own input, a stop signal) unless it said it could
   * name nobody with certainty ({@link AbortNotice.nobody}), else nobody.
   */
  explainAbort(peer: string, notice: AbortNotice, observed: (party: string) => boolean): GroupError {
    const what = notice.run === undefined ? 'left the group' : `stopped run "${notice.run}"`;
    if (notice.code === ErrorCode.RELAY_LOST) {
      return new GroupError(ErrorCode.PEER_ABORTED, `peer "${peer}" ${what}: it lost its connection to the relay`, { peer, peers: [] });
    }
    if (notice.relay === true) {
      // The relay failed it (refused, aborted or cheated in the relayed opening): indistinguishable
      // here from the peer claiming so, and the relay is not a party — nobody is named.
      return new GroupError(ErrorCode.PEER_ABORTED, `peer "${peer}" ${what} (${notice.code}) because of the relay; nobody is named`, { peer, peers: [] });
    }
    if (notice.blame.length === 0 && notice.nobody === true) {
      // It stopped because of others it could not name with certainty: naming it would name a
      // party that may be as honest as this one (what a malicious sender gains by saying so, it
      // already had by blaming a live party: nobody named).
      return new GroupError(ErrorCode.PEER_ABORTED, `peer "${peer}" ${what} (${notice.code}) naming nobody with certainty; nobody is named`, { peer, peers: [] });
    }
    if (notice.blame.length === 0) {
      return new GroupError(ErrorCode.PEER_ABORTED, `peer "${peer}" ${what} (${notice.code})`, { peer, peers: [peer] });
    }
    const blamed = notice.blame.filter((b) => b !== this.#cfg.localId && b !== peer);
    const list = notice.blame.map((b) => `"${b}"`).join(', ');
    if (blamed.length > 0 && blamed.every(observed)) {
      return new GroupError(ErrorCode.PEER_ABORTED, `peer "${peer}" ${what} (${notice.code}) because of ${list}, which failed here too`, { peer, peers: blamed });
    }
    return new GroupError(ErrorCode.PEER_ABORTED, `peer "${peer}" ${what} (${notice.code}) blaming ${list}; not confirmed here, so nobody is named`, { peer, peers: [] });
  }

  #onClose(ch: SecureChannel, mailbox: Mailbox, error: CouplerError | undefined): void {
    if (this.channels.get(ch.peerId) !== ch) return;
    const link = this.links.get(ch.peerId);
    const info = relayedChannelInfo(ch);
    const relayLost = info?.relayLost === true && error !== undefined;
    // A joined link through the relay whose channel ended without a word from the peer (no close
    // frame, no notice) resumes whatever ended it, when the relay or a path to it could have:
    // the relay's "partner left" (1001: the peer's own connection to the relay ended — a cut on
    // its path resumes from its side too), or a frame that fails the channel's checks (a flipped,
    // dropped or foreign message: the relay and both paths to it can do that as well as the peer).
    // Before, both were read as the peer's doing and named it (review13 R13-2, R13-3). A peer that
    // sent an abort notice first has said why it stopped: its notice speaks for it (below).
    const resumable =
      relayLost ||
      (this.#phase === 'joined' &&
        error !== undefined &&
        info !== undefined &&
        (info.partnerGone || RELAY_DOABLE_CHANNEL_ERRORS.has(error.code)) &&
        this.#notices.get(ch.peerId)?.last === undefined &&
        !this.#held.some((h) => h.peer === ch.peerId));
    if (link?.resumable && resumable && mailbox.error === undefined && (this.#phase === 'forming' || this.#phase === 'joined') && !this.#owner?.closing) {
      // Keep the link (counts, unacknowledged messages, mailbox) and open a new channel through
      // the relay. The forming dialers do it while forming; after that, the link's own resume loop.
      this.channels.delete(ch.peerId);
      link.suspend();
      this.#cfg.emit({ type: 'peer-lost', peer: ch.peerId, code: ErrorCode.RELAY_LOST, graceful: false });
      const gone = !relayLost && info?.partnerGone === true;
      if (gone) this.#goneAtRelay.add(ch.peerId);
      if (this.#phase === 'joined') void this.#resume(ch.peerId, link, mailbox, error, gone);
      return;
    }
    if (this.#phase === 'forming') {
      // Lost while forming: forget it, so the peer (restarted, or its relay back) can connect again;
      // until it does, it counts as failed here (a notice blaming it is confirmed).
      this.channels.delete(ch.peerId);
      this.links.delete(ch.peerId);
      if (error !== undefined && !this.explained.has(ch.peerId)) this.#lostForming.add(ch.peerId);
      this.#cfg.emit({ type: 'peer-lost', peer: ch.peerId, code: error?.code ?? ErrorCode.PEER_LOST, graceful: error === undefined });
      if (error === undefined && !this.explained.has(ch.peerId)) {
        // An authenticated close without a notice: the peer closed its group on purpose and will
        // not come back; waiting for it until the deadline would only delay the same failure.
        this.#fail(new GroupError(ErrorCode.PEER_LOST, `peer "${ch.peerId}" closed its channel before the group was complete`, { peer: ch.peerId }));
      }
      return;
    }
    link?.down();
    if (this.#phase === 'failed' || this.#owner?.closing) return;
    if (mailbox.error !== undefined) return; // dropped for misbehaviour, or it left with a notice
    const notice = this.#notices.get(ch.peerId)?.last;
    if (notice !== undefined && !relayLost && this.#owner !== undefined) {
      // It stopped a run and said why, then left: its notice explains the end of its channel, for
      // every later round too (a slower party reaching that run now must not name it for leaving).
      // It keeps its meaning: one that named nobody with certainty (`nobody`), or was stopped by
      // the relay, is not read as "my own doing" now (review8 R8-4: it was, and named the sender).
      const { run: _run, ...left } = notice;
      this.#record(ch.peerId, left);
      this.#owner.onAbort(ch.peerId, left);
      return;
    }
    // Its notice is held for the group (read in phase `complete`): it explains this end too.
    if (notice !== undefined && !relayLost && this.#held.some((h) => h.peer === ch.peerId)) return;
    mailbox.fail(this.lossError(ch, error));
    this.#cfg.emit({ type: 'peer-lost', peer: ch.peerId, code: error?.code ?? ErrorCode.PEER_LOST, graceful: error === undefined });
  }

  /**
   * A joined link through the relay lost its channel: dial the relay for that peer again (both
   * sides do) until a new channel resumes it or `resumeTimeoutMs` passes; then the peer is lost
   * (RELAY_LOST: the relay, not the peer, went away).
   */
  async #resume(peer: string, link: PeerLink, mailbox: Mailbox, cause: CouplerError | undefined, partnerGone = false): Promise<void> {
    const cfg = this.#cfg;
    const url = cfg.relayUrl;
    const deadline = Date.now() + cfg.resumeTimeoutMs;
    const signal = this.#resumeController.signal;
    let delay = RELAY_RETRY_INITIAL_MS;
    let last: CouplerError | undefined;
    // Whether the relay admitted this party's latest dial and the peer did not come to it: the
    // relay is up and serving this party, the peer is the one missing — as when the relay says the
    // peer's connection ended (1001). Before, a link resumed after a channel check failed waited
    // for the peer as if the relay were gone: a roster peer that broke its own channels (it holds
    // their keys) and never came back had every honest party report RELAY_LOST "the relay is
    // unreachable", nobody named (review14 R14-1). A relay that admits and never pairs can get the
    // peer named that way, as it can with 1001 (README: through a relay, silence is the relay's to
    // define; review13 R13-7).
    // The peer gets a grace first: after a relay restart both sides dial again on their own backoff
    // (up to RELAY_RETRY_MAX_MS, jittered), so the first one admitted may wait that long for the other.
    // The grace runs from the first admission of this resume and goes on across dials the relay
    // admitted and that then failed (evicted, the peer's handshake stalled, the pair deadline): a
    // peer that took over its own slot again and again evicted each admitted dial, and a grace
    // per dial never ended (review14 R14-1e). Only a dial the relay did not admit starts it again.
    const missing = partnerGone;
    const grace = Math.min(RELAY_PEER_GRACE_MS, Math.floor(cfg.resumeTimeoutMs / 2));
    let admittedSince: number | undefined;
    let admittedNow = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const onAdmitted = (): void => {
      admittedNow = true;
      this.#resumeDials.set(peer, 'admitted');
      if (admittedSince !== undefined) return;
      admittedSince = Date.now();
      graceTimer = setTimeout(() => {
        if (link.state === 'resuming' && !signal.aborted) this.#goneAtRelay.add(peer);
      }, grace);
      graceTimer.unref();
    };
    // A link that breaks again soon after it resumed waits before it dials, doubling each time (as
    // any re-dial backs off): a peer that completes each handshake and breaks the channel again
    // (it holds the keys) drove this party's admissions at the relay — ~74 a second, each a nonce
    // the relay keeps for up to 10 min, 4 096 per source — with no wait at all (review14 R14-3b).
    const streak = this.#resumeStreaks.get(peer);
    const again = streak !== undefined && streak.upAt !== undefined && Date.now() - streak.upAt < RESUME_STABLE_MS;
    const pause = again ? Math.min(streak.pause * 2, RELAY_RETRY_MAX_MS) : 0;
    this.#resumeStreaks.set(peer, { pause, upAt: undefined });
    if (pause > 0) {
      this.#resumeDials.set(peer, 'dialing');
      // Never more than a quarter of the resume window: the window is for the relay to come back,
      // and a pause that outlasted it ended the link in the pause with no dial made — RELAY_LOST,
      // nobody named, while the relay admitted every dial and the peer broke each channel (a peer
      // taking over its own slot every 300 ms grew the pause to 5 s against a 2 s window:
      // test/group/resume-pause-window.test.ts). What is left of the window after the pause is more
      // than the grace (half of it), so a dial the relay admits while the peer stays away still
      // counts the peer missing here.
      await sleep(Math.min(Math.round(pause * (0.75 + Math.random() * 0.5)), Math.floor(cfg.resumeTimeoutMs / 4)), signal);
      this.#resumeDials.delete(peer);
    }
    while (url !== undefined && link.state === 'resuming' && !signal.aborted && Date.now() < deadline) {
      admittedNow = false;
      this.#resumeDials.set(peer, 'dialing');
      try {
        const ch = await relayChannel(url, peer, {
          ...cfg.channelOptions,
          _policy: this.policy,
          signal,
          pairTimeoutMs: Math.max(1, Math.min(deadline - Date.now(), MAX_TIMER_MS)),
          _onAdmitted: onAdmitted,
        });
        clearTimeout(graceTimer);
        admittedSince = undefined;
        this.#resumeDials.delete(peer);
        markRelayed(ch);
        this.register(ch);
        if (!this.channels.has(peer)) continue; // refused here (another channel won): try again
        this.#resumeStreaks.set(peer, { pause: Math.max(pause, RELAY_RETRY_INITIAL_MS / 2), upAt: Date.now() });
        return;
      } catch (err) {
        this.#resumeDials.delete(peer);
        if (signal.aborted) {
          clearTimeout(graceTimer);
          return;
        }
        last = err instanceof CouplerError ? err : undefined;
        if (!admittedNow) {
          // Not admitted (the relay unreachable, or refusing this party): the relay's, not the peer's.
          clearTimeout(graceTimer);
          admittedSince = undefined;
        }
        // Admitted throughout the grace and still no channel: the peer did not come (or stalled).
        const peerAbsent = admittedSince !== undefined && Date.now() - admittedSince >= grace;
        partnerGone = missing || peerAbsent;
        if (!partnerGone && admittedSince === undefined) this.#goneAtRelay.delete(peer);
        if (err instanceof RelayError && isDeterministicRefusal(err.reason)) break;
        delay = Math.min(delay * 2, RELAY_RETRY_MAX_MS);
        await sleep(Math.round(delay * (0.75 + Math.random() * 0.5)), signal);
      }
    }
    if (link.state !== 'resuming' || signal.aborted) return;
    this.#goneAtRelay.delete(peer);
    link.down();
    if (mailbox.error !== undefined) return;
    const why = last === undefined ? '' : ` (${last.message})`;
    if (partnerGone) {
      // The relay said the peer's connection ended, or admitted this party while the peer never
      // came, and it did not come back for the whole window (a crash, its path cut for that long,
      // or a peer that broke its channels and stays away): observed missing here, as a direct peer
      // would be.
      const what = missing ? 'its connection to the relay ended and it did not come back' : 'the relay admitted this party and it did not come to the relay';
      mailbox.fail(new GroupError(ErrorCode.PEER_LOST, `lost peer "${peer}": ${what} within ${cfg.resumeTimeoutMs} ms${why}`, { peer, cause: cause ?? last }));
      cfg.emit({ type: 'peer-lost', peer, code: ErrorCode.PEER_LOST });
      return;
    }
    mailbox.fail(
      new GroupError(ErrorCode.RELAY_LOST, `lost the connection to the relay ${url ?? ''} and could not resume the link to "${peer}" within ${cfg.resumeTimeoutMs} ms${why}`, {
        peers: [],
        cause: cause ?? last,
      }),
    );
    cfg.emit({ type: 'peer-lost', peer, code: ErrorCode.RELAY_LOST });
  }

  /** The relay's URL, when the group uses one. */
  get relayUrl(): string | undefined {
    return this.#cfg.relayUrl;
  }

  /**
   * Whether the link to `peer` is waiting for a new channel through the relay because this party
   * lost the relay (or the relay or a path to it broke the channel) — not because the relay said
   * the peer's own connection ended, or admitted this party's dial while the peer did not come:
   * such a peer is missing here like a lost direct peer (a round deadline probes it and names it
   * if it stays silent), so a crashed peer is still named. Not once the link has a channel again.
   */
  isResuming(peer: string): boolean {
    // A link with a channel again is not waiting for the relay: the relay paired the peer and the
    // handshake proved it; only its resume message is missing, and the peer alone can send it. Such
    // a link stayed "resuming" for as long as the peer kept quiet, and every round deadline blamed
    // the relay, nobody named (review14 R14-1b): the peer is asked like any other.
    return this.links.get(peer)?.state === 'resuming' && !this.#goneAtRelay.has(peer) && !this.channels.has(peer);
  }

  /** Resume dials in flight (or waiting to dial), by peer: `admitted` once the relay admitted one (the peer not there yet). */
  readonly #resumeDials = new Map<string, 'dialing' | 'admitted'>();
  /** Per peer: the pause before its link's latest resume dialled, and when that resume succeeded (see {@link RESUME_STABLE_MS}). */
  readonly #resumeStreaks = new Map<string, { pause: number; upAt: number | undefined }>();

  /**
   * Wait until each of `peers` whose link is resuming is decided here: back, counted missing (the
   * relay admitted this party's dial and the peer did not come within the grace), or with no dial
   * of this party at the relay in flight or waiting — at most the grace, the longest re-dial pause
   * and a second. A round deadline that
   * finds only resuming links waits for this before it blames the relay: a peer that broke its own
   * channels just before the deadline was otherwise still "resuming" at it (review14 R14-1).
   */
  async resumeSettled(peers: readonly string[]): Promise<void> {
    const until = Date.now() + Math.min(RELAY_PEER_GRACE_MS, Math.floor(this.#cfg.resumeTimeoutMs / 2)) + Math.ceil(RELAY_RETRY_MAX_MS * 1.25) + 1_000;
    const open = (): boolean => peers.some((p) => this.isResuming(p) && this.#resumeDials.has(p));
    while (open() && Date.now() < until && !this.#resumeController.signal.aborted) await sleep(Math.min(50, Math.max(1, until - Date.now())), this.#resumeController.signal);
  }

  /** Stop every resume loop and timer (the group closes). */
  shutdown(): void {
    this.#resumeController.abort();
    for (const l of this.links.values()) l.dispose();
  }

  /** The error of a channel that ended without an abort notice. */
  lossError(ch: SecureChannel, error: CouplerError | undefined): GroupError {
    const relay = relayedChannelInfo(ch);
    if (relay?.relayLost && error !== undefined) {
      return new GroupError(ErrorCode.RELAY_LOST, `lost the connection to the relay ${relay.url} (the channel to "${ch.peerId}" ran through it)`, { peers: [], cause: error });
    }
    return new GroupError(
      ErrorCode.PEER_LOST,
      error === undefined ? `peer "${ch.peerId}" closed its channel` : `lost peer "${ch.peerId}": ${error.message}`,
      { peer: ch.peerId, cause: error },
    );
  }

  /** Drop a misbehaving peer: fail its mailbox, cut its channel. */
  drop(peer: string, error: CouplerError): void {
    this.mailboxes.get(peer)?.fail(error);
    this.channels.get(peer)?.destroy(error);
    if (this.#phase === 'joined') this.#cfg.emit({ type: 'peer-lost', peer, code: error.code });
  }

  /** Formation failed: remember the first reason and wake {@link Mesh.form}. */
  #fail(error: CouplerError): void {
    if (this.#phase !== 'forming') return;
    this.#failure ??= error;
    this.#controller.abort();
  }

  /** Hand the complete mesh to its owner (the group). */
  join(owner: MeshOwner): void {
    this.#owner = owner;
    this.#phase = 'joined';
    for (const { peer, notice } of this.#held.splice(0)) owner.onAbort(peer, notice);
  }

  /**
   * Tell every connected peer why this party stops (one abort notice each; the whole group when
   * `run` is undefined), waiting at most {@link ABORT_SEND_TIMEOUT_MS} for them to leave.
   */
  async sendAbort(notice: AbortNotice, to: readonly string[] = this.peers): Promise<void> {
    const bytes = encodeAbort(notice);
    const live = to.filter((p) => this.links.get(p) !== undefined && this.links.get(p)!.state !== 'down' && this.mailboxes.get(p)?.error === undefined);
    const sends = Promise.all(live.map((p) => this.links.get(p)!.send(bytes).catch(() => undefined)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([sends, new Promise((r) => (timer = setTimeout(r, ABORT_SEND_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  /**
   * Form the mesh: resolves when there is one channel per roster peer (phase `complete`), or throws
   * after telling every connected peer why (phase `failed`).
   *
   * @throws {@link TimeoutError} naming the missing parties; {@link AbortedError}; the
   *   {@link GroupError} of a peer that left; a {@link RelayError} that retrying cannot fix.
   */
  async form(): Promise<void> {
    const cfg = this.#cfg;
    const onCallerAbort = (): void => this.#fail(new AbortedError('joining the group was aborted', { peers: this.#missing() }));
    if (cfg.signal?.aborted) onCallerAbort();
    cfg.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const timer = setTimeout(() => this.#fail(this.#timeoutError()), Math.min(cfg.timeoutMs, MAX_TIMER_MS));
    let listener: ChannelListener | undefined;
    let looping: Promise<unknown> = Promise.resolve();
    try {
      if (cfg.listen !== false) {
        listener = await listenChannels({
          ...cfg.channelOptions,
          _policy: this.policy,
          host: cfg.listen.host,
          port: cfg.listen.port,
          isKnownSource: (address) => this.#knownHosts.has(sourceKey(address)),
          onChannel: (ch) => this.register(ch),
          onHandshakeError: (err, remoteAddress) =>
            cfg.emit({
              type: 'refused',
              code: err.code,
              ...(remoteAddress === undefined ? {} : { remoteAddress }),
              ...(err.peer === undefined ? {} : { peer: err.peer }),
              ...(refuseReasonOf(err) === undefined ? {} : { reason: refuseReasonOf(err)! }),
            }),
        });
        cfg.emit({ type: 'listening', host: listener.host, port: listener.port });
      }
      looping = Promise.all([
        cfg.transport === 'relay' || cfg.discoveries.length === 0 ? Promise.resolve() : this.#dialLoop(),
        cfg.relayUrl === undefined || cfg.transport === 'direct' ? Promise.resolve() : this.#relayLoop(cfg.transport, cfg.relayUrl),
      ]);
      await Promise.race([this.#settled, new Promise<void>((r) => this.#controller.signal.addEventListener('abort', () => r(), { once: true }))]);
      if (this.#phase === 'complete') return;
      throw (this.#failure ??= this.#timeoutError());
    } catch (err) {
      const error = err instanceof CouplerError ? err : new GroupError(ErrorCode.PEER_LOST, 'mesh formation failed', { cause: err });
      this.#failure ??= error;
      this.#phase = 'failed';
      const notice = abortNoticeFor(this.#failure, cfg.localId);
      const remaining = cfg.timeoutMs - this.elapsedMs;
      if (lingers(this.#failure) && remaining > 0 && cfg.signal?.aborted !== true) {
        this.#linger = { notice: encodeAbort(notice), told: new Set(this.channels.keys()) };
        this.lingering = this.#lingerFor(remaining, listener, looping);
        listener = undefined;
        looping = Promise.resolve();
      }
      await this.#tellAndClose(this.#failure);
      throw this.#failure;
    } finally {
      clearTimeout(timer);
      cfg.signal?.removeEventListener('abort', onCallerAbort);
      this.#controller.abort();
      if (this.#linger === undefined) this.#loops.abort();
      await looping.catch(() => undefined);
      await listener?.close();
    }
  }

  /**
   * Stay reachable for `ms` (the rest of the join deadline) or until the caller's signal: the
   * listener, dialers and relay loop keep running, and {@link Mesh.register} tells each newly
   * connected peer why this party left. Then stop them.
   */
  async #lingerFor(ms: number, listener: ChannelListener | undefined, looping: Promise<unknown>): Promise<void> {
    const stop = (): void => this.#loops.abort();
    const timer = setTimeout(stop, Math.min(ms, MAX_TIMER_MS));
    this.#cfg.signal?.addEventListener('abort', stop, { once: true });
    try {
      if (!this.#loops.signal.aborted) await new Promise<void>((r) => this.#loops.signal.addEventListener('abort', () => r(), { once: true }));
    } finally {
      clearTimeout(timer);
      this.#cfg.signal?.removeEventListener('abort', stop);
      this.#linger = undefined;
      await looping.catch(() => undefined);
      await listener?.close();
    }
  }

  /** Stop lingering now (the caller is done with this failed formation). */
  stopLingering(): void {
    this.#loops.abort();
  }

  #missing(): string[] {
    return this.peers.filter((p) => !this.channels.has(p));
  }

  #timeoutError(): CouplerError {
    const missing = this.#missing();
    const relay = missing.map((p) => this.#lastRelayFailure.get(p)).find((e) => e !== undefined);
    const why = relay === undefined ? '' : `; last relay failure: ${relay.message}`;
    return new TimeoutError(`mesh incomplete after ${this.#cfg.timeoutMs} ms: no channel to ${missing.map((m) => `"${m}"`).join(', ')}${why}`, {
      peers: missing,
      ...(relay === undefined ? {} : { cause: relay }),
    });
  }

  /** Formation failed: every connected peer gets an abort notice with the reason, then the channels close. */
  async #tellAndClose(error: CouplerError): Promise<void> {
    await this.sendAbort(abortNoticeFor(error, this.#cfg.localId));
    await Promise.all([...this.channels.values()].map((ch) => ch.close().catch(() => undefined)));
  }

  async #dialLoop(): Promise<void> {
    const cfg = this.#cfg;
    const signal = this.#loops.signal;
    const backoff = new Map<string, { next: number; delay: number }>();
    /** Every dial open (by address key); `slotted`: those younger than DIAL_SLOT_MS. */
    const inFlight = new Set<string>();
    const slotted = new Set<string>();
    const settledAddresses = new Map<string, string>();
    // Discovery is hostile input (DNS, a vantage6 server's address list): a lookup of thousands of
    // addresses opened as many connections at once, and new addresses every lookup grew the
    // per-address records for the whole join deadline (review10). New dials are capped (a slot each
    // for DIAL_SLOT_MS), open ones too (MAX_DIALS_OPEN), the rest wait for a later pass; the records
    // keep the latest MAX_DIAL_RECORDS addresses.
    const maxInFlight = Math.max(MIN_DIALS_IN_FLIGHT, 2 * cfg.roster.size);
    const maxOpen = Math.max(MAX_DIALS_OPEN, maxInFlight);
    const remember = <V>(map: Map<string, V>, key: string, value: V): void => {
      map.delete(key);
      map.set(key, value);
      if (map.size > MAX_DIAL_RECORDS) map.delete(map.keys().next().value!);
    };
    const localAddress = cfg.listen !== false && !WILDCARD_HOSTS.has(cfg.listen.host) ? cfg.listen.host : undefined;
    const dial = async (addr: PeerAddress): Promise<void> => {
      const key = addressKey(addr);
      inFlight.add(key);
      slotted.add(key);
      const slot = setTimeout(() => slotted.delete(key), DIAL_SLOT_MS);
      cfg.emit({ type: 'dialing', address: key });
      try {
        const ch = await connectChannel(
          { host: addr.host, port: addr.port },
          { ...cfg.channelOptions, _policy: this.policy, signal, ...(localAddress === undefined ? {} : { localAddress }) },
        );
        remember(settledAddresses, key, ch.peerId);
        this.register(ch);
      } catch (err) {
        const e = err instanceof CouplerError ? err : new GroupError(ErrorCode.HANDSHAKE_FAILED, 'dial failed', { cause: err });
        if (e instanceof AbortedError && signal.aborted) return;
        if (e.peer !== undefined && e.peer !== cfg.localId) remember(settledAddresses, key, e.peer);
        const prev = backoff.get(key);
        const delay = prev === undefined ? cfg.backoffInitialMs : Math.min(prev.delay * 2, cfg.backoffMaxMs);
        const jittered = Math.round(delay * (0.75 + Math.random() * 0.5));
        remember(backoff, key, { next: Date.now() + jittered, delay });
        const reason = refuseReasonOf(err);
        cfg.emit({ type: 'dial-failed', address: key, code: e.code, ...(e.peer === undefined ? {} : { peer: e.peer }), retryInMs: jittered, ...(reason === undefined ? {} : { reason }) });
      } finally {
        clearTimeout(slot);
        slotted.delete(key);
        inFlight.delete(key);
      }
    };
    const done = (p: string): boolean => this.channels.has(p) || this.#linger?.told.has(p) === true;
    // Each discovery's latest answer, and its lookup in flight. A pass waits for the lookups at most
    // one discovery interval, then dials with what it has (a lookup still running keeps its last
    // answer): waiting for every lookup held every dial, the roster's own addresses included, for
    // the slowest lookup's deadline — a DNS server that never answers (dnsDiscovery allows 60 s, the
    // vantage6 VPN discovery 10 s) made every party fail TIMEOUT naming honest peers (review22 R22-2).
    const latest: unknown[] = cfg.discoveries.map(() => []);
    const running: (Promise<void> | undefined)[] = cfg.discoveries.map(() => undefined);
    const lookups = (): Promise<void>[] =>
      cfg.discoveries.map((d, i) =>
        (running[i] ??= Promise.resolve()
          .then(() => d.discover({ signal }))
          .then(
            (found) => void (latest[i] = found),
            (err: unknown) => {
              latest[i] = [];
              // A malformed configuration (a discovery refusing its own input, e.g. COUPLER_PEERS
              // with a bad entry) is not "no peers yet": taken as such, the party ran to its
              // deadline and named every other party (review22 R22-6). waitForPeers throws it too.
              if (err instanceof CouplerError && err.code === ErrorCode.INVALID_ARGUMENT) this.#fail(err);
            },
          )
          .finally(() => {
            running[i] = undefined;
          })),
      );
    while ((this.#phase === 'forming' || this.#linger !== undefined) && !signal.aborted) {
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(lookups()), new Promise<void>((r) => (bound = setTimeout(r, Math.min(cfg.discoveryIntervalMs, MAX_TIMER_MS))))]);
      clearTimeout(bound);
      if (!((this.#phase === 'forming' || this.#linger !== undefined) && !signal.aborted)) break;
      const snapshots = latest.map((found) => (Array.isArray(found) ? (found as PeerAddress[]) : []));
      const now = Date.now();
      // The order of an answer is the answerer's choice, so it is not the dial order (review12
      // R12-2): addresses never dialled, shuffled, alternate with retries whose backoff has passed,
      // longest-waiting first. In answer order, silent addresses listed first took every slot, and
      // once they failed their short backoff put them first again, ahead of the untried real peers.
      // A party hint is discovery's claim, hostile input like the address: it orders the dials
      // (addresses labelled with a party already connected, or with this party, go last), never
      // suppresses one. Only a dial settles who is at an address. Skipping every address labelled
      // with a connected party let a hostile discovery hide a real peer's address behind another
      // party's id: the pair never formed, and every honest party named another (review10;
      // test/group/hint-no-skip.test.ts).
      // The roster's own addresses (source "roster": the same trusted configuration as the keys)
      // go first, before anything a discovery answer lists: junk in an answer (review12 R12-2)
      // cannot hold back a peer the roster locates.
      const first: PeerAddress[] = [];
      const fresh: PeerAddress[] = [];
      const retries: { addr: PeerAddress; next: number }[] = [];
      const later: PeerAddress[] = [];
      const considered = new Set<string>();
      for (const addr of snapshots.flat()) {
        if (considered.size >= MAX_DIAL_RECORDS) break;
        // Any discovery may be a caller's own: an address that is never a peer's (0.0.0.0 dials
        // this host) is dropped here too, as the built-in discoveries drop it (review12 R12-6).
        if (typeof addr?.host !== 'string' || !isUnicastHost(addr.host)) continue;
        const key = addressKey(addr);
        if (considered.has(key)) continue;
        considered.add(key);
        this.#rememberHost(addr.host);
        if (inFlight.has(key)) continue;
        const owner = settledAddresses.get(key);
        if (owner === cfg.localId) continue;
        if (owner !== undefined && done(owner)) continue;
        const b = backoff.get(key);
        if (b !== undefined && b.next > now) continue;
        const hint = addr.partyHint;
        if (owner === undefined && hint !== undefined && hint !== '' && cfg.roster.has(hint) && (hint === cfg.localId || done(hint))) later.push(addr);
        else if (addr.source === ROSTER_SOURCE) first.push(addr);
        else if (b === undefined) fresh.push(addr);
        else retries.push({ addr, next: b.next });
      }
      for (let i = fresh.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [fresh[i], fresh[j]] = [fresh[j]!, fresh[i]!];
      }
      retries.sort((x, y) => x.next - y.next);
      for (const addr of first) {
        if (slotted.size >= maxInFlight || inFlight.size >= maxOpen) break;
        void dial(addr);
      }
      for (let i = 0; i < fresh.length || i < retries.length; i++) {
        if (slotted.size >= maxInFlight || inFlight.size >= maxOpen) break;
        const retry = retries[i]?.addr;
        if (retry !== undefined) void dial(retry);
        if (slotted.size >= maxInFlight || inFlight.size >= maxOpen) break;
        const first = fresh[i];
        if (first !== undefined) void dial(first);
      }
      for (const addr of later) {
        if (slotted.size >= maxInFlight || inFlight.size >= maxOpen) break;
        void dial(addr);
      }
      await sleep(cfg.discoveryIntervalMs, signal);
    }
    // As before R22-2, the loop ends only once its lookups did (they are given the aborted signal):
    // formation's end still waits for a lookup in flight, not dialling.
    await Promise.all(running);
  }

  async #relayLoop(transport: 'relay' | 'auto', relayUrl: string): Promise<void> {
    const cfg = this.#cfg;
    await relayMesh({
      relayUrl,
      transport,
      fallbackMs: cfg.autoFallbackMs,
      peers: this.peers,
      channelOptions: cfg.channelOptions,
      policy: this.policy,
      has: (p) => this.channels.has(p) || this.#linger?.told.has(p) === true,
      register: (ch) => this.register(ch),
      remainingMs: () => cfg.timeoutMs - this.elapsedMs,
      signal: this.#loops.signal,
      onFailure: (peer, e, retryInMs) => {
        this.#lastRelayFailure.set(peer, e);
        cfg.emit({
          type: 'dial-failed',
          address: `relay:${peer}`,
          code: e.code,
          peer,
          retryInMs,
          ...(e instanceof RelayError ? { relayReason: e.reason } : refuseReasonOf(e) === undefined ? {} : { reason: refuseReasonOf(e)! }),
        });
      },
      onFatal: (e) => this.#fail(e),
    });
  }

  /** The path of a peer's channel (`direct` or `relay`). */
  pathOf(peer: string): 'direct' | 'relay' {
    const ch = this.channels.get(peer);
    return ch === undefined ? 'direct' : channelPath(ch);
  }
}
