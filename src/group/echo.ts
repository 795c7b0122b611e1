/**
 * Echo broadcast (Goldwasser–Lindell) with a compact echo: broadcast with abort over
 * point-to-point channels, O(n) bytes per party and round in the normal case.
 *
 * Rounds (sub-rounds of the caller's `round`):
 *
 * 1. `<round>/v` — every party sends every peer its value with a signed statement
 *    `S_p = Sign(sk_p, {session, epoch, round, from: p, h = SHA-256(value bytes)})` (the epoch of
 *    the group's formation, see `group/epoch.ts`, so that no statement of an earlier formation
 *    with the same session id and round name verifies in this one).
 * 2. `<round>/d` — every party sends every peer ONE signed digest of its view:
 *    `Sign(sk, {session, epoch, round, from, d})` with
 *    `d = SHA-256(msgpack([[q, SHA-256(statement_q)] for q in canonical party order]))`, the
 *    statements being those it received in round 1 (its own included). If every peer's digest
 *    equals its own, the party is done. With {@link echoBroadcastAttached} the same message also
 *    carries an attachment (`x`, e.g. a commitment's opening), which is not part of the digest.
 * 3. `<round>/f` — only on a mismatch: a party sends its full signed list of round-1 statements
 *    (`Sign(sk, {session, epoch, round, from, list: [{from, h, sig}…]})`) to exactly the peers whose
 *    digests differ from its own, and waits for theirs. From each list it receives it names a
 *    culprit: a list whose digest is not the one its sender signed in round 2 names that sender
 *    (its signed digest and signed list as evidence); two validly signed statements of one sender
 *    with different hashes name that sender (`EQUIVOCATION`, both statements as evidence); a
 *    forwarded statement whose signature does not verify names the forwarder (its signed list as
 *    evidence); a party that sends no list is named by a `TIMEOUT`.
 *
 * Signatures are checked only where they serve as evidence. Every message already arrives over a
 * channel that authenticates its sender, so in the normal case (all digests equal) no signature
 * is verified: a party signs twice and verifies nothing. A peer's round-2 signature is verified
 * when its digest differs (it becomes evidence); the round-1 signatures a party received are
 * verified before it forwards them in its fallback list — an invalid one can only come from a
 * cheating sender, and the party aborts naming it (`PROTOCOL_VIOLATION`) rather than forward it.
 *
 * Why this is enough:
 *
 * - *Agreement of those who complete.* An honest party completes only if every signed digest it
 *   received equals its own. An honest peer's digest is the digest of its own view, and the digest
 *   binds the ordered list of (sender, statement hash) — hence, by collision resistance of SHA-256,
 *   every value hash — so a completing party holds, from every party, the same value as every
 *   honest peer holds (whether that peer completes or aborts). A party that received an equivocated
 *   value has a different view from an honest party that received the other value: both see a
 *   digest mismatch.
 * - *Fallback is symmetric between honest parties.* Each honest party signs one digest and sends
 *   it to everyone, so if honest P sees honest Q's digest differ from its own, Q sees P's differ
 *   from its own: both enter round 3, each sends the other its list as soon as the other's
 *   differing digest arrives — not after the rest of round 2, which a cheater withholding its
 *   digest from one of them could stretch to a whole deadline and a probe, past the other's
 *   deadline for the list — and neither waits for a party that is not obliged to answer. So an honest party is
 *   never named by the fallback's timeout — unless a cheater sent it an invalidly signed round-1
 *   statement: it then aborts naming the cheater (at the first differing digest) instead of
 *   forwarding a statement that would make it look like a forger; its mismatching peers, told by
 *   its abort notice while they wait for its list, name nobody. (The notice of its run: the
 *   protocols send it when a run fails; a caller of this function sends it with
 *   `group.endRun(run, err)` — without it the peers find this party alive and waiting for nobody
 *   at their deadline, and name it: review17 R17-2.) That misbehaviour (garbage over an
 *   authenticated channel) is not transferable evidence for anyone else.
 * - *Every fallback names a cheater.* P waits only for the lists of peers whose signed digest
 *   differs from P's. A peer's list that matches its signed digest differs from P's list in some
 *   entry; an honest P's entries carry valid signatures, so that entry is either a second valid
 *   statement of its sender (equivocation) or a bad signature (the forwarder lied). A peer that
 *   claimed a digest it cannot back with a list (lied in its digest) is named with its own two
 *   signed, contradicting statements, or by the timeout if it sends nothing.
 * - *What is not promised: unanimous abort.* A cheater can send a false digest to some parties
 *   only; those abort naming it while the others complete (with values equal to the aborting
 *   parties' views). No fixed number of rounds can prevent this — whoever speaks last can always
 *   speak to some parties only (the Dolev–Strong lower bound) — and the two-round echo before it
 *   did not prevent it either (a forged statement forwarded to one party only). Both guarantees
 *   that matter hold: everyone who completes holds the same values, and whoever aborts because of
 *   a mismatch names a cheater, with signed evidence unless the cheater went silent.
 *
 * @module
 */
