/**
 * review26 question 3: a slow honest party (sends to it complete late: its link or its reading is
 * slow, nothing lost) in thresholdSum. The frozen-party rule (`sendTolerant`) stops sending to a
 * peer whose send has been pending a whole round deadline: it becomes a dropout to the others, who
 * complete. The slow party must then not name them (they are honest and done).
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { thresholdSum, type SumResult } from '../../src/protocols';
import type { CouplerError } from '../../src/errors';
import type { PlainData } from '../../src/wire/codec';

const INPUTS = [10, 20, 30, 40];

test.each([1.2, 2.5])('thresholdSum n = 4, t = 2: sends to p4 complete %s deadlines late; p1..p3 complete, p4 names none of them', async (lag) => {
  const ROUND = 1000;
  const c = await createTestGroups(4, { roundTimeoutMs: ROUND });
  try {
    for (const g of c.groups.slice(0, 3)) {
      const send = g.send.bind(g);
      // The message is delivered at once; only its send completes late (a slow reader: the socket
      // takes the bytes late). Delivered late too would be a slow path: see the 'late' variant.
      g.send = (peer: string, round: string, payload: PlainData) => {
        const sent = send(peer, round, payload);
        return peer === 'p4' ? sent.then(() => new Promise<void>((r) => setTimeout(r, lag * ROUND))) : sent;
      };
    }
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, INPUTS[i]!, { t: 2, roundTimeoutMs: ROUND })));
    const seen = out.map((r) => (r.ok ? { sum: (r.value as SumResult).sum } : { code: (r.error as CouplerError).code, peers: (r.error as CouplerError).peers, message: (r.error as CouplerError).message }));
    for (const s of seen.slice(0, 3)) expect(s).toHaveProperty('sum');
    const r4 = seen[3] as { peers?: string[] };
    expect(r4.peers ?? []).toEqual([]);
  } finally {
    await c.close();
  }
}, 60_000);
