/**
 * One peer's link: the channel it runs on now, and — for a link through the relay — what it takes
 * to survive the relay going away: every message is counted per direction, a sent message is kept
 * until the peer acknowledges it, and when the channel is re-opened through the relay both sides
 * say how many messages they received (`coupler resume`) and resend exactly the ones the other
 * lacks. A relay restarted between runs, or during one, then costs a pause, not the task.
 *
 * Counted messages: round messages, batches and abort notices. Not counted (and never resent):
 * liveness probes, acknowledgements and resume messages.
 *
 * What a peer can make a sender keep (review14 R14-3). An honest receiver acknowledges as soon as
 * it holds {@link ACK_EVERY_MESSAGES} or {@link ACK_EVERY_BYTES} unacknowledged, so after reading
 * any message it has acknowledged all but fewer than one window of what it read. When a link's
 * unacknowledged messages pass {@link ACK_CHECK_MESSAGES} or {@link ACK_CHECK_BYTES} (four
 * windows), the sender asks: a liveness ping on the same channel, after those messages. The
 * channel is ordered and sealed end to end, and an honest receiver sends its acknowledgement (in
 * the same turn it reads the message) before it answers a ping that came later, so its answer
 * arrives after its acknowledgement. A peer whose answer comes while four windows of what was
 * sent before the ping are still unacknowledged read them and did not acknowledge: it is named
 * (`PROTOCOL_VIOLATION`). Nothing here depends on time or speed: a slow peer answers late and
 * acknowledges first. A peer that answers no ping proves nothing (a slow path looks the same): the
 * sender keeps at most {@link retainCap} of what left it for that peer (32 MiB, or twice the
 * link's largest message, at most {@link MAX_RETAINED_BYTES}), dropping the oldest beyond it — the link then cannot resume
 * past them (`RELAY_LOST` if it must), nobody named. A retained message is a compact copy when
 * its encoding shares a larger buffer (the encoder's: a small message could pin a large one).
 *
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SecureChannel } from '../channel/channel.js';
import { CouplerError, ErrorCode, GroupError } from '../errors.js';
import { encodeMessage } from '../wire/codec.js';
import { ACK_ROUND, PROBE_NONCE_BYTES, RESUME_ROUND, encodeProbe } from './inbound.js';
import { MAX_TIMER_MS } from '../channel/channel.js';

/** HKDF-Expand's block counter for the first (only) block. */
const ONE = Uint8Array.of(1);

/** A receiver acknowledges after this many unacknowledged messages… */
export const ACK_EVERY_MESSAGES = 32;
/** …or this many unacknowledged bytes… */
export const ACK_EVERY_BYTES = 1024 * 1024;
/** …or this long after the first unacknowledged one, ms. */
export const ACK_DELAY_MS = 100;
/** Most unacknowledged bytes a link ever keeps for resending; beyond {@link retainCap}, the link cannot resume past what it dropped. */
export const MAX_RETAINED_BYTES = 256 * 1024 * 1024;
/** What a link may keep for resending whatever its messages' sizes (see {@link retainCap}). */
export const RETAIN_FLOOR_BYTES = 32 * 1024 * 1024;
/** Unacknowledged messages (four acknowledgement windows) at which the sender checks the peer acknowledges… */
export const ACK_CHECK_MESSAGES = 4 * ACK_EVERY_MESSAGES;
/** …or unacknowledged message bytes (four windows). */
export const ACK_CHECK_BYTES = 4 * ACK_EVERY_BYTES;
/** Checks of one link are this far apart at least, ms (a peer answers at most 16 pings a second from one party). */
export const ACK_CHECK_INTERVAL_MS = 1_000;
/** A check unanswered this long is followed by a new one, ms (a ping can go unanswered honestly: the answer budget). */
export const ACK_CHECK_RETRY_MS = 5_000;
/** Checks of one link in flight at most (the oldest is forgotten beyond). */
const MAX_CHECKS_IN_FLIGHT = 4;

/**
 * Bytes a link keeps for resending: {@link RETAIN_FLOOR_BYTES}, or twice the largest message it
 * has sent (so an honest large vector in flight can still be resent), at most
 * {@link MAX_RETAINED_BYTES}.
 */
export function retainCap(largestMessageBytes: number): number {
  return Math.min(MAX_RETAINED_BYTES, Math.max(RETAIN_FLOOR_BYTES, 2 * largestMessageBytes));
}

