/**
 * Review 4 of the aggregated opening (src/protocols/aggregate.ts, sumcheck.ts): a malicious party
 * as a REAL PROCESS (test/protocols/fixtures/adversary.ts, `agg-*` modes) against honest parties
 * running the unmodified protocols in this process, on 127.0.0.1 only. Each case states the claim
 * it checks.
 */
import type { TestParties } from '../support/group-harness';
import { runFixtureScenario, type ScenarioOutcome } from '../support/fixture-scenario';
import { dkSecureSum, type SumResult } from '../../src/protocols';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import type { Group, JoinGroupOptions } from '../../src/group/group';
import { serializeIdentity } from '../../src/identity/identity';

type Outcome = ScenarioOutcome;

/** An n-party group: `scenarios` (id → scenario) are fixture processes, the rest honest parties here running `honestRun`; `withParties` replaces `scenarios` for scenarios that need the parties' keys. */
const runScenario = (
  n: number,
  scenarios: Record<string, Record<string, unknown>>,
  honestRun: (g: Group, index: number) => Promise<SumResult>,
  roundTimeoutMs: number,
  extra: Partial<JoinGroupOptions> = {},
  withParties?: (parties: TestParties) => Record<string, Record<string, unknown>>,
): Promise<Outcome> => runFixtureScenario(n, withParties ?? scenarios, honestRun, roundTimeoutMs, extra);

/** Every honest party's error (none may complete), by party id. */
function errorsById(o: Outcome): Map<string, CouplerError> {
  return new Map(
    o.results.map((r, i) => {
      if (r.ok) throw new Error(`honest party ${o.honest[i]} completed; it should have aborted`);
      expect(r.error).toBeInstanceOf(CouplerError);
      return [o.honest[i]!, r.error as CouplerError];
    }),
  );
}

const N = 5;
const INPUTS = [10, 20, 30, 40, 50];

