/**
 * memcap (c): each abort notice for a made-up run emits one `peer-lost` event to the application's
 * `onEvent` (the vantage6 wrapper logs each as "peer … closed its channel"): bounded work per
 * notice, but as many events (and log lines) as the peer sends notices with fresh run ids. A peer
 * that sends 2000 notices for runs this party never started must not produce 2000 events; a
 * notice for a run this party did start still produces its one event.
 */
import { partiesWith } from '../review17/support';
import { AddressBook, joinLocal } from '../support/group-harness';
import { encodeAbort } from '../../src/group/inbound';
import type { Group, GroupEvent } from '../../src/group/group';

jest.setTimeout(60_000);
let open: Group[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((g) => g.close()));
});

const NOTICES = 2000;

test('abort notices for 2000 made-up runs emit a bounded number of peer-lost events; a started run’s notice still emits one', async () => {
  const events: GroupEvent[] = [];
  const p = partiesWith(['e1', 'e2']);
  // Events of both parties come here; e1's about its peer name e2.
  const [victim, peer] = (open = await joinLocal(p, p.ids, new AddressBook(), { roundTimeoutMs: 3000, onEvent: (e) => void (e.type === 'peer-lost' && e.peer === 'e2' && events.push(e)) }));
  const started = victim!.nextRunId('y'); // y.1, started here
  for (let i = 0; i < NOTICES; i++) await peer!._sendRaw('e1', encodeAbort({ code: 'COUPLER_ERR_ABORTED', blame: [], run: `made${i}.1` }));
  await peer!._sendRaw('e1', encodeAbort({ code: 'COUPLER_ERR_ABORTED', blame: [], run: started }));
  await peer!.send('e1', 'mark.1/done', 1);
  await victim!.receive('e2', 'mark.1/done', { timeoutMs: 10_000 });
  const lost = events.filter((e) => e.type === 'peer-lost');
  console.log(`[memcap-c] ${NOTICES + 1} run notices → ${lost.length} peer-lost events`);
  expect(lost.length).toBeGreaterThanOrEqual(1); // the started run's notice
  expect(lost.length).toBeLessThanOrEqual(64);
  // The peer is still a member (a run notice stops that run, not the peer).
  expect(victim!.lostPeers).toEqual([]);
});
