/**
 * What arrives on a group channel, decoded in one place: a round message (filed in the peer's
 * mailbox), a batch of round messages (unpacked, never nested), or an abort notice (a peer stopping
 * a run, or the whole group, and saying why). Used during formation and after it, so the rules
 * cannot drift apart.
 *
 * @module
 */
import type { SecureChannel } from '../channel/channel.js';
import { CouplerError, ErrorCode, GroupError } from '../errors.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import { decodeMessageCost, decodeRoundMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import type { MessageCost } from './mailbox.js';
import { expectArray, expectBytes, expectRecord, expectString, expectUint } from '../wire/shape.js';

/** Round names: 1 to 128 printable ASCII characters. */
export const ROUND_PATTERN: RegExp = /^[\x21-\x7e]{1,128}$/;
/** Run ids (the first segment of a run's round names): printable ASCII without `/`. */
export const RUN_ID_PATTERN: RegExp = /^[\x21-\x2e\x30-\x7e]{1,128}$/;

/**
 * The reserved "round" of an abort notice (its space keeps it outside {@link ROUND_PATTERN}, so no
 * user round can collide with it). Payload: {@link AbortNotice}.
 */
export const ABORT_ROUND = 'coupler abort';
/**
 * The reserved "round" of a batch: several small round messages to one peer, sent in the same
 * event-loop turn, travel as one channel message `{r: BATCH_ROUND, p: [message bytes, ...]}`
 * (one AEAD seal, one frame). Each item is an encoded round message, decoded and checked like any
 * other; a batch inside a batch is refused.
 */
export const BATCH_ROUND = 'coupler batch';
/**
 * The reserved "rounds" of a liveness probe: a party that is told another party failed, and cannot
 * see it itself, or whose round deadline passed, asks that party directly (`{n: 16 random bytes}`,
 * and `r`: the run it asks about, when it asks about one); a live party echoes the bytes and says
 * which parties it is waiting for itself (`{n, w: [ids]}`), and, when it gave that run's counter to
 * another run of its own (its code runs another sequence of runs), which one (`x`: run id).
 */
export const PING_ROUND = 'coupler ping';
/** The answer to {@link PING_ROUND}. */
export const PONG_ROUND = 'coupler pong';
/** A run id a probe asks about or answers with: a round name ending in `.<counter>`. */
const PROBE_RUN_PATTERN = /^[\x21-\x7e]{1,112}\.[1-9][0-9]{0,14}$/;
/** Bytes of a probe's nonce. */
export const PROBE_NONCE_BYTES = 16;

/**
 * The reserved "round" of a resume: the first message on every channel of a link through the relay,
 * `{link: the link's first transcript, n: counted messages received on the link so far}`.
 */
export const RESUME_ROUND = 'coupler resume';
/** The reserved "round" of an acknowledgement on a link through the relay: `{n: counted messages received}`. */
export const ACK_ROUND = 'coupler ack';

/**
 * Encode a probe (`ping`, about run `run` when given) or its answer (`pong`, with the parties the
 * answering party is waiting for right now: `waitingFor`, roster ids; and `run`, when given: the
 * answering party's own run at the counter of the run asked about).
 */
export function encodeProbe(kind: 'ping' | 'pong', nonce: Uint8Array, waitingFor: readonly string[] = [], run?: string): Uint8Array {
  if (kind === 'ping') return encodeMessage({ r: PING_ROUND, p: run === undefined ? { n: nonce } : { n: nonce, r: run } });
  return encodeMessage({ r: PONG_ROUND, p: run === undefined ? { n: nonce, w: [...waitingFor] } : { n: nonce, w: [...waitingFor], x: run } });
}

/** Messages up to this size (encoded) wait for company until the end of the event-loop turn. */
export const BATCH_ITEM_MAX_BYTES = 16 * 1024;
/** Most messages in one batch. */
export const BATCH_MAX_ITEMS = 64;
/** Error codes an abort notice may carry. */
export const ABORT_CODE_PATTERN: RegExp = /^COUPLER_ERR_[A-Z0-9_]{1,48}$/;

/**
 * A peer's notice that it stopped: one run (`run`) or the whole group (no `run`), with the code of
 * the error that stopped it and the parties it holds responsible (`blame`; empty when the cause is
 * its own: its input was refused, it was told to stop). Authenticated by the channel; it is the
 * sender's claim, which the receiver checks against what it observed itself before it names anyone.
 */
