/**
 * The epoch of a group formation: 32 bytes that every party of a freshly formed mesh agrees on
 * before the group is handed to the caller, and that every signed statement and every commitment
 * of the protocols binds (`e` in the statement, next to the session id `s` and the round `r`).
 *
 * Why. Signed statements used to bind only (session, round). Round names restart with every
 * formation (`Group.nextRunId` counts from 1), and a session id can be reused (re-joining with
 * the same id, or the vantage6 default `v6-task-<id>` after a container restart). A statement an
 * honest party signed in an earlier formation then verified in the new one: a hostile party could
 * present it as a "second" statement and frame the honest party as an equivocator, with evidence
 * any third party would accept. With the epoch in every statement, a statement from another
 * formation does not verify against the current epoch, and is refused as a forgery of whoever
 * presented it.
 *
 * Agreement (two message rounds, sub-rounds of {@link EPOCH_ROUND}, over the authenticated
 * channels; nothing is signed — a signature would need the epoch it is meant to produce):
 *
 * 1. `/r` — every party sends every peer the same 32 fresh random bytes R_i.
 * 2. `/h` — every party sends every peer D_i = SHA-256(msgpack([label, session,
 *    [[id, R_id] for id in canonical order]])), the digest of the contributions it holds.
 *    All digests equal to its own: the epoch is that digest.
 * 3. `/l` — only on a mismatch, between the parties whose digests differ (as the fallback of the
 *    echo broadcast): each sends its list of contributions, then judges every list it receives.
 *
 * Freshness: an honest party's epoch hashes its own fresh R_i, so no statement signed before this
 * formation carries it (SHA-256 preimage resistance), whatever the others contribute. Agreement:
 * a party completes only if every peer sent its own digest, so all completing honest parties hold
 * the same contributions and the same epoch (collision resistance); a cheater can make some honest
 * parties abort and not others (as with any broadcast with abort), never two epochs.
 *
 * Blame on a mismatch is exact, never a guess. From a peer k's list this party can be CERTAIN of
 * k's fault when k's list does not hash to the digest k sent, when k misreports this party's own
 * R (an honest party sends the same R to everyone), or when k reports its own R_k differently from
 * what k sent this party. When k reports another party j's R_j differently from what j sent this
 * party, either j sent different values or k lies, and nothing here can tell which: both go into
 * the error's `suspects`, and neither is named in `peers`.
 *
 * Cost: two small messages per peer and two message rounds at join (the cheaper alternative of
 * carrying R_i in the handshake is discussed in docs/design.md).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { CheatingDetectedError, CouplerError, ErrorCode, GroupError, TimeoutError, throwIfAborted } from '../errors.js';
import { bytesEqual } from '../crypto/bytes.js';
import { encodeMessage, type PlainData } from '../wire/codec.js';
import { expectArray, expectBytes } from '../wire/shape.js';
import type { Group, RoundOptions } from './group.js';

/** Length of an epoch and of each party's contribution to it, bytes. */
export const EPOCH_BYTES = 32;

/**
 * The reserved round of the epoch agreement at join (sub-rounds `/r`, `/h`, `/l`). It is used
 * before the caller gets the group, so a later round of that name would be refused as a repeat.
 */
export const EPOCH_ROUND = 'coupler:epoch';

const EPOCH_LABEL = 'coupler/1 epoch';

/**
 * The digest of a view of the contributions: SHA-256(msgpack([label, session, [[id, R_id] …]]))
 * in the order given (canonical party order in the protocol). The agreed epoch is this digest.
 *
 * @param session - the session id.
 * @param contributions - every party's 32 random bytes, in canonical party order.
 * @returns 32 bytes.
 */
export function epochDigest(session: string, contributions: readonly (readonly [string, Uint8Array])[]): Uint8Array {
  return new Uint8Array(createHash('sha256').update(encodeMessage([EPOCH_LABEL, session, contributions.map(([id, r]) => [id, r])])).digest());
}

/** Options of {@link agreeEpoch}. */
export interface AgreeEpochOptions extends RoundOptions {
  /** Base round name (default {@link EPOCH_ROUND}). */
  readonly round?: string;
}

/**
 * Agree with every peer on a fresh epoch (see the module notes). Every party of the group must
 * call it with the same round name.
 *
 * @returns the 32-byte epoch, identical at every honest party that returns.
 * @throws {@link CheatingDetectedError} `EQUIVOCATION` when the contributions disagree: `peers`
 *   names the parties whose fault is certain, `suspects` the pairs it cannot decide between (no
 *   transferable evidence: the contributions are unsigned); {@link TimeoutError}/{@link GroupError}
 *   naming missing, lost or misbehaving peers.
 */
