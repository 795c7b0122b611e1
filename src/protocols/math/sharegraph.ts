/**
 * The share graph of dk-secure sum: which parties each party sends its segments to.
 *
 * Construction: the parties (sorted by UTF-16 code units) are shuffled by Fisher–Yates driven by
 * a ChaCha20 keystream keyed with HKDF-SHA256(sessionSeed, "sharegraph") (see `prg.ts`), each
 * index drawn by rejection sampling on 32-bit words (no modulo bias). On the resulting cycle
 * π_0 … π_{n−1}, party π_i sends one segment to each of π_{i+1}, …, π_{i+k−1} (indexes mod n)
 * and keeps one. Every party therefore sends k − 1 segments and receives k − 1; k = n gives the
 * complete graph. All parties derive the same graph from the same session seed.
 *
 * Privacy. A coalition C learns, about the honest parties H, exactly the sum of the inputs of
 * each connected component of the graph restricted to H (the honest-to-honest segments are
 * uniform and unknown; every other segment and every partial sum T_q is known to C). So C learns
 * an individual input x_v iff v is isolated among the honest parties: C contains every party v
 * sends to AND every party that sends to v. See {@link collusionThreshold}.
 *
 * @module
 */
import { InvalidArgumentError, ValueError, ErrorCode } from '../../errors';
import { types } from 'node:util';
import { _checkBytes, _guardArg, _isPlainArray, _describe } from './_checks';
import { _prgStream } from './prg';

/** Most parties a share graph may have. */
export const SHAREGRAPH_MAX_PARTIES = 4096;
/** Longest party id accepted (UTF-16 code units). */
export const SHAREGRAPH_MAX_ID_LENGTH = 256;
/** Accepted session seed lengths in bytes. */
export const SHAREGRAPH_SEED_MIN_BYTES = 16;
/** @see SHAREGRAPH_SEED_MIN_BYTES */
export const SHAREGRAPH_SEED_MAX_BYTES = 1024;

function checkIds(partyIds: unknown): string[] {
  if (!_isPlainArray(partyIds)) throw new InvalidArgumentError(`"partyIds" expected an array of strings, got ${_describe(partyIds)}`);
  if (partyIds.length < 2 || partyIds.length > SHAREGRAPH_MAX_PARTIES) {
    throw new InvalidArgumentError(`"partyIds" expected 2..${SHAREGRAPH_MAX_PARTIES} parties, got ${partyIds.length}`);
  }
  const ids: string[] = [];
  _guardArg('partyIds', () => {
    for (let i = 0; i < partyIds.length; i++) {
      const id: unknown = partyIds[i];
      if (typeof id !== 'string' || id.length === 0 || id.length > SHAREGRAPH_MAX_ID_LENGTH) {
        throw new InvalidArgumentError(`"partyIds[${i}]" expected a string of 1..${SHAREGRAPH_MAX_ID_LENGTH} characters, got ${_describe(id)}`);
      }
      ids.push(id);
    }
  });
  ids.sort();
  for (let i = 1; i < ids.length; i++) {
    if (ids[i] === ids[i - 1]) throw new InvalidArgumentError('"partyIds" contains a duplicate id');
  }
  return ids;
}

function checkK(k: unknown, n: number): number {
  if (typeof k !== 'number' || !Number.isSafeInteger(k)) throw new InvalidArgumentError(`"k" expected an integer, got ${_describe(k)}`);
  if (k < 2 || k > n) {
    throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, `k must be in [2, n] = [2, ${n}] (k = 1 would publish every input), got ${k}`);
  }
  return k;
}

/**
 * Derive the share graph for a session.
 * @param partyIds - the parties' ids (2..4096 distinct non-empty strings); sorted internally, so
 * every party gets the same graph whatever order it passes.
 * @param k - segments per input, 2 ≤ k ≤ n: each party keeps one and sends k − 1.
 * @param sessionSeed - 16..1024 bytes every party agrees on (e.g. the session id hash).
 * @returns for every party id, the k − 1 other parties it sends segments to (ring-offset order).
 * @throws {@link InvalidArgumentError} for malformed ids or seed; {@link ValueError}
 * (`PARAMETERS_UNSAFE`) for k outside [2, n].
 * @example
 * ```ts
 * const graph = shareGraph(['alice', 'bob', 'carol', 'dave'], 3, sessionSeed);
 * graph.get('alice'); // e.g. ['dave', 'bob']
 * ```
 */
