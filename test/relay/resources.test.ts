/**
 * The relay's resource model against exhaustion (issue 16, item 3), real relay and real parties
 * on 127.0.0.1, outsiders on their own source addresses (127.0.0.2 …): the outsiders hit their
 * caps and a real task still forms its mesh and sums; an unread writer pins at most its window;
 * unadmitted connections are capped and evicted oldest first; idle and unadmitted connections
 * end at their deadlines with their reason.
 */
import WebSocket from 'ws';
import { rosterBoundSessionId } from '../../src/identity/roster';
import { secureSum } from '../../src/protocols';
import { startRelay, type RelayOptions, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { joinAll } from './_relay';
import { admitRaw, openRaw, selfPair, type RawAdmission } from './_attack';

jest.setTimeout(60_000);

const relays: RelayServer[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(relays.splice(0).map((r) => r.close()));
});
async function relay(opts: RelayOptions): Promise<{ r: RelayServer; url: string }> {
  const r = await startRelay(opts);
  relays.push(r);
  return { r, url: `ws://127.0.0.1:${r.port}` };
}
const keep = (xs: RawAdmission[]): RawAdmission[] => {
  for (const x of xs) sockets.push(x.ws);
  return xs;
};
const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((res) => setTimeout(res, 10));
};

async function realSum(p: TestParties, url: string): Promise<number[]> {
  const groups = await joinAll(p, () => ({ transport: 'relay', relayUrl: url }), 15_000);
  try {
    return (await Promise.all(groups.map((g, i) => secureSum(g, i + 1)))).map((o) => o.sum as number);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}

const bound = (p: TestParties): TestParties => ({ ...p, sessionId: rosterBoundSessionId(p.roster, 'real-task') });

/**
 * The default limits scaled down 4–8× (so that a test opens tens of connections, not hundreds; the
 * benchmark `relay-attacks` runs the attacks at the defaults).
 */
const SMALL = { maxSessions: 16, maxSessionsPerSource: 4, maxSessionsPerDigest: 4, maxConnections: 32, maxConnectionsPerSource: 16, maxPending: 8, maxPendingPerSource: 4 } as const;

describe('exhaustion by outsiders and by one member', () => {
  test('(a) roster-bound: 4 sources × 8 self-paired idle sessions do not keep a real task out, during formation or the sum', async () => {
    const { r, url } = await relay({ rosters: [], rosterBoundSessions: true, ...SMALL });
    const fill = async (): Promise<string[]> => {
      const answers: string[] = [];
      for (let src = 2; src <= 5; src++) {
        for (let i = 0; i < 8; i++) for (const x of keep(await selfPair(url, `127.0.0.${src}`))) answers.push(x.answer.reason ?? x.answer.t);
      }
      return answers;
    };
    const answers = await fill();
    expect(answers).toContain('source-limit');
    expect(r.stats().sessions).toBe(r.stats().connections / 2);
    // fails before this change: the real parties are refused `relay-full` until their deadline.
    const real = bound(makeParties(3));
    const groups = await joinAll(real, () => ({ transport: 'relay', relayUrl: url }), 15_000);
    try {
      // The outsiders try again while the task runs: they take the room the eviction left and
      // displace each other (fair share), nobody of the real task.
      const again = await fill();
      expect(again).toContain('source-limit');
      expect(r.stats().connections).toBe(SMALL.maxConnections);
      const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
      expect(out.map((o) => o.sum)).toEqual([6, 6, 6]);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
    expect(r.stats().refused.evicted).toBeGreaterThan(0);
  });

  test('(b) static rosters: one member from one address opens at most its share of sessions; another task sums', async () => {
    const member = makeParties(2, 'm');
    const real = makeParties(3);
    const { r, url } = await relay({ rosters: [member.roster, real.roster], ...SMALL });
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) {
      const x = keep([await admitRaw(url, `squat-${i}`, member.identities.get('m1')!, 'm2', '127.0.0.2')])[0]!;
      answers.push(x.answer.reason ?? x.answer.t);
      if (x.answer.t !== 'admitted') break;
    }
    // fails before this change: all 16 of the table's sessions are the member's.
    expect(answers.filter((a) => a === 'admitted').length).toBe(4);
    expect(answers.at(-1)).toBe('source-limit');
    expect(r.stats().sessions).toBe(4);
    expect(await realSum(real, url)).toEqual([6, 6, 6]);
  });

  test('(c) unadmitted WebSockets: per source at most maxPendingPerSource, the oldest evicted (busy); a real task sums meanwhile', async () => {
    const { r, url } = await relay({ rosters: [makeParties(2).roster], ...SMALL });
    const closed: string[] = [];
    for (let i = 0; i < 24; i++) {
      const ws = await openRaw(url, '127.0.0.2');
      sockets.push(ws);
      ws.on('error', () => undefined);
      ws.on('close', (_c, reason) => closed.push(reason.toString()));
    }
    // fails before this change: all 24 are held until the admission deadline.
    await until(() => closed.length >= 20);
    expect(r.stats().pending).toBeLessThanOrEqual(4);
    expect(new Set(closed)).toEqual(new Set(['busy']));
    const real = makeParties(3);
    const { r: r2, url: url2 } = await relay({ rosters: [real.roster], ...SMALL });
    // From 4 other sources, 8 global: every newcomer evicts the oldest; real parties still get in.
    for (let src = 2; src <= 5; src++) for (let i = 0; i < 4; i++) sockets.push(await openRaw(url2, `127.0.0.${src}`).then((ws) => ws.on('error', () => undefined)));
    expect(r2.stats().pending).toBeLessThanOrEqual(8);
    expect(await realSum(real, url2)).toEqual([6, 6, 6]);
  });

  test('(d) a self-paired writer whose partner never reads: the relay holds at most the window, and stops reading the writer', async () => {
    const { r, url } = await relay({ rosters: [], rosterBoundSessions: true });
    const [a, b] = keep(await selfPair(url, '127.0.0.2'));
    expect([a!.answer.t, b!.answer.t]).toEqual(['admitted', 'admitted']);
    await until(() => r.stats().pairs === 1);
    b!.ws.pause(); // b never reads: its socket's receive buffer fills, then the relay's send to it stalls
    const chunk = Buffer.alloc(200 * 1024, 7);
    let maxQueued = 0;
    for (let i = 0; i < 400; i++) {
      a!.ws.send(chunk);
      maxQueued = Math.max(maxQueued, r.stats().queuedBytes);
      if (i % 10 === 9) await new Promise((res) => setTimeout(res, 5));
    }
    // Wait until the relay stopped taking bytes from a (its forwarded count no longer grows).
    let last = -1;
    while (r.stats().bytesForwarded !== last) {
      last = r.stats().bytesForwarded;
      maxQueued = Math.max(maxQueued, r.stats().queuedBytes);
      await new Promise((res) => setTimeout(res, 200));
    }
    // fails before this change: up to 8 MiB (highWaterBytes) plus a message queued per writer.
    expect(maxQueued).toBeLessThanOrEqual(272 * 1024);
    expect(r.stats().bytesForwarded).toBeLessThan(400 * chunk.length);
    expect(a!.ws.bufferedAmount).toBeGreaterThan(0); // the rest waits at the writer, not in the relay
  });
});

describe('deadlines', () => {
  test('a connection that sends no admission request ends with admission-timeout', async () => {
    const { url } = await relay({ rosters: [makeParties(2).roster], admissionTimeoutMs: 200 });
    const ws = await openRaw(url, '127.0.0.2');
    sockets.push(ws);
    const reason = await new Promise<string>((res) => ws.on('close', (_c, why) => res(why.toString())));
    expect(reason).toBe('admission-timeout');
  });

  test('a paired session that carries no traffic ends with idle-timeout; the session-end event names it, with its bytes', async () => {
    const events: unknown[] = [];
    const { r, url } = await relay({ rosters: [], rosterBoundSessions: true, idleTimeoutMs: 300, onEvent: (e) => events.push(e) });
    const [a, b] = keep(await selfPair(url, '127.0.0.2'));
    const reasons = Promise.all([a!, b!].map((x) => new Promise<string>((res) => x.ws.on('close', (_c, why) => res(why.toString())))));
    // fails before this change: the pair is held forever.
    expect(await reasons).toEqual(['idle-timeout', 'idle-timeout']);
    expect(r.stats().sessions).toBe(0);
    expect(events).toContainEqual(expect.objectContaining({ type: 'session-end', reason: 'idle-timeout', bytes: 0, sources: ['127.0.0.2'] }));
  });
});

describe('bytes per session', () => {
  test('past maxBytesPerSession both sides of the pair are cut with bytes-limit, and the session ends', async () => {
    const events: unknown[] = [];
    const { r, url } = await relay({ rosters: [], rosterBoundSessions: true, maxBytesPerSession: 100_000, onEvent: (e) => events.push(e) });
    const [a, b] = keep(await selfPair(url, '127.0.0.2'));
    await until(() => a!.texts.includes(JSON.stringify({ t: 'paired' })));
    const reasons = Promise.all([a!, b!].map((x) => new Promise<string>((res) => x.ws.on('close', (_c, why) => res(why.toString())))));
    for (let i = 0; i < 3; i++) a!.ws.send(Buffer.alloc(40_000));
    // fails before this change: the writer's partner was closed without a reason (1001).
    expect(await reasons).toEqual(['bytes-limit', 'bytes-limit']);
    expect(r.stats().sessions).toBe(0);
    expect(events).toContainEqual(expect.objectContaining({ type: 'session-end', reason: 'bytes-limit' }));
  });
});