export interface AbortNotice {
  /** The `COUPLER_ERR_*` code that stopped the sender (never a message text: it may mention data). */
  readonly code: string;
  /** The parties the sender blames (roster ids), possibly none. */
  readonly blame: readonly string[];
  /** The run it stopped, or undefined for the whole group. */
  readonly run?: string | undefined;
  /**
   * The sender stopped because of the relay (lost, refused, or its relayed opening failed or
   * cheated as the sender saw it): it blames no party, and is not itself named either — a relay
   * failing one party alone looks the same to the others as that party claiming so.
   */
  readonly relay?: boolean | undefined;
  /**
   * The sender stopped because of other parties but could name none of them with certainty (a
   * timeout whose missing party says it waits for another live party, a contradiction nothing here
   * attributes): it blames nobody, and this is not its own doing either — its receivers name
   * nobody rather than the sender. (A notice blaming nobody without it reads as "my own doing": a
   * stop signal, its own input.)
   */
  readonly nobody?: boolean | undefined;
}

/** Encode an abort notice as a channel message. */
export function encodeAbort(notice: AbortNotice): Uint8Array {
  const p: Record<string, PlainData> = { code: notice.code, blame: [...notice.blame] };
  if (notice.run !== undefined) p.run = notice.run;
  if (notice.relay === true) p.relay = true;
  if (notice.nobody === true && notice.blame.length === 0) p.nobody = true;
  return encodeMessage({ r: ABORT_ROUND, p });
}

/** Where decoded messages of one channel go. */
export interface InboundSink {
  /**
   * A round message, with what holding it costs (its bytes and the estimated heap of its decoded
   * values). Returns a violation to drop the peer.
   */
  round(round: string, payload: PlainData, cost: MessageCost): CouplerError | undefined;
  /**
   * Heap the peer's next message may take once decoded (what its mailbox has room for): a message
   * that would take more is refused before anything is built.
   */
  heapRoom?(): number;
  /** An abort notice. */
  abort(notice: AbortNotice): void;
  /**
   * A liveness probe (answer it) or the answer to one of ours (`waitingFor`: the parties the peer
   * says it is waiting for, roster ids without duplicates; empty for a ping). `run`: for a ping, the
   * run it asks about; for an answer, the peer's own run at that run's counter (see {@link PING_ROUND}).
   */
  probe(kind: 'ping' | 'pong', nonce: Uint8Array, waitingFor: readonly string[], run?: string): void;
  /** A counted message (round, batch or abort notice) of `bytes` arrived; called before it is handled. */
  counted?(bytes: number): void;
  /** The peer's resume message (links through the relay). */
  resume?(link: Uint8Array, n: number): void;
  /** The peer acknowledged `n` counted messages (links through the relay). */
  ack?(n: number): void;
  /** The peer broke the channel protocol: drop it. */
  violation(error: CouplerError): void;
}

/** Limits of the decoder. */
export interface InboundLimits {
  /** Largest encoded message. */
  readonly maxBytes: number;
  /** Most values one message may hold (bounds decoding memory). */
  readonly maxValues: number;
  /** Parties an abort notice may blame (the roster). */
  readonly roster: { has(id: string): boolean; readonly size: number };
}

