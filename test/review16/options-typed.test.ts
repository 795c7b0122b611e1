/**
 * review16 R16-4: options a careless caller passes. A `signal` that is not an AbortSignal passed
 * the sum's option check and threw an untyped TypeError ("signal.addEventListener is not a
 * function") from the run's first wait — after the run took its id and its statement went out, so
 * the others' run was stopped too. An options object whose getter throws (or a Proxy whose trap
 * does) let that foreign error out untyped. Both are now INVALID_ARGUMENT before the run: nothing
 * is sent, and the group stays in step. In-process parties, real channels on 127.0.0.1.
 */
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { createTestGroups, settleAll, type TestGroups } from '../support/group-harness';

jest.setTimeout(60_000);
let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(3, { roundTimeoutMs: 5000 });
});
afterAll(() => h.close());

const sent = (): number => h.groups[0]!.stats().reduce((s, p) => s + p.messagesSent - p.probesSent, 0);

test.each([
  ['a signal that is a plain object', { signal: { aborted: false } }],
  ['a signal that is a string', { signal: 'stop' }],
  ['an options getter that throws', Object.defineProperty({}, 'roundTimeoutMs', { get: () => { throw new Error('boom'); }, enumerable: true })],
  ['a Proxy whose trap throws', new Proxy({}, { get: () => { throw new Error('trap'); } })],
  ['a "shares" getter that throws', Object.defineProperty({}, 'shares', { get: () => { throw new Error('boom'); }, enumerable: true })],
])('%s: INVALID_ARGUMENT before anything is sent; the group stays in step', async (_name, options) => {
  const before = sent();
  const err = await secureSum(h.groups[0]!, 1, options as never).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CouplerError);
  expect((err as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
  await new Promise((r) => setTimeout(r, 50));
  expect(sent()).toBe(before);
  const out = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
  expect(out.map((r) => (r.ok ? (r.value as { sum: number }).sum : String((r as { error: unknown }).error)))).toEqual([6, 6, 6]);
});
