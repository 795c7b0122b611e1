/**
 * A cheating link for blame tests: from one party to one peer, drop chosen round messages and answer
 * that peer's liveness probes with a chosen wait list — the "live withholder that says it waits for
 * someone" of the deadline rule (Group.gather's suspects). Everything else goes out unchanged.
 * Spies on `SecureChannel.prototype.send`: restore with `jest.restoreAllMocks()` in `afterEach`.
 */
import { SecureChannel } from '../../src/channel/channel';
import { decodeMessage, type PlainData } from '../../src/wire/codec';
import { PONG_ROUND, encodeProbe } from '../../src/group/inbound';

/** What the link from `from` to `to` does instead of sending honestly. */
export interface Withholding {
  readonly from: string;
  readonly to: string;
  /** Round names never sent on this link (default: none). */
  readonly drop?: (round: string) => boolean;
  /** The wait list of every probe answer on this link (default: the honest answer). */
  readonly claims?: readonly string[];
}

/** Make the link `w.from` → `w.to` withhold and claim as `w` says. */
export function withhold(w: Withholding): void {
  const send = SecureChannel.prototype.send;
  jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
    if (this.localId !== w.from || this.peerId !== w.to) return send.call(this, message);
    const m = decodeMessage(message, message.length) as { r?: PlainData; p?: { n?: Uint8Array } };
    if (typeof m.r === 'string' && w.drop?.(m.r) === true) return Promise.resolve();
    if (m.r === PONG_ROUND && w.claims !== undefined) return send.call(this, encodeProbe('pong', m.p!.n!, [...w.claims]));
    return send.call(this, message);
  });
}
