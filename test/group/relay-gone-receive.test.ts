/**
 * Every deadline path treats links that are resuming through a relay alike (review14, noted): only
 * `gather` asked whether the missing peers' links were resuming; a single-peer `receive`, a send's
 * deadline and a tolerant `gatherSome` probed the peer over no channel and named it `TIMEOUT`
 * when the relay itself was gone — an honest peer named for the relay's absence.
 *
 * Three parties through a real relay on 127.0.0.1; the relay is closed for good while p1 waits in
 * a `receive` from p2 (and in a `gatherSome`) that p2 never sends.
 */
import { CouplerError, ErrorCode } from '../../src/errors';
import { withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

const outcome = (p: Promise<unknown>): Promise<{ code: string; peers: string[] } | 'ok'> =>
  p.then(
    () => 'ok' as const,
    (e: unknown) => ({ code: (e as CouplerError).code, peers: [...(e as CouplerError).peers] }),
  );

test('the relay goes away for good while p1 waits in receive(p2) and gatherSome: RELAY_LOST naming nobody, not TIMEOUT naming p2', async () => {
  await withRelayGroup({ roundTimeoutMs: 3_000 }, async ({ relay, groups }) => {
    const p1 = groups[0]!;
    const run = p1.nextRunId('probe');
    for (const g of groups.slice(1)) g.nextRunId('probe');
    const one = outcome(p1.receive('p2', `${run}/x`));
    const some = outcome(p1.gatherSome(`${run}/y`, 2));
    await relay.close(); // for good (closing it again afterwards does nothing)
    // Before: the receive failed TIMEOUT naming p2 (an honest party, silent only because the relay
    // it reaches p1 through is gone).
    expect(await one).toEqual({ code: ErrorCode.RELAY_LOST, peers: [] });
    expect(await some).toEqual({ code: ErrorCode.RELAY_LOST, peers: [] });
  });
});
