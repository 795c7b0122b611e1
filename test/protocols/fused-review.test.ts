/**
 * Adversarial review of secureSum's fused two-round form (review5): a malicious party as a REAL
 * PROCESS (test/protocols/fixtures/adversary.ts, modes `review5-*`) against honest parties running
 * the unmodified protocol in this process, over real WebSockets on 127.0.0.1.
 *
 * What must hold: every honest party either gets the correct sum or aborts with a typed error
 * (a CouplerError with a stable code) naming the misbehaving party, never an honest one.
 */
import { runFixtureScenario, type ScenarioOutcome } from '../support/fixture-scenario';
import { secureSum, type SumResult } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { agreeEpoch } from '../../src/group/epoch';

type Outcome<T = SumResult> = ScenarioOutcome<T>;

/** An n-party group: `scenarios` (id → scenario) are fixture processes, the rest honest parties here running `honestRun`. */
const runScenario = runFixtureScenario;

/** Every honest party's error (failing the test if one completed). */
function errors(o: Outcome): unknown[] {
  return o.results.map((r, i) => {
    if (r.ok) throw new Error(`honest party ${o.honest[i]} completed with ${String(r.value.sum)}; it should have aborted`);
    return r.error;
  });
}

const INPUTS = [10, 20, 30, 40, 50];

describe('F1: parameters from the network are compared as data, never looked up on Object.prototype', () => {
  // Before the fix: `mismatchReason` read `a[k]` for a key k of the peer's parameters, so a key
  // such as "toString" found Object.prototype.toString; JSON.stringify of a function is undefined
  // and `.slice` on it threw a TypeError out of agreeRun at every honest party — an untyped error,
  // the stating party named by nobody (and the honest parties' abort notices blamed nobody).
  test.each(['toString', 'constructor', 'hasOwnProperty', '__proto__'])('a peer stating parameters with an extra key "%s": SHAPE_MISMATCH naming it at every honest party', async (key) => {
    const o = await runScenario(4, { p3: { mode: 'review5-params-key', input: 30, key } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 5000 }), 5000);
    for (const e of errors(o)) {
      expect(e).toBeInstanceOf(CouplerError);
      expect((e as CouplerError).code).toBe(ErrorCode.SHAPE_MISMATCH);
      expect((e as CouplerError).peers).toEqual(['p3']);
    }
  }, 30_000);
});

/** What each honest party got: its sum, or its error's code and the parties it named. */
function outcomes(o: Outcome<unknown>): Record<string, unknown> {
  return Object.fromEntries(
    o.results.map((r, i) => [o.honest[i], r.ok ? { sum: (r.value as SumResult).sum } : r.error instanceof CouplerError ? { code: r.error.code, peers: [...r.error.peers] } : { thrown: String(r.error) }]),
  );
}

describe('blame when the adversary deviates in round 2 or toward one party only', () => {
  test('an opening sent to one party only (the others get nothing, the adversary answers probes): that party gets the right sum, every other names exactly the adversary', async () => {
    const o = await runScenario(4, { p3: { mode: 'review5-open-to-first', input: 30 } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 3000 }), 3000);
    const got = outcomes(o);
    expect(got.p1).toEqual({ sum: 100 });
    for (const p of ['p2', 'p4']) expect(got[p]).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
  }, 30_000);

  test('validly signed bytes that are no message, to one party only: nobody names an honest party', async () => {
    const o = await runScenario(4, { p3: { mode: 'review5-garbage-to-first', input: 30 } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 3000 }), 3000);
    const got = outcomes(o);
    process.stdout.write(`garbage-to-first: ${JSON.stringify(got)}\n`);
    for (const p of o.honest) {
      const e = got[p] as { code?: string; peers?: string[] };
      expect(e.code).toBeDefined();
      for (const named of e.peers ?? []) expect(named).toBe('p3');
    }
  }, 30_000);
});

describe('O3: a live party stopping a run by blaming a live honest party', () => {
  test('what happens: every honest party aborts at once with PEER_ABORTED, naming nobody (never the blamed honest party)', async () => {
    const t0 = Date.now();
    const o = await runScenario(4, { p3: { mode: 'review5-false-blame', input: 30, blame: 'p1' } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 5000 }), 5000);
    const got = outcomes(o);
    process.stdout.write(`false-blame: ${JSON.stringify(got)} in ${Date.now() - t0} ms\n`);
    for (const p of o.honest) expect(got[p]).toEqual({ code: ErrorCode.PEER_ABORTED, peers: [] });
  }, 30_000);
});

// NOT FIXED — inherent to blame over authenticated but non-transferable channels: p3's notice says
// p1 failed toward it; p1 answers everyone else. Whether p3 lies or the p1–p3 path alone is cut
// (a real partition, where p1 may not have noticed yet) looks the same to p2 and p4, so naming p3
// would name an honest party in the partition case. README "What is not protected" states it.
test.skip('O3 (the property one might expect): a party that stops a run by blaming a live party is named', async () => {
  const o = await runScenario(4, { p3: { mode: 'review5-false-blame', input: 30, blame: 'p1' } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 5000 }), 5000);
  for (const e of errors(o)) expect((e as CouplerError).peers).toEqual(['p3']);
}, 30_000);

