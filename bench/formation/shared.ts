/** Types and constants shared by the formation benchmark's parent and its party processes (no side effects). */

/** Config of one party process (bench/formation/party.ts). */
export interface FormationPartyConfig {
  readonly id: string;
  readonly identity: string;
  readonly roster: string;
  readonly sessionId: string;
  /** Address to listen on; undefined: egress only (the late party). */
  readonly listenHost?: string;
  readonly port: number;
  /** DNS name listing every party's address. */
  readonly name: string;
  /** `host:port` of the development DNS server. */
  readonly dnsServer: string;
  readonly timeoutMs: number;
  /** Two addresses of this process's own for its warm-up group (see join.ts `warmUp`). */
  readonly warmHosts: readonly [string, string];
}

/** A party's answer to `join`, once its mesh is complete. */
export interface JoinResult {
  /** `joinGroup` start → mesh complete, ms. */
  readonly joinMs: number;
  /** CPU time of the party's process over the same span, ms (all parties' in the single-process layout). */
  readonly cpuMs: number;
  /** Channels held. */
  readonly peers: number;
  /** Group events counted by party class and kind, e.g. `late dial-failed busy`. */
  readonly events: Record<string, number>;
}

/**
 * Source address of the egress-only party's connections: it does not bind its own address, and on
 * loopback the kernel picks 127.0.0.1 — an address discovery does not return, as for a party
 * behind NAT, so the listeners treat it as a stranger until its handshake finishes.
 */
export const EGRESS_SOURCE = '127.0.0.1';
