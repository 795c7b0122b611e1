/**
 * A party that stopped two runs for different reasons (an abort notice per run), then closed its
 * group: a slower peer still in the earlier run must judge that run by the earlier run's notice,
 * not by the latest one, which the channel's end re-files for the whole group. Before, a round of
 * the earlier run taken after the close got the latest notice's verdict: with the latest saying
 * "my own doing" (the caller aborted its second run), the slower party named the honest
 * messenger for the first run, which it had stopped because another party failed. Real groups
 * over real channels on 127.0.0.1 (left open by review 8: "a party's latest notice is reused for
 * every run at channel close").
 */
import { createTestGroups } from '../support/group-harness';
import { AbortedError, CouplerError, ErrorCode, TimeoutError } from '../../src/errors';

const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a slower party judges a run by that run\'s notice after the sender closed, not by its latest notice for another run', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000 });
  try {
    const [p1, , p3] = h.groups;
    // p1 stops run sum.1 naming nobody with certainty (a party it waited for said it waits for a
    // live one), then its caller aborts run sum.2 (its own doing: a notice blaming nobody), then
    // it closes its group. p3 is told each notice.
    const first = failure(p3!.receive('p1', 'sum.1/a'));
    p1!._runFailed('sum.1', new TimeoutError('"p2" says it waits for "p3", which answers too', { peers: [], suspects: ['p2', 'p3'] }));
    expect((await first)?.peers).toEqual([]);
    const second = failure(p3!.receive('p1', 'sum.2/a'));
    p1!._runFailed('sum.2', new AbortedError('the caller aborted'));
    const e2 = await second;
    expect(e2?.code).toBe(ErrorCode.PEER_ABORTED);
    await p1!.close();
    while (!p3!.lostPeers.includes('p1')) await sleep(20);
    // p3, slower, reaches the next round of sum.1 only now: sum.1's notice decides, naming nobody.
    const later = await failure(p3!.receive('p1', 'sum.1/b'));
    expect({ code: later?.code, peers: later?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: [] });
    const gathered = await failure(p3!.gather('sum.1/c', { from: ['p1'] }));
    expect({ code: gathered?.code, peers: gathered?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: [] });
    // Sends of sum.1 to p1 fail by sum.1's notice too (one peer, and every peer).
    const sent = await failure(p3!.send('p1', 'sum.1/d', 1));
    expect({ code: sent?.code, peers: sent?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: [] });
    const toAll = await failure(p3!.sendToAll('sum.1/e', 1, ['p1']));
    expect({ code: toAll?.code, peers: toAll?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: [] });
    // A run p1 never stopped is explained by its leaving (its latest notice, as before).
    const other = await failure(p3!.receive('p1', 'sum.3/a'));
    expect(other?.code).toBe(ErrorCode.PEER_ABORTED);
  } finally {
    await h.close();
  }
}, 30_000);
