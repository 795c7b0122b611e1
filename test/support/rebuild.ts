/**
 * The two ways the aggregated and relayed openings hold a party's own masked partial sum U_p
 * (src/protocols/additive.ts `_rebuildPolicy`, aggregate.ts `rebuildCommitted`, relay-opening.ts
 * `rebuildChunks`): kept as a second L-vector (below `REBUILD_MIN_ELEMENTS` = 2^20 elements, what
 * short test vectors get), or overwritten by the sum and rebuilt block by block from the input and
 * the seed shares for the fingerprint and the dispute (from 2^20; forced here on short vectors).
 *
 * {@link REBUILD_MODES} parametrizes an attack table over both; {@link rebuildMode} sets the policy
 * for the enclosing describe block (reset after it) and counts the rebuilds that ran in this
 * process (a call-through spy on `SeededPartial.prototype.reader`, one call per rebuild), so a
 * test can show that its dispute really went through the rebuild path.
 */
import { REBUILD_MIN_ELEMENTS, SeededPartial, _rebuildPolicy } from '../../src/protocols/additive';

/** Both modes, for `describe.each`. */
export const REBUILD_MODES = [
  { mode: 'partial sum kept', rebuild: false },
  { mode: 'partial sum rebuilt (_rebuildPolicy.minElements = 1)', rebuild: true },
] as const;

/** Counter of the rebuilds run in this process since the current test started. */
export interface RebuildCounter {
  /** Rebuilds (readers of a SeededPartial made) since the current test started. */
  count(): number;
}

/**
 * In the enclosing describe block: with `rebuild`, every opening of this process rebuilds (policy
 * 1 element), else the library default; restored after the block. The counter counts in both.
 */
export function rebuildMode(rebuild: boolean): RebuildCounter {
  let spy: jest.SpyInstance | undefined;
  let base = 0;
  beforeAll(() => {
    _rebuildPolicy.minElements = rebuild ? 1 : REBUILD_MIN_ELEMENTS;
    spy = jest.spyOn(SeededPartial.prototype, 'reader');
  });
  afterAll(() => {
    _rebuildPolicy.minElements = REBUILD_MIN_ELEMENTS;
    spy?.mockRestore();
  });
  beforeEach(() => {
    base = spy?.mock.calls.length ?? 0;
  });
  return { count: () => (spy?.mock.calls.length ?? 0) - base };
}
