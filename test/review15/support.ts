/**
 * review15 helpers: a cheater that rewrites only its OWN messages (`send` and `sendToAll`, as
 * `test/support/cheat.ts` does since review15 found it missed every broadcast) and outcome checks.
 */
import type { Group } from '../../src/group/group';
import { cheat, type Send } from '../support/cheat';
import { aggregateLayout, sumHash, sumStatement, AGGREGATE_PART_ELEMENTS } from '../../src/protocols/aggregate';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { CheatingDetectedError, CouplerError } from '../../src/errors';

/** The cheater's original per-peer send. */
export type RawSend = Send;

/** Route every message `g` sends (send and sendToAll) through `rewrite`, per peer (test/support/cheat.ts). */
export const cheatAll = cheat;

/** A cheater's rewrite of one message to one peer (see {@link cheatAll}). */
export type Rewrite = Parameters<typeof cheat>[1];

/** Send the message unchanged. */
const unchanged: Rewrite = (send, peer, round, payload) => send(peer, round, payload);

/** A settled outcome. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** One line per party: ok or code [peers] message. */
export function describe_(ids: readonly string[], out: readonly Settled<unknown>[]): string[] {
  return out.map((r, i) => {
    if (r.ok) return `${ids[i]}: ok`;
    const e = r.error as CouplerError;
    return e instanceof CouplerError ? `${ids[i]}: ${e.code} [${e.peers.join(',')}] ${e.message}` : `${ids[i]}: ${String(e)}`;
  });
}

/** Peers named by the honest parties' errors that are not in `cheaters`. */
export function honestNamed(ids: readonly string[], out: readonly Settled<unknown>[], cheaters: readonly string[]): string[] {
  const named: string[] = [];
  out.forEach((r, i) => {
    if (cheaters.includes(ids[i]!) || r.ok) return;
    const e = r.error;
    if (e instanceof CouplerError) for (const p of e.peers) if (!cheaters.includes(p)) named.push(`${ids[i]} named ${p} (${e.code})`);
  });
  return named;
}

/** Party i's input: L elements 10(i + 1) + (j mod 7). */
export const vec = (i: number, L: number): Float64Array => Float64Array.from({ length: L }, (_, j) => 10 * (i + 1) + (j % 7));

/** Every honest party (all but `cheater`) failed with CheatingDetectedError `code` naming only `cheater`. */
export function expectAllNamed(ids: readonly string[], out: readonly Settled<unknown>[], cheater: string, code: string): void {
  const seen = describe_(ids, out);
  ids.forEach((id, i) => {
    if (id === cheater) return;
    const r = out[i]!;
    expect([seen, r.ok]).toEqual([seen, false]);
    const e = (r as { error: CheatingDetectedError }).error;
    expect([seen, e instanceof CheatingDetectedError, e.code, e.peers]).toEqual([seen, true, code, [cheater]]);
  });
}

/**
 * The cheater, as aggregator of its chunk, sends `victims` an answer whose first element is flipped,
 * signed with its own key (one message, or for long vectors a header and parts — the header, whose
 * signature covers the whole answer, goes once every part is out). The rest get the true answer.
 * Every other message goes through `otherwise` (default: unchanged), for a cheater that also
 * rewrites, e.g., its dispute header. `L` is the vector's length (it decides the parts).
 */
export function changeAnswer(g: Group, L: number, victims: readonly string[], otherwise: Rewrite = unchanged): void {
  const layout = aggregateLayout(g.parties, L);
  const chunk = g.parties.indexOf(g.localId);
  const span = layout.start[chunk + 1]! - layout.start[chunk]!;
  const maxSpan = Math.max(...layout.start.slice(1).map((_, i) => layout.start[i + 1]! - layout.start[i]!));
  const parts = maxSpan > AGGREGATE_PART_ELEMENTS ? Math.ceil(maxSpan / AGGREGATE_PART_ELEMENTS) : 0;
  const sign = (base: string, v: Uint8Array, k: Uint8Array): Uint8Array => ed25519Sign(sumStatement(g.sessionId, g.epoch, base, g.localId, chunk, sumHash(v, k)), g.identity.secretKey);
  const streams = new Map<string, { v: Uint8Array; k: Uint8Array[]; seen: number }>();
  cheatAll(g, (send, peer, round, payload) => {
    const m = /^(.*\/partial)\/sums(?:\/(\d+))?$/.exec(round);
    if (m === null || !victims.includes(peer)) return otherwise(send, peer, round, payload);
    const base = m[1]!;
    if (parts === 0) {
      const a = payload as { v: Uint8Array; k: Uint8Array };
      const v = Uint8Array.from(a.v);
      v[0]! ^= 1;
      return send(peer, round, { v, k: a.k, sig: sign(base, v, a.k) });
    }
    if (!streams.has(peer)) streams.set(peer, { v: new Uint8Array(8 * span), k: [], seen: 0 });
    const st = streams.get(peer)!;
    if (m[2] === undefined) return Promise.resolve(); // the header: sent after the parts
    const k = Number(m[2]);
    const part = payload as { v: Uint8Array; k: Uint8Array };
    const pv = Uint8Array.from(part.v);
    if (k === 0) pv[0]! ^= 1;
    st.v.set(pv, 8 * k * AGGREGATE_PART_ELEMENTS);
    st.k[k] = part.k;
    const sent = send(peer, round, { v: pv, k: part.k });
    if (++st.seen < parts) return sent;
    return sent.then(() => send(peer, `${base}/sums`, { sig: sign(base, st.v, Buffer.concat(st.k)) }));
  });
}
