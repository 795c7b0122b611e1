/**
 * Per-peer mailboxes of round messages, bounded in count, bytes and heap. A peer may send at most
 * one message per round name; a second one, or more than the caps allow, is a protocol violation.
 *
 * A message is charged what it costs to hold once decoded: its bytes (its byte strings are views
 * on them) plus the heap its values take (estimated by the codec's scan before decoding). Counting
 * wire bytes alone let 512 KiB of empty byte strings hold 28 MiB of heap each.
 *
 * @module
 */
import { CouplerError, ErrorCode, GroupError, TimeoutError, AbortedError } from '../errors.js';
import type { PlainData } from '../wire/codec.js';
import { runOfRound } from './inbound.js';
import { addDeadline, cancelDeadline, type Deadline } from './deadlines.js';

const newAborted = (): CouplerError => new AbortedError();

/** Most runs a mailbox remembers as stopped by its peer (older ones are forgotten first). */
const MAX_FAILED_RUNS = 1024;

/**
 * Most runs a mailbox remembers as ended here (older ones are forgotten first). A message of an
 * ended run is dropped; one of a run forgotten since is dropped too if its id is of the group's
 * run window (`RunWindow`: its counter passed), else filed like any other and counted against its
 * sender's share until the group ends — thousands of runs after that run ended, no honest message
 * is still in flight, so only a peer that sends for long-finished runs can fill its own share that
 * way.
 */
export const MAX_CLOSED_RUNS = 4096;

