/**
 * Parser of peer lists written as `host:port,host:port,[v6]:port` (the syntax of
 * {@link staticDiscovery} and of the `COUPLER_PEERS` environment variable).
 *
 * Internal to the discovery module.
 *
 * @module
 */
import { describeType, InvalidArgumentError } from '../errors';
import { isIPv4, isIPv6 } from 'node:net';
import { isUnicastHost } from './_ip';
import { isValidHostname, makePeer } from './_peers';
import type { PeerAddress } from './types';

/** Longest peer-list string accepted, in characters. */
export const MAX_PEER_LIST_LENGTH = 65_536;
/** Most entries accepted in one peer list. */
export const MAX_PEER_LIST_ENTRIES = 4096;

const PORT_RE = /^[0-9]{1,5}$/;
const NOT_UNICAST = 'not a unicast address (unspecified, broadcast, multicast or reserved: never a peer)';

/** Quote a piece of untrusted input for an error message, shortened to a readable length. */
function quote(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return JSON.stringify(short);
}

function fail(what: string, index: number, entry: string, problem: string): never {
  throw new InvalidArgumentError(`${what}: entry ${index} (${quote(entry)}): ${problem}`);
}

function parsePort(what: string, index: number, entry: string, text: string): number {
  if (text === '') fail(what, index, entry, 'missing port after ":"');
  const value = PORT_RE.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= 65535)) fail(what, index, entry, `port expected an integer in 1..65535, got ${quote(text)}`);
  return value;
}

/**
 * Parse one `host:port` or `[v6]:port` entry.
 *
 * @param entry - the entry, already trimmed
 * @param index - its position, for error messages
 * @param what - who is parsing, for error messages (e.g. `staticDiscovery`)
 * @param source - the `source` to put into the result
 * @throws {@link InvalidArgumentError} naming the entry index and what is wrong (also for an
 *   address that is never a peer's: unspecified, broadcast, multicast, reserved)
 */
export function parsePeerEntry(entry: string, index: number, what: string, source: string): PeerAddress {
  if (entry === '') fail(what, index, entry, 'empty entry');
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close === -1) fail(what, index, entry, 'unclosed "[" in IPv6 address');
    const host = entry.slice(1, close);
    if (!isIPv6(host)) fail(what, index, entry, 'not a valid IPv6 address inside "[...]"');
    if (entry[close + 1] !== ':') fail(what, index, entry, 'missing ":port" after "]"');
    if (!isUnicastHost(host)) fail(what, index, entry, NOT_UNICAST);
    return makePeer(host, parsePort(what, index, entry, entry.slice(close + 2)), source);
  }
  const colon = entry.lastIndexOf(':');
  if (colon === -1) fail(what, index, entry, 'missing ":port"');
  const host = entry.slice(0, colon);
  if (host === '') fail(what, index, entry, 'missing host before ":"');
  if (host.includes(':')) fail(what, index, entry, 'IPv6 addresses must be written in brackets, e.g. "[::1]:8443"');
  if (!isIPv4(host) && (!isValidHostname(host) || /^[0-9.]+$/.test(host))) {
    fail(what, index, entry, 'host is neither an IPv4 address nor a valid host name');
  }
  if (!isUnicastHost(host)) fail(what, index, entry, NOT_UNICAST);
  return makePeer(host, parsePort(what, index, entry, entry.slice(colon + 1)), source);
}

/**
 * Parse a peer list: a comma-separated string, or an array with one entry per element.
 * Whitespace around entries is ignored. Duplicates are kept (callers deduplicate).
 *
 * @param input - the list (untrusted: any value)
 * @param what - who is parsing, for error messages
 * @param source - the `source` to put into each result
 * @returns the parsed addresses, in input order
 * @throws {@link InvalidArgumentError} for a wrong type, an over-long list, or a bad entry (naming its index)
 */
export function parsePeerList(input: unknown, what: string, source: string): PeerAddress[] {
  let entries: unknown[];
  if (typeof input === 'string') {
    if (input.length > MAX_PEER_LIST_LENGTH) {
      throw new InvalidArgumentError(`${what}: list expected at most ${MAX_PEER_LIST_LENGTH} characters, got ${input.length}`);
    }
    entries = input.split(',');
  } else if (Array.isArray(input)) {
    entries = input;
  } else {
    throw new InvalidArgumentError(`${what}: expected a string or an array of strings, got ${describeType(input)}`);
  }
  if (entries.length > MAX_PEER_LIST_ENTRIES) {
    throw new InvalidArgumentError(`${what}: expected at most ${MAX_PEER_LIST_ENTRIES} entries, got ${entries.length}`);
  }
  return entries.map((raw, index) => {
    if (typeof raw !== 'string') {
      throw new InvalidArgumentError(`${what}: entry ${index}: expected a string, got ${describeType(raw)}`);
    }
    if (raw.length > 300) fail(what, index, raw, `expected at most 300 characters, got ${raw.length}`);
    return parsePeerEntry(raw.trim(), index, what, source);
  });
}