import { setMaxListeners } from 'node:events';
import { AbortedError, CheatingDetectedError, CouplerError, ErrorCode, GroupError, TimeoutError } from '../errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { bytesEqual } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { decodeMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectArray, expectBytes, expectRecord, expectString } from '../wire/shape.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import type { Group, RoundOptions } from './group.js';

/** A statement signed by `signer`, verifiable by anyone holding the roster. */
export interface SignedStatement {
  /** The party whose roster key signed it. */
  readonly signer: string;
  /** msgpack of the statement. */
  readonly statement: Uint8Array;
  /** Ed25519 signature over `statement`. */
  readonly signature: Uint8Array;
}

/** Statement types (`t`) of the echo broadcast. */
export const ECHO_STATEMENT = {
  /** Round 1: `{t, s, e, r, from, h}` — `e` the group's epoch, `h` = SHA-256 of the value bytes. */
  broadcast: 'coupler/1 broadcast',
  /** Round 2: `{t, s, e, r, from, d}` — `d` = {@link echoDigest} of the sender's round-1 view. */
  digest: 'coupler/1 echo digest',
  /** Round 3 (fallback): `{t, s, e, r, from, list: [{from, h, sig}…]}` in canonical party order. */
  list: 'coupler/1 echo',
} as const;

/** Bytes of a signed statement as kept in evidence: msgpack `{ signer, statement, signature }`. */
export function encodeEvidence(s: SignedStatement): Uint8Array {
  return encodeMessage({ signer: s.signer, statement: s.statement, signature: s.signature });
}

function statementBytes(session: string, epoch: Uint8Array, round: string, from: string, h: Uint8Array): Uint8Array {
  return encodeMessage({ t: ECHO_STATEMENT.broadcast, s: session, e: epoch, r: round, from, h });
}

function digestStatement(session: string, epoch: Uint8Array, round: string, from: string, d: Uint8Array): Uint8Array {
  return encodeMessage({ t: ECHO_STATEMENT.digest, s: session, e: epoch, r: round, from, d });
}

/**
 * The round-2 digest of a view: `SHA-256(msgpack([[from, SHA-256(statement)] …]))` over the
 * round-1 statements `{t, s: session, e: epoch, r: round, from, h}`, in the order given (canonical
 * party order in the protocol).
 *
 * @param session - the session id.
 * @param epoch - the group's epoch ({@link Group.epoch}).
 * @param round - the echo round name.
 * @param view - per sender, the value hash it signed.
 * @returns the 32-byte digest.
 */
export function echoDigest(session: string, epoch: Uint8Array, round: string, view: readonly { readonly from: string; readonly h: Uint8Array }[]): Uint8Array {
  return sha256(encodeMessage(view.map((e) => [e.from, sha256(statementBytes(session, epoch, round, e.from, e.h))])));
}

