/**
 * Review 23: windows in which an honest party answers a liveness probe so that the asker names it
 * although it is not withholding (docs/reviews/review23-probe-transitions.md). In-process parties,
 * real channels on 127.0.0.1; schedules are made deterministic by spying on the public methods a
 * probe answer goes through (the moment a party posts, what its probe answer says), never by
 * replacing the channels.
 */
import { createTestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';
import { Mesh } from '../../src/group/mesh';
import { SecureChannel } from '../../src/channel/channel';
import { decodeMessage, type PlainData } from '../../src/wire/codec';
import { PONG_ROUND, encodeProbe } from '../../src/group/inbound';

jest.setTimeout(60_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);

afterEach(() => jest.restoreAllMocks());

test('W1: a late party that posts its (small, batched) round message in the turn a ping is read is not named: its probe answer does not overtake the message', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 2_000 });
  try {
    const [p1, p2] = h.groups;
    const run = p1!.nextRunId('x');
    p2!.nextRunId('x');
    h.groups[2]!.nextRunId('x');
    // p2 is late (held up elsewhere): its message of `${run}/a` is posted in the very event-loop turn
    // in which p1's liveness probe is read at p2 — here, as p2 works out its answer. A small
    // message waits in the group's batch until the end of the turn (setImmediate); before the
    // fix, the answer ("waiting for nobody") went to the channel at once, ahead of the message, and
    // p1 — its deadline's verdict decided on that answer before the message arrived — named p2.
    //
    // In one process every party shares the event loop, so p1 reads both frames in one go; p2 as a
    // process of its own goes on with its turn (other peers' messages, its own work) after the
    // answer left, and its batch leaves at the end of that turn. That is played by holding what p2
    // sends p1 from the first round message on for 150 ms, in order (a channel is ordered: what
    // p2 sends after it waits behind it).
    let posted = false;
    let chain: Promise<void> | undefined;
    const send = SecureChannel.prototype.send;
    jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
      if (!posted || this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
      if (chain !== undefined) return (chain = chain.then(() => send.call(this, message)));
      const m = decodeMessage(message, message.length) as { r?: PlainData };
      if (m.r === PONG_ROUND) return send.call(this, message);
      return (chain = sleep(150).then(() => send.call(this, message)));
    });
    const waitingFor = Mesh.prototype.waitingFor;
    jest.spyOn(Mesh.prototype, 'waitingFor').mockImplementation(function (this: Mesh): string[] {
      if (!posted && !this.peers.includes('p2')) {
        posted = true;
        void p2!.send('p1', `${run}/a`, 42).catch(() => undefined);
      }
      return waitingFor.call(this);
    });
    // (A 2 s deadline: p1's probe window, 1 s, leaves room for the 150 ms on a loaded machine.)
    const e = await failure(p1!.gather(`${run}/a`, { from: ['p2'], timeoutMs: 2_000 }));
    expect(posted).toBe(true);
    // The message came during the probe (R17-5): the round fails, nobody is named.
    expect(e?.code).toBe(ErrorCode.TIMEOUT);
    expect(e?.peers).toEqual([]);
  } finally {
    await h.close();
  }
});

/** p2's channel to p1 rewrites its probe answers: the same waits, and `x` as `x` gives it. */
function forgeX(x: (nonce: Uint8Array) => string): void {
  const send = SecureChannel.prototype.send;
  jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
    if (this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
    const m = decodeMessage(message, message.length) as { r?: PlainData; p?: { n?: Uint8Array; w?: string[] } };
    return send.call(this, m.r === PONG_ROUND ? encodeProbe('pong', m.p!.n!, m.p!.w ?? [], x(m.p!.n!)) : message);
  });
}

test.each([
  ['the asked run itself', (run: string) => run],
  ['a run at another counter', () => 'other.7'],
])('W9: a withholder whose probe answer claims its counter went to %s — what no honest party answers — is named', async (_what, x) => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_000 });
  try {
    const [p1, p2, p3] = h.groups;
    for (const g of [p1, p2, p3]) expect(g!.nextRunId('sum')).toBe('sum.1');
    // p2 took sum.1 too, withholds, waits for nobody, and answers p1's probe about sum.1 with an
    // `x` that cannot be true: an honest party's `x` is another run at the asked run's counter.
    forgeX(() => x('sum.1'));
    await p3!.send('p1', 'sum.1/a', 3);
    const e = await failure(p1!.gather('sum.1/a', { from: ['p2', 'p3'] }));
    expect(e?.code).toBe(ErrorCode.TIMEOUT);
    expect(e?.peers).toEqual(['p2']);
  } finally {
    await h.close();
  }
});