export async function agreeEpoch(group: Group, options: AgreeEpochOptions = {}): Promise<Uint8Array> {
  const round = options.round ?? EPOCH_ROUND;
  const ro: RoundOptions = { ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }), ...(options.signal === undefined ? {} : { signal: options.signal }) };
  const me = group.localId;
  const session = group.sessionId;

  // Checked before each wait: Group.gather leaves its receives unobserved when handed a signal
  // that is already aborted (an unhandled rejection), so this never hands it one.
  throwIfAborted(options.signal);
  const mine = new Uint8Array(randomBytes(EPOCH_BYTES));
  await group.sendToAll(`${round}/r`, mine);
  throwIfAborted(options.signal);
  const view = new Map<string, Uint8Array>([[me, mine]]);
  for (const [peer, msg] of await group.gather(`${round}/r`, ro)) {
    view.set(peer, expectBytes(msg, 'R', { what: 'epoch contribution', peer }, EPOCH_BYTES));
  }
  const contributions = group.parties.map((p) => [p, view.get(p)!] as const);
  const digest = epochDigest(session, contributions);
  await group.sendToAll(`${round}/h`, digest);
  throwIfAborted(options.signal);
  // A peer whose digest differs gets this party's list at once, as its digest arrives — not after
  // the rest of the round: a cheater withholding its digest from this party alone would hold the
  // list back by a whole deadline and a probe, past the deadline of the honest peers waiting for
  // it, and they would name this party (review5 F2, as in the echo broadcast).
  const listed = new Map<string, Promise<unknown>>();
  const sendList = (p: string): void => {
    if (!listed.has(p)) listed.set(p, group.send(p, `${round}/l`, contributions.map(([, r]) => r)).catch(() => undefined));
  };
  const digests = await group.gatherSome(`${round}/h`, 0, {
    ...ro,
    onMessage: (peer, msg) => {
      if (msg instanceof Uint8Array && msg.length === EPOCH_BYTES && !bytesEqual(msg, digest)) sendList(peer);
    },
  });

  const mismatched: string[] = [];
  const failed: CouplerError[] = [];
  for (const peer of group.peers) {
    const msg = digests.get(peer);
    if (msg === undefined) continue;
    try {
      const d = expectBytes(msg, 'digest', { what: 'epoch digest', peer }, EPOCH_BYTES);
      if (!bytesEqual(d, digest)) mismatched.push(peer);
    } catch (err) {
      failed.push(err as CouplerError);
    }
  }
  const silent = group.peers.filter((p) => !digests.has(p));
  if (mismatched.length === 0 && failed.length === 0 && silent.length === 0) return digest;

  // Fallback: lists between the parties whose digests differ, sent before anything here can
  // abort, so an honest mismatching peer never waits for this party in vain.
  for (const p of mismatched) sendList(p);
  await Promise.all(listed.values());
  if (failed.length > 0) throw failed[0]!;
  if (silent.length > 0) {
    const lost = silent.filter((p) => group.lostPeers.includes(p));
    // A lost peer's mailbox holds why (lost, aborted, dropped): report that, as a gather would.
    if (lost.length > 0) throw await group.receive(lost[0]!, `${round}/h`, ro).then(() => new GroupError(ErrorCode.PEER_LOST, `lost peer "${lost[0]}"`, { peer: lost[0]! }), (e: unknown) => e);
    // Whom to name: the silent ones (a party still behind, waiting for the culprit, is not).
    // (A digest that came during the probe names nobody: its sender is not silent, review17 R17-5.)
    throw group._spareArrived(await group._stalled(`${round}/h`, silent, options.timeoutMs ?? group.roundTimeoutMs), `${round}/h`);
  }
  throwIfAborted(options.signal);
  const lists = await group.gatherSome(`${round}/l`, 0, { ...ro, from: mismatched });
  const certain = new Map<string, string>();
  const suspects = new Set<string>();
  for (const peer of mismatched) {
    const msg = lists.get(peer);
    if (msg !== undefined) judgeList(group, session, contributions, peer, msg, digests.get(peer) as Uint8Array, certain, suspects);
  }
  const missing = mismatched.filter((p) => !lists.has(p));
  if (certain.size > 0) {
    const culprits = group.parties.filter((p) => certain.has(p));
    const otherSuspects = group.parties.filter((p) => suspects.has(p) && !certain.has(p));
    throw new CheatingDetectedError(
      ErrorCode.EQUIVOCATION,
      `the epoch agreement failed: ${culprits.map((p) => `"${p}" ${certain.get(p)!}`).join('; ')}` +
        (otherSuspects.length > 0 ? `; undecided between ${otherSuspects.map((p) => `"${p}"`).join(', ')}` : ''),
      { description: 'epoch contributions are unsigned (a signature would need the epoch); this verdict rests on what the authenticated channels delivered to this party and is not transferable', statements: [] },
      { peers: culprits, suspects: otherSuspects },
    );
  }
  if (missing.length > 0) {
    throw group._spareArrived(await group._stalled(`${round}/l`, missing, options.timeoutMs ?? group.roundTimeoutMs), `${round}/l`);
  }
  const undecided = group.parties.filter((p) => suspects.has(p));
  if (undecided.length > 0) {
    throw new CheatingDetectedError(
      ErrorCode.EQUIVOCATION,
      `the epoch agreement failed: parties report different contributions of other parties; either a contributor sent different values to different parties or a reporter lies, and nothing here tells which — nobody is named; suspects: ${undecided.map((p) => `"${p}"`).join(', ')}`,
      { description: 'epoch contributions are unsigned; the conflicting reports cannot be attributed', statements: [] },
      { peers: [], suspects: undecided },
    );
  }
  // Unreachable unless SHA-256 collides: a list that hashes to a digest other than ours differs from ours.
  throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `the epoch digests of ${mismatched.map((p) => `"${p}"`).join(', ')} differ but their lists show no difference`, { peers: [] });
}