/**
 * Verify a signed statement against the roster.
 */
export function verifyStatement(group: Group, s: SignedStatement): boolean {
  const entry = group.roster.get(s.signer);
  return entry !== undefined && ed25519Verify(s.statement, s.signature, entry.publicKey);
}

/** The reason `collect` aborts its leftover receives with: a constant, so no DOMException is built per round. */
const COLLECT_DONE: unique symbol = Symbol('echo collect done');

/**
 * One message of `round` from each of `from`, each under the round deadline, tolerating failures:
 * returns what arrived and, per peer, why nothing did. `onMessage` may throw to stop early (the
 * error is rethrown and the other receives are cancelled).
 *
 * Without `onMessage` nothing can stop the wait early, so the receives take the caller's signal
 * directly: no AbortController of its own (a controller and its abort showed in the profiles of
 * small sums, where this runs in every echo).
 */
async function collect(
  group: Group,
  round: string,
  from: readonly string[],
  options: RoundOptions,
  onMessage?: (peer: string, msg: PlainData) => void,
  observe?: (peer: string, msg: PlainData) => void,
): Promise<{ got: Map<string, PlainData>; failed: Map<string, CouplerError> }> {
  const timeoutMs = options.timeoutMs ?? group.roundTimeoutMs;
  const outer = options.signal;
  const controller = onMessage === undefined ? undefined : new AbortController();
  const onAbort = (): void => controller!.abort(COLLECT_DONE);
  if (controller !== undefined) {
    setMaxListeners(0, controller.signal);
    outer?.addEventListener('abort', onAbort, { once: true });
  }
  const signal = controller === undefined ? outer : controller.signal;
  const got = new Map<string, PlainData>();
  const failed = new Map<string, CouplerError>();
  try {
    if (outer?.aborted) throw new AbortedError();
    await new Promise<void>((resolve, reject) => {
      let pending = from.length;
      const settle = (): void => {
        if (--pending === 0) resolve();
      };
      if (pending === 0) resolve();
      for (const peer of from) {
        group.receive(peer, round, signal === undefined ? { timeoutMs } : { timeoutMs, signal }).then(
          (msg) => {
            got.set(peer, msg);
            try {
              // An observer that throws ends the wait at once (without a controller of its own the
              // other receives run on, unobserved, until the run ends or their deadline).
              observe?.(peer, msg);
              onMessage?.(peer, msg);
            } catch (err) {
              reject(err);
            }
            settle();
          },
          (err: unknown) => {
            if (outer?.aborted) reject(new AbortedError());
            failed.set(peer, err instanceof CouplerError ? err : new GroupError(ErrorCode.PEER_LOST, `lost peer "${peer}"`, { peer, cause: err }));
            settle();
          },
        );
      }
    });
  } finally {
    if (controller !== undefined) {
      outer?.removeEventListener('abort', onAbort);
      controller.abort(COLLECT_DONE);
    }
  }
  return { got, failed };
}

/**
 * The error to report for the peers that failed a round: a non-timeout failure first (one that
 * names someone before one that names nobody), else one
 * timeout naming whom the receives' timeouts named (each names the silent party behind its peer,
 * or nobody — its peer and whom it waits for only suspects: see `Group.receive`). A receive that
 * named nobody names nobody here too (before, its peer was named: an honest party kept waiting by
 * a withholder, review8 R8-10).
 */
