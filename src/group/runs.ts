/**
 * Which runs a party keeps early messages for: the run-id window.
 *
 * Run ids of {@link Group.nextRunId} are `<name>.<k>`: one counter k per group, shared by every
 * protocol and every name (a view's are `<name>.<label>.<k>`, counted per view label). Every party
 * that runs the same sequence gets the same ids. So, for a name in this namespace (coupler's own
 * protocol names, and any name this party passed to `nextRunId`), two kinds of run are not ones
 * this party will ever start, and a message of them is dropped, not filed (nor held against any
 * cap, nor held for the life of the group):
 *
 * - `<name>.<k>` with k at or below the counter this party has reached, not running here: this
 *   party issued counter k to another run (or ran this one and ended it). When this party issues
 *   counter k, what its mailboxes filed for other runs at counters up to k is released.
 * - `<name>.<k>` more than {@link DEFAULT_MAX_RUNS_AHEAD} (`mailbox.maxRunsAhead`) counters ahead.
 *   How far ahead is an honest peer? A run completes only with this party's messages of it, so a
 *   peer is at most one run ahead of this party in the runs that need it — two with a run that
 *   failed at the peer before this party started it; a tolerant run (thresholdSum) goes on
 *   without a party that is late, so a peer can be further ahead only of a party that is already
 *   a straggler (a dropout of those runs). Hence a drop, never a violation: dropping names nobody,
 *   and a peer far ahead is not refused, only not buffered for.
 *
 * Run ids outside the namespace (a caller's own names, `run/…` rounds of `sendToAll`/`gather`) are
 * filed as before: held until `endRun(run)` or the group ends, within the sender's share of the
 * mailbox caps. A name that merely looks like `<name>.<k>` with an unknown name counts as a
 * caller's: a caller counting its own exchanges (`job.5`) must never have a message dropped that
 * it is about to wait for.
 *
 * @module
 */

/** Default of `mailbox.maxRunsAhead`: counters ahead of this party's whose early messages are kept. */
export const DEFAULT_MAX_RUNS_AHEAD = 16;

/**
 * Coupler's own protocol names (the `protocol` its sums pass to `nextRunId`: src/protocols). A peer
 * may be ahead in a protocol this party has not run yet, so these are in the namespace from the
 * start; a name that changes there only loses the drop (its runs are then filed as a caller's).
 */
const PROTOCOL_NAMES: readonly string[] = ['sum', 'dk', 'threshold', 'ring', 'plain'];

/** Most runs remembered as running here (issued, not ended; the oldest forgotten first). */
const MAX_LIVE_RUNS = 4096;
/** Most names remembered as passed to `nextRunId` here (they come from the caller's code). */
const MAX_NAMES = 1024;
/** A view label (`w` + 12 hex digits, see `Group.without`). */
const VIEW_LABEL = /^w[0-9a-f]{12}$/;

/** A run id of the counter namespace, parsed. */
interface Parsed {
  /** The name (protocol). */
  readonly name: string;
  /** The view label, or undefined for the group's own runs. */
  readonly label: string | undefined;
  /** The counter. */
  readonly k: number;
}

/** The run window of one group (shared by its views). */
export class RunWindow {
  /** Counters ahead of this party's whose early messages are kept. */
  readonly ahead: number;
  /** The group's counter (the last `<name>.<k>` issued). */
  #counter = 0;
  /** The views' counters, by label. */
  readonly #views = new Map<string, number>();
  /** Names in the namespace. */
  readonly #names = new Set<string>(PROTOCOL_NAMES);
  /** Runs issued here and not ended. */
  readonly #live = new Set<string>();
  /** The run issued here at each counter (key: view label or '', `#`, counter), the newest kept. */
  readonly #slots = new Map<string, string>();
  /** Told when this party issues a run (mailboxes release what can no longer start). */
  readonly #onIssue: ((run: string) => void)[] = [];

  constructor(ahead = DEFAULT_MAX_RUNS_AHEAD) {
    this.ahead = ahead;
  }

  /** Call `f` each time a run is issued here. */
  onIssue(f: (run: string) => void): void {
    this.#onIssue.push(f);
  }

