/**
 * Parent side of the blame trial (issue 17 item 1): n parties form a group on the netns testbed
 * and run secure sums back to back (test/netns/trial-party.ts); one fault hits ONE party (kill -9,
 * SIGTERM, SIGSTOP — frozen with its sockets open — or its link going down), during formation or mid-run; then every honest party's final
 * error is collected and judged: did it name exactly the faulty party (`peers` equal to [faulty])?
 *
 * Used by `npm run bench -- trial` (bench/trial, 20 runs per scenario) and by
 * test/netns/blame.test.ts (one run per scenario).
 *
 * "Named" is the error's `peers`. For PEER_ABORTED, `peer` is the party that sent the abort notice,
 * not a culprit, so it is never counted.
 *
 * @module
 */
import { DNS_IP, createTestbed, type ChildEvent, type NsProcess, type Testbed } from './testbed';
import { PARTY_PORT, makeParties } from './parties';
import { RELAY_PORT, dropInbound, startRelayHost } from './relay-parties';
import type { TrialPartyConfig } from './trial-party';

/** How the faulty party fails. */
export type TrialFault = 'kill' | 'term' | 'stop' | 'partition';
/** How the parties reach each other: `direct` (DNS discovery, listeners) or `relay` (every host drops inbound SYNs). */
export type TrialTransport = 'direct' | 'relay';
/** When the fault hits: while the mesh forms (after the faulty party's first channel) or while sums run. */
export type TrialPhase = 'formation' | 'run';
/**
 * Verdict of one run: every honest party named exactly the faulty party (`correct`); some honest
 * party named an honest one (`wrong`); neither, some honest party named nobody or reported nothing
 * (`nobody`); no fault was injected because formation failed before it or the faulty party never
 * connected (`setup`).
 */
export type TrialVerdict = 'correct' | 'wrong' | 'nobody' | 'setup';

/** Every fault, in table order. */
export const TRIAL_FAULTS: readonly TrialFault[] = ['kill', 'term', 'stop', 'partition'];
/** Every transport, in table order. */
export const TRIAL_TRANSPORTS: readonly TrialTransport[] = ['direct', 'relay'];

/** Parties per run. */
export const TRIAL_PARTIES = 5;
/** Default round deadline of a trial party, ms (generous: the machine is shared and loaded). */
export const TRIAL_ROUND_TIMEOUT_MS = 6_000;
/** Default join deadline of a trial party, ms (about 2× the round deadline, as the library's defaults). */
export const TRIAL_JOIN_TIMEOUT_MS = 15_000;
/** Default length of each summed vector (elements). */
export const TRIAL_LENGTH = 1_000;
/** Longest random delay between "every party is ready" and a mid-run fault, ms. */
export const TRIAL_RUN_FAULT_MAX_DELAY_MS = 2_500;
/** Longest random delay between the faulty party's first channel and a formation fault, ms. */
export const TRIAL_FORMATION_FAULT_MAX_DELAY_MS = 300;
/** Grace beyond the deadlines for every honest party to report, ms. */
const REPORT_GRACE_MS = 20_000;
/**
 * Hard deadline of the testbed's long-lived children (the DNS server lives as long as the testbed:
 * a trial of 120 runs takes about an hour), ms. Parties get a deadline of their own run.
 */
const TESTBED_CHILD_DEADLINE_MS = 6 * 3600_000;

/** Options of one run. */
export interface TrialRunOptions {
  readonly fault: TrialFault;
  readonly transport: TrialTransport;
  readonly phase: TrialPhase;
  /** Index of the faulty party (0..n-1). */
  readonly faulty: number;
  /** Uniform random number in [0, 1) (the harness's seeded generator), for the fault delay. */
  readonly random: () => number;
  readonly roundTimeoutMs?: number;
  readonly joinTimeoutMs?: number;
  readonly length?: number;
  readonly protocols?: readonly string[];
  readonly log?: (line: string) => void;
}

/** The final error of one honest party (or what it did instead). */
export interface PartyOutcome {
  readonly id: string;
  readonly code?: string;
  readonly where?: string;
  /** For PEER_ABORTED: the party whose abort notice it got (not a culprit). */
  readonly peer?: string;
  /** The parties it named. */
  readonly peers?: readonly string[];
  readonly message?: string;
  /** Sums it completed. */
  readonly results: number;
  /** Exit status, or undefined if it was still running when the run was stopped. */
  readonly exit?: number | string;
}

