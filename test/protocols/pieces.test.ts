/**
 * Long vectors travel in pieces, whatever the protocol: with every party's largest message set
 * below one whole vector (1 MiB + 4 KiB against 1.15 MB vectors), a sum that sent a vector in one
 * message fails (MESSAGE_TOO_LARGE) — these complete, exactly. In-process parties on 127.0.0.1,
 * real channels. A party that cheats in such an exchange (a piece of the wrong length, a piece
 * withheld) is named.
 */
import { plainSum, secureSum, thresholdSum } from '../../src/protocols';
import { OPEN_PIECE_ELEMENTS } from '../../src/protocols/additive';
import { CheatingDetectedError, CouplerError, ErrorCode, TimeoutError } from '../../src/errors';
import type { PlainData } from '../../src/wire/codec';
import { createTestGroups, quitAtDealPiece1, settleAll, type TestGroups } from '../support/group-harness';

jest.setTimeout(60_000);

/** Largest message of every party: more than one piece (1 MiB + framing), less than one vector. */
const MAX_MESSAGE_BYTES = 1024 * 1024 + 4096;
/** Two pieces, the last one short: 8L ≈ 1.15 MB. */
const L = OPEN_PIECE_ELEMENTS + 12_345;

let h: TestGroups;
let inputs: Float64Array[];
let want: Float64Array;
beforeAll(async () => {
  h = await createTestGroups(3, { roundTimeoutMs: 20_000, extra: () => ({ maxMessageBytes: MAX_MESSAGE_BYTES }) });
  // Integers and halves: exact in fixed point, so the expected sum is exact too.
  inputs = h.groups.map((_, gi) => Float64Array.from({ length: L }, (_, j) => ((j * 7 + gi * 13) % 2001) / 2 - 500));
  want = Float64Array.from({ length: L }, (_, j) => inputs.reduce((s, v) => s + v[j]!, 0));
});
afterAll(() => h.close());

function expectExact(sums: readonly Float64Array[]): void {
  for (const s of sums) {
    expect(s).toHaveLength(L);
    expect(s.findIndex((x, j) => x !== want[j])).toBe(-1); // (toEqual on 274k elements is slow)
  }
}

test('plainSum of a vector longer than the largest message is exact (sent in pieces)', async () => {
  const r = await Promise.all(h.groups.map((g, gi) => plainSum(g, inputs[gi]!, { bound: 1e4, acknowledgeInsecure: true })));
  expectExact(r.map((x) => x.sum));
});

test("secureSum with shares: 'vector' of a vector longer than the largest message is exact (shares dealt in pieces)", async () => {
  const r = await Promise.all(h.groups.map((g, gi) => secureSum(g, inputs[gi]!, { bound: 1e4, shares: 'vector' })));
  expectExact(r.map((x) => x.sum));
});

