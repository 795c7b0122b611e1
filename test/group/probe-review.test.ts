/**
 * Adversarial review of "probe before naming" (a party whose round deadline passes asks the parties
 * it waited for, and whom they wait for in turn, whether they are alive, and names the silent ones).
 * Real channels on 127.0.0.1; p1, p2, p3 run in this process, p4 is a separate process that is
 * frozen (SIGSTOP: channels open, answers nothing) for as long as a test needs it silent or slow.
 * A malicious p2 is played by rewriting the liveness-probe answers its own channels send.
 */
import { createTestGroups, makeParties } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { staticDiscovery } from '../../src/discovery/static';
import { SecureChannel } from '../../src/channel/channel';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import { ABORT_ROUND, PONG_ROUND, encodeProbe } from '../../src/group/inbound';
import { withLoopbackP4 } from '../support/loopback-fourth';
import { freePort } from '../netns/loopback';
import type { NsProcess } from '../netns/testbed';

/** p1, p2, p3 in this process; p4 a separate process (`body` freezes and thaws it). */
const withP4 = (body: (groups: Group[], p4: NsProcess) => Promise<void>): Promise<void> => withLoopbackP4(body);

const outcome = (e: CouplerError | undefined): { code?: string; peers?: readonly string[] } => ({ code: e?.code, peers: e?.peers });
const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterEach(() => jest.restoreAllMocks());

test('a party that timed out in a receive and is still probing says it waits for the silent party: the party ahead names p4, not it', async () => {
  await withP4(async ([p1, p2], p4) => {
    process.kill(p4.pid!, 'SIGSTOP');
    // p2 waits for p4 alone (receive, as the echo broadcast does); its deadline passes first and it
    // spends half of it probing p4. p1, a round ahead, waits for p2 and reaches its deadline while
    // p2 is still probing: p2's answer must still say it waits for p4 (before: [], so p1 named p2).
    const behind = failure(p2!.receive('p4', 'sum.1/a', { timeoutMs: 2_000 }));
    const ahead = await failure(p1!.gather('sum.1/b', { from: ['p2'], timeoutMs: 2_400 }));
    expect(outcome(ahead)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
    expect(outcome(await behind)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p4'] });
  });
}, 90_000);

test('a withholding party that answers its probe just before the window ends, claiming to wait for a live party: that party gets its whole window and is not named as silent (both suspects, nobody named)', async () => {
  await withP4(async ([p1], p4) => {
    // Malicious p2: withholds its round message, and answers p1's liveness probe 1.7 s late (inside
    // p1's 2 s window) saying it waits for p4. p4 is honest and alive; it has a hiccup (frozen for
    // 1 s) around the end of p1's window. Before: p4 was only asked once p2 answered, for what was
    // left of the window (0.3 s), and was named instead of p2.
    const send = SecureChannel.prototype.send;
    jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
      if (this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
      const m = decodeMessage(message, message.length) as { r?: PlainData; p?: { n?: Uint8Array } };
      if (m.r !== PONG_ROUND) return send.call(this, message);
      const forged = encodeProbe('pong', m.p!.n!, ['p4']);
      setTimeout(() => void send.call(this, forged).catch(() => undefined), 1_700);
      return Promise.resolve();
    });
    const ahead = failure(p1!.gather('sum.1/b', { from: ['p2'], timeoutMs: 4_000 }));
    await sleep(5_400);
    process.kill(p4.pid!, 'SIGSTOP');
    await sleep(1_000);
    process.kill(p4.pid!, 'SIGCONT');
    const e = await ahead;
    // p4 answered within its window, so it is not silent; and p2's claim that it waits for p4 may be
    // true (p4 withholding from p2 alone) — nothing at p1 tells, so neither is named.
    expect(outcome(e)).toEqual({ code: ErrorCode.TIMEOUT, peers: [] });
    expect(e!.suspects).toEqual(['p2', 'p4']);
  });
}, 90_000);

test('a deadline whose probes coincide with a shorter probe in flight (another round) still gives each party its whole window', async () => {
  await withP4(async ([p1], p4) => {
    // Malicious p2 withholds in two runs and says it waits for p4. p1's round B (4 s deadline, 2 s
    // window) times out while round A's trace (1 s deadline, 0.5 s window, started 0.2 s earlier)
    // is asking p4; p4 has a hiccup (frozen 1.1 s) across A's window but answers within B's. Before:
    // B took A's unanswered probe of p4 as its own and named p4 instead of p2.
    const send = SecureChannel.prototype.send;
    jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
      if (this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
      const m = decodeMessage(message, message.length) as { r?: PlainData; p?: { n?: Uint8Array } };
      return send.call(this, m.r === PONG_ROUND ? encodeProbe('pong', m.p!.n!, ['p4']) : message);
    });
    const b = failure(p1!.gather('sum.1/b', { from: ['p2'], timeoutMs: 4_000 }));
    await sleep(2_800);
    const a = failure(p1!.gather('sum.2/a', { from: ['p2'], timeoutMs: 1_000 }));
    await sleep(900);
    process.kill(p4.pid!, 'SIGSTOP');
    await sleep(1_100);
    process.kill(p4.pid!, 'SIGCONT');
    expect((await a)?.code).toBe(ErrorCode.TIMEOUT);
    // p4 had its whole window in B and answered: not named as silent; p2's claim is undecidable.
    const eb = await b;
    expect(outcome(eb)).toEqual({ code: ErrorCode.TIMEOUT, peers: [] });
    expect(eb!.suspects).toEqual(['p2', 'p4']);
  });
}, 90_000);

