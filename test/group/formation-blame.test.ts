/**
 * Blame while the mesh forms. Found by the blame trial (bench/trial, faults during formation):
 *
 * 1. A forming party that gives up because a peer's notice blamed parties it could not confirm
 *    told its own peers it stopped with nobody to blame, which reads as "my own doing": they named
 *    it, an honest party. Its notice now blames the party whose notice stopped it (as a run's
 *    notice does), which the others judge in turn.
 * 2. A forming party forgot a channel lost while forming (so the pair could connect again), and
 *    with it that it had seen the party fail: told a moment later that this party failed, it
 *    named nobody. A loss seen here counts until the party is connected again.
 *
 * 3. A party that gave up forming because a peer stopped left at once, while other parties were
 *    still starting: they never reached it, and at their deadline named it (trial run 61: p02
 *    stopped 100 ms after p00 connected to it; p00 left; p03 timed out naming p00 and p02). It now
 *    stays reachable until its own join deadline and tells each party that connects why it left.
 *
 * 4. A forming party told early (before half its join deadline) that a party it has not reached yet
 *    failed named nobody: "no channel here" counts as failed only from half the join deadline. It
 *    now waits until then (or until it reaches that party, and asks it) before judging.
 *
 * 5. A notice that came with the channel completing a forming party's mesh was never judged: the
 *    mesh counted as complete, the group's first step failed on the sender's mailbox (failed with
 *    the notice unjudged) and the party named nobody (trial: p01 killed right after its last
 *    handshakes; p04 completed its mesh with p00's channel, which brought p00's notice blaming
 *    p01). A forming mesh now does not complete while a notice is being judged; the verdict ends it.
 *
 * In-process parties (and, for 2, one party as a real process that is killed; for 5, a userspace
 * TCP forwarder that freezes one path), real channels on 127.0.0.1.
 */
import type { Discovery, PeerAddress } from '../../src/discovery/types';
import { CouplerError, ErrorCode } from '../../src/errors';
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { forwarder } from '../support/forwarder';
import { makeParties, type TestParties } from '../support/group-harness';
import { freePort, startLoopbackParty } from '../netns/loopback';
import { startRelay } from '../../src/relay/server';
const until = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Where each party listens; each party is shown only the parties in `sees`. */
function book(sees: Record<string, readonly string[]>): { ports: Map<string, number>; discoveryFor(id: string): Discovery } {
  const ports = new Map<string, number>();
  return {
    ports,
    discoveryFor: (id) => ({
      kind: 'test',
      discover: (): Promise<PeerAddress[]> =>
        Promise.resolve((sees[id] ?? []).filter((p) => ports.has(p)).map((p) => ({ host: '127.0.0.1', port: ports.get(p)!, source: 'test', partyHint: p }))),
    }),
  };
}

function join(parties: TestParties, id: string, b: ReturnType<typeof book>, timeoutMs: number, events: GroupEvent[] = [], port = 0, signal?: AbortSignal): Promise<Group> {
  return joinGroup({
    ...(signal === undefined ? {} : { signal }),
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    discovery: b.discoveryFor(id),
    listen: { host: '127.0.0.1', port },
    timeoutMs,
    roundTimeoutMs: 5_000,
    discoveryIntervalMs: 20,
    dialBackoff: { initialMs: 20, maxMs: 200 },
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'listening') b.ports.set(id, e.port);
    },
  });
}

const failure = (p: Promise<Group>): Promise<CouplerError> =>
  p.then(
    async (g) => {
      await g.close();
      throw new Error(`joined, expected a failure: ${g.localId}`);
    },
    (e: unknown) => e as CouplerError,
  );

test('p1 gives up forming blaming p3 and p4; p2 cannot confirm (p3 answers it) and gives up too; p3 must not name p2', async () => {
  // p1-p2 and p2-p3 connect; p1-p3 never do; p4 never starts. p1's deadline is short.
  const parties = makeParties(4);
  const b = book({ p1: ['p2'], p2: ['p1', 'p3'], p3: ['p2'] });
  const p2Events: GroupEvent[] = [];
  const j1 = failure(join(parties, 'p1', b, 2_000));
  const j2 = failure(join(parties, 'p2', b, 10_000, p2Events));
  const j3 = failure(join(parties, 'p3', b, 10_000));
  const e1 = await j1;
  expect({ code: e1.code, peers: e1.peers }).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3', 'p4'] });
  const e2 = await j2;
  // p2 was told by p1 (blaming p3, p4); p3 is alive here, so nobody is named.
  expect({ code: e2.code, peer: e2.peer, peers: e2.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: [] });
  const e3 = await j3;
  expect(e3.code).toBe(ErrorCode.PEER_ABORTED);
  expect(e3.peer).toBe('p2');
  expect(e3.peers).not.toContain('p2');
  expect(p2Events.some((e) => e.type === 'connected' && e.peer === 'p3')).toBe(true);
}, 60_000);

