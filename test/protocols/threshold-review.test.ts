/**
 * thresholdSum under attack, found by review: a malicious party as a REAL PROCESS
 * (test/protocols/fixtures/adversary.ts) against honest parties running the unmodified protocol
 * in this process, each scenario on a fresh group on 127.0.0.1 (as adversarial.test.ts).
 */
import { AddressBook, createTestGroups, joinLocal, makeParties, settleAll, spawnParty, type FixtureProcess, type TestParties } from '../support/group-harness';
import { thresholdSum, type SumResult } from '../../src/protocols';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';

const FIXTURE = 'test/protocols/fixtures/adversary.ts';

interface Outcome {
  readonly parties: TestParties;
  readonly honest: string[];
  readonly results: ({ ok: true; value: SumResult } | { ok: false; error: unknown })[];
  readonly elapsedMs: number;
  readonly children: Map<string, FixtureProcess>;
}

/** Honest parties here, `scenarios` (id → scenario) as fixture processes; `settle` runs before the children are told to exit. */
async function runScenario(
  n: number,
  scenarios: Record<string, Record<string, unknown>>,
  honestRun: (g: Group, index: number) => Promise<SumResult>,
  roundTimeoutMs: number,
  settle?: (children: ReadonlyMap<string, FixtureProcess>) => Promise<unknown>,
): Promise<Outcome> {
  const parties = makeParties(n);
  const book = new AddressBook();
  const honest = parties.ids.filter((id) => !(id in scenarios));
  const children = new Map<string, FixtureProcess>();
  let groups: Group[] = [];
  try {
    groups = await joinLocal(parties, honest, book, {
      roundTimeoutMs,
      onListening: async () => {
        for (const [id, scenario] of Object.entries(scenarios).sort(([a], [b]) => (a < b ? 1 : -1))) {
          const child = spawnParty(FIXTURE, parties, id, book, scenario, roundTimeoutMs);
          children.set(id, child);
          await child.waitFor('listening');
        }
      },
    });
    await Promise.all([...children.values()].map((c) => c.waitFor('joined')));
    const t0 = Date.now();
    const results = await settleAll(groups.map((g) => honestRun(g, parties.ids.indexOf(g.localId))));
    const elapsedMs = Date.now() - t0;
    await settle?.(children);
    return { parties, honest, results, elapsedMs, children };
  } finally {
    for (const c of children.values()) c.command({ cmd: 'exit' });
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all(
      [...children.values()].map(async (c) => {
        const timer = setTimeout(() => c.kill(), 3000);
        await c.exited;
        clearTimeout(timer);
      }),
    );
  }
}

const INPUTS = [10, 20, 30, 40, 50];

test('thresholdSum n = 5, t = 2: a dealer that deals p1 a bad share never gets p1 named with certainty — or the documented retry without it would give the dealer x_p1', async () => {
  // The degree check sees only that p1's partial sum is off the polynomial: p1 tampered with it,
  // or a dealer dealt p1 a bad share — it cannot tell which. Named in `peers` (certain), p1 is
  // what README and docs/design.md say a retry may leave out (group.without(err.peers)); but
  // every partial sum was already published, to the dealer too, which interpolates the sum of all
  // inputs without p1's bad point; the retry gives it the sum without p1: their difference is x_p1.
  const ROUND = 3000;
  const firstErrors: CouplerError[] = [];
  const o = await runScenario(
    5,
    { p3: { mode: 'threshold-tamper-share-retry', input: 30, t: 2, victim: 'p1', waitMs: ROUND, retryMs: ROUND } },
    async (g, i) => {
      try {
        return await thresholdSum(g, INPUTS[i]!, { t: 2, roundTimeoutMs: ROUND });
      } catch (err) {
        firstErrors.push(err as CouplerError);
        // The retry the documentation allows: only without parties named with certainty.
        if (err instanceof CheatingDetectedError && err.peers.length > 0 && !err.peers.includes(g.localId)) return thresholdSum(g.without(err.peers), INPUTS[i]!, { t: 2, roundTimeoutMs: ROUND });
        throw err;
      }
    },
    ROUND,
    (children) => Promise.race([children.get('p3')!.waitFor('retried', 15_000), children.get('p3')!.waitFor('retry-failed', 15_000)]),
  );
  const events = o.children.get('p3')!.events;
  const opened = events.find((e) => e.type === 'opened');
  const retried = events.find((e) => e.type === 'retried');
  // The attack's first half works either way: the partial sums were published, p3 has the sum of all inputs.
  expect(opened?.sum).toBe(150);
  // The leak: no honest input may come out as the difference of two sums p3 holds.
  expect(retried === undefined ? undefined : (opened!.sum as number) - (retried.sum as number)).toBeUndefined();
  // Every honest party detects the tampering; nobody is named with certainty, p1 is a suspect.
  expect(firstErrors).toHaveLength(4);
  for (const e of firstErrors) {
    expect(e).toBeInstanceOf(CheatingDetectedError);
    expect(e.code).toBe(ErrorCode.TAMPERING_DETECTED);
    expect(e.peers).toEqual([]);
    expect(e.suspects).toEqual(['p1']);
  }
}, 30_000);

