/**
 * Waiting until enough peers are known: poll a discovery with exponential backoff and jitter.
 *
 * @module
 */
import { AbortedError, CouplerError, describeType, DiscoveryError, ErrorCode, InvalidArgumentError } from '../errors';
import { finalizePeers, isValidPort, peerKey } from './_peers';
import type { Discovery, PeerAddress } from './types';

/** Default first pause between lookups, milliseconds. */
export const WAIT_INITIAL_DELAY = 100;
/** Default longest pause between lookups, milliseconds. */
export const WAIT_MAX_DELAY = 2_000;
/** Largest accepted `timeoutMs` (about 24.8 days, the limit of a Node timer). */
export const MAX_WAIT_TIMEOUT = 2_147_483_647;
/** Largest accepted `expected`. */
export const MAX_EXPECTED_PEERS = 4096;
/** Most distinct addresses remembered across polls. */
const MAX_KNOWN = 4096;

/** Options of {@link waitForPeers}. */
export interface WaitForPeersOptions {
  /** How many distinct addresses (host and port) are enough. Count your own address too if the discovery returns it (Swarm's `tasks.<service>` does). */
  readonly expected: number;
  /** Overall deadline, milliseconds. */
  readonly timeoutMs: number;
  /** Abort the wait. */
  readonly signal?: AbortSignal;
  /** First pause between lookups, milliseconds. Default {@link WAIT_INITIAL_DELAY}. */
  readonly initialDelayMs?: number;
  /** Longest pause between lookups, milliseconds. Default {@link WAIT_MAX_DELAY}. */
  readonly maxDelayMs?: number;
}

function fail(message: string): never {
  throw new InvalidArgumentError(`waitForPeers: ${message}`);
}

function checkInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`"${field}" expected an integer in ${min}..${max}, got ${describeType(value)}${typeof value === 'number' ? ` ${value}` : ''}`);
  }
  return value;
}

/** A lookup error worth retrying: discovery could not answer now, but may later. */
function isTransient(err: unknown): boolean {
  return err instanceof CouplerError && (err.code === ErrorCode.DISCOVERY_FAILED || err.code === ErrorCode.TIMEOUT);
}

