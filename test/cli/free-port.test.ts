/**
 * The ports parties are told to listen on before they start (`coupler simulate`, the benchmarks,
 * the multi-process tests). A port "free a moment ago" (bind port 0, read it, close) is taken from
 * the kernel's ephemeral range, the range every outgoing connection on the machine takes its source
 * port from: any connect() between the check and the party's listen() may take it, and the party
 * fails EADDRINUSE (CI run of 88dc4c3: test/group/probe-review.test.ts, "listen EADDRINUSE
 * 127.0.0.1:34827", the party's formation failed). The next bind to port 0 may also return the
 * same port again, so two parties of one test could be given one port.
 */
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from '../../src/cli/ports';

function ephemeralRange(): [number, number] | undefined {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo !== undefined && hi !== undefined ? [lo, hi] : undefined;
  } catch {
    return undefined;
  }
}

const range = ephemeralRange();
const linux = range === undefined ? test.skip : test;

linux('no port it gives is one the kernel may give an outgoing connection as its source port', async () => {
  const [lo, hi] = range!;
  const inside: number[] = [];
  for (let i = 0; i < 200; i++) {
    const port = await freePort('127.0.0.1');
    if (port >= lo && port <= hi) inside.push(port);
  }
  expect(inside).toEqual([]);
});

test('it never gives the same port twice in one process', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 400; i++) ports.push(await freePort('127.0.0.1'));
  expect(new Set(ports).size).toBe(ports.length);
});

linux('a port it gave is taken by no other listener on port 0 and no outgoing connection before it is bound', async () => {
  // What the other tests of a parallel run do meanwhile: servers on port 0 (relays, parties) and
  // connections. Before, about one in seven odd ports of the range was taken by the 2 000
  // listeners alone, so some of 40 picked ports were hit almost every time.
  const picked: number[] = [];
  for (let i = 0; i < 40; i++) picked.push(await freePort('127.0.0.1'));
  const listeners: Server[] = [];
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < 2000; i++) {
      const srv = createServer((s) => s.on('error', () => undefined));
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      listeners.push(srv);
    }
    const { port: sinkPort } = listeners[0]!.address() as { port: number };
    for (let i = 0; i < 1500; i++) {
      const s = connect(sinkPort, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.once('connect', () => r()).once('error', () => r()))));
    const used = new Set([...listeners.map((l) => (l.address() as { port: number }).port), ...sockets.map((s) => s.localPort)]);
    expect(picked.filter((p) => used.has(p))).toEqual([]);
    // Every picked port can still be bound by the party it was meant for.
    for (const port of picked) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((r) => srv.close(() => r()));
    }
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
  }
}, 60_000);

test('count asks for that many consecutive free ports', async () => {
  const base = await freePort('127.0.0.1', 6);
  const servers: Server[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(base + i, '127.0.0.1', resolve);
      });
      servers.push(srv);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
  const next = await freePort('127.0.0.1');
  expect(next >= base && next < base + 6).toBe(false);
});
