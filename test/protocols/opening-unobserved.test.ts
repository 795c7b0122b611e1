/**
 * secureSum with the default opening, share vectors and every channel through the relay resolves
 * its opening from the agreement (`resolveOpening`): a promise that rejects with the agreement and
 * was only awaited once this party's shares were in. When the agreement failed first — a party
 * that states other parameters (here `shares: 'seed'`, so it deals no share vectors either) — that
 * promise rejected with no handler: an unhandled rejection, which ends a Node process by default.
 * Every honest party's process died on one peer's statement, instead of reporting SHAPE_MISMATCH
 * naming it. Real relay on 127.0.0.1, in-process parties.
 */
import { secureSum } from '../../src/protocols';
import { startRelay } from '../../src/relay';
import { CouplerError, ErrorCode } from '../../src/errors';
import { makeParties, settleAll } from '../support/group-harness';
import { joinAll } from '../relay/_relay';

test('a peer that states other parameters (and deals nothing) leaves no unhandled rejection behind: every party reports SHAPE_MISMATCH', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const parties = makeParties(3);
  const relay = await startRelay({ rosters: [parties.roster] });
  const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: `ws://127.0.0.1:${relay.port}`, roundTimeoutMs: 4_000 }));
  try {
    // Long enough that every party hints at the relayed opening (RELAY_OPENING_MIN_ELEMENTS).
    const L = 16_384;
    const runs = groups.map((g, j) => secureSum(g, new Float64Array(L).fill(j + 1), { shares: j === 2 ? 'seed' : 'vector' }));
    const out = await settleAll(runs);
    for (const r of out) {
      expect(r.ok).toBe(false);
      expect((r as { error: CouplerError }).error.code).toBe(ErrorCode.SHAPE_MISMATCH);
    }
    await new Promise((r) => setTimeout(r, 100));
    // Before: two (p1's and p2's opening), each of which ends a Node process by default.
    expect(unhandled.map(String)).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
}, 30_000);
