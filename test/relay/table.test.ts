/**
 * The relay's resource table on its own, with an explicit clock: caps, fair-share eviction,
 * deadlines, the replay set that expires by time and never resets (issue 16, item 3 (e)), and the
 * memory bound at the defaults.
 */
import { rosterDigest } from '../../src/identity/roster';
import { ADMISSION_SKEW_MS } from '../../src/relay';
import { InvalidArgumentError } from '../../src/errors';
import { relaySourceKey, DEFAULT_RELAY_MAX_MESSAGE_BYTES } from '../../src/relay/server';
import { DEFAULT_RELAY_WINDOW_BYTES, RelayTable, memoryBound, resolveTableLimits } from '../../src/relay/table';
import { AGGREGATE_MEMORY_BYTES } from '../../src/relay/aggregate';
import { tableRequests, tableRoster } from './_table';

const req = tableRequests(tableRoster(2), { source: '10.0.0.1', ts: 1_000_000 });
const T0 = 1_000_000;

test('limits are checked field by field', () => {
  expect(() => new RelayTable({ maxSessions: 0 })).toThrow(InvalidArgumentError);
  expect(() => new RelayTable({ idleTimeoutMs: 1.5 })).toThrow(/"idleTimeoutMs"/);
  expect(resolveTableLimits({}).maxSessions).toBe(128);
});

test('unadmitted connections: per-source cap evicts that source\'s oldest, the global cap the oldest overall', () => {
  const t = new RelayTable<string>({ maxPending: 3, maxPendingPerSource: 2 });
  expect(t.addPending('a1', 'A', T0)).toEqual([]);
  expect(t.addPending('a2', 'A', T0)).toEqual([]);
  expect(t.addPending('a3', 'A', T0)).toEqual(['a1']);
  expect(t.addPending('b1', 'B', T0)).toEqual([]);
  expect(t.addPending('c1', 'C', T0)).toEqual(['a2']);
  expect(t.counts().pending).toBe(3);
  expect(t.expire(T0 + 9_999).pending).toEqual([]);
  expect(t.expire(T0 + 10_000).pending).toEqual(['a3', 'b1', 'c1']);
  expect(t.counts().pending).toBe(0);
});

test('pairing, release of a pair as a whole, and the session ends with its last connection', () => {
  const t = new RelayTable<string>();
  const a = t.admit(req('a'), T0);
  const b = t.admit(req('b', { from: 'p2', to: 'p1' }), T0);
  if (!a.ok || !b.ok) throw new Error('not admitted');
  expect(b.partner).toBe(a.conn);
  expect(t.counts()).toMatchObject({ connections: 2, pairs: 1, sessions: 1 });
  expect(t.release(a.conn)).toEqual([a.conn, b.conn]);
  expect(t.counts()).toMatchObject({ connections: 0, pairs: 0, sessions: 0 });
  expect(t.release(a.conn)).toEqual([]);
});

test('sessions are keyed by (id, digest): the same id on another roster is another session', () => {
  const t = new RelayTable<string>();
  const other = tableRoster(2);
  expect(t.admit(req('a'), T0).ok).toBe(true);
  expect(t.admit(req('b', { roster: other, digest: rosterDigest(other) }), T0).ok).toBe(true);
  expect(t.counts().sessions).toBe(2);
  expect(t.admit(req('c'), T0)).toEqual({ ok: false, reason: 'duplicate' }); // same slot, same roster
});

