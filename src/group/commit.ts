/**
 * Commit-then-open: every party first commits to its value (the commitments are echo-broadcast, so
 * all parties hold the same ones), then opens it. A party cannot choose its value after seeing the
 * others' (rushing), and cannot open different values to different parties.
 *
 * Two message rounds: `<round>/c/v` carries the signed commitments; `<round>/c/d` carries each
 * party's echo digest of the commitments it received **and its opening** (the opening is attached
 * to the digest, see {@link echoBroadcastAttached}). Why opening in the digest round is safe:
 *
 * - *No rushing.* A party sends its opening only after it has received every party's commitment.
 *   So the commitment a cheater sent to the first honest party to open was fixed before any honest
 *   opening existed; to every other honest party the cheater must have sent the same commitment, or
 *   the echo digests differ and every honest party that sees the difference aborts (naming it).
 *   An opening chosen after seeing others' openings therefore fails the check against that
 *   commitment (`COMMITMENT_MISMATCH`, naming it).
 * - *What an abort reveals.* An honest party's opening may reach the others in a run that then
 *   aborts at the echo check. Use it only for values that may be revealed anyway — as the partial
 *   sums T_j, public by design, in `secureSum` — never to keep a value secret until the others are
 *   bound. (A cheater can always withhold its own opening and abort after seeing the others'; no
 *   protocol without an honest majority prevents that.)
 *
 * Commitment: `SHA-256(msgpack["coupler/1 commit", session, epoch, round, party] || nonce(32) || value)`,
 * binding by collision resistance and hiding by the 256-bit random nonce; the group's epoch (see
 * `group/epoch.ts`) keeps a commitment of an earlier formation with the same session id and round
 * name from opening in this one.
 *
 * @module
 */
import { CheatingDetectedError, ErrorCode, GroupError, TimeoutError } from '../errors.js';
import { MAX_TIMER_MS } from '../channel/channel.js';
import { bytesEqual } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { random32 } from '../crypto/random.js';
import { encodeMessage, type PlainData } from '../wire/codec.js';
import { expectBytes, expectRecord } from '../wire/shape.js';
import type { Group, RoundOptions } from './group.js';
import { echoBroadcastAttached, type EchoOptions } from './echo.js';

/** `COMMITMENT_MISMATCH` naming `party` (`what` follows its name in the message). */
function mismatch(party: string, what: string, description: string): CheatingDetectedError {
  return new CheatingDetectedError(ErrorCode.COMMITMENT_MISMATCH, `party "${party}" ${what}`, { description, statements: [] }, { peer: party });
}

/**
 * The commitment to `value` by `party` under `nonce`, in the group formation `epoch`
 * ({@link Group.epoch}).
 */
export function commitment(session: string, epoch: Uint8Array, round: string, party: string, nonce: Uint8Array, value: Uint8Array): Uint8Array {
  return sha256(encodeMessage(['coupler/1 commit', session, epoch, round, party]), nonce, value);
}

/**
 * Commit to `value`, echo-check the commitments, open (with the echo digest), and verify every
 * opening. The opening leaves this party before the echo check completes: `value` must be one it
 * may reveal even if the run then aborts (see the module notes).
 *
 * @param value - this party's value as bytes.
 * @returns every party's opened value (this party's included), by party id.
 * @throws {@link CheatingDetectedError} `COMMITMENT_MISMATCH` naming a party whose opening does not
 *   match its commitment; `EQUIVOCATION` from the echo round; timeouts naming missing peers. A
 *   caller that stops on such an error tells its peers with `group.endRun(run, err)`, as for
 *   `echoBroadcast`.
 */
