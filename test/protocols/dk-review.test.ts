/**
 * review7: dkSecureSum's share graph and segment deal, attacked and stressed.
 * Real groups on 127.0.0.1 (test/support/group-harness.ts).
 */
import { dkSecureSum, secureSum } from '../../src/protocols';
import { createTestGroups, settleAll } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';

jest.setTimeout(120_000);

describe('B1: dkSecureSum share vectors longer than one message', () => {
  // 300 000 elements: 2.4 MB per share vector, over maxMessageBytes = 2 MiB; secureSum deals such
  // vectors in pieces (shares: 'vector', L > PIECE_ELEMENTS) and completes with the same limits.
  const L = 300_000;
  const limits = { extra: () => ({ maxMessageBytes: 2 * 1024 * 1024 }) };

  it('secureSum (vector shares) completes under maxMessageBytes = 2 MiB (control)', async () => {
    const t = await createTestGroups(3, limits);
    try {
      const inputs = t.groups.map((_, i) => Float64Array.from({ length: L }, (_v, j) => (i + 1) * (j % 7)));
      const out = await settleAll(t.groups.map((g, i) => secureSum(g, inputs[i]!, { shares: 'vector' })));
      for (const r of out) expect(r.ok).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('dkSecureSum (vector shares) completes under the same limits, and the sum is right', async () => {
    const t = await createTestGroups(4, limits);
    try {
      const inputs = t.groups.map((_, i) => Float64Array.from({ length: L }, (_v, j) => (i + 1) * (j % 7)));
      const out = await settleAll(t.groups.map((g, i) => dkSecureSum(g, inputs[i]!, { shares: 'vector', k: 3 })));
      for (const r of out) {
        if (!r.ok) throw r.error;
        const sum = r.value.sum as Float64Array;
        expect(sum.length).toBe(L);
        for (const j of [0, 1, 6, 12345, L - 1]) expect(sum[j]).toBe(10 * (j % 7));
      }
    } finally {
      await t.close();
    }
  });
});

describe('B1b: a message over maxMessageBytes is the sender\'s own failure, not its receiver\'s loss', () => {
  it('group.send of an oversized message names nobody (before: PEER_LOST naming the honest receiver)', async () => {
    const t = await createTestGroups(3, { extra: () => ({ maxMessageBytes: 64 * 1024 }) });
    try {
      const g = t.byId.get('p1')!;
      const err = await g.send('p2', 'big', new Uint8Array(100 * 1024)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CouplerError);
      expect((err as CouplerError).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
      expect((err as CouplerError).peers).toEqual([]);
      expect((err as CouplerError).peer).toBeUndefined();
      // The channel is still usable: nothing was sent.
      await g.send('p2', 'small', 1);
      expect(await t.byId.get('p2')!.receive('p1', 'small')).toBe(1);
    } finally {
      await t.close();
    }
  });
});
