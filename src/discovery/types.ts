/**
 * The discovery contract: where peers of a task might be.
 *
 * Addresses are untrusted hints. A hostile network may answer with an impostor's address; identity
 * is established only by the authenticated handshake against the roster. Discovery therefore never
 * needs to be correct, only useful: the group layer dials every address it is given and keeps
 * the channels whose handshake proves a roster key.
 *
 * @module
 */

/** One address where a peer might listen. */
export interface PeerAddress {
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** Where this address came from, for diagnostics, e.g. `dns:tasks.sum`, `static`, `env:COUPLER_PEERS`. */
  readonly source: string;
  /**
   * A party id this address is claimed to belong to (a hint only: never trusted). A forming group
   * dials addresses labelled with a party it is already connected to after the others, but still
   * once: only the handshake tells who is there.
   */
  readonly partyHint?: string;
}

/** Options of one discovery lookup. */
export interface DiscoverOptions {
  /** Abort the lookup. */
  readonly signal?: AbortSignal;
}

/**
 * A way to find peer addresses. `discover()` returns one snapshot of what is known now: it may be
 * empty while containers are still starting (NXDOMAIN is not an error), it never hangs past its
 * own per-lookup timeout, and it returns each address once.
 */
export interface Discovery {
  /** Short name of the method, e.g. `dns`, `static`, `env`, `vantage6-vpn`. */
  readonly kind: string;
  /** One lookup: the addresses known now, deduplicated. */
  discover(options?: DiscoverOptions): Promise<PeerAddress[]>;
}
