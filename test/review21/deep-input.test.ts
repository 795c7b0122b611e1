/**
 * Review 21, R21-1: a kwarg nested deeply (a task input is JSON of up to 64 MiB; the input file
 * is parsed without a depth limit, results are refused beyond MAX_JSON_DEPTH) made
 * joinPeerGroup's agreeOn digest (canonicalJson, recursive) throw a bare RangeError — no
 * CouplerError, no code.
 */
import { parseInput } from '../../src/vantage6/contract';
import { canonicalJson } from '../../src/vantage6/central';
import { joinPeerGroup } from '../../src/vantage6';
import { CouplerError } from '../../src/errors';

const DEPTH = 100_000;
const deepText = `{"edges":${'['.repeat(DEPTH)}1${']'.repeat(DEPTH)}}`;

test('R21-1: an input nested deeper than the results may be is refused when parsed (typed)', () => {
  let err: unknown;
  try {
    parseInput(Buffer.from(deepText), 'v5', 'partial');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CouplerError);
  expect((err as CouplerError).code).toBe('COUPLER_ERR_VANTAGE6');
});

test('R21-1: joinPeerGroup with agreeOn over a deeply nested kwarg fails typed, before anything else', async () => {
  let deep: unknown = 1;
  for (let i = 0; i < DEPTH; i++) deep = [deep];
  const ctx = { logger: { info() {}, warn() {}, error() {} }, env: undefined } as never;
  const err = await joinPeerGroup({ edges: deep }, ctx, {}, { agreeOn: ['edges'] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CouplerError);
  expect((err as CouplerError).code).toBe('COUPLER_ERR_INVALID_ARGUMENT');
  expect(() => canonicalJson(deep)).toThrow(CouplerError);
});

test('R21-1: depths the contract allows still digest (regression guard)', () => {
  let v: unknown = 1;
  for (let i = 0; i < 255; i++) v = [v];
  expect(canonicalJson(v)).toBe(`${'['.repeat(255)}1${']'.repeat(255)}`);
});
