/**
 * Echo broadcast (Goldwasser–Lindell): broadcast with abort over point-to-point channels.
 *
 * 1. Every party sends its value to every peer together with a signed statement
 *    `Sign(sk, {session, round, from, h = SHA-256(value bytes)})`.
 * 2. Every party sends every peer the list of signed statements it received (its own included).
 * 3. Each party compares: two validly signed statements of one sender with different hashes prove
 *    that sender equivocated (abort naming it, the two statements as evidence); a forwarded
 *    statement whose signature does not verify proves the forwarder lied (abort naming it, its
 *    signed echo as evidence).
 *
 * Everyone who completes without an error holds the same value from every party.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { CheatingDetectedError, ErrorCode, GroupError } from '../errors.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { bytesEqual } from '../crypto/bytes.js';
import { decodeMessage, encodeMessage, type PlainData } from '../wire/codec.js';
import { expectArray, expectBytes, expectRecord, expectString } from '../wire/shape.js';
import { PARTY_ID_PATTERN } from '../identity/identity.js';
import type { Group, RoundOptions } from './group.js';

/** A statement signed by `signer`, verifiable by anyone holding the roster. */
export interface SignedStatement {
  readonly signer: string;
  /** msgpack of the statement. */
  readonly statement: Uint8Array;
  readonly signature: Uint8Array;
}

/** Bytes of a signed statement as kept in evidence: msgpack `{ signer, statement, signature }`. */
export function encodeEvidence(s: SignedStatement): Uint8Array {
  return encodeMessage({ signer: s.signer, statement: s.statement, signature: s.signature });
}

function digest(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function statementBytes(session: string, round: string, from: string, h: Uint8Array): Uint8Array {
  return encodeMessage({ t: 'coupler/1 broadcast', s: session, r: round, from, h });
}

/**
 * Verify a signed statement against the roster.
 */
export function verifyStatement(group: Group, s: SignedStatement): boolean {
  const entry = group.roster.get(s.signer);
  return entry !== undefined && ed25519Verify(s.statement, s.signature, entry.publicKey);
}

/**
 * Broadcast `payload` to every party with an echo check.
 *
 * @param group - the group.
 * @param round - round name; sub-rounds `<round>/v` and `<round>/e` are used.
 * @param payload - this party's value.
 * @returns every party's value (this party's included), by party id.
 * @throws {@link CheatingDetectedError} `EQUIVOCATION` naming the culprit with signed evidence;
 *   {@link TimeoutError}/{@link GroupError} naming missing or lost peers.
 */
export async function echoBroadcast(group: Group, round: string, payload: PlainData, options: RoundOptions = {}): Promise<Map<string, PlainData>> {
  const valueBytes = encodeMessage(payload);
  const myHash = digest(valueBytes);
  const myStatement = statementBytes(group.sessionId, round, group.localId, myHash);
  const mySig = ed25519Sign(myStatement, group.identity.secretKey);
  await group.sendToAll(`${round}/v`, { v: valueBytes, sig: mySig });
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
    const h = digest(v);
    const entry = group.roster.get(peer)!;
    if (!ed25519Verify(statementBytes(group.sessionId, round, peer, h), sig, entry.publicKey)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent a broadcast with an invalid signature in round "${round}"`, { peer });
    }
    hashes.set(peer, { h, sig });
    values.set(peer, decodeMessage(v, group.maxMessageBytes, { peer }));
  }

  const echoList = group.parties.map((p) => ({ from: p, h: hashes.get(p)!.h, sig: hashes.get(p)!.sig }));
  const echoStatement = encodeMessage({ t: 'coupler/1 echo', s: group.sessionId, r: round, from: group.localId, list: echoList });
  const echoSig = ed25519Sign(echoStatement, group.identity.secretKey);
  await group.sendToAll(`${round}/e`, { stmt: echoStatement, sig: echoSig });
  const echoes = await group.gather(`${round}/e`, options);

  for (const [peer, msg] of echoes) {
    const ctx = { what: `echo of round "${round}"`, peer };
    const rec = expectRecord(msg, ctx, ['stmt', 'sig']);
    const stmt = expectBytes(rec.stmt, 'stmt', ctx, undefined, 64 + group.parties.length * 256);
    const sig = expectBytes(rec.sig, 'sig', ctx, 64);
    const forwarderEvidence: SignedStatement = { signer: peer, statement: stmt, signature: sig };
    if (!verifyStatement(group, forwarderEvidence)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo with an invalid signature`, { peer });
    }
    const body = expectRecord(decodeMessage(stmt, 64 + group.parties.length * 256, { peer }), ctx, ['t', 's', 'r', 'from', 'list']);
    if (body.t !== 'coupler/1 echo' || body.s !== group.sessionId || body.r !== round || body.from !== peer) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo for another round or session`, { peer });
    }
    const list = expectArray(body.list, 'list', ctx, group.parties.length);
    if (list.length !== group.parties.length) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an incomplete echo`, { peer });
    }
    list.forEach((item, index) => {
      const e = expectRecord(item, ctx, ['from', 'h', 'sig']);
      const from = expectString(e.from, 'from', ctx, 64, PARTY_ID_PATTERN);
      if (from !== group.parties[index]) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `peer "${peer}" sent an echo out of order`, { peer });
      const h = expectBytes(e.h, 'h', ctx, 32);
      const s = expectBytes(e.sig, 'sig', ctx, 64);
      const mine = hashes.get(from)!;
      if (bytesEqual(h, mine.h)) return;
      const theirs: SignedStatement = { signer: from, statement: statementBytes(group.sessionId, round, from, h), signature: s };
      if (!verifyStatement(group, theirs)) {
        throw new CheatingDetectedError(
          ErrorCode.EQUIVOCATION,
          `peer "${peer}" forwarded a statement of "${from}" that "${from}" never signed (round "${round}")`,
          { description: 'echo carries a forged statement; the forwarder signed the echo', statements: [encodeEvidence(forwarderEvidence)] },
          { peer },
        );
      }
      const ours: SignedStatement = { signer: from, statement: statementBytes(group.sessionId, round, from, mine.h), signature: mine.sig };
      throw new CheatingDetectedError(
        ErrorCode.EQUIVOCATION,
        `party "${from}" sent different values to different parties in round "${round}"`,
        { description: 'two statements signed by the same party for the same round with different value hashes', statements: [encodeEvidence(ours), encodeEvidence(theirs)] },
        { peer: from },
      );
    });
  }
  return values;
}
