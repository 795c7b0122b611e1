/**
 * A party's connection to the relay for one relayed opening: admission (`op: 'aggregate'`), the
 * chunked upload with backpressure, and the answer stream. What the chunks mean and how the
 * answer is checked is `protocols/relay-opening.ts`; this file only moves and frames bytes, and
 * turns every way the relay can fail into a {@link RelayOpeningError} naming the relay.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict, encodeBase64 } from '../crypto/bytes.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { CouplerError, ErrorCode, InvalidArgumentError, type CouplerErrorOptions } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import { Roster, rosterDigest, sessionRosterDigest } from '../identity/roster.js';
import { dialRelay } from './dial.js';
import { RELAY_REFUSE_REASONS, RelayError, normalizeRelayUrl, type RelayRefuseReason } from './protocol.js';
import {
  AGGREGATE_ABORT_REASONS,
  ANSWER_HEADER_BYTES,
  aggregateChunkCount,
  aggregateChunkLength,
  aggregateTranscript,
  parseAdmissionEvidence,
  type AggregateAbort,
  type MemberFinal,
} from './aggregate-wire.js';

/** Largest message a party accepts from the relay in an aggregation (an answer chunk, or the answer of up to 1 024 members). */
export const AGGREGATE_CLIENT_MAX_PAYLOAD = 512 * 1024;
/** Upload messages a party keeps in flight (written to its socket, not yet flushed): 8 × 128 KiB. */
export const AGGREGATE_UPLOAD_IN_FLIGHT = 8;

/**
 * The relayed opening failed because of the relay or the path to it, without a party to name: the
 * relay refused or cut the aggregation, sent something malformed, gave different keys to
 * different parties, or did not answer in time. `relayUrl` names the relay; `reason` is the
 * relay's abort reason when it sent one; `suspects` lists parties the relay's report concerns
 * (its word only). Codes: `PROTOCOL_VIOLATION`, `TIMEOUT`, `RELAY_LOST`.
 */
export class RelayOpeningError extends CouplerError {
  /** The relay's URL. */
  readonly relayUrl: string;
  /** The relay's abort message, when it sent one. */
  readonly abort: AggregateAbort | undefined;
  constructor(
    code: typeof ErrorCode.PROTOCOL_VIOLATION | typeof ErrorCode.TIMEOUT | typeof ErrorCode.RELAY_LOST,
    relayUrl: string,
    message: string,
    options: CouplerErrorOptions & { abort?: AggregateAbort } = {},
  ) {
    super(code, message, options);
    this.relayUrl = relayUrl;
    this.abort = options.abort;
  }
}

/** A member's signed statement, as the parties' evidence carries it. */
export interface SignedStatement {
  /** Who signed it (a roster id). */
  readonly signer: string;
  /** The signed bytes. */
  readonly statement: Uint8Array;
  /** The Ed25519 signature under the signer's roster key. */
  readonly signature: Uint8Array;
}

/**
 * The relay refused this member `aggregate-mismatch` because another member opened the
 * aggregation first with another member list or length, and proved it: `conflict` is that
 * member's signed admission request (verified under its roster key; its member list or length
 * differs from this party's). Whether that names its signer depends on which list and length are
 * right — the caller's agreed ones (`protocols/relay-opening.ts` waits for the shape agreement).
 */
export class RelayAggregateMismatchError extends RelayError {
  /** The conflicting signed admission. */
  readonly conflict: SignedStatement;
  constructor(message: string, conflict: SignedStatement) {
    super('aggregate-mismatch', message);
    this.conflict = conflict;
  }
}

/** The relay's final message of an aggregation. */
export interface AggregateAnswer {
  /** The statement the relay signed, as it sent it. */
  readonly statement: Uint8Array;
  /** Its signature. */
  readonly signature: Uint8Array;
  /** Each member's last signed upload chunk, in party order. */
  readonly members: readonly MemberFinal[];
}

/** Options of {@link openRelayAggregation}. */
export interface RelayAggregationOptions {
  readonly relayUrl: string;
  readonly identity: Identity;
  readonly roster: Roster;
  readonly sessionId: string;
  readonly localId: string;
  /** Aggregation id (64 hex). */
  readonly agg: string;
  /** Every member in canonical order. */
  readonly parties: readonly string[];
  /** Elements per member. */
  readonly length: number;
  /** Deadline of the admission (ms). */
  readonly admissionTimeoutMs: number;
  /** Receives every answer chunk, in order, already checked for its size and carries bound. */
  readonly onChunk: (i: number, sum: Uint8Array, carries: Uint8Array) => void;
}

