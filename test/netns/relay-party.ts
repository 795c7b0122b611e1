/**
 * Testbed child: one party of an egress-only run. `CPL_PARTY` as in party.ts plus `transport`,
 * `relayUrl`, `autoFallbackMs` and `listen` (false: no listener at all). Forms the group, then
 * runs one sum per `{"op":"sum","protocol","length","id"}` command; `{"op":"stats"}` reports the
 * path and bytes of every pair; `{"op":"exit"}` closes.
 */
import { parseIdentity } from '../../src/identity/identity';
import { parseRoster } from '../../src/identity/roster';
import { joinGroup, type Group } from '../../src/group/group';
import { staticDiscovery } from '../../src/discovery/static';
import { secureSum } from '../../src/protocols/additive';
import { dkSecureSum } from '../../src/protocols/dk';
import { thresholdSum } from '../../src/protocols/threshold';
import { CouplerError } from '../../src/errors';
import { childSetup, codeChain, emit } from './child';
import { partyInput, checksumOf, type PartyConfig } from './inputs';

type Cfg = PartyConfig & { transport: 'direct' | 'relay' | 'auto'; relayUrl: string; autoFallbackMs?: number; listen: boolean };

function reportError(err: unknown, where: string): number {
  if (err instanceof CouplerError) {
    emit('error', { where, code: err.code, peer: err.peer, peers: err.peers, codes: codeChain(err), message: err.message });
    return 3;
  }
  emit('error', { where, code: 'UNTYPED', codes: codeChain(err), message: String((err as Error)?.stack ?? err) });
  return 1;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.CPL_PARTY ?? '{}') as Cfg;
  const roster = parseRoster(cfg.roster);
  const index = roster.ids.indexOf(cfg.id);
  const queue: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  childSetup((cmd) => {
    queue.push(cmd);
    wake?.();
  });
  let group: Group;
  const t0 = performance.now();
  try {
    group = await joinGroup({
      identity: parseIdentity(cfg.identity),
      roster,
      sessionId: cfg.sessionId,
      localId: cfg.id,
      discovery: cfg.discovery.kind === 'static' ? staticDiscovery(cfg.discovery.list) : [],
      listen: cfg.listen ? { host: '0.0.0.0', port: cfg.port } : false,
      transport: cfg.transport,
      relayUrl: cfg.relayUrl,
      ...(cfg.autoFallbackMs === undefined ? {} : { autoFallbackMs: cfg.autoFallbackMs }),
      timeoutMs: cfg.joinTimeoutMs,
      roundTimeoutMs: cfg.roundTimeoutMs,
      handshakeTimeoutMs: 5_000,
      dialBackoff: { initialMs: 100, maxMs: 1000 },
    });
  } catch (err) {
    process.exit(reportError(err, 'join'));
  }
  emit('ready', { ms: performance.now() - t0, peers: group.peers });
  let code = 0;
  for (;;) {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    const cmd = queue.shift()!;
    if (cmd.op === 'exit') break;
    if (cmd.op === 'stats') {
      emit('stats', { id: cmd.id, stats: group.stats() });
      continue;
    }
    if (cmd.op !== 'sum') continue;
    const length = Number(cmd.length);
    const protocol = String(cmd.protocol);
    const x = partyInput(index, length);
    const opening = (['broadcast', 'aggregate', 'relay'] as const).find((o) => o === cmd.opening);
    const opts = { roundTimeoutMs: cfg.roundTimeoutMs, maxElements: Math.max(length, 1), ...(opening === undefined ? {} : { opening }) };
    try {
      const s = performance.now();
      const r = protocol === 'dkSecureSum' ? await dkSecureSum(group, x, opts) : protocol === 'thresholdSum' ? await thresholdSum(group, x, opts) : await secureSum(group, x, opts);
      emit('result', { id: cmd.id, protocol, length, ms: performance.now() - s, checksum: checksumOf(r.sum as Float64Array) });
    } catch (err) {
      code = reportError(err, 'sum');
      break;
    }
  }
  await Promise.race([group.close(), new Promise((r) => setTimeout(r, 2000))]);
  process.exit(code);
}

main().catch((err: unknown) => process.exit(reportError(err, 'main')));
