/** Types shared by the mesh benchmark's parent and child (no side effects). */

/** Config of one party process. */
export interface MeshPartyConfig {
  readonly identity: string;
  readonly roster: string;
  readonly sessionId: string;
  readonly host: string;
  readonly port: number;
  /** DNS name listing every party (Swarm `tasks.<service>`). */
  readonly name: string;
  readonly dnsServer: string;
  readonly timeoutMs: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}
