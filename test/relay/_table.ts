/** Helpers of the relay table's own tests (no sockets, an explicit clock): rosters and admission requests. */
import { generateIdentity } from '../../src/identity/identity';
import { createRoster, rosterDigest, type Roster } from '../../src/identity/roster';
import type { AdmitRequest } from '../../src/relay/table';

/** A roster of `p1..pn`, each with a fresh key. */
export function tableRoster(n: number): Roster {
  return createRoster(Array.from({ length: n }, (_, i) => ({ id: `p${i + 1}`, publicKey: generateIdentity(`p${i + 1}`).publicKey })));
}

/**
 * A maker of admission requests to a {@link RelayTable}: `req(handle, over)` is `p1 → p2` of
 * session `s` on `roster` (and its digest), from `source`, signed at `ts`, with a nonce no earlier
 * request of this maker had (a counter); `over` replaces any of these.
 */
export function tableRequests(roster: Roster, defaults: { readonly source: string; readonly ts: number }): (handle: string, over?: Partial<AdmitRequest<string>>) => AdmitRequest<string> {
  const digest = rosterDigest(roster);
  let nonce = 0;
  return (handle, over = {}) => ({
    handle,
    source: defaults.source,
    session: 's',
    digest,
    roster,
    from: 'p1',
    to: 'p2',
    nonce: (nonce++).toString(16).padStart(32, '0'),
    ts: defaults.ts,
    ...over,
  });
}