/**
 * The bytes to keep of a sent message: itself when it has its buffer (nearly) to itself, else a
 * compact copy — the encoder writes many messages into one buffer (up to 1.25× the largest
 * message it encoded), and a kept view would pin all of it.
 */
function compact(bytes: Uint8Array): Uint8Array {
  if (bytes.buffer.byteLength <= bytes.length + (bytes.length >>> 1) + 4096) return bytes;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy;
}

/** A message kept for resending. */
interface Retained {
  /** Its number on the link. */
  readonly n: number;
  /** Its bytes (see `compact`). */
  readonly bytes: Uint8Array;
  /** The channel generation it went out on (0: not sent yet, waiting for the resume). */
  gen: number;
  /** The memory it holds (its buffer). */
  readonly cost: number;
  /** Whether a socket took it (it left this party). */
  written: boolean;
  /** Whether it is no longer kept (acknowledged, dropped, or the link ended). */
  gone: boolean;
}

/** What a check's answer says (see {@link PeerLink.onPong}). */
export type PongVerdict = 'not-ours' | 'ok' | CouplerError;

/** Where a link is. */
export type LinkState = 'up' | 'resuming' | 'down';

/** The link to one peer (see the module documentation). */
export class PeerLink {
  readonly peer: string;
  /** Whether this link resumes after its channel is lost (a channel through the relay). */
  readonly resumable: boolean;
  /** The transcript of the link's first channel: both ends hold the same, a restarted peer another. */
  readonly id: Uint8Array;
  /** The exporter secret of the link's first channel: both ends hold the same (see {@link PeerLink.pairwiseSeed}). */
  readonly #secret: Uint8Array;
  /** HKDF's extracted key for {@link PeerLink.pairwiseSeed}, and the salt it was extracted with. */
  #prk: Buffer | undefined;
  #prkSalt: Uint8Array | undefined;
  /** Set once the secret is wiped (down, disposed), or when the channel had closed before the link was made. */
  #wiped: boolean;
  #channel: SecureChannel;
  #state: LinkState = 'up';
  #sent = 0;
  /** The most messages the peer has said it holds (acknowledgement or resume): it can never hold fewer. */
  #acked = 0;
  #received = 0;
  #unackedCount = 0;
  #unackedBytes = 0;
  #ackTimer: NodeJS.Timeout | undefined;
  /**
   * Sent and not yet acknowledged, in order (numbers are contiguous), with the channel generation
   * each went out on (0: not sent yet, waiting for the resume).
   */
  readonly #retained: Retained[] = [];
  /** Channels the link has had (the first is 1). */
  #generation = 1;
  /** Memory the retained messages hold (their buffers). */
  #retainedBytes = 0;
  /** Their message bytes (what the receiver's acknowledgement policy counts). */
  #retainedMessageBytes = 0;
  /** Memory of the retained messages the socket has taken (what {@link retainCap} bounds). */
  #writtenBytes = 0;
  /** The largest message sent on the link (its kept size). */
  #largest = 0;
  /**
   * Acknowledgement checks in flight, oldest first (at most {@link MAX_CHECKS_IN_FLIGHT}): each
   * ping's nonce, the messages sent before it, its channel, when it went. A late answer still
   * counts (the evidence does not age), so answering after the retry delay escapes nothing.
   */
  readonly #checks: { nonce: Buffer; upTo: number; gen: number; at: number }[] = [];
  #lastCheckAt = 0;
  #checkTimer: NodeJS.Timeout | undefined;
  /** Set once the group closed: nothing is kept for resending any more. */
  #disposed = false;
  /** Set by the owner: called when the link sends a check (a liveness ping), for the probe counts. */
  onCheckSent: (() => void) | undefined;
  /** Set when an unacknowledged message had to be dropped: the link can no longer resume. */
  #overflowed = false;
  /** The peer's resume arrived before ours was processed: its count. */
  #awaitingResume = false;
  /** Traffic of the link's earlier channels. */
  readonly #base = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0 };

  constructor(peer: string, channel: SecureChannel, resumable: boolean) {
    this.peer = peer;
    this.#channel = channel;
    this.resumable = resumable;
    this.id = channel.transcript;
    this.#secret = channel._exporter();
    // A channel that closed before the link was made hands over zeros (it wipes its copy on close).
    this.#wiped = this.#secret.every((b) => b === 0);
  }

