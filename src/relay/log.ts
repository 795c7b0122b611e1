/**
 * The relay's log lines: one per admission of a new session, one per session end (id, roster
 * digest, sources, bytes, duration, why), and refusals rate-limited per (reason, source) so that
 * a flood of refusals costs a line per interval, with the count of the ones held back.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { RelayRefuseReason } from './protocol.js';
import type { RelayEvent } from './server.js';

/** Default interval in which repeated refusals of one (reason, source) are logged once (ms): 10 s. */
export const DEFAULT_REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Most (reason, source) keys tracked for the rate limit; beyond it, refusals are counted under one key. */
export const MAX_REFUSAL_LOG_KEYS = 1_024;

/** Options of {@link relayLogger}. */
export interface RelayLoggerOptions {
  /** Where lines go (without trailing newline). */
  readonly write: (line: string) => void;
  /** Repeated refusals of one (reason, source) are logged once per interval (ms). Default {@link DEFAULT_REFUSAL_LOG_INTERVAL_MS}. */
  readonly refusalIntervalMs?: number;
  /** Clock (ms). Default `Date.now`. */
  readonly now?: () => number;
  /** Log every admitted connection, not only the first of each session. Default false. */
  readonly verbose?: boolean;
}

/** Short form of a roster digest for logs (its first 12 hex digits). */
const shortDigest = (d: string): string => d.slice(0, 12);
/** A session id as logged: roster-bound ids lose their (already logged) digest suffix. */
const shortSession = (id: string): string => id.replace(/#[0-9a-f]{64}$/, '#…');

/**
 * Make an `onEvent` handler for {@link startRelay} that writes log lines.
 *
 * @throws {@link InvalidArgumentError} for a bad option.
 * @example
 * const relay = await startRelay({ rosters, onEvent: relayLogger({ write: (l) => console.error(l) }) });
 */
export function relayLogger(options: RelayLoggerOptions): (event: RelayEvent) => void {
  if (typeof options?.write !== 'function') throw new InvalidArgumentError('"write" must be a function');
  const interval = options.refusalIntervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS;
  if (!Number.isSafeInteger(interval) || interval < 0) throw new InvalidArgumentError('"refusalIntervalMs" must be a non-negative integer');
  const now = options.now ?? Date.now;
  const seen = new Map<string, { last: number; held: number }>();
  const refused = (reason: RelayRefuseReason, source: string): void => {
    let key = `${reason} ${source}`;
    if (!seen.has(key) && seen.size >= MAX_REFUSAL_LOG_KEYS) {
      // Forget keys whose interval has passed; if none, count under one shared key.
      const t = now();
      for (const [k, v] of seen) if (t - v.last >= interval && v.held === 0) seen.delete(k);
      if (seen.size >= MAX_REFUSAL_LOG_KEYS) key = `${reason} (many sources)`;
    }
    const t = now();
    const e = seen.get(key);
    if (e !== undefined && t - e.last < interval) {
      e.held++;
      return;
    }
    const held = e?.held ?? 0;
    seen.set(key, { last: t, held: 0 });
    options.write(`[coupler relay] refused ${key.slice(reason.length + 1)} (${reason})${held > 0 ? `, and ${held} more like it in the last ${Math.round((t - e!.last) / 1000)} s` : ''}`);
  };
  return (e: RelayEvent): void => {
    if (e.type === 'refused') refused(e.reason, e.source);
    else if (e.type === 'admitted') {
      if (e.newSession || options.verbose === true) {
        options.write(`[coupler relay] ${e.newSession ? 'session' : 'admitted'} ${shortSession(e.session)} roster ${shortDigest(e.digest)}: ${e.from} -> ${e.to} from ${e.source}`);
      }
    } else {
      options.write(
        `[coupler relay] session ended ${shortSession(e.session)} roster ${shortDigest(e.digest)} (${e.reason}): ${e.bytes} bytes in ${(e.durationMs / 1000).toFixed(1)} s, sources ${e.sources.join(', ')}`,
      );
    }
  };
}