test('caps per source and per digest; a full table displaces the longest-idle session of a heavier source, else relay-full', () => {
  const t = new RelayTable<string>({ maxSessions: 4, maxSessionsPerSource: 3, maxSessionsPerDigest: 4 });
  for (let i = 0; i < 3; i++) expect(t.admit(req(`x${i}`, { session: `x${i}`, source: 'X', digest: `dx${i}` }), T0 + i).ok).toBe(true);
  expect(t.admit(req('x3', { session: 'x3', source: 'X', digest: 'dx3' }), T0)).toEqual({ ok: false, reason: 'source-limit' });
  expect(t.admit(req('y0', { session: 'y0', source: 'Y', digest: 'dy0' }), T0 + 10).ok).toBe(true);
  // Full. Z (no session yet) displaces X's longest-idle one (x0), not Y's.
  const z = t.admit(req('z0', { session: 'z0', source: 'Z', digest: 'dz0' }), T0 + 20);
  expect(z.ok && z.evicted.map((c) => c.handle)).toEqual(['x0']);
  // Y (1 session) may not displace X (2) — X would not hold more than Y after admission.
  expect(t.admit(req('y1', { session: 'y1', source: 'Y', digest: 'dy1' }), T0 + 30)).toEqual({ ok: false, reason: 'relay-full' });
  // Per digest.
  const u = new RelayTable<string>({ maxSessionsPerDigest: 1 });
  expect(u.admit(req('a', { session: 'a' }), T0).ok).toBe(true);
  expect(u.admit(req('b', { session: 'b', source: 'other' }), T0)).toEqual({ ok: false, reason: 'roster-limit' });
});

test('a full connection table displaces the longest-idle connection (and its partner) of a heavier source', () => {
  const t = new RelayTable<string>({ maxConnections: 4 });
  const a = t.admit(req('a', { session: 'a', source: 'X' }), T0);
  t.admit(req('b', { session: 'a', source: 'X', from: 'p2', to: 'p1' }), T0);
  t.admit(req('c', { session: 'c', source: 'X' }), T0 + 5);
  t.admit(req('d', { session: 'c', source: 'X', from: 'p2', to: 'p1' }), T0 + 5);
  if (!a.ok) throw new Error('not admitted');
  const e = t.admit(req('e', { session: 'e', source: 'Y' }), T0 + 10);
  expect(e.ok && e.evicted.map((c) => c.handle).sort()).toEqual(['a', 'b']);
});

test('deadlines: unpaired after pairTimeoutMs; a paired session without traffic after idleTimeoutMs; traffic and pings keep it', () => {
  const t = new RelayTable<string>({ pairTimeoutMs: 100, idleTimeoutMs: 1_000 });
  const lone = t.admit(req('lone', { session: 'lone' }), T0);
  const a = t.admit(req('a'), T0);
  t.admit(req('b', { from: 'p2', to: 'p1' }), T0);
  if (!a.ok || !lone.ok) throw new Error('not admitted');
  expect(t.expire(T0 + 100).unpaired.map((c) => c.handle)).toEqual(['lone']);
  expect(t.activity(a.conn, 10, T0 + 900)).toBe(true);
  expect(t.expire(T0 + 1_800).idle).toEqual([]);
  expect(t.expire(T0 + 1_900).idle.map((c) => c.handle).sort()).toEqual(['a', 'b']);
});

test('bytes per session: activity reports the cap', () => {
  const t = new RelayTable<string>({ maxBytesPerSession: 100 });
  const a = t.admit(req('a'), T0);
  if (!a.ok) throw new Error('not admitted');
  expect(t.activity(a.conn, 100, T0)).toBe(true);
  expect(t.activity(a.conn, 1, T0)).toBe(false);
});