/** One run of the trial. */
export interface TrialRun {
  readonly fault: TrialFault;
  readonly transport: TrialTransport;
  /** The phase asked for. */
  readonly phase: TrialPhase;
  /** Whether every party was ready when the fault hit (`run`) or not (`formation`); `none` if it never hit. */
  readonly struck: TrialPhase | 'none';
  readonly faulty: string;
  /** When the fault hit (ms since the epoch), the timeline origin of the logs. */
  readonly faultAt: number | undefined;
  /** Why no fault was injected (formation failed by itself, or the faulty party never connected). */
  readonly setupProblem?: string;
  readonly honest: readonly PartyOutcome[];
  readonly verdict: TrialVerdict;
  /** Every party's events and stderr tail (only kept by callers for runs that were not correct). */
  readonly logs: Record<string, { events: ChildEvent[]; stderr: string; exit?: number | string }>;
}

/** The testbed of one transport: n party hosts, DNS (`tasks.sum` lists them) and, for `relay`, a relay host and every party host dropping inbound SYNs. */
export async function createTrialTestbed(transport: TrialTransport, n = TRIAL_PARTIES): Promise<Testbed> {
  const tb = await createTestbed({ n, bandwidthMbit: 100, aux: transport === 'relay' ? { relay: 3 } : {}, childDeadlineMs: TESTBED_CHILD_DEADLINE_MS });
  try {
    if (transport === 'relay') for (const h of tb.hosts) dropInbound(h);
    else await tb.setA('tasks.sum', tb.hosts.map((h) => h.ip));
  } catch (err) {
    await tb.close();
    throw err;
  }
  return tb;
}

