/**
 * review12: dnsDiscovery against a hostile resolver — a real UDP (and TCP) server on 127.0.0.1
 * that answers each query with hand-made bytes: compression-pointer loops and forward pointers,
 * names over 255 bytes, truncated packets, the TC bit, a mismatched ID or question (spoofing),
 * records of other types and classes, thousands of records, silence, and answers that come too
 * late. Expected: every lookup settles within its deadline (plus the documented grace) with
 * either addresses, an empty snapshot, or a DiscoveryError — never a crash, a hang, or more
 * addresses than MAX_PEERS_PER_LOOKUP.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { dnsDiscovery } from '../../src/discovery/dns';
import { hostileDns, type HostileDns as Hostile, type Responder } from '../support/hostile-dns';
import { MAX_PEERS_PER_LOOKUP } from '../../src/discovery/_peers';
import { CouplerError, ErrorCode } from '../../src/errors';


/** The question section of a query (name, type, class), and where it ends. */
function questionOf(q: Buffer): { bytes: Buffer; type: number; end: number } {
  let at = 12;
  while (q[at] !== 0) at += 1 + q[at]!;
  const end = at + 5;
  return { bytes: q.subarray(12, end), type: q.readUInt16BE(at + 1), end };
}

function header(id: number, flags: number, qd: number, an: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

function rr(owner: Buffer, type: number, cls: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(cls, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

const PTR_Q = Buffer.from([0xc0, 12]); // pointer to the question name
const a = (i: number): Buffer => Buffer.from([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]);
const aaaa = (i: number): Buffer => {
  const b = Buffer.alloc(16);
  b[0] = 0xfd;
  b.writeUInt32BE(i, 12);
  return b;
};

/** A well-formed answer to `q` with `answers` (built by the caller), flags NOERROR/AA/RD/RA unless given. */
function answer(q: Buffer, answers: Buffer[], flags = 0x8580, id = q.readUInt16BE(0), question?: Buffer): Buffer {
  const qs = question ?? questionOf(q).bytes;
  return Buffer.concat([header(id, flags, 1, answers.length), qs, ...answers]);
}

const NAME = 'tasks.sum';
const DEADLINE = 1_200;
const GRACE = 250;

async function lookup(h: Hostile, family: 4 | 6 | 'any' = 4): Promise<{ ms: number; peers?: number; code?: string }> {
  const d = dnsDiscovery({ names: [NAME], port: 7000, servers: [`127.0.0.1:${h.port}`], family, timeoutMs: DEADLINE });
  const t0 = Date.now();
  try {
    const peers = await d.discover();
    return { ms: Date.now() - t0, peers: peers.length };
  } catch (err) {
    if (!(err instanceof CouplerError)) throw err;
    return { ms: Date.now() - t0, code: err.code };
  }
}

const cases: [string, Responder, (r: { peers?: number; code?: string }) => void][] = [
  ['silence', () => undefined, (r) => expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED)],
  [
    'a compression-pointer loop in the answer owner name',
    (q) => {
      const end = questionOf(q).end;
      // The answer's owner is a pointer to itself.
      const self = Buffer.from([0xc0 | (end >> 8), end & 0xff]);
      return answer(q, [rr(self, 1, 1, a(1))]);
    },
    (r) => expect(r.peers ?? r.code).toBeDefined(),
  ],
  [
    'a forward compression pointer (past the end)',
    (q) => answer(q, [rr(Buffer.from([0xc0, 0xff]), 1, 1, a(1))]),
    (r) => expect(r.peers ?? r.code).toBeDefined(),
  ],
  [
    'two pointers pointing at each other',
    (q) => {
      const end = questionOf(q).end;
      // owner of the first answer: pointer to the second answer's owner, and back.
      const first = Buffer.from([0xc0 | ((end + 16) >> 8), (end + 16) & 0xff]);
      const second = Buffer.from([0xc0 | (end >> 8), end & 0xff]);
      return answer(q, [rr(first, 1, 1, a(1)), rr(second, 1, 1, a(2))]);
    },
    (r) => expect(r.peers ?? r.code).toBeDefined(),
  ],
  [
    'an owner name of 300 bytes (labels of 63)',
    (q) => {
      const labels = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])), Buffer.from([0])]);
      return answer(q, [rr(labels, 1, 1, a(1))]);
    },
    (r) => expect(r.peers ?? r.code).toBeDefined(),
  ],
  ['a packet cut in the middle of the answer', (q) => answer(q, [rr(PTR_Q, 1, 1, a(1))]).subarray(0, questionOf(q).end + 7), (r) => expect(r.peers ?? r.code).toBeDefined()],
  ['a header only', (q) => header(q.readUInt16BE(0), 0x8580, 0, 0).subarray(0, 6), (r) => expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED)],
  ['the wrong ID (a blind spoof): ignored', (q) => answer(q, [rr(PTR_Q, 1, 1, a(1))], 0x8580, q.readUInt16BE(0) ^ 0x5a5a), (r) => expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED)],
  [
    'the right ID for another question (a spoof): ignored',
    (q) => {
      const other = Buffer.concat([Buffer.from([5]), Buffer.from('tasks'), Buffer.from([5]), Buffer.from('evil'), Buffer.from([0, 0, 1, 0, 1])]);
      return answer(q, [rr(PTR_Q, 1, 1, a(1))], 0x8580, q.readUInt16BE(0), other);
    },
    (r) => expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED),
  ],
  [
    'records of other types and classes only (TXT, CNAME, MX, A in class CH)',
    (q) => {
      const txt = rr(PTR_Q, 16, 1, Buffer.from([4, 0x31, 0x2e, 0x32, 0x33]));
      const cname = rr(PTR_Q, 5, 1, Buffer.from([0xc0, 12]));
      const mx = rr(PTR_Q, 15, 1, Buffer.from([0, 10, 0xc0, 12]));
      const chaos = rr(PTR_Q, 1, 3, a(7));
      return answer(q, [txt, cname, mx, chaos]);
    },
    (r) => expect(r.peers ?? r.code).toBeDefined(),
  ],
  [
    'an A record whose rdata is 5 bytes',
    (q) => answer(q, [rr(PTR_Q, 1, 1, Buffer.from([10, 0, 0, 1, 9]))]),
    (r) => expect(r.peers ?? r.code).toBeDefined(),
  ],
  [
    'TC set over UDP, 4 000 A records over TCP',
    (q, via) =>
      via === 'udp'
        ? answer(q, [], 0x8780)
        : answer(q, questionOf(q).type === 1 ? Array.from({ length: 4000 }, (_, i) => rr(PTR_Q, 1, 1, a(i))) : []),
    (r) => expect(r.peers).toBe(4000),
  ],
  [
    'TC set over UDP, TCP refuses the same answer with TC again (a loop)',
    (q) => answer(q, [], 0x8780),
    (r) => expect(r.peers ?? r.code).toBeDefined(),
  ],
  [
    '60 000 bytes of A records in one UDP datagram (3 700 records)',
    (q) => answer(q, questionOf(q).type === 1 ? Array.from({ length: 3700 }, (_, i) => rr(PTR_Q, 1, 1, a(i))) : []),
    (r) => expect(r.peers).toBeLessThanOrEqual(MAX_PEERS_PER_LOOKUP),
  ],
  [
    'a second, different answer to the same query (first wins or both ignored, never a crash)',
    (q) => [answer(q, [rr(PTR_Q, 1, 1, a(1))]), answer(q, [rr(PTR_Q, 1, 1, a(2))])],
    (r) => expect(r.peers).toBe(1),
  ],
];