function describeError(err: unknown): string {
  if (err instanceof CouplerError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.name : describeType(err);
}

/**
 * Poll `discovery` until at least `expected` distinct addresses are known, and return them.
 *
 * Results are united across polls (a peer seen once stays known), deduplicated by host and port
 * and sorted. Pauses grow exponentially from `initialDelayMs` to `maxDelayMs`, each with random
 * jitter (between half and all of the nominal pause) so that many containers starting together
 * do not poll in lockstep. Each lookup gets a signal that aborts at the deadline, and the wait
 * returns at the deadline even if a lookup ignores it. Every timer is cleared before returning.
 *
 * A lookup that rejects with a transient error (`COUPLER_ERR_DISCOVERY_FAILED` or
 * `COUPLER_ERR_TIMEOUT`, e.g. a DNS server not answering yet) is retried; its message is kept for
 * the final error. Any other error (a malformed configuration, a bug) is thrown at once.
 *
 * @param discovery - where to look
 * @param options - how many addresses are enough, the deadline, an abort signal, backoff bounds
 * @returns the known addresses (at least `expected`), deduplicated and sorted
 * @throws {@link DiscoveryError} (`COUPLER_ERR_DISCOVERY_FAILED`) at the deadline, saying how many
 *   of how many were found, where from, and the last lookup error
 * @throws {@link AbortedError} (`COUPLER_ERR_ABORTED`) when `signal` aborts
 * @throws {@link InvalidArgumentError} for a bad discovery object or option (naming the field), or
 *   when the discovery returns something that is not an array of PeerAddress
 * @throws any non-transient error the discovery itself rejects with, unchanged
 * @example
 * ```ts
 * const discovery = dnsDiscovery({ names: ['tasks.sum'], port: 7000 });
 * const peers = await waitForPeers(discovery, { expected: 3, timeoutMs: 60_000 });
 * ```
 */
export async function waitForPeers(discovery: Discovery, options: WaitForPeersOptions): Promise<PeerAddress[]> {
  if (typeof discovery !== 'object' || discovery === null || typeof discovery.discover !== 'function') {
    fail(`"discovery" expected an object with a discover() method, got ${describeType(discovery)}`);
  }
  if (typeof options !== 'object' || options === null) fail(`options expected an object, got ${describeType(options)}`);
  const expected = checkInt('expected', options.expected, 1, MAX_EXPECTED_PEERS);
  const timeoutMs = checkInt('timeoutMs', options.timeoutMs, 1, MAX_WAIT_TIMEOUT);
  const initialDelayMs = checkInt('initialDelayMs', options.initialDelayMs ?? WAIT_INITIAL_DELAY, 1, MAX_WAIT_TIMEOUT);
  const maxDelayMs = checkInt('maxDelayMs', options.maxDelayMs ?? WAIT_MAX_DELAY, initialDelayMs, MAX_WAIT_TIMEOUT);
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) fail(`"signal" expected an AbortSignal, got ${describeType(signal)}`);
  if (signal?.aborted) throw new AbortedError('waitForPeers aborted');

  const started = Date.now();
  const kind = typeof discovery.kind === 'string' ? discovery.kind.slice(0, 64) : 'unknown';
  const known = new Map<string, PeerAddress>();
  let lookups = 0;
  let lastError: unknown;

  // One controller for this wait: aborted by the caller's signal or by the deadline. It wakes
  // the pause, cancels the lookup in flight, and is what every pending promise races against.
  const stop = new AbortController();
  let deadlinePassed = false;
  const deadline = setTimeout(() => {
    deadlinePassed = true;
    stop.abort();
  }, timeoutMs);
  const onCallerAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onCallerAbort, { once: true });
  const stopped = new Promise<'stopped'>((resolve) => stop.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));

  const pause = async (ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))), stopped]);
    } finally {
      clearTimeout(timer);
    }
  };

  try {
    let delay = initialDelayMs;
    while (!stop.signal.aborted) {
      lookups++;
      const attempt = Promise.resolve().then(() => discovery.discover({ signal: stop.signal }));
      attempt.catch(() => undefined); // a lookup that settles after we stopped must not go unhandled
      let result: PeerAddress[] | 'stopped';
      try {
        result = await Promise.race([attempt, stopped]);
      } catch (err) {
        if (stop.signal.aborted) break;
        if (!isTransient(err)) throw err;
        lastError = err;
        result = [];
      }
      if (result === 'stopped') break;
      if (!Array.isArray(result)) fail(`discovery "${kind}" returned ${describeType(result)} instead of an array`);
      for (const peer of result as unknown[]) {
        if (typeof peer !== 'object' || peer === null) fail(`discovery "${kind}" returned a ${describeType(peer)} instead of a PeerAddress`);
        const p = peer as Partial<PeerAddress>;
        if (typeof p.host !== 'string' || p.host === '' || !isValidPort(p.port) || typeof p.source !== 'string') {
          fail(`discovery "${kind}" returned a malformed PeerAddress (host, port 1..65535 and source are required)`);
        }
        if (known.size >= MAX_KNOWN) break;
        const key = peerKey(p as PeerAddress);
        if (!known.has(key)) known.set(key, p as PeerAddress);
      }
      if (known.size >= expected) return finalizePeers(known.values());
      const jittered = delay / 2 + (Math.random() * delay) / 2;
      await pause(Math.max(1, Math.round(jittered)));
      delay = Math.min(delay * 2, maxDelayMs);
    }
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onCallerAbort);
    stop.abort(); // releases the `stopped` listener; a lookup still in flight is cancelled
  }

  if (!deadlinePassed || signal?.aborted) throw new AbortedError('waitForPeers aborted');
  const found = finalizePeers(known.values());
  const sources = [...new Set(found.map((p) => p.source))].slice(0, 8);
  const listed = found.slice(0, 10).map((p) => (p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`));
  const message =
    `waitForPeers: found ${found.length} of ${expected} expected peer addresses via ${kind} ` +
    `within ${timeoutMs} ms (${lookups} lookups, ${Date.now() - started} ms elapsed)` +
    (found.length > 0 ? `; found ${listed.join(', ')}${found.length > listed.length ? ', ...' : ''} from ${sources.join(', ')}` : '') +
    (lastError === undefined ? '' : `; last lookup error: ${describeError(lastError)}`);
  throw new DiscoveryError(message, lastError === undefined ? {} : { cause: lastError });
}