function roundFailure(group: Group, round: string, failed: Map<string, CouplerError>, options: RoundOptions): CouplerError {
  const order = group.parties.filter((p) => failed.has(p));
  // A failure that names someone first (each is already a verdict: a violation seen here, a loss,
  // a notice confirmed here): a peer's notice that names nobody hid a malformed digest seen here,
  // and its sender went unnamed (review17 R17-4).
  const others = order.map((p) => failed.get(p)!).filter((e) => !(e instanceof TimeoutError));
  const other = others.find((e) => e.peers.length > 0) ?? others[0];
  if (other !== undefined) return other;
  const timeoutMs = options.timeoutMs ?? group.roundTimeoutMs;
  const named = new Set(order.flatMap((p) => failed.get(p)!.peers));
  const suspected = new Set(order.flatMap((p) => failed.get(p)!.suspects));
  const peers = group.parties.filter((p) => named.has(p));
  const suspects = group.parties.filter((p) => suspected.has(p) && !named.has(p));
  const why = order.map((p) => failed.get(p)!.message).join('; ');
  return new TimeoutError(`round "${round}": no message from ${order.map((n) => `"${n}"`).join(', ')} within ${timeoutMs} ms (${why})`, { peers, suspects });
}

/**
 * Broadcast `payload` to every party with an echo check.
 *
 * @param group - the group.
 * @param round - round name; sub-rounds `<round>/v` (values), `<round>/d` (signed digests) and,
 *   only when some digests differ, `<round>/f` (full signed lists, between mismatching parties) are
 *   used.
 * @returns every party's value (this party's included), by party id.
 * @throws {@link CheatingDetectedError} `EQUIVOCATION` naming the culprit with signed evidence;
 *   {@link TimeoutError}/{@link GroupError} naming missing or lost peers. A caller that stops its
 *   exchange on such an error tells its peers with `group.endRun(run, err)` (`run`: the part of
 *   `round` before its first `/`), as the protocols do for their runs, or the peers still waiting
 *   for this party's messages name it at their deadline.
 */
export async function echoBroadcast(group: Group, round: string, payload: PlainData, options: EchoOptions = {}): Promise<Map<string, PlainData>> {
  return (await echo(group, round, payload, options)).values;
}

/** Options of {@link echoBroadcastAttached}. */
export interface EchoOptions extends RoundOptions {
  /**
   * Wait for this before sending the round-2 digest and its attachment (and give up, sending
   * nothing more, if it rejects). Lets a caller run this echo's round 1 in the same message flight
   * as another step, while keeping what round 2 reveals (an opening) behind that step's outcome.
   */
  readonly gate?: Promise<unknown>;
  /**
   * Called once this party's round-2 digest (and attachment) is on its way, before the echo check:
   * to send what follows the attachment in the same flight (the pieces of a long opening).
   */
  readonly afterDigest?: () => void;
}

/** What {@link echoBroadcastAttached} returns. */
export interface EchoAttachedResult {
  /** Every party's echo-checked value (this party's included), by party id. */
  readonly values: Map<string, PlainData>;
  /**
   * Each peer's attachment, by peer id: NOT echo-checked (it travelled point to point with the
   * peer's digest), and absent for a peer that sent none; the caller checks it, typically against
   * the echo-checked values (as commit-then-open checks openings against commitments).
   */
  readonly attached: Map<string, PlainData>;
}

/**
 * {@link echoBroadcast} that also sends an attachment with this party's round-2 digest, saving a
 * message round for a value that must only be sent once every party's round-1 value is known
 * (`attach` runs after round 1, before round 2): commit-then-open attaches the opening, so opening
 * takes no round of its own. The attachments are returned only if the echo check passes.
 *
 * What attaching must not break: an attachment leaves this party before it knows whether the
 * echo succeeds, so it must be a value this party may reveal even in a run that then aborts (an
 * opening of a commitment to a value that is public by design, for instance).
 *
 * @param attach - computes the attachment from the round-1 values (may throw to abort before
 *   round 2).
 * @throws as {@link echoBroadcast}.
 */
export async function echoBroadcastAttached(
  group: Group,
  round: string,
  payload: PlainData,
  attach: (values: ReadonlyMap<string, PlainData>) => PlainData,
  options: EchoOptions = {},
): Promise<EchoAttachedResult> {
  return echo(group, round, payload, options, attach);
}

