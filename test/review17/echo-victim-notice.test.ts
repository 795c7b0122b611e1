/**
 * review17 R17-2: a caller of the public echo (`echoBroadcast`, exported by the package) whose party
 * is made to abort by a cheater — here the documented case: the cheater sends it an invalidly signed
 * value and the others another value, so it refuses to forward the forged statement and stops
 * naming the cheater — has no way to send its peers the run's abort notice the module notes rely on
 * ("its mismatching peers, told by its abort notice while they wait for its list, name nobody"):
 * only the sum protocols send one (`Group._runFailed`, internal). The honest peers waiting for its
 * fallback list then find it alive and waiting for nobody, and name it (`TIMEOUT`): an honest party
 * named by honest parties. test/group/echo.test.ts asserted exactly that ("its mismatching peers
 * name it by TIMEOUT").
 *
 * Fix under test: `Group.endRun(run, error)` — ending a caller's exchange because of an error first
 * tells every peer, with the abort notice the protocols send. A caller that reports its failed
 * exchange so gets the README's behaviour: the others name nobody (they cannot check its claim),
 * and never the party that stopped.
 *
 * Real groups over real channels on 127.0.0.1; the cheater runs the real echo and rewrites only its
 * own round-1 message to the victim (another value, signature garbage).
 */
import { partiesWith, join, closeAll } from './support';
import { settleAll } from '../support/group-harness';
import { cheat } from '../support/cheat';
import { echoBroadcast } from '../../src/group/echo';
import { encodeMessage, type PlainData } from '../../src/wire/codec';
import { CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';

jest.setTimeout(60_000);
afterEach(closeAll);

test('the victim of a forged round-1 statement reports its failed exchange with endRun(run, err): no honest party names it', async () => {
  const p = partiesWith(['v1', 'v2', 'v3', 'v4']);
  const gs = await join(p, 1500);
  const run = 'mine.1';
  const round = `${run}/c`;
  const [victim, , culprit] = [gs[0]!, gs[1]!, gs[2]!];
  cheat(culprit, async (send, peer, r, payload) => {
    if (r === `${round}/v` && peer === victim.localId) {
      const v = encodeMessage({ other: 'value' } as PlainData);
      return send(peer, r, { v, sig: new Uint8Array(64).fill(1) });
    }
    return send(peer, r, payload);
  });
  const endRun = (g: Group, err: unknown): void => (g.endRun as (run: string, error?: unknown) => void).call(g, run, err);
  const results = await settleAll(
    gs.map((g) =>
      echoBroadcast(g, round, { from: g.localId }).catch((err: unknown) => {
        // What a caller does with a failed exchange of its own (the protocols do the same for theirs).
        if (g !== culprit) endRun(g, err);
        throw err;
      }),
    ),
  );
  const errorOf = (i: number): CouplerError => {
    expect(results[i]!.ok).toBe(false);
    return (results[i] as { error: unknown }).error as CouplerError;
  };
  // The victim names the cheater (it refuses to forward a statement it cannot vouch for).
  expect(errorOf(0).code).toBe(ErrorCode.PROTOCOL_VIOLATION);
  expect(errorOf(0).peers).toEqual([culprit.localId]);
  // The other honest parties wait for the victim's list: they may name nobody, never the victim.
  for (const i of [1, 3]) {
    const e = errorOf(i);
    console.log(`[R17-2] ${gs[i]!.localId}: ${e.code} peers=${JSON.stringify(e.peers)} suspects=${JSON.stringify(e.suspects)}`);
    expect(e.peers).not.toContain(victim.localId);
    expect(e.peers).not.toContain(gs[i === 1 ? 3 : 1]!.localId);
  }
});
