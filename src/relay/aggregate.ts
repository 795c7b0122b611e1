/**
 * The relay's side of a relayed opening: add the members' masked chunks as they stream in and
 * stream the sum back, without ever holding a member's vector (wire format: `aggregate-wire.ts`;
 * the parties' check: `protocols/relay-opening.ts`).
 *
 * Memory: chunk i is added into an accumulator (sum and carries of
 * {@link AGGREGATE_CHUNK_ELEMENTS} elements) when a member's chunk i arrives; the member's bytes
 * are not kept. At most {@link AGGREGATE_WINDOW_CHUNKS} + 1 accumulators are open: a member whose
 * next chunk lies {@link AGGREGATE_WINDOW_CHUNKS} beyond the oldest unfinished one is not read
 * (its socket is paused; one message already in flight is the "+ 1"). A finished chunk is sent to
 * every member only while no member's queue exceeds the connection window, so a member that does
 * not read stops the chunks from finishing, which stops the uploads: {@link AGGREGATE_MEMORY_BYTES}
 * per aggregation on top of the connections' own costs.
 *
 * Checks on every upload message: it parses, its index is the member's next, the signature over
 * (session, aggregation, member, index, byte length, hash chain) verifies under the member's roster
 * key, and its size is the chunk's. A signed message of the wrong size or index is reported with
 * the signed statement as evidence (`upload-size`); one that does not verify is reported as
 * `upload-malformed` (not transferable: the relay's word). Either ends the aggregation.
 *
 * @module
 */
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { encodeBase64 } from '../crypto/bytes.js';
import { carriesToBytes, carriesZeros, carryWidth, r64AddWithCarries, type Carries } from '../protocols/math/fingerprint.js';
import { r64FromBytes } from '../protocols/math/ring64.js';
import {
  AGGREGATE_CHUNK_ELEMENTS,
  aggregateChunkCount,
  aggregateChunkLength,
  answerChainStart,
  answerChunkHash,
  answerStatement,
  chainNext,
  chainStart,
  chunkHash,
  encodeAnswerChunk,
  parseUploadChunk,
  uploadStatement,
  type AggregateAbort,
  type AggregateAbortReason,
  type AggregateWaiting,
  type MemberFinal,
} from './aggregate-wire.js';

/** Chunks a member may run ahead of the oldest unfinished chunk before the relay stops reading it (its kernel socket buffers carry more). */
export const AGGREGATE_WINDOW_CHUNKS = 2;
/**
 * What one aggregation holds at most, bytes: ({@link AGGREGATE_WINDOW_CHUNKS} + 1) accumulators of
 * {@link AGGREGATE_CHUNK_ELEMENTS} × (8 + 4) bytes (sum and the widest carries), plus 64 KiB for
 * the members' chain state, last signed chunks and bookkeeping (≤ 100 members).
 */
export const AGGREGATE_MEMORY_BYTES = (AGGREGATE_WINDOW_CHUNKS + 1) * AGGREGATE_CHUNK_ELEMENTS * 12 + 64 * 1024;

/**
 * How long an aggregation makes no progress (no member admitted, no chunk accepted or sent) before
 * the relay tells its members whom it waits for (ms): 1 s. At most one notice per stall, so at most
 * one per second per aggregation, of ≤ 100 member ids.
 */
export const AGGREGATE_STALL_NOTICE_MS = 1_000;

/** What the engine needs of a member's connection. */
export interface AggregateMemberIO {
  /** Send one message (binary or text); `done` runs when it left the queue (or failed). */
  send(data: Buffer | string, done: () => void): void;
  /** Stop / start reading the member's socket. */
  pause(): void;
  resume(): void;
}

/** @internal hooks that let tests turn the aggregation malicious (see `RelayHooks`). */
export interface AggregateHooks {
  /** Replace a member's chunk before it is added (`null`: drop it, yet count it as received). */
  aggregateContribution?(ctx: { session: string; agg: string; from: string; i: number }, payload: Uint8Array): Uint8Array | null;
  /** Replace the answer chunk sent to one member. */
  aggregateAnswer?(ctx: { session: string; agg: string; to: string; i: number }, sum: Uint8Array, carries: Uint8Array): { sum: Uint8Array; carries: Uint8Array };
  /** Replace the public key announced to one member at admission. */
  aggregateKey?(ctx: { session: string; agg: string; to: string }, key: Uint8Array): Uint8Array;
  /** Replace the final text message sent to one member. */
  aggregateTrailer?(ctx: { session: string; agg: string; to: string }, text: string): string;
}