async function echo(
  group: Group,
  round: string,
  payload: PlainData,
  options: EchoOptions,
  attach?: (values: ReadonlyMap<string, PlainData>) => PlainData,
): Promise<EchoAttachedResult> {
  const session = group.sessionId;
  const epoch = group.epoch;
  const sk = group.identity.secretKey;
  const valueBytes = encodeMessage(payload);
  const myHash = sha256(valueBytes);
  const mySig = ed25519Sign(statementBytes(session, epoch, round, group.localId, myHash), sk);
  await group.sendToAll(`${round}/v`, { v: valueBytes, sig: mySig }, group.peers, options);
  const received = await group.gather(`${round}/v`, options);

  const values = new Map<string, PlainData>();
  const hashes = new Map<string, { h: Uint8Array; sig: Uint8Array }>();
  values.set(group.localId, payload);
  hashes.set(group.localId, { h: myHash, sig: mySig });
  for (const [peer, msg] of received) {
    const ctx = { what: `echo value of round "${round}"`, peer };
    const rec = expectRecord(msg, ctx, ['v', 'sig']);
    const v = expectBytes(rec.v, 'v', ctx);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    // The signature is kept unverified: the channel already authenticates the sender, and the
    // statement is only needed as evidence if the views differ (then `verifyView` checks it).
    hashes.set(peer, { h: sha256(v), sig });
    values.set(peer, decodeMessage(v, group.maxMessageBytes, { peer }));
  }

  if (options.gate !== undefined) await options.gate;
  // Round 2: one signed digest of this party's view to every peer.
  const myView = group.parties.map((p) => ({ from: p, h: hashes.get(p)!.h, sig: hashes.get(p)!.sig }));
  const myDigest = echoDigest(session, epoch, round, myView);
  const digestMsg: Record<string, PlainData> = { d: myDigest, sig: ed25519Sign(digestStatement(session, epoch, round, group.localId, myDigest), sk) };
  if (attach !== undefined) digestMsg.x = attach(values);
  await group.sendToAll(`${round}/d`, digestMsg, group.peers, options);
  options.afterDigest?.();

  // Each digest is judged as it arrives, and a peer whose signed digest differs from this party's
  // gets this party's list (round 3) at once — not once every digest is in. A cheater that
  // withholds its digest from this party alone would otherwise hold this party's list back by a
  // whole round deadline (and the liveness probe after it), past the deadline of the honest peers
  // waiting for it: they named this party by a timeout, and the cheater's equivocation, which this
  // list proves, went unnamed (review5 F2, test/protocols/fused-review.test.ts).
  const failed = new Map<string, CouplerError>();
  const mismatched = new Map<string, SignedStatement>();
  const attached = new Map<string, PlainData>();
  const listSends: Promise<unknown>[] = [];
  let list: { stmt: Uint8Array; sig: Uint8Array } | undefined;
  let viewError: unknown;
  const sendList = (peer: string): void => {
    if (viewError !== undefined) return;
    if (list === undefined) {
      // Only the round-1 signatures this party forwards are checked first (local work).
      try {
        verifyView(group, round, hashes);
      } catch (err) {
        viewError = err;
        return;
      }
      const stmt = encodeMessage({ t: ECHO_STATEMENT.list, s: session, e: epoch, r: round, from: group.localId, list: myView });
      list = { stmt, sig: ed25519Sign(stmt, sk) };
    }
    listSends.push(group.send(peer, `${round}/f`, list, options).catch(() => undefined));
  };
  const judgeDigest = (peer: string, msg: PlainData): void => {
    try {
      const ctx = { what: `echo digest of round "${round}"`, peer };
      const rec = expectRecord(msg, ctx, attach === undefined ? ['d', 'sig'] : ['d', 'sig', 'x']);
      if (rec.x !== undefined) attached.set(peer, rec.x);
      const d = expectBytes(rec.d, 'd', ctx, 32);
      const sig = expectBytes(rec.sig, 'sig', ctx, 64);
      if (bytesEqual(d, myDigest)) return; // authenticated by the channel; its signature is never evidence
      const signed: SignedStatement = { signer: peer, statement: digestStatement(session, epoch, round, peer, d), signature: sig };
      if (!verifyStatement(group, signed)) {
        throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo digest with an invalid signature in round "${round}"`, { peer });
      }
      mismatched.set(peer, signed);
    } catch (err) {
      failed.set(peer, err as CouplerError);
      return;
    }
    sendList(peer);
    // This party cannot forward its view (a forged round-1 signature in it): it stops now, and its
    // notice tells the peers waiting for its list at once — rather than after the rest of the
    // round, which a cheater could stretch past their deadline for the list.
    if (viewError !== undefined) throw viewError;
  };
  const digests = await collect(group, `${round}/d`, group.peers, options, undefined, judgeDigest);
  for (const [peer, err] of digests.failed) failed.set(peer, err);
  if (mismatched.size === 0 && failed.size === 0) return { values, attached };

  // Round 3 (fallback): full lists, between the parties whose digests differ (sent above, as each
  // differing digest arrived; a forwarded round-1 signature that does not verify, which can only
  // come from a cheating sender, stopped this party above, naming it).
  const against = group.parties.filter((p) => mismatched.has(p));
  await Promise.allSettled(listSends);
  if (failed.size > 0) throw roundFailure(group, `${round}/d`, failed, options);

  const lists = await collect(group, `${round}/f`, against, options, (peer, msg) => checkList(group, round, hashes, peer, msg, mismatched.get(peer)!));
  if (lists.failed.size > 0) throw roundFailure(group, `${round}/f`, lists.failed, options);
  // Unreachable unless SHA-256 collides: a list that matches its signed digest differs from ours.
  throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `echo digests differ in round "${round}" but no list shows why`, { peers: against });
}

/**
 * Verify the round-1 signatures this party received (its view), before it forwards them in the
 * fallback round. An invalid one can only come from a cheating sender (the channel authenticates
 * who sent it); forwarding it would get this party named as a forger, so it aborts naming the
 * sender instead.
 */
function verifyView(group: Group, round: string, hashes: Map<string, { h: Uint8Array; sig: Uint8Array }>): void {
  const epoch = group.epoch;
  for (const peer of group.peers) {
    const { h, sig } = hashes.get(peer)!;
    if (!ed25519Verify(statementBytes(group.sessionId, epoch, round, peer, h), sig, group.roster.get(peer)!.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent a broadcast with an invalid signature in round "${round}"`, { peer });
    }
  }
}

