/**
 * review14 R14-2: a malicious roster party p3 on relayed links speaks the link protocol itself. A
 * `coupler resume` message is the first message of a link's channel; p3 sends one more, on a live
 * channel in the middle of the link's life, claiming it holds none of the messages p1 (and p2)
 * sent it — fewer than it already acknowledged. Only p3 can send that (the message is sealed end
 * to end; a relay cannot make one). Honest outcome: p1 and p2 name p3 (a protocol violation), not
 * "cannot resume … no longer held" (`RELAY_LOST`, nobody named).
 */
import type { Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { encodeMessage } from '../../src/wire/codec';
import { RESUME_ROUND } from '../../src/group/inbound';
import { sleep, sumEach, sumOutcome, withRelayGroup } from '../support/relay-group';

jest.setTimeout(30_000);

test('R14-2 — p3 sends a second resume on its live relayed links to p1 and p2, claiming none of their messages (fewer than it acknowledged): p1 and p2 name p3', async () => {
  await withRelayGroup({ roundTimeoutMs: 4_000 }, async ({ groups }) => {
    for (const o of await sumEach(groups)) expect(o.sum).toBe(6);
    await sleep(300); // the acknowledgements of the first sum are in
    const [g1, g2, g3] = groups as [Group, Group, Group];
    const two = Promise.allSettled([secureSum(g1, 10), secureSum(g2, 20), secureSum(g3, 30)]);
    for (const p of ['p1', 'p2']) {
      await g3._sendRaw(p, encodeMessage({ r: RESUME_ROUND, p: { link: g3._linkId(p)!, n: 0 } }));
    }
    const out = (await two).map((r) => sumOutcome(r, { sortPeers: true }));
    if (process.env.R14_DEBUG) console.log(JSON.stringify(out));
    expect(out[0]).toMatchObject({ peers: ['p3'] });
    expect(out[1]).toMatchObject({ peers: ['p3'] });
  });
});
