/**
 * What a compute subtask takes from a task's input (option 2) before it spends its one-shot key
 * (review 20, noticed and left alone there; fixed here):
 * - a session id `joinGroup` refuses (the handshake's 1–128 printable ASCII) was accepted and the
 *   key file consumed first, so the run failed only after its key was gone;
 * - the input roster's `address` hints were kept: `joinGroup` dials a roster's addresses first, as
 *   trusted configuration, so whoever writes the input (a researcher, the server) chose hosts and
 *   ports inside the station's network that it connects to. `runPeerTasks` never sets them; the
 *   peers are found by the node's discovery. The operator's provisioned roster keeps its addresses.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRoster, generateIdentity, rosterBoundSessionId, saveIdentity } from '../../src/identity';
import { identityPath, loadPeerSession, readContainerEnv, type AlgorithmContext } from '../../src/vantage6';
import { collectingLogger, tempDir } from '../vantage6/helpers';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('coupler-r20-input-')));
afterEach(() => cleanup());

async function station(): Promise<{ tmp: string; ctx: AlgorithmContext; me: ReturnType<typeof generateIdentity> }> {
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const me = generateIdentity('2');
  await saveIdentity(identityPath(tmp, 61), me);
  const ctx = { organizationId: '2', taskId: '62', temporaryFolder: tmp, stateFolder: tmp, env: readContainerEnv({}), logger: collectingLogger() } as unknown as AlgorithmContext;
  return { tmp, ctx, me };
}

test('a session id joinGroup would refuse is refused before the key file is spent', async () => {
  const { tmp, ctx, me } = await station();
  const roster = createRoster([{ id: '1', publicKey: generateIdentity().publicKey }, { id: '2', publicKey: me.publicKey }]);
  for (const sessionId of ['has space', 'x'.repeat(129), 'naïve']) {
    const outcome = await loadPeerSession({ roster: roster.toJSON(), sessionId, keyTaskId: 61 }, ctx).then(
      () => 'accepted',
      (e: { code?: string }) => e.code,
    );
    expect({ sessionId: sessionId.slice(0, 12), outcome }).toEqual({ sessionId: sessionId.slice(0, 12), outcome: 'COUPLER_ERR_VANTAGE6' });
    expect(existsSync(identityPath(tmp, 61))).toBe(true);
  }
});

test("an input roster's address hints are dropped: the input's author does not choose whom the station dials", async () => {
  const { ctx, me } = await station();
  const input = createRoster([
    { id: '1', publicKey: generateIdentity().publicKey, address: '10.0.0.5:22' },
    { id: '2', publicKey: me.publicKey, address: 'station-b:8888' },
    { id: '3', publicKey: generateIdentity().publicKey, address: 'internal-db:5432' },
  ]);
  const sessionId = rosterBoundSessionId(input, 'v6-60-0123456789abcdef0123456789abcdef');
  const session = await loadPeerSession({ roster: input.toJSON(), sessionId, keyTaskId: 61 }, ctx);
  expect(session.roster.entries().map((e) => e.address)).toEqual([undefined, undefined, undefined]);
  expect(session.roster.ids).toEqual(['1', '2', '3']);
  expect(session.roster.verify('2', me.publicKey)).toBe(true);
});
