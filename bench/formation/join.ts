/**
 * One party's join in the formation benchmark, shared by the party process (party.ts) and the
 * `--single-process` layout (index.ts): the same options, the same event counts. No side effects.
 *
 * With `BENCH_FORMATION_DEBUG=1` the egress-only party logs its events, and a listener its refusals
 * of the egress-only party's address, to stderr with ms since its join started.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { dnsDiscovery } from '../../src/discovery/dns.js';
import { staticDiscovery } from '../../src/discovery/static.js';
import { joinGroup, type Group } from '../../src/group/group.js';
import { generateIdentity, parseIdentity } from '../../src/identity/identity.js';
import { createRoster, parseRoster } from '../../src/identity/roster.js';
import { EGRESS_SOURCE, type FormationPartyConfig, type JoinResult } from './shared.js';

/** Join as `cfg` says; resolves when the mesh is complete, with the group and what was measured. */
export async function joinParty(cfg: FormationPartyConfig): Promise<{ group: Group; result: JoinResult }> {
  const debug = process.env.BENCH_FORMATION_DEBUG === '1';
  const listens = cfg.listenHost !== undefined;
  const who = listens ? 'listener' : 'late';
  const events: Record<string, number> = {};
  const count = (key: string): void => {
    events[key] = (events[key] ?? 0) + 1;
  };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const group = await joinGroup({
    identity: parseIdentity(cfg.identity),
    roster: parseRoster(cfg.roster),
    sessionId: cfg.sessionId,
    discovery: dnsDiscovery({ names: [cfg.name], port: cfg.port, servers: [cfg.dnsServer], family: 4, timeoutMs: 500 }),
    listen: cfg.listenHost === undefined ? false : { host: cfg.listenHost, port: cfg.port },
    timeoutMs: cfg.timeoutMs,
    discoveryIntervalMs: 50,
    dialBackoff: { initialMs: 50, maxMs: 500 },
    onEvent: (e) => {
      const late = e.type === 'refused' && e.remoteAddress === EGRESS_SOURCE;
      if (e.type === 'dial-failed') count(`${who} dial-failed ${e.reason ?? e.code}`);
      if (e.type === 'refused') count(`${who} refused ${late ? 'late party' : 'other'} ${e.reason ?? e.code}`);
      if (debug && (!listens || late)) process.stderr.write(`${(performance.now() - t0).toFixed(0).padStart(6)} ${cfg.id} ${JSON.stringify(e)}\n`);
    },
  });
  const joinMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { group, result: { joinMs, cpuMs: (cpu.user + cpu.system) / 1000, peers: group.stats().length, events } };
}

/**
 * Warm a fresh party process up before anything is timed: form and close a throwaway two-party
 * group on `cfg.warmHosts` (loads and compiles the channel, handshake and group code, imports keys)
 * and query the DNS name once. Without it the first join in a new process carries a few hundred ms
 * of one-off start-up (attacked and unattacked alike), which would dilute the attacked ÷ unattacked ratio.
 */
export async function warmUp(cfg: FormationPartyConfig): Promise<void> {
  await dnsDiscovery({ names: [cfg.name], port: cfg.port, servers: [cfg.dnsServer], family: 4, timeoutMs: 500 }).discover();
  const ids = ['w1', 'w2'];
  const identities = ids.map((id) => generateIdentity(id));
  const roster = createRoster(identities.map((k, i) => ({ id: ids[i]!, publicKey: k.publicKey })));
  const sessionId = `warm-${randomBytes(6).toString('hex')}`;
  const addresses = cfg.warmHosts.map((h) => `${h}:${cfg.port}`);
  const groups = await Promise.all(
    identities.map((identity, i) =>
      joinGroup({ identity, roster, sessionId, discovery: staticDiscovery(addresses), listen: { host: cfg.warmHosts[i]!, port: cfg.port }, timeoutMs: cfg.timeoutMs }),
    ),
  );
  await Promise.all(groups.map((g) => g.close()));
}