/** Decode one channel message and hand it to `sink`; throws a {@link CouplerError} naming the peer when malformed. */
function deliver(peer: string, bytes: Uint8Array, inBatch: boolean, limits: InboundLimits, sink: InboundSink): void {
  const room = sink.heapRoom?.();
  const decodeLimits = room === undefined ? { maxValues: limits.maxValues } : { maxValues: limits.maxValues, maxHeapBytes: room };
  // Nearly every message: a round message of a name up to 31 characters, read with every check of
  // the general path below (its name has no space: never a reserved round) but without decoding
  // the envelope through msgpackr and checking its fields one by one.
  const fast = decodeRoundMessage(bytes, limits.maxBytes, { peer }, decodeLimits);
  if (fast !== undefined) {
    if (!inBatch) sink.counted?.(bytes.length);
    const violation = sink.round(fast.round, fast.payload, { bytes: bytes.length, heapBytes: fast.heapBytes });
    if (violation) sink.violation(violation);
    return;
  }
  const { value, heapBytes } = decodeMessageCost(bytes, limits.maxBytes, { peer }, decodeLimits);
  const rec = expectRecord(value, { what: 'round message', peer }, ['r', 'p']);
  if (!inBatch) {
    if (rec.r === RESUME_ROUND || rec.r === ACK_ROUND) {
      const ctx = { what: rec.r === RESUME_ROUND ? 'resume message' : 'acknowledgement', peer };
      const p = expectRecord(rec.p ?? null, ctx, rec.r === RESUME_ROUND ? ['link', 'n'] : ['n']);
      const n = expectUint(p.n, 'n', ctx);
      if (rec.r === ACK_ROUND) {
        if (sink.ack === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an acknowledgement on a link that takes none`, { peer });
        sink.ack(n);
      } else {
        if (sink.resume === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent a resume message on a link that cannot resume`, { peer });
        sink.resume(expectBytes(p.link, 'link', ctx, 32), n);
      }
      return;
    }
    if (rec.r !== PING_ROUND && rec.r !== PONG_ROUND) sink.counted?.(bytes.length);
  }
  if (rec.r === BATCH_ROUND && !inBatch) {
    const ctx = { what: 'batch', peer };
    const items = expectArray(rec.p ?? null, 'p', ctx, BATCH_MAX_ITEMS);
    if (items.length < 2) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent a batch of fewer than two messages`, { peer });
    // Each item decoded from a copy of its own: decoded byte strings are views on the bytes they
    // came from, and a message filed for later is charged its own bytes — decoded from a view on the
    // batch, a one-byte message held the whole batch (up to 64 items of 16 KiB), the items the
    // mailbox dropped included: 100 of them held 96 MiB at a 4 MiB maxPendingBytes (review17 R17-3).
    for (const item of items) deliver(peer, new Uint8Array(expectBytes(item, 'item', ctx, undefined, BATCH_ITEM_MAX_BYTES)), true, limits, sink);
    return;
  }
  if (rec.r === ABORT_ROUND) {
    sink.abort(parseAbort(peer, rec.p ?? null, limits));
    return;
  }
  if (rec.r === PING_ROUND || rec.r === PONG_ROUND) {
    const ctx = { what: 'liveness probe', peer };
    const ping = rec.r === PING_ROUND;
    const p = expectRecord(rec.p ?? null, ctx, ping ? ['n', 'r'] : ['n', 'w', 'x']);
    const n = expectBytes(p.n, 'n', ctx, PROBE_NONCE_BYTES);
    const about = ping ? p.r : p.x;
    const run = about === undefined ? undefined : expectString(about, ping ? 'r' : 'x', ctx, 128, PROBE_RUN_PATTERN);
    const w = p.w === undefined ? [] : expectArray(p.w, 'w', ctx, limits.roster.size).map((b) => expectString(b, 'w', ctx, 64, PARTY_ID_PATTERN));
    if (w.some((b) => !limits.roster.has(b)) || new Set(w).size !== w.length) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" answered a liveness probe with a list that is not a set of roster ids`, { peer });
    }
    sink.probe(ping ? 'ping' : 'pong', n, w, run);
    return;
  }
  const round = expectString(rec.r, 'r', { what: 'round message', peer }, 128, ROUND_PATTERN);
  if (!('p' in rec)) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent a round message without payload`, { peer });
  const violation = sink.round(round, rec.p as PlainData, { bytes: bytes.length, heapBytes });
  if (violation) sink.violation(violation);
}

function parseAbort(peer: string, value: PlainData, limits: InboundLimits): AbortNotice {
  const ctx = { what: 'abort notice', peer };
  const p = expectRecord(value, ctx, ['code', 'blame', 'run', 'relay', 'nobody']);
  const code = expectString(p.code, 'code', ctx, 64, ABORT_CODE_PATTERN);
  const blame = p.blame === undefined ? [] : expectArray(p.blame, 'blame', ctx, limits.roster.size).map((b) => expectString(b, 'blame', ctx, 64, PARTY_ID_PATTERN));
  for (const b of blame) {
    if (!limits.roster.has(b)) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" blamed a party that is not in the roster`, { peer });
  }
  const run = p.run === undefined ? undefined : expectString(p.run, 'run', ctx, 128, RUN_ID_PATTERN);
  if (p.relay !== undefined && typeof p.relay !== 'boolean') throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an abort notice whose "relay" is not a boolean`, { peer });
  const relay = p.relay === true;
  if (p.nobody !== undefined && typeof p.nobody !== 'boolean') throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an abort notice whose "nobody" is not a boolean`, { peer });
  // A notice that blames the relay blames no party as well; "nobody" holds only with no blame.
  const blamed = relay ? [] : [...new Set(blame)];
  return { code, blame: blamed, run, relay, ...(p.nobody === true && blamed.length === 0 ? { nobody: true } : {}) };
}

