/**
 * Idle unauthenticated sockets must not keep real peers out. Before: 64 pending handshakes, global,
 * each held for the 10 s handshake deadline — one host opening 80 WebSocket upgrades that send
 * nothing kept the listener answering `busy` and the mesh never formed. Now: a per-source cap, a
 * short deadline for the first handshake message, and the oldest silent connection is evicted
 * instead of the newcomer refused. Real sockets on loopback; the attacker connects from
 * 127.0.0.9 (its own source address), honest parties from 127.0.0.1.
 */
import WebSocket from 'ws';
import { SUBPROTOCOL } from '../../src/channel/transport';
import { AddressBook, joinLocal, makeParties } from '../support/group-harness';
import { Cleanup, HOST, SESSION, connect, listen, parties } from './_helpers';

function idleSockets(cleanup: Cleanup, port: number, count: number, localAddress = '127.0.0.9'): Promise<WebSocket[]> {
  return Promise.all(
    Array.from({ length: count }, () => {
      const ws = new WebSocket(`ws://${HOST}:${port}/coupler/1`, SUBPROTOCOL, { perMessageDeflate: false, localAddress });
      ws.on('error', () => undefined);
      cleanup.add(() => ws.terminate());
      return new Promise<WebSocket>((resolve) => {
        ws.once('open', () => resolve(ws));
        ws.once('close', () => resolve(ws));
      });
    }),
  );
}

test('80 idle upgrades from one host, then a real peer: the peer gets its channel at once', async () => {
  const cleanup = new Cleanup();
  try {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    await idleSockets(cleanup, l.listener.port, 80);
    const t0 = Date.now();
    const client = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION });
    expect(client.peerId).toBe('b');
    expect(Date.now() - t0).toBeLessThan(3000);
  } finally {
    await cleanup.run();
  }
}, 30_000);

test('a silent connection is closed after the first-message deadline', async () => {
  const cleanup = new Cleanup();
  try {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, firstMessageTimeoutMs: 300 });
    const [ws] = await idleSockets(cleanup, l.listener.port, 1);
    const t0 = Date.now();
    await new Promise<void>((r) => (ws!.readyState === WebSocket.CLOSED ? r() : ws!.once('close', () => r())));
    expect(Date.now() - t0).toBeLessThan(3000);
  } finally {
    await cleanup.run();
  }
}, 30_000);

test('a 4-party mesh forms while one host holds 80 idle upgrades open at every listener', async () => {
  const cleanup = new Cleanup();
  try {
    const p = makeParties(4);
    // Discovery answers nothing until the flood is in place, so every dial meets the flood.
    let open = false;
    class GatedBook extends AddressBook {
      override others(self: string): ReturnType<AddressBook['others']> {
        return open ? super.others(self) : [];
      }
    }
    const book = new GatedBook();
    const groups = await joinLocal(p, p.ids, book, {
      // Shorter than the 10 s handshake deadline the idle sockets used to hold their places for.
      timeoutMs: 8_000,
      onListening: async () => {
        open = true;
        const ports = book.list('nobody').map((a) => Number(a.split(':').pop()));
        open = false;
        expect(ports).toHaveLength(4);
        await Promise.all(ports.map((port) => idleSockets(cleanup, port, 80)));
        open = true;
      },
    });
    cleanup.add(() => Promise.all(groups.map((g) => g.close())));
    expect(groups).toHaveLength(4);
    for (const g of groups) expect(g.peers).toHaveLength(3);
  } finally {
    await cleanup.run();
  }
}, 60_000);
