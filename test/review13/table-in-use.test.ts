/**
 * review13 R13-1 at the table: fair share (a full table) displaces only what is not in use. A
 * pair that carried traffic (a forwarded message or a ping) within 60 s, and a member of an
 * aggregation whose members all came, stay; an unpaired connection, or a pair silent for longer,
 * still gives way to a lighter source (the rule resources.test (a) relies on).
 */
import { RelayTable } from '../../src/relay/table';
import { tableRequests, tableRoster } from '../relay/_table';

const T0 = 1_000_000;
const IN_USE_MS = 60_000;
const req = tableRequests(tableRoster(3), { source: 'X', ts: T0 });

test('R13-1 — a pair in use is never displaced by a lighter source; once silent past the in-use window it is', () => {
  const t = new RelayTable<string>({ maxConnections: 3 });
  const a = t.admit(req('a'), T0);
  t.admit(req('b', { from: 'p2', to: 'p1' }), T0);
  if (!a.ok) throw new Error('not admitted');
  t.activity(a.conn, 100, T0 + 10);
  expect(t.admit(req('y', { session: 'y', source: 'Y' }), T0 + 20).ok).toBe(true);
  // Full. Z is lighter than X (2 connections), but X's pair carried traffic 10 ms ago.
  expect(t.admit(req('z', { session: 'z', source: 'Z' }), T0 + 30)).toEqual({ ok: false, reason: 'relay-full' });
  // A ping keeps it in use; silence past the window does not.
  t.activity(a.conn, 0, T0 + 50_000);
  expect(t.admit(req('z2', { session: 'z2', source: 'Z' }), T0 + 50_000 + IN_USE_MS - 1)).toEqual({ ok: false, reason: 'relay-full' });
  const z = t.admit(req('z3', { session: 'z3', source: 'Z' }), T0 + 50_000 + IN_USE_MS);
  expect(z.ok && z.evicted.map((c) => c.handle).sort()).toEqual(['a', 'b']);
});

test('R13-1 — a session in use is never displaced by a lighter source', () => {
  const t = new RelayTable<string>({ maxSessions: 2, maxSessionsPerSource: 2 });
  const a = t.admit(req('a', { session: 's1' }), T0);
  t.admit(req('b', { session: 's1', from: 'p2', to: 'p1' }), T0);
  if (!a.ok) throw new Error('not admitted');
  const c = t.admit(req('c', { session: 's2' }), T0);
  if (!c.ok) throw new Error('not admitted');
  t.activity(a.conn, 100, T0 + 10);
  // s2 (one unpaired connection) was touched later than s1, so s1 is the longest idle — but in use.
  t.activity(c.conn, 0, T0 + 15);
  // Full; Y is lighter than X (2 sessions): it may displace X's unused session s2, not s1.
  const y = t.admit(req('y', { session: 'y', source: 'Y' }), T0 + 20);
  expect(y.ok && y.evicted.map((c) => c.handle)).toEqual(['c']);
  expect(t.admit(req('z', { session: 'z', source: 'Z' }), T0 + 30)).toEqual({ ok: false, reason: 'relay-full' });
});

test('R13-1 — the members of an aggregation whose members all came are never displaced for a connection', () => {
  const t = new RelayTable<string>({ maxConnections: 3 });
  const parties = ['p1', 'p2', 'p3'];
  for (const p of parties) expect(t.admit(req(`m-${p}`, { from: p, to: '', aggregate: { id: 'a'.repeat(64), parties, length: 10 } }), T0).ok).toBe(true);
  // No upload yet (the members wait for each other's chunks), and Y is lighter than X (3).
  expect(t.admit(req('y', { session: 'y', source: 'Y' }), T0 + 10)).toEqual({ ok: false, reason: 'relay-full' });
});
