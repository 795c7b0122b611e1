/**
 * The relayed opening without a second copy of the partial sum (src/protocols/relay-opening.ts,
 * `rebuildChunks`): answer chunks land over the party's masked partial sum U_p, and U_p is
 * rebuilt from the input and the seeds for its chunk fingerprints, each chunk checked against the
 * hash it was uploaded under. A rebuild that differs (an input changed during the run) is never
 * fingerprinted.
 */
import { secureSum } from '../../src/protocols';
import { startRelay, type RelayServer } from '../../src/relay';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import { makeParties, settleAll } from '../support/group-harness';
import { joinAll } from './_relay';
import { _rebuildPolicy } from '../../src/protocols/additive';

// The rebuild runs from 2^20 elements; these tests exercise it on short vectors.
beforeAll(() => {
  _rebuildPolicy.minElements = 1;
});

jest.setTimeout(60_000);

let relay: RelayServer | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

// Three relay chunks of 16 384 elements, the last one short.
const L = 40_000;
const inputs = (n: number): Float64Array[] => Array.from({ length: n }, (_, p) => Float64Array.from({ length: L }, (_, l) => ((l * 7 + p * 13) % 2001) - 1000));

test('secureSum (seeds) through the relay: the exact sum, the inputs untouched; an input changed mid-run → VALUE_INVALID at that party, nobody named', async () => {
  const parties = makeParties(3);
  relay = await startRelay({ rosters: [parties.roster] });
  const url = `ws://127.0.0.1:${relay.port}`;
  const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url }));
  try {
    const xs = inputs(3);
    const copies = xs.map((x) => Float64Array.from(x));
    const expected = Float64Array.from({ length: L }, (_, l) => xs.reduce((s, x) => s + x[l]!, 0));
    const out = await Promise.all(groups.map((g, i) => secureSum(g, xs[i]!, { opening: 'relay' })));
    const same = (a: Float64Array, b: Float64Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
    for (const o of out) expect(same(o.sum as Float64Array, expected)).toBe(true);
    xs.forEach((x, i) => expect(same(x, copies[i]!)).toBe(true));

    // Second run: party 2 changes its input once the call has encoded it.
    const runs = groups.map((g, i) => secureSum(g, xs[i]!, { opening: 'relay', roundTimeoutMs: 4000 }));
    xs[2]![L - 5] = 17;
    const res = await settleAll(runs);
    const bad = res[2]!;
    expect(!bad.ok && bad.error instanceof CouplerError && bad.error.code).toBe(ErrorCode.VALUE_INVALID);
    expect(!bad.ok && String((bad.error as Error).message)).toMatch(/input changed/);
    for (const r of res) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).not.toBeInstanceOf(CheatingDetectedError);
    }
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
});
