/**
 * review17 R17-4: when several peers' round-2 digests fail at a party, the echo reports the first
 * failure in canonical party order — a peer's abort notice that names nobody (it cannot confirm
 * whom it blames) hides a protocol violation this party saw with its own eyes. A cheater that
 * makes a lower-ordered honest party abort (a malformed value to it) and sends this party a
 * malformed digest goes unnamed here, though this party holds a certain verdict against it.
 *
 * Real groups over real channels on 127.0.0.1; the cheater runs the real echo and rewrites its own
 * messages; the honest parties report a failed exchange with `endRun(run, err)` (their notice).
 */
import { partiesWith, join, closeAll } from './support';
import { settleAll } from '../support/group-harness';
import { cheat } from '../support/cheat';
import { echoBroadcast } from '../../src/group/echo';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { PlainData } from '../../src/wire/codec';

jest.setTimeout(60_000);
afterEach(closeAll);

test('a malformed digest seen here names its sender, even when a lower-ordered peer stopped the run naming nobody', async () => {
  const p = partiesWith(['f1', 'f2', 'f3']);
  const gs = await join(p, 2000);
  const [me, stopped, culprit] = [gs[0]!, gs[1]!, gs[2]!];
  const run = 'own.1';
  const round = `${run}/e`;
  cheat(culprit, async (send, peer, r, payload) => {
    // To f2 a value that is not bytes (f2 stops at round 1, naming f3); to f1 a digest of 31 bytes.
    if (r === `${round}/v` && peer === stopped.localId) return send(peer, r, { v: 'not bytes', sig: (payload as { sig: Uint8Array }).sig });
    if (r === `${round}/d` && peer === me.localId) return send(peer, r, { ...(payload as Record<string, PlainData>), d: new Uint8Array(31) });
    return send(peer, r, payload);
  });
  const results = await settleAll(
    gs.map((g) =>
      echoBroadcast(g, round, { from: g.localId }).catch((err: unknown) => {
        if (g !== culprit) g.endRun(run, err);
        throw err;
      }),
    ),
  );
  const errorOf = (i: number): CouplerError => (results[i] as { error: unknown }).error as CouplerError;
  expect(errorOf(1).peers).toEqual([culprit.localId]);
  const e = errorOf(0);
  console.log(`[R17-4] f1: ${e.code} peers=${JSON.stringify(e.peers)}: ${e.message.slice(0, 140)}`);
  expect([ErrorCode.FRAME_MALFORMED, ErrorCode.PROTOCOL_VIOLATION]).toContain(e.code);
  expect(e.peers).toEqual([culprit.localId]);
});