describe('aggregated opening under review 4', () => {
  test('F3: a piece under an invalid signature to ONE honest party: that party names the sender; no honest party names an honest one', async () => {
    const length = 10;
    const vec = (i: number): number[] => Array.from({ length }, (_, j) => INPUTS[i]! + j);
    const o = await runScenario(N, { p3: { mode: 'agg-bad-sig-piece', input: 30, length, victim: 'p1' } }, (g, i) => dkSecureSum(g, vec(i), { roundTimeoutMs: 3000 }), 3000);
    const errs = errorsById(o);
    expect(errs.get('p1')!.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
    expect(errs.get('p1')!.peers).toEqual(['p3']);
    for (const e of errs.values()) for (const p of e.peers) expect(p).toBe('p3');
  }, 60_000);

  test('F1: a dispute forced by a false fingerprint, with vectors longer than maxMessageBytes / 8: every honest party names the cheater (CheatingDetectedError)', async () => {
    // 2^18 elements: the opening's pieces and answers (≈ L/5 elements each) fit in one message of
    // 1.5 MiB, a whole partial sum (2 MiB) does not.
    const length = 1 << 18;
    const maxMessageBytes = 1.5 * 1024 * 1024;
    const vec = (i: number): Float64Array => Float64Array.from({ length }, (_, j) => INPUTS[i]! + (j % 7));
    const o = await runScenario(
      N,
      { p3: { mode: 'agg-false-fingerprint', input: 30, length, maxMessageBytes } },
      (g, i) => dkSecureSum(g, vec(i), { roundTimeoutMs: 10_000 }),
      10_000,
      { maxMessageBytes },
    );
    const errs = errorsById(o);
    for (const [id, e] of errs) {
      expect([id, e.code, e.message]).toEqual([id, ErrorCode.TAMPERING_DETECTED, expect.stringContaining('fingerprint')]);
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.peers).toEqual(['p3']);
    }
  }, 120_000);

  test('LIMIT — an aggregator ALONE changes its chunk by an offset fixed blind and covers it with its own false fingerprint: every party accepts S + offset (what it could do to its own input; the docs said a colluder was needed)', async () => {
    const length = 10;
    const vec = (i: number): number[] => Array.from({ length }, (_, j) => INPUTS[i]! + j);
    const o = await runScenario(N, { p3: { mode: 'agg-self-cover', input: 30, length, delta: 65536 } }, (g, i) => dkSecureSum(g, vec(i), { roundTimeoutMs: 5000 }), 5000);
    const want = Array.from({ length }, (_, j) => INPUTS.reduce((s, x) => s + x + j, 0));
    want[4]! += 1; // p3 aggregates chunk 2 = [4, 6); 65536 · 2^-16
    for (const r of o.results) {
      expect(r.ok).toBe(true);
      expect(Array.from((r as { value: SumResult }).value.sum as Float64Array)).toEqual(want);
    }
  }, 60_000);

  // The victim's flow control holds its own parts back, and the shared stream deadline, fixed when
  // each party STARTED the opening, passes first at the parties ahead. Before the fix in
  // src/group/group.ts (`_stalled`), they named the honest p1 (TIMEOUT [p1]) — everyone asked
  // answered its probe — before p1 timed out on p3; now p1, which says it waits for p3, gets the
  // probe window to send its notice.
  test('F5: a piece stream withheld from ONE honest party (sent whole to the others, withholder alive): no honest party names an honest one', async () => {
    // 4 parties, chunks of 2^18 + 1 elements: 3 parts each, so the victim's flow control holds its
    // own part 2 back (it waits for the withholder's part 0) and the others wait for it.
    const length = 4 * (2 * (1 << 17) + 1);
    const vec = (i: number): Float64Array => Float64Array.from({ length }, (_, j) => INPUTS[i]! + (j % 7));
    const o = await runScenario(4, { p3: { mode: 'agg-stream-withhold', input: 30, length, victim: 'p1' } }, (g, i) => dkSecureSum(g, vec(i), { roundTimeoutMs: 2000 }), 2000);
    const errs = errorsById(o);
    const seen = [...errs].map(([id, e]) => `${id}: ${e.code} [${e.peers.join(',')}] ${e.message}`);
    for (const [, e] of errs) expect([seen, e.peers.filter((p) => p !== 'p3')]).toEqual([seen, []]);
  }, 120_000);

  // The same without streams: the party ahead waits for the victim in the next round under a
  // deadline that ends a few ms after the victim's; before the fix it named p1 in about one run
  // of three (a race with the victim's abort notice).
  test('F5: a piece withheld from ONE honest party (short vectors, one message per piece; withholder alive): no honest party names an honest one', async () => {
    const length = 10;
    const vec = (i: number): number[] => Array.from({ length }, (_, j) => INPUTS[i]! + j);
    const o = await runScenario(4, { p3: { mode: 'agg-withhold-piece', input: 30, length, victim: 'p1' } }, (g, i) => dkSecureSum(g, vec(i), { roundTimeoutMs: 2000 }), 2000);
    const errs = errorsById(o);
    const seen = [...errs].map(([id, e]) => `${id}: ${e.code} [${e.peers.join(',')}] ${e.message}`);
    for (const [, e] of errs) expect([seen, e.peers.filter((p) => p !== 'p3')]).toEqual([seen, []]);
  }, 60_000);

  test('F7: in a view (Group.without), a dispute where a party presents a statement signed by a roster party OUTSIDE the view: a typed error naming the presenter, never a crash', async () => {
    const length = 10;
    const vec = (i: number): number[] => Array.from({ length }, (_, j) => INPUTS[i]! + j);
    const parties = { p3: { mode: 'agg-present-outsider', input: 30, length, outsider: 'p5' } };
    const o = await runScenario(
      N,
      parties,
      // p5 stays in the mesh but outside the view; p1, p2, p4 sum in the view without it.
      (g, i) => (g.localId === 'p5' ? Promise.resolve({} as SumResult) : dkSecureSum(g.without(['p5']), vec(i), { roundTimeoutMs: 5000 })),
      5000,
      {},
      (ps) => ({ p3: { ...parties.p3, outsiderIdentity: serializeIdentity(ps.identities.get('p5')!) } }),
    );
    const errs = new Map([...errorsById({ ...o, results: o.results.filter((_, i) => o.honest[i] !== 'p5'), honest: o.honest.filter((p) => p !== 'p5') })]);
    expect(errs.size).toBe(3);
    for (const [id, e] of errs) {
      expect([id, e instanceof CouplerError, e.message]).toEqual([id, true, expect.any(String)]);
      // The outsider's statement is left out of the verdict, which then proves p3's false
      // fingerprint from the echoed check (review15 R15-3; before: PROTOCOL_VIOLATION for the
      // statement, which shielded the proven cheat).
      expect([id, e.code, e.peers]).toEqual([id, ErrorCode.TAMPERING_DETECTED, ['p3']]);
    }
  }, 60_000);
});
