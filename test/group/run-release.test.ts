/**
 * A run that ends at a party releases what its mailboxes hold for it. Before, a message of a run
 * that had already ended here (a peer's statement arriving after this party's caller aborted the
 * run, a digest after a shape mismatch ended it) stayed filed for ever and counted against that
 * peer's mailbox caps: after enough such runs (128 at the default cap of 256 rounds) this party
 * dropped an honest peer with PROTOCOL_VIOLATION ("sent more undelivered data than the mailbox
 * allows") — the wrong party named, and the group dead for every later run. In-process parties,
 * real channels; the rounds cap is lowered so a few runs show it.
 */
import { createTestGroups, settleAll } from '../support/group-harness';
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { Mailbox } from '../../src/group/mailbox';
import type { PlainData } from '../../src/wire/codec';

const LIMITS = { maxPendingRounds: 4, maxPendingBytes: 1 << 20, maxPendingHeapBytes: 1 << 20 };
const cost = { bytes: 10, heapBytes: 0 };

describe('Mailbox.closeRun', () => {
  test('drops the pending messages of the run (freeing the caps), ends its waiters, and ignores its later messages; other runs are untouched', async () => {
    const mb = new Mailbox('p2', LIMITS);
    expect(mb.put('s.1/a', 1, cost)).toBeUndefined();
    expect(mb.put('s.1/b', 2, cost)).toBeUndefined();
    expect(mb.put('s.2/a', 3, cost)).toBeUndefined();
    const waiting = mb.wait('s.1/c').then(() => 'resolved', (e: CouplerError) => e.code);
    mb.closeRun('s.1');
    await expect(waiting).resolves.toBe(ErrorCode.ABORTED);
    // The run's two messages no longer count: three more rounds fit under the cap of 4.
    expect(mb.put('s.3/a', 4, cost)).toBeUndefined();
    expect(mb.put('s.3/b', 5, cost)).toBeUndefined();
    expect(mb.put('s.3/c', 6, cost)).toBeUndefined();
    // Late messages of the ended run, a repeat included, are dropped: not filed, not a violation.
    expect(mb.put('s.1/a', 7, cost)).toBeUndefined();
    expect(mb.put('s.1/d', 8, cost)).toBeUndefined();
    expect(mb.put('s.4/a', 9, cost)).toBeInstanceOf(CouplerError); // the cap still holds for live runs
    await expect(mb.wait('s.2/a')).resolves.toBe(3 as PlainData);
    // A repeat within a live run is still a violation.
    expect(mb.put('s.2/a', 10, cost)).toMatchObject({ code: ErrorCode.PROTOCOL_VIOLATION });
  });

  test('remembers a bounded number of ended runs', () => {
    const mb = new Mailbox('p2', { ...LIMITS, maxPendingRounds: 1 << 20 });
    for (let k = 1; k <= 100_000; k++) {
      expect(mb.put(`s.${k}/a`, k, cost)).toBeUndefined();
      void mb.wait(`s.${k}/a`);
      mb.closeRun(`s.${k}`);
    }
    const sizes = mb._sizes();
    expect(sizes.seen).toBe(0);
    expect(sizes.pending).toBe(0);
    expect(sizes.closed).toBeLessThanOrEqual(4096);
  });
});

test('runs the caller aborts leave nothing behind: after many, every party still sums and nobody is named', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000, extra: () => ({ mailbox: { maxPendingRounds: 8 } }) });
  try {
    const [p1] = h.groups;
    const named = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const stop = new AbortController();
      const runs = h.groups.map((g, j) => secureSum(g, j + 1, j === 0 ? { signal: stop.signal } : {}));
      setImmediate(() => stop.abort());
      for (const r of await settleAll(runs)) {
        if (r.ok) continue;
        const e = r.error as CouplerError;
        expect([ErrorCode.ABORTED, ErrorCode.PEER_ABORTED]).toContain(e.code);
        for (const p of e.peers ?? []) named.add(p);
      }
    }
    // Only p1 (the party whose caller aborted) may ever be named.
    expect([...named].filter((p) => p !== p1!.localId)).toEqual([]);
    const out = await Promise.all(h.groups.map((g, j) => secureSum(g, j + 1)));
    for (const r of out) expect(r.sum).toBe(6);
  } finally {
    await h.close();
  }
}, 120_000);

test('runs that fail on a shape mismatch leave nothing behind either', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000, extra: () => ({ mailbox: { maxPendingRounds: 8 } }) });
  try {
    for (let i = 0; i < 30; i++) {
      const runs = h.groups.map((g, j) => secureSum(g, j === 0 ? [1, 2] : j + 1));
      for (const r of await settleAll(runs)) {
        expect(r.ok).toBe(false);
        expect((r as { error: CouplerError }).error.code).toBe(ErrorCode.SHAPE_MISMATCH);
      }
    }
    const out = await Promise.all(h.groups.map((g, j) => secureSum(g, j + 1)));
    for (const r of out) expect(r.sum).toBe(6);
  } finally {
    await h.close();
  }
}, 120_000);