/** An admitted member's connection. */
export interface RelayAggregationConnection {
  /** The relay's Ed25519 public key, as it announced it. */
  readonly relayKey: Uint8Array;
  /** Send upload message `i` (`messageOf(i)`) for every chunk, a few in flight at a time. */
  upload(messageOf: (i: number) => Buffer): Promise<void>;
  /** Resolves with the relay's answer once every chunk arrived; rejects with a {@link RelayOpeningError} or `RelayError`. */
  readonly answer: Promise<AggregateAnswer>;
  /**
   * The members the relay last said it waits for (its `waiting` notice after a stall; its word
   * only), without this party; empty when it said nothing or made progress since.
   */
  waiting(): readonly string[];
  /** Close the connection (idempotent). */
  close(): void;
}

/** Carry width on the wire for `n` members (as `carryWidth`). */
const widthOf = (n: number): number => (n <= 256 ? 1 : n <= 65_536 ? 2 : 4);

/**
 * Dial the relay, get admitted to the aggregation, and return the connection.
 * @throws `RelayError` when the relay refuses; {@link RelayOpeningError} (`TIMEOUT`, `RELAY_LOST`,
 *   `PROTOCOL_VIOLATION`) when it cannot be reached or answers something else.
 */
export async function openRelayAggregation(o: RelayAggregationOptions): Promise<RelayAggregationConnection> {
  let base: string;
  try {
    base = normalizeRelayUrl(o.relayUrl);
  } catch {
    throw new InvalidArgumentError('"relayUrl" must be a ws:// or wss:// URL');
  }
  const boundDigest = sessionRosterDigest(o.sessionId);
  const rosterText = boundDigest === undefined ? undefined : rosterJson(o.roster);
  if (boundDigest !== undefined && rosterDigest(o.roster) !== boundDigest) throw new InvalidArgumentError('the session id is bound to a different roster than the one given');
  const body = { session: o.sessionId, from: o.localId, agg: o.agg, parties: [...o.parties], len: o.length, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
  const sig = encodeBase64(ed25519Sign(aggregateTranscript(base, body), o.identity.secretKey));
  const ws = dialRelay(base, { maxPayload: AGGREGATE_CLIENT_MAX_PAYLOAD, handshakeTimeout: o.admissionTimeoutMs });
  ws.on('error', () => undefined);

  const fail = (code: typeof ErrorCode.PROTOCOL_VIOLATION | typeof ErrorCode.TIMEOUT | typeof ErrorCode.RELAY_LOST, message: string, extra: { abort?: AggregateAbort; suspects?: string[] } = {}): RelayOpeningError =>
    new RelayOpeningError(code, base, `relayed opening: ${message} (relay ${base})`, extra);

  /**
   * An `aggregate-mismatch` refusal with evidence: a member's admission to this aggregation with
   * another member list or length, signed by its roster key — else the relay's word, and wrong.
   */
  const mismatchEvidence = (raw: unknown): RelayAggregateMismatchError | RelayOpeningError => {
    const ev = parseAdmissionEvidence(raw);
    const bad = (why: string): RelayOpeningError => fail(ErrorCode.PROTOCOL_VIOLATION, `the relay refused the aggregation as mismatched, with evidence that ${why}`);
    if (ev === undefined) return bad('is malformed');
    let url: string;
    try {
      url = normalizeRelayUrl(ev.url);
    } catch {
      return bad('names no relay URL');
    }
    const signed = { session: o.sessionId, from: ev.from, agg: o.agg, parties: ev.parties, len: ev.len, ts: ev.ts, nonce: ev.nonce };
    const statement = aggregateTranscript(url, signed);
    const signature = decodeBase64Strict(ev.sig);
    const key = o.parties.includes(ev.from) && o.roster.has(ev.from) ? o.roster.get(ev.from)!.publicKey : undefined;
    if (key === undefined || signature === undefined || signature.length !== 64 || !ed25519Verify(statement, signature, key)) return bad('no member of this aggregation signed');
    if (ev.len === o.length && ev.parties.join('\n') === o.parties.join('\n')) return bad('agrees with this party (no mismatch)');
    return new RelayAggregateMismatchError(
      `relay refused the aggregation (aggregate-mismatch): "${ev.from}" opened it first, signing ${ev.len} elements and ${ev.parties.length} members (this party: ${o.length} and ${o.parties.length})`,
      { signer: ev.from, statement, signature },
    );
  };

  const n = o.parties.length;
  const count = aggregateChunkCount(o.length);
  const width = widthOf(n);
  let admittedKey: ((key: Uint8Array) => void) | undefined;
  let settled = false;
  let resolveAnswer!: (a: AggregateAnswer) => void;
  let rejectAnswer!: (e: unknown) => void;
  const answer = new Promise<AggregateAnswer>((res, rej) => {
    resolveAnswer = res;
    rejectAnswer = rej;
  });
  answer.catch(() => undefined);
  let failure: unknown;
  const failWith = (e: unknown): void => {
    if (settled) return;
    settled = true;
    failure = e;
    rejectAnswer(e);
    try {
      ws.terminate();
    } catch {
      /* closing */
    }
  };
  let next = 0;
  let waiting: readonly string[] = [];

  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (settled) return;
    if (isBinary) {
      if (admittedKey !== undefined) return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'the relay sent data before admitting this party'));
      if (data.length < ANSWER_HEADER_BYTES) return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'the relay sent a malformed answer chunk'));
      const i = data.readUInt32BE(0);
      if (i !== next || i >= count) return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, `the relay sent answer chunk ${i} where chunk ${next} was due`));
      const len = aggregateChunkLength(o.length, i);
      if (data.length !== ANSWER_HEADER_BYTES + len * (8 + width)) return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, `the relay sent answer chunk ${i} of the wrong size`));
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const sum = bytes.subarray(ANSWER_HEADER_BYTES, ANSWER_HEADER_BYTES + 8 * len);
      const carries = bytes.subarray(ANSWER_HEADER_BYTES + 8 * len);
      next++;
      waiting = [];
      try {
        o.onChunk(i, sum, carries);
      } catch (err) {
        return failWith(err);
      }
      return;
    }
    let msg: Record<string, unknown>;
    try {
      const v = JSON.parse(data.toString('utf8')) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      msg = v as Record<string, unknown>;
    } catch {
      return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'the relay sent a malformed message'));
    }
    if (msg.t === 'admitted' && admittedKey !== undefined) {
      const key = typeof msg.key === 'string' ? decodeBase64Strict(msg.key) : undefined;
      if (key === undefined || key.length !== 32) return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'the relay announced a malformed key'));
      const k = admittedKey;
      admittedKey = undefined;
      k(key);
      return;
    }
    if (msg.t === 'refused' && RELAY_REFUSE_REASONS.includes(msg.reason as RelayRefuseReason)) {
      if (msg.reason === 'aggregate-mismatch' && msg.ev !== undefined) return failWith(mismatchEvidence(msg.ev));
      return failWith(new RelayError(msg.reason as RelayRefuseReason, `relay refused the aggregation (${String(msg.reason)})`));
    }
    if (msg.t === 'abort' && AGGREGATE_ABORT_REASONS.includes(msg.reason as AggregateAbort['reason'])) {
      const abort = parseAbort(msg, o.parties);
      const who = abort.party === undefined ? '' : ` (party "${abort.party}", as the relay reports)`;
      const code = abort.reason === 'timeout' ? ErrorCode.TIMEOUT : ErrorCode.PROTOCOL_VIOLATION;
      return failWith(fail(code, `the relay ended the aggregation: ${abort.reason}${who}`, { abort, suspects: abort.party === undefined ? [] : [abort.party] }));
    }
    if (msg.t === 'waiting' && admittedKey === undefined) {
      // Only members of this aggregation, in party order, each once; anything else is malformed.
      const listed = msg.parties;
      if (!Array.isArray(listed) || listed.length > n || !Number.isSafeInteger(msg.i) || !listed.every((p) => typeof p === 'string' && o.parties.includes(p))) {
        return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'the relay sent a malformed progress notice'));
      }
      waiting = o.parties.filter((p) => p !== o.localId && listed.includes(p));
      return;
    }
    if (msg.t === 'answer' && admittedKey === undefined) {
      if (next !== count) return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, `the relay answered after ${next} of ${count} chunks`));
      const parsed = parseAnswer(msg, n);
      if (parsed === undefined) return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'the relay sent a malformed answer'));
      settled = true;
      resolveAnswer(parsed);
      ws.close(1000);
      return;
    }
    return failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'the relay sent an unexpected message'));
  });
  ws.once('close', (code: number, reason: Buffer) => {
    const r = reason.toString('utf8') as RelayRefuseReason;
    if (code === 4403 && RELAY_REFUSE_REASONS.includes(r)) failWith(new RelayError(r, `relay refused the aggregation (${r})`));
    else failWith(fail(ErrorCode.RELAY_LOST, `the connection to the relay closed (code ${code}) before the answer`));
  });

  const key = await new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => failWith(fail(ErrorCode.TIMEOUT, `not admitted within ${o.admissionTimeoutMs} ms`)), o.admissionTimeoutMs);
    admittedKey = (k) => {
      clearTimeout(timer);
      resolve(k);
    };
    answer.catch((e: unknown) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.once('open', () => ws.send(JSON.stringify({ v: 1, op: 'aggregate', ...body, sig, url: base, digest: rosterDigest(o.roster), ...(rosterText === undefined ? {} : { roster: rosterText }) })));
  });

  return {
    relayKey: key,
    answer,
    async upload(messageOf: (i: number) => Buffer): Promise<void> {
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        if (settled) break;
        if (inFlight.length >= AGGREGATE_UPLOAD_IN_FLIGHT) await inFlight.shift();
        if (settled) break;
        const msg = messageOf(i);
        inFlight.push(
          new Promise<void>((resolve) => {
            ws.send(msg, { binary: true }, () => resolve());
          }),
        );
      }
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
    },
    waiting: () => waiting,
    close(): void {
      if (!settled) failWith(fail(ErrorCode.PROTOCOL_VIOLATION, 'closed by this party'));
      else ws.terminate();
    },
  };
}