test('thresholdSum n = 4, t = 2, a long vector: a party that freezes after stating its shape (SIGSTOP: sockets open, nothing read) is a dropout — the others complete without it, within their deadlines', async () => {
  // The honest parties deal their pieces to it too (it stated its shape): once the kernel buffers
  // toward it are full (about 3 MiB on loopback), a send to it never completes. thresholdSum
  // awaited every send of a flight before the next, so each honest party stopped dealing to
  // everyone: the run hung, or failed naming honest parties (TIMEOUT). Every party is a process
  // (p1..p3 honest, running the real thresholdSum: GF(2^61 − 1) is ten times slower under jest).
  const ROUND = 1000;
  const L = 4 * 2 ** 17; // 4 pieces of 1 MiB per share
  const honest = { mode: 'threshold-honest-vector', t: 2, length: L, roundMs: ROUND };
  const o = await runScenario(
    4,
    { p1: { ...honest, input: 10 }, p2: { ...honest, input: 20 }, p3: { ...honest, input: 30 }, p4: { mode: 'threshold-state-then-freeze', input: 40, t: 2, length: L } },
    () => Promise.reject(new Error('no party runs here')),
    ROUND,
    async (children) => {
      await Promise.all(['p1', 'p2', 'p3'].map((id) => Promise.race([children.get(id)!.waitFor('result', 12_000), children.get(id)!.waitFor('failed', 12_000)])));
      children.get('p4')!.kill();
    },
  );
  expect(o.children.get('p4')!.events.some((e) => e.type === 'stated')).toBe(true);
  const want = { contributors: ['p1', 'p2', 'p3'], first: 10 + 20 + 30, last: 10 + 20 + 30 + 3 * ((L - 1) % 7) };
  for (const id of ['p1', 'p2', 'p3']) {
    const events = o.children.get(id)!.events;
    expect(events.find((e) => e.type === 'failed')).toBeUndefined();
    const r = events.find((e) => e.type === 'result')!;
    expect({ contributors: r.contributors, first: r.first, last: r.last }).toEqual(want);
    // Not hung: the run's own waits for the frozen party (its pieces: one deadline and a probe;
    // the partial-sum round: two deadlines and a probe, review11 R11-2) plus the GF(2^61 − 1) work
    // on a loaded 2-core machine stay well inside 10 deadlines; the old code never finished.
    expect(r.elapsedMs).toBeLessThan(10 * ROUND);
  }
}, 40_000);

