/**
 * review14 R14-1 guard: the fix makes a peer that does not come to a relay that admits this
 * party's resume dials count as missing. A relay that is really gone must still end the run with
 * `RELAY_LOST` naming nobody, and a relay that tampers with a frame (review13 R13-3) must still
 * cost nothing but a resume — both held before the fix and must hold after.
 */
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { sumEach, withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

test('R14-1 guard — the relay goes away mid-sum and never comes back: every party reports RELAY_LOST, nobody named', async () => {
  await withRelayGroup({ roundTimeoutMs: 3_000 }, async ({ relay, groups }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    // p3 starts late: the others wait for it when the relay goes.
    const two = Promise.allSettled([secureSum(groups[0]!, 1), secureSum(groups[1]!, 2)]);
    await relay.close(); // for good (closing it again afterwards does nothing)
    const out = (await two).map((r) => (r.status === 'fulfilled' ? { ok: true } : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers] }));
    for (const o of out) expect(o).toEqual({ code: ErrorCode.RELAY_LOST, peers: [] });
  });
});