  /** This party issued `run` = `<name>.<k>` (label undefined) or `<name>.<label>.<k>`. */
  issued(run: string, name: string, k: number, label?: string): void {
    if (label === undefined) this.#counter = Math.max(this.#counter, k);
    else this.#views.set(label, Math.max(this.#views.get(label) ?? 0, k));
    if (!this.#names.has(name)) {
      if (this.#names.size >= MAX_NAMES + PROTOCOL_NAMES.length) {
        // Forget the oldest caller name (never coupler's own).
        for (const n of this.#names) {
          if (!PROTOCOL_NAMES.includes(n)) {
            this.#names.delete(n);
            break;
          }
        }
      }
      this.#names.add(name);
    }
    if (this.#live.size >= MAX_LIVE_RUNS) this.#live.delete(this.#live.keys().next().value!);
    this.#live.add(run);
    const slot = `${label ?? ''}#${k}`;
    this.#slots.delete(slot);
    if (this.#slots.size >= MAX_LIVE_RUNS) this.#slots.delete(this.#slots.keys().next().value!);
    this.#slots.set(slot, run);
    for (const f of this.#onIssue) f(run);
  }

  /** Run `run` ended here. */
  ended(run: string): void {
    this.#live.delete(run);
  }

  /** Whether `run` was issued here and has not ended. */
  running(run: string): boolean {
    return this.#live.has(run);
  }

  /**
   * The run this party issued at `run`'s counter, when that is another run: a peer asks about a
   * run of its own (a liveness probe, see `Mesh.traceStall`) that this party will never start,
   * because its code took that counter for something else (images whose sequences of runs differ).
   * Undefined when this party issued `run` itself, has not reached its counter, skipped the counter,
   * forgot it (the newest {@link MAX_LIVE_RUNS} are kept), or `run` is not a counter's id at all.
   * Any `<name>.<k>` (or `<name>.<view label>.<k>`) is read here, whatever the name: the asker
   * only asks about runs it took from its counter, and a name this party never used is exactly
   * what differing code looks like. Where the id reads two ways, only when both readings agree.
   */
  elsewhere(run: string): string | undefined {
    if (this.#live.has(run)) return undefined;
    const readings = parseRunId(run, () => true);
    if (readings === undefined) return undefined;
    let other: string | undefined;
    for (const { label, k } of readings) {
      const at = label === undefined ? this.#counter : (this.#views.get(label) ?? 0);
      const mine = k <= at ? this.#slots.get(`${label ?? ''}#${k}`) : undefined;
      if (mine === undefined || mine === run) return undefined;
      other ??= mine;
    }
    return other;
  }

  /**
   * A run running here in another counter namespace (the group's own counter, or a view's), when
   * `run` is one this party has not reached: its caller is busy in that run and has not called
   * `run` yet. Two honest parties whose sequences diverged at run time — one retries a failed run
   * in a view (`group.without`), the other, where that run completed, goes on to its next sum —
   * each wait for the other in a run the other never starts; without this, each answered like a
   * party whose caller has not called at all, and each named the other (review23 W7). Undefined
   * when `run` is not a counter's id, was reached here, or nothing runs here in another namespace.
   */
  busyElsewhere(run: string): string | undefined {
    if (this.#live.has(run)) return undefined;
    const at = runCounterOf(run);
    if (at === undefined) return undefined;
    const reached = at.space === '' ? this.#counter : (this.#views.get(at.space) ?? 0);
    if (at.k <= reached) return undefined;
    const live = [...this.#live];
    for (let i = live.length - 1; i >= 0; i--) {
      const other = runCounterOf(live[i]!);
      if (other !== undefined && other.space !== at.space) return live[i];
    }
    return undefined;
  }

  /**
   * The counter slot (`<view label or ''>#<k>`) of `run` when a peer may honestly be waiting in it
   * for this party: it runs here, or its counter is within `ahead` of this party's counter of a
   * namespace it keeps (the group's own, or a view's it issued runs in) — a run this party ended
   * or gave to another run (R21-4) a little behind, or one it has not reached yet (a party a batch
   * of concurrent runs ahead asks about each). Undefined otherwise. A liveness probe about such a
   * run is answered over the per-peer budget, once per slot and second (review24 B1): at most the
   * runs running here plus 2 × `ahead` per namespace kept, whatever names a peer puts in front of
   * the counters.
   */
  probeSlot(run: string): string | undefined {
    const at = runCounterOf(run);
    if (at === undefined) return undefined;
    const slot = `${at.space}#${at.k}`;
    if (this.#live.has(run)) return slot;
    const reached = at.space === '' ? this.#counter : this.#views.get(at.space);
    if (reached === undefined) return undefined;
    return at.k > reached - this.ahead && at.k <= reached + this.ahead ? slot : undefined;
  }

  /**
   * Whether a run id is in the counter namespace (a name of coupler's or one this party passed to
   * `nextRunId`); undefined if not.
   */
  #parse(run: string): Parsed[] | undefined {
    return parseRunId(run, (name) => this.#names.has(name));
  }

  /**
   * Whether an early message of `run` (one nobody waits for yet) is kept: false for a run of the
   * namespace that cannot start here any more or is too far ahead (see the module notes). Where a
   * run id reads two ways (a name that itself ends in a view label), it is kept if either keeps it.
   */
  admits(run: string): boolean {
    if (this.#live.size !== 0 && this.#live.has(run)) return true;
    const parsed = this.#parse(run);
    if (parsed === undefined) return true;
    return parsed.some(({ label, k }) => {
      const at = label === undefined ? this.#counter : (this.#views.get(label) ?? 0);
      return k > at && k <= at + this.ahead;
    });
  }
}

/**
 * The readings of a run id as `<name>.<k>` and as `<name>.<view label>.<k>`, keeping those whose
 * name `known` accepts; undefined when none.
 */
function parseRunId(run: string, known: (name: string) => boolean): Parsed[] | undefined {
  const dot = run.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const digits = run.slice(dot + 1);
  if (!/^[1-9][0-9]{0,14}$/.test(digits)) return undefined;
  const k = Number(digits);
  const prefix = run.slice(0, dot);
  const out: Parsed[] = [];
  if (known(prefix)) out.push({ name: prefix, label: undefined, k });
  const inner = prefix.lastIndexOf('.');
  if (inner > 0) {
    const name = prefix.slice(0, inner);
    const label = prefix.slice(inner + 1);
    if (VIEW_LABEL.test(label) && known(name)) out.push({ name, label, k });
  }
  return out.length === 0 ? undefined : out;
}

/**
 * The counter of a run id and its namespace: `''` for the group's own (`<name>.<k>`), the view
 * label for a view's (`<name>.<view label>.<k>`, the segment before the counter a view label);
 * undefined when the id does not end in a counter.
 */
export function runCounterOf(run: string): { space: string; k: number } | undefined {
  const dot = run.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const digits = run.slice(dot + 1);
  if (!/^[1-9][0-9]{0,14}$/.test(digits)) return undefined;
  const prefix = run.slice(0, dot);
  const inner = prefix.lastIndexOf('.');
  const label = inner > 0 ? prefix.slice(inner + 1) : '';
  return { space: VIEW_LABEL.test(label) ? label : '', k: Number(digits) };
}
