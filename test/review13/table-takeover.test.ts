/**
 * review13 R13-8 at the table: a held channel slot is taken over by a request of the same signer
 * signed later (the old connection and its partner are released as `evicted`); a request signed no
 * later (a replay whose nonce the replay set forgot) and an aggregation member's slot stay
 * `duplicate`.
 */
import { RelayTable } from '../../src/relay/table';
import { tableRequests, tableRoster } from '../relay/_table';

const T0 = 1_000_000;
const req = tableRequests(tableRoster(3), { source: 'X', ts: T0 });

test('R13-8 — a later-signed request of the same signer takes over its held slot; the old pair is released', () => {
  const t = new RelayTable<string>({ maxConnections: 2, maxConnectionsPerSource: 2 });
  expect(t.admit(req('a'), T0).ok).toBe(true);
  expect(t.admit(req('b', { from: 'p2', to: 'p1' }), T0).ok).toBe(true);
  // Full (2 of 2) and the slot p1 → p2 is held: the re-dial still gets in, in place of the old pair.
  const again = t.admit(req('a2', { ts: T0 + 5_000 }), T0 + 5_000);
  expect(again.ok && again.evicted.map((c) => c.handle).sort()).toEqual(['a', 'b']);
  expect(again.ok && again.partner).toBeUndefined();
  // p2 comes back too and is paired with the new connection.
  const back = t.admit(req('b2', { from: 'p2', to: 'p1', ts: T0 + 5_100 }), T0 + 5_100);
  expect(back.ok && back.partner?.handle).toBe('a2');
  expect(t.counts()).toMatchObject({ connections: 2, pairs: 1, sessions: 1 });
});

test('R13-8 — a request signed no later than the held one (a replay) does not take over', () => {
  const t = new RelayTable<string>();
  expect(t.admit(req('a', { ts: T0 + 10 }), T0 + 10).ok).toBe(true);
  expect(t.admit(req('old', { ts: T0 }), T0 + 20)).toEqual({ ok: false, reason: 'duplicate' });
  expect(t.admit(req('same', { ts: T0 + 10 }), T0 + 20)).toEqual({ ok: false, reason: 'duplicate' });
});

test('R13-8 — an aggregation member\'s slot is never taken over', () => {
  const t = new RelayTable<string>();
  const aggregate = { id: 'a'.repeat(64), parties: ['p1', 'p2', 'p3'], length: 10 };
  expect(t.admit(req('m1', { to: '', aggregate }), T0).ok).toBe(true);
  expect(t.admit(req('m1b', { to: '', aggregate, ts: T0 + 1_000 }), T0 + 1_000)).toEqual({ ok: false, reason: 'duplicate' });
});
