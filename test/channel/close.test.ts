/**
 * Closing a channel whose peer's host was cut off: the close must not wait for a reply that never
 * comes. Before, ws waited its 30 s close timeout with the socket open, so a party that reported
 * TIMEOUT on time still exited ~30 s later. A TCP forwarder on 127.0.0.1 stands in for the
 * network; "cut off" = it stops forwarding in both directions, sockets left open.
 */
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { CLOSE_REPLY_TIMEOUT_MS } from '../../src/channel/channel';
import { Cleanup, HOST, SESSION, connect, listen, parties } from './_helpers';

interface Freezer {
  port: number;
  freeze(): void;
  /** Resolves when the client-side socket of the forwarder is closed (by the client). */
  clientClosed: Promise<number>;
  close(): void;
}

async function freezer(target: number): Promise<Freezer> {
  let frozen = false;
  const sockets: Socket[] = [];
  let resolveClosed!: (t: number) => void;
  const clientClosed = new Promise<number>((r) => (resolveClosed = r));
  const server = createServer((client) => {
    const upstream = tcpConnect(target, HOST);
    sockets.push(client, upstream);
    client.on('data', (d) => {
      if (!frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!frozen) client.write(d);
    });
    client.on('close', () => resolveClosed(Date.now()));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    freeze: () => {
      frozen = true;
    },
    clientClosed,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test(`close() on a channel whose peer stopped answering ends the socket within ${CLOSE_REPLY_TIMEOUT_MS} ms (+ slack), not ws's 30 s`, async () => {
  const cleanup = new Cleanup();
  try {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const f = await freezer(l.listener.port);
    cleanup.add(() => f.close());
    const client = await connect(cleanup, f.port, { identity: ids.a!, roster, sessionId: SESSION });
    await l.channels.next(10_000, 'channel');
    await client.send(new Uint8Array([1, 2, 3]));
    f.freeze(); // the peer's host is cut off
    const t0 = Date.now();
    await client.close();
    let timer: NodeJS.Timeout | undefined;
    const closedAt = await Promise.race([f.clientClosed, new Promise<number>((r) => (timer = setTimeout(() => r(Number.POSITIVE_INFINITY), 15_000)))]);
    clearTimeout(timer);
    const waited = closedAt - t0;
    expect(waited).toBeGreaterThanOrEqual(CLOSE_REPLY_TIMEOUT_MS - 50); // it did wait for the reply first
    expect(waited).toBeLessThan(CLOSE_REPLY_TIMEOUT_MS + 4000);
  } finally {
    await cleanup.run();
  }
}, 30_000);
