/**
 * A minimal DNS wire-format codec (RFC 1035, RFC 2782 SRV, RFC 3596 AAAA, RFC 6891 OPT), just
 * enough for the development DNS server: decode a query (header, one question, an optional OPT
 * record) and encode a response with A/AAAA/SRV answers.
 *
 * Decoding never throws on untrusted bytes: it returns a tagged result. Every read is bounds
 * checked; compression pointers must point strictly backwards and at most
 * {@link MAX_POINTER_JUMPS} are followed, so a pointer loop cannot spin.
 *
 * Internal to the discovery module.
 *
 * @module
 */

/** Record types this codec knows. */
export const RecordType = { A: 1, AAAA: 28, SRV: 33, OPT: 41 } as const;
/** Response codes used by the server. */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** The Internet class. */
export const CLASS_IN = 1;

/** Header length in bytes. */
export const HEADER_LENGTH = 12;
/** Longest encoded name (RFC 1035 2.3.4), in bytes. */
export const MAX_NAME_LENGTH = 255;
/** Most compression pointers followed while reading one name. */
export const MAX_POINTER_JUMPS = 16;
/** Plain UDP payload limit without EDNS (RFC 1035). */
export const CLASSIC_UDP_LIMIT = 512;
/** Largest UDP payload the server ever sends, whatever the client advertises. */
export const MAX_UDP_PAYLOAD = 1232;

/** The fixed header fields of a query. */
export interface DnsHeader {
  readonly id: number;
  readonly flags: number;
  readonly qdcount: number;
  readonly ancount: number;
  readonly nscount: number;
  readonly arcount: number;
}

/**
 * One question. `name` is lower-case, dot-separated, without a trailing dot (`""` is the root);
 * bytes outside printable ASCII and dots inside labels are escaped as `\DDD`. `labels` are the
 * raw label bytes as sent, used to echo the question exactly.
 */
export interface DnsQuestion {
  readonly name: string;
  readonly labels: readonly Uint8Array[];
  readonly type: number;
  readonly qclass: number;
}

/** A query that decoded cleanly. */
export interface DecodedQuery {
  readonly ok: true;
  readonly header: DnsHeader;
  readonly question: DnsQuestion;
  /** The UDP payload size from an OPT record, when the query carried one. */
  readonly ednsUdpSize: number | undefined;
}

/** A query that did not decode. `header` is present when at least the 12 header bytes were there. */
export interface FailedQuery {
  readonly ok: false;
  readonly header: DnsHeader | undefined;
  readonly reason: string;
}

/** An answer record to encode. The owner name is always the question's name. */
export type DnsAnswer =
  | { readonly type: typeof RecordType.A; readonly address: Uint8Array }
  | { readonly type: typeof RecordType.AAAA; readonly address: Uint8Array }
  | {
      readonly type: typeof RecordType.SRV;
      readonly priority: number;
      readonly weight: number;
      readonly port: number;
      readonly target: string;
    };

class WireError extends Error {}

function u16(buf: Uint8Array, at: number): number {
  if (at < 0 || at + 2 > buf.length) throw new WireError('truncated');
  return ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
}

