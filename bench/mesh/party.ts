/**
 * Child of the mesh benchmark: one party process. Joins the group through the DNS server on its
 * own loopback address, reports `listening` and `ready` with wall-clock timestamps, and closes on
 * the `close` request. Started with `spawnWorker` (bench/lib/child.ts); exits on its own at the
 * deadline or when the parent goes away (bench/lib/worker.ts).
 */
import { dnsDiscovery } from '../../src/discovery/dns.js';
import { joinGroup, type Group } from '../../src/group/group.js';
import { parseIdentity } from '../../src/identity/identity.js';
import { parseRoster } from '../../src/identity/roster.js';
import { emit, serve, workerConfig } from '../lib/worker.js';
import type { MeshPartyConfig } from './shared.js';

const now = (): number => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const cfg = workerConfig<MeshPartyConfig>();
  let group: Group | undefined;
  serve({
    close: async () => {
      await group?.close();
      return { closed: true };
    },
  });
  const started = now();
  try {
    group = await joinGroup({
      identity: parseIdentity(cfg.identity),
      roster: parseRoster(cfg.roster),
      sessionId: cfg.sessionId,
      discovery: dnsDiscovery({ names: [cfg.name], port: cfg.port, servers: [cfg.dnsServer], family: 4 }),
      listen: { host: cfg.host, port: cfg.port },
      timeoutMs: cfg.timeoutMs,
      ...(cfg.backoff === undefined ? {} : { dialBackoff: cfg.backoff }),
      onEvent: (e) => {
        if (e.type === 'listening') emit({ event: 'listening', t: now(), uptimeMs: performance.now() });
      },
    });
  } catch (err) {
    emit({ event: 'failed', t: now(), message: String((err as Error)?.message ?? err) });
    return;
  }
  emit({ event: 'ready', t: now(), joinMs: now() - started, uptimeMs: performance.now(), peers: group.stats().length });
}

void main();