describe('F2: the echo fallback between honest parties when one of them still waits out its round-2 deadline', () => {
  // p3 equivocates its statement (p1 gets another commitment than p2 and p4) and withholds its
  // round-2 digest from p1 only. p2 and p4 see p1's digest differ, send p1 their lists and wait
  // one round deadline for p1's list; p1 sends its list only after its own round 2 ends, one round
  // deadline after it started plus the liveness probe of p3 — later than p2's and p4's deadline.
  // Before the fix p2 and p4 named p1 (TIMEOUT, peers ["p1"]) in 3 runs of 3, and p3 went unnamed
  // there; the echo now sends a list as soon as a differing digest arrives.
  test('no honest party is named: p1 names p3 (TIMEOUT), p2 and p4 name p3 with the evidence p1\'s list carries (EQUIVOCATION)', async () => {
    const o = await runScenario(4, { p3: { mode: 'review5-equivocate-withhold', input: 30 } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 3000 }), 3000);
    const got = outcomes(o);
    expect(got.p1).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
    for (const p of ['p2', 'p4']) expect(got[p]).toEqual({ code: ErrorCode.EQUIVOCATION, peers: ['p3'] });
  }, 30_000);
});

describe('F2 in the epoch agreement (the same fallback, src/group/epoch.ts)', () => {
  // p3 sends p1 another contribution than p2 and p4, and withholds its digest from p1 only. Before
  // the fix p1 sent its list only after its round ended (a deadline plus the probe of p3), and p2
  // and p4, waiting one deadline for it, named the honest p1 (TIMEOUT).
  test('p1 names p3 (TIMEOUT); p2 and p4 see the conflicting contributions (unsigned: nobody named, p1 and p3 suspects) — never p1 in peers', async () => {
    const round = 'review5:epoch';
    const o = await runScenario(4, { p3: { mode: 'review5-epoch-split-withhold', input: 0, round } }, (g) => agreeEpoch(g, { round, timeoutMs: 3000 }), 3000);
    const got = Object.fromEntries(
      o.results.map((r, i) => [o.honest[i], r.ok ? { ok: true } : r.error instanceof CouplerError ? { code: r.error.code, peers: [...r.error.peers], suspects: [...r.error.suspects] } : { thrown: String(r.error) }]),
    );
    expect(got.p1).toMatchObject({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
    for (const p of ['p2', 'p4']) expect(got[p]).toEqual({ code: ErrorCode.EQUIVOCATION, peers: [], suspects: ['p1', 'p3'] });
  }, 30_000);
});

describe('F2 with a forged signature: the party that cannot forward its view stops at once', () => {
  // As F2, but p1's copy of p3's statement carries a signature that does not verify, so p1 cannot
  // forward it in a list (it would look like the forger). Before the fix p1 noticed only after its
  // round 2 ended (a deadline plus the probe of p3, whose digest it never got): p2 and p4 had
  // given up on p1's list and named p1 (TIMEOUT). Now p1 stops when the first differing digest
  // arrives, and its notice reaches p2 and p4 while they wait.
  test('p1 names p3 (PROTOCOL_VIOLATION); p2 and p4 name nobody — never p1', async () => {
    const o = await runScenario(4, { p3: { mode: 'review5-equivocate-withhold', input: 30, badSig: true } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 3000 }), 3000);
    const got = outcomes(o);
    expect(got.p1).toEqual({ code: ErrorCode.PROTOCOL_VIOLATION, peers: ['p3'] });
    for (const p of ['p2', 'p4']) expect(got[p]).toEqual({ code: ErrorCode.PEER_ABORTED, peers: [] });
  }, 30_000);
});

describe('O4: a withholder makes an honest party late for everyone else', () => {
  // p3 never sends p1 anything (and answers every probe). p1 waits for p3's statement and names
  // p3; p2 and p4, one round ahead, wait for p1's digest, which cannot come: they probe p1 (alive,
  // waiting for p3), then p3 (alive) — nobody is silent. Before the suspects rule they named the
  // party missing here, p1 (in 2 runs, once: a race with p1's notice); now p1's claim that it waits
  // for the live p3 makes both suspects and nobody is named. Either way p1's notice (blaming p3,
  // alive at p2 and p4) names nobody.
  test('p1 names p3; p2 and p4 name nobody (p1 and p3 suspects) — never the honest p1', async () => {
    const o = await runScenario(4, { p3: { mode: 'review5-withhold-from-first', input: 30 } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 3000 }), 3000);
    const got = outcomes(o);
    expect(got.p1).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
    for (const p of ['p2', 'p4']) {
      const e = got[p] as { code?: string; peers?: string[] };
      expect([ErrorCode.PEER_ABORTED, ErrorCode.TIMEOUT]).toContain(e.code);
      expect(e.peers).toEqual([]);
    }
  }, 30_000);
});

test('F1 (text): a key chosen by a peer reaches the SHAPE_MISMATCH message escaped, never raw (no line breaks or terminal escapes from the network)', async () => {
  const key = 'x\n\u001b[31mFORGED LOG LINE';
  const o = await runScenario(4, { p3: { mode: 'review5-params-key', input: 30, key } }, (g, i) => secureSum(g, INPUTS[i]!, { roundTimeoutMs: 5000 }), 5000);
  for (const e of errors(o)) {
    expect((e as CouplerError).code).toBe(ErrorCode.SHAPE_MISMATCH);
    expect((e as CouplerError).message).not.toMatch(/[\n\u001b]/);
    expect((e as CouplerError).message).toContain('\\n\\u001b[31mFORGED');
  }
}, 30_000);
