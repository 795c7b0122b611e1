/**
 * Parent side of the egress-only runs on the netns testbed: a firewall rule that drops inbound
 * connection attempts on a host, the relay process, and parties with a transport choice
 * (test/netns/relay-party.ts). Used by test/netns/relay.test.ts and bench/relay.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import type { Host, NsProcess, Testbed } from './testbed';
import { PARTY_PORT, type PartySet } from './parties';

/** Port of the relay on its host. */
export const RELAY_PORT = 8889;

/**
 * Drop inbound TCP connection attempts (SYN without ACK) on the host's eth0. This kernel has no
 * iptables/nft and cannot load the gact (`action drop`) module, but mirred is there: matching
 * packets are redirected to a veth whose peer is down, where the kernel discards them.
 */
export function dropInbound(host: Host): void {
  const run = (tool: string, args: string[]): void => void execFileSync(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  run('ip', ['-n', host.ns, 'link', 'add', 'bh0', 'type', 'veth', 'peer', 'name', 'bh1']);
  run('ip', ['-n', host.ns, 'link', 'set', 'bh0', 'up']); // bh1 stays down: bh0 transmits into nothing
  run('tc', ['-n', host.ns, 'qdisc', 'add', 'dev', 'eth0', 'handle', 'ffff:', 'ingress']);
  // u32 offsets are from the IP header: 20 bytes (no options) + 13 = the TCP flags byte.
  run('tc', ['-n', host.ns, 'filter', 'add', 'dev', 'eth0', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32',
    'match', 'ip', 'protocol', '6', '0xff', 'match', 'u8', '0x02', '0x12', 'at', '33', 'action', 'mirred', 'egress', 'redirect', 'dev', 'bh0']);
}

/** Start the relay on the `relay` aux host, serving the rosters of `sets`. */
export function startRelayHost(tb: Testbed, ...sets: PartySet[]): NsProcess {
  const h = tb.aux.relay!;
  return tb.run(h, 'test/netns/relay-host.ts', { CPL_RELAY: JSON.stringify({ rosters: sets.map((s) => s.rosterJson), port: RELAY_PORT, publicUrl: `ws://${h.ip}:${RELAY_PORT}` }) }, 'relay');
}

/**
 * Drop inbound TCP connection attempts to one destination port on the host (as {@link dropInbound},
 * matched on the TCP destination port too): the host stays reachable on its other ports.
 */
export function dropInboundPort(host: Host, port: number): void {
  const run = (tool: string, args: string[]): void => void execFileSync(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  run('ip', ['-n', host.ns, 'link', 'add', 'bh0', 'type', 'veth', 'peer', 'name', 'bh1']);
  run('ip', ['-n', host.ns, 'link', 'set', 'bh0', 'up']);
  run('tc', ['-n', host.ns, 'qdisc', 'add', 'dev', 'eth0', 'handle', 'ffff:', 'ingress']);
  // TCP destination port: bytes 22–23 from the IP header (20 bytes, no options); flags at 33.
  run('tc', ['-n', host.ns, 'filter', 'add', 'dev', 'eth0', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '1', 'u32',
    'match', 'ip', 'protocol', '6', '0xff', 'match', 'u16', `0x${port.toString(16)}`, '0xffff', 'at', '22', 'match', 'u8', '0x02', '0x12', 'at', '33',
    'action', 'mirred', 'egress', 'redirect', 'dev', 'bh0']);
}

/** Start `set`'s parties on hosts 0..n-1 (default: transport relay, no listener). */
export function startRelayParties(tb: Testbed, set: PartySet, o: (i: number) => Record<string, unknown>): NsProcess[] {
  return set.ids.map((id, i) =>
    tb.run(
      i,
      'test/netns/relay-party.ts',
      {
        CPL_PARTY: JSON.stringify({
          id,
          identity: set.identities[i],
          roster: set.rosterJson,
          sessionId: set.sessionId,
          port: PARTY_PORT,
          discovery: { kind: 'static', list: tb.hosts.slice(0, set.ids.length).map((h) => `${h.ip}:${PARTY_PORT}`) },
          joinTimeoutMs: 30_000,
          roundTimeoutMs: 10_000,
          mode: 'commands',
          length: 0,
          relayUrl: `ws://${tb.aux.relay!.ip}:${RELAY_PORT}`,
          transport: 'relay',
          listen: false,
          ...o(i),
        }),
      },
      id,
    ),
  );
}

let seq = 0;
/** A fresh command id. */
export const nextId = (): number => ++seq;
/** Run one sum on every party; the results (throws with the logs if one fails). */
export async function sumAll(ps: NsProcess[], protocol: string, length: number, timeoutMs = 60_000): Promise<Record<string, unknown>[]> {
  const id = ++seq;
  for (const p of ps) p.send({ op: 'sum', protocol, length, id });
  return Promise.all(
    ps.map((p) =>
      p.waitEvent((e) => (e.event === 'result' && e.id === id) || e.event === 'error', timeoutMs).then((e) => {
        if (e.event === 'error') throw new Error(`${p.name}: ${JSON.stringify(e)}`);
        return e;
      }),
    ),
  );
}

/** Path and bytes per pair of one party. */
export async function statsOf(p: NsProcess): Promise<{ peer: string; path: string; bytesSent: number; bytesReceived: number }[]> {
  const id = ++seq;
  p.send({ op: 'stats', id });
  const e = await p.waitEvent((x) => x.event === 'stats' && x.id === id, 10_000);
  return e.stats as { peer: string; path: string; bytesSent: number; bytesReceived: number }[];
}