export async function commitThenOpen(group: Group, round: string, value: Uint8Array, options: RoundOptions & Pick<EchoOptions, 'gate'> = {}): Promise<Map<string, Uint8Array>> {
  const nonce = random32();
  const mine = commitment(group.sessionId, group.epoch, round, group.localId, nonce, value);
  const { values: commitments, attached: openings } = await echoBroadcastAttached(group, `${round}/c`, mine, () => ({ v: value, n: nonce }), options);
  const out = new Map<string, Uint8Array>();
  for (const party of group.parties) {
    if (party === group.localId) {
      out.set(party, value);
      continue;
    }
    const ctx = { what: `opening of round "${round}"`, peer: party };
    const opening = openings.get(party);
    if (opening === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `party "${party}" sent no opening in round "${round}"`, { peer: party });
    const rec = expectRecord(opening, ctx, ['v', 'n']);
    const v = expectBytes(rec.v, 'v', ctx);
    const n = expectBytes(rec.n, 'n', ctx, 32);
    const committed = expectBytes(commitments.get(party)!, 'commitment', ctx, 32);
    if (!bytesEqual(commitment(group.sessionId, group.epoch, round, party, n, v), committed)) {
      throw mismatch(party, `opened a value that does not match its commitment in round "${round}"`, 'the opening does not hash to the echo-checked commitment');
    }
    out.set(party, v);
  }
  return out;
}

/** Options of {@link commitThenOpenPieces}. */
export interface PiecesOptions extends RoundOptions {
  /** As in {@link EchoOptions.gate}: nothing is opened before it resolves. */
  readonly gate?: Promise<unknown>;
}

/** Pieces a party may send ahead of the ones it has received from everyone (flow control). */
const PIECE_WINDOW = 1;

/**
 * The slowest an opening in pieces may be, bytes of opened data received per second on average
 * (1 MiB/s): {@link commitThenOpenPieces} gives the whole opening one deadline, the round
 * deadline plus the time to receive every peer's pieces at this rate. A sender that drips its
 * pieces — each in time for a per-piece deadline — no longer stretches a long opening to
 * pieces × deadline (about 77 minutes at L = 10⁷ with the default 60 s); it is named by a timeout
 * once the opening as a whole is late.
 */
export const MIN_OPENING_BYTES_PER_SECOND = 1024 * 1024;

/**
 * The wait left until `deadline` (ms since the epoch) as a round's `timeoutMs`: at least 1 ms, at
 * most the timer's limit. A deadline that adds the time to move the bytes to the round deadline
 * passes that limit when the round deadline is near it (joinGroup accepts up to 2^31 − 1 ms), and
 * `gather` refuses a longer wait: every opening in pieces then failed with INVALID_ARGUMENT
 * (review16 R16-2). A wait cut to the limit (24.8 days) ends early only for such a deadline.
 */
export function timeUntil(deadline: number): number {
  return Math.max(1, Math.min(deadline - Date.now(), MAX_TIMER_MS));
}

/** A promise with its resolve and reject at hand (a rejection nobody awaits is not unhandled). */
export interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}
/** A new {@link Deferred}. */
export function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Commit-then-open for a long value sent in `count` pieces, so that no party holds more than a few
 * pieces of any peer's value at once: the value is committed as the hash of its piece hashes; the
 * nonce and the piece hashes are opened with the echo digest (as in {@link commitThenOpen}); the
 * pieces follow in the same flight, each a message of its own (`<round>/p<i>`). Flow control: a
 * party sends piece i only once it has received and checked piece i − 2 from every peer, so the
 * pieces in flight stay bounded whatever the speed of each party. Each received piece is checked
 * against the opened hash list before `onPiece` sees it (every peer's piece i before any piece
 * i + 1), and only after this party's own piece i has been handed to the channels (copied), so
 * `onPiece` may overwrite this party's piece i in place.
 *
 * Same guarantees as {@link commitThenOpen}: no piece leaves before every commitment arrived, a
 * piece that is not the committed one names its sender (`COMMITMENT_MISMATCH`), and nothing is
 * accepted from a run whose commitments were not echo-consistent.
 *
 * Deadline: the pieces share ONE deadline, set when the opening starts: the round deadline plus
 * the time to receive (n − 1) × (this party's total piece bytes — the same for every party, the
 * piece count and sizes follow from the agreed shape) at {@link MIN_OPENING_BYTES_PER_SECOND}. At
 * that deadline the parties whose current piece is missing are named (`TIMEOUT`): with the flow
 * control above, every honest party is held up by the same late sender.
 *
 * @param pieceAt - this party's piece i.
 * @param onPiece - called with each peer's verified piece i.
 * @throws as {@link commitThenOpen}; `PROTOCOL_VIOLATION` naming a peer whose hash list is
 *   malformed; {@link TimeoutError} naming the peers whose pieces are late at the opening's deadline.
 */