describe.each(cases)('hostile resolver: %s', (_name, respond, check) => {
  let h: Hostile;
  beforeAll(async () => {
    h = await hostileDns(respond);
  });
  afterAll(() => h.close());
  test('settles within the deadline with a typed outcome', async () => {
    const r = await lookup(h);
    expect(r.ms).toBeLessThanOrEqual(DEADLINE + GRACE + 200);
    if (r.code !== undefined) expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED);
    check(r);
  });
});

test('A + AAAA, 3 700 + 2 100 records over TCP: the snapshot is capped at MAX_PEERS_PER_LOOKUP', async () => {
  const h = await hostileDns((q, via) => {
    if (via === 'udp') return answer(q, [], 0x8780);
    const t = questionOf(q).type;
    return answer(q, t === 1 ? Array.from({ length: 3700 }, (_, i) => rr(PTR_Q, 1, 1, a(i))) : Array.from({ length: 2100 }, (_, i) => rr(PTR_Q, 28, 1, aaaa(i))));
  });
  try {
    const r = await lookup(h, 'any');
    expect(r.peers).toBe(MAX_PEERS_PER_LOOKUP);
    expect(r.ms).toBeLessThanOrEqual(DEADLINE + GRACE + 200);
  } finally {
    await h.close();
  }
});