/** Options of {@link RelayAggregation}. */
export interface RelayAggregationOptions {
  readonly session: string;
  readonly agg: string;
  readonly parties: readonly string[];
  readonly length: number;
  /** Members' roster keys. */
  readonly keyOf: (party: string) => Uint8Array;
  /** The relay's signing key. */
  readonly secretKey: Uint8Array;
  /** Bytes queued towards a member beyond which no further chunk is finished. */
  readonly windowBytes: number;
  readonly hooks?: AggregateHooks;
  /** Bytes moved for a member (uploaded or sent to it): the session's budget; false = over it. */
  readonly onBytes: (member: string, bytes: number) => boolean;
  /** The answer went out to every member. */
  readonly onDone: () => void;
  /**
   * The aggregation failed (the abort message was queued to every member that had joined): with
   * that message's text, for members that join later (none for `bytes-limit`).
   */
  readonly onAbort: (reason: AggregateAbortReason | 'bytes-limit', party: string | undefined, text?: string) => void;
}

interface Member {
  readonly id: string;
  io: AggregateMemberIO | undefined;
  /** Next chunk index expected from it. */
  next: number;
  /** Its hash chain so far. */
  chain: Uint8Array;
  /** Its signed last chunk. */
  final: MemberFinal | undefined;
  paused: boolean;
  /** Bytes queued towards it. */
  queued: number;
  /** The hash chain of the answer chunks sent to it. */
  answerChain: Uint8Array;
}

interface Accumulator {
  readonly sum: Uint32Array;
  readonly carries: Carries;
  count: number;
}

/** One aggregation in progress at the relay. */
export class RelayAggregation {
  readonly #o: RelayAggregationOptions;
  readonly #members = new Map<string, Member>();
  readonly #acc = new Map<number, Accumulator>();
  readonly #count: number;
  readonly #n: number;
  readonly #width: 1 | 2 | 4;
  /** Oldest chunk not yet sent. */
  #next = 0;
  #ended = false;
  /** Once every chunk went out: the members' final chunks and the members still owed their answer. */
  #answering: { finals: MemberFinal[]; members: { i: number; len: number; c: string; sig: string }[]; pending: Set<string> } | undefined;
  /** When the aggregation last made progress (ms). */
  #progressAt = Date.now();
  /** The stall check, armed while the aggregation lives. */
  #stallTimer: NodeJS.Timeout | undefined;
  /** Whether a notice went out since the last progress. */
  #noticed = false;

  constructor(o: RelayAggregationOptions) {
    this.#o = o;
    this.#count = aggregateChunkCount(o.length);
    this.#n = o.parties.length;
    this.#width = carryWidth(this.#n);
    const start = answerChainStart(o.session, o.agg);
    for (const p of o.parties) {
      this.#members.set(p, { id: p, io: undefined, next: 0, chain: chainStart(o.session, o.agg, p, o.length, o.parties), final: undefined, paused: false, queued: 0, answerChain: start });
    }
  }

  #end(): void {
    this.#ended = true;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  /** Forget it without a message (its members were cut for another reason, e.g. `evicted`). */
  dispose(): void {
    this.#end();
    this.#acc.clear();
  }

