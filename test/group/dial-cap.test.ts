/**
 * Discovery is hostile input: a lookup may return thousands of addresses (hostile DNS, a vantage6
 * server's VPN address list). A forming party dialled every one of them at once, holding a socket
 * and a handshake per address; now at most max(8, 2·roster) dials are started per DIAL_SLOT_MS
 * (a dial holds a slot that long: review12 R12-2 — an unanswered dial holding it for the whole
 * handshake deadline let junk addresses keep the real peers from ever being dialled) and at most
 * MAX_DIALS_OPEN are open, the rest wait for later passes (review10, noted for the group layer).
 * Real sockets on 127.0.0.1: 40 listeners that accept and never answer (a black hole past the TCP
 * handshake), counted as they accept.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { joinGroup } from '../../src/group/group';
import { DIAL_SLOT_MS, MAX_DIALS_OPEN, MIN_DIALS_IN_FLIGHT } from '../../src/group/mesh';
import type { Discovery, PeerAddress } from '../../src/discovery/types';
import { makeParties } from '../support/group-harness';

test('a discovery answering 40 addresses that accept and never answer: at most max(8, 2·roster) dials start per slot time, at most MAX_DIALS_OPEN are open', async () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  let open = 0;
  let most = 0;
  let accepted = 0;
  const acceptedAt: number[] = [];
  const addresses: PeerAddress[] = [];
  for (let i = 0; i < 40; i++) {
    const server = createServer((s) => {
      sockets.push(s);
      accepted++;
      acceptedAt.push(performance.now());
      open++;
      most = Math.max(most, open);
      s.on('error', () => undefined);
      s.on('close', () => open--);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    addresses.push({ host: '127.0.0.1', port: (server.address() as { port: number }).port, source: 'test' });
  }
  const flood: Discovery = { kind: 'test', discover: async () => addresses };
  const parties = makeParties(2);
  try {
    const joined = joinGroup({
      identity: parties.identities.get('p1')!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: flood,
      listen: false,
      timeoutMs: 3_000,
      discoveryIntervalMs: 50,
      dialBackoff: { initialMs: 50, maxMs: 200 },
    });
    await expect(joined).rejects.toBeDefined();
    // Before: all 40 at once.
    expect(accepted).toBeGreaterThanOrEqual(MIN_DIALS_IN_FLIGHT);
    expect(most).toBeLessThanOrEqual(MAX_DIALS_OPEN);
    // Within any window shorter than a slot, at most one slot-full of new dials.
    const window = DIAL_SLOT_MS / 2;
    let burst = 0;
    for (let i = 0, j = 0; i < acceptedAt.length; i++) {
      while (acceptedAt[i]! - acceptedAt[j]! >= window) j++;
      burst = Math.max(burst, i - j + 1);
    }
    expect(burst).toBeLessThanOrEqual(Math.max(MIN_DIALS_IN_FLIGHT, 2 * parties.ids.length));
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}, 30_000);
