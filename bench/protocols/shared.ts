/**
 * Side-effect-free pieces shared by the protocols benchmark's parent (`index.ts`) and its children
 * (`party.ts`, `dkscale.ts`): variant names, configs, inputs, and a static discovery that carries
 * party hints. No import of this file starts anything.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Discovery, PeerAddress } from '../../src/discovery/types.js';

/**
 * The protocol variants measured side by side. `dkSecureSum` runs with its default opening
 * (aggregated for n ≥ 4), `dkSecureSum/broadcast` with `opening: 'broadcast'`.
 */
export const VARIANTS = [
  'secureSum/seed',
  'secureSum/vector',
  'dkSecureSum',
  'dkSecureSum/broadcast',
  'thresholdSum',
  'ringSecureSum',
  'plainSum',
  'probe/tcp',
  'probe/aead',
  'round',
  'mpyc',
] as const;
export type Variant = (typeof VARIANTS)[number];

/**
 * The physical-limit probes (issue 18): plainSum's all-to-all exchange of 8·L bytes per ordered
 * pair over bare TCP, and over TCP with every 64 KiB chunk sealed and opened with
 * ChaCha20-Poly1305 (node:crypto). No sum, no coupler code (see `probe.ts`).
 */
export const PROBE_VARIANTS: readonly Variant[] = ['probe/tcp', 'probe/aead'];
/**
 * Variants run only when asked for with `--variants`: `mpyc`, a Python MPC framework's semi-honest
 * sum (needs `MPYC_PATH`, see `mpyc.ts`).
 */
export const EXTERNAL_VARIANTS: readonly Variant[] = ['mpyc'];
/** The variants of a default run. */
export const DEFAULT_VARIANTS: readonly Variant[] = VARIANTS.filter((v) => !EXTERNAL_VARIANTS.includes(v));

/**
 * Whether `v` is not a coupler sum (no digest to compare): a probe, `round` (one coupler message
 * round, `sendToAll` + `gather` of a small value) or `mpyc`.
 */
export const isProbe = (v: Variant): boolean => PROBE_VARIANTS.includes(v) || v === 'round' || v === 'mpyc';

/** Every input element is in [-INPUT_MAGNITUDE, INPUT_MAGNITUDE]; the protocols get `bound: BOUND`. */
export const INPUT_MAGNITUDE = 1000;
export const BOUND = 1e4;

/** Where one party listens. */
export interface PartyAddress {
  id: string;
  host: string;
  port: number;
}

/** Config of one party process. */
export interface PartyConfig {
  index: number;
  id: string;
  identity: string;
  roster: string;
  sessionId: string;
  listen: PartyAddress;
  all: PartyAddress[];
  roundTimeoutMs: number;
  joinTimeoutMs: number;
}

/** What a party reports for one measured run. */
export interface RunSample {
  /** This party's time from leaving the barrier to holding the sum, ms. */
  ms: number;
  /** Wire bytes this party sent during the run (sum over peers, `group.stats()` delta). */
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  /** CPU time (user + system) of this party's process over the same span, ms. */
  cpuMs: number;
  /** The system (kernel) part of `cpuMs`. */
  sysMs: number;
  /**
   * The main thread's part of `cpuMs` (Node ≥ 23.9, `process.threadCpuUsage()`; absent before): the
   * rest is V8's and libuv's background threads — optimizing compilers, concurrent GC. The two
   * clocks are not on one scale (a warm or `--single-threaded` party reads 105–110 %): compare
   * shares between configurations.
   */
  mainMs?: number;
  /** Digest of the decoded sum (all parties and all protocols must agree). */
  digest: string;
}

/** One dk scaling variant: how segments travel and how the partial sums are opened. */
export interface DkScaleMode {
  shares: 'seed' | 'vector';
  opening: 'aggregate' | 'broadcast';
}

/** Config of the in-process dk scaling child. */
export interface DkScaleConfig {
  ns: number[];
  k: number;
  L: number;
  reps: number;
  warmup: number;
  modes: DkScaleMode[];
  roundTimeoutMs: number;
}

/** Party ids: numbers from 1, so the canonical (numeric) order is the index order. */
export function partyId(i: number): string {
  return String(i + 1);
}

/** The private input of party `index`: deterministic, in [-INPUT_MAGNITUDE, INPUT_MAGNITUDE], 3 decimals. */
export function partyInput(index: number, L: number): Float64Array {
  const v = new Float64Array(L);
  for (let j = 0; j < L; j++) v[j] = Math.round(Math.sin(index * 7919 + j * 0.61803) * INPUT_MAGNITUDE * 1000) / 1000;
  return v;
}

/** Short digest of a float vector. */
export function digestOf(v: Float64Array): string {
  return createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex').slice(0, 16);
}

/**
 * Static discovery with party hints: every party is given the addresses of the others with the
 * party id they are expected to belong to, so each pair is dialled once, by the party whose id
 * sorts first (the group's tie-break); the hint is never trusted, the handshake decides.
 */
export function hintedDiscovery(all: readonly PartyAddress[], self: string): Discovery {
  const list: PeerAddress[] = all.filter((a) => a.id !== self).map((a) => ({ host: a.host, port: a.port, source: 'static', partyHint: a.id }));
  return { kind: 'static', discover: () => Promise.resolve(list.map((a) => ({ ...a }))) };
}

/**
 * dk scaling phases: agreement echo (`shape`), segment redistribution (`segment`), and the opening
 * split into its commitment echo (`partial/c`), its vectors (broadcast: `partial/c/d`, the
 * commitment echo's digest round, which carries every T_p to everyone; aggregate:
 * `partial/pieces` + `partial/sums`) and the aggregate check echo
 * (`partial/check`; none with broadcast).
 */
export const DK_PHASES = ['agree', 'segment', 'commit', 'vectors', 'check'] as const;
export type DkPhase = (typeof DK_PHASES)[number];

/** One (n, mode) row of the dk scaling run. */
export interface DkScaleRow {
  n: number;
  mode: DkScaleMode;
  joinMs: number;
  wallMs: number[];
  /** Per rep: mean over parties of the wire bytes sent in each phase. */
  bytes: Record<DkPhase | 'total', number[]>;
  /** Per rep: max over parties of the wire bytes sent in each phase. */
  bytesMax: Record<DkPhase | 'total', number[]>;
  /** Per rep: mean over parties of the messages sent in each phase. */
  messages: Record<DkPhase, number[]>;
  /** Every party got the same sum in every rep. */
  agreed: boolean;
}