test('an answer that arrives after the deadline: the lookup has already failed, nothing leaks or throws later', async () => {
  const h = await hostileDns(() => undefined);
  try {
    const r = await lookup(h);
    expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED);
  } finally {
    await h.close();
  }
});

/**
 * R12-3: one SRV answer multiplied the per-lookup cap. dnsDiscovery resolved up to 256 SRV targets
 * at once, each target's A and AAAA answers in full (a UDP answer holds ~3 700 A records), and
 * built a PeerAddress for every one before finalizePeers kept 4 096: up to ~1 M addresses built and
 * canonicalised per lookup, 512 parallel queries overflowing the socket buffer into retries, the
 * event loop busy for seconds — the lookup then failed at its deadline anyway ("no answer"), and
 * a forming mesh repeats it every discovery interval.
 */
test('R12-3: SRV with 256 targets, each a name with 1 000 A records: the lookup stays within its deadline and the cap', async () => {
  const h = await hostileDns((q) => {
    const { type, bytes } = questionOf(q);
    if (type === 33) {
      return answer(
        q,
        Array.from({ length: 256 }, (_, i) => {
          const target = Buffer.concat([Buffer.from([`t${i}`.length]), Buffer.from(`t${i}`), Buffer.from([1, 0x78, 0])]);
          return rr(PTR_Q, 33, 1, Buffer.concat([Buffer.from([0, 0, 0, 0, 0x1b, 0x58]), target]));
        }),
        0x8580,
        q.readUInt16BE(0),
        bytes,
      );
    }
    return answer(q, type === 1 ? Array.from({ length: 1000 }, (_, i) => rr(PTR_Q, 1, 1, a(i + (q.readUInt16BE(0) << 10)))) : []);
  });
  try {
    const d = dnsDiscovery({ srv: ['_coupler._tcp.sum'], servers: [`127.0.0.1:${h.port}`], family: 4, timeoutMs: 3_000 });
    const t0 = Date.now();
    const peers = await d.discover();
    const ms = Date.now() - t0;
    expect(peers.length).toBe(MAX_PEERS_PER_LOOKUP);
    expect(peers.every((p) => p.port === 7000 && p.source === 'dns-srv:_coupler._tcp.sum')).toBe(true);
    // Bounded work: well within the deadline, and a bounded number of queries (not 1 + 256 plus retries).
    expect(ms).toBeLessThan(1_500);
    expect(h.queries.length).toBeLessThanOrEqual(1 + 2 * 8);
  } finally {
    await h.close();
  }
}, 30_000);

test('R12-6: a DNS answer of unspecified, broadcast, multicast and reserved addresses keeps only the unicast one', async () => {
  const ip = (s: string): Buffer => Buffer.from(s.split('.').map(Number));
  const h = await hostileDns((q) =>
    answer(q, questionOf(q).type === 1 ? ['0.0.0.0', '0.9.9.9', '255.255.255.255', '224.0.0.1', '240.1.2.3', '10.0.0.5'].map((s) => rr(PTR_Q, 1, 1, ip(s))) : []),
  );
  try {
    const d = dnsDiscovery({ names: [NAME], port: 7000, servers: [`127.0.0.1:${h.port}`], family: 4, timeoutMs: DEADLINE });
    expect((await d.discover()).map((p) => p.host)).toEqual(['10.0.0.5']);
  } finally {
    await h.close();
  }
});

test('TC over UDP, then a TCP answer trickled one byte every 100 ms forever: the lookup fails at its deadline', async () => {
  const udp: Socket = createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const port = udp.address().port;
  udp.on('message', (q, rinfo) => udp.send(answer(q, [], 0x8780), rinfo.port, rinfo.address));
  const timers: NodeJS.Timeout[] = [];
  const conns: import('node:net').Socket[] = [];
  const tcp = createServer((s) => {
    conns.push(s);
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write(Buffer.from([0xff, 0xff]));
      timers.push(setInterval(() => s.write(Buffer.from([0])), 100));
    });
  });
  const listening = await new Promise<boolean>((r) => {
    tcp.once('error', () => r(false));
    tcp.listen(port, '127.0.0.1', () => r(true));
  });
  try {
    if (!listening) return; // the UDP port's TCP twin was taken: nothing to test this run
    const r = await lookup({ port, queries: [], close: async () => undefined });
    expect(r.code).toBe(ErrorCode.DISCOVERY_FAILED);
    expect(r.ms).toBeLessThanOrEqual(DEADLINE + GRACE + 200);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const c of conns) c.destroy();
    udp.close();
    await new Promise<void>((r) => tcp.close(() => r()));
  }
});
