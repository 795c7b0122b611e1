/**
 * Test support: sweeps that take minutes run a representative subset by default and every case
 * with `COUPLER_TESTS_EXTENDED=1` (README, Development) — the default run stays within CI's time
 * budget; the extended one is what a change to the code under such a sweep is checked with.
 */

/** True when the extended cases run. */
export const EXTENDED = process.env.COUPLER_TESTS_EXTENDED === '1';

/** `all` with `COUPLER_TESTS_EXTENDED=1`, else the items of `all` that `inDefault` keeps. */
export function cases<T>(all: readonly T[], inDefault: (item: T, index: number) => boolean): T[] {
  return EXTENDED ? [...all] : all.filter(inDefault);
}
