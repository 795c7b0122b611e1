/**
 * review14 R14-3b: how often can a roster peer make an honest party dial the relay again? p3's
 * frames to p1 fail the channel check from some point on (every one: the relay's test hook flips
 * them, which is what p3 could send). Each failure resumes p1's link at once, p3 comes back, its
 * first frame on the new channel fails again, and so on. Every dial is a signed admission whose
 * nonce the relay remembers for up to 10 min (per source at most 4 096, in all 16 384: beyond,
 * that source's dials are refused `busy`), plus a handshake at both ends. Honest outcome: a link
 * that keeps failing right after it resumed backs off like any re-dial (100 ms doubling to 5 s),
 * so the peer cannot drive the honest party's admissions faster than that.
 */
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { encodeMessage } from '../../src/wire/codec';
import { startRelay, type RelayServer, type RelayEvent } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(30_000);

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 10_000,
  });
}

test('R14-3b — p3 makes every frame it sends to p1 fail for 4 s: p1 dials the relay for p3 at most ~ a backoff\'s worth of times', async () => {
  const parties = makeParties(3);
  let armed = false;
  let p1Dials = 0;
  const relay: RelayServer = await startRelay({
    rosters: [parties.roster],
    host: '127.0.0.1',
    port: 0,
    onEvent: (e: RelayEvent) => {
      if (armed && e.type === 'admitted' && e.from === 'p1' && e.to === 'p3') p1Dials++;
    },
    _hooks: {
      forward: (_s, from, to, data) => {
        // Channel frames only (type 0x10/0x11): p3 completes each handshake, then breaks the channel.
        if (!armed || from !== 'p3' || to !== 'p1' || (data[0] !== 0x10 && data[0] !== 0x11)) return [data];
        const m = Uint8Array.from(data);
        m[m.length - 1]! ^= 0x80;
        return [m];
      },
    },
  });
  const url = `ws://127.0.0.1:${relay.port}`;
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    armed = true;
    await groups[2]!._sendRaw('p1', encodeMessage({ r: 'r14.junk', p: 1 }));
    await new Promise((r) => setTimeout(r, 4_000));
    armed = false;
    if (process.env.R14_DEBUG) console.log('p1 dials for p3 in 4 s:', p1Dials);
    // 100 ms doubling to 5 s with ±25 % jitter: at most 7 dials start within 4 s (and a few more for slack).
    expect(p1Dials).toBeGreaterThan(0);
    expect(p1Dials).toBeLessThanOrEqual(10);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
