/**
 * Batching: small round messages to one peer sent in the same event-loop turn travel as one
 * channel message (one seal, one frame) — the per-message cost is what small sums pay. And what a
 * hostile roster peer can put in a batch is checked like any other message: the receiver drops it
 * with a typed error naming it. In-process parties on 127.0.0.1, real channels.
 */
import { encodeMessage } from '../../src/wire/codec';
import { CouplerError, ErrorCode } from '../../src/errors';
import { createTestGroups, type TestGroups } from '../support/group-harness';

jest.setTimeout(20_000);

let h: TestGroups;
beforeEach(async () => {
  h = await createTestGroups(3, { roundTimeoutMs: 3_000 });
});
afterEach(async () => h.close());

const sentTo = (from: string, to: string): number => h.byId.get(from)!.stats().find((s) => s.peer === to)!.messagesSent;

test('three small messages sent in one turn: one channel message; delivered in order to their rounds', async () => {
  const [a, b] = [h.byId.get('p1')!, h.byId.get('p2')!];
  const before = sentTo('p1', 'p2');
  await Promise.all([a.send('p2', 'x.1/a', 1), a.sendToAll('x.1/b', 'two'), a.send('p2', 'x.1/c', { three: 3 })]);
  expect(sentTo('p1', 'p2') - before).toBe(1);
  expect(await b.receive('p1', 'x.1/a')).toBe(1);
  expect(await b.receive('p1', 'x.1/b')).toBe('two');
  expect(await b.receive('p1', 'x.1/c')).toEqual({ three: 3 });
  expect(await h.byId.get('p3')!.receive('p1', 'x.1/b')).toBe('two');
});

test('a large message is not held back and keeps its place after the pending small ones', async () => {
  const [a, b] = [h.byId.get('p1')!, h.byId.get('p2')!];
  const big = new Uint8Array(100_000).fill(7);
  const before = sentTo('p1', 'p2');
  await Promise.all([a.send('p2', 'y.1/small', 'first'), a.send('p2', 'y.1/big', big), a.send('p2', 'y.1/after', 'third')]);
  // The pending batch (one item: sent as it is), the large one, then the next turn's small one.
  expect(sentTo('p1', 'p2') - before).toBe(3);
  expect(await b.receive('p1', 'y.1/small')).toBe('first');
  expect(await b.receive('p1', 'y.1/big')).toEqual(big);
  expect(await b.receive('p1', 'y.1/after')).toBe('third');
});

async function sentBy(bytes: Uint8Array): Promise<CouplerError> {
  const [victim, attacker] = [h.byId.get('p1')!, h.byId.get('p2')!];
  await attacker._sendRaw('p1', bytes);
  const err = await victim.receive('p2', 'never.1/x').then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CouplerError);
  expect((err as CouplerError).peer).toBe('p2');
  return err as CouplerError;
}
const item = (r: string, p: unknown): Uint8Array => encodeMessage({ r, p } as never);

test.each([
  ['a batch inside a batch', () => encodeMessage({ r: 'coupler batch', p: [item('coupler batch', [item('a.1/x', 1), item('a.1/y', 2)]), item('a.1/z', 3)] })],
  ['a batch of one', () => encodeMessage({ r: 'coupler batch', p: [item('a.1/x', 1)] })],
  ['a batch of 65', () => encodeMessage({ r: 'coupler batch', p: Array.from({ length: 65 }, (_, i) => item(`a.1/m${i}`, i)) })],
  ['an item that is not bytes', () => encodeMessage({ r: 'coupler batch', p: [{ r: 'a.1/x', p: 1 }, item('a.1/y', 2)] } as never)],
  ['an item larger than a batchable message', () => encodeMessage({ r: 'coupler batch', p: [item('a.1/x', new Uint8Array(20_000)), item('a.1/y', 2)] })],
  ['an item that is not a round message', () => encodeMessage({ r: 'coupler batch', p: [new Uint8Array([0xc1]), item('a.1/y', 2)] })],
])('%s: the receiver drops the sender with a typed error naming it', async (_name, make) => {
  const err = await sentBy(make());
  expect([ErrorCode.PROTOCOL_VIOLATION, ErrorCode.FRAME_MALFORMED]).toContain(err.code);
});