/**
 * The largest signed echo list an honest party of `n` sends in `round` (bytes of its msgpack
 * statement): the header — the fixed keys and type, the 32-byte epoch, the session id, the round
 * name and the sender's id (≤ 64 characters), with their msgpack headers: under 192 bytes beside
 * the session id and the round name — plus n entries `{from, h, sig}` of at most 178 bytes each.
 * The cap was `128 + 256·n`, which an honest list of valid long names exceeds at n = 3 (ids of 64
 * characters, a session id of 128 and a round of 120: 935 bytes > 896), and its honest sender was
 * named (review17 R17-1).
 */
function maxListBytes(session: string, round: string, n: number): number {
  return 256 + Buffer.byteLength(session) + Buffer.byteLength(round) + n * 256;
}

/**
 * Check the full list `msg` of `peer`, whose signed round-2 digest (`signedDigest`) differs from
 * this party's. Throws naming a culprit (it always finds one unless SHA-256 collides).
 */
function checkList(
  group: Group,
  round: string,
  hashes: Map<string, { h: Uint8Array; sig: Uint8Array }>,
  peer: string,
  msg: PlainData,
  signedDigest: SignedStatement,
): void {
  const session = group.sessionId;
  const epoch = group.epoch;
  const n = group.parties.length;
  const ctx = { what: `echo list of round "${round}"`, peer };
  const rec = expectRecord(msg, ctx, ['stmt', 'sig']);
  const maxBytes = maxListBytes(session, round, n);
  const stmt = expectBytes(rec.stmt, 'stmt', ctx, undefined, maxBytes);
  const sig = expectBytes(rec.sig, 'sig', ctx, 64);
  const forwarderEvidence: SignedStatement = { signer: peer, statement: stmt, signature: sig };
  if (!verifyStatement(group, forwarderEvidence)) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo list with an invalid signature`, { peer });
  }
  const decoded = decodeMessage(stmt, maxBytes, { peer });
  // Kept as evidence as signed: it must read the same under any msgpack decoder. A duplicated key
  // (`r` another round's name, then this round's) was read last-key-wins here and kept, evidence a
  // first-key-wins verifier reads as a statement about another round (review17 R17-6). Honest
  // parties sign `encodeMessage` output, which re-encodes to itself.
  let canonical: boolean;
  try {
    canonical = bytesEqual(encodeMessage(decoded), stmt);
  } catch {
    canonical = false; // nothing encodeMessage would write
  }
  if (!canonical) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo list that is not in canonical form`, { peer });
  }
  const body = expectRecord(decoded, ctx, ['t', 's', 'e', 'r', 'from', 'list']);
  if (body.t !== ECHO_STATEMENT.list || body.s !== session || !(body.e instanceof Uint8Array) || !bytesEqual(body.e, epoch) || body.r !== round || body.from !== peer) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo list for another round, session or group formation`, { peer });
  }
  const list = expectArray(body.list, 'list', ctx, n);
  if (list.length !== n) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an incomplete echo list`, { peer });
  const entries = list.map((item, index) => {
    const e = expectRecord(item, ctx, ['from', 'h', 'sig']);
    const from = expectString(e.from, 'from', ctx, 64, PARTY_ID_PATTERN);
    if (from !== group.parties[index]) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo list out of order`, { peer });
    return { from, h: expectBytes(e.h, 'h', ctx, 32), sig: expectBytes(e.sig, 'sig', ctx, 64) };
  });
  const claimed = decodeMessage(signedDigest.statement, 1024) as { d: Uint8Array };
  if (!bytesEqual(echoDigest(session, epoch, round, entries), claimed.d)) {
    throw new CheatingDetectedError(
      ErrorCode.EQUIVOCATION,
      `party "${peer}" signed an echo digest that does not match the echo list it presented (round "${round}")`,
      { description: 'a signed echo digest and a signed echo list of the same party for the same round that contradict each other', statements: [encodeEvidence(signedDigest), encodeEvidence(forwarderEvidence)] },
      { peer },
    );
  }
  for (const { from, h, sig: s } of entries) {
    const mine = hashes.get(from)!;
    if (bytesEqual(h, mine.h)) continue;
    const theirs: SignedStatement = { signer: from, statement: statementBytes(session, epoch, round, from, h), signature: s };
    if (!verifyStatement(group, theirs)) {
      throw new CheatingDetectedError(
        ErrorCode.EQUIVOCATION,
        `peer "${peer}" forwarded a statement of "${from}" that "${from}" never signed (round "${round}")`,
        { description: 'echo list carries a forged statement; the forwarder signed the list', statements: [encodeEvidence(forwarderEvidence)] },
        { peer },
      );
    }
    const ours: SignedStatement = { signer: from, statement: statementBytes(session, epoch, round, from, mine.h), signature: mine.sig };
    throw new CheatingDetectedError(
      ErrorCode.EQUIVOCATION,
      `party "${from}" sent different values to different parties in round "${round}"`,
      { description: 'two statements signed by the same party for the same round with different value hashes', statements: [encodeEvidence(ours), encodeEvidence(theirs)] },
      { peer: from },
    );
  }
}