test('in a view without a crashed party, a withholding party that claims to wait for it is named, not the party outside the run', async () => {
  await withP4(async ([p1, p2, p3], p4) => {
    // p4 is gone (frozen: silent here); the retry runs without it. Malicious p2 withholds in the
    // retry and says it waits for p4 — a party that is not in this run. Before: p1 named p4 (again),
    // and p2 could stall every retry without ever being named.
    process.kill(p4.pid!, 'SIGSTOP');
    const send = SecureChannel.prototype.send;
    jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
      if (this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
      const m = decodeMessage(message, message.length) as { r?: PlainData; p?: { n?: Uint8Array } };
      return send.call(this, m.r === PONG_ROUND ? encodeProbe('pong', m.p!.n!, ['p4']) : message);
    });
    const [v1, , v3] = [p1!, p2!, p3!].map((g) => g.without(['p4']));
    await v3!.send('p1', 'sum.w.1/a', 3);
    await v3!.send('p1', 'sum.w.1/c', 3);
    const e = await failure(v1!.gather('sum.w.1/a', { timeoutMs: 1_000 }));
    expect(outcome(e)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p2'] });
    // The same through the view's receive and gatherSome.
    expect(outcome(await failure(v1!.receive('p2', 'sum.w.1/b', { timeoutMs: 1_000 })))).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p2'] });
    const some = await failure(v1!.gatherSome('sum.w.1/c', 2, { timeoutMs: 1_000 }));
    expect(outcome(some)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p2'] });
  });
}, 90_000);

test('a receive whose deadline passed ends with AbortedError when its signal aborts while it probes, as a gather does', async () => {
  await withP4(async ([p1], p4) => {
    process.kill(p4.pid!, 'SIGSTOP');
    // p4 is silent: past the 2 s deadline p1 probes it for up to 1 s. The caller aborts 0.1 s into
    // that window. Before: receive ignored its signal there and ended with the TimeoutError.
    const ac = new AbortController();
    const r = failure(p1!.receive('p4', 'sum.1/a', { timeoutMs: 2_000, signal: ac.signal }));
    const g = failure(p1!.gather('sum.1/b', { from: ['p4'], timeoutMs: 2_000, signal: ac.signal }));
    await sleep(2_100);
    ac.abort();
    expect((await g)?.code).toBe(ErrorCode.ABORTED);
    expect((await r)?.code).toBe(ErrorCode.ABORTED);
  });
}, 90_000);

test('a forming party told the same abort notice again and again acts on it once (each started a loop polling until half its join deadline)', async () => {
  // p1 and p2 form, p3 never starts. p2 gives up first (its join deadline is short, blaming p3) and
  // its notice to p1 is repeated 2000 times, as a hostile p2 could. Before: p1 started a polling
  // loop (every 100 ms until half its join deadline) and reported a peer-lost event per copy.
  const parties = makeParties(3);
  const ports: Record<string, number> = { p1: await freePort(), p2: await freePort() };
  const send = SecureChannel.prototype.send;
  jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
    if (this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
    const m = decodeMessage(message, message.length) as { r?: PlainData };
    if (m.r !== ABORT_ROUND) return send.call(this, message);
    return Promise.all(Array.from({ length: 2_000 }, () => send.call(this, message))).then(() => undefined);
  });
  const events: GroupEvent[] = [];
  const stop = new AbortController(); // ends the parties' lingering after they gave up
  const join = (id: string, timeoutMs: number): Promise<CouplerError> =>
    joinGroup({
      signal: stop.signal,
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: staticDiscovery(Object.entries(ports).filter(([p]) => p !== id).map(([, port]) => `127.0.0.1:${port}`)),
      listen: { host: '127.0.0.1', port: ports[id]! },
      timeoutMs,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      ...(id === 'p1' ? { onEvent: (e: GroupEvent) => void events.push(e) } : {}),
    }).then(
      async (g) => {
        await g.close();
        throw new Error(`${id} joined`);
      },
      (e: unknown) => e as CouplerError,
    );
  const [e1, e2] = await Promise.all([join('p1', 6_000), join('p2', 1_500)]);
  expect(outcome(e2)).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
  expect(outcome(e1)).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p3'] });
  stop.abort();
  expect(events.filter((e) => e.type === 'peer-lost' && e.peer === 'p2' && e.code === ErrorCode.PEER_ABORTED).length).toBe(1);
}, 60_000);

test.each([
  ['a duplicate', ['p3', 'p3']],
  ['a party outside the roster', ['mallory']],
  ['more entries than the roster has', Array.from({ length: 1_000 }, (_, i) => `p${i}`)],
  ['a non-string entry', [7]],
] as const)('a probe answer whose wait list holds %s is a typed violation naming its sender, never a lead to another party', async (_what, w) => {
  const h = await createTestGroups(3);
  try {
    const [p1] = h.groups;
    const send = SecureChannel.prototype.send;
    jest.spyOn(SecureChannel.prototype, 'send').mockImplementation(function (this: SecureChannel, message: Uint8Array): Promise<void> {
      if (this.localId !== 'p2' || this.peerId !== 'p1') return send.call(this, message);
      const m = decodeMessage(message, message.length) as { r?: PlainData; p?: { n?: Uint8Array } };
      return send.call(this, m.r === PONG_ROUND ? encodeMessage({ r: PONG_ROUND, p: { n: m.p!.n!, w: [...w] } }) : message);
    });
    // p2 withholds and answers p1's probe with a hostile list: p1 drops p2 and names it.
    const e = await failure(p1!.gather('sum.1/a', { from: ['p2'], timeoutMs: 500 }));
    // (FRAME_MALFORMED for a list of the wrong shape, PROTOCOL_VIOLATION for ids that are not a roster set.)
    expect([ErrorCode.PROTOCOL_VIOLATION, ErrorCode.FRAME_MALFORMED]).toContain(e?.code);
    expect(e?.peer).toBe('p2');
  } finally {
    await h.close();
  }
}, 40_000);
