/**
 * review26 support: dropouts at a chosen phase of a thresholdSum run, in this process.
 *
 * A dropping party runs the real thresholdSum; when it is about to send its first message of the
 * trigger round (`/shape`, `/dealers`, `/confirm`, `/partial`; `partial-1`: its partial sum reaches
 * one peer, then it stops; `deal/p1`, `partial/p1`: piece 1 of the pieces path), it
 * - 'closed': closes its group (its channels end; the others see it lost), or
 * - 'frozen': stops sending anything at the channel layer (round messages, probe answers, notices:
 *   a SIGSTOPped process with its sockets open), and every send TO it stays pending forever (its
 *   socket buffers full).
 * Spies on `SecureChannel.prototype.send`: restore with `jest.restoreAllMocks()` in `afterEach`.
 */
import { SecureChannel } from '../../src/channel/channel';
import type { PlainData } from '../../src/wire/codec';
import type { Group } from '../../src/group/group';

export type Phase = 'shape' | 'dealers' | 'confirm' | 'partial' | 'partial-1' | 'deal/p1' | 'partial/p1';
export type Mode = 'closed' | 'frozen';

/** Make each of `who` drop out at `phase` in `mode`. */
export function dropAt(groups: ReadonlyMap<string, Group>, who: readonly string[], phase: Phase, mode: Mode): { readonly gone: ReadonlySet<string> } {
  const gone = new Set<string>();
  const round = phase === 'partial-1' ? 'partial' : phase;
  // The channel layer: a frozen party sends nothing (round messages, batches, probe answers,
  // notices), and nothing sent to it ever completes.
  const send = SecureChannel.prototype.send;
  jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
    if (mode === 'frozen' && (gone.has(this.peerId) || gone.has(this.localId))) return new Promise<void>(() => undefined);
    return send.call(this, message);
  });
  // The trigger: the party's first post of the round (what it posted earlier in the same turn is
  // still in its batch, and goes nowhere either).
  for (const id of who) {
    const g = groups.get(id)!;
    const post = g.send.bind(g) as (peer: string, r: string, payload: PlainData, options?: unknown) => Promise<void>;
    let sentPartial = 0;
    let stopping = false;
    (g as { send: unknown }).send = (peer: string, r: string, payload: PlainData, options?: unknown): Promise<void> => {
      if (gone.has(id) || stopping) return mode === 'frozen' ? new Promise<void>(() => undefined) : Promise.reject(new Error('gone'));
      if (r.endsWith(`/${round}`)) {
        if (phase === 'partial-1' && sentPartial++ === 0) return post(peer, r, payload, options);
        // (After this turn's batch left: with 'partial-1', the one partial sum posted goes out.)
        if (!stopping) {
          stopping = true;
          setTimeout(() => {
            gone.add(id);
            if (mode === 'closed') void g.close();
          }, phase === 'partial-1' ? 0 : -1);
          if (phase !== 'partial-1') gone.add(id);
        }
        return mode === 'closed' ? Promise.reject(new Error('gone')) : new Promise<void>(() => undefined);
      }
      return post(peer, r, payload, options);
    };
  }
  return { gone };
}
