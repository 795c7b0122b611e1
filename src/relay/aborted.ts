/**
 * What a relay remembers of aggregations that aborted, for members that come late: the abort
 * message (with its evidence naming the culprit), so a late member gets the answer the others got
 * instead of a fresh aggregation that waits for members who already left (and then names nobody).
 *
 * Bounded, and fair between sources: an entry whose members all came from one source (an IPv4
 * address or IPv6 /64, see `relaySourceKey`) counts against that source's quota
 * ({@link ABORTED_PER_SOURCE_MAX}); a source over it forgets its own oldest entry. So one source —
 * one attacker presenting rosters of its own to a relay with roster-bound sessions — can no longer
 * push every other session's entries out of one shared list (it needs
 * {@link ABORTED_AGGREGATIONS_MAX} ÷ {@link ABORTED_PER_SOURCE_MAX} sources to fill the whole
 * memory). Entries whose members came from several sources (an aggregation of several sites, as
 * honest ones are) count against no quota. Entries expire after {@link ABORTED_AGGREGATION_TTL_MS}.
 *
 * @module
 */

/** Most aborted aggregations a relay remembers for members that come late. */
export const ABORTED_AGGREGATIONS_MAX = 1024;
/** Most of those whose members all came from one source. */
export const ABORTED_PER_SOURCE_MAX = 32;
/** How long a relay remembers an aborted aggregation for members that come late, ms. */
export const ABORTED_AGGREGATION_TTL_MS = 5 * 60_000;

interface Entry {
  readonly text: string;
  readonly at: number;
  /** The one source all members came from, if there was one. */
  readonly sole: string | undefined;
}

/** The relay's memory of aborted aggregations (see the module documentation). */
export class AbortedAggregations {
  readonly #entries = new Map<string, Entry>();
  /** Keys of single-source entries, oldest first, by source. */
  readonly #bySource = new Map<string, string[]>();
  readonly #max: number;
  readonly #perSource: number;
  readonly #ttlMs: number;

  constructor(limits: { max?: number; perSource?: number; ttlMs?: number } = {}) {
    this.#max = limits.max ?? ABORTED_AGGREGATIONS_MAX;
    this.#perSource = limits.perSource ?? ABORTED_PER_SOURCE_MAX;
    this.#ttlMs = limits.ttlMs ?? ABORTED_AGGREGATION_TTL_MS;
  }

  /** Number of entries held (expired ones included until the next {@link AbortedAggregations.add}). */
  get size(): number {
    return this.#entries.size;
  }

  /** The abort message of aggregation `key`, if it aborted within the TTL. */
  get(key: string, now: number): string | undefined {
    const e = this.#entries.get(key);
    return e !== undefined && now - e.at <= this.#ttlMs ? e.text : undefined;
  }

  /** Remember that aggregation `key`, whose members came from `sources`, aborted with `text`. */
  add(key: string, text: string, sources: Iterable<string>, now: number): void {
    this.#purge(now);
    this.#delete(key);
    const distinct = new Set(sources);
    const sole = distinct.size === 1 ? distinct.values().next().value! : undefined;
    if (sole !== undefined) {
      const keys = this.#bySource.get(sole) ?? [];
      while (keys.length >= this.#perSource) this.#entries.delete(keys.shift()!);
      keys.push(key);
      this.#bySource.set(sole, keys);
    }
    this.#entries.set(key, { text, at: now, sole });
    while (this.#entries.size > this.#max) this.#delete(this.#entries.keys().next().value!);
  }

  #delete(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    if (e.sole === undefined) return;
    const keys = this.#bySource.get(e.sole)!;
    keys.splice(keys.indexOf(key), 1);
    if (keys.length === 0) this.#bySource.delete(e.sole);
  }

  /** Drop expired entries (insertion order is time order, so they are at the front). */
  #purge(now: number): void {
    for (const [key, e] of this.#entries) {
      if (now - e.at <= this.#ttlMs) break;
      this.#delete(key);
    }
  }
}
