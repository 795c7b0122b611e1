/**
 * A cheater's own link for protocol tests: the party runs the real protocol with its `Group.send`
 * replaced, so it can drop, delay or rewrite (re-signing with its own key) only its OWN messages —
 * what any roster peer can put on its own channel. Honest parties stay unmodified.
 */
import type { Group } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';

/** A group's original `send`. */
export type Send = (peer: string, round: string, payload: PlainData) => Promise<void>;

/** Replace `g.send` by `rewrite`, which gets the original send. */
export function cheat(g: Group, rewrite: (send: Send, peer: string, round: string, payload: PlainData) => Promise<void>): void {
  const send: Send = g.send.bind(g) as Send;
  (g as { send: Send }).send = (peer, round, payload) => rewrite(send, peer, round, payload);
}
