/**
 * Side-effect-free pieces shared by the testbed's parent and its party processes: the party
 * configuration, the deterministic test inputs and their expected sums.
 *
 * @module
 */

/** Configuration of one party process (`CPL_PARTY`). */
export interface PartyConfig {
  readonly id: string;
  /** Identity file text (contains the secret seed; only ever passed to that party's process). */
  readonly identity: string;
  /** Roster JSON. */
  readonly roster: string;
  readonly sessionId: string;
  readonly port: number;
  /** Listen address. Default 0.0.0.0 (inside a namespace); 127.0.0.1 for loopback benchmarks. */
  readonly listenHost?: string;
  readonly discovery: { kind: 'dns'; server: string; names: string[] } | { kind: 'static'; list: string[] };
  readonly joinTimeoutMs: number;
  readonly roundTimeoutMs: number;
  readonly mode: 'auto' | 'commands';
  readonly protocols?: string[];
  readonly length: number;
  readonly iterations?: number;
}

/** Input of the party at roster position `index`: element k is ((index+1)·(k+1)) mod 1009. */
export function partyInput(index: number, length: number): Float64Array {
  const x = new Float64Array(length);
  for (let k = 0; k < length; k++) x[k] = ((index + 1) * (k + 1)) % 1009;
  return x;
}

/** Σ of all elements (exact for these integer inputs). */
export function checksumOf(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return s;
}

/** The checksum every party must report for n parties and vectors of `length`. */
export function expectedChecksum(n: number, length: number): number {
  let s = 0;
  for (let p = 0; p < n; p++) s += checksumOf(partyInput(p, length));
  return s;
}
