/**
 * Types shared by the `floor` benchmark's parent (`index.ts`) and child (`echo.ts`); no side effects.
 * @module
 */
import type { Layer } from './layers.js';

/** Config of the echo child (JSON in `BENCH_WORKER_CONFIG`). */
export interface EchoConfig {
  /** Layers whose echo servers `start` opens (`group` is formed by its own requests). */
  readonly layers: readonly Layer[];
  /** The echoing party's serialized identity (`serializeIdentity`); the same party for channel and group. */
  readonly echoIdentity: string;
  /** Roster id of the echoing party. */
  readonly echoId: string;
  /** Roster id of the pinging party (in the parent). */
  readonly pingId: string;
  /** `rosterToJSON` of both parties. */
  readonly roster: string;
  readonly sessionId: string;
  readonly roundTimeoutMs: number;
}