test('thresholdSum n = 4, t = 2, a short vector (in process): sends to a frozen party that never complete (its socket’s buffers full) do not hold up the others past their deadlines', async () => {
  // p4 states its shape, then nothing (as a frozen process); every send to it stays pending, as a
  // send does once the kernel buffers toward a frozen peer are full (the test above does it for
  // real, with a long vector; a short vector's deal is one message per peer — 16·L bytes with
  // field: 'p127'). thresholdSum awaited its deal to every peer, with no deadline: it hung.
  const ROUND = 800;
  const c = await createTestGroups(4, { roundTimeoutMs: ROUND });
  try {
    const [p1, p2, p3, p4] = c.groups as [Group, Group, Group, Group];
    for (const g of [p1, p2, p3]) {
      const send = g.send.bind(g);
      g.send = (peer: string, round: string, payload: PlainData) => (peer === 'p4' ? new Promise<void>(() => undefined) : send(peer, round, payload));
    }
    const send4 = p4.send.bind(p4);
    p4.send = (peer: string, round: string, payload: PlainData) => (round.endsWith('/shape') ? send4(peer, round, payload) : new Promise<void>(() => undefined));
    const frozen = thresholdSum(p4, 40, { t: 2, roundTimeoutMs: ROUND }).catch(() => undefined);
    const t0 = Date.now();
    const guard = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still running after 8 s')), 8000).unref());
    const results = await Promise.race([Promise.all([p1, p2, p3].map((g, i) => thresholdSum(g, INPUTS[i]!, { t: 2, roundTimeoutMs: ROUND }))), guard]);
    for (const r of results) {
      expect(r.contributors).toEqual(['p1', 'p2', 'p3']);
      expect(r.sum).toBe(10 + 20 + 30);
    }
    expect(Date.now() - t0).toBeLessThan(6 * ROUND);
    await frozen;
  } finally {
    await c.close();
  }
}, 20_000);

test('thresholdSum n = 4, t = 2 (in process): a slow party — sends to it complete only after 0.7 of the round deadline — is not left behind by the frozen-party rule: every party completes with every dealer', async () => {
  const ROUND = 1000;
  const c = await createTestGroups(4, { roundTimeoutMs: ROUND });
  try {
    for (const g of c.groups.slice(0, 3)) {
      const send = g.send.bind(g);
      g.send = (peer: string, round: string, payload: PlainData) => {
        const sent = send(peer, round, payload);
        return peer === 'p4' ? sent.then(() => new Promise<void>((r) => setTimeout(r, 0.7 * ROUND))) : sent;
      };
    }
    const results = await Promise.all(c.groups.map((g, i) => thresholdSum(g, INPUTS[i]!, { t: 2, roundTimeoutMs: ROUND })));
    for (const r of results) {
      expect(r.contributors).toEqual(['p1', 'p2', 'p3', 'p4']);
      expect(r.sum).toBe(10 + 20 + 30 + 40);
    }
  } finally {
    await c.close();
  }
}, 20_000);

// NOT FIXED (the fix is not local): a single live party can abort any thresholdSum run without
// being named. p3 deals and states its shape to p1, p2 only and reports (to everyone) that it
// lacks p5's share. p1, p2 count its report: Q = {p1, p2, p4}; p4, p5 never took p3's statement,
// so not its report either: Q = {p1, p2, p4, p5}. The confirmations differ, each consistent with
// the signed reports its author presented, and no party signed two reports: every honest party
// aborts with TAMPERING_DETECTED naming nobody ("a report lost to a crash") — while p3 never
// crashed and answers every probe. The tolerant rounds (shape statements, dealer reports) accept
// a missing message silently; a withholding party that a gather would name by a timeout is only
// seen here as a difference nobody is blamed for. Naming it needs the dealer reports (or the
// statements) to be agreed by a broadcast that names a withholder, or the unexplained split to
// name the party whose signed report reached one side only — a change of the protocol's rounds.
test.skip('NOT FIXED — thresholdSum n = 5, t = 2: a live party that states its shape to some parties only, with a report lacking one dealer, aborts the run without being named', async () => {
  const ROUND = 2000;
  const o = await runScenario(
    5,
    { p3: { mode: 'threshold-selective-statement', input: 30, t: 2, dealTo: ['p1', 'p2'], drop: 'p5' } },
    (g, i) => thresholdSum(g, INPUTS[i]!, { t: 2, roundTimeoutMs: ROUND }),
    ROUND,
  );
  for (const r of o.results) {
    expect(r.ok).toBe(false);
    const e = (r as { error: CouplerError }).error;
    expect(e.code).toBe(ErrorCode.TAMPERING_DETECTED); // passes: every honest party aborts
    expect(e.peers).toEqual(['p3']); // fails: nobody is named
  }
}, 30_000);
