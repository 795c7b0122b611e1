/**
 * The group's use of the relay: per pair, open the channel through the relay (`transport: 'relay'`)
 * or only when the direct path has not produced a channel after a grace period (`'auto'`), and
 * remember which path each channel took.
 *
 * @module
 */
import type { SecureChannel } from '../channel/channel.js';
import type { ChannelOptions } from '../channel/transport.js';
import type { RefuseReason } from '../channel/handshake.js';
import { CouplerError, ErrorCode, InvalidArgumentError } from '../errors.js';
import { relayChannel } from './client.js';
import { RelayError, normalizeRelayUrl } from './protocol.js';

/** How a group's channels are opened. */
export type Transport = 'direct' | 'relay' | 'auto';
/** Which path a channel took. */
export type ChannelPath = 'direct' | 'relay';
/** Default grace period of `auto` before a pair falls back to the relay: 2 s. */
export const DEFAULT_AUTO_FALLBACK_MS = 2_000;

const paths = new WeakMap<SecureChannel, ChannelPath>();

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
  readonly acceptPeer: (peer: string, stage: 'hello' | 'reply' | 'finish') => RefuseReason | undefined;
  /** Whether the pair already has a channel. */
  readonly has: (peer: string) => boolean;
  readonly register: (ch: SecureChannel) => void;
  /** Milliseconds left until the join deadline. */
  readonly remainingMs: () => number;
  readonly signal: AbortSignal;
  readonly onFailure?: (peer: string, error: CouplerError, retryInMs: number) => void;
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

/** Open the missing channels of a group through the relay, retrying per pair until the signal aborts. */
export async function relayMesh(o: RelayMeshOptions): Promise<void> {
  if (o.transport === 'auto') await sleep(o.fallbackMs ?? DEFAULT_AUTO_FALLBACK_MS, o.signal);
  await Promise.all(
    o.peers.map(async (peer) => {
      let delay = 100;
      while (!o.signal.aborted && !o.has(peer)) {
        try {
          const ch = await relayChannel(o.relayUrl, peer, {
            ...o.channelOptions,
            acceptPeer: o.acceptPeer,
            signal: o.signal,
            pairTimeoutMs: Math.max(1, o.remainingMs()),
          });
          paths.set(ch, 'relay');
          o.register(ch);
          return;
        } catch (err) {
          if (o.signal.aborted) return;
          const e = err instanceof CouplerError ? err : new CouplerError(ErrorCode.HANDSHAKE_FAILED, 'relayed connection failed', { peer, cause: err });
          // A relay that refuses admission will refuse again soon; back off harder.
          delay = Math.min(e instanceof RelayError ? delay * 4 : delay * 2, 5_000);
          o.onFailure?.(peer, e, delay);
          await sleep(delay, o.signal);
        }
      }
    }),
  );
}
