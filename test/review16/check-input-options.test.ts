/**
 * review16 R16-4 (checkSumInput): the same options a careless caller passes, without a group. A
 * getter that throws, or a Proxy whose trap does, let its foreign error out of checkSumInput
 * untyped; now INVALID_ARGUMENT, like the sums (test/review16/options-typed.test.ts).
 */
import { checkSumInput } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';

test.each([
  ['a getter that throws', Object.defineProperty({}, 'bound', { get: () => { throw new Error('boom'); }, enumerable: true })],
  ['a Proxy whose trap throws', new Proxy({}, { get: () => { throw new Error('trap'); } })],
])('checkSumInput with options holding %s: INVALID_ARGUMENT', (_name, options) => {
  let err: unknown;
  try {
    checkSumInput(1, options as never);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CouplerError);
  expect((err as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
});
