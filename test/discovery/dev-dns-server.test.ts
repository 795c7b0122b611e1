/**
 * The dev DNS server on the wire: queries built and answers read with an independent codec
 * (dns-packet), plus hostile datagrams (random bytes, truncated headers, compression loops)
 * that must neither crash it nor stop it answering.
 */
import * as packet from 'dns-packet';
import fc from 'fast-check';
import { ErrorCode, InvalidArgumentError } from '../../src/errors';
import { startDevDnsServer, type DevDnsServer } from '../../src/discovery/dev-dns-server';
import { decodeQuery, readName } from '../../src/discovery/_dns-wire';
import { sendRaw } from '../support/dns-udp';

type Decoded = packet.DecodedPacket & { rcode?: string };
/** The data of an answer (OPT records have none). */
const dataOf = (a: packet.Answer): unknown => ('data' in a ? a.data : undefined);

function query(name: string, type: 'A' | 'AAAA' | 'SRV' | 'TXT', id = 4242, edns = false): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...(edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096 } as unknown as packet.Answer] } : {}),
  });
}

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  b.writeUInt16BE(an, 6);
  b.writeUInt16BE(ns, 8);
  b.writeUInt16BE(ar, 10);
  return b;
}

describe('dev DNS server on the wire', () => {
  let dns: DevDnsServer;
  beforeEach(async () => {
    dns = await startDevDnsServer();
  });
  afterEach(async () => {
    await dns.close();
  });
  const ask = async (bytes: Uint8Array, timeoutMs = 500): Promise<Decoded | undefined> => {
    const reply = await sendRaw(dns.address, dns.port, bytes, timeoutMs);
    return reply === undefined ? undefined : (packet.decode(reply) as Decoded);
  };
  const stillAnswers = async (): Promise<void> => {
    const r = await ask(query('alive.test', 'A', 7));
    expect(r?.id).toBe(7);
    expect(r?.answers?.map((a) => dataOf(a))).toEqual(['127.0.0.9']);
  };

  it('binds loopback by default and reports ip:port', () => {
    expect(dns.address).toBe('127.0.0.1');
    expect(dns.server).toBe(`127.0.0.1:${dns.port}`);
    expect(dns.port).toBeGreaterThan(0);
  });

  it('answers many A records for one name, authoritative, id and question echoed, case-insensitive', async () => {
    dns.setA('tasks.sum', ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    const r = await ask(query('Tasks.SUM', 'A'));
    expect(r?.id).toBe(4242);
    expect(r?.type).toBe('response');
    expect(r?.flag_aa).toBe(true);
    expect(r?.flag_rd).toBe(true);
    expect(r?.rcode).toBe('NOERROR');
    expect(r?.questions).toEqual([{ name: 'Tasks.SUM', type: 'A', class: 'IN' }]);
    expect(r?.answers?.map((a) => [a.name, a.type, dataOf(a)])).toEqual([
      ['Tasks.SUM', 'A', '10.0.0.1'],
      ['Tasks.SUM', 'A', '10.0.0.2'],
      ['Tasks.SUM', 'A', '10.0.0.3'],
    ]);
  });

  it('answers NXDOMAIN until records appear, NODATA for other types, and NXDOMAIN again after remove', async () => {
    expect((await ask(query('late.sum', 'A')))?.rcode).toBe('NXDOMAIN');
    dns.setA('late.sum', ['10.0.0.1']);
    expect((await ask(query('late.sum', 'A')))?.answers).toHaveLength(1);
    const nodata = await ask(query('late.sum', 'AAAA'));
    expect(nodata?.rcode).toBe('NOERROR');
    expect(nodata?.answers).toEqual([]);
    expect((await ask(query('late.sum', 'TXT')))?.answers).toEqual([]);
    dns.setA('late.sum', []);
    expect((await ask(query('late.sum', 'A')))?.rcode).toBe('NXDOMAIN');
    dns.setA('late.sum', ['10.0.0.1']);
    dns.remove('late.sum');
    expect((await ask(query('late.sum', 'A')))?.rcode).toBe('NXDOMAIN');
  });

  it('answers AAAA and SRV records', async () => {
    dns.setAAAA('v6.sum', ['::1', 'fd00::abcd']);
    expect((await ask(query('v6.sum', 'AAAA')))?.answers?.map((a) => dataOf(a))).toEqual(['::1', 'fd00::abcd']);
    dns.setSRV('_c._tcp.sum', [{ target: 'node1.sum', port: 7001, priority: 1, weight: 2 }]);
    const srv = await ask(query('_c._tcp.sum', 'SRV'));
    expect((srv?.answers?.[0] === undefined ? undefined : dataOf(srv.answers[0]))).toEqual({ target: 'node1.sum', port: 7001, priority: 1, weight: 2 });
  });

  it('honours EDNS sizes and sets TC when the answers do not fit', async () => {
    dns.setA('big.sum', Array.from({ length: 60 }, (_, i) => `10.0.0.${i + 1}`)); // 60 x 16 bytes: over 512, under 1232
    const classic = await ask(query('big.sum', 'A'));
    expect(classic?.flag_tc).toBe(true);
    expect(classic?.answers?.length).toBeLessThan(60);
    expect(classic?.answers?.length).toBeGreaterThan(20);
    const edns = await ask(query('big.sum', 'A', 1, true));
    expect(edns?.flag_tc).toBe(false);
    expect(edns?.answers).toHaveLength(60);
    expect(edns?.additionals?.[0]?.type).toBe('OPT');
  });

  it('applies per-name overrides: rcode, drop, delay, limited to types', async () => {
    dns.setA('o.sum', ['10.0.0.1']);
    dns.setOverride('o.sum', { action: 'rcode', rcode: 'SERVFAIL' });
    expect((await ask(query('o.sum', 'A')))?.rcode).toBe('SERVFAIL');
    dns.setOverride('o.sum', { action: 'drop', types: ['AAAA'] });
    expect(await ask(query('o.sum', 'AAAA'), 200)).toBeUndefined();
    expect((await ask(query('o.sum', 'A')))?.answers).toHaveLength(1);
    dns.setOverride('o.sum', { action: 'delay', ms: 150 });
    const start = Date.now();
    expect((await ask(query('o.sum', 'A'), 1000))?.answers).toHaveLength(1);
    expect(Date.now() - start).toBeGreaterThanOrEqual(140);
    dns.setOverride('o.sum', undefined);
    expect(dns.stats().dropped).toBe(1);
  });

  it('answers FORMERR to bad questions and ignores truncated headers and responses', async () => {
    dns.setA('alive.test', ['127.0.0.9']);
    for (let len = 0; len < 12; len++) {
      expect(await sendRaw(dns.address, dns.port, Buffer.alloc(len, 0xab), 30)).toBeUndefined();
    }
    const noQuestion = await ask(header(11, 0x0100, 0));
    expect(noQuestion?.id).toBe(11);
    expect(noQuestion?.rcode).toBe('FORMERR');
    expect((await ask(header(12, 0x0100, 2)))?.rcode).toBe('FORMERR');
    expect((await ask(Buffer.concat([header(13, 0x0100, 1), Buffer.from([5, 0x61])])))?.rcode).toBe('FORMERR'); // label past end
    const response = query('alive.test', 'A');
    response[2] = (response[2] ?? 0) | 0x80; // QR set: a response, never answered
    expect(await sendRaw(dns.address, dns.port, response, 100)).toBeUndefined();
    await stillAnswers();
    expect(dns.stats().ignored).toBeGreaterThanOrEqual(13);
  });

  it('survives compression loops and follows a legal backwards pointer', async () => {
    dns.setA('alive.test', ['127.0.0.9']);
    // Pointer at offset 12 to itself, and two pointers pointing at each other.
    const self = Buffer.concat([header(21, 0, 1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    expect((await ask(self))?.rcode).toBe('FORMERR');
    const pair = Buffer.concat([header(22, 0, 1), Buffer.from([0xc0, 14, 0xc0, 12, 0, 1, 0, 1])]);
    expect((await ask(pair))?.rcode).toBe('FORMERR');
    // "www" + pointer to offset 0, where the id 0x0000 reads as the root label: the name is "www".
    dns.setA('www', ['10.9.9.9']);
    const legal = Buffer.concat([header(0, 0, 1), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 0, 0, 1, 0, 1])]);
    const r = await ask(legal);
    expect(r?.rcode).toBe('NOERROR');
    expect(r?.answers?.map((a) => dataOf(a))).toEqual(['10.9.9.9']);
    await stillAnswers();
  });

  it('random datagrams and mutated queries never crash it (fast-check)', async () => {
    dns.setA('alive.test', ['127.0.0.9']);
    dns.setA('tasks.sum', ['10.0.0.1', '10.0.0.2']);
    const valid = query('tasks.sum', 'A', 99, true);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 600 }),
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => {
            const copy = Uint8Array.from(valid);
            for (const [at, value] of edits) copy[at] = value;
            return copy;
          }),
        ),
        async (bytes) => {
          const reply = await sendRaw(dns.address, dns.port, bytes, 40);
          if (reply !== undefined) {
            expect(reply.length).toBeGreaterThanOrEqual(12);
            expect(reply.length).toBeLessThanOrEqual(1232);
            expect(reply.readUInt16BE(0)).toBe(Buffer.from(bytes).readUInt16BE(0));
            expect((reply[2] ?? 0) & 0x80).toBe(0x80);
          }
        },
      ),
      { numRuns: 150 },
    );
    // Oversized datagram: ignored.
    expect(await sendRaw(dns.address, dns.port, Buffer.concat([valid, Buffer.alloc(2000)]), 100)).toBeUndefined();
    await stillAnswers();
  });

  it('validates its API arguments with typed errors', async () => {
    const bad: [() => unknown, RegExp][] = [
      [() => dns.setA('tasks.sum', ['::1']), /setA: entry 0 expected an IPv4 address/],
      [() => dns.setA('tasks.sum', 'x' as never), /"ips" expected an array/],
      [() => dns.setAAAA('tasks.sum', ['10.0.0.1']), /expected an IPv6 address/],
      [() => dns.setA('bad name', []), /"name" expected a DNS name/],
      [() => dns.setSRV('s', [{ target: 't', port: 0 }]), /"port" expected an integer/],
      [() => dns.setOverride('s', { action: 'delay', ms: -1 }), /setOverride/],
      [() => dns.setOverride('s', { action: 'nope' } as never), /setOverride/],
    ];
    for (const [fn, message] of bad) {
      expect(fn).toThrow(InvalidArgumentError);
      expect(fn).toThrow(message);
    }
    await expect(startDevDnsServer({ host: 'localhost' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(startDevDnsServer({ port: 70000 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(startDevDnsServer({ port: dns.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('close() is idempotent and stops answering', async () => {
    dns.setA('alive.test', ['127.0.0.9']);
    const { address, port } = dns;
    await dns.close();
    await dns.close();
    expect(await sendRaw(address, port, query('alive.test', 'A'), 100)).toBeUndefined();
  });
});

describe('DNS wire decoder', () => {
  it('never throws on arbitrary bytes and bounds every name', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const r = decodeQuery(bytes);
        if (r.ok) expect(r.question.labels.reduce((n, l) => n + l.length + 1, 1)).toBeLessThanOrEqual(255);
      }),
      { numRuns: 2000 },
    );
  });

  it('caps pointer chains and name length', () => {
    // A chain of 20 backwards pointers, each to the previous one, ending at a root label.
    const chain = [0];
    for (let i = 0; i < 20; i++) chain.push(0xc0, i === 0 ? 0 : 1 + (i - 1) * 2);
    expect(() => readName(Uint8Array.from(chain), chain.length - 2)).toThrow(/too many compression pointers/);
    const long = Uint8Array.from([...Array.from({ length: 5 }, () => [63, ...new Array<number>(63).fill(0x61)]).flat(), 0]);
    expect(() => readName(long, 0)).toThrow(/longer than 255/);
  });
});
