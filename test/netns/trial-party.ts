/**
 * Testbed child: one party of a fault trial (bench/trial, test/netns/blame.test.ts). `CPL_PARTY` as
 * in party.ts plus `transport` (`direct`: DNS discovery and a listener; `relay`: every pair through
 * `relayUrl`, no listener). Forms the group, then runs secure sums of the deterministic test input
 * back to back (cycling through `protocols`) until one fails; reports that error and exits 3. A
 * formation error is reported and the process stays up while the group lingers (as `coupler run`).
 *
 * SIGTERM is handled as `coupler run` handles it in a container: the first SIGTERM aborts the
 * signal given to `joinGroup` (the group then tells its peers why it stops), and the process exits
 * 143 after {@link TERM_GRACE_MS}.
 *
 * Every event (stdout, JSON lines) carries `t` (ms since the epoch, for one timeline over all
 * parties): `group` (every formation event but `dialing`), `ready`, `progress` (phase changes of a
 * run), `result`, `error` ({where, code, peer, peers, codes, message}), `signal`, `exit`.
 *
 * With protocol `thresholdSum` (test/netns/threshold-trial.ts, with `t`): `result` also carries the
 * run id, the contributors and a SHA-256 of the sum vector, and every tolerant gather is reported
 * (`gather`: round, whom it waited for, who answered, ms, the error if any).
 */
import { parseIdentity } from '../../src/identity/identity';
import { parseRoster } from '../../src/identity/roster';
import { joinGroup, type Group, type GroupEvent, type RunProgress } from '../../src/group/group';
import { dnsDiscovery } from '../../src/discovery/dns';
import { secureSum } from '../../src/protocols/additive';
import { dkSecureSum } from '../../src/protocols/dk';
import { thresholdSum } from '../../src/protocols/threshold';
import { createHash } from 'node:crypto';
import { AbortedError, CouplerError } from '../../src/errors';
import { childSetup, codeChain, emit } from './child';
import { partyInput, checksumOf, type PartyConfig } from './inputs';

/** Configuration of a trial party (`CPL_PARTY`). */
export type TrialPartyConfig = PartyConfig & {
  readonly transport: 'direct' | 'relay';
  readonly relayUrl?: string;
  /** thresholdSum's t (only with protocol `thresholdSum`). */
  readonly t?: number;
};

/** Grace after SIGTERM before the process exits anyway (as `coupler run`), ms. */
const TERM_GRACE_MS = 2_000;

const stamp = (event: string, fields: Record<string, unknown> = {}): void => emit(event, { t: Date.now(), ...fields });

function reportError(err: unknown, where: string): number {
  if (err instanceof CouplerError) {
    stamp('error', { where, code: err.code, peer: err.peer, peers: err.peers, codes: codeChain(err), message: err.message });
    return 3;
  }
  stamp('error', { where, code: 'UNTYPED', codes: codeChain(err), message: String((err as Error)?.stack ?? err) });
  return 1;
}

/**
 * thresholdSum trials: a `gather` event per tolerant gather (round, whom it waited for, who
 * answered, how long, the error if any), so a failed run can be traced round by round.
 */
function traceGathers(group: Group): void {
  const orig = group.gatherSome.bind(group);
  (group as { gatherSome: Group['gatherSome'] }).gatherSome = async (round, minimum, options = {}) => {
    const t0 = Date.now();
    const from = options.from ?? group.peers;
    try {
      const got = await orig(round, minimum, options);
      stamp('gather', { round, from, got: [...got.keys()], ms: Date.now() - t0 });
      return got;
    } catch (err) {
      stamp('gather', { round, from, ms: Date.now() - t0, code: (err as CouplerError).code, peers: (err as CouplerError).peers });
      throw err;
    }
  };
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.CPL_PARTY ?? '{}') as TrialPartyConfig;
  const roster = parseRoster(cfg.roster);
  const index = roster.ids.indexOf(cfg.id);
  childSetup();
  const stop = new AbortController();
  process.on('SIGTERM', () => {
    stamp('signal', { signal: 'SIGTERM' });
    stop.abort(new AbortedError('stopped by SIGTERM'));
    setTimeout(() => process.exit(143), TERM_GRACE_MS).unref();
  });
  const phases = new Map<string, string>();
  let group: Group;
  try {
    group = await joinGroup({
      identity: parseIdentity(cfg.identity),
      roster,
      sessionId: cfg.sessionId,
      localId: cfg.id,
      ...(cfg.transport === 'relay'
        ? { transport: 'relay' as const, relayUrl: cfg.relayUrl!, listen: false as const }
        : {
            discovery: cfg.discovery.kind === 'dns' ? dnsDiscovery({ names: cfg.discovery.names, port: cfg.port, servers: [cfg.discovery.server], family: 4, timeoutMs: 1000 }) : [],
            listen: { host: '0.0.0.0', port: cfg.port },
          }),
      timeoutMs: cfg.joinTimeoutMs,
      roundTimeoutMs: cfg.roundTimeoutMs,
      handshakeTimeoutMs: Math.min(cfg.roundTimeoutMs, 5_000),
      dialBackoff: { initialMs: 100, maxMs: 1000 },
      signal: stop.signal,
      onEvent: (e: GroupEvent) => {
        if (e.type !== 'dialing') stamp('group', { ...e });
      },
      onProgress: (p: RunProgress) => {
        if (phases.get(p.runId) === p.phase) return;
        phases.set(p.runId, p.phase);
        stamp('progress', { runId: p.runId, phase: p.phase });
      },
    });
  } catch (err) {
    // As `coupler run`: no exit here. A party whose formation failed because of a peer stays
    // reachable until its join deadline to tell parties still forming why it left (the group's
    // linger); the trial stops every process once the honest ones reported.
    process.exitCode = reportError(err, 'join');
    return;
  }
  stamp('ready', { peers: group.peers });
  if (cfg.protocols?.includes('thresholdSum') === true) traceGathers(group);
  const protocols = cfg.protocols ?? ['secureSum'];
  let code = 0;
  try {
    for (let it = 0; it < (cfg.iterations ?? Number.MAX_SAFE_INTEGER); it++) {
      const protocol = protocols[it % protocols.length]!;
      const x = partyInput(index, cfg.length);
      const opts = { roundTimeoutMs: cfg.roundTimeoutMs, maxElements: Math.max(cfg.length, 1) };
      if (protocol === 'thresholdSum') {
        // The dropout-tolerant sum: also whose inputs it holds and a digest of the whole sum
        // vector, so the parent can check it against the contributors' known inputs.
        const r = await thresholdSum(group, x, { ...opts, ...(cfg.t === undefined ? {} : { t: cfg.t }) });
        const sum = r.sum as Float64Array;
        const digest = createHash('sha256').update(new Uint8Array(sum.buffer, sum.byteOffset, sum.byteLength)).digest('hex');
        stamp('result', { iteration: it, protocol, runId: r.runId, contributors: r.contributors, checksum: checksumOf(sum), digest });
        continue;
      }
      const r = protocol === 'dkSecureSum' ? await dkSecureSum(group, x, opts) : await secureSum(group, x, opts);
      stamp('result', { iteration: it, protocol, checksum: checksumOf(r.sum as Float64Array) });
    }
  } catch (err) {
    code = reportError(err, 'sum');
  }
  await Promise.race([group.close(), new Promise((r) => setTimeout(r, 2000))]);
  stamp('exit', { code });
  process.exit(code);
}

main().catch((err: unknown) => process.exit(reportError(err, 'main')));
