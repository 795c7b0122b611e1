/**
 * Test support: a hostile DNS server — UDP and TCP on the same loopback port, both answering each
 * query with whatever `respond` makes of its bytes (one message, several, or none: silence). Used by
 * the hostile-resolver reviews (test/review12/dns-hostile, test/review22/dns-chains).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

/** Makes the answer(s) to one query's bytes, or undefined for none. */
export type Responder = (query: Buffer, via: 'udp' | 'tcp') => Buffer | Buffer[] | undefined;

/** A running hostile server. */
export interface HostileDns {
  readonly port: number;
  /** Every query received (copies), in order, with the transport it came by. */
  readonly queries: { via: 'udp' | 'tcp'; bytes: Buffer }[];
  close(): Promise<void>;
}

const many = (out: Buffer | Buffer[] | undefined): Buffer[] => (out === undefined ? [] : Array.isArray(out) ? out : [out]);

/** Start a UDP and a TCP server on one free loopback port, both answering with `respond`. */
export async function hostileDns(respond: Responder): Promise<HostileDns> {
  for (let attempt = 0; ; attempt++) {
    const udp: Socket = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const port = udp.address().port;
    const queries: HostileDns['queries'] = [];
    const tcp: Server = createServer((s) => {
      s.on('error', () => undefined);
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const q = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + q.length);
          queries.push({ via: 'tcp', bytes: q });
          for (const m of many(respond(q, 'tcp'))) {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(Math.min(m.length, 65535));
            s.write(Buffer.concat([len, m.subarray(0, 65535)]));
          }
        }
      });
    });
    const ok = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, '127.0.0.1', () => r(true));
    });
    if (!ok) {
      udp.close();
      if (attempt > 20) throw new Error('no free port pair');
      continue;
    }
    udp.on('message', (q, rinfo) => {
      queries.push({ via: 'udp', bytes: Buffer.from(q) });
      for (const m of many(respond(q, 'udp'))) udp.send(m, rinfo.port, rinfo.address);
    });
    return {
      port,
      queries,
      close: async () => {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
      },
    };
  }
}
