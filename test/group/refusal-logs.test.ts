/**
 * Which connection failures are worth a warning. Before, a redundant dial closed mid-handshake
 * logged `warn: refused a connection (COUPLER_ERR_HANDSHAKE_FAILED)` in about one normal run in
 * five, while an impostor answering at an address from discovery left no trace at the party that
 * dialled it. Real groups and a real impostor listener (its own key, not in the roster) on loopback;
 * the classification is the one joinPeerGroup logs with.
 */
import { joinGroup, type GroupEvent } from '../../src/group/group';
import { listenChannels } from '../../src/channel/transport';
import { generateIdentity } from '../../src/identity/identity';
import { createRoster } from '../../src/identity/roster';
import { _isBenignConnectionEvent } from '../../src/vantage6/peer';
import { AddressBook, joinLocal, makeParties } from '../support/group-harness';
import { ErrorCode } from '../../src/errors';

test('an impostor at a discovered address: the dialling party gets a dial-failed event that is logged as a warning, with the address', async () => {
  const parties = makeParties(2);
  const impostorId = generateIdentity('p2'); // claims p2, with a key the roster does not have
  // Its own roster: the real p1 key and its own key for p2 (what it believes, not what p1 pinned).
  const fakeRoster = createRoster([
    { id: 'p1', publicKey: parties.roster.get('p1')!.publicKey },
    { id: 'p2', publicKey: impostorId.publicKey },
  ]);
  const impostor = await listenChannels({ identity: impostorId, roster: fakeRoster, sessionId: parties.sessionId, localId: 'p2', host: '127.0.0.1', port: 0, onChannel: (ch) => ch.destroy() });
  const events: GroupEvent[] = [];
  const joining = joinGroup({
    identity: parties.identities.get('p1')!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    discovery: { kind: 'test', discover: () => Promise.resolve([{ host: '127.0.0.1', port: impostor.port, source: 'test' }]) },
    listen: false,
    timeoutMs: 1500,
    discoveryIntervalMs: 50,
    dialBackoff: { initialMs: 50, maxMs: 200 },
    onEvent: (e) => events.push(e),
  }).catch((e: unknown) => e);
  await joining;
  await impostor.close();
  const failed = events.filter((e): e is Extract<GroupEvent, { type: 'dial-failed' }> => e.type === 'dial-failed');
  expect(failed.length).toBeGreaterThan(0);
  expect(failed[0]!.address).toBe(`127.0.0.1:${impostor.port}`);
  for (const f of failed) expect(_isBenignConnectionEvent(f)).toBe(false);
}, 30_000);

test('normal formation, 5 parties, 5 times: every refused or failed connection is benign (debug), none a warning', async () => {
  for (let round = 0; round < 5; round++) {
    const parties = makeParties(5);
    const events: GroupEvent[] = [];
    const groups = await joinLocal(parties, parties.ids, new AddressBook(), { onEvent: (e) => events.push(e) });
    await Promise.all(groups.map((g) => g.close()));
    const noisy = events.filter((e) => (e.type === 'refused' || e.type === 'dial-failed') && !_isBenignConnectionEvent(e));
    expect(noisy).toEqual([]);
  }
}, 60_000);

test('a dial cancelled when the mesh completes (ABORTED, no claim) is benign; with a claimed peer it is not', () => {
  // Seen in `coupler simulate` output as "warn: a dial failed to 127.0.0.2:… (COUPLER_ERR_ABORTED)".
  expect(_isBenignConnectionEvent({ code: ErrorCode.ABORTED })).toBe(true);
  expect(_isBenignConnectionEvent({ code: ErrorCode.ABORTED, peer: 'p2' })).toBe(false);
  expect(_isBenignConnectionEvent({ code: ErrorCode.PEER_UNKNOWN })).toBe(false);
});