describe('(e) the replay set', () => {
  test('a replayed nonce is refused for as long as its timestamp is inside the window, however many admissions happen in between', () => {
    const t = new RelayTable<string>({ maxNonces: 10_000, maxNoncesPerSource: 10_000, maxSessionsPerSource: 10_000, maxSessionsPerDigest: 10_000, maxSessions: 10_000, maxConnections: 20_000, maxConnectionsPerSource: 20_000 });
    const first = req('first', { nonce: 'f'.repeat(32), ts: T0 });
    const a = t.admit(first, T0);
    if (!a.ok) throw new Error('not admitted');
    t.release(a.conn);
    // Many admissions later (the old relay reset its set after 1M; this one never resets).
    for (let i = 0; i < 5_000; i++) {
      const x = t.admit(req(`n${i}`, { session: `n${i}` }), T0 + i);
      if (x.ok) t.release(x.conn);
    }
    expect(t.admit({ ...first, handle: 'replay' }, T0 + ADMISSION_SKEW_MS)).toEqual({ ok: false, reason: 'duplicate' });
    // After the window the relay refuses it as stale anyway; the table forgets it.
    t.expire(T0 + ADMISSION_SKEW_MS + 1);
    expect(t.counts().nonces).toBeLessThan(5_001);
  });

  test('a full set: busy per source; globally it gives way to a lighter source (the heaviest source\'s oldest nonce), else busy; it frees itself by time', () => {
    const t = new RelayTable<string>({ maxNonces: 4, maxNoncesPerSource: 3 });
    const admitRelease = (h: string, source: string, now: number, nonce?: string): string => {
      const x = t.admit(req(h, { session: h, source, ts: now, ...(nonce === undefined ? {} : { nonce }) }), now);
      if (!x.ok) return x.reason;
      t.release(x.conn);
      return 'admitted';
    };
    const first = 'a'.repeat(32);
    expect([admitRelease('a', 'A', T0, first), admitRelease('b', 'A', T0), admitRelease('c', 'A', T0), admitRelease('d', 'A', T0)]).toEqual(['admitted', 'admitted', 'admitted', 'busy']);
    expect(admitRelease('e', 'B', T0)).toBe('admitted'); // 4 of 4
    // Full: C (0) displaces A's oldest (A holds 3 > 1); B (1 → 2) may not displace A (2).
    expect(admitRelease('f', 'C', T0)).toBe('admitted');
    expect(admitRelease('g', 'B', T0)).toBe('busy');
    expect(t.counts().nonces).toBe(4);
    // A's oldest request was forgotten (no longer a duplicate); A is at its fair share (busy).
    expect(admitRelease('a2', 'A', T0, first)).toBe('busy');
    expect(admitRelease('h', 'D', T0 + ADMISSION_SKEW_MS + 1)).toBe('admitted');
  });

  test('fair-share churn keeps the set at its cap and the expiry order intact', () => {
    const t = new RelayTable<string>({ maxNonces: 8, maxNoncesPerSource: 8, maxSessionsPerSource: 1000, maxSessionsPerDigest: 1000 });
    for (let i = 0; i < 1000; i++) {
      const x = t.admit(req(`x${i}`, { session: `x${i}`, source: i % 2 === 0 ? 'heavy' : `light${i}`, ts: T0 + i }), T0 + i);
      if (x.ok) t.release(x.conn);
    }
    expect(t.counts().nonces).toBe(8);
    t.expire(T0 + 999 + ADMISSION_SKEW_MS + 1);
    expect(t.counts().nonces).toBe(0);
  });
});

test('source keys: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
  expect(relaySourceKey('10.1.2.3')).toBe('10.1.2.3');
  expect(relaySourceKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
  expect(relaySourceKey('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
  expect(relaySourceKey('2001:db8:0:1:bbbb:cccc:dddd:eeee')).toBe('2001:db8:0:1::/64');
  expect(relaySourceKey('::1')).toBe('0:0:0:0::/64');
  expect(relaySourceKey(undefined)).toBe('unknown');
});

test('memory bound at the defaults (aggregations included) is at most 256 MiB including a 64 MiB runtime', () => {
  const bytes = memoryBound({ limits: resolveTableLimits({}), maxMessageBytes: DEFAULT_RELAY_MAX_MESSAGE_BYTES, windowBytes: DEFAULT_RELAY_WINDOW_BYTES, aggregationBytes: AGGREGATE_MEMORY_BYTES });
  expect(bytes + 64 * 2 ** 20).toBeLessThanOrEqual(256 * 2 ** 20);
});
