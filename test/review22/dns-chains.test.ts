/**
 * review22: dnsDiscovery against a hostile resolver, the cases review12 (test/review12/dns-hostile)
 * did not send — CNAME chains and loops, answers owned by another name, the question name in
 * another case or with a trailing dot, SRV answers naming themselves or one target under many
 * spellings, and addresses a peer never has (loopback, link-local, IPv4-mapped, the party's own).
 * A real UDP and TCP server on 127.0.0.1. Expected: every lookup settles within its deadline (plus
 * the documented 250 ms grace) with addresses, an empty snapshot, or a DiscoveryError — never a
 * crash, a hang, or more than the answer holds.
 */
import { dnsDiscovery } from '../../src/discovery/dns';
import { hostileDns, type HostileDns as Hostile, type Responder } from '../support/hostile-dns';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { PeerAddress } from '../../src/discovery/types';

/** The question (name in the case the client sent, type) and where the question section ends. */
function questionOf(q: Buffer): { name: string; type: number; end: number; bytes: Buffer } {
  let at = 12;
  const labels: string[] = [];
  while (q[at] !== 0) {
    labels.push(q.subarray(at + 1, at + 1 + q[at]!).toString('latin1'));
    at += 1 + q[at]!;
  }
  const end = at + 5;
  return { name: labels.join('.'), type: q.readUInt16BE(at + 1), end, bytes: q.subarray(12, end) };
}


function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((l) => l.length > 0);
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function rr(owner: Buffer, type: number, rdata: Buffer, ttl = 0): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

function answer(q: Buffer, records: Buffer[], flags = 0x8580): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.readUInt16BE(0), 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(records.length, 6);
  return Buffer.concat([h, questionOf(q).bytes, ...records]);
}

