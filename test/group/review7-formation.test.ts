/**
 * review7: blame during formation. A party's formation notice blaming a party that the receiver has
 * not reached yet is confirmed once half the receiver's join deadline has passed ("no channel by
 * then counts as failed here too", formation-blame.test.ts case 4). A party that gives up early —
 * a malicious one with a short join deadline of its own choosing, or an honest one that simply
 * started earlier — therefore gets an honest party that starts late (but within the others'
 * deadline) named. In-process parties, real channels on 127.0.0.1.
 */
import type { Discovery, PeerAddress } from '../../src/discovery/types';
import { CouplerError, ErrorCode } from '../../src/errors';
import { joinGroup, type Group } from '../../src/group/group';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(60_000);

function book(): { ports: Map<string, number>; discoveryFor(id: string): Discovery } {
  const ports = new Map<string, number>();
  return {
    ports,
    discoveryFor: (id) => ({
      kind: 'test',
      discover: (): Promise<PeerAddress[]> =>
        Promise.resolve([...ports].filter(([p]) => p !== id).map(([p, port]) => ({ host: '127.0.0.1', port, source: 'test', partyHint: p }))),
    }),
  };
}

function join(parties: TestParties, id: string, b: ReturnType<typeof book>, timeoutMs: number): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    discovery: b.discoveryFor(id),
    listen: { host: '127.0.0.1', port: 0 },
    timeoutMs,
    roundTimeoutMs: 5_000,
    discoveryIntervalMs: 20,
    dialBackoff: { initialMs: 20, maxMs: 200 },
    onEvent: (e) => {
      if (e.type === 'listening') b.ports.set(id, e.port);
    },
  });
}

const outcome = (p: Promise<Group>): Promise<CouplerError | Group> => p.then((g) => g, (e: unknown) => e as CouplerError);

// NOT FIXED (design trade-off, README "What is not protected"): waiting for the whole join
// deadline instead of half would have each receiver's own TIMEOUT name the lingering party that
// told it (test/group/formation-blame.test.ts case 3). Kept skipped: it fails on this code (p1 and
// p2 name p4, PEER_ABORTED peers ['p4']).
it.skip('A3: a party giving up early (short deadline) gets a late-starting honest party named by the others', async () => {
  const parties = makeParties(4);
  const b = book();
  // p3 joins with a 1.5 s deadline; p1 and p2 with 8 s; p4 starts after 4.5 s (past half of 8 s).
  const j1 = outcome(join(parties, 'p1', b, 8_000));
  const j2 = outcome(join(parties, 'p2', b, 8_000));
  const j3 = outcome(join(parties, 'p3', b, 1_500));
  await new Promise((r) => setTimeout(r, 4_500));
  const j4 = outcome(join(parties, 'p4', b, 8_000));
  const [r1, r2, r3, r4] = await Promise.all([j1, j2, j3, j4]);
  for (const r of [r1, r2, r3, r4]) if (!(r instanceof CouplerError)) await r.close();
  expect(r3).toBeInstanceOf(CouplerError);
  expect((r3 as CouplerError).code).toBe(ErrorCode.TIMEOUT);
  for (const r of [r1, r2]) {
    expect(r).toBeInstanceOf(CouplerError);
    expect((r as CouplerError).peers).not.toContain('p4');
  }
});
