/**
 * perf19: `sha256(...parts)` (src/crypto/hash.ts) replaces `createHash('sha256')` on the
 * protocols' per-run path (commitments, echo statements and values, the run seed, the shape
 * digest): the same digest for any parts — strings as UTF-8, empty parts, a total below and above
 * the length up to which parts are joined — with node's one-shot digest and without it (Node
 * before 20.12), and always a plain Uint8Array of 32 bytes.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { _hashBackend, sha256 } from '../../src/crypto/hash';

const part = fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.uint8Array({ minLength: 3000, maxLength: 6000 }));

function reference(parts: (Uint8Array | string)[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

describe('sha256 (one-shot where node has it)', () => {
  const saved = _hashBackend.oneShot;
  afterEach(() => {
    _hashBackend.oneShot = saved;
  });

  for (const mode of ['as installed', 'without the one-shot digest'] as const) {
    it(`gives createHash's digest for any parts (${mode})`, () => {
      if (mode !== 'as installed') _hashBackend.oneShot = undefined;
      fc.assert(
        fc.property(fc.array(part, { maxLength: 6 }), (parts) => {
          const got = sha256(...parts);
          expect(got.constructor).toBe(Uint8Array);
          expect(got.length).toBe(32);
          expect(Buffer.from(got).equals(Buffer.from(reference(parts)))).toBe(true);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('a view into a larger buffer hashes only its bytes', () => {
    const big = new Uint8Array(100).map((_, i) => i);
    const view = big.subarray(10, 50);
    expect(Buffer.from(sha256(view)).equals(Buffer.from(reference([view])))).toBe(true);
    expect(Buffer.from(sha256(view, big.subarray(0, 3))).equals(Buffer.from(reference([view, big.subarray(0, 3)])))).toBe(true);
  });
});