const A = 1;
const CNAME = 5;
const AAAA = 28;
const SRV = 33;
const v4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));
const v6 = (hex: string): Buffer => Buffer.from(hex, 'hex');
const srvData = (port: number, target: string): Buffer => {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(0, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(port, 4);
  return Buffer.concat([b, encodeName(target)]);
};
const TC = 0x8780;

const DEADLINE = 1_500;
const GRACE = 250;

interface Result {
  ms: number;
  peers?: PeerAddress[];
  code?: string;
  queries: number;
}

async function lookup(h: Hostile, init: { names?: string[]; srv?: string[]; family?: 4 | 6 | 'any' }): Promise<Result> {
  const d = dnsDiscovery({ port: 7000, servers: [`127.0.0.1:${h.port}`], timeoutMs: DEADLINE, ...init });
  const t0 = Date.now();
  try {
    const peers = await d.discover();
    return { ms: Date.now() - t0, peers, queries: h.queries.length };
  } catch (err) {
    if (!(err instanceof CouplerError)) throw err;
    return { ms: Date.now() - t0, code: err.code, queries: h.queries.length };
  }
}

const hosts = (r: Result): string[] => (r.peers ?? []).map((p) => p.host);

const cases: [string, { names?: string[]; srv?: string[]; family?: 4 | 6 | 'any' }, Responder, (r: Result) => void][] = [
  [
    'a CNAME loop (the name is a CNAME of a CNAME of itself), with A records for both',
    { names: ['tasks.sum'], family: 4 },
    (q) => {
      const n = questionOf(q).name;
      return answer(q, [rr(encodeName(n), CNAME, encodeName('x.sum')), rr(encodeName('x.sum'), CNAME, encodeName(n)), rr(encodeName('x.sum'), A, v4('10.0.0.1'))]);
    },
    (r) => expect(r.code ?? 'empty-or-ok').toBeDefined(),
  ],
  [
    'a CNAME naming the question itself',
    { names: ['tasks.sum'], family: 4 },
    (q) => answer(q, [rr(encodeName(questionOf(q).name), CNAME, encodeName(questionOf(q).name))]),
    (r) => expect(hosts(r)).toEqual([]),
  ],
  [
    'a chain of 3 000 CNAMEs over TCP, then an A record',
    { names: ['tasks.sum'], family: 4 },
    (q, via) => {
      if (via === 'udp') return answer(q, [], TC);
      const recs: Buffer[] = [];
      let owner = questionOf(q).name;
      for (let i = 0; i < 3_000; i++) {
        const next = `c${i}.sum`;
        recs.push(rr(encodeName(owner), CNAME, encodeName(next)));
        owner = next;
      }
      recs.push(rr(encodeName(owner), A, v4('10.0.0.2')));
      return answer(q, recs);
    },
    (r) => expect(hosts(r).length).toBeLessThanOrEqual(1),
  ],
  [
    'a CNAME to a name the server never answers for (the resolver must not chase it forever)',
    { names: ['tasks.sum'], family: 4 },
    (q) => (questionOf(q).name === 'tasks.sum' ? answer(q, [rr(encodeName('tasks.sum'), CNAME, encodeName('elsewhere.sum'))]) : undefined),
    (r) => expect(hosts(r)).toEqual([]),
  ],
  [
    'A records owned by another name only: c-ares takes them (no power the answerer lacks: it could name the question)',
    { names: ['tasks.sum'], family: 4 },
    (q) => answer(q, [rr(encodeName('evil.example'), A, v4('10.6.6.6'))]),
    (r) => expect(hosts(r)).toEqual(['10.6.6.6']),
  ],
  [
    'the owner in another case (DNS names are case-insensitive): taken',
    { names: ['tasks.sum'], family: 4 },
    (q) => answer(q, [rr(encodeName('TASKS.Sum'), A, v4('10.0.0.3'))]),
    (r) => expect(hosts(r)).toEqual(['10.0.0.3']),
  ],
  [
    'names in two spellings (case and trailing dot) give one address each, not duplicates',
    { names: ['tasks.sum', 'TASKS.SUM.'], family: 4 },
    (q) => answer(q, [rr(encodeName(questionOf(q).name), A, v4('10.0.0.4'))]),
    (r) => expect(hosts(r)).toEqual(['10.0.0.4']),
  ],
  [
    'loopback, link-local, IPv4-mapped, unspecified and multicast addresses in one answer',
    { names: ['tasks.sum'], family: 'any' },
    (q) =>
      questionOf(q).type === A
        ? answer(q, [rr(encodeName(questionOf(q).name), A, v4('127.0.0.1')), rr(encodeName(questionOf(q).name), A, v4('169.254.1.1')), rr(encodeName(questionOf(q).name), A, v4('0.0.0.0')), rr(encodeName(questionOf(q).name), A, v4('239.1.1.1'))])
        : answer(q, [
            rr(encodeName(questionOf(q).name), AAAA, v6('00000000000000000000ffff7f000001')),
            rr(encodeName(questionOf(q).name), AAAA, v6('00000000000000000000ffff00000000')),
            rr(encodeName(questionOf(q).name), AAAA, v6('fe800000000000000000000000000001')),
            rr(encodeName(questionOf(q).name), AAAA, v6('ff020000000000000000000000000001')),
          ]),
    // Loopback and link-local stay (a peer on this host, or an overlay that uses them); the
    // unspecified and multicast ones are dropped (review12 R12-6), also IPv4-mapped.
    (r) => expect(hosts(r)).toEqual(['127.0.0.1', '169.254.1.1', '::ffff:7f00:1', 'fe80::1']),
  ],
  [
    'an SRV record whose target is the SRV name itself',
    { srv: ['_c._tcp.sum'] },
    (q) => (questionOf(q).type === SRV ? answer(q, [rr(encodeName(questionOf(q).name), SRV, srvData(7001, questionOf(q).name))]) : answer(q, [], 0x8583)),
    // An unresolved target is left out (names are not handed to the system resolver: R22-7).
    (r) => expect(hosts(r)).toEqual([]),
  ],
  [
    '256 SRV records naming one target in 256 spellings of case',
    { srv: ['_c._tcp.sum'] },
    (q) => {
      const qq = questionOf(q);
      if (qq.type !== SRV) return answer(q, qq.type === A ? [rr(encodeName(qq.name), A, v4('10.0.0.9'))] : []);
      const recs: Buffer[] = [];
      for (let i = 0; i < 256; i++) {
        const t = [...'target.sum'].map((c, j) => ((i >> (j % 8)) & 1 ? c.toUpperCase() : c)).join('');
        recs.push(rr(encodeName(qq.name), SRV, srvData(7001, t)));
      }
      return answer(q, recs);
    },
    // One target: one SRV query and one A and one AAAA query for it (before the fix: 513 queries,
    // each spelling resolved on its own).
    (r) => {
      expect(hosts(r)).toEqual(['10.0.0.9']);
      expect(r.queries).toBeLessThanOrEqual(3);
    },
  ],
];

describe.each(cases)('%s', (_name, init, respond, check) => {
  test('settles in time with a typed outcome', async () => {
    const h = await hostileDns(respond);
    try {
      const r = await lookup(h, init);
      console.log(`${_name}: ${r.ms} ms, ${r.code ?? `${r.peers?.length} peers ${JSON.stringify(hosts(r).slice(0, 6))}`}, ${r.queries} queries`);
      expect(r.ms).toBeLessThan(DEADLINE + GRACE + 500);
      if (r.code !== undefined) expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED);
      check(r);
    } finally {
      await h.close();
    }
  });
});
