/**
 * IP literal helpers: parse IPv4/IPv6 text to bytes, format IPv6 canonically (RFC 5952), and
 * normalise host strings so that equal addresses compare equal.
 *
 * Internal to coupler: the discovery module and the vantage6 VPN discovery (src/vantage6/vpn-discovery.ts), which shares its address checks.
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Parse a dotted-quad IPv4 literal into 4 bytes; `undefined` when it is not one. */
export function parseIPv4(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || !isIPv4(text)) return undefined;
  const parts = text.split('.');
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

/**
 * Parse an IPv6 literal (no brackets, no zone id) into 16 bytes; `undefined` when it is not one.
 * Accepts `::` compression and an embedded dotted IPv4 tail (`::ffff:10.0.0.1`).
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.includes('%') || !isIPv6(text)) return undefined;
  let body = text;
  const tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === undefined) return undefined;
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    // Drop the dotted tail; keep a "::" that ends right before it ("::1.2.3.4"), else drop the ":".
    body = body.slice(0, lastColon + 1);
    if (!body.endsWith('::')) body = body.slice(0, -1);
  }
  const split = body.split('::');
  if (split.length > 2) return undefined;
  const toGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = toGroups(split[0] ?? '');
  const rest = split.length === 2 ? toGroups(split[1] ?? '') : [];
  const explicit = head.length + rest.length + tail.length;
  if (split.length === 1 && explicit !== 8) return undefined;
  if (split.length === 2 && explicit > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest, ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] ?? 0;
    if (!Number.isInteger(g) || g < 0 || g > 0xffff) return undefined;
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  }
  return out;
}

/** Format 16 bytes as the RFC 5952 canonical text (lower case, longest zero run compressed). */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

/**
 * Normalise a host for comparison and output: IPv6 literals to RFC 5952 form (a zone id is kept
 * as given), host names to lower case without a trailing dot, IPv4 literals unchanged.
 */
export function canonicalHost(host: string): string {
  const zoneAt = host.indexOf('%');
  const addr = zoneAt === -1 ? host : host.slice(0, zoneAt);
  const v6 = parseIPv6(addr);
  if (v6 !== undefined) return formatIPv6(v6) + (zoneAt === -1 ? '' : host.slice(zoneAt));
  if (isIPv4(host)) return host;
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * The key under which a source address is compared with addresses discovery returned: an
 * IPv4-mapped IPv6 address in any spelling (`::ffff:10.0.0.5`, `::ffff:a00:5`, what a dual-stack
 * listener reports for an IPv4 peer) is its dotted IPv4 address, any other address or name its
 * {@link canonicalHost}. So a peer discovery lists as `::ffff:a00:5` (a AAAA answer) is known when it
 * connects from `10.0.0.5` or `::ffff:10.0.0.5` (review 12 (d), review 22).
 */
export function sourceKey(host: string): string {
  const v6 = host.includes('%') ? undefined : parseIPv6(host);
  if (v6 !== undefined && v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) {
    return `${v6[12]}.${v6[13]}.${v6[14]}.${v6[15]}`;
  }
  return canonicalHost(host);
}

/** 4 for an IPv4 literal, 6 for an IPv6 literal (zone id allowed), 0 otherwise. */
export function ipFamily(host: string): 0 | 4 | 6 {
  if (isIPv4(host)) return 4;
  if (isIPv6(host)) return 6;
  return 0;
}

/**
 * False for an IP literal that is never a peer's address: unspecified (0.0.0.0/8, `::`), multicast
 * (224.0.0.0/4, ff00::/8), reserved and broadcast (240.0.0.0/4, 255.255.255.255), also as an
 * IPv4-mapped IPv6 address. Connecting to 0.0.0.0 or `::` reaches this very host; the others are
 * not one host. True for every other literal and for host names.
 */
export function isUnicastHost(host: string): boolean {
  const zoneAt = host.indexOf('%');
  const addr = zoneAt === -1 ? host : host.slice(0, zoneAt);
  let v4 = parseIPv4(addr);
  if (v4 === undefined) {
    const v6 = parseIPv6(addr);
    if (v6 === undefined) return true;
    if (v6[0] === 0xff) return false;
    let zeros = 0;
    while (zeros < 16 && v6[zeros] === 0) zeros++;
    if (zeros === 16) return false;
    if (zeros >= 10 && v6[10] === 0xff && v6[11] === 0xff) v4 = v6.subarray(12, 16);
    else return true;
  }
  const first = v4[0] ?? 0;
  return first !== 0 && first < 224;
}
