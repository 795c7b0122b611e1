/**
 * The aggregated opening without a second copy of the partial sum (src/protocols/aggregate.ts,
 * `rebuildCommitted`): with seeds as shares, the sum is written over the party's masked partial
 * sum U_p and U_p is rebuilt from the input and the seeds for its fingerprint. These tests pin
 * that the fingerprint is of exactly the committed value: a rebuild that differs in any element
 * (a wrong seed, a missing mask, an input changed during the run) must never be published.
 */
import { randomBytes } from 'node:crypto';
import { AddressBook, joinLocal, settleAll, type TestParties } from '../support/group-harness';
import { testIdentity } from '../support/identity';
import { createRoster } from '../../src/identity/roster';
import { dkSecureSum } from '../../src/protocols';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';
import { _rebuildPolicy } from '../../src/protocols/additive';

// The rebuild runs from 2^20 elements; these tests exercise it on short vectors.
beforeAll(() => {
  _rebuildPolicy.minElements = 1;
});

function parties(n: number): TestParties {
  const ids = Array.from({ length: n }, (_, i) => `r${i + 1}`);
  const identities = new Map(ids.map((id) => [id, testIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  return { ids, identities, roster, sessionId: `test-rebuild-${randomBytes(8).toString('hex')}` };
}

/** n parties' inputs: element j of party i is i + j/8 (exact in fixed point). */
const inputs = (n: number, L: number): Float64Array[] => Array.from({ length: n }, (_, i) => Float64Array.from({ length: L }, (_, j) => i + (j % 64) / 8));

let groups: Group[] = [];
afterEach(async () => {
  await Promise.all(groups.map((g) => g.close()));
  groups = [];
});

// 4 × 70 000 elements: chunks of 70 000, longer than one rebuild block (65 536), so a chunk's
// leaf is hashed over two blocks and the PRG streams run on across blocks.
const L = 262_400;

test('dkSecureSum (aggregated, seeds): every party gets the exact sum, the inputs untouched', async () => {
  const p = parties(4);
  groups = await joinLocal(p, p.ids, new AddressBook());
  const xs = inputs(4, L);
  const copies = xs.map((x) => Float64Array.from(x));
  const results = await Promise.all(groups.map((g, i) => dkSecureSum(g, xs[i]!, { opening: 'aggregate' })));
  const expected = Float64Array.from({ length: L }, (_, j) => 0 + 1 + 2 + 3 + (4 * (j % 64)) / 8);
  // Byte comparisons: jest's toEqual walks a long typed array element by element, slowly.
  const same = (a: Float64Array, b: Float64Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
  for (const r of results) expect(same(r.sum as Float64Array, expected)).toBe(true);
  xs.forEach((x, i) => expect(same(x, copies[i]!)).toBe(true));
}, 60_000);

test('an input changed during the run: that party stops with VALUE_INVALID before publishing a fingerprint; nobody is named a cheater', async () => {
  const p = parties(4);
  groups = await joinLocal(p, p.ids, new AddressBook());
  const xs = inputs(4, L);
  const runs = groups.map((g, i) => dkSecureSum(g, xs[i]!, { opening: 'aggregate', roundTimeoutMs: 4000 }));
  // Encoding is done when the call returns; the change lands while the opening runs.
  xs[1]![L - 3] = 1000;
  const out = await settleAll(runs);
  const e1 = out[1]!;
  expect(e1.ok).toBe(false);
  expect(!e1.ok && e1.error instanceof CouplerError && e1.error.code).toBe(ErrorCode.VALUE_INVALID);
  expect(!e1.ok && String((e1.error as Error).message)).toMatch(/input changed/);
  for (const r of out) {
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).not.toBeInstanceOf(CheatingDetectedError);
  }
}, 60_000);