/** The verdict over the honest parties' outcomes (after a fault). */
export function verdictOf(faulty: string, honest: readonly PartyOutcome[]): Exclude<TrialVerdict, 'setup'> {
  if (honest.some((o) => (o.peers ?? []).some((p) => p !== faulty))) return 'wrong';
  if (honest.every((o) => o.peers !== undefined && o.peers.length === 1 && o.peers[0] === faulty)) return 'correct';
  return 'nobody';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function outcomeOf(p: NsProcess): PartyOutcome {
  const e = p.events.find((x) => x.event === 'error');
  const results = p.events.filter((x) => x.event === 'result').length;
  const exit = p.exitStatus;
  if (e === undefined) return { id: p.name, results, ...(exit === undefined ? {} : { exit }) };
  return {
    id: p.name,
    code: String(e.code),
    where: String(e.where),
    ...(typeof e.peer === 'string' ? { peer: e.peer } : {}),
    peers: Array.isArray(e.peers) ? (e.peers as string[]) : [],
    message: String(e.message),
    results,
    ...(exit === undefined ? {} : { exit }),
  };
}

/**
 * Wait for the moment a trial's fault strikes: for a formation fault, until `first` (the party hit
 * first) reports a connected channel, then a random delay; for a mid-run fault, until every party is
 * ready (a party's error before that is a setup problem), then a random delay.
 *
 * @returns the setup problem's text (≤ 2 000 characters), or undefined when the fault may strike.
 */
export async function awaitFaultMoment(procs: readonly NsProcess[], first: NsProcess, phase: TrialPhase, random: () => number, setupMs: number): Promise<string | undefined> {
  try {
    if (phase === 'formation') {
      await first.waitEvent((e) => e.event === 'group' && e.type === 'connected', setupMs);
      await sleep(Math.floor(random() * TRIAL_FORMATION_FAULT_MAX_DELAY_MS));
    } else {
      await Promise.all(
        procs.map((p) =>
          p.waitEvent((e) => e.event === 'ready' || e.event === 'error', setupMs).then((e) => {
            if (e.event === 'error') throw new Error(`${p.name} failed before the fault: ${String(e.code)} ${String(e.message)}`);
          }),
        ),
      );
      await sleep(Math.floor(random() * TRIAL_RUN_FAULT_MAX_DELAY_MS));
    }
    return undefined;
  } catch (err) {
    return (err as Error).message.slice(0, 2000);
  }
}

/**
 * One run: fresh identities and session, n parties (and a relay for `relay`), one fault at the
 * faulty party, every honest party's final error.
 */
export async function runTrial(tb: Testbed, o: TrialRunOptions): Promise<TrialRun> {
  const n = tb.hosts.length;
  const roundTimeoutMs = o.roundTimeoutMs ?? TRIAL_ROUND_TIMEOUT_MS;
  const joinTimeoutMs = o.joinTimeoutMs ?? TRIAL_JOIN_TIMEOUT_MS;
  const set = makeParties(n);
  const faultyId = set.ids[o.faulty]!;
  const relay = o.transport === 'relay' ? startRelayHost(tb, set) : undefined;
  const procs: NsProcess[] = [];
  let partitioned = false;
  let faultAt: number | undefined;
  let struck: TrialPhase | 'none' = 'none';
  let setupProblem: string | undefined;
  // Startup of n node processes on a loaded machine takes seconds: allow it on top of the deadline.
  const setupMs = joinTimeoutMs + 30_000;
  const reportMs = joinTimeoutMs + 3 * roundTimeoutMs + REPORT_GRACE_MS;
  const partyDeadlineMs = setupMs + TRIAL_RUN_FAULT_MAX_DELAY_MS + reportMs;
  try {
    if (relay) await relay.waitEvent('listening', 30_000);
    for (let i = 0; i < n; i++) {
      const cfg: TrialPartyConfig = {
        id: set.ids[i]!,
        identity: set.identities[i]!,
        roster: set.rosterJson,
        sessionId: set.sessionId,
        port: PARTY_PORT,
        discovery: { kind: 'dns', server: `${DNS_IP}:53`, names: ['tasks.sum'] },
        joinTimeoutMs,
        roundTimeoutMs,
        mode: 'auto',
        length: o.length ?? TRIAL_LENGTH,
        protocols: [...(o.protocols ?? ['secureSum', 'dkSecureSum'])],
        transport: o.transport,
        ...(relay ? { relayUrl: `ws://${tb.aux.relay!.ip}:${RELAY_PORT}` } : {}),
      };
      procs.push(tb.run(i, 'test/netns/trial-party.ts', { CPL_PARTY: JSON.stringify(cfg), CPL_DEADLINE_MS: String(partyDeadlineMs) }, set.ids[i]));
    }
    const faulty = procs[o.faulty]!;
    setupProblem = await awaitFaultMoment(procs, faulty, o.phase, o.random, setupMs);
    if (setupProblem === undefined) {
      struck = procs.every((p) => p.events.some((e) => e.event === 'ready')) ? 'run' : 'formation';
      faultAt = Date.now();
      if (o.fault === 'kill') faulty.kill('SIGKILL');
      else if (o.fault === 'term') faulty.kill('SIGTERM');
      // Frozen: its sockets stay open and nothing is read or answered (a stopped process, a paused VM).
      else if (o.fault === 'stop') faulty.kill('SIGSTOP');
      else {
        tb.partition(o.faulty);
        partitioned = true;
      }
      o.log?.(`  fault ${o.fault} at ${faultyId} (${struck}, after ${faulty.events.filter((e) => e.event === 'result').length} sums)`);
      const honestProcs = procs.filter((p) => p !== faulty);
      await Promise.all(honestProcs.map((p) => p.waitEvent('error', reportMs).catch(() => undefined)));
    }
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    relay?.kill('SIGKILL');
    await Promise.all([...procs, ...(relay ? [relay] : [])].map((p) => p.waitExit(5_000)));
    if (partitioned) tb.heal(o.faulty);
  }
  const honest = procs.filter((_, i) => i !== o.faulty).map(outcomeOf);
  const logs: TrialRun['logs'] = {};
  for (const p of [...procs, ...(relay ? [relay] : [])]) logs[p.name] = { events: p.events, stderr: p.log.slice(-4000), ...(p.exitStatus === undefined ? {} : { exit: p.exitStatus }) };
  return {
    fault: o.fault,
    transport: o.transport,
    phase: o.phase,
    struck,
    faulty: faultyId,
    faultAt,
    ...(setupProblem === undefined ? {} : { setupProblem }),
    honest,
    verdict: setupProblem === undefined ? verdictOf(faultyId, honest) : 'setup',
    logs,
  };
}
