/**
 * review16 R16-3, the open part, closed by a label: runs are matched by call order at each party,
 * and a refused call takes no run id (so a party may fix its input and retry while the others
 * wait). A sum that party starts from a LATER asynchronous step is then matched with the refused
 * run, as a retry would be, and its input was added to the others' inputs of another statistic
 * (refused-concurrent.test.ts, skipped: 1 + 1 + 1000 = 1002 accepted everywhere). Only the caller
 * knows which statistic a call is: with `label` stated in the run's parameters, the mismatch is a
 * SHAPE_MISMATCH naming the party, and no party returns a mixture. In-process parties, real
 * channels on 127.0.0.1.
 */
import { secureSum, dkSecureSum, thresholdSum } from '../../src/protocols';
import { checkSumOptions } from '../../src/protocols/common';
import { CouplerError, ErrorCode, InvalidArgumentError } from '../../src/errors';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(60_000);

test('labelled sums: a call started in a later turn meets the refused run of another statistic — SHAPE_MISMATCH, never a mixture', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 2000 });
  try {
    const out = await Promise.all(
      h.groups.map((g, i) =>
        settleAll([
          secureSum(g, i === 0 ? Number.NaN : 1, { label: 'mean' }),
          new Promise((r) => setTimeout(r, 50)).then(() => secureSum(g, 1000, { label: 'count' })),
        ]),
      ),
    );
    for (const [i, [mean, count]] of out.entries()) {
      expect(mean!.ok).toBe(false);
      if (count!.ok) expect((count as { value: { sum: number } }).value.sum).toBe(3000);
      if (i === 0) {
        expect((mean as { error: CouplerError }).error.code).toBe(ErrorCode.VALUE_INVALID);
        // p1's count met the others' mean run: their labels differ.
        expect(count!.ok).toBe(false);
        expect((count as { error: CouplerError }).error.code).toBe(ErrorCode.SHAPE_MISMATCH);
      } else {
        // The others' mean met p1's count: named, with the label in the reason.
        const e = (mean as { error: CouplerError }).error;
        expect([e.code, e.peers]).toEqual([ErrorCode.SHAPE_MISMATCH, ['p1']]);
        expect(e.message).toMatch(/label/);
      }
    }
  } finally {
    await h.close();
  }
});

test('the same label everywhere changes nothing; dkSecureSum and thresholdSum state it too', async () => {
  const h = await createTestGroups(4, { roundTimeoutMs: 3000 });
  try {
    const a = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1, { label: 'x' })));
    expect(a.map((r) => r.ok && (r.value as { sum: number }).sum)).toEqual([10, 10, 10, 10]);
    const b = await settleAll(h.groups.map((g, i) => dkSecureSum(g, i + 1, { k: 2, label: i === 3 ? 'other' : 'x' })));
    expect(b.every((r) => !r.ok && (r as { error: CouplerError }).error.code === ErrorCode.SHAPE_MISMATCH)).toBe(true);
    const c = await settleAll(h.groups.map((g, i) => thresholdSum(g, i + 1, { t: 3, label: 'y' })));
    expect(c.map((r) => r.ok && (r.value as { sum: number }).sum)).toEqual([10, 10, 10, 10]);
  } finally {
    await h.close();
  }
});

test('a label that is not 1 to 64 printable ASCII characters is refused before the run', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 2000 });
  try {
    for (const label of ['', 'x'.repeat(65), 'é', 'a\nb', 7, null]) {
      await expect(secureSum(h.groups[0]!, 1, { label } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => checkSumOptions(h.groups[0]!, { label: 'x'.repeat(64) })).not.toThrow();
    // Still in step: nothing was sent.
    const again = await settleAll(h.groups.map((g, i) => secureSum(g, i + 1)));
    expect(again.map((r) => r.ok && (r.value as { sum: number }).sum)).toEqual([6, 6, 6]);
  } finally {
    await h.close();
  }
});
