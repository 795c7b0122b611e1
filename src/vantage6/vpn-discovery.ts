/**
 * Discovery through the vantage6 v4 VPN address endpoint (`GET /vpn/algorithm/addresses`).
 *
 * The node maps a port on its VPN address to each port the image exposes; the endpoint lists
 * them once the peer containers have started. The addresses are untrusted hints: the handshake
 * against the roster establishes who is who. vantage6 5 removed the VPN: there this discovery
 * has nothing to find.
 *
 * @module
 */
import type { Discovery, DiscoverOptions, PeerAddress } from '../discovery/types';
import { ipFamily } from '../discovery/_ip';
import { finalizePeers, makePeer } from '../discovery/_peers';
import { AbortedError, DiscoveryError, InvalidArgumentError, describeType, throwIfAborted } from '../errors';
import type { NodeProxyClient, VpnAddressQuery } from './proxy-client';

/** Default port label: images built on coupler's base image declare `LABEL p8888="coupler"`. */
export const DEFAULT_VPN_LABEL = 'coupler';
/** Most entries of one answer considered (after filtering) before deduplication; the result is then capped at `MAX_PEERS_PER_LOOKUP`. */
const MAX_VPN_ENTRIES_SCANNED = 65_536;
/** Deadline of one lookup in ms. */
export const DEFAULT_VPN_LOOKUP_TIMEOUT_MS = 10_000;

/** Options of {@link vantage6VpnDiscovery}. */
export interface Vantage6VpnDiscoveryInit {
  /** The node-proxy client. */
  readonly client: NodeProxyClient;
  /** Port label to look for (default {@link DEFAULT_VPN_LABEL}). */
  readonly label?: string;
  /** Only containers of this task (default: this container's task, from the token; `null`: any task). */
  readonly taskId?: number | string | null;
  /** Restrict the server's answer (`only_children`, `only_parent`, `only_siblings`, `only_self`). */
  readonly only?: VpnAddressQuery['only'];
  /** Ask for the children too (`include_children`). */
  readonly includeChildren?: boolean;
  /** Ask for the parent too (`include_parent`). */
  readonly includeParent?: boolean;
  /** Leave out this container's own organization (default true). */
  readonly excludeSelf?: boolean;
  /** Deadline of one lookup in ms (default {@link DEFAULT_VPN_LOOKUP_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
}

/**
 * A {@link Discovery} over the vantage6 v4 VPN: one lookup of `/vpn/algorithm/addresses` per
 * `discover()`, filtered by label and task, mapped to `{host: ip, port, source, partyHint:
 * organization id}`, sorted by host and port. `ip:port` is the VPN side, not the container's own port. An empty answer
 * (peers still starting) gives `[]`; callers poll.
 *
 * The answer is untrusted (a hostile server writes what it likes): an `ip` that is not an IPv4 or
 * IPv6 literal is dropped (vantage6 lists the node's VPN address there:
 * vantage6-server/vantage6/server/resource/port.py, `VPNAddress.get`, 4.14), hosts are
 * canonicalized before duplicates are dropped, and at most `MAX_PEERS_PER_LOOKUP` addresses are
 * returned (each one becomes a dial).
 *
 * @param init - client, label, task filter.
 * @returns the discovery.
 * @throws {@link InvalidArgumentError} for bad options. `discover()` throws {@link DiscoveryError}
 *   when the endpoint fails (e.g. the node has no VPN), {@link AbortedError} when aborted.
 * @example
 * const discovery = vantage6VpnDiscovery({ client: ctx.client });
 * const peers = await discovery.discover();
 */
export function vantage6VpnDiscovery(init: Vantage6VpnDiscoveryInit): Discovery {
  if (typeof init !== 'object' || init === null) throw new InvalidArgumentError(`"init" must be an object, got ${describeType(init)}`);
  const { client } = init;
  if (typeof client !== 'object' || client === null || typeof client.vpnAddresses !== 'function') {
    throw new InvalidArgumentError('"client" must be a NodeProxyClient');
  }
  const label = init.label ?? DEFAULT_VPN_LABEL;
  if (typeof label !== 'string' || label.length === 0) throw new InvalidArgumentError('"label" must be a non-empty string');
  const timeoutMs = init.timeoutMs ?? DEFAULT_VPN_LOOKUP_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new InvalidArgumentError('"timeoutMs" must be a positive integer');
  if (init.taskId !== undefined && init.taskId !== null && !/^[0-9]{1,15}$/.test(String(init.taskId))) {
    throw new InvalidArgumentError('"taskId" must be a task id or null');
  }
  const excludeSelf = init.excludeSelf ?? true;

  const claims = (): { taskId?: number; organizationId?: number } => {
    try {
      return client.tokenClaims();
    } catch {
      return {};
    }
  };

  return Object.freeze({
    kind: 'vantage6-vpn',
    async discover(options: DiscoverOptions = {}): Promise<PeerAddress[]> {
      throwIfAborted(options.signal);
      const own = claims();
      const taskFilter = init.taskId === null ? undefined : init.taskId !== undefined ? Number(init.taskId) : own.taskId;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
      let addresses;
      try {
        addresses = await client.vpnAddresses({
          label,
          only: init.only,
          includeChildren: init.includeChildren,
          includeParent: init.includeParent,
          signal,
        });
      } catch (err) {
        if (options.signal?.aborted) throw new AbortedError('vantage6 VPN discovery aborted');
        if (timeout.aborted) throw new DiscoveryError(`vantage6 VPN address lookup got no answer within ${timeoutMs} ms`, { cause: err });
        throw new DiscoveryError(`vantage6 VPN address lookup failed: ${err instanceof Error ? err.message : 'unknown error'}`, { cause: err });
      }
      const out: PeerAddress[] = [];
      for (const a of addresses) {
        if (a.label !== undefined && a.label !== label) continue;
        if (taskFilter !== undefined && a.taskId !== taskFilter) continue;
        if (excludeSelf && own.organizationId !== undefined && a.organizationId === own.organizationId && (own.taskId === undefined || a.taskId === own.taskId)) continue;
        const host = a.ip.startsWith('[') && a.ip.endsWith(']') ? a.ip.slice(1, -1) : a.ip;
        // An IP literal without a zone id: the node's VPN address. Anything else (a name, a URL, text
        // with a port or a path) is not what vantage6 sends and would be dialled as given.
        if (ipFamily(host) === 0 || host.includes('%')) continue;
        out.push(makePeer(host, a.port, 'vantage6-vpn', a.organizationId === undefined ? undefined : String(a.organizationId)));
        if (out.length >= MAX_VPN_ENTRIES_SCANNED) break;
      }
      return finalizePeers(out);
    },
  });
}