test('p2 (a real process) is killed while p3 still forms; p1, whose mesh was complete, gives up naming p2; p3, which saw p2\'s channel die, names p2 too', async () => {
  // p1 connects to p3 and p4; p3 and p4 never connect (so p3 and p4 keep forming); p2 dials p1
  // and p3. p1 has every channel once p2 is there: it waits for the others in the epoch
  // agreement, sees p2's channel die, and gives up (telling p3 and p4, blaming p2).
  const parties = makeParties(4);
  const b = book({ p1: ['p3', 'p4'], p3: ['p1'], p4: ['p1'] });
  const [port1, port3] = [await freePort(), await freePort()];
  // p2 first (a process starts slowly on a loaded machine): it dials p1 and p3 until they listen.
  const p2 = startLoopbackParty({
    id: 'p2',
    identity: parties.identities.get('p2')!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    dial: [port1, port3],
    mode: 'auto',
    joinTimeoutMs: 60_000,
    roundTimeoutMs: 5_000,
  });
  let j1: Promise<CouplerError> | undefined;
  let j3: Promise<CouplerError> | undefined;
  let j4: Promise<CouplerError> | undefined;
  try {
    await p2.waitEvent((e) => e.event === 'group' && e.type === 'dial-failed', 30_000);
    const p1Events: GroupEvent[] = [];
    j1 = failure(join(parties, 'p1', b, 60_000, p1Events, port1));
    // Long deadlines: a party with no channel counts as failed once half of it passed, which
    // would hide the loss p3 forgot.
    j3 = failure(join(parties, 'p3', b, 120_000, [], port3));
    // p4 (never reaches p2) judges p1's notice at half its own deadline: keep it short.
    j4 = failure(join(parties, 'p4', b, 10_000));
    await p2.waitEvent((e) => e.event === 'group' && e.type === 'connected' && e.connected === 2, 30_000);
    await until(() => p1Events.filter((e) => e.type === 'connected').length === 3, 30_000);
    p2.kill('SIGKILL');
    const e1 = await j1;
    expect({ code: e1.code, peers: e1.peers }).toEqual({ code: ErrorCode.PEER_LOST, peers: ['p2'] });
    // p1's notice (blaming p2) reaches p3 while p3 still forms, after p3 saw p2's channel die.
    const e3 = await j3;
    expect({ code: e3.code, peer: e3.peer, peers: e3.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: ['p2'] });
  } finally {
    p2.kill('SIGKILL');
    await Promise.all([j1, j3, j4]);
  }
}, 90_000);