export function shareGraph(partyIds: readonly string[], k: number, sessionSeed: Uint8Array): Map<string, string[]> {
  const ids = checkIds(partyIds);
  const n = ids.length;
  checkK(k, n);
  _checkBytes(sessionSeed, 'sessionSeed', SHAREGRAPH_SEED_MIN_BYTES, SHAREGRAPH_SEED_MAX_BYTES);
  const stream = _prgStream(sessionSeed, 'coupler/sharegraph/v1');
  const order = ids.slice();
  for (let i = n - 1; i >= 1; i--) {
    const j = stream.uniform(i + 1);
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  const graph = new Map<string, string[]>();
  for (let i = 0; i < n; i++) {
    const to: string[] = [];
    for (let d = 1; d < k; d++) to.push(order[(i + d) % n] as string);
    graph.set(order[i] as string, to);
  }
  // Return in sorted key order for a stable iteration order.
  return new Map(ids.map((id) => [id, graph.get(id) as string[]]));
}

/** A genuine array of at most SHAREGRAPH_MAX_PARTIES strings, without holes. */
function isStringArray(v: unknown): v is string[] {
  if (!_isPlainArray(v) || v.length > SHAREGRAPH_MAX_PARTIES) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
}

function checkGraph(graph: unknown): Map<string, string[]> {
  if (!types.isMap(graph) || types.isProxy(graph)) {
    throw new InvalidArgumentError(`"graph" expected a Map from shareGraph, got ${_describe(graph)}`);
  }
  const g = graph as Map<unknown, unknown>;
  if (g.size > SHAREGRAPH_MAX_PARTIES) throw new InvalidArgumentError(`"graph" has more than ${SHAREGRAPH_MAX_PARTIES} parties`);
  _guardArg('graph', () => {
    for (const [k, v] of Map.prototype.entries.call(g)) {
      if (typeof k !== 'string' || !isStringArray(v)) {
        throw new InvalidArgumentError('"graph" expected a Map from party id to an array of party ids');
      }
    }
  });
  return g as Map<string, string[]>;
}

/**
 * The parties `party` sends segments to.
 * @param graph - a graph from {@link shareGraph}.
 * @param party - a party id in the graph.
 * @returns a fresh array of k − 1 party ids.
 * @throws {@link InvalidArgumentError} if `graph` is not a Map or `party` is not in it.
 * @example
 * ```ts
 * for (const to of receivers(graph, me)) send(to, segment());
 * ```
 */
export function receivers(graph: Map<string, string[]>, party: string): string[] {
  const g = checkGraph(graph);
  const to = typeof party === 'string' ? g.get(party) : undefined;
  if (to === undefined) throw new InvalidArgumentError('"party" is not in the graph');
  return to.slice();
}

/**
 * The parties that send segments to `party` (whose segments it must wait for).
 * @param graph - a graph from {@link shareGraph}.
 * @param party - a party id in the graph.
 * @returns a fresh array of k − 1 party ids, sorted.
 * @throws {@link InvalidArgumentError} if `graph` is not a Map or `party` is not in it.
 * @example
 * ```ts
 * const expected = new Set(senders(graph, me));
 * ```
 */
export function senders(graph: Map<string, string[]>, party: string): string[] {
  const g = checkGraph(graph);
  if (typeof party !== 'string' || !g.has(party)) throw new InvalidArgumentError('"party" is not in the graph');
  const from: string[] = [];
  for (const [id, to] of g) if (_isPlainArray(to) && to.includes(party)) from.push(id);
  return from.sort();
}

/**
 * The parties whose individual input a coalition learns from everything it sees in dk-secure
 * sum (its own segments, all segments sent to it, all published partial sums T_q): the honest
 * parties all of whose receivers and senders are in the coalition.
 * @param graph - a graph from {@link shareGraph}.
 * @param coalition - colluding party ids.
 * @returns the exposed honest party ids, sorted.
 * @throws {@link InvalidArgumentError} if `graph` is not a Map or `coalition` not an array of strings.
 * @example
 * ```ts
 * exposedParties(graph, ['bob', 'dave']); // e.g. ['carol'] when k = 2 and carol sits between them
 * ```
 */
export function exposedParties(graph: Map<string, string[]>, coalition: readonly string[]): string[] {
  const g = checkGraph(graph);
  if (!_guardArg('coalition', () => isStringArray(coalition))) {
    throw new InvalidArgumentError(`"coalition" expected an array of party ids, got ${_describe(coalition)}`);
  }
  const C = new Set(coalition);
  const out: string[] = [];
  const from = new Map<string, string[]>();
  for (const [u, to] of g) for (const w of to) from.set(w, [...(from.get(w) ?? []), u]);
  for (const [v, to] of g) {
    if (C.has(v)) continue;
    if (to.every((u) => C.has(u)) && (from.get(v) ?? []).every((u) => C.has(u))) out.push(v);
  }
  return out.sort();
}

/**
 * The smallest coalition that learns some honest party's individual input in dk-secure sum with
 * the ring-offset share graph of {@link shareGraph}.
 *
 * Victim v sends to v+1 … v+k−1 and receives from v−1 … v−(k−1) (positions on the shuffled
 * cycle). The coalition must hold all of v's outgoing segments (its k − 1 receivers) and all of
 * its incoming segments (its k − 1 senders) — then v's kept segment is T_v minus the incoming
 * ones, and x_v is the kept plus the outgoing ones. Fewer parties only learn sums over groups of
 * honest parties. The two neighbour sets are disjoint while 2(k − 1) ≤ n − 1, and together cover
 * everyone else once 2(k − 1) ≥ n − 1, so the threshold is
 *
 *   min(2(k − 1), n − 1),
 *
 * the same for every victim and every seed. Examples: k = 2 (a ring) → 2 (the two neighbours);
 * k = n (complete graph, additive n-out-of-n sharing) → n − 1, i.e. only everyone else, who
 * learn x_v from the published sum anyway. Coalitions of size below the threshold still learn
 * sums of small honest groups they surround (e.g. with k = 2, any two parties bracketing a run
 * of honest parties learn that run's total).
 * @param n - number of parties, 2 ≤ n ≤ 4096.
 * @param k - segments per input, 2 ≤ k ≤ n.
 * @returns the threshold coalition size.
 * @throws {@link InvalidArgumentError} / {@link ValueError} for n or k out of range.
 * @example
 * ```ts
 * collusionThreshold(10, 3); // 4
 * collusionThreshold(10, 10); // 9
 * ```
 */
export function collusionThreshold(n: number, k: number): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 2 || n > SHAREGRAPH_MAX_PARTIES) {
    throw new InvalidArgumentError(`"n" expected an integer in [2, ${SHAREGRAPH_MAX_PARTIES}], got ${_describe(n) === 'number' ? n : _describe(n)}`);
  }
  checkK(k, n);
  return Math.min(2 * (k - 1), n - 1);
}
