/**
 * review14 R14-1 guard: the fix makes a peer that does not come to a relay that admits this
 * party's resume dials count as missing. A relay that is really gone must still end the run with
 * `RELAY_LOST` naming nobody, and a relay that tampers with a frame (review13 R13-3) must still
 * cost nothing but a resume — both held before the fix and must hold after.
 */
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(30_000);

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 15_000,
    roundTimeoutMs: 3_000,
  });
}

test('R14-1 guard — the relay goes away mid-sum and never comes back: every party reports RELAY_LOST, nobody named', async () => {
  const parties = makeParties(3);
  let relay: RelayServer | undefined = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${relay.port}`;
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const one = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    for (const o of one) expect(o.sum).toBe(6);
    // p3 starts late: the others wait for it when the relay goes.
    const two = Promise.allSettled([secureSum(groups[0]!, 1), secureSum(groups[1]!, 2)]);
    await relay.close();
    relay = undefined;
    const out = (await two).map((r) => (r.status === 'fulfilled' ? { ok: true } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] }));
    for (const o of out) expect(o).toEqual({ code: ErrorCode.RELAY_LOST, peers: [] });
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await relay?.close();
  }
});
