/**
 * review14 R14-4: review13 R13-8 lets a later signed admission request take over its signer's held
 * slot. Someone on a party's ws:// path to the relay sees every admission request in clear (the
 * signature covers the relay URL, session, both ids, time and nonce). Can it replay one it
 * captured to take over the party's slot and cut its pair? Here p1's path to the relay records
 * every admission request p1 sends; the recorder replays them from another connection: while
 * p1's connection holds the slot, and again after p1's link resumed with fresh requests. Honest
 * outcome: each replay refused `duplicate` (its nonce is remembered while its time is in the
 * ±5 min window; a request signed no later than the holder's never takes over), nothing evicted,
 * the next sum right.
 */
import { createServer, connect, type AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { RELAY_PATH, RELAY_SUBPROTOCOL } from '../../src/relay/protocol';
import { sumEach, withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

/** A TCP path to 127.0.0.1:`target` that records the first WebSocket text message of each connection (client to relay). */
async function recordingPath(target: number): Promise<{ port: number; captured: string[]; resetAll(): void; close(): Promise<void> }> {
  const captured: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((a) => {
    const b = connect(target, '127.0.0.1');
    sockets.add(a);
    sockets.add(b);
    for (const s of [a, b]) s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let done = false;
    a.on('data', (d: Buffer) => {
      b.write(d);
      if (done) return;
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const f = buf.subarray(end + 4);
      if (f.length < 2) return;
      let len = f[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (f.length < 4) return;
        len = f.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (f.length < 10) return;
        len = Number(f.readBigUInt64BE(2));
        at = 10;
      }
      if (f.length < at + 4 + len) return;
      const mask = f.subarray(at, at + 4);
      const payload = Buffer.from(f.subarray(at + 4, at + 4 + len));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
      if ((f[0]! & 0x0f) === 1) captured.push(payload.toString('utf8'));
      done = true;
    });
    b.on('data', (d) => {
      if (!a.destroyed) a.write(d);
    });
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    captured,
    resetAll: () => {
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Send `request` as a fresh connection's admission; the relay's first answer. */
function replay(url: string, request: string): Promise<{ t?: string; reason?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}${RELAY_PATH}`, RELAY_SUBPROTOCOL, { perMessageDeflate: false });
    const t = setTimeout(() => {
      ws.terminate();
      reject(new Error('no answer'));
    }, 5_000);
    ws.on('open', () => ws.send(request));
    ws.on('message', (data) => {
      clearTimeout(t);
      ws.close();
      resolve(JSON.parse(String(data)) as { t?: string; reason?: string });
    });
    ws.on('close', (code, reason) => {
      clearTimeout(t);
      resolve({ t: `closed ${code}`, reason: String(reason) });
    });
    ws.on('error', () => undefined);
  });
}

test('R14-4 — admission requests captured on p1\'s ws:// path and replayed (while p1 holds its slots, and after it resumed with fresh ones): each refused duplicate, nothing evicted, the sums right', async () => {
  await withRelayGroup({ roundTimeoutMs: 5_000, path: { via: 'p1', open: recordingPath } }, async ({ relay, url: direct, groups, path }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    const first = [...path.captured];
    expect(first.length).toBeGreaterThanOrEqual(2);
    for (const r of first) expect(JSON.parse(r)).toMatchObject({ from: 'p1' });
    // While p1's connections hold the slots.
    for (const r of first) expect(await replay(direct, r)).toMatchObject({ t: 'refused', reason: 'duplicate' });
    // p1's path is reset: its links resume with fresh requests; then the old and the new ones are replayed.
    path.resetAll();
    const two = await sumEach(groups, 10);
    for (const o of two) expect(o.sum).toBe(60);
    const all = [...path.captured];
    expect(all.length).toBeGreaterThan(first.length);
    for (const r of all) expect(await replay(direct, r)).toMatchObject({ t: 'refused', reason: 'duplicate' });
    expect(relay.stats().refused.evicted ?? 0).toBe(0);
    const three = await sumEach(groups, 100);
    for (const o of three) expect(o.sum).toBe(600);
  });
});
