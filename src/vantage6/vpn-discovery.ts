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
import { AbortedError, DiscoveryError, InvalidArgumentError, describeType, throwIfAborted } from '../errors';
import type { NodeProxyClient, VpnAddressQuery } from './proxy-client';

/** Default port label: images built on coupler's base image declare `LABEL p8888="coupler"`. */
export const DEFAULT_VPN_LABEL = 'coupler';
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
      const seen = new Set<string>();
      const out: PeerAddress[] = [];
      for (const a of addresses) {
        if (a.label !== undefined && a.label !== label) continue;
        if (taskFilter !== undefined && a.taskId !== taskFilter) continue;
        if (excludeSelf && own.organizationId !== undefined && a.organizationId === own.organizationId && (own.taskId === undefined || a.taskId === own.taskId)) continue;
        const key = `${a.ip}|${a.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const host = a.ip.startsWith('[') && a.ip.endsWith(']') ? a.ip.slice(1, -1) : a.ip;
        out.push(
          a.organizationId === undefined
            ? { host, port: a.port, source: 'vantage6-vpn' }
            : { host, port: a.port, source: 'vantage6-vpn', partyHint: String(a.organizationId) },
        );
      }
      return out.sort((x, y) => (x.host < y.host ? -1 : x.host > y.host ? 1 : x.port - y.port));
    },
  });
}
