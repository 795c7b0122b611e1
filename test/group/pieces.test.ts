/**
 * Commit-then-open in pieces (the opening of long partial sums): every peer's pieces arrive in
 * order and checked, the result equals the one-message opening, and a piece that is not the
 * committed one names its sender. In-process parties on 127.0.0.1, real channels.
 */
import type { Group } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';
import { commitThenOpenPieces } from '../../src/group/commit';
import { secureSum } from '../../src/protocols';
import { OPEN_PIECE_ELEMENTS } from '../../src/protocols/additive';
import { CheatingDetectedError, ErrorCode } from '../../src/errors';
import { createTestGroups, settleAll, type TestGroups } from '../support/group-harness';
import { expectSameNumbers } from '../support/same-numbers';

jest.setTimeout(60_000);

let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(4, { roundTimeoutMs: 10_000 });
});
afterAll(() => h.close());

const pieceOf = (party: number, i: number): Uint8Array => new Uint8Array(1000 + i).fill((party * 16 + i) & 0xff);

test('every peer\'s pieces arrive checked and in piece order; each party may overwrite its own piece i when piece i arrives', async () => {
  const count = 7;
  const seen = h.groups.map(() => [] as string[]);
  await Promise.all(
    h.groups.map((g, gi) => {
      const mine = Array.from({ length: count }, (_, i) => pieceOf(gi, i));
      return commitThenOpenPieces(g, 'pc.1/open', count, (i) => mine[i]!, (party, i, bytes) => {
        const pi = h.ids.indexOf(party);
        expectSameNumbers(bytes, pieceOf(pi, i));
        seen[gi]!.push(`${i}:${party}`);
        mine[i]!.fill(0); // the piece was copied out before any piece i arrived
      });
    }),
  );
  h.groups.forEach((_g, gi) => {
    const order = seen[gi]!.map((s) => Number(s.split(':')[0]));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(seen[gi]).toHaveLength(count * (h.ids.length - 1));
  });
});

test('a piece that is not the committed one: COMMITMENT_MISMATCH naming the sender, at every honest party', async () => {
  const cheater = h.groups[2]!;
  const send = cheater.sendToAll.bind(cheater);
  cheater.sendToAll = (round: string, payload: PlainData, to?: readonly string[]) =>
    send(round, round === 'pc.2/open/p3' ? new Uint8Array(1003).fill(0xee) : payload, to);
  try {
    const results = await settleAll(
      h.groups.map((g, gi) => commitThenOpenPieces(g, 'pc.2/open', 6, (i) => pieceOf(gi, i), () => undefined)),
    );
    for (const [gi, r] of results.entries()) {
      if (gi === 2) continue;
      expect(r.ok).toBe(false);
      const e = (r as { error: unknown }).error as CheatingDetectedError;
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.code).toBe(ErrorCode.COMMITMENT_MISMATCH);
      expect(e.peer).toBe(h.ids[2]);
    }
  } finally {
    cheater.sendToAll = send as Group['sendToAll'];
  }
});

test('secureSum of a vector longer than one piece (three pieces, the last one short) is exact', async () => {
  const L = 2 * OPEN_PIECE_ELEMENTS + 12_345;
  // Integers and halves: exact in fixed point, so the expected sum is exact too.
  const inputs = h.groups.map((_, gi) => Float64Array.from({ length: L }, (_, j) => ((j * 7 + gi * 13) % 2001) / 2 - 500));
  const want = Float64Array.from({ length: L }, (_, j) => inputs.reduce((s, v) => s + v[j]!, 0));
  const secure = await Promise.all(h.groups.map((g, gi) => secureSum(g, inputs[gi]!, { bound: 1e4 })));
  for (const s of secure) {
    expect(s.sum).toHaveLength(L);
    const firstDiff = s.sum.findIndex((x, j) => x !== want[j]);
    expect(firstDiff).toBe(-1); // (toEqual on 274k elements is slow)
  }
});