export async function commitThenOpenPieces(
  group: Group,
  round: string,
  count: number,
  pieceAt: (i: number) => Uint8Array,
  onPiece: (party: string, i: number, bytes: Uint8Array) => void,
  options: PiecesOptions = {},
): Promise<void> {
  const hashes = new Uint8Array(32 * count);
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const piece = pieceAt(i);
    totalBytes += piece.length;
    hashes.set(sha256(piece), 32 * i);
  }
  const roundMs = options.timeoutMs ?? group.roundTimeoutMs;
  const openingMs = roundMs + Math.ceil((1000 * totalBytes * group.peers.length) / MIN_OPENING_BYTES_PER_SECOND);
  const deadline = Date.now() + openingMs;
  const nonce = random32();
  const mine = commitment(group.sessionId, group.epoch, round, group.localId, nonce, hashes);
  const { gate, ...roundOptions } = options;
  const handedOff = Array.from({ length: count }, deferred);
  const received = Array.from({ length: count }, deferred);
  const failAll = (err: unknown): void => {
    for (const d of [...handedOff, ...received]) d.reject(err);
  };
  let sending: Promise<void> = Promise.resolve();
  const { values: commitments, attached } = await echoBroadcastAttached(group, `${round}/c`, mine, () => ({ hs: hashes, n: nonce }), {
    ...roundOptions,
    ...(gate === undefined ? {} : { gate }),
    afterDigest: () => {
      sending = (async () => {
        for (let i = 0; i < count; i++) {
          if (i >= PIECE_WINDOW) await received[i - PIECE_WINDOW]!.promise;
          // sendToAll encodes (copies) the piece before it returns its promise.
          const sent = group.sendToAll(`${round}/p${i}`, pieceAt(i), group.peers, roundOptions);
          handedOff[i]!.resolve();
          await sent;
        }
      })();
      sending.catch(failAll);
    },
  });
  try {
    const lists = new Map<string, Uint8Array>();
    for (const party of group.peers) {
      const ctx = { what: `opening of round "${round}"`, peer: party };
      const opening = attached.get(party);
      if (opening === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `party "${party}" sent no opening in round "${round}"`, { peer: party });
      const rec = expectRecord(opening, ctx, ['hs', 'n']);
      const hs = expectBytes(rec.hs, 'hs', ctx, 32 * count);
      const n = expectBytes(rec.n, 'n', ctx, 32);
      if (!bytesEqual(commitment(group.sessionId, group.epoch, round, party, n, hs), expectBytes(commitments.get(party)!, 'commitment', ctx, 32))) {
        throw mismatch(party, `opened piece hashes that do not match its commitment in round "${round}"`, 'the opened piece hashes do not hash to the echo-checked commitment');
      }
      lists.set(party, hs);
    }
    for (let i = 0; i < count; i++) {
      let got: Map<string, PlainData>;
      try {
        got = await group.gather(`${round}/p${i}`, { ...roundOptions, timeoutMs: timeUntil(deadline) });
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        // Whom the gather named — possibly nobody (suspects only): never every peer (review8 R8-10).
        throw new TimeoutError(
          `opening of round "${round}": piece ${i} of ${count} missing at the opening's deadline (${openingMs} ms: the round deadline plus ${count} pieces from ${group.peers.length} peers at ${MIN_OPENING_BYTES_PER_SECOND} bytes/s): ${err.message}`,
          { peers: err.peers, suspects: err.suspects, cause: err },
        );
      }
      await handedOff[i]!.promise;
      for (const [party, msg] of got) {
        const ctx = { what: `piece ${i} of round "${round}"`, peer: party };
        const bytes = expectBytes(msg, 'piece', ctx);
        if (!bytesEqual(sha256(bytes), lists.get(party)!.subarray(32 * i, 32 * i + 32))) {
          throw mismatch(party, `sent a piece that does not match its commitment in round "${round}"`, `piece ${i} does not hash to the committed piece hash`);
        }
        onPiece(party, i, bytes);
      }
      received[i]!.resolve();
    }
    await sending;
  } catch (err) {
    failAll(err);
    throw err;
  }
}
