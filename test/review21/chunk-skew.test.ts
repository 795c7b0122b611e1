/**
 * Review 21, channel R19-1 (1b69e60: a frame that does not end its message must carry at least
 * MIN_CHUNK_BYTES, else FRAME_MALFORMED naming the sender): can an honest sender send a shorter
 * one? Every non-last frame is cut at the sender's chunkBytes, which resolveLimits keeps >= 1024,
 * and SecureChannel is the only sealer of MORE frames (relay and resume carry sealed frames or
 * re-send whole messages). Here parties with different chunkBytes (1024, 4096, the default 256 KiB)
 * exchange messages of every length around the chunk borders, real channels on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { createTestGroups, settleAll } from '../support/group-harness';

jest.setTimeout(120_000);

test('held: a sender with chunkBytes 1024 or 4096 reaches receivers with larger chunkBytes at every chunk border (no MORE frame under 1024)', async () => {
  // A receiver's frame cap is its own chunkBytes (ws maxPayload): a larger sender's frames are
  // refused there, before R19-1's check (noticed, pre-existing), so each party sends only to
  // parties whose chunkBytes are at least its own.
  const chunks: Record<string, number> = { p1: 1024, p2: 4096, p3: 256 * 1024 };
  const to: Record<string, string[]> = { p1: ['p2', 'p3'], p2: ['p3'], p3: [] };
  const from: Record<string, string[]> = { p1: [], p2: ['p1'], p3: ['p1', 'p2'] };
  const t = await createTestGroups(3, { extra: (id) => ({ chunkBytes: chunks[id]! }) });
  try {
    const lengths = [0, 1, 1023, 1024, 1025, 2047, 2048, 2049, 3071, 4095, 4096, 4097, 8193, 65_537, 300_001];
    for (const [k, len] of lengths.entries()) {
      const out = await settleAll(
        t.groups.map(async (g) => {
          const payload = new Uint8Array(randomBytes(len));
          await g.sendToAll(`r21/${k}`, payload, to[g.localId]!);
          if (from[g.localId]!.length === 0) return true;
          const got = await g.gather(`r21/${k}`, { from: from[g.localId]! });
          return [...got.values()].every((v) => (v as Uint8Array).length === len);
        }),
      );
      expect({ len, out: out.map((o) => (o.ok ? o.value : (o.error as { code?: string }).code)) }).toEqual({ len, out: [true, true, true] });
    }
  } finally {
    await t.close();
  }
});
