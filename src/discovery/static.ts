/**
 * Discovery from a fixed list of addresses, given in code or configuration.
 *
 * @module
 */
import { InvalidArgumentError, throwIfAborted } from '../errors';
import { parsePeerList } from './_parse-list';
import { finalizePeers } from './_peers';
import type { DiscoverOptions, Discovery, PeerAddress } from './types';

/**
 * A discovery that always returns the same addresses.
 *
 * The list is parsed and checked once, when the discovery is created, so a configuration mistake
 * is reported at start-up rather than at the first lookup. Duplicates are removed; the order of
 * the result is the stable order of every coupler discovery (IPv4, IPv6, then host names).
 *
 * @param list - `"host:port,host:port,[v6]:port"`, or an array of `"host:port"` entries
 * @returns a {@link Discovery} of kind `static` whose addresses have `source: "static"`
 * @throws {@link InvalidArgumentError} (`COUPLER_ERR_INVALID_ARGUMENT`) when the list is not a
 *   string or array of strings, is empty, or an entry is malformed (the message names the entry
 *   index and the problem: missing port, port out of 1..65535, unbracketed IPv6, an address that
 *   is never a peer's — unspecified, broadcast, multicast, reserved —, ...)
 * @example
 * ```ts
 * const discovery = staticDiscovery('10.0.0.2:7000,10.0.0.3:7000,[fd00::4]:7000');
 * const peers = await discovery.discover(); // 3 addresses
 * ```
 */
export function staticDiscovery(list: string | readonly string[]): Discovery {
  const peers = finalizePeers(parsePeerList(list, 'staticDiscovery', 'static'));
  if (peers.length === 0) {
    throw new InvalidArgumentError('staticDiscovery: list expected at least one "host:port" entry, got none');
  }
  return {
    kind: 'static',
    discover(options: DiscoverOptions = {}): Promise<PeerAddress[]> {
      try {
        throwIfAborted(options.signal);
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.resolve([...peers]);
    },
  };
}
