/**
 * A party that stops a run because of others, but can name none of them with certainty (a timeout
 * whose missing party says it waits for another live party; a contradiction nothing attributes),
 * says so in its abort notice (`nobody`), and its receivers name nobody. Before, such a notice
 * blamed nobody and read as "my own doing": every party still waiting for the sender named it —
 * an honest party, for reporting honestly that it could not tell. A party that stopped on its own
 * (its input, a stop signal) is still named. In-process parties, real channels on 127.0.0.1.
 */
import { createTestGroups } from '../support/group-harness';
import { CheatingDetectedError, CouplerError, ErrorCode, TimeoutError, ValueError } from '../../src/errors';
import { abortNoticeFor, encodeAbort } from '../../src/group/inbound';
import { decodeMessage } from '../../src/wire/codec';

const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);

test('a run stopped by a timeout that names nobody (suspects only), or by a contradiction nobody is blamed for: the others name nobody, not the sender', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000 });
  try {
    const [p1, , p3] = h.groups;
    const waiting = failure(p3!.receive('p1', 'sum.7/a'));
    p1!._runFailed('sum.7', new TimeoutError('round "sum.7/a": no message from "p2"; "p2" says it waits for "p3", which answers too', { peers: [], suspects: ['p2', 'p3'] }));
    const e = await waiting;
    expect({ code: e?.code, peer: e?.peer, peers: e?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: [] });
    expect(e!.message).toContain('nobody is named');

    const waiting2 = failure(p3!.gather('sum.8/a', { from: ['p1'] }));
    p1!._runFailed('sum.8', new CheatingDetectedError(ErrorCode.TAMPERING_DETECTED, 'different dealer sets, nobody to blame', { description: 'test', statements: [] }));
    expect((await waiting2)?.peers).toEqual([]);

    // Its own doing (its input): still named.
    const waiting3 = failure(p3!.receive('p1', 'sum.9/a'));
    p1!._runFailed('sum.9', new ValueError(ErrorCode.VALUE_INVALID, 'NaN in the input'));
    expect((await waiting3)?.peers).toEqual(['p1']);
  } finally {
    await h.close();
  }
}, 30_000);

test('the notice says "nobody" only for a failure caused by others with nobody named', () => {
  const wire = (err: unknown): unknown => {
    const bytes = encodeAbort(abortNoticeFor(err, 'p1', 'sum.1'));
    return (decodeMessage(bytes, bytes.length) as { p: unknown }).p;
  };
  expect(wire(new TimeoutError('t', { peers: [], suspects: ['p2', 'p3'] }))).toEqual({ code: ErrorCode.TIMEOUT, blame: [], run: 'sum.1', nobody: true });
  expect(wire(new TimeoutError('t', { peers: ['p2'] }))).toEqual({ code: ErrorCode.TIMEOUT, blame: ['p2'], run: 'sum.1' });
  expect(wire(new ValueError(ErrorCode.VALUE_INVALID, 'own input'))).toEqual({ code: ErrorCode.VALUE_INVALID, blame: [], run: 'sum.1' });
  expect(wire(new Error('a bug here'))).toEqual({ code: ErrorCode.PROTOCOL_VIOLATION, blame: [], run: 'sum.1' });
});
