/**
 * review26 question 3: a late honest party in thresholdSum's tolerant rounds. The others go on
 * without it (a dropout to them, as documented) and complete; the late party then must not name
 * them — they are honest and done, and a party named in `peers` is blamed in its abort notice and
 * left out by the documented retry rule.
 *
 * In this process, real groups on 127.0.0.1; nobody's messages are changed: p1 only starts its run
 * later than the others (it was busy, e.g. still finishing a previous task), as a slow party does.
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { thresholdSum, type SumResult } from '../../src/protocols';
import { ErrorCode, type CouplerError } from '../../src/errors';
import { PIECE_ELEMENTS } from '../../src/protocols/common';

const D = 1500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function describeOutcome(r: { ok: true; value: unknown } | { ok: false; error: unknown }): unknown {
  if (r.ok) return { sum: (r.value as SumResult).sum };
  const e = r.error as CouplerError;
  return { code: e.code, peers: e.peers, message: e.message };
}

// R26-1: p1 starts 1.5 deadlines late. Its shape statement reaches p2..p5 after their shape
// deadline: they go on without it (4 dealers = the floor, 4 confirmers = m) and complete with 140.
// They send their dealer reports only to the parties whose statement they compared (not p1). p1
// took every statement and every share at once (they were waiting in its mailboxes) and waits for
// dealer reports that nobody sends it; at its deadline it probes p2..p5, which are done and answer
// "waiting for nobody": p1 throws TIMEOUT with peers = p2, p3, p4, p5 — four honest parties named.
test('R26-1 — thresholdSum n = 5, t = 3, short vector: p1 starts 1.5 D late; p2..p5 complete without it; p1 must not name them', async () => {
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const inputs = [10, 20, 30, 40, 50];
    const others = c.groups.slice(1).map((g, i) => thresholdSum(g, inputs[i + 1]!, { t: 3, roundTimeoutMs: D }));
    const late = sleep(1.5 * D).then(() => thresholdSum(c.groups[0]!, inputs[0]!, { t: 3, roundTimeoutMs: D }));
    const out = await settleAll([late, ...others]);
    for (const r of out.slice(1)) expect(describeOutcome(r)).toEqual({ sum: 140 });
    const r1 = out[0]!;
    expect(r1.ok).toBe(false);
    const e = (r1 as { error: CouplerError }).error;
    // Before the fix: TIMEOUT, peers ["p2", "p3", "p4", "p5"].
    expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.TOO_FEW_PARTIES, peers: [] });
  } finally {
    await c.close();
  }
}, 60_000);

// R26-1, pieces: the same with a long vector in GF(2^61 − 1). p2..p5 deal their pieces only to the
// parties whose statement they compared; p1 waits for deal pieces nobody sends it, and at its
// deadline names the four, done and honest (TIMEOUT via the piece exchange).
test('R26-1, pieces — thresholdSum n = 5, t = 3, a long vector: p1 starts late; p2..p5 complete without it; p1 must not name them', async () => {
  const L = PIECE_ELEMENTS + 1;
  const DL = 4000;
  const c = await createTestGroups(5, { roundTimeoutMs: DL });
  try {
    const input = (i: number): Float64Array => new Float64Array(L).fill(i + 1);
    const others = c.groups.slice(1).map((g, i) => thresholdSum(g, input(i + 1), { t: 3, roundTimeoutMs: DL }));
    const late = sleep(1.5 * DL).then(() => thresholdSum(c.groups[0]!, input(0), { t: 3, roundTimeoutMs: DL }));
    const out = await settleAll([late, ...others]);
    // (On failure, the outcome — code, peers, message — is what the assertion shows.)
    const brief = (r: (typeof out)[number]): unknown => {
      if (!r.ok) return describeOutcome(r);
      const sum = (r.value as SumResult).sum as Float64Array;
      return { sum: [sum[0], sum[L - 1]] };
    };
    for (const r of out.slice(1)) expect(brief(r)).toEqual({ sum: [14, 14] });
    const r1 = out[0]!;
    expect(r1.ok).toBe(false);
    const e = (r1 as { error: CouplerError }).error;
    expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.TOO_FEW_PARTIES, peers: [] });
  } finally {
    await c.close();
  }
}, 90_000);

// R26-1, split: p1's statement reaches p2 on time and p3..p5 1.5 D late (a slow path; p1 unchanged
// otherwise). p2 counts p1's report; p3..p5 go on without p1 and send it the note. p1 holds one
// report (2 needed): TOO_FEW_PARTIES naming nobody; p2..p5 complete over {p2..p5} (p1 never
// reached p3..p5's dealer sets), p2 leaving p1 out as a confirmer that stopped.
test('R26-1, split — p1’s statement late at p3..p5 only: p2..p5 complete with 140, p1 names nobody', async () => {
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const g1 = c.groups[0]!;
    const send = g1.send.bind(g1) as (peer: string, round: string, payload: unknown, options?: unknown) => Promise<void>;
    (g1 as { send: unknown }).send = (peer: string, round: string, payload: unknown, options?: unknown): Promise<void> => {
      if (!round.endsWith('/shape') || peer === 'p2') return send(peer, round, payload, options);
      setTimeout(() => void send(peer, round, payload, options).catch(() => undefined), 1.5 * D);
      return Promise.resolve();
    };
    const inputs = [10, 20, 30, 40, 50];
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, inputs[i]!, { t: 3, roundTimeoutMs: D })));
    for (const r of out.slice(1)) expect(describeOutcome(r)).toEqual({ sum: 140 });
    const e = (out[0] as { error: CouplerError }).error;
    expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.TOO_FEW_PARTIES, peers: [] });
  } finally {
    await c.close();
  }
}, 60_000);

// R26-1, split, pieces: the same split with a long vector. p3..p5 send p1 the note at deal piece 0;
// p2 deals to it. p1 holds one dealer's pieces (2 needed): TOO_FEW_PARTIES naming nobody; p2 drops
// p1 as a dealer when it stops, and p2..p5 complete over {p2..p5}.
test('R26-1, split, pieces — p1’s statement late at p3..p5 only, a long vector: p2..p5 complete, p1 names nobody', async () => {
  const L = PIECE_ELEMENTS + 1;
  const DL = 4000;
  const c = await createTestGroups(5, { roundTimeoutMs: DL });
  try {
    const g1 = c.groups[0]!;
    const send = g1.send.bind(g1) as (peer: string, round: string, payload: unknown, options?: unknown) => Promise<void>;
    (g1 as { send: unknown }).send = (peer: string, round: string, payload: unknown, options?: unknown): Promise<void> => {
      if (!round.endsWith('/shape') || peer === 'p2') return send(peer, round, payload, options);
      setTimeout(() => void send(peer, round, payload, options).catch(() => undefined), 1.5 * DL);
      return Promise.resolve();
    };
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, new Float64Array(L).fill(i + 1), { t: 3, roundTimeoutMs: DL })));
    for (const r of out.slice(1)) {
      expect(r.ok ? [((r.value as SumResult).sum as Float64Array)[L - 1], (r.value as SumResult).contributors] : describeOutcome(r)).toEqual([14, ['p2', 'p3', 'p4', 'p5']]);
    }
    const e = (out[0] as { error: CouplerError }).error;
    expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.TOO_FEW_PARTIES, peers: [] });
  } finally {
    await c.close();
  }
}, 90_000);
