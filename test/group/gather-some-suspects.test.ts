/**
 * `gatherSome`'s deadline reports what the stall trace found: the silent parties named, and — when
 * a missing party answers that it waits for another live party — both as suspects. Before, only
 * the named ones were kept, so a tolerant piece exchange (thresholdSum) reported no suspects at
 * all (review9, noted for the group layer). Real groups over real channels on 127.0.0.1; the
 * withholder is a cheating link (test/support/withhold.ts).
 */
import { createTestGroups } from '../support/group-harness';
import { withhold } from '../support/withhold';
import { CouplerError, ErrorCode } from '../../src/errors';

afterEach(() => jest.restoreAllMocks());

const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);

test('a missing party that says it waits for a live one: gatherSome names nobody and lists both as suspects', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000 });
  try {
    const [p1] = h.groups;
    // p2 withholds its round message from p1 and answers p1's probes "I wait for p3" (p3 is live).
    withhold({ from: 'p2', to: 'p1', claims: ['p3'] });
    const e = await failure(p1!.gatherSome('sum.1/a', 1, { from: ['p2'], timeoutMs: 800 }));
    expect({ code: e?.code, peers: e?.peers }).toEqual({ code: ErrorCode.TIMEOUT, peers: [] });
    expect([...(e?.suspects ?? [])].sort()).toEqual(['p2', 'p3']);
  } finally {
    await h.close();
  }
}, 30_000);