/**
 * Route every message of `ch` to `sink` (decoded and checked); a malformed message drops the peer
 * through `sink.violation` with a typed error naming it.
 */
export function attachInbound(ch: SecureChannel, limits: InboundLimits, sink: InboundSink): void {
  ch.setMessageHandler((bytes) => {
    try {
      deliver(ch.peerId, bytes, false, limits, sink);
    } catch (err) {
      sink.violation(err instanceof CouplerError ? err : new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${ch.peerId}" sent a malformed message`, { peer: ch.peerId }));
    }
  });
}

/** The run a round belongs to (the part before its first `/`). */
export function runOfRound(round: string): string {
  const i = round.indexOf('/');
  return i < 0 ? round : round.slice(0, i);
}

/** Codes whose error is this party's own doing (nobody else to blame). */
const SELF_CAUSED: ReadonlySet<string> = new Set([
  ErrorCode.ABORTED,
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.VALUE_INVALID,
  ErrorCode.PARAMETERS_UNSAFE,
  ErrorCode.RELAY_LOST,
  ErrorCode.RELAY_REFUSED,
  ErrorCode.CHANNEL_CLOSED,
]);

/**
 * Whether the relay, not a party, caused `err`: this party lost it (`RELAY_LOST`), it refused this
 * party (`RELAY_REFUSED`), or an error of the relayed opening names the relay (an error carrying
 * the relay's URL and naming no party: the relay cheated, aborted, or cut the aggregation here).
 */
export function relayCaused(err: unknown): boolean {
  if (!(err instanceof CouplerError)) return false;
  if (err.code === ErrorCode.RELAY_LOST || err.code === ErrorCode.RELAY_REFUSED) return true;
  return typeof (err as { relayUrl?: unknown }).relayUrl === 'string' && err.peers.length === 0;
}

/**
 * The abort notice this party sends when `err` stops it (a run's when `run` is given, else the
 * group's or formation's): the error's code, whom it blames ({@link blameOf}), and whether the
 * relay caused it ({@link relayCaused}).
 */
export function abortNoticeFor(err: unknown, localId: string, run?: string): AbortNotice {
  const code = err instanceof CouplerError ? err.code : ErrorCode.PROTOCOL_VIOLATION;
  const relay = relayCaused(err);
  const blame = blameOf(err, localId);
  // Stopped by others, none of them named with certainty: say so, or the receivers would read the
  // empty blame as this party's own doing and name it.
  const nobody = !relay && blame.length === 0 && err instanceof CouplerError && !SELF_CAUSED.has(err.code);
  return { code, blame, ...(run === undefined ? {} : { run }), ...(relay ? { relay } : {}), ...(nobody ? { nobody } : {}) };
}

/**
 * Whom an error blames, for this party's abort notice (a run's, the group's, or formation's): its
 * named parties, except where the cause is this party's own (a stop signal, its own input). A
 * party that stopped because a peer stopped, and could not confirm that peer's claim, blames that
 * peer (who explained itself), never nobody: a notice blaming nobody reads as "my own doing".
 *
 * @param err - the error that stopped this party.
 * @param localId - this party's id (never blamed).
 * @returns roster ids, possibly none.
 */
export function blameOf(err: unknown, localId: string): string[] {
  if (relayCaused(err)) return [];
  if (!(err instanceof CouplerError) || SELF_CAUSED.has(err.code)) return [];
  if (err.code === ErrorCode.PEER_ABORTED && err.peers.length === 0 && err.peer !== undefined) return [err.peer];
  return err.peers.filter((p) => p !== localId);
}
