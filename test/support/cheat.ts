/**
 * A cheater's own link for protocol tests: the party runs the real protocol with its `Group.send`
 * and `Group.sendToAll` replaced, so it can drop, delay or rewrite (re-signing with its own key)
 * only its OWN messages — what any roster peer can put on its own channel. Honest parties stay
 * unmodified. Both are replaced: the echo rounds, commitments and most openings go through
 * `sendToAll`, which does not call `send` — a cheat of `send` alone left every broadcast honest
 * and silently tested the honest path (review15).
 */
import type { Group, RoundOptions } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';

/** A group's original `send` (with the round's options of the protocol's own call). */
export type Send = (peer: string, round: string, payload: PlainData) => Promise<void>;

/**
 * Replace `g.send` and `g.sendToAll` by `rewrite`, called once per receiving peer with the original
 * send of that message.
 */
export function cheat(g: Group, rewrite: (send: Send, peer: string, round: string, payload: PlainData) => Promise<void>): void {
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
