/**
 * Shared helpers for every discovery method: port and host-name checks, deduplication and the
 * stable output order.
 *
 * Internal to coupler: the discovery module and the vantage6 VPN discovery (src/vantage6/vpn-discovery.ts), which shares its address checks.
 *
 * @module
 */
import { canonicalHost, ipFamily, isUnicastHost, parseIPv4, parseIPv6 } from './_ip';
import type { PeerAddress } from './types';

/** Largest number of addresses one lookup returns; anything beyond is dropped. */
export const MAX_PEERS_PER_LOOKUP = 4096;

const HOST_LABEL_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** True for an integer TCP/UDP port in 1..65535. */
export function isValidPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/**
 * True for a syntactically valid DNS host name: labels of letters, digits, `_` and `-` (not at the
 * ends), 1..63 characters each, 253 characters in all, an optional trailing dot.
 */
export function isValidHostname(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 254) return false;
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => HOST_LABEL_RE.test(label));
}

/** The identity of an address for deduplication: canonical host and port. */
export function peerKey(peer: Pick<PeerAddress, 'host' | 'port'>): string {
  return `${canonicalHost(peer.host)}|${peer.port}`;
}

/** Build one frozen PeerAddress with a canonical host. */
export function makePeer(host: string, port: number, source: string, partyHint?: string): PeerAddress {
  const peer: PeerAddress =
    partyHint === undefined
      ? { host: canonicalHost(host), port, source }
      : { host: canonicalHost(host), port, source, partyHint };
  return Object.freeze(peer);
}

function hostRank(host: string): [number, Uint8Array | undefined] {
  const family = ipFamily(host);
  if (family === 4) return [0, parseIPv4(host)];
  if (family === 6) return [1, parseIPv6(host.split('%')[0] ?? host)];
  return [2, undefined];
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order: IPv4 (numerically), then IPv6 (numerically), then host names; then port, then source. */
export function comparePeers(a: PeerAddress, b: PeerAddress): number {
  const [ra, ba] = hostRank(a.host);
  const [rb, bb] = hostRank(b.host);
  if (ra !== rb) return ra - rb;
  const byHost = ba !== undefined && bb !== undefined ? compareBytes(ba, bb) : 0;
  if (byHost !== 0) return byHost;
  const byText = compareStrings(a.host, b.host);
  if (byText !== 0) return byText;
  if (a.port !== b.port) return a.port - b.port;
  return compareStrings(a.source, b.source);
}

/**
 * Drop addresses that are never a peer's ({@link isUnicastHost}: unspecified, broadcast, multicast,
 * reserved), deduplicate by (canonical host, port), keeping the first occurrence, cap the count at
 * {@link MAX_PEERS_PER_LOOKUP}, and sort with {@link comparePeers}. Returns a new array.
 */
export function finalizePeers(peers: Iterable<PeerAddress>): PeerAddress[] {
  const seen = new Map<string, PeerAddress>();
  for (const peer of peers) {
    if (seen.size >= MAX_PEERS_PER_LOOKUP) break;
    if (!isUnicastHost(peer.host)) continue;
    const key = peerKey(peer);
    if (!seen.has(key)) seen.set(key, peer);
  }
  return [...seen.values()].sort(comparePeers);
}
