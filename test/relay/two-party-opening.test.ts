/**
 * The relayed opening needs three parties (RELAY_OPENING_MIN_PARTIES). With two, it carried more
 * than the broadcast opening (8L up and 9L down per party against 8L each way), and a party the
 * relay answered late could only say it waits for the other member — the very party asking it, a
 * claim the deadline rule discards — so that honest party was named by TIMEOUT (review 8, R8-7,
 * "with n = 2"). Now an explicit `opening: 'relay'` is refused before anything is sent, and the
 * default takes the broadcast opening: no aggregation reaches the relay. Real relay, real
 * WebSockets on 127.0.0.1.
 */
import { InvalidArgumentError } from '../../src/errors';
import { secureSum, dkSecureSum, RELAY_OPENING_MIN_ELEMENTS, RELAY_OPENING_MIN_PARTIES } from '../../src/protocols';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties } from '../support/group-harness';
import { joinAll } from './_relay';

const relays: RelayServer[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

test('two parties through the relay: "relay" is refused before the run, the default opening is the broadcast one, and the sum is right', async () => {
  expect(RELAY_OPENING_MIN_PARTIES).toBe(3);
  const parties = makeParties(2);
  const relay = await startRelay({ rosters: [parties.roster] });
  relays.push(relay);
  const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: `ws://127.0.0.1:${relay.port}` }));
  try {
    // Long enough for the relayed opening to be the default with three or more parties.
    const L = RELAY_OPENING_MIN_ELEMENTS;
    const xs = groups.map((_, p) => Float64Array.from({ length: L }, (_, l) => ((l * 7 + p * 13) % 2001) - 1000));
    const expected = Float64Array.from({ length: L }, (_, l) => xs[0]![l]! + xs[1]![l]!);

    // Explicit: refused at every party, typed, before the run takes its id (nothing sent)...
    for (const g of groups) {
      await expect(secureSum(g, xs[0]!, { opening: 'relay', allowTwoParties: true })).rejects.toThrow(InvalidArgumentError);
      await expect(secureSum(g, xs[0]!, { opening: 'relay', allowTwoParties: true })).rejects.toThrow(/at least 3 parties/);
      await expect(dkSecureSum(g, xs[0]!, { opening: 'relay', k: 2, allowTwoParties: true })).rejects.toThrow(/at least 3 parties/);
    }

    // ...so the group is still in step: the next run (default opening) completes with the right sum,
    // and it did not go through an aggregation at the relay.
    const before = relay.stats().aggregations.completed;
    const out = await Promise.all(groups.map((g, i) => secureSum(g, xs[i]!, { allowTwoParties: true })));
    for (const o of out) expect(Array.from(o.sum)).toEqual(Array.from(expected));
    expect(relay.stats().aggregations.completed).toBe(before);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}, 60_000);
