/**
 * Egress-only mode on the netns testbed: party hosts drop every inbound TCP connection attempt
 * (a `tc` ingress filter on eth0 drops SYN-without-ACK: a kernel firewall rule; iptables/nft are
 * not installed here), the relay host is reachable. Every protocol completes through the relay;
 * `auto` mixes direct and relayed pairs; killing the relay mid-run ends in a typed abort naming
 * the unreachable peers. Needs root and iproute2; skips visibly otherwise.
 */
import { createTestbed, netnsAvailable, type Testbed } from './testbed';
import { makeParties } from './parties';
import { dropInbound, nextId, startRelayHost, startRelayParties, statsOf, sumAll } from './relay-parties';
import { expectedChecksum } from './inputs';

const avail = netnsAvailable();
if (!avail.ok) console.warn(`[netns] SKIPPED test/netns/relay.test.ts: ${avail.reason}`);
const suite = avail.ok ? describe : describe.skip;

suite('netns testbed: egress-only parties and a relay', () => {
  let tb: Testbed;
  beforeAll(async () => {
    tb = await createTestbed({ n: 4, bandwidthMbit: 100, aux: { relay: 3 }, childDeadlineMs: 120_000 });
  }, 60_000);
  afterAll(async () => {
    await tb?.close();
  });

  test('auto: hosts h2, h3 drop inbound connections; they dial h0 and h1 directly, and only the pair h2-h3 (no way in on either side) goes through the relay', async () => {
    dropInbound(tb.hosts[2]!);
    dropInbound(tb.hosts[3]!);
    const set = makeParties(4);
    const relay = startRelayHost(tb, set);
    await relay.waitEvent('listening', 30_000);
    const ps = startRelayParties(tb, set, () => ({ transport: 'auto', listen: true, autoFallbackMs: 1500 }));
    try {
      await Promise.all(ps.map((p) => p.waitEvent('ready', 40_000)));
      for (const r of await sumAll(ps, 'secureSum', 1000)) expect(r.checksum).toBe(expectedChecksum(4, 1000));
      const paths = await Promise.all(ps.map(async (p) => Object.fromEntries((await statsOf(p)).map((s) => [s.peer, s.path]))));
      expect(paths[0]).toEqual({ p01: 'direct', p02: 'direct', p03: 'direct' });
      expect(paths[1]).toEqual({ p00: 'direct', p02: 'direct', p03: 'direct' });
      expect(paths[2]).toEqual({ p00: 'direct', p01: 'direct', p03: 'relay' });
      expect(paths[3]).toEqual({ p00: 'direct', p01: 'direct', p02: 'relay' });
    } finally {
      for (const p of [...ps, relay]) p.kill('SIGKILL');
    }
  }, 90_000);

  test('every host drops inbound connections: secureSum, dkSecureSum and thresholdSum complete through the relay; killing the relay aborts every party with RELAY_LOST (naming no peer)', async () => {
    dropInbound(tb.hosts[0]!);
    dropInbound(tb.hosts[1]!);
    const set = makeParties(4);
    const relay = startRelayHost(tb, set);
    await relay.waitEvent('listening', 30_000);
    const ps = startRelayParties(tb, set, () => ({}));
    try {
      await Promise.all(ps.map((p) => p.waitEvent('ready', 40_000)));
      for (const protocol of ['secureSum', 'dkSecureSum', 'thresholdSum']) {
        for (const r of await sumAll(ps, protocol, 1000)) expect(r.checksum).toBe(expectedChecksum(4, 1000));
      }
      for (const p of ps) for (const s of await statsOf(p)) expect(s.path).toBe('relay');
      // Mid-run: p03 never starts this sum, the others are inside it when the relay dies.
      const id = nextId();
      for (const p of ps.slice(0, 3)) p.send({ op: 'sum', protocol: 'secureSum', length: 1000, id });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      relay.kill('SIGKILL');
      const errs = await Promise.all(ps.slice(0, 3).map((p) => p.waitEvent('error', 15_000)));
      expect(Date.now() - t0).toBeLessThan(15_000);
      for (const e of errs) {
        expect(e.code).toBe('COUPLER_ERR_RELAY_LOST');
        expect(e.peers).toEqual([]);
        expect(e.message).toMatch(/relay ws:\/\//);
      }
      expect(ps.flatMap((p) => p.events.filter((e) => e.event === 'result' && e.id === id))).toEqual([]);
    } finally {
      for (const p of [...ps, relay]) p.kill('SIGKILL');
    }
  }, 120_000);
});