/**
 * Judge `peer`'s list of contributions (its digest differed from this party's): record a certain
 * fault in `certain`, an undecidable conflict in `suspects`.
 */
function judgeList(
  group: Group,
  session: string,
  mine: readonly (readonly [string, Uint8Array])[],
  peer: string,
  msg: PlainData,
  theirDigest: Uint8Array,
  certain: Map<string, string>,
  suspects: Set<string>,
): void {
  const n = group.parties.length;
  let list: Uint8Array[];
  try {
    const items = expectArray(msg, 'list', { what: 'epoch list', peer }, n);
    if (items.length !== n) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, 'short list', { peer });
    list = items.map((x) => expectBytes(x, 'R', { what: 'epoch list', peer }, EPOCH_BYTES));
  } catch {
    certain.set(peer, 'sent a malformed list of contributions');
    return;
  }
  if (!bytesEqual(epochDigest(session, group.parties.map((p, i) => [p, list[i]!] as const)), theirDigest)) {
    certain.set(peer, 'sent a list of contributions that does not match the digest it sent');
    return;
  }
  const me = group.localId;
  group.parties.forEach((p, i) => {
    if (bytesEqual(list[i]!, mine[i]![1])) return;
    if (p === me) certain.set(peer, "misreported this party's own contribution (sent alike to every party)");
    else if (p === peer) certain.set(peer, 'reported its own contribution differently from what it sent this party');
    else {
      suspects.add(p);
      suspects.add(peer);
    }
  });
}

/**
 * The least time the epoch agreement at join gets, ms (10 s, or the round deadline if shorter),
 * even when the join deadline is nearly spent: parties complete their meshes at different times
 * (a last channel may wait out a dial backoff of up to 5 s), and a party that completed just
 * before its join deadline must still wait for the others' contributions.
 */
export const EPOCH_MIN_WAIT_MS = 10_000;

/**
 * @internal joinGroup's last step: agree on the epoch (deadline: what is left of the join
 * deadline, at least {@link EPOCH_MIN_WAIT_MS} or the round deadline if shorter) and store it on
 * the group; on failure, abort the group (the peers learn the error code) and rethrow.
 */
export async function joinEpoch(group: Group, options: { readonly remainingMs: number; readonly signal?: AbortSignal | undefined }): Promise<void> {
  const timeoutMs = Math.max(1, Math.round(options.remainingMs), Math.min(group.roundTimeoutMs, EPOCH_MIN_WAIT_MS));
  try {
    group._setEpoch(await agreeEpoch(group, { timeoutMs, ...(options.signal === undefined ? {} : { signal: options.signal }) }));
  } catch (err) {
    await group.abort(err instanceof CouplerError ? err : ErrorCode.PROTOCOL_VIOLATION);
    throw err;
  }
}
