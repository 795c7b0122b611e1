/**
 * A party that stops a run because another party failed tells every peer (a run-scoped abort
 * notice blaming the culprit) and then closes its group. A peer that is slower — it has not yet
 * reached that run's rounds when the notice and then the close arrive — must judge the notice, not
 * name the messenger for closing: found by the blame trial (bench/trial, SIGTERM mid-run, relay):
 * the slow party reported PEER_LOST naming the honest messenger, because its mailbox gave the
 * later "closed its channel" before the run's notice. In-process parties, real channels.
 */
import { createTestGroups } from '../support/group-harness';
import { secureSum } from '../../src/protocols';
import { AbortedError, CouplerError, ErrorCode } from '../../src/errors';

const until = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('p2 stops the group; p1 fails run sum.1 naming p2 and closes; p3, which had not reached sum.1 yet, names p2 — not p1', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 10_000 });
  try {
    const [p1, p2, p3] = h.groups;
    await p2!.abort(new AbortedError('stopped by SIGTERM'));
    await until(() => p1!.lostPeers.includes('p2') && p3!.lostPeers.includes('p2'), 10_000);
    // p1 starts run sum.1, fails at once (p2 left), tells p3 (a notice for sum.1 blaming p2), closes.
    const e1 = await secureSum(p1!, 1).then(() => undefined, (e: unknown) => e as CouplerError);
    expect({ code: e1?.code, peers: e1?.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p2'] });
    await p1!.close();
    await until(() => p3!.lostPeers.includes('p1'), 10_000);
    // p3 is slower: it reaches sum.1 only now, after p1's notice and p1's close.
    const e3 = await secureSum(p3!, 3).then(() => undefined, (e: unknown) => e as CouplerError);
    expect(e3).toBeInstanceOf(CouplerError);
    expect({ code: e3!.code, peers: e3!.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p2'] });
  } finally {
    await h.close();
  }
}, 40_000);