  /**
   * A 32-byte secret only the two ends of this link can compute, for `info` (which must name the
   * purpose and be unique per use): HKDF-SHA256 of the exporter secret of the link's first
   * channel. Both ends derive it from the same channel — the mesh keeps exactly one channel per
   * pair and a link keeps its first channel's identity across resumes (a peer that comes back as
   * a new process gets a new link) — so both get the same bytes. Forward secret: the exporter
   * comes from the channel's ephemeral key exchange.
   */
  pairwiseSeed(salt: Uint8Array, info: Uint8Array): Uint8Array {
    // A wiped secret (and the zeroed extracted key cached with it) would give a mask anyone who
    // knows the run's public info could compute: refuse rather than derive.
    if (this.#wiped) throw new GroupError(ErrorCode.CHANNEL_CLOSED, `no pair secret with "${this.peer}": the link is closed`, { peer: this.peer });
    // HKDF-SHA256 (RFC 5869) for one 32-byte block, written out: node's hkdfSync builds key
    // objects per call and cost more than the rest of a small sum's masking. The extracted key
    // is kept for the salt (the formation's epoch: one per link).
    if (this.#prk === undefined || !Buffer.from(this.#prkSalt!).equals(Buffer.from(salt))) {
      this.#prk?.fill(0);
      this.#prk = createHmac('sha256', salt).update(this.#secret).digest();
      this.#prkSalt = Uint8Array.from(salt);
    }
    return new Uint8Array(createHmac('sha256', this.#prk).update(info).update(ONE).digest());
  }

  /** Traffic over every channel the link has had. */
  get stats(): { bytesSent: number; bytesReceived: number; messagesSent: number; messagesReceived: number } {
    const c = this.#channel.stats;
    return {
      bytesSent: this.#base.bytesSent + c.bytesSent,
      bytesReceived: this.#base.bytesReceived + c.bytesReceived,
      messagesSent: this.#base.messagesSent + c.messagesSent,
      messagesReceived: this.#base.messagesReceived + c.messagesReceived,
    };
  }

  /** The channel the link runs on now. */
  get channel(): SecureChannel {
    return this.#channel;
  }

  /** Where the link is. */
  get state(): LinkState {
    return this.#state;
  }

  /** Messages received so far (counted ones). */
  get received(): number {
    return this.#received;
  }

  /** Bytes kept for resending (unacknowledged messages' buffers). */
  get retainedBytes(): number {
    return this.#retainedBytes;
  }

  /**
   * Send one counted message. On a resumable link it is kept until acknowledged, and while the
   * link is resuming it waits there to be sent with the resend.
   */
  send(bytes: Uint8Array): Promise<void> {
    if (this.#state === 'down') return Promise.reject(new GroupError(ErrorCode.PEER_LOST, `cannot send to "${this.peer}": the link is down`, { peer: this.peer }));
    const n = ++this.#sent;
    if (this.resumable && !this.#disposed) {
      // Held back only while there is something older to resend first: on a resumed channel until
      // the peer's resume arrives. On the link's first channel nothing is older, so it goes at once
      // (after our resume message, which went first) — a notice sent just before a close is not lost.
      const kept = compact(bytes);
      const gen = this.#state === 'resuming' || (this.#awaitingResume && this.#generation > 1) ? 0 : this.#generation;
      const entry: Retained = { n, bytes: kept, gen, cost: kept.buffer.byteLength, written: false, gone: false };
      this.#retained.push(entry);
      this.#retainedBytes += entry.cost;
      this.#retainedMessageBytes += bytes.length;
      if (entry.cost > this.#largest) this.#largest = entry.cost;
      if (entry.gen === 0) return Promise.resolve();
      // A send on a channel that dies is resent after the resume: not an error here.
      const sent = this.#channel.send(bytes).then(
        () => this.#onWritten(entry),
        () => undefined,
      );
      this.#maybeCheck();
      return sent;
    }
    return this.#channel.send(bytes);
  }

  /**
   * A socket took a retained message: it is now kept for the peer alone. Beyond {@link retainCap}
   * of such messages the oldest are dropped (the link can then not resume past them). Messages
   * still waiting in this party's own send queue do not count: they are held by the send anyway,
   * and an honest bulk sender's backlog must not cost it the resume.
   */
  #onWritten(entry: Retained): void {
    if (entry.gone || entry.written) return;
    entry.written = true;
    this.#writtenBytes += entry.cost;
    const cap = retainCap(this.#largest);
    while (this.#writtenBytes > cap && this.#retained.length > 1 && this.#retained[0]!.written) {
      this.#shift();
      this.#overflowed = true;
    }
  }

  /** Stop keeping the oldest retained message. */
  #shift(): void {
    const m = this.#retained.shift()!;
    m.gone = true;
    this.#retainedBytes -= m.cost;
    this.#retainedMessageBytes -= m.bytes.length;
    if (m.written) this.#writtenBytes -= m.cost;
  }

  /** Keep nothing (the link is down, or the group closed). */
  #clear(): void {
    for (const m of this.#retained) m.gone = true;
    this.#retained.length = 0;
    this.#retainedBytes = 0;
    this.#retainedMessageBytes = 0;
    this.#writtenBytes = 0;
  }

  /**
   * Ask the peer to prove it acknowledges (see the module documentation): when four windows are
   * unacknowledged and the last check went {@link ACK_CHECK_RETRY_MS} ago unanswered (or was
   * answered, at least {@link ACK_CHECK_INTERVAL_MS} ago), a ping on the current channel after
   * everything sent on it.
   */
  #maybeCheck(): void {
    if (this.#state !== 'up' || this.#disposed || (this.#awaitingResume && this.#generation > 1)) return;
    if (this.#retained.length < ACK_CHECK_MESSAGES && this.#retainedMessageBytes < ACK_CHECK_BYTES) return;
    const now = Date.now();
    const last = this.#checks[this.#checks.length - 1];
    if (last !== undefined && now - last.at < ACK_CHECK_RETRY_MS) return;
    const wait = this.#lastCheckAt + ACK_CHECK_INTERVAL_MS - now;
    if (wait > 0) {
      this.#checkTimer ??= setTimeout(() => {
        this.#checkTimer = undefined;
        this.#maybeCheck();
      }, wait);
      return;
    }
    const nonce = randomBytes(PROBE_NONCE_BYTES);
    this.#checks.push({ nonce, upTo: this.#sent, gen: this.#generation, at: now });
    if (this.#checks.length > MAX_CHECKS_IN_FLIGHT) this.#checks.shift();
    this.#lastCheckAt = now;
    this.onCheckSent?.();
    this.#channel.send(encodeProbe('ping', nonce)).catch(() => undefined);
  }

  /**
   * A liveness probe's answer arrived on `channel`: whether it answers this link's check, and if
   * so whether the peer acknowledged what it had read. The answer came after the peer read every
   * message sent before the ping (one ordered channel) and after any acknowledgement it sent for
   * them; an honest peer leaves less than one window unacknowledged, this allows four.
   */
  onPong(channel: SecureChannel, nonce: Uint8Array): PongVerdict {
    const i = this.#checks.findIndex((k) => k.nonce.equals(nonce));
    if (i < 0) return 'not-ours';
    const c = this.#checks[i]!;
    // Earlier checks are answered too (one ordered channel): this one says more.
    this.#checks.splice(0, i + 1);
    if (channel !== this.#channel || c.gen !== this.#generation || this.#state !== 'up') return 'ok';
    let count = 0;
    let bytes = 0;
    for (const m of this.#retained) {
      if (m.n > c.upTo) break;
      count++;
      bytes += m.bytes.length;
    }
    if (count >= ACK_CHECK_MESSAGES || bytes >= ACK_CHECK_BYTES) {
      return new GroupError(
        ErrorCode.PROTOCOL_VIOLATION,
        `peer "${this.peer}" read ${count} messages (${bytes} bytes) and did not acknowledge them (it answered a probe sent after them)`,
        { peer: this.peer },
      );
    }
    this.#maybeCheck();
    return 'ok';
  }

  #stopCheck(): void {
    if (this.#checkTimer !== undefined) clearTimeout(this.#checkTimer);
    this.#checkTimer = undefined;
    this.#checks.length = 0;
  }

  /** Send an uncounted control message (probe) on the current channel, best effort. */
  sendControl(bytes: Uint8Array): void {
    if (this.#state === 'up') this.#channel.send(bytes).catch(() => undefined);
  }

  /** A counted message arrived (its wire size, for the acknowledgement policy). */
  onCounted(bytes: number): void {
    this.#received++;
    if (!this.resumable) return;
    this.#unackedCount++;
    this.#unackedBytes += bytes;
    if (this.#unackedCount >= ACK_EVERY_MESSAGES || this.#unackedBytes >= ACK_EVERY_BYTES) this.#ack();
    else this.#ackTimer ??= setTimeout(() => this.#ack(), ACK_DELAY_MS);
  }

  #ack(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#unackedCount === 0 || this.#state !== 'up') return;
    this.#unackedCount = 0;
    this.#unackedBytes = 0;
    this.#channel.send(encodeMessage({ r: ACK_ROUND, p: { n: this.#received } })).catch(() => undefined);
  }

  /**
   * The peer acknowledged `n` messages: drop what it holds.
   * @returns an error when the count is impossible (more than was sent).
   */
  onAck(n: number): CouplerError | undefined {
    if (n > this.#sent) return new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${this.peer}" acknowledged more messages than were sent to it`, { peer: this.peer });
    if (n > this.#acked) this.#acked = n;
    while (this.#retained.length > 0 && this.#retained[0]!.n <= n) this.#shift();
    return undefined;
  }

  /** The channel was lost: wait for a new one (resumable links only). */
  suspend(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#stopCheck();
    this.#state = 'resuming';
  }

  /** Give up: no more channel. */
  down(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#stopCheck();
    this.#state = 'down';
    this.#wiped = true;
    this.#secret.fill(0);
    this.#prk?.fill(0);
    this.#clear();
  }

  /** A new channel for a resuming link: say how many messages arrived here (first message on it). */
  attach(channel: SecureChannel): void {
    if (channel !== this.#channel) {
      const c = this.#channel.stats;
      this.#base.bytesSent += c.bytesSent;
      this.#base.bytesReceived += c.bytesReceived;
      this.#base.messagesSent += c.messagesSent;
      this.#base.messagesReceived += c.messagesReceived;
    }
    if (channel !== this.#channel) this.#generation++;
    this.#channel = channel;
    this.#awaitingResume = true;
    channel.send(encodeMessage({ r: RESUME_ROUND, p: { link: this.id, n: this.#received } })).catch(() => undefined);
  }

  /** Whether the new channel still waits for the peer's resume message. */
  get awaitingResume(): boolean {
    return this.#awaitingResume;
  }

  /**
   * The peer's resume: it holds `n` of our messages. Resend the rest, in order, and carry on.
   * @returns an error when this link cannot resume (another link, or messages no longer held).
   */
  onResume(link: Uint8Array, n: number): CouplerError | undefined {
    // A resume is the first message of each channel, once. A second one on a live channel (sealed
    // end to end: only the peer can send it) claiming fewer messages than the peer acknowledged
    // made this link give up with "no longer held" — RELAY_LOST, nobody named: a peer stopped the
    // run at once and the relay was blamed (review14 R14-2).
    if (!this.#awaitingResume) {
      return new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${this.peer}" sent a second resume message on one channel`, { peer: this.peer });
    }
    this.#awaitingResume = false;
    if (!Buffer.from(link).equals(Buffer.from(this.id))) {
      return new GroupError(ErrorCode.PEER_LOST, `peer "${this.peer}" came back as a new process (its link is not this one)`, { peer: this.peer });
    }
    if (n > this.#sent) return new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${this.peer}" claims more messages than were sent to it`, { peer: this.peer });
    // Its count only grows (it acknowledges what it received): fewer than it acknowledged is a lie.
    if (n < this.#acked) return new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${this.peer}" claims fewer messages than it acknowledged`, { peer: this.peer });
    const first = this.#retained[0]?.n ?? this.#sent + 1;
    if (n + 1 < first && (this.#overflowed || n < this.#sent)) {
      return new GroupError(ErrorCode.RELAY_LOST, `cannot resume the link to "${this.peer}": messages it lacks are no longer held`, { peers: [] });
    }
    this.onAck(n);
    this.#state = 'up';
    // Resend what the peer lacks and this channel has not carried yet, in order.
    for (const m of this.#retained) {
      if (m.gen === this.#generation) continue;
      m.gen = this.#generation;
      this.#channel.send(m.bytes).then(
        () => this.#onWritten(m),
        () => undefined,
      );
    }
    this.#maybeCheck();
    return undefined;
  }

  /** Stop timers and drop what was kept for resending (the group closes: nothing resumes). */
  dispose(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#stopCheck();
    this.#disposed = true;
    this.#wiped = true;
    this.#secret.fill(0);
    this.#prk?.fill(0);
    this.#clear();
  }
}

/** How long a resuming link waits for its new channel before it gives up, ms (capped for timers). */
export function resumeDeadline(ms: number): number {
  return Math.max(1, Math.min(ms, MAX_TIMER_MS));
}