/** Read a possibly compressed name starting at `start`; returns the name and the offset after it. */
export function readName(buf: Uint8Array, start: number): { name: string; labels: Uint8Array[]; next: number } {
  const labels: string[] = [];
  const raw: Uint8Array[] = [];
  let at = start;
  let next = -1;
  let jumps = 0;
  let length = 1; // the final root byte
  // Strictly-backwards pointers plus a jump cap make this loop finite.
  for (;;) {
    if (at >= buf.length) throw new WireError('name runs past the end');
    const len = buf[at] ?? 0;
    if (len === 0) {
      if (next === -1) next = at + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      const target = u16(buf, at) & 0x3fff;
      if (next === -1) next = at + 2;
      if (++jumps > MAX_POINTER_JUMPS) throw new WireError('too many compression pointers');
      if (target >= at) throw new WireError('compression pointer does not point backwards');
      at = target;
      continue;
    }
    if (kind !== 0) throw new WireError('unsupported label type');
    if (at + 1 + len > buf.length) throw new WireError('label runs past the end');
    length += len + 1;
    if (length > MAX_NAME_LENGTH) throw new WireError('name longer than 255 bytes');
    let label = '';
    for (let i = at + 1; i <= at + len; i++) {
      const c = buf[i] ?? 0;
      // Names are matched as ASCII, case-insensitively; other bytes are escaped so they cannot
      // collide with a real name or contain a dot.
      if (c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e) label += `\\${c.toString().padStart(3, '0')}`;
      else label += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
    }
    labels.push(label);
    raw.push(buf.slice(at + 1, at + 1 + len));
    at += 1 + len;
  }
  return { name: labels.join('.'), labels: raw, next };
}

function readHeader(buf: Uint8Array): DnsHeader {
  return {
    id: u16(buf, 0),
    flags: u16(buf, 2),
    qdcount: u16(buf, 4),
    ancount: u16(buf, 6),
    nscount: u16(buf, 8),
    arcount: u16(buf, 10),
  };
}

/** Skip one resource record (name, type, class, ttl, rdata); returns its type, class and the next offset. */
function readRecordHead(buf: Uint8Array, at: number): { type: number; rclass: number; next: number } {
  const { next } = readName(buf, at);
  const type = u16(buf, next);
  const rclass = u16(buf, next + 2);
  const rdlength = u16(buf, next + 8);
  const end = next + 10 + rdlength;
  if (end > buf.length) throw new WireError('record data runs past the end');
  return { type, rclass, next: end };
}

/**
 * Decode a query. Never throws: malformed input gives `{ ok: false, reason }`.
 *
 * Accepts exactly one question, no answer or authority records, and additional records of which
 * an OPT record (EDNS) is read for its UDP payload size.
 */
export function decodeQuery(buf: Uint8Array): DecodedQuery | FailedQuery {
  if (buf.length < HEADER_LENGTH) return { ok: false, header: undefined, reason: 'shorter than a header' };
  const header = readHeader(buf);
  try {
    if (header.qdcount !== 1) throw new WireError('expected exactly one question');
    if (header.ancount !== 0 || header.nscount !== 0) throw new WireError('unexpected answer or authority records');
    if (header.arcount > 4) throw new WireError('too many additional records');
    const { name, labels, next } = readName(buf, HEADER_LENGTH);
    const question: DnsQuestion = { name, labels, type: u16(buf, next), qclass: u16(buf, next + 2) };
    let at = next + 4;
    let ednsUdpSize: number | undefined;
    for (let i = 0; i < header.arcount; i++) {
      const rec = readRecordHead(buf, at);
      if (rec.type === RecordType.OPT) ednsUdpSize = rec.rclass;
      at = rec.next;
    }
    return { ok: true, header, question, ednsUdpSize };
  } catch (err) {
    if (err instanceof WireError) return { ok: false, header, reason: err.message };
    throw err;
  }
}

/** Encode raw labels without compression. Throws on labels over 63 bytes or names over 255 bytes. */
export function encodeLabels(labels: readonly Uint8Array[]): Uint8Array {
  const bytes: number[] = [];
  for (const raw of labels) {
    if (raw.length === 0 || raw.length > 63) throw new RangeError('DNS label expected 1..63 bytes');
    bytes.push(raw.length, ...raw);
  }
  bytes.push(0);
  if (bytes.length > MAX_NAME_LENGTH) throw new RangeError('DNS name expected at most 255 bytes');
  return Uint8Array.from(bytes);
}

/** Encode a dotted ASCII name (optional trailing dot) without compression. */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.');
  return encodeLabels(labels.map((label) => Uint8Array.from(Buffer.from(label, 'ascii'))));
}

