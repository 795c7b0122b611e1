/**
 * review15 helpers: a cheater that rewrites only its OWN messages — `send` AND `sendToAll` (which
 * does not go through `send`, so `test/support/cheat.ts` alone misses every broadcast) — and
 * outcome checks.
 */
import type { Group, RoundOptions } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';
import { CouplerError } from '../../src/errors';

/** The cheater's original per-peer send. */
export type RawSend = (peer: string, round: string, payload: PlainData) => Promise<void>;

/** Route every message `g` sends (send and sendToAll) through `rewrite`, per peer. */
export function cheatAll(g: Group, rewrite: (send: RawSend, peer: string, round: string, payload: PlainData) => Promise<void>): void {
  const orig = g.send.bind(g) as (peer: string, round: string, payload: PlainData, options?: RoundOptions) => Promise<void>;
  const send = (peer: string, round: string, payload: PlainData, options?: RoundOptions): Promise<void> =>
    rewrite((p, r, x) => orig(p, r, x, options), peer, round, payload);
  (g as { send: typeof send }).send = send;
  (g as unknown as { sendToAll: (round: string, payload: PlainData, to?: readonly string[], options?: RoundOptions) => Promise<void> }).sendToAll = async (
    round,
    payload,
    to = g.peers,
    options,
  ) => {
    await Promise.all(to.map((p) => send(p, round, payload, options)));
  };
}

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