test('p2 stops while p1 is the only one it met; p1 gives up but stays reachable, so p3 and p4, starting later, learn why instead of naming p1', async () => {
  const parties = makeParties(4);
  const all = { p1: ['p2', 'p3', 'p4'], p2: ['p1', 'p3', 'p4'], p3: ['p1', 'p2', 'p4'], p4: ['p1', 'p2', 'p3'] };
  const b = book(all);
  const stop2 = new AbortController();
  const p1Events: GroupEvent[] = [];
  const p2Events: GroupEvent[] = [];
  const j1 = failure(join(parties, 'p1', b, 30_000, p1Events));
  const j2 = failure(join(parties, 'p2', b, 30_000, p2Events, 0, stop2.signal));
  await until(() => p2Events.some((e) => e.type === 'connected' && e.peer === 'p1'), 20_000);
  stop2.abort();
  const e1 = await j1;
  expect({ code: e1.code, peers: e1.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p2'] });
  await j2;
  // p3 and p4 start only now, with a short deadline (before: both timed out naming p1 and p2).
  const [e3, e4] = await Promise.all([failure(join(parties, 'p3', b, 4_000)), failure(join(parties, 'p4', b, 4_000))]);
  for (const e of [e3, e4]) {
    expect(e.peers).not.toContain('p1');
    expect(e.peers).not.toContain('p3');
    expect(e.peers).not.toContain('p4');
  }
  // They learnt it from p1 (or from each other, once one of them heard it from p1), and name p2:
  // it has no channel to them at half their join deadline, which they wait for (before: told
  // early, they judged at once and named nobody — the trial's "nobody" verdicts in formation).
  for (const e of [e3, e4]) expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p2'] });
  const told = p1Events.filter((e) => e.type === 'told').map((e) => (e as { peer: string }).peer);
  expect(told.length).toBeGreaterThan(0);
  expect(told.every((p) => p === 'p3' || p === 'p4')).toBe(true);
}, 60_000);

test('the same through the relay: the lingering party\'s notice opens a fresh relayed link (resume first), so p3 and p4 read it instead of naming p1', async () => {
  // Before (the trial's run 16, term/relay): the notice went out bare, the peer dropped it
  // (a relayed link's first message must be its resume) and named p1 "closed its channel".
  const parties = makeParties(4);
  const relay = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  const viaRelay = (id: string, timeoutMs: number, events: GroupEvent[] = [], signal?: AbortSignal): Promise<Group> =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      localId: id,
      transport: 'relay',
      relayUrl,
      timeoutMs,
      roundTimeoutMs: 5_000,
      ...(signal === undefined ? {} : { signal }),
      onEvent: (e) => events.push(e),
    });
  const stop1 = new AbortController();
  try {
    const stop2 = new AbortController();
    const p1Events: GroupEvent[] = [];
    const p2Events: GroupEvent[] = [];
    const j1 = failure(viaRelay('p1', 30_000, p1Events, stop1.signal));
    const j2 = failure(viaRelay('p2', 30_000, p2Events, stop2.signal));
    await until(() => p2Events.some((e) => e.type === 'connected' && e.peer === 'p1'), 20_000);
    stop2.abort();
    const e1 = await j1;
    expect({ code: e1.code, peers: e1.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p2'] });
    await j2;
    const [e3, e4] = await Promise.all([failure(viaRelay('p3', 4_000)), failure(viaRelay('p4', 4_000))]);
    for (const e of [e3, e4]) {
      expect(e.code).toBe(ErrorCode.PEER_ABORTED);
      expect(e.peers).not.toContain('p1');
      expect(e.peers).not.toContain('p3');
      expect(e.peers).not.toContain('p4');
    }
    expect(p1Events.some((e) => e.type === 'told')).toBe(true);
  } finally {
    stop1.abort(); // ends p1's linger
    await relay.close();
  }
}, 60_000);

test('a notice that comes with the channel completing the mesh is judged, not reported unjudged: p2 names the frozen p3 (the trial\'s "nobody" in formation)', async () => {
  // p3 reaches p1 directly and p2 through a forwarder; p1 and p2 do not see each other yet. The
  // forwarder freezes and p3 stops: p1 gets p3's notice and gives up naming p3 (and lingers); p2
  // hears nothing. Then p2 finds p1: the channel to p1 completes p2's mesh and p1's notice
  // (blaming p3) comes with it. Before, p2 counted its mesh complete, the group's first step
  // failed on p1's mailbox, and p2 reported the notice unjudged: nobody named. Now the notice is
  // judged: p3 is asked and does not answer.
  const parties = makeParties(3);
  const ports = new Map<string, number>();
  const listening = (id: string, events: GroupEvent[]) => (e: GroupEvent) => {
    events.push(e);
    if (e.type === 'listening') ports.set(id, e.port);
  };
  const p1Events: GroupEvent[] = [];
  const p2Events: GroupEvent[] = [];
  const p3Events: GroupEvent[] = [];
  const joinWith = (id: string, discover: () => PeerAddress[], events: GroupEvent[], signal?: AbortSignal): Promise<Group> =>
    joinGroup({
      ...(signal === undefined ? {} : { signal }),
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover: () => Promise.resolve(discover()) },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 60_000,
      roundTimeoutMs: 5_000,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: listening(id, events),
    });
  const stop1 = new AbortController();
  const stop3 = new AbortController();
  const j3 = failure(joinWith('p3', () => [], p3Events, stop3.signal));
  await until(() => ports.has('p3'), 10_000);
  const via = await forwarder(ports.get('p3')!);
  const at = (port: number, party: string): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  let p2SeesP1 = false;
  const j1 = failure(joinWith('p1', () => [at(ports.get('p3')!, 'p3')], p1Events, stop1.signal));
  const j2 = failure(joinWith('p2', () => [at(via.port, 'p3'), ...(p2SeesP1 && ports.has('p1') ? [at(ports.get('p1')!, 'p1')] : [])], p2Events));
  try {
    await until(() => [p1Events, p2Events].every((ev) => ev.some((e) => e.type === 'connected' && e.peer === 'p3')), 20_000);
    via.freeze();
    stop3.abort();
    const e1 = await j1;
    expect({ code: e1.code, peers: e1.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p3'] });
    p2SeesP1 = true;
    const e2 = await j2;
    expect(p2Events.some((e) => e.type === 'connected' && e.peer === 'p1')).toBe(true);
    expect({ code: e2.code, peer: e2.peer, peers: e2.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: ['p3'] });
  } finally {
    stop1.abort();
    stop3.abort();
    await via.close();
    await Promise.all([j1, j2, j3]);
  }
}, 90_000);