  /** Whether it finished or failed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** A member's connection was admitted. */
  attach(party: string, io: AggregateMemberIO): void {
    const m = this.#members.get(party);
    if (m === undefined || this.#ended) return;
    m.io = io;
    this.#progress();
  }

  /** Record progress and (re)arm the stall check. */
  #progress(): void {
    this.#progressAt = Date.now();
    this.#noticed = false;
    if (this.#stallTimer === undefined && !this.#ended) this.#armStall(AGGREGATE_STALL_NOTICE_MS);
  }

  #armStall(ms: number): void {
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      if (this.#ended || this.#noticed) return;
      const left = this.#progressAt + AGGREGATE_STALL_NOTICE_MS - Date.now();
      if (left > 0) return this.#armStall(left);
      this.#noticed = true;
      const msg: AggregateWaiting = { t: 'waiting', i: this.#next, parties: this.waitingFor() };
      const text = JSON.stringify(msg);
      for (const m of this.#members.values()) if (m.io !== undefined) this.#send(m, text);
    }, ms);
    this.#stallTimer.unref();
  }

  /**
   * The members the aggregation waits for, in party order: those not admitted yet; else those
   * whose upload of the oldest unfinished chunk is missing; else those whose queue keeps that
   * chunk from going out (slow readers).
   */
  waitingFor(): string[] {
    const all = [...this.#members.values()];
    const missing = all.filter((m) => m.io === undefined);
    if (missing.length > 0) return missing.map((m) => m.id);
    if (this.#next >= this.#count) return [];
    const behind = all.filter((m) => m.next <= this.#next);
    if (behind.length > 0) return behind.map((m) => m.id);
    const acc = this.#acc.get(this.#next);
    const size = acc === undefined ? 0 : 4 + acc.carries.length * (8 + this.#width);
    return all.filter((m) => m.queued > 0 && m.queued + size > this.#o.windowBytes).map((m) => m.id);
  }

  /** A binary message from a member. */
  onUpload(party: string, data: Uint8Array): void {
    const m = this.#members.get(party);
    if (m === undefined || this.#ended) return;
    const o = this.#o;
    const msg = parseUploadChunk(data);
    if (msg === undefined) return this.abort('upload-malformed', party);
    const { i, sig, payload } = msg;
    const c = chainNext(m.chain, chunkHash(i, payload));
    if (!ed25519Verify(uploadStatement(o.session, o.agg, party, i, payload.length, c), sig, o.keyOf(party))) return this.abort('upload-malformed', party);
    if (i >= this.#count || payload.length !== 8 * aggregateChunkLength(o.length, i)) {
      return this.abort('upload-size', party, { i, len: payload.length, c: encodeBase64(c), sig: encodeBase64(sig) });
    }
    // In order, and within the window (+ the one message that may arrive after a pause).
    if (i !== m.next || i > this.#next + AGGREGATE_WINDOW_CHUNKS) return this.abort('upload-malformed', party);
    if (!o.onBytes(party, data.length)) return this.#overBudget(party);
    m.chain = c;
    m.next++;
    this.#progress();
    if (i === this.#count - 1) m.final = { i, len: payload.length, c, sig: Uint8Array.from(sig) };
    const len = payload.length / 8;
    let acc = this.#acc.get(i);
    if (acc === undefined) {
      acc = { sum: new Uint32Array(2 * len), carries: carriesZeros(len, this.#n), count: 0 };
      this.#acc.set(i, acc);
    }
    const contribution = o.hooks?.aggregateContribution ? o.hooks.aggregateContribution({ session: o.session, agg: o.agg, from: party, i }, Uint8Array.from(payload)) : payload;
    if (contribution !== null) r64AddWithCarries(acc.sum, acc.carries, r64FromBytes(contribution));
    acc.count++;
    if (m.next < this.#count && m.next >= this.#next + AGGREGATE_WINDOW_CHUNKS && !m.paused) {
      m.paused = true;
      m.io?.pause();
    }
    this.#emit();
  }

  /** Send every finished chunk in order while the members' queues allow it; then the answer. */
  #emit(): void {
    const o = this.#o;
    while (!this.#ended && this.#next < this.#count) {
      const acc = this.#acc.get(this.#next);
      if (acc === undefined || acc.count < this.#n) return;
      const len = acc.carries.length;
      const size = 4 + len * (8 + this.#width);
      for (const m of this.#members.values()) if (m.queued > 0 && m.queued + size > o.windowBytes) return;
      const i = this.#next;
      const sum = new Uint8Array(acc.sum.buffer, acc.sum.byteOffset, acc.sum.byteLength);
      const carries = carriesToBytes(acc.carries, this.#width);
      const shared = o.hooks?.aggregateAnswer ? undefined : { msg: encodeAnswerChunk(i, sum, carries), h: answerChunkHash(i, sum, carries) };
      this.#acc.delete(i);
      this.#next++;
      this.#progress();
      for (const m of this.#members.values()) {
        let out = shared;
        if (out === undefined) {
          const x = o.hooks!.aggregateAnswer!({ session: o.session, agg: o.agg, to: m.id, i }, Uint8Array.from(sum), Uint8Array.from(carries));
          out = { msg: encodeAnswerChunk(i, x.sum, x.carries), h: answerChunkHash(i, x.sum, x.carries) };
        }
        m.answerChain = chainNext(m.answerChain, out.h);
        if (!o.onBytes(m.id, out.msg.length)) return this.#overBudget(m.id);
        this.#send(m, out.msg);
      }
      for (const m of this.#members.values()) {
        if (m.paused && m.next < this.#next + AGGREGATE_WINDOW_CHUNKS) {
          m.paused = false;
          m.io?.resume();
        }
      }
    }
    if (!this.#ended && this.#next === this.#count) this.#finish();
  }

  #send(m: Member, data: Buffer | string): void {
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    m.queued += size;
    m.io?.send(data, () => {
      m.queued -= size;
      if (!this.#ended) this.#emit();
    });
  }

  /**
   * Every chunk went out: sign the answer for each member (over what it was sent) and send it —
   * to each member once its queue has drained, so an answer (≈ 0.4 KB per member, i.e. O(n) each
   * and O(n²) for all) never sits on top of a full window: what is queued towards a connection
   * stays within its window as for every chunk, and the answers of members that do not read are
   * never built (the aggregation's deadline names the slowest reader). Called again on every
   * drain until every member has its answer; then the aggregation is done.
   */
  #finish(): void {
    const o = this.#o;
    if (this.#answering === undefined) {
      const finals = o.parties.map((p) => this.#members.get(p)!.final!);
      this.#answering = { finals, members: finals.map((f) => ({ i: f.i, len: f.len, c: encodeBase64(f.c), sig: encodeBase64(f.sig) })), pending: new Set(o.parties) };
    }
    const a = this.#answering;
    for (const id of [...a.pending]) {
      const m = this.#members.get(id)!;
      if (m.queued > 0) continue;
      a.pending.delete(id);
      const st = answerStatement(o.session, o.agg, o.parties, o.length, a.finals, m.answerChain);
      let text = JSON.stringify({ t: 'answer', st: encodeBase64(st), sig: encodeBase64(ed25519Sign(st, o.secretKey)), members: a.members });
      if (o.hooks?.aggregateTrailer) text = o.hooks.aggregateTrailer({ session: o.session, agg: o.agg, to: m.id }, text);
      this.#send(m, text);
    }
    if (a.pending.size > 0) return;
    this.#end();
    o.onDone();
  }

  #overBudget(party: string): void {
    if (this.#ended) return;
    this.#end();
    this.#o.onAbort('bytes-limit', party);
  }

  /**
   * The deadline passed: tell every member whom the relay was waiting for — a member that never
   * came, else the one furthest behind in its upload, else the one with the most bytes still
   * queued towards it (a slow reader).
   */
  timeout(): void {
    const all = [...this.#members.values()];
    const missing = all.find((m) => m.io === undefined);
    const behind = all.reduce((a, b) => (b.next < a.next ? b : a));
    const slow = all.reduce((a, b) => (b.queued > a.queued ? b : a));
    const party = missing?.id ?? (behind.next < this.#count ? behind.id : slow.id);
    // A member that never came is told nothing by a remembered abort when it comes late: the abort
    // is about it, and the clock that ran out was started by the others (an early opener could
    // otherwise fail the run for everyone, pointing at the first honest member it was missing).
    // It gets a fresh aggregation instead; the members that were here learn whom the relay missed.
    this.#abort('timeout', party, undefined, missing === undefined);
  }

  /** End the aggregation: tell every member why (`party`: whom it concerns), then the caller closes. */
  abort(reason: AggregateAbortReason, party?: string, ev?: AggregateAbort['ev']): void {
    this.#abort(reason, party, ev, true);
  }

  /** {@link abort}; `remember`: hand the message to `onAbort` for members that join later. */
  #abort(reason: AggregateAbortReason, party: string | undefined, ev: AggregateAbort['ev'] | undefined, remember: boolean): void {
    if (this.#ended) return;
    this.#end();
    this.#acc.clear();
    const msg: AggregateAbort = { t: 'abort', reason, ...(party === undefined ? {} : { party }), ...(ev === undefined ? {} : { ev }) };
    const text = JSON.stringify(msg);
    for (const m of this.#members.values()) if (m.io !== undefined) m.io.send(text, () => undefined);
    this.#o.onAbort(reason, party, remember ? text : undefined);
  }
}

/** The largest upload message of an aggregation (bytes): header + one full chunk. */
export const AGGREGATE_UPLOAD_MESSAGE_BYTES = 68 + 8 * AGGREGATE_CHUNK_ELEMENTS;
