/**
 * Deadlines of the group's per-message waits (a receive's round deadline, a send's stall
 * deadline), kept in one queue per process behind one Node timer.
 *
 * Each message used to create and clear two Node timers. With only one or two of a duration
 * pending at a time (a ping-pong, a small sum), each `setTimeout` built a Timeout, a timer list for
 * its duration and a priority-queue entry, and each `clearTimeout` tore the list down again
 * (`insert` / `unenroll` in profiles of the `floor` bench). Here a deadline is a small record in a
 * doubly linked list per duration (deadlines of one duration are added in time order, so each
 * list stays sorted), cancelled by unlinking it, and one timer is armed for the earliest deadline.
 * While a deadline is pending the timer keeps the process alive, as the timers it replaces did.
 *
 * A deadline fires no earlier than Node's timer for the same duration would: at least `ms` after
 * it was added, less the sub-millisecond part Node truncates as well.
 *
 * @module
 */

/** A pending deadline (see {@link addDeadline}); cancel it with {@link cancelDeadline}. */
export interface Deadline {
  /** When it fires (`performance.now()` ms). */
  readonly at: number;
  /** Undefined once fired or cancelled. */
  fire: (() => void) | undefined;
  prev: Deadline | undefined;
  next: Deadline | undefined;
  list: DeadlineList | undefined;
}

interface DeadlineList {
  readonly ms: number;
  head: Deadline | undefined;
  tail: Deadline | undefined;
}

/** Durations with a list; a list left empty stays for reuse, up to this many durations. */
const MAX_IDLE_LISTS = 16;
/** Longest delay a Node timer honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const lists = new Map<number, DeadlineList>();
let live = 0;
let timer: NodeJS.Timeout | undefined;
/** When the armed timer fires (`performance.now()` ms), Infinity when none is armed. */
let timerAt = Infinity;

/**
 * Call `fire` once `ms` milliseconds have passed, unless the deadline is cancelled first. `fire`
 * runs from a timer callback.
 */
export function addDeadline(ms: number, fire: () => void): Deadline {
  // As Node's setTimeout: a delay that is not a number from 1 to 2^31 − 1 is 1 ms; whole ms.
  ms = ms >= 1 && ms <= MAX_TIMER_MS ? Math.trunc(ms) : 1;
  const at = performance.now() + ms;
  let list = lists.get(ms);
  if (list === undefined) {
    if (lists.size >= MAX_IDLE_LISTS) dropIdleLists();
    list = { ms, head: undefined, tail: undefined };
    lists.set(ms, list);
  }
  const d: Deadline = { at, fire, prev: list.tail, next: undefined, list };
  if (list.tail === undefined) list.head = d;
  else list.tail.next = d;
  list.tail = d;
  if (live++ === 0 && timer !== undefined) timer.ref();
  if (at < timerAt) arm(at, ms);
  return d;
}

/** Cancel a pending deadline (nothing if it fired or was cancelled already). */
export function cancelDeadline(d: Deadline): void {
  if (d.fire === undefined) return;
  d.fire = undefined;
  unlink(d);
  // Nothing pending: the timer may stay armed (it finds nothing when it fires).
  if (--live === 0) idle();
}

/** Nothing pending: the armed timer, if any, no longer holds the process open. */
function idle(): void {
  timer?.unref();
}

function unlink(d: Deadline): void {
  const list = d.list;
  if (list === undefined) return; // taken off already: due, about to fire
  if (d.prev === undefined) list.head = d.next;
  else d.prev.next = d.next;
  if (d.next === undefined) list.tail = d.prev;
  else d.next.prev = d.prev;
  d.prev = d.next = undefined;
  d.list = undefined;
}

function dropIdleLists(): void {
  for (const [ms, l] of lists) if (l.head === undefined) lists.delete(ms);
}

function arm(at: number, ms: number): void {
  if (timer !== undefined) clearTimeout(timer);
  timerAt = at;
  timer = setTimeout(onTimer, Math.max(1, Math.min(MAX_TIMER_MS, Math.ceil(ms))));
  if (live === 0) timer.unref();
}

function onTimer(): void {
  timer = undefined;
  timerAt = Infinity;
  // Node truncates a timer's start to its loop's millisecond clock: a deadline within 1 ms of now
  // is due (as Node's own timer for it would have fired by now).
  const now = performance.now() + 1;
  const due: Deadline[] = [];
  let next = Infinity;
  for (const list of lists.values()) {
    let d = list.head;
    while (d !== undefined && d.at <= now) {
      const after = d.next;
      unlink(d);
      due.push(d);
      d = after;
    }
    if (d !== undefined && d.at < next) next = d.at;
  }
  if (next !== Infinity) arm(next, next - performance.now());
  // One by one, each still pending: a deadline's action may cancel another one that is due too.
  for (const d of due) {
    const fire = d.fire;
    if (fire === undefined) continue;
    d.fire = undefined;
    if (--live === 0) idle();
    try {
      fire();
    } catch (err) {
      // As a throwing timer callback would: uncaught, but the other due deadlines still fire.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
