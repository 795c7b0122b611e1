/**
 * A message queued for a peer that then stops with a notice fails with the notice's verdict, not
 * with the notice unjudged. Sends of one event-loop turn leave together (the group's batch); a
 * peer's notice read between a send and its batch failed that send with the error the notice was
 * first filed with (naming nobody unless confirmed at once), where every other path judges it
 * first — asks the blamed party, names it if it does not answer. Found from the blame trial (run 7
 * of `trial --runs=10`: an honest party named nobody). In-process parties, real channels; the
 * blamed party is made unresponsive to p1 by a userspace TCP forwarder that stops moving bytes.
 */
import { CouplerError, ErrorCode, GroupError } from '../../src/errors';
import { threeViaForwarder } from '../support/three-via-forwarder';

test('a send queued before a peer’s notice is read fails with the judged verdict: p1 names p3, which p2 blamed and which does not answer p1', async () => {
  const { g1, g2, via, close } = await threeViaForwarder({ roundTimeoutMs: 2_000 });
  try {
    via.freeze(); // p3 no longer answers p1 (nor hears it)
    // In one check-phase turn: p2 stops blaming p3 (its notice is written to the socket at once),
    // p1 queues a message to p2 (it leaves with p1's batch, in the next turn's check phase), and
    // the loop is held until the notice has surely reached p1's socket. The next turn reads the
    // notice (poll phase) before the batch leaves (check phase).
    const sent = await new Promise<unknown>((resolve) =>
      setImmediate(() => {
        void g2.abort(new GroupError(ErrorCode.PEER_LOST, 'lost peer "p3"', { peer: 'p3' }));
        const sending = g1.send('p2', 'x.1/r', 1).then(() => undefined, (e: unknown) => e);
        const until = Date.now() + 100;
        while (Date.now() < until) {
          /* hold the loop */
        }
        resolve(sending);
      }),
    );
    const e = sent as CouplerError;
    expect(e).toBeInstanceOf(CouplerError);
    // Before the fix: PEER_ABORTED naming nobody ("blaming p3; not confirmed here"), every time.
    expect({ code: e.code, peer: e.peer, peers: e.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p2', peers: ['p3'] });
  } finally {
    await close();
  }
}, 60_000);
