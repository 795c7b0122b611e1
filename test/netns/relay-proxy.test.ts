/**
 * Egress only through an HTTPS proxy, on the netns testbed (issue 16, item 6): the party hosts
 * drop every inbound connection attempt, the relay host drops every connection attempt from a
 * party host (a `tc` ingress filter on SYN-without-ACK from each party's address), so the only
 * way from a party to the relay is the CONNECT proxy on its own host, named by the parties'
 * HTTP_PROXY. Every party reaches the relay through it and the sum is right. Needs root and
 * iproute2; skips visibly otherwise.
 */
import { execFileSync } from 'node:child_process';
import { createTestbed, netnsAvailable, type Host, type Testbed } from './testbed';
import { makeParties, PARTY_PORT } from './parties';
import { RELAY_PORT, dropInbound, startRelayHost, sumAll } from './relay-parties';
import { expectedChecksum } from './inputs';

const avail = netnsAvailable();
if (!avail.ok) console.warn(`[netns] SKIPPED test/netns/relay-proxy.test.ts: ${avail.reason}`);
const suite = avail.ok ? describe : describe.skip;
const PROXY_PORT = 3128;

/** On `host`, drop TCP connection attempts to `port` from each of `sources` (mirred into a dead veth, as dropInbound). */
function dropSynsFrom(host: Host, port: number, sources: readonly string[]): void {
  const run = (tool: string, args: string[]): void => void execFileSync(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  run('ip', ['-n', host.ns, 'link', 'add', 'bh0', 'type', 'veth', 'peer', 'name', 'bh1']);
  run('ip', ['-n', host.ns, 'link', 'set', 'bh0', 'up']);
  run('tc', ['-n', host.ns, 'qdisc', 'add', 'dev', 'eth0', 'handle', 'ffff:', 'ingress']);
  for (const src of sources) {
    run('tc', ['-n', host.ns, 'filter', 'add', 'dev', 'eth0', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32',
      'match', 'ip', 'protocol', '6', '0xff', 'match', 'ip', 'src', `${src}/32`, 'match', 'u16', `0x${port.toString(16)}`, '0xffff', 'at', '22', 'match', 'u8', '0x02', '0x12', 'at', '33',
      'action', 'mirred', 'egress', 'redirect', 'dev', 'bh0']);
  }
}

suite('netns testbed: parties reach the relay only through an HTTP CONNECT proxy', () => {
  let tb: Testbed;
  beforeAll(async () => {
    tb = await createTestbed({ n: 3, bandwidthMbit: 100, aux: { relay: 3, proxy: 4 }, childDeadlineMs: 120_000 });
  }, 60_000);
  afterAll(async () => {
    await tb?.close();
  });

  test('inbound SYNs dropped on every party host, direct SYNs to the relay dropped: secureSum through the proxy is right', async () => {
    for (const h of tb.hosts) dropInbound(h);
    dropSynsFrom(tb.aux.relay!, RELAY_PORT, tb.hosts.map((h) => h.ip));
    const set = makeParties(3);
    const relay = startRelayHost(tb, set);
    const proxy = tb.run(tb.aux.proxy!, 'test/netns/proxy-host.ts', { CPL_PROXY: JSON.stringify({ port: PROXY_PORT }) }, 'proxy');
    await Promise.all([relay.waitEvent('listening', 30_000), proxy.waitEvent('listening', 30_000)]);
    const relayUrl = `ws://${tb.aux.relay!.ip}:${RELAY_PORT}`;
    const ps = set.ids.map((id, i) =>
      tb.run(
        i,
        'test/netns/relay-party.ts',
        {
          HTTP_PROXY: `http://${tb.aux.proxy!.ip}:${PROXY_PORT}`,
          NO_PROXY: '',
          CPL_PARTY: JSON.stringify({
            id,
            identity: set.identities[i],
            roster: set.rosterJson,
            sessionId: set.sessionId,
            port: PARTY_PORT,
            discovery: { kind: 'static', list: tb.hosts.map((h) => `${h.ip}:${PARTY_PORT}`) },
            joinTimeoutMs: 40_000,
            roundTimeoutMs: 10_000,
            mode: 'commands',
            length: 0,
            relayUrl,
            transport: 'relay',
            listen: false,
          }),
        },
        id,
      ),
    );
    try {
      await Promise.all(ps.map((p) => p.waitEvent('ready', 60_000)));
      for (const r of await sumAll(ps, 'secureSum', 1000)) expect(r.checksum).toBe(expectedChecksum(3, 1000));
      proxy.send({ op: 'stats', id: 1 });
      const stats = await proxy.waitEvent((e) => e.event === 'stats' && e.id === 1, 10_000);
      const tunnels = stats.tunnels as { target: string; from: string }[];
      // Three pairs, both directions: six tunnels to the relay, one set from each party host.
      expect(tunnels.map((t) => t.target)).toEqual(Array(6).fill(`${tb.aux.relay!.ip}:${RELAY_PORT}`));
      expect(new Set(tunnels.map((t) => t.from))).toEqual(new Set(tb.hosts.map((h) => h.ip)));
    } finally {
      for (const p of [...ps, relay, proxy]) p.kill('SIGKILL');
    }
  }, 120_000);
});
