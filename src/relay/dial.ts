/**
 * Open the relay WebSocket the way institutions let traffic out: through the HTTPS proxy their
 * environment names (`HTTPS_PROXY` / `https_proxy` for `wss://`, `HTTP_PROXY` / `http_proxy` for
 * `ws://`, except hosts in `NO_PROXY` / `no_proxy`), by HTTP CONNECT (https-proxy-agent handed to
 * ws as its `agent`), and with `wss://` checked against an extra CA when the relay's certificate
 * is from a private one (`COUPLER_RELAY_CA`, a PEM file, or the `ca` option).
 *
 * TLS and the proxy only hide metadata from the network; the end-to-end channel is the security
 * boundary either way.
 *
 * @module
 */
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { readBoundedFileSync } from '../files.js';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import WebSocket from 'ws';
import { InvalidArgumentError } from '../errors.js';
import { zeroMaskKey } from '../channel/frames.js';
import { relayLookupLane } from '../channel/lookup.js';
import { RELAY_PATH, RELAY_SUBPROTOCOL, normalizeRelayUrl } from './protocol.js';

/** Environment variable naming a PEM file of CA certificates trusted for `wss://` relays (in addition to the system's). */
export const RELAY_CA_ENV = 'COUPLER_RELAY_CA';
/** Default deadline of the WebSocket opening handshake (ms), when the caller gives none. */
export const DEFAULT_RELAY_DIAL_TIMEOUT_MS = 10_000;
/** Largest CA, certificate or key file read (PEM): 1 MiB. */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/** Options of {@link dialRelay}. */
export interface RelayDialOptions {
  /** Largest message accepted from the relay (bytes). */
  readonly maxPayload: number;
  /** Deadline of the WebSocket opening handshake, proxy included (ms). Default {@link DEFAULT_RELAY_DIAL_TIMEOUT_MS}. */
  readonly handshakeTimeout?: number;
  /** Extra trusted CA certificates for `wss://`, PEM. Default: the file named by {@link RELAY_CA_ENV}, if set. */
  readonly ca?: string | Buffer;
  /**
   * The proxy to use: a URL (`http://proxy:3128`), `false` for none, or undefined to follow the
   * environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, upper or lower case).
   */
  readonly proxy?: string | false;
  /** Environment read for {@link RELAY_CA_ENV} (the proxy variables are read from `process.env`). Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

function caFrom(options: RelayDialOptions): string | Buffer | undefined {
  if (options.ca !== undefined) {
    if (!(typeof options.ca === 'string' || Buffer.isBuffer(options.ca)) || options.ca.length === 0) throw new InvalidArgumentError('"ca" must be a PEM string or Buffer');
    return options.ca;
  }
  const file = (options.env ?? process.env)[RELAY_CA_ENV];
  if (file === undefined || file === '') return undefined;
  try {
    // Read on every dial, synchronously: never a FIFO's endless wait (the event loop would stop).
    return readBoundedFileSync(file, MAX_PEM_FILE_BYTES).bytes;
  } catch (err) {
    throw new InvalidArgumentError(`${RELAY_CA_ENV}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The proxy URL for a relay URL under the environment's rules, or undefined for a direct connection. */
export function relayProxyFor(relayUrl: string): string | undefined {
  // proxy-from-env looks up `<scheme>_proxy`: ask for the http(s) equivalent of the ws(s) URL, so
  // that HTTPS_PROXY covers wss:// and HTTP_PROXY ws://, as for any other HTTP client.
  const u = new URL(normalizeRelayUrl(relayUrl));
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  const proxy = getProxyForUrl(u.toString());
  return proxy === '' ? undefined : proxy;
}

/**
 * Through a proxy, a `wss://` relay addressed by an IP literal: https-proxy-agent gives tls.connect
 * neither the host nor a server name (no SNI may name an IP), so Node would check the certificate
 * against "localhost". The check is made against the IP, as a direct dial does.
 */
function ipIdentityCheck(base: string): { checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined } {
  const u = new URL(base);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (u.protocol !== 'wss:' || isIP(host) === 0) return {};
  return { checkServerIdentity: (_host, cert) => checkServerIdentity(host, cert) };
}

/**
 * Open the relay's WebSocket for `relayUrl` (`ws://host:port` or `wss://…`; the relay path and
 * subprotocol are added), through the environment's proxy and with the extra CA when given.
 *
 * @throws {@link InvalidArgumentError} for a bad URL, CA or proxy URL (connection failures arrive
 *   as the socket's `error` event).
 * @example
 * const ws = dialRelay('wss://relay.example.org', { maxPayload: 1 << 20 });
 */
export function dialRelay(relayUrl: string, options: RelayDialOptions): WebSocket {
  let base: string;
  try {
    base = normalizeRelayUrl(relayUrl);
  } catch {
    throw new InvalidArgumentError('"relayUrl" must be a ws:// or wss:// URL');
  }
  const ca = caFrom(options);
  const proxy = options.proxy === undefined ? relayProxyFor(base) : options.proxy === false ? undefined : options.proxy;
  let agent: HttpsProxyAgent<string> | undefined;
  if (proxy !== undefined) {
    try {
      agent = new HttpsProxyAgent(proxy);
    } catch {
      throw new InvalidArgumentError('the proxy URL (HTTPS_PROXY / HTTP_PROXY or "proxy") is not a valid URL');
    }
  }
  // Without a proxy, the relay's host name is looked up in the process's relay-dial lane, and the
  // lookup leaves it when this WebSocket opens or ends (channel/lookup.ts); through a proxy, the
  // proxy resolves it.
  const attempt = new AbortController();
  const ws = new WebSocket(`${base}${RELAY_PATH}`, RELAY_SUBPROTOCOL, {
    perMessageDeflate: false,
    maxPayload: options.maxPayload,
    // Unmasked frames (a zero key): the link carries channel ciphertext and the admission JSON; see zeroMaskKey.
    generateMask: zeroMaskKey,
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_RELAY_DIAL_TIMEOUT_MS,
    followRedirects: false,
    ...(agent === undefined ? { lookup: relayLookupLane.forAttempt(attempt.signal) } : { agent, ...ipIdentityCheck(base) }),
    ...(ca === undefined ? {} : { ca }),
  });
  const end = (): void => attempt.abort();
  ws.once('open', end);
  ws.once('close', end);
  return ws;
}
