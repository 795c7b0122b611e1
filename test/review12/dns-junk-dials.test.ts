/**
 * review12 R12-2: can discovery answers alone stop a task and make an honest party name honest
 * peers? README: "DNS spoofing …: discovery gives hints only … the real peer is still reached".
 *
 * A forming party dials at most max(8, 2·roster) discovered addresses at once (review10) and takes
 * them in the order discovery gave. Addresses that accept the connection and never answer hold a
 * slot for the whole handshake deadline (10 s by default). An answer that lists at least that many
 * such addresses ahead of the real ones (a spoofer that adds records; a hostile network alias)
 * keeps every slot busy: the real peers are dialed only after every junk address was tried once,
 * ceil(J / 8) × 10 s later — 50 s for 40 junk addresses, hours for the 4 096 one lookup may return.
 * Every party resolves the same name, so none of them dials another, and each fails with TIMEOUT
 * naming the honest peers it never reached.
 *
 * Real sockets on 127.0.0.1: 40 listeners that accept and never answer.
 *
 * Now a dial holds its slot for DIAL_SLOT_MS (500 ms), then stays open outside the slots until its
 * deadline: max(8, 2n) new addresses are tried every half second, so 40 junk addresses cost
 * ~2.5 s. Still linear in the junk: an answer of thousands outlasts the default join deadline
 * (see the review, R12-2, "what remains").
 */
import { createServer, type Server, type Socket } from 'node:net';
import { AddressBook, joinLocal, makeParties } from '../support/group-harness';
import type { PeerAddress } from '../../src/discovery/types';
import type { CouplerError } from '../../src/errors';

async function formBehindJunk(count: number, timeoutMs: number): Promise<{ error?: { code: string; peers: readonly string[] }; groups: number }> {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const junk: PeerAddress[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    junk.push({ host: '127.0.0.1', port: (server.address() as { port: number }).port, source: 'dns:tasks.sum' });
  }
  class Spoofed extends AddressBook {
    override others(self: string): PeerAddress[] {
      return [...junk, ...super.others(self)];
    }
  }
  const p = makeParties(3);
  try {
    let error: unknown;
    const groups = await joinLocal(p, p.ids, new Spoofed(), { timeoutMs }).catch((err: unknown) => {
      error = err;
      return [];
    });
    await Promise.all(groups.map((g) => g.close()));
    return error === undefined ? { groups: groups.length } : { error: { code: (error as CouplerError).code, peers: (error as CouplerError).peers }, groups: 0 };
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

test('R12-2: 40 silent addresses listed before the real ones: the 3-party mesh still forms within its deadline', async () => {
  // Before the fix: TIMEOUT naming honest parties (the ones never dialled).
  expect(await formBehindJunk(40, 8_000)).toEqual({ groups: 3 });
}, 60_000);

/**
 * R12-2b: with more silent addresses than the slots start in one handshake deadline (16 a second
 * × 10 s), the first ones fail, come out of their short backoff and — first in the answer's order
 * again — take every slot before the untried addresses behind them: the real peers starve for good.
 */
test('R12-2b: 200 silent addresses listed first: untried addresses (shuffled) alternate with retries, and the mesh forms', async () => {
  expect(await formBehindJunk(200, 25_000)).toEqual({ groups: 3 });
}, 60_000);
