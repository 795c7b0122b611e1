/**
 * The relay's memory of aborted aggregations (src/relay/aborted.ts). Before, it was one list of
 * 1 024 entries shared by every session: one source presenting rosters of its own (roster-bound
 * sessions) could make 1 024 aggregations abort and push out every other session's entries, so a
 * late honest member of a session a cheater had aborted was admitted to a fresh aggregation and
 * waited for its deadline, naming nobody (review of 304ce01). Now one source's own entries count
 * against a quota of that source.
 */
import { AbortedAggregations, ABORTED_AGGREGATIONS_MAX, ABORTED_PER_SOURCE_MAX, ABORTED_AGGREGATION_TTL_MS } from '../../src/relay/aborted';

test('one source that makes many aggregations abort forgets its own oldest, never another source’s entry', () => {
  const m = new AbortedAggregations();
  m.add('honest', 'abort naming p3', ['10.0.0.1'], 0);
  m.add('mixed', 'abort naming p2', ['10.0.0.2', '10.0.0.3'], 0);
  for (let i = 0; i < 10 * ABORTED_AGGREGATIONS_MAX; i++) m.add(`flood ${i}`, 'x', ['192.0.2.9', '192.0.2.9'], 1);
  expect(m.get('honest', 2)).toBe('abort naming p3');
  expect(m.get('mixed', 2)).toBe('abort naming p2');
  expect(m.size).toBe(2 + ABORTED_PER_SOURCE_MAX);
  // The flooding source keeps its newest entries.
  expect(m.get(`flood ${10 * ABORTED_AGGREGATIONS_MAX - 1}`, 2)).toBe('x');
  expect(m.get('flood 0', 2)).toBeUndefined();
});

test('the whole memory stays bounded, and entries expire', () => {
  const m = new AbortedAggregations({ max: 100, perSource: 4, ttlMs: 1000 });
  for (let i = 0; i < 1000; i++) m.add(`k${i}`, 't', [`198.51.100.${i % 250}`], i);
  expect(m.size).toBeLessThanOrEqual(100);
  expect(m.get('k999', 999)).toBe('t');
  expect(m.get('k999', 999 + 1001)).toBeUndefined();
  m.add('late', 't', ['a', 'b'], 5000); // purges what expired
  expect(m.size).toBe(1);
  // Re-adding a key moves it, without counting twice against its source.
  const n = new AbortedAggregations({ perSource: 2 });
  n.add('a', '1', ['s'], 0);
  n.add('a', '2', ['s'], 0);
  n.add('b', '3', ['s'], 0);
  expect([n.get('a', 0), n.get('b', 0), n.size]).toEqual(['2', '3', 2]);
  expect(ABORTED_AGGREGATION_TTL_MS).toBe(300_000);
});

test('the list it replaces (one shared list of 1 024, no quota) is flushed by that flood', () => {
  const old = new AbortedAggregations({ max: 1024, perSource: Number.POSITIVE_INFINITY });
  old.add('honest', 'abort naming p3', ['10.0.0.1'], 0);
  for (let i = 0; i < 1024; i++) old.add(`flood ${i}`, 'x', ['192.0.2.9'], 1);
  expect(old.get('honest', 2)).toBeUndefined();
});
