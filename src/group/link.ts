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
 * @module
 */
import { createHmac } from 'node:crypto';
import type { SecureChannel } from '../channel/channel.js';
import { CouplerError, ErrorCode, GroupError } from '../errors.js';
import { encodeMessage } from '../wire/codec.js';
import { ACK_ROUND, RESUME_ROUND } from './inbound.js';
import { MAX_TIMER_MS } from '../channel/channel.js';

/** HKDF-Expand's block counter for the first (only) block. */
const ONE = Uint8Array.of(1);

/** A receiver acknowledges after this many unacknowledged messages… */
export const ACK_EVERY_MESSAGES = 32;
/** …or this many unacknowledged bytes… */
export const ACK_EVERY_BYTES = 1024 * 1024;
/** …or this long after the first unacknowledged one, ms. */
export const ACK_DELAY_MS = 100;
/** Most unacknowledged bytes a link keeps for resending; beyond it, the link cannot resume. */
export const MAX_RETAINED_BYTES = 256 * 1024 * 1024;

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
  readonly #retained: { n: number; bytes: Uint8Array; gen: number }[] = [];
  /** Channels the link has had (the first is 1). */
  #generation = 1;
  #retainedBytes = 0;
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

  /**
   * Send one counted message. On a resumable link it is kept until acknowledged, and while the
   * link is resuming it waits there to be sent with the resend.
   */
  send(bytes: Uint8Array): Promise<void> {
    if (this.#state === 'down') return Promise.reject(new GroupError(ErrorCode.PEER_LOST, `cannot send to "${this.peer}": the link is down`, { peer: this.peer }));
    const n = ++this.#sent;
    if (this.resumable) {
      // Held back only while there is something older to resend first: on a resumed channel until
      // the peer's resume arrives. On the link's first channel nothing is older, so it goes at once
      // (after our resume message, which went first) — a notice sent just before a close is not lost.
      const entry = { n, bytes, gen: this.#state === 'resuming' || (this.#awaitingResume && this.#generation > 1) ? 0 : this.#generation };
      this.#retained.push(entry);
      this.#retainedBytes += bytes.length;
      while (this.#retainedBytes > MAX_RETAINED_BYTES && this.#retained.length > 1) {
        const dropped = this.#retained.shift()!;
        this.#retainedBytes -= dropped.bytes.length;
        this.#overflowed = true;
      }
      if (entry.gen === 0) return Promise.resolve();
      // A send on a channel that dies is resent after the resume: not an error here.
      return this.#channel.send(bytes).catch(() => undefined);
    }
    return this.#channel.send(bytes);
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
    while (this.#retained.length > 0 && this.#retained[0]!.n <= n) this.#retainedBytes -= this.#retained.shift()!.bytes.length;
    return undefined;
  }

  /** The channel was lost: wait for a new one (resumable links only). */
  suspend(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#state = 'resuming';
  }

  /** Give up: no more channel. */
  down(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#state = 'down';
    this.#wiped = true;
    this.#secret.fill(0);
    this.#prk?.fill(0);
    this.#retained.length = 0;
    this.#retainedBytes = 0;
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
      this.#channel.send(m.bytes).catch(() => undefined);
    }
    return undefined;
  }

  /** Stop timers (the group closes). */
  dispose(): void {
    if (this.#ackTimer !== undefined) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#wiped = true;
    this.#secret.fill(0);
    this.#prk?.fill(0);
  }
}

/** How long a resuming link waits for its new channel before it gives up, ms (capped for timers). */
export function resumeDeadline(ms: number): number {
  return Math.max(1, Math.min(ms, MAX_TIMER_MS));
}
