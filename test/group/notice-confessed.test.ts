/**
 * A peer's abort notice blaming a party that is alive is judged by probing that party; if the
 * blamed party's own notice — "I stopped on my own" — arrives while the probe is out, that party
 * has confessed and is named, even though it then answers the probe (a party stopping on SIGTERM
 * tells everyone, then still answers pings until it exits). Found by the blame trial
 * (`npm run bench -- trial --runs=5`, SIGTERM mid-run, direct): one honest party judged another's
 * notice blaming the terminated party 1 ms before that party's own notice arrived, saw the probe
 * answered, and named nobody. Real channels on 127.0.0.1, three parties in this process.
 */
import { createTestGroups } from '../support/group-harness';
import { AbortedError, CouplerError, ErrorCode, GroupError } from '../../src/errors';

test('p2 stops run R blaming p1; p1 stops R on its own a moment later and still answers probes: p3 names p1', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 10_000 });
  try {
    const [p1, p2, p3] = h.groups;
    const run = 'sum.77';
    const pending = p3!.gather(`${run}/x`, { from: ['p2'] }).then(
      () => undefined,
      (e: unknown) => e as CouplerError,
    );
    await new Promise((r) => setTimeout(r, 50));
    // p2's notice first, then p1's own — in that order on the wire; p3 judges p2's notice (p1 not
    // confessed yet: it probes p1), then reads p1's notice, then p1's answer to the probe.
    p2!._runFailed(run, new GroupError(ErrorCode.PEER_ABORTED, 'p1 stopped', { peers: ['p1'] }));
    p1!._runFailed(run, new AbortedError('stopped by SIGTERM'));
    const e = await pending;
    expect(e).toBeInstanceOf(CouplerError);
    expect({ code: e!.code, peers: e!.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peers: ['p1'] });
  } finally {
    await h.close();
  }
}, 30_000);