interface Waiter {
  resolve(value: PlainData): void;
  reject(err: CouplerError): void;
  /** take's deadline, cancelled where the wait settles, either way. */
  deadline: Deadline | undefined;
  /** take's signal and its listener, removed where the wait settles. */
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** What a waiter holds besides its promise (take's deadline and abort listener), released once it settled. */
function release(w: Waiter): void {
  if (w.deadline !== undefined) cancelDeadline(w.deadline);
  if (w.onAbort !== undefined) w.signal!.removeEventListener('abort', w.onAbort);
}

/** Caps of one peer's mailbox. */
export interface MailboxLimits {
  /** Most undelivered rounds held for one peer. */
  readonly maxPendingRounds: number;
  /** Most undelivered decoded bytes (message bytes plus estimated heap) held for one peer. */
  readonly maxPendingBytes: number;
  /** Most estimated heap of undelivered decoded values held for one peer. */
  readonly maxPendingHeapBytes: number;
}

/** What holding one decoded message costs. */
export interface MessageCost {
  /** The message bytes. */
  readonly bytes: number;
  /** Estimated heap of the decoded value (`DecodedMessage.heapBytes`). */
  readonly heapBytes: number;
}

/** The mailbox of one peer. */
export class Mailbox {
  readonly peer: string;
  readonly #limits: MailboxLimits;
  readonly #messages = new Map<string, { value: PlainData; cost: MessageCost }>();
  /**
   * Rounds this peer sent, by run, for runs not ended here (a second message for one is a
   * violation). By run, so that ending a run forgets its rounds without a pass over the others
   * (rounds outside coupler's runs — a caller's own names — stay, as before).
   */
  readonly #seen = new Map<string, Set<string>>();
  /** Runs ended here (see {@link Mailbox.closeRun}), oldest first, at most {@link MAX_CLOSED_RUNS}. */
  readonly #closed = new Set<string>();
  readonly #waiters = new Map<string, Waiter>();
  #pendingBytes = 0;
  #pendingHeapBytes = 0;
  #error: CouplerError | undefined;
  /**
   * Whether {@link Mailbox.error} comes from the peer's own abort notice (it left the group, or
   * its channel ended after a notice): then a run it stopped with a notice of its own is still
   * judged by that run's notice (see {@link Mailbox.errorFor}).
   */
  #errorExplained = false;
  /** Runs the peer stopped (an abort notice for that run): their rounds fail with this error. */
  readonly #runErrors = new Map<string, CouplerError>();

  /** Whether an early message of a run is kept (see `RunWindow.admits`); all are without one. */
  readonly #admits: ((run: string) => boolean) | undefined;
  /** Messages dropped because their run cannot start here (see `RunWindow`), and their bytes. */
  #dropped = 0;

  constructor(peer: string, limits: MailboxLimits, admits?: (run: string) => boolean) {
    this.peer = peer;
    this.#limits = limits;
    this.#admits = admits;
  }

  /** Messages of this peer dropped, not filed, because their run cannot start here (or was released). */
  get dropped(): number {
    return this.#dropped;
  }

  /** The error that ended this peer's participation, if any. */
  get error(): CouplerError | undefined {
    return this.#error;
  }

  /**
   * The error a round of `run` fails with because of this peer, if any: {@link Mailbox.error}, but
   * where the peer stopped `run` with a notice of its own ({@link Mailbox.failRun}) and then left
   * with a notice (or its channel ended after one), that run's notice. A party that stopped two
   * runs for different reasons and then closed its group had its latest notice, re-filed for the
   * whole group at its channel's end, decide every run — a slower peer then judged the earlier run
   * by the later run's reason (its own doing) and named the honest sender. A peer dropped for
   * misbehaviour or lost without a notice fails every run with that, as before. Undefined while
   * the peer is connected (a run it stopped fails that run's waits, not sends).
   */
  errorFor(run: string): CouplerError | undefined {
    if (this.#error === undefined) return undefined;
    if (!this.#errorExplained || this.#runErrors.size === 0) return this.#error;
    return this.#runErrors.get(run) ?? this.#error;
  }

  /**
   * Heap a further message from this peer may take when decoded: what the heap cap leaves beside
   * the undelivered messages (decode with at most this, so the cap holds before anything is built).
   */
  get heapRoom(): number {
    return Math.max(0, this.#limits.maxPendingHeapBytes - this.#pendingHeapBytes);
  }

  /**
   * File a message for `round`. Returns an error (and files nothing) when it violates the caps or
   * repeats a round; the caller then drops the peer.
   */
  put(round: string, value: PlainData, cost: MessageCost): CouplerError | undefined {
    if (this.#error) return undefined;
    // A run that ended here takes nothing more: a late message of it (a peer that went on with a
    // run this party's caller aborted, say) is dropped, not held against the peer's caps.
    const run = runOfRound(round);
    if (this.#closed.size !== 0 && this.#closed.has(run)) return undefined;
    // A run of coupler's run-id namespace that cannot start here any more, or is further ahead
    // than an honest peer gets: dropped unless someone waits for it (names nobody; see RunWindow).
    if (this.#admits !== undefined && !this.#waiters.has(round) && !this.#admits(run)) {
      this.#dropped++;
      return undefined;
    }
    const seen = this.#seen.get(run);
    if (seen?.has(round)) {
      return new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${this.peer}" sent two messages for round "${round}"`, { peer: this.peer });
    }
    if (seen === undefined) this.#seen.set(run, new Set([round]));
    else seen.add(round);
    const waiter = this.#waiters.get(round);
    if (waiter !== undefined) {
      this.#waiters.delete(round);
      waiter.resolve(value);
      release(waiter);
      return undefined;
    }
    const bytes = cost.bytes + cost.heapBytes;
    if (
      this.#messages.size >= this.#limits.maxPendingRounds ||
      this.#pendingBytes + bytes > this.#limits.maxPendingBytes ||
      this.#pendingHeapBytes + cost.heapBytes > this.#limits.maxPendingHeapBytes
    ) {
      return new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${this.peer}" sent more undelivered data than the mailbox allows`, {
        peer: this.peer,
      });
    }
    this.#messages.set(round, { value, cost });
    this.#pendingBytes += bytes;
    this.#pendingHeapBytes += cost.heapBytes;
    return undefined;
  }

  /** Take the message of `round`, waiting up to `timeoutMs` (and until `signal` aborts). */
  take(round: string, timeoutMs: number, signal?: AbortSignal): Promise<PlainData> {
    if (signal?.aborted && !this.#messages.has(round)) return Promise.reject(new AbortedError());
    const pending = this.wait(round);
    const waiter = this.#waiters.get(round);
    if (waiter === undefined) return pending; // settled at once: ready, lost, or refused
    // One deadline in the group's queue (see deadlines.ts), not a Node timer per take; released
    // where the wait settles, not in a reaction to its promise (one promise less per take).
    waiter.deadline = addDeadline(timeoutMs, () => this.#end(round, () => new TimeoutError(`no message for round "${round}" from "${this.peer}" within ${timeoutMs} ms`, { peer: this.peer })));
    if (signal !== undefined) {
      const onAbort = (): void => this.#end(round, newAborted);
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.signal = signal;
      waiter.onAbort = onAbort;
    }
    return pending;
  }

  /**
   * End a pending wait of `round` with the error `why` makes. Built only when a wait is pending: a
   * gather cancels every peer's wait when it settles, nearly always after each one was answered,
   * and an error per cancel (with its stack trace) was 5 % of the CPU of a secure sum at L = 1.
   */
  #end(round: string, why: () => CouplerError): void {
    const waiter = this.#waiters.get(round);
    if (waiter === undefined) return;
    this.#waiters.delete(round);
    waiter.reject(why());
    release(waiter);
  }

  /**
   * {@link Mailbox.take} without a deadline or signal, for a caller that keeps one deadline for
   * several peers (a gather): it ends a wait it no longer needs with {@link Mailbox.cancel}. No
   * timer, no listener: a round at small L is mostly this bookkeeping.
   */
  wait(round: string): Promise<PlainData> {
    const ready = this.#messages.get(round);
    if (ready !== undefined) {
      this.#messages.delete(round);
      this.#pendingBytes -= ready.cost.bytes + ready.cost.heapBytes;
      this.#pendingHeapBytes -= ready.cost.heapBytes;
      return Promise.resolve(ready.value);
    }
    const run = runOfRound(round);
    if (this.#error) return Promise.reject(this.errorFor(run));
    // A wait of a run that already ended here would only run into its deadline and name the peer.
    if (this.#closed.size !== 0 && this.#closed.has(run)) return Promise.reject(new AbortedError());
    const runError = this.#runErrors.size === 0 ? undefined : this.#runErrors.get(run);
    if (runError !== undefined) return Promise.reject(runError);
    if (this.#seen.get(run)?.has(round) === true) {
      return Promise.reject(new GroupError(ErrorCode.PROTOCOL_VIOLATION, `message of round "${round}" from "${this.peer}" was already taken`));
    }
    if (this.#waiters.has(round)) {
      return Promise.reject(new GroupError(ErrorCode.PROTOCOL_VIOLATION, `round "${round}" of "${this.peer}" is already awaited`));
    }
    // Every field set at once: one object shape for every waiter.
    return new Promise<PlainData>((resolve, reject) => this.#waiters.set(round, { resolve, reject, deadline: undefined, signal: undefined, onAbort: undefined }));
  }

  /** Whether the message of `round` is here, not taken yet (it came after its wait ended). */
  has(round: string): boolean {
    return this.#messages.has(round);
  }

  /** Whether a round of this peer is being waited for right now (what a liveness probe's answer reports). */
  get awaited(): boolean {
    return this.#waiters.size > 0;
  }

  /** End a pending {@link Mailbox.wait} of `round` with {@link AbortedError} (nothing if none is pending). */
  cancel(round: string): void {
    this.#end(round, newAborted);
  }

  /**
   * The peer stopped one run: fail every waiter for a round of that run now, and every later take
   * of a round of that run not yet received. Other runs are not affected.
   */
  failRun(run: string, error: CouplerError): boolean {
    if (this.#error || this.#runErrors.has(run)) return false;
    if (this.#runErrors.size >= MAX_FAILED_RUNS) this.#runErrors.delete(this.#runErrors.keys().next().value!);
    this.#runErrors.set(run, error);
    for (const [round, w] of [...this.#waiters]) {
      if (runOfRound(round) !== run) continue;
      this.#waiters.delete(round);
      w.reject(error);
      release(w);
    }
    return true;
  }

  /**
   * Release what is filed for the runs `gone` says can no longer start here (this party issued
   * their counter to another run): their messages, and the record of their rounds received. Their
   * later messages are dropped by the run window, not by the closed-run record.
   */
  releaseWhere(gone: (run: string) => boolean): void {
    for (const [round, m] of this.#messages) {
      if (!gone(runOfRound(round))) continue;
      this.#messages.delete(round);
      this.#pendingBytes -= m.cost.bytes + m.cost.heapBytes;
      this.#pendingHeapBytes -= m.cost.heapBytes;
      this.#dropped++;
    }
    for (const run of [...this.#seen.keys()]) if (gone(run)) this.#seen.delete(run);
  }

  /** Whether the peer sent anything for run `run` that this party has not ended (taken or not). */
  sentFor(run: string): boolean {
    return this.#seen.has(run);
  }

  /** Whether the peer stopped run `run` (its abort notice for that run arrived and is remembered). */
  stoppedRun(run: string): boolean {
    return this.#runErrors.has(run);
  }

  /**
   * Run `run` ended at this party (done or failed): release what this mailbox holds for it — the
   * messages of its rounds not taken (a peer's statement that arrived after the caller aborted
   * the run, the rest of a gather that settled early), the record of its rounds received, and any
   * wait of it still pending (ended with `ABORTED`) — and drop its later messages. Without this,
   * every run that ended with a message unread left it filed for good, counted against that
   * peer's caps, until an honest peer was dropped for "more undelivered data than the mailbox
   * allows".
   */
  closeRun(run: string): void {
    if (this.#closed.has(run)) return;
    if (this.#closed.size >= MAX_CLOSED_RUNS) this.#closed.delete(this.#closed.keys().next().value!);
    this.#closed.add(run);
    for (const [round, m] of this.#messages) {
      if (runOfRound(round) !== run) continue;
      this.#messages.delete(round);
      this.#pendingBytes -= m.cost.bytes + m.cost.heapBytes;
      this.#pendingHeapBytes -= m.cost.heapBytes;
    }
    this.#seen.delete(run);
    for (const round of [...this.#waiters.keys()]) if (runOfRound(round) === run) this.#end(round, newAborted);
  }

  /** @internal Sizes of the bookkeeping, for tests of its bounds. */
  _sizes(): { pending: number; seen: number; closed: number; waiters: number } {
    return { pending: this.#messages.size, seen: [...this.#seen.values()].reduce((k, s) => k + s.size, 0), closed: this.#closed.size, waiters: this.#waiters.size };
  }

  /**
   * The peer is gone: fail all waiters now and every later take of a round not yet received.
   * `explained`: the error is the verdict of the peer's own abort notice for the whole group (see
   * {@link Mailbox.errorFor}).
   */
  fail(error: CouplerError, explained = false): void {
    if (this.#error) return;
    this.#error = error;
    this.#errorExplained = explained;
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const w of waiters) {
      w.reject(error);
      release(w);
    }
  }
}
