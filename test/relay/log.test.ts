/** The relay's log lines: new sessions, session ends with their bytes, refusals rate-limited per (reason, source). */
import { relayLogger } from '../../src/relay';

test('refusals: one line per (reason, source) per interval, then the count held back', () => {
  const lines: string[] = [];
  let t = 0;
  const log = relayLogger({ write: (l) => lines.push(l), now: () => t, refusalIntervalMs: 10_000 });
  for (let i = 0; i < 1000; i++) log({ type: 'refused', reason: 'bad-signature', source: '10.0.0.9' });
  log({ type: 'refused', reason: 'stale', source: '10.0.0.9' });
  log({ type: 'refused', reason: 'bad-signature', source: '10.0.0.8' });
  expect(lines).toEqual(['[coupler relay] refused 10.0.0.9 (bad-signature)', '[coupler relay] refused 10.0.0.9 (stale)', '[coupler relay] refused 10.0.0.8 (bad-signature)']);
  t = 10_000;
  log({ type: 'refused', reason: 'bad-signature', source: '10.0.0.9' });
  expect(lines.at(-1)).toBe('[coupler relay] refused 10.0.0.9 (bad-signature), and 999 more like it in the last 10 s');
});

test('many sources: the tracked keys stay bounded and the rest are counted together', () => {
  const lines: string[] = [];
  const log = relayLogger({ write: (l) => lines.push(l), now: () => 0 });
  for (let i = 0; i < 5000; i++) log({ type: 'refused', reason: 'busy', source: `10.0.${i >> 8}.${i & 255}` });
  expect(lines.length).toBe(1025);
  expect(lines.at(-1)).toBe('[coupler relay] refused (many sources) (busy)');
});

test('a new session and its end are logged with digest, sources, bytes and duration; a roster-bound id is shortened', () => {
  const lines: string[] = [];
  const log = relayLogger({ write: (l) => lines.push(l) });
  const digest = 'ab'.repeat(32);
  log({ type: 'admitted', session: `v6-7#${digest}`, digest, from: 'a', to: 'b', source: '10.0.0.1', newSession: true });
  log({ type: 'admitted', session: `v6-7#${digest}`, digest, from: 'b', to: 'a', source: '10.0.0.2', newSession: false });
  log({ type: 'session-end', session: `v6-7#${digest}`, digest, sources: ['10.0.0.1', '10.0.0.2'], bytes: 1234, durationMs: 2500, reason: 'closed' });
  expect(lines).toEqual([
    '[coupler relay] session v6-7#… roster abababababab: a -> b from 10.0.0.1',
    '[coupler relay] session ended v6-7#… roster abababababab (closed): 1234 bytes in 2.5 s, sources 10.0.0.1, 10.0.0.2',
  ]);
});
