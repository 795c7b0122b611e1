/**
 * Testbed child: one party. Configuration in `CPL_PARTY` (JSON, see {@link PartyConfig} in
 * `parties.ts`). Forms the mesh (DNS or static discovery), then either
 *
 * - `auto` mode: runs `iterations` secure sums of the deterministic test input back to back and
 *   exits (0 = all done, 3 = aborted with a typed coupler error, 1 = anything else), or
 * - `commands` mode (benchmarks): runs one sum per `{"op":"sum","protocol":...,"length":...}`
 *   command on stdin.
 *
 * Events (stdout, JSON lines): `ready`, `group` (formation events), `result`, `error`, `stats`.
 */
import { parseIdentity } from '../../src/identity/identity';
import { parseRoster } from '../../src/identity/roster';
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { dnsDiscovery } from '../../src/discovery/dns';
import { staticDiscovery } from '../../src/discovery/static';
import { secureSum } from '../../src/protocols/additive';
import { dkSecureSum } from '../../src/protocols/dk';
import { CouplerError } from '../../src/errors';
import type { Discovery } from '../../src/discovery/types';
import { childSetup, codeChain, emit } from './child';
import { partyInput, checksumOf, type PartyConfig } from './inputs';

async function runSum(group: Group, protocol: string, index: number, length: number, roundTimeoutMs: number): Promise<Record<string, unknown>> {
  const x = partyInput(index, length);
  const t0 = performance.now();
  const opts = { roundTimeoutMs, maxElements: Math.max(length, 1) };
  const r = protocol === 'dkSecureSum' ? await dkSecureSum(group, x, opts) : await secureSum(group, x, opts);
  const ms = performance.now() - t0;
  const sum = r.sum as Float64Array;
  return { protocol, length, ms, checksum: checksumOf(sum), head: Array.from(sum.subarray(0, 3)) };
}

function reportError(err: unknown, where: string): number {
  if (err instanceof CouplerError) {
    emit('error', { where, code: err.code, peer: err.peer, peers: err.peers, codes: codeChain(err), message: err.message });
    return 3;
  }
  emit('error', { where, code: 'UNTYPED', codes: codeChain(err), message: String((err as Error)?.stack ?? err) });
  return 1;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.CPL_PARTY ?? '{}') as PartyConfig;
  const identity = parseIdentity(cfg.identity);
  const roster = parseRoster(cfg.roster);
  const index = roster.ids.indexOf(cfg.id);
  let discovery: Discovery;
  if (cfg.discovery.kind === 'dns') {
    discovery = dnsDiscovery({ names: cfg.discovery.names, port: cfg.port, servers: [cfg.discovery.server], family: 4, timeoutMs: 1000 });
  } else discovery = staticDiscovery(cfg.discovery.list);

  const queue: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  childSetup((cmd) => {
    queue.push(cmd);
    wake?.();
  });
  const nextCommand = async (): Promise<Record<string, unknown>> => {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    return queue.shift()!;
  };

  let group: Group;
  const t0 = performance.now();
  try {
    group = await joinGroup({
      identity,
      roster,
      sessionId: cfg.sessionId,
      localId: cfg.id,
      discovery,
      listen: { host: cfg.listenHost ?? '0.0.0.0', port: cfg.port },
      timeoutMs: cfg.joinTimeoutMs,
      roundTimeoutMs: cfg.roundTimeoutMs,
      handshakeTimeoutMs: Math.min(cfg.roundTimeoutMs, 10_000),
      dialBackoff: { initialMs: 100, maxMs: 1000 },
      onEvent: (e: GroupEvent) => {
        if (e.type === 'dial-failed' || e.type === 'refused' || e.type === 'peer-lost' || e.type === 'connected') emit('group', { ...e });
      },
    });
  } catch (err) {
    process.exit(reportError(err, 'join'));
  }
  emit('ready', { ms: performance.now() - t0, peers: group.peers });

  let code = 0;
  if (cfg.mode === 'commands') {
    for (;;) {
      const cmd = await nextCommand();
      if (cmd.op === 'exit') break;
      if (cmd.op === 'stats') {
        emit('stats', { id: cmd.id, stats: group.stats() });
        continue;
      }
      if (cmd.op !== 'sum') continue;
      try {
        const r = await runSum(group, String(cmd.protocol ?? 'secureSum'), index, Number(cmd.length), cfg.roundTimeoutMs);
        emit('result', { id: cmd.id, ...r });
      } catch (err) {
        code = reportError(err, 'sum');
        break;
      }
    }
  } else {
    const protocols = cfg.protocols ?? ['secureSum'];
    try {
      for (let it = 0; it < (cfg.iterations ?? 1); it++) {
        for (const protocol of protocols) {
          const r = await runSum(group, protocol, index, cfg.length, cfg.roundTimeoutMs);
          emit('result', { iteration: it, ...r });
        }
      }
    } catch (err) {
      code = reportError(err, 'sum');
    }
  }
  emit('stats', { stats: group.stats() });
  await Promise.race([group.close(), new Promise((r) => setTimeout(r, 2000))]);
  emit('exit', { code });
  process.exit(code);
}

main().catch((err: unknown) => {
  process.exit(reportError(err, 'main'));
});
