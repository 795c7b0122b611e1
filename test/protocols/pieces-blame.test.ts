/**
 * Blame at the deadline of the protocols' piece exchange (`exchangePieces` in
 * src/protocols/common.ts: long share vectors, plainSum's and the openings' pieces). Review 8's
 * R8-10 fixed it together with the echo and commit.ts's pieces; this is the test of this site.
 *
 * Schedule: p2 withholds its piece 1 from p1 alone and answers p1's liveness probes saying it waits
 * for p3 (which answers them too). p1's gather of piece 1 then names nobody — p2 and p3 are
 * suspects, either may be the withholder — and the exchange must report exactly that. Before the
 * fix it re-wrapped a timeout naming nobody as one naming every peer still in the exchange: p3 and
 * p4, honest, named by TIMEOUT.
 */
import { createTestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';
import { withhold } from '../support/withhold';
import { exchangePieces } from '../../src/protocols/common';

const failure = (p: Promise<unknown>): Promise<CouplerError | undefined> => p.then(() => undefined, (e: unknown) => e as CouplerError);

afterEach(() => jest.restoreAllMocks());

test('a piece exchange whose gather named nobody (suspects only) names nobody — never every peer', async () => {
  const h = await createTestGroups(4, { roundTimeoutMs: 10_000 });
  try {
    // p2 → p1: piece 1 never leaves; every probe answer says "I wait for p3".
    withhold({ from: 'p2', to: 'p1', drop: (r) => r === 'ex.1/v/p1', claims: ['p3'] });
    // 20 000 bytes per piece: each goes alone, never in a batch with another message.
    const piece = (party: number, i: number): Uint8Array => new Uint8Array(20_000).fill((party * 16 + i) & 0xff);
    const pieces = new Map<string, number>();
    const runs = h.groups.map((g, gi) =>
      failure(
        exchangePieces(
          g,
          {
            round: 'ex.1/v',
            count: 3,
            from: g.peers,
            bytesPerPeer: 3 * 20_000,
            send: (i) => g.sendToAll(`ex.1/v/p${i}`, piece(gi, i)),
            onPiece: (i, got) => {
              for (const peer of got.keys()) pieces.set(`${g.localId}<${peer}`, i);
            },
          },
          // p1 reaches its deadline first; the others wait longer, so p1's verdict is its own.
          { timeoutMs: g.localId === 'p1' ? 1_500 : 6_000 },
        ),
      ),
    );
    const e1 = await runs[0]!;
    expect(e1).toBeInstanceOf(CouplerError);
    expect(e1!.code).toBe(ErrorCode.TIMEOUT);
    // Nobody honest is named: p3 and p4 never, and p2 — which claims to wait for the live p3 — is a
    // suspect with p3, not named (the suspects rule of Group.gather).
    for (const p of ['p3', 'p4']) expect(e1!.peers).not.toContain(p);
    expect(e1!.peers).toEqual([]);
    expect(e1!.suspects).toEqual(expect.arrayContaining(['p2', 'p3']));
    // p1 held piece 0 from everyone before it stopped (the exchange went on until piece 1).
    for (const peer of ['p2', 'p3', 'p4']) expect(pieces.get(`p1<${peer}`)).toBe(0);
    void runs; // the others' outcome is not asserted: closing the groups ends them (they waited out their 6 s deadline)
  } finally {
    await h.close();
  }
}, 60_000);