function answerBytes(answer: DnsAnswer, ttl: number): Uint8Array {
  let rdata: Uint8Array;
  if (answer.type === RecordType.SRV) {
    const target = encodeName(answer.target);
    rdata = new Uint8Array(6 + target.length);
    const view = new DataView(rdata.buffer);
    view.setUint16(0, answer.priority);
    view.setUint16(2, answer.weight);
    view.setUint16(4, answer.port);
    rdata.set(target, 6);
  } else {
    rdata = answer.address;
  }
  const out = new Uint8Array(12 + rdata.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xc000 | HEADER_LENGTH); // owner: pointer to the question name
  view.setUint16(2, answer.type);
  view.setUint16(4, CLASS_IN);
  view.setUint32(6, ttl >>> 0);
  view.setUint16(10, rdata.length);
  out.set(rdata, 12);
  return out;
}

/** What to put into a response. */
export interface ResponseSpec {
  /** Id of the query. */
  readonly id: number;
  /** Flags of the query (RD and the opcode are copied). */
  readonly queryFlags: number;
  /** The question to echo; omitted for FORMERR answers to undecodable queries. */
  readonly question?: DnsQuestion;
  readonly rcode: number;
  readonly answers?: readonly DnsAnswer[];
  /** TTL of every answer, seconds. */
  readonly ttl?: number;
  /** Maximum size of the whole message; answers that do not fit are left out and TC is set. */
  readonly maxSize?: number;
  /** Add an OPT record advertising this UDP payload size (when the query had one). */
  readonly ednsUdpSize?: number;
}

/**
 * Encode a response. The question (when given) is echoed with its name as decoded; answers use a
 * compression pointer to it. Answers that would make the message exceed `maxSize` are dropped
 * and the TC flag is set.
 */
export function encodeResponse(spec: ResponseSpec): Uint8Array {
  const maxSize = spec.maxSize ?? CLASSIC_UDP_LIMIT;
  const opt = spec.ednsUdpSize === undefined ? undefined : optRecord(spec.ednsUdpSize);
  const questionBytes =
    spec.question === undefined
      ? new Uint8Array(0)
      : concat([encodeLabels(spec.question.labels), u16Bytes(spec.question.type), u16Bytes(spec.question.qclass)]);
  const answers: Uint8Array[] = [];
  let size = HEADER_LENGTH + questionBytes.length + (opt?.length ?? 0);
  let truncated = false;
  if (spec.question !== undefined) {
    for (const answer of spec.answers ?? []) {
      const bytes = answerBytes(answer, spec.ttl ?? 0);
      if (size + bytes.length > maxSize) {
        truncated = true;
        break;
      }
      answers.push(bytes);
      size += bytes.length;
    }
  }
  const opcode = spec.queryFlags & 0x7800;
  const rd = spec.queryFlags & 0x0100;
  const flags = 0x8000 | opcode | 0x0400 /* AA */ | (truncated ? 0x0200 : 0) | rd | (spec.rcode & 0xf);
  const header = new Uint8Array(HEADER_LENGTH);
  const view = new DataView(header.buffer);
  view.setUint16(0, spec.id);
  view.setUint16(2, flags);
  view.setUint16(4, spec.question === undefined ? 0 : 1);
  view.setUint16(6, answers.length);
  view.setUint16(8, 0);
  view.setUint16(10, opt === undefined ? 0 : 1);
  return concat([header, questionBytes, ...answers, ...(opt === undefined ? [] : [opt])]);
}

function optRecord(udpSize: number): Uint8Array {
  const out = new Uint8Array(11);
  const view = new DataView(out.buffer);
  out[0] = 0; // root owner
  view.setUint16(1, RecordType.OPT);
  view.setUint16(3, udpSize);
  return out; // TTL (extended rcode, version, flags) and rdlength stay 0
}

function u16Bytes(value: number): Uint8Array {
  return Uint8Array.of((value >> 8) & 0xff, value & 0xff);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
