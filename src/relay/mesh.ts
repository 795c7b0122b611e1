/**
 * The group's use of the relay: per pair, open the channel through the relay (`transport: 'relay'`)
 * or only when the direct path has not produced a channel after a grace period (`'auto'`), and
 * remember which path each channel took.
 *
 * @module
 */
import type { SecureChannel } from '../channel/channel.js';
import type { ChannelOptions } from '../channel/transport.js';
import { MAX_TIMER_MS } from '../channel/channel.js';
import type { AcceptPolicy } from '../channel/driver.js';
import { CouplerError, ErrorCode, InvalidArgumentError } from '../errors.js';
import { relayChannel } from './client.js';
import { RelayError, isTransientRefusal, normalizeRelayUrl, type RelayRefuseReason } from './protocol.js';

/** How a group's channels are opened. */
export type Transport = 'direct' | 'relay' | 'auto';
/** Which path a channel took. */
export type ChannelPath = 'direct' | 'relay';
/** Default grace period of `auto` before a pair falls back to the relay: 2 s. */
export const DEFAULT_AUTO_FALLBACK_MS = 2_000;

const paths = new WeakMap<SecureChannel, ChannelPath>();

/** Mark a channel as opened through the relay (see {@link channelPath}). */
export function markRelayed(ch: SecureChannel): void {
  paths.set(ch, 'relay');
}

/** The path a group channel took (`direct` unless it was opened through the relay). */
export function channelPath(ch: SecureChannel): ChannelPath {
  return paths.get(ch) ?? 'direct';
}

/**
 * Check a transport choice. `relay` and `auto` need a relay URL.
 * @throws {@link InvalidArgumentError}
 */
export function checkTransport(transport: unknown, relayUrl: unknown): { transport: Transport; relayUrl?: string } {
  const t = transport ?? 'direct';
  if (t !== 'direct' && t !== 'relay' && t !== 'auto') throw new InvalidArgumentError('"transport" must be "direct", "relay" or "auto"');
  if (t === 'direct') return { transport: t };
  if (typeof relayUrl !== 'string') throw new InvalidArgumentError(`transport "${t}" needs "relayUrl"`);
  try {
    normalizeRelayUrl(relayUrl);
  } catch {
    throw new InvalidArgumentError('"relayUrl" must be a ws:// or wss:// URL');
  }
  return { transport: t, relayUrl };
}

/**
 * Read `COUPLER_TRANSPORT` (`direct`, `relay`, `auto`) and `COUPLER_RELAY_URL` from an environment.
 * @returns options for `joinGroup` (empty when `COUPLER_TRANSPORT` is unset).
 * @throws {@link InvalidArgumentError} for a bad value.
 */
export function transportFromEnv(env: NodeJS.ProcessEnv = process.env): { transport?: Transport; relayUrl?: string } {
  const t = env.COUPLER_TRANSPORT;
  if (t === undefined || t === '') return {};
  return checkTransport(t, env.COUPLER_RELAY_URL);
}

/** What {@link relayMesh} needs from the group being formed. */
export interface RelayMeshOptions {
  readonly relayUrl: string;
  /** `relay`: start at once; `auto`: after `fallbackMs` for pairs still without a channel. */
  readonly transport: 'relay' | 'auto';
  readonly fallbackMs?: number;
  readonly peers: readonly string[];
  readonly channelOptions: ChannelOptions;
  /** The group's accept policy (tie-break between two connections of one pair). */
  readonly policy: AcceptPolicy;
  /** Whether the pair has a channel now. */
  readonly has: (peer: string) => boolean;
  readonly register: (ch: SecureChannel) => void;
  /** Milliseconds left until the join deadline. */
  readonly remainingMs: () => number;
  readonly signal: AbortSignal;
  /** A transient failure; the pair is retried after `retryInMs`. */
  readonly onFailure?: (peer: string, error: CouplerError, retryInMs: number) => void;
  /** A refusal that will not change by retrying (see {@link isDeterministicRefusal}): formation should fail now. */
  readonly onFatal: (error: CouplerError) => void;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** First retry delay of a relayed pair, ms. */
export const RELAY_RETRY_INITIAL_MS = 100;
/** Longest retry delay of a relayed pair, ms. */
export const RELAY_RETRY_MAX_MS = 5_000;
/** How often a pair with a channel checks that it still has one (a lost channel is re-opened), ms. */
export const RELAY_RECHECK_MS = 100;

/**
 * Refusals that retrying cannot fix (the request itself is wrong for this relay: signature, roster,
 * URL, clock, budget — {@link RELAY_REFUSAL_CLASS}): the party fails at once with the relay's
 * reason instead of retrying until its deadline. Every other refusal is transient.
 */
export function isDeterministicRefusal(reason: RelayRefuseReason): boolean {
  return !isTransientRefusal(reason);
}

/**
 * Open the missing channels of a group through the relay, per pair, until the signal aborts (the
 * mesh is complete or formation failed): a pair whose channel is lost while the mesh is still
 * forming is re-opened, with exponential backoff and jitter, exactly as the direct dialler retries.
 */
export async function relayMesh(o: RelayMeshOptions): Promise<void> {
  if (o.transport === 'auto') await sleep(o.fallbackMs ?? DEFAULT_AUTO_FALLBACK_MS, o.signal);
  await Promise.all(
    o.peers.map(async (peer) => {
      let delay = RELAY_RETRY_INITIAL_MS;
      while (!o.signal.aborted) {
        if (o.has(peer)) {
          delay = RELAY_RETRY_INITIAL_MS;
          await sleep(RELAY_RECHECK_MS, o.signal);
          continue;
        }
        try {
          const ch = await relayChannel(o.relayUrl, peer, {
            ...o.channelOptions,
            _policy: o.policy,
            signal: o.signal,
            pairTimeoutMs: Math.max(1, Math.min(o.remainingMs(), MAX_TIMER_MS)),
          });
          paths.set(ch, 'relay');
          o.register(ch);
        } catch (err) {
          if (o.signal.aborted) return;
          if ((err instanceof RelayError && isDeterministicRefusal(err.reason)) || err instanceof InvalidArgumentError) {
            o.onFatal(err);
            return;
          }
          const e = err instanceof CouplerError ? err : new CouplerError(ErrorCode.HANDSHAKE_FAILED, 'relayed connection failed', { peer, cause: err });
          delay = Math.min(e instanceof RelayError ? delay * 4 : delay * 2, RELAY_RETRY_MAX_MS);
          const jittered = Math.round(delay * (0.75 + Math.random() * 0.5));
          o.onFailure?.(peer, e, jittered);
          await sleep(jittered, o.signal);
        }
      }
    }),
  );
}
