/**
 * review16 R16-2: round deadlines at the timer's limit (2^31 − 1 ms, the most joinGroup accepts,
 * what a caller picks for "wait as long as it takes").
 * - A group joined with it failed every secureSum of more than 2^17 elements in its opening, at
 *   every party, with INVALID_ARGUMENT ("timeoutMs must be … at most 2147483647 ms"): the openings
 *   in pieces (and the share vectors in pieces) add the time to move the bytes at 1 MiB/s to the
 *   round deadline and handed the sum, above the limit, to `gather`, which refuses it.
 * - secureSum's own `roundTimeoutMs` option was checked only as a positive safe integer: 2^31 took
 *   the run's id and sent the shape statement (Node clamped the send's timer to 1 ms with a
 *   TimeoutOverflowWarning) before `gather` refused it — the run was stopped at every peer.
 * In-process parties, real channels on 127.0.0.1.
 */
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { MAX_TIMER_MS } from '../../src/channel/channel';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(120_000);

const summary = (rs: Awaited<ReturnType<typeof settleAll>>): unknown[] =>
  rs.map((r) => (r.ok ? { ok: true } : r.error instanceof CouplerError ? { code: r.error.code, message: r.error.message.slice(0, 120) } : { thrown: String(r.error) }));

test('a group whose round deadline is the timer limit sums a vector opened in pieces (broadcast opening, masks and share vectors)', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: MAX_TIMER_MS });
  try {
    const L = (1 << 17) + 5;
    for (const shares of ['seed', 'vector'] as const) {
      const out = await settleAll(h.groups.map((g, i) => secureSum(g, new Float64Array(L).fill(i + 1), { shares })));
      expect(summary(out)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
      for (const r of out) {
        const sum = (r as { value: { sum: Float64Array } }).value.sum;
        expect(sum.length).toBe(L);
        expect(sum[0]).toBe(6);
        expect(sum[L - 1]).toBe(6);
      }
    }
  } finally {
    await h.close();
  }
});

test('roundTimeoutMs above the timer limit is refused before the run takes its id: nothing is sent, the group stays in step', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5000 });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const sentBefore = h.groups[0]!.stats().reduce((s, p) => s + p.messagesSent, 0);
    const err = await secureSum(h.groups[0]!, 1, { roundTimeoutMs: MAX_TIMER_MS + 1 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CouplerError);
    expect((err as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    await new Promise((r) => setTimeout(r, 100));
    expect(h.groups[0]!.stats().reduce((s, p) => s + p.messagesSent, 0)).toBe(sentBefore);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    const out = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
    expect(summary(out)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
  } finally {
    process.off('warning', onWarning);
    await h.close();
  }
});