/** A roster as the relay reads it in a roster-bound admission (ids and keys, JSON). @internal */
export function rosterJson(roster: Roster): string {
  return JSON.stringify({ version: 1, parties: roster.entries().map((e) => ({ id: e.id, publicKey: encodeBase64(e.publicKey) })) });
}

function parseAbort(msg: Record<string, unknown>, parties: readonly string[]): AggregateAbort {
  const reason = msg.reason as AggregateAbort['reason'];
  const party = typeof msg.party === 'string' && parties.includes(msg.party) ? msg.party : undefined;
  const ev = msg.ev as Record<string, unknown> | undefined;
  const evOk =
    typeof ev === 'object' && ev !== null && Number.isSafeInteger(ev.i) && Number.isSafeInteger(ev.len) && typeof ev.c === 'string' && typeof ev.sig === 'string' && (ev.c as string).length <= 64 && (ev.sig as string).length <= 128;
  return {
    t: 'abort',
    reason,
    ...(party === undefined ? {} : { party }),
    ...(evOk ? { ev: { i: ev.i as number, len: ev.len as number, c: ev.c as string, sig: ev.sig as string } } : {}),
  };
}

function parseAnswer(msg: Record<string, unknown>, n: number): AggregateAnswer | undefined {
  const st = typeof msg.st === 'string' && msg.st.length <= AGGREGATE_CLIENT_MAX_PAYLOAD ? decodeBase64Strict(msg.st) : undefined;
  const sig = typeof msg.sig === 'string' ? decodeBase64Strict(msg.sig) : undefined;
  if (st === undefined || sig === undefined || sig.length !== 64 || !Array.isArray(msg.members) || msg.members.length !== n) return undefined;
  const members: MemberFinal[] = [];
  for (const m of msg.members as unknown[]) {
    if (typeof m !== 'object' || m === null) return undefined;
    const r = m as Record<string, unknown>;
    const c = typeof r.c === 'string' ? decodeBase64Strict(r.c) : undefined;
    const s = typeof r.sig === 'string' ? decodeBase64Strict(r.sig) : undefined;
    if (!Number.isSafeInteger(r.i) || !Number.isSafeInteger(r.len) || c === undefined || c.length !== 32 || s === undefined || s.length !== 64) return undefined;
    members.push({ i: r.i as number, len: r.len as number, c, sig: s });
  }
  return { statement: st, signature: sig, members };
}