describe('a cheating party in an exchange of pieces', () => {
  let c: TestGroups;
  beforeEach(async () => {
    c = await createTestGroups(3, { roundTimeoutMs: 20_000 });
  });
  afterEach(() => c.close());

  /** Replace what party `gi` sends for `round`. */
  function tamper(gi: number, change: (round: string, payload: PlainData) => PlainData | undefined): void {
    const g = c.groups[gi]!;
    const send = g.sendToAll.bind(g);
    g.sendToAll = (round: string, payload: PlainData, to?: readonly string[]) => {
      const p = change(round, payload);
      return p === undefined ? Promise.resolve() : send(round, p, to);
    };
  }

  test('a piece of the wrong length names its sender (PROTOCOL_VIOLATION)', async () => {
    tamper(2, (round, payload) => (round.endsWith('/value/p1') ? (payload as Uint8Array).subarray(8) : payload));
    const r = await settleAll(c.groups.map((g, gi) => plainSum(g, inputs[gi]!, { bound: 1e4, acknowledgeInsecure: true })));
    for (const gi of [0, 1]) {
      expect(r[gi]!.ok).toBe(false);
      const e = (r[gi] as { error: CouplerError }).error;
      expect(e.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
      expect(e.peer).toBe(c.ids[2]);
    }
  });

  test('a party that withholds a piece is named by a timeout at the exchange deadline', async () => {
    tamper(2, (round, payload) => (round.endsWith('/value/p1') ? undefined : payload));
    const r = await settleAll(c.groups.map((g, gi) => plainSum(g, inputs[gi]!, { bound: 1e4, acknowledgeInsecure: true, roundTimeoutMs: 500 })));
    const errors = [0, 1].map((gi) => {
      expect(r[gi]!.ok).toBe(false);
      return (r[gi] as { error: CouplerError }).error;
    });
    // The first honest party to reach the deadline names the cheater; it tells the others it
    // stopped, so the second may report that instead — but no honest party is ever named.
    const timeouts = errors.filter((e): e is TimeoutError => e instanceof TimeoutError);
    expect(timeouts.length).toBeGreaterThan(0);
    for (const e of timeouts) {
      expect(e.peers).toEqual([c.ids[2]]);
      expect(e.message).toContain('piece 1 of 2');
    }
    for (const e of errors) expect(e.peers.filter((p) => p !== c.ids[2])).toEqual([]);
  });
});

describe('thresholdSum of a long vector (GF(2^61 − 1), in pieces)', () => {
  // One group for both tests, in order: a run that fails leaves the group usable; the last test
  // closes a party. (Exactness with every dealer is the second test's with three: the same code.
  // GF(2^61 − 1) arithmetic runs about ten times slower under jest than under node, so these two
  // take most of this file's time.)
  let c: TestGroups;
  beforeAll(async () => {
    c = await createTestGroups(4, { roundTimeoutMs: 20_000, extra: () => ({ maxMessageBytes: MAX_MESSAGE_BYTES }) });
  });
  afterAll(() => c.close());
  const inputsOf = (k: number): Float64Array[] => Array.from({ length: k }, (_, gi) => Float64Array.from({ length: L }, (_, j) => ((j * 5 + gi * 11) % 2001) / 2 - 500));
  const sumOf = (xs: readonly Float64Array[]): Float64Array => Float64Array.from({ length: L }, (_, j) => xs.reduce((s, v) => s + v[j]!, 0));

  /** Flip the low bit of element 1 (it stays below p) of a piece's bytes. */
  const flipped = (bytes: Uint8Array): Uint8Array => {
    const y = new Uint8Array(bytes);
    y[8] = y[8]! ^ 1;
    return y;
  };
  /**
   * One thresholdSum of every party, with p3 sending what `rewrite` makes of each of its messages
   * (its own link only; restored after the run); the honest parties' errors.
   */
  const honestErrorsWithCheater = async (rewrite: (peer: string, round: string, payload: PlainData) => PlainData): Promise<CouplerError[]> => {
    const xs = inputsOf(4);
    const cheater = c.groups[2]!;
    const send = cheater.send.bind(cheater);
    cheater.send = (peer: string, round: string, payload: PlainData) => send(peer, round, rewrite(peer, round, payload));
    let r;
    try {
      r = await settleAll(c.groups.map((g, gi) => thresholdSum(g, xs[gi]!, { bound: 1e4, t: 2 })));
    } finally {
      cheater.send = send as typeof cheater.send;
    }
    return [0, 1, 3].map((gi) => {
      expect(r[gi]!.ok).toBe(false);
      const e = (r[gi] as { error: CouplerError }).error;
      expect(e).toBeInstanceOf(CheatingDetectedError);
      return e;
    });
  };

  test('a tampered piece of a published partial sum names its sender: it is not the piece it committed to (COMMITMENT_MISMATCH; before protocol revision 4, only the degree check saw it: TAMPERING_DETECTED with the sender a suspect, nobody named)', async () => {
    const errors = await honestErrorsWithCheater((_peer, round, payload) => {
      if (!round.endsWith('/partial/p1')) return payload;
      const rec = payload as { q: Uint8Array; y: Uint8Array };
      return { ...rec, y: flipped(rec.y) };
    });
    for (const e of errors) {
      expect(e.code).toBe(ErrorCode.COMMITMENT_MISMATCH);
      expect(e.peers).toEqual([c.ids[2]]);
    }
  });
  test('a dealer that deals one party a tampered share piece puts that party\'s committed point off the polynomial: the degree check of that piece detects it, the receiver is the suspect, nobody is named', async () => {
    const victim = c.ids[0]!;
    const errors = await honestErrorsWithCheater((peer, round, payload) => (peer === victim && round.endsWith('/deal/p1') ? flipped(payload as Uint8Array) : payload));
    for (const e of errors) {
      expect(e.code).toBe(ErrorCode.TAMPERING_DETECTED);
      expect(e.peers).toEqual([]);
      expect(e.suspects).toEqual([victim]);
    }
  });
  test('a dealer that vanishes in the middle of its deal is left out; the others get the exact sum of their inputs, with every message below one vector', async () => {
    const xs = inputsOf(4);
    quitAtDealPiece1(c.groups[3]!);
    const r = await settleAll(c.groups.map((g, gi) => thresholdSum(g, xs[gi]!, { bound: 1e4, t: 2 })));
    const want = sumOf(xs.slice(0, 3));
    for (const gi of [0, 1, 2]) {
      expect(r[gi]!.ok).toBe(true);
      const x = (r[gi] as { value: { sum: Float64Array; contributors: readonly string[] } }).value;
      expect(x.contributors).toEqual(c.ids.slice(0, 3));
      expect(x.sum.findIndex((v, j) => v !== want[j])).toBe(-1);
    }
  });

});
