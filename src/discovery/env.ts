/**
 * Discovery from an environment variable such as `COUPLER_PEERS=10.0.0.2:7000,10.0.0.3:7000`.
 *
 * @module
 */
import { describeType, InvalidArgumentError, throwIfAborted } from '../errors';
import { parsePeerList } from './_parse-list';
import { finalizePeers } from './_peers';
import type { DiscoverOptions, Discovery, PeerAddress } from './types';

/** Default variable read by {@link envDiscovery}. */
export const DEFAULT_PEERS_VARIABLE = 'COUPLER_PEERS';

const VARIABLE_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Options of {@link envDiscovery}. */
export interface EnvDiscoveryInit {
  /** Name of the variable. Default {@link DEFAULT_PEERS_VARIABLE} (`COUPLER_PEERS`). */
  readonly variable?: string;
  /** Where to read it. Default `process.env`. Read again at every lookup. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * A discovery that reads a peer list from an environment variable at every lookup, so the
 * variable may be set (or changed) after the discovery was created. An unset or blank variable
 * is an empty snapshot, not an error. The syntax is that of {@link staticDiscovery}.
 *
 * @param init - which variable to read and from which environment object
 * @returns a {@link Discovery} of kind `env` whose addresses have `source: "env:<variable>"`
 * @throws {@link InvalidArgumentError} at creation when `variable` is not a valid variable name or
 *   `env` is not an object; at lookup (a rejected promise) when the variable's value is malformed
 *   (the message names the variable and the entry index)
 * @example
 * ```ts
 * const discovery = envDiscovery(); // reads process.env.COUPLER_PEERS at each lookup
 * const peers = await waitForPeers(discovery, { expected: 3, timeoutMs: 30_000 });
 * ```
 */
export function envDiscovery(init: EnvDiscoveryInit = {}): Discovery {
  if (typeof init !== 'object' || init === null) {
    throw new InvalidArgumentError(`envDiscovery: options expected an object, got ${describeType(init)}`);
  }
  const variable = init.variable === undefined ? DEFAULT_PEERS_VARIABLE : init.variable;
  if (typeof variable !== 'string' || !VARIABLE_RE.test(variable)) {
    throw new InvalidArgumentError(
      `envDiscovery: "variable" expected a variable name like COUPLER_PEERS, got ${describeType(variable)}`,
    );
  }
  const env = init.env === undefined ? process.env : init.env;
  if (typeof env !== 'object' || env === null) {
    throw new InvalidArgumentError(`envDiscovery: "env" expected an object, got ${describeType(env)}`);
  }
  const source = `env:${variable}`;
  return {
    kind: 'env',
    discover(options: DiscoverOptions = {}): Promise<PeerAddress[]> {
      try {
        throwIfAborted(options.signal);
        const value: unknown = Object.prototype.hasOwnProperty.call(env, variable) ? env[variable] : undefined;
        if (value === undefined || (typeof value === 'string' && value.trim() === '')) return Promise.resolve([]);
        return Promise.resolve(finalizePeers(parsePeerList(value, `envDiscovery ${variable}`, source)));
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}
