/**
 * A send to a peer that left with a notice waits for the notice's verdict (the blamed party is
 * asked; d36ef10 made the batch flush do the same). That wait took half of the GROUP's round
 * deadline, whatever the run asked for, and the caller's signal did not end it: a run with a 1 s
 * round deadline, aborted by its caller after 300 ms, hung for half the group's default deadline
 * (up to 30 s at the default 60 s) when the notice blamed a party that stays connected but does
 * not answer (frozen, or a colluder ignoring probes). In-process parties, real channels; p3 is
 * frozen towards p1 behind a userspace TCP forwarder.
 */
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { CouplerError, ErrorCode, GroupError } from '../../src/errors';
import type { PeerAddress } from '../../src/discovery/types';
import { secureSum } from '../../src/protocols';
import { forwarder } from '../support/forwarder';
import { makeParties } from '../support/group-harness';

async function setup(): Promise<{ g1: Group; g2: Group; g3: Group; via: Awaited<ReturnType<typeof forwarder>> }> {
  const parties = makeParties(3);
  const ports = new Map<string, number>();
  const at = (party: string, port: number): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  let via: Awaited<ReturnType<typeof forwarder>> | undefined;
  const sees: Record<string, () => PeerAddress[]> = {
    p1: () => (via === undefined ? [] : [at('p3', via.port)]),
    p2: () => ['p1', 'p3'].filter((p) => ports.has(p)).map((p) => at(p, ports.get(p)!)),
    p3: () => [],
  };
  const join = (id: string): Promise<Group> =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover: () => Promise.resolve(sees[id]!()) },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 30_000,
      roundTimeoutMs: 12_000, // the group's default deadline: its half (6 s) was the wait
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (e: GroupEvent) => {
        if (e.type === 'listening') ports.set(id, e.port);
      },
    });
  const j3 = join('p3');
  while (!ports.has('p3')) await new Promise((r) => setTimeout(r, 5));
  via = await forwarder(ports.get('p3')!);
  const [g1, g3, g2] = (await Promise.all([join('p1'), j3, join('p2')])) as [Group, Group, Group];
  via.freeze(); // p3 no longer answers p1 (nor hears it)
  // p2 leaves blaming p3; p1 files its notice.
  await g2.abort(new GroupError(ErrorCode.PEER_LOST, 'lost peer "p3"', { peer: 'p3' }));
  while (!g1.lostPeers.includes('p2')) await new Promise((r) => setTimeout(r, 5));
  return { g1, g2, g3, via };
}

test('the caller\'s signal ends a run whose first send waits for a notice\'s verdict', async () => {
  const { g1, g2, g3, via } = await setup();
  try {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const started = Date.now();
    const e = (await secureSum(g1, 1, { roundTimeoutMs: 1_000, signal: stop.signal }).then(
      () => undefined,
      (err: unknown) => err,
    )) as CouplerError;
    const elapsed = Date.now() - started;
    expect(e).toBeInstanceOf(CouplerError);
    expect(e.code).toBe(ErrorCode.ABORTED);
    // Before: about 6 000 ms (half the group's deadline), the signal ignored.
    expect(elapsed).toBeLessThan(2_000);
  } finally {
    await via.close();
    await Promise.all([g1, g2, g3].map((g) => g.close()));
  }
}, 30_000);

test('a run\'s own round deadline bounds that wait, and the verdict still names the party that does not answer', async () => {
  const { g1, g2, g3, via } = await setup();
  try {
    const started = Date.now();
    const e = (await secureSum(g1, 1, { roundTimeoutMs: 1_000 }).then(
      () => undefined,
      (err: unknown) => err,
    )) as CouplerError;
    const elapsed = Date.now() - started;
    expect({ code: e.code, peer: e.peer, peers: e.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p2', peers: ['p3'] });
    // Before: about 6 000 ms (half the group's deadline, not the run's).
    expect(elapsed).toBeLessThan(2_000);
  } finally {
    await via.close();
    await Promise.all([g1, g2, g3].map((g) => g.close()));
  }
}, 30_000);

test('the signal of a receive ends its wait for the verdict on the peer\'s notice too', async () => {
  const { g1, g2, g3, via } = await setup();
  try {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const started = Date.now();
    const e = (await g1.receive('p2', 'x.1/r', { timeoutMs: 8_000, signal: stop.signal }).then(
      () => undefined,
      (err: unknown) => err,
    )) as CouplerError;
    expect(e.code).toBe(ErrorCode.ABORTED);
    // Before: about 4 000 ms (half the receive's deadline), the signal ignored.
    expect(Date.now() - started).toBeLessThan(2_000);
  } finally {
    await via.close();
    await Promise.all([g1, g2, g3].map((g) => g.close()));
  }
}, 30_000);
