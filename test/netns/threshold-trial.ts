/**
 * Parent side of the dropout trial of `thresholdSum` (bench/trial `--protocols=thresholdSum`):
 * n parties form a group on the netns testbed and run thresholdSum back to back
 * (test/netns/trial-party.ts, deterministic inputs from test/netns/inputs.ts); one or two parties
 * are hit by a fault (kill -9, SIGTERM, SIGSTOP — frozen with its sockets open — or its link going
 * down), during formation or mid-run. README promises that up to
 * n − max(⌈(n + t)/2⌉, minContributors) parties may drop, before or after dealing, and that the
 * result lists its `contributors`. So, unlike the blame trial, the expected outcome of a mid-run
 * fault is that every honest party COMPLETES:
 *
 * - every run id reported by several honest parties has the same `contributors` and the same sum
 *   (SHA-256 of the Float64Array) at each of them;
 * - that sum is the sum of the contributors' known inputs;
 * - a faulty party is among a run's contributors only if it had started that run (a `progress`
 *   event for it) before its fault hit — then it may have dealt, and it is in for everyone;
 * - every honest party completes `after` runs that no faulty party had started before its fault
 *   (so a run entirely without it), none fails.
 *
 * Formation needs every party (joinGroup forms the full mesh), so a fault that hits before every
 * party is ready is NOT covered by the dropout promise: what is expected there is the blame
 * trial's outcome — each honest party fails naming only faulty parties — or, for an honest party
 * that formed before the fault, completed runs that agree with the others as above.
 *
 * Verdict of a run: `completed` (the promise kept), `named` (formation fault: honest parties
 * failed naming only faulty ones, any completions consistent), `failed` (an honest party failed
 * or did not finish where the promise says it completes, or a formation failure named nobody),
 * `wrong` (an honest party named, parties disagree, a wrong sum, or a faulty party counted in a run
 * it never started), `setup` (no fault injected).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { ChildEvent, NsProcess, Testbed } from './testbed';
import { DNS_IP } from './testbed';
import { PARTY_PORT, makeParties } from './parties';
import { RELAY_PORT, startRelayHost } from './relay-parties';
import { partyInput } from './inputs';
import { awaitFaultMoment, TRIAL_JOIN_TIMEOUT_MS, TRIAL_LENGTH, TRIAL_ROUND_TIMEOUT_MS, TRIAL_RUN_FAULT_MAX_DELAY_MS, type TrialFault, type TrialPhase, type TrialTransport } from './blame-trial';
import type { TrialPartyConfig } from './trial-party';

/** Verdict of one thresholdSum trial run (see the module notes). */
export type ThresholdVerdict = 'completed' | 'named' | 'failed' | 'wrong' | 'setup';

/** Longest extra delay between the first and each further fault (2-fault runs), ms. */
export const THRESHOLD_SECOND_FAULT_MAX_DELAY_MS = 1_500;
/** A progress event stamped this long after the fault still counts as "started before" (signal delivery, clocks are one host's). */
const FAULT_SLACK_MS = 200;
/** Grace beyond the deadlines for every honest party to finish, ms. */
const REPORT_GRACE_MS = 20_000;

/** How many parties may drop by README's promise: n − max(⌈(n + t)/2⌉, min(n, t + 1)). */
export function thresholdTolerance(n: number, t: number): number {
  return n - Math.max(Math.ceil((n + t) / 2), Math.min(n, t + 1));
}

/** The SHA-256 (hex) of the Float64Array sum of the inputs of the parties at `indices`. */
export function expectedDigest(indices: readonly number[], length: number): string {
  const s = new Float64Array(length);
  for (const i of indices) {
    const x = partyInput(i, length);
    for (let k = 0; k < length; k++) s[k] = s[k]! + x[k]!;
  }
  return createHash('sha256').update(new Uint8Array(s.buffer)).digest('hex');
}

/** Options of one run. */
export interface ThresholdTrialOptions {
  readonly fault: TrialFault;
  readonly transport: TrialTransport;
  readonly phase: TrialPhase;
  /** Indices of the faulty parties (1 or more, distinct). */
  readonly faulty: readonly number[];
  readonly random: () => number;
  readonly t: number;
  /** Runs entirely without the faulty parties each honest party must complete (default 1). */
  readonly after?: number;
  readonly roundTimeoutMs?: number;
  readonly joinTimeoutMs?: number;
  readonly length?: number;
  readonly log?: (line: string) => void;
}

