/**
 * review14 R14-1: a malicious roster party p3 on relayed links. It holds its channel keys, so it can
 * make any frame it sends fail the receiver's checks (sealed wrong, out of sequence, not a frame at
 * all) — here one frame of its own to p1 and one to p2, sealed and then flipped in its last byte
 * (the relay's test hook does the flip: on the wire it is exactly what p3 could send). Then p3
 * never dials the relay again (its own path carries nothing more), and withholds its part of the
 * sum. Review 13 (R13-3) made such a failure resume instead of naming the peer, because the relay
 * could have caused it; but the relay is up and admits the honest parties' resume dials — it is p3
 * that never comes back. Honest outcome: p1 and p2 name p3 (as they do when p3 only withholds,
 * the control case), never "the relay is unreachable" with nobody named.
 */
import { createServer, type AddressInfo } from 'node:net';
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { encodeMessage } from '../../src/wire/codec';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { forwarder } from '../support/forwarder';

jest.setTimeout(40_000);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 4_000,
  });
}

const outcomeOf = (r: PromiseSettledResult<{ sum: unknown }>): unknown =>
  r.status === 'fulfilled' ? { sum: r.value.sum } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers].sort() };

async function run(fault: boolean, delayMs = 0): Promise<unknown[]> {
  const parties = makeParties(3);
  const port = await freePort();
  let flips = 0;
  let armed = false;
  // p3's own path to the relay (the relay lists its URL: the forwarder is p3's NAT, as it were).
  const path = await forwarder(port);
  const relay: RelayServer = await startRelay({
    rosters: [parties.roster],
    host: '127.0.0.1',
    port,
    publicUrls: [`ws://127.0.0.1:${port}`, `ws://127.0.0.1:${path.port}`],
    _hooks: {
      forward: (_s, from, _to, data) => {
        if (!armed || from !== 'p3') return [data];
        flips++;
        const m = Uint8Array.from(data);
        m[m.length - 1]! ^= 0x80;
        return [m];
      },
    },
  });
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, id === 'p3' ? `ws://127.0.0.1:${path.port}` : `ws://127.0.0.1:${port}`)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    const [g1, g2, g3] = groups as [Group, Group, Group];
    // p1 and p2 start the next sum; p3 withholds its part.
    const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20)]);
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (fault) {
      armed = true;
      await g3._sendRaw('p1', encodeMessage({ r: 'r14.junk', p: 1 }));
      await g3._sendRaw('p2', encodeMessage({ r: 'r14.junk', p: 1 }));
      const until = Date.now() + 5_000;
      while (flips < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      // (Also any ack or ping p3 sends meanwhile: under load the first sum's last acks come late.)
      expect(flips).toBeGreaterThanOrEqual(2);
    }
    // From here on p3's path carries nothing: it never resumes.
    path.freeze();
    const out = (await two).map(outcomeOf);
    if (process.env.R14_DEBUG) console.log(fault, JSON.stringify(out));
    return out;
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
    await path.close();
  }
}

test('R14-1 control — p3 only withholds its part (its path silent): p1 and p2 name p3', async () => {
  const out = await run(false);
  for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
});

test('R14-1 — p3 makes its frames to p1 and p2 fail the channel check, then never resumes: p1 and p2 name p3, not the relay', async () => {
  const out = await run(true);
  for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
});

test('R14-1 — the same, done 0.8 s before the round deadline (the honest parties\' resume dials are still young at it): p1 and p2 name p3', async () => {
  const out = await run(true, 3_200);
  for (const o of out) expect(o).toMatchObject({ peers: ['p3'] });
});