test('W9: a withholder that answers a probe about no run (a caller\'s own round names) with an `x` is named', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_000 });
  try {
    const [p1, , p3] = h.groups;
    // `job.1` is the caller's own name (not from nextRunId): p1's probe asks about no run, and an
    // honest party never answers such a probe with an `x`.
    forgeX(() => 'other.1');
    await p3!.send('p1', 'job.1/a', 3);
    const e = await failure(p1!.gather('job.1/a', { from: ['p2', 'p3'] }));
    expect(e?.code).toBe(ErrorCode.TIMEOUT);
    expect(e?.peers).toEqual(['p2']);
  } finally {
    await h.close();
  }
});

// review23 W7: the run sequences of two honest parties diverge when one run failed at one of them
// and completed at the other — a cheater that sends its wrong opening to p1 alone (p1:
// COMMITMENT_MISMATCH naming p3; p2 completes), and p1's caller retries without p3 as the README's
// retry guidance allows (`group.without(err.peers)` for a CheatingDetectedError), while p2's
// caller goes on to its next sum. Each then waits for the other in a run the other will never
// start. Asked about a run it had not reached, each answered like a party whose caller has not
// called yet, and each named the other (TIMEOUT), two honest parties. Now a party that has not
// reached the run and runs one of another counter namespace says which (`x`), and the asker, not
// running that run, names nobody (a party that runs nothing else is still named, R16-1).
test('W7: two honest parties whose sequences diverged after a one-sided failure do not name each other', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 1_000 });
  try {
    const [p1, p2, p3] = h.groups;
    for (const g of [p1, p2, p3]) expect(g!.nextRunId('sum')).toBe('sum.1');
    p1!.endRun('sum.1', new CouplerError(ErrorCode.COMMITMENT_MISMATCH, 'p3 opened a value it did not commit to', { peer: 'p3' }));
    p2!.endRun('sum.1');
    // p1 retries without p3; p2 goes on to its next sum (p3 plays along there).
    const v1 = p1!.without(['p3']);
    const retry = v1.nextRunId('sum');
    const next = p2!.nextRunId('sum');
    p3!.nextRunId('sum');
    await p3!.send('p2', `${next}/a`, 3);
    const [e1, e2] = await Promise.all([failure(v1.gather(`${retry}/a`)), failure(p2!.gather(`${next}/a`))]);
    expect(e1?.code).toBe(ErrorCode.TIMEOUT);
    expect(e2?.code).toBe(ErrorCode.TIMEOUT);
    expect(e1?.peers).toEqual([]);
    expect(e2?.peers).toEqual([]);
  } finally {
    await h.close();
  }
});

test('W10: an honest party held up in many runs at once is not named for the probes over its answer budget (one asker, one probe per run)', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 2_000 });
  try {
    const [p1, p2, p3] = h.groups;
    // 20 runs at once (sums started together, as `Promise.all(columns.map((c) => secureSum(group, c)))`
    // does). p3 withholds from p2 alone in each; p2, honest, waits for p3 (a longer deadline, and
    // it tells the others when a run fails, as the protocols do); p1, a round ahead, waits for p2.
    // p1's deadlines pass together while p2 still waits: p1 asks p2 (and p3) about each of its 20
    // runs. A probe names its run (R21-4), so these are 20 pings in the same second — p2 answered
    // 16 a second from one party, and in the other runs p2 was silent at p1 and named.
    const runs = Array.from({ length: 20 }, () => [p1!.nextRunId('sum'), p2!.nextRunId('sum'), p3!.nextRunId('sum')][0]!);
    const behind = runs.map((run) =>
      failure(
        p2!.gather(`${run}/a`, { from: ['p3'], timeoutMs: 3_000 }).catch((e: unknown) => {
          p2!.endRun(run, e);
          throw e;
        }),
      ),
    );
    const ahead = await Promise.all(runs.map((run) => failure(p1!.gather(`${run}/b`, { from: ['p2'], timeoutMs: 1_200 }))));
    await Promise.all(behind);
    for (const e of ahead) {
      expect(e?.code).toBe(ErrorCode.TIMEOUT);
      expect(e?.peers).not.toContain('p2');
    }
  } finally {
    await h.close();
  }
});