/** One honest party's outcome. */
export interface ThresholdPartyOutcome {
  readonly id: string;
  /** Runs it completed: run id, contributors, digest. */
  readonly results: readonly { runId: string; contributors: string[]; digest: string; t: number }[];
  readonly code?: string;
  readonly peers?: readonly string[];
  readonly message?: string;
  /** Runs without any faulty party that it completed. */
  readonly clean: number;
  /** ms from the (first) fault to its first completed run without any faulty party. */
  readonly recoveryMs?: number;
  readonly exit?: number | string;
}

/** One run of the threshold trial. */
export interface ThresholdTrialRun {
  readonly fault: TrialFault;
  readonly transport: TrialTransport;
  readonly phase: TrialPhase;
  readonly struck: TrialPhase | 'none';
  readonly faulty: readonly string[];
  /** When each fault hit (ms since the epoch). */
  readonly faultAt: readonly number[];
  readonly setupProblem?: string;
  readonly honest: readonly ThresholdPartyOutcome[];
  readonly verdict: ThresholdVerdict;
  /** Why the verdict is not `completed`/`named` (one line each). */
  readonly problems: readonly string[];
  /** Runs in which some honest party was not a contributor (a dropout of an honest party under load: allowed, reported). */
  readonly honestLeftOut: readonly string[];
  /** Runs completed after a party's fault whose contributors include it (allowed when it started the run before its fault). */
  readonly faultyIn: readonly string[];
  /** ms from the first fault to the last honest party's `after`-th clean run (undefined if not all did). */
  readonly completeMs?: number;
  readonly logs: Record<string, { events: ChildEvent[]; stderr: string; exit?: number | string }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run ids the party had started (a progress event) by time `until`. */
function startedBy(p: NsProcess, until: number): Set<string> {
  const s = new Set<string>();
  for (const e of p.events) if ((e.event === 'progress' || e.event === 'result') && typeof e.t === 'number' && e.t <= until && typeof e.runId === 'string') s.add(e.runId);
  return s;
}

/**
 * One run: fresh identities and session, n parties running thresholdSum back to back (and a relay
 * for `relay`), the fault at each faulty party, then every honest party's completions and errors.
 */
export async function runThresholdTrial(tb: Testbed, o: ThresholdTrialOptions): Promise<ThresholdTrialRun> {
  const n = tb.hosts.length;
  const roundTimeoutMs = o.roundTimeoutMs ?? TRIAL_ROUND_TIMEOUT_MS;
  const joinTimeoutMs = o.joinTimeoutMs ?? TRIAL_JOIN_TIMEOUT_MS;
  const length = o.length ?? TRIAL_LENGTH;
  const after = o.after ?? 1;
  const set = makeParties(n);
  const faultyIdx = [...o.faulty];
  const faultyIds = faultyIdx.map((i) => set.ids[i]!);
  const relay = o.transport === 'relay' ? startRelayHost(tb, set) : undefined;
  const procs: NsProcess[] = [];
  const partitioned: number[] = [];
  const faultAt: number[] = [];
  let struck: TrialPhase | 'none' = 'none';
  let setupProblem: string | undefined;
  const setupMs = joinTimeoutMs + 30_000;
  // A run with a frozen party waits a round deadline in each of its rounds; `after` + the struck run + one spare.
  const reportMs = joinTimeoutMs + (after + 2) * 5 * roundTimeoutMs + REPORT_GRACE_MS;
  const partyDeadlineMs = setupMs + TRIAL_RUN_FAULT_MAX_DELAY_MS + faultyIdx.length * THRESHOLD_SECOND_FAULT_MAX_DELAY_MS + reportMs;
  // Runs a faulty party had started before its fault (it may have dealt in them).
  const startedBefore = (): Set<string> => {
    const s = new Set<string>();
    faultyIdx.forEach((fi, k) => {
      if (faultAt[k] !== undefined) for (const r of startedBy(procs[fi]!, faultAt[k]! + FAULT_SLACK_MS)) s.add(r);
    });
    return s;
  };
  const cleanRuns = (p: NsProcess): ChildEvent[] => {
    const before = startedBefore();
    return p.events.filter((e) => e.event === 'result' && typeof e.runId === 'string' && !before.has(e.runId) && faultAt.length === faultyIdx.length && typeof e.t === 'number' && e.t > faultAt[0]!);
  };
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
        length,
        protocols: ['thresholdSum'],
        t: o.t,
        transport: o.transport,
        ...(relay ? { relayUrl: `ws://${tb.aux.relay!.ip}:${RELAY_PORT}` } : {}),
      };
      procs.push(tb.run(i, 'test/netns/trial-party.ts', { CPL_PARTY: JSON.stringify(cfg), CPL_DEADLINE_MS: String(partyDeadlineMs) }, set.ids[i]));
    }
    setupProblem = await awaitFaultMoment(procs, procs[faultyIdx[0]!]!, o.phase, o.random, setupMs);
    if (setupProblem === undefined) {
      struck = procs.every((p) => p.events.some((e) => e.event === 'ready')) ? 'run' : 'formation';
      for (let k = 0; k < faultyIdx.length; k++) {
        if (k > 0) await sleep(Math.floor(o.random() * THRESHOLD_SECOND_FAULT_MAX_DELAY_MS));
        const fi = faultyIdx[k]!;
        const p = procs[fi]!;
        faultAt.push(Date.now());
        if (o.fault === 'kill') p.kill('SIGKILL');
        else if (o.fault === 'term') p.kill('SIGTERM');
        else if (o.fault === 'stop') p.kill('SIGSTOP');
        else {
          tb.partition(fi);
          partitioned.push(fi);
        }
        o.log?.(`  fault ${o.fault} at ${set.ids[fi]!} (${struck}, after ${p.events.filter((e) => e.event === 'result').length} sums)`);
      }
      const honestProcs = procs.filter((_, i) => !faultyIdx.includes(i));
      await Promise.all(
        honestProcs.map((p) =>
          p
            .waitEvent((e) => e.event === 'error' || e.event === 'exit' || e.event === 'deadline' || (e.event === 'result' && cleanRuns(p).length >= after), reportMs)
            .catch(() => undefined),
        ),
      );
    }
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    relay?.kill('SIGKILL');
    await Promise.all([...procs, ...(relay ? [relay] : [])].map((p) => p.waitExit(5_000)));
    for (const fi of partitioned) tb.heal(fi);
  }

  const honestIdx = [...Array(n).keys()].filter((i) => !faultyIdx.includes(i));
  const honest: ThresholdPartyOutcome[] = honestIdx.map((i) => {
    const p = procs[i]!;
    const results = p.events
      .filter((e) => e.event === 'result')
      .map((e) => ({ runId: String(e.runId), contributors: (e.contributors as string[]) ?? [], digest: String(e.digest), t: Number(e.t) }));
    const e = p.events.find((x) => x.event === 'error');
    const clean = faultAt.length === 0 ? [] : cleanRuns(p);
    return {
      id: p.name,
      results,
      ...(e === undefined ? {} : { code: String(e.code), peers: Array.isArray(e.peers) ? (e.peers as string[]) : [], message: String(e.message) }),
      clean: clean.length,
      ...(clean.length > 0 ? { recoveryMs: Number(clean[0]!.t) - faultAt[0]! } : {}),
      ...(p.exitStatus === undefined ? {} : { exit: p.exitStatus }),
    };
  });

  const problems: string[] = [];
  let wrong = false;
  let failed = false;
  const honestLeftOut = new Set<string>();
  const faultyIn = new Set<string>();
  // Every run id: same contributors and sum at every honest party that completed it; the sum right.
  const byRun = new Map<string, { id: string; contributors: string[]; digest: string; t: number }[]>();
  for (const h of honest) for (const r of h.results) byRun.set(r.runId, [...(byRun.get(r.runId) ?? []), { id: h.id, contributors: r.contributors, digest: r.digest, t: r.t }]);
  for (const [runId, rs] of byRun) {
    const c0 = JSON.stringify(rs[0]!.contributors);
    if (rs.some((r) => JSON.stringify(r.contributors) !== c0 || r.digest !== rs[0]!.digest)) {
      wrong = true;
      problems.push(`${runId}: honest parties disagree: ${rs.map((r) => `${r.id} [${r.contributors.join(',')}] ${r.digest.slice(0, 8)}`).join('; ')}`);
    }
    for (const r of rs) {
      const idx = r.contributors.map((c) => set.ids.indexOf(c));
      if (idx.some((i) => i < 0) || r.digest !== expectedDigest(idx, length)) {
        wrong = true;
        problems.push(`${runId} at ${r.id}: the sum is not the sum of the inputs of [${r.contributors.join(',')}]`);
      }
      for (const f of faultyIds) {
        if (!r.contributors.includes(f)) continue;
        const fi = set.ids.indexOf(f);
        const k = faultyIdx.indexOf(fi);
        if (faultAt[k] !== undefined && r.t > faultAt[k]!) faultyIn.add(runId);
        if (faultAt[k] !== undefined && !startedBy(procs[fi]!, faultAt[k]! + FAULT_SLACK_MS).has(runId)) {
          wrong = true;
          problems.push(`${runId} at ${r.id}: faulty ${f} is a contributor of a run it had not started before its fault`);
        }
      }
      for (const i of honestIdx) if (!r.contributors.includes(set.ids[i]!)) honestLeftOut.add(runId);
    }
  }
  for (const h of honest) {
    const named = h.peers ?? [];
    if (named.some((p) => !faultyIds.includes(p))) {
      wrong = true;
      problems.push(`${h.id} named an honest party: ${h.code} [${named.join(',')}]`);
    }
  }
  if (setupProblem === undefined) {
    if (struck === 'run') {
      for (const h of honest) {
        if (h.code !== undefined) {
          failed = true;
          problems.push(`${h.id} failed: ${h.code} [${(h.peers ?? []).join(',')}] after ${h.results.length} sums: ${(h.message ?? '').slice(0, 300)}`);
        } else if (h.clean < after) {
          failed = true;
          problems.push(`${h.id} completed ${h.clean} of ${after} runs without the faulty part${faultyIds.length > 1 ? 'ies' : 'y'} and reported nothing`);
        }
      }
    } else {
      for (const h of honest) {
        if (h.code !== undefined) {
          const named = h.peers ?? [];
          if (named.length === 0) {
            failed = true;
            problems.push(`${h.id} failed forming, naming nobody: ${h.code}: ${(h.message ?? '').slice(0, 300)}`);
          }
        } else if (h.clean < after) {
          failed = true;
          problems.push(`${h.id} neither failed nor completed ${after} runs without the faulty part${faultyIds.length > 1 ? 'ies' : 'y'}`);
        }
      }
    }
  }
  const verdict: ThresholdVerdict = setupProblem !== undefined ? 'setup' : wrong ? 'wrong' : failed ? 'failed' : struck === 'run' || honest.every((h) => h.code === undefined) ? 'completed' : 'named';
  const completeMs =
    faultAt.length > 0 && honest.every((h) => h.clean >= after)
      ? Math.max(
          ...honestIdx.map((i) => {
            const c = cleanRuns(procs[i]!);
            return Number(c[after - 1]!.t) - faultAt[0]!;
          }),
        )
      : undefined;
  const logs: ThresholdTrialRun['logs'] = {};
  for (const p of [...procs, ...(relay ? [relay] : [])]) logs[p.name] = { events: p.events.slice(-400), stderr: p.log.slice(-4000), ...(p.exitStatus === undefined ? {} : { exit: p.exitStatus }) };
  return {
    fault: o.fault,
    transport: o.transport,
    phase: o.phase,
    struck,
    faulty: faultyIds,
    faultAt,
    ...(setupProblem === undefined ? {} : { setupProblem }),
    honest,
    verdict,
    problems,
    honestLeftOut: [...honestLeftOut],
    faultyIn: [...faultyIn],
    ...(completeMs === undefined ? {} : { completeMs }),
    logs,
  };
}
