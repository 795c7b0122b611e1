/**
 * Mailbox bounds over real channels (in this process): a roster party that uses the channel
 * directly to send two messages for one round, or more undelivered rounds than the cap, is dropped
 * with PROTOCOL_VIOLATION naming it, while the honest parties carry on among themselves. (The
 * rogue joins like any party — joinGroup now returns only once every party took part in the
 * formation's epoch agreement — and then writes raw messages to its channels.)
 */
import type { Discovery, PeerAddress } from '../../src/discovery/types';
import { ErrorCode } from '../../src/errors';
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { generateIdentity } from '../../src/identity/identity';
import { createRoster } from '../../src/identity/roster';
import { encodeMessage } from '../../src/wire/codec';

jest.setTimeout(30_000);

const ids = ['1', '2', '3']; // '1' is the rogue; it sorts first, so it dials both honest parties
const identities = new Map(ids.map((id) => [id, generateIdentity(id)]));
const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
const sessionId = 'mailbox-bounds';
const MAX_ROUNDS = 4;

const ports = new Map<string, number>();
const events = new Map<string, GroupEvent[]>(ids.map((id) => [id, []]));
let groups: Group[] = [];
let rogue: Group;

/** Party 2 dials 3 once 3 listens. */
const lazyDiscovery = (target: string): Discovery => ({
  kind: 'test',
  discover: (): Promise<PeerAddress[]> => {
    const port = ports.get(target);
    return Promise.resolve(port === undefined ? [] : [{ host: '127.0.0.1', port, source: 'test' }]);
  },
});

beforeAll(async () => {
  const joins = ['2', '3'].map((id) =>
    joinGroup({
      identity: identities.get(id)!,
      roster,
      sessionId,
      discovery: id === '2' ? lazyDiscovery('3') : [],
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 15_000,
      roundTimeoutMs: 5_000,
      discoveryIntervalMs: 20,
      mailbox: { maxPendingRounds: MAX_ROUNDS },
      onEvent: (e) => {
        events.get(id)!.push(e);
        if (e.type === 'listening') ports.set(id, e.port);
      },
    }),
  );
  while (ports.size < 2) await new Promise((r) => setTimeout(r, 10));
  const rogueJoin = joinGroup({
    identity: identities.get('1')!,
    roster,
    sessionId,
    discovery: { kind: 'test', discover: () => Promise.resolve(['2', '3'].map((id) => ({ host: '127.0.0.1', port: ports.get(id)!, source: 'test' }))) },
    listen: false,
    timeoutMs: 15_000,
    discoveryIntervalMs: 20,
  });
  [rogue, ...groups] = await Promise.all([rogueJoin, ...joins]);
});

afterAll(async () => {
  await Promise.all([rogue, ...groups].map((g) => g.close()));
});

const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
  const until = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('two messages for the same round: the sender is dropped with PROTOCOL_VIOLATION', async () => {
  const [g2] = groups as [Group, Group];
  await rogue._sendRaw('2', encodeMessage({ r: 'dup', p: 1 }));
  await rogue._sendRaw('2', encodeMessage({ r: 'dup', p: 2 }));
  await waitFor(() => events.get('2')!.some((e) => e.type === 'peer-lost'), 'peer-lost at 2');
  expect(events.get('2')!.filter((e) => e.type === 'peer-lost')).toEqual([{ type: 'peer-lost', peer: '1', code: ErrorCode.PROTOCOL_VIOLATION }]);
  expect(g2.lostPeers).toEqual(['1']);
  // Any later round from it fails at once with the typed error naming it.
  await expect(g2.receive('1', 'next')).rejects.toMatchObject({ code: ErrorCode.PROTOCOL_VIOLATION, peer: '1' });
  await expect(g2.gather('next2')).rejects.toMatchObject({ code: ErrorCode.PROTOCOL_VIOLATION, peers: ['1'] });
  // Its channel is closed by the honest side.
  await waitFor(() => rogue.lostPeers.includes('2'), 'rogue channel closed by 2');
});

test('more undelivered rounds than the cap: the sender is dropped with PROTOCOL_VIOLATION', async () => {
  const [, g3] = groups as [Group, Group];
  for (let i = 0; i <= MAX_ROUNDS; i++) await rogue._sendRaw('3', encodeMessage({ r: `flood-${i}`, p: i }));
  await waitFor(() => events.get('3')!.some((e) => e.type === 'peer-lost'), 'peer-lost at 3');
  expect(events.get('3')!.filter((e) => e.type === 'peer-lost')).toEqual([{ type: 'peer-lost', peer: '1', code: ErrorCode.PROTOCOL_VIOLATION }]);
  expect(g3.lostPeers).toEqual(['1']);
  await expect(g3.receive('1', 'later')).rejects.toMatchObject({ code: ErrorCode.PROTOCOL_VIOLATION, peer: '1' });
  await waitFor(() => rogue.lostPeers.includes('3'), 'rogue channel closed by 3');
});

test('the honest parties still exchange among themselves', async () => {
  const [g2, g3] = groups as [Group, Group];
  await Promise.all([g2.send('3', 'after', { from: '2' }), g3.send('2', 'after', { from: '3' })]);
  const [a, b] = await Promise.all([g2.gather('after', { from: ['3'] }), g3.gather('after', { from: ['2'] })]);
  expect(a.get('3')).toEqual({ from: '3' });
  expect(b.get('2')).toEqual({ from: '2' });
});
