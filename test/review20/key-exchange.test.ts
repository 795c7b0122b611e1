/**
 * Review 20: the key exchange of option 2 (`buildRosterFromResults`) and the compute subtask's
 * session (`loadPeerSession`) against a hostile organisation and a server that splits views.
 *
 * vantage6 facts used (mirror of github:vantage6/vantage6, tag version/4.14.0):
 * - `vantage6-server/vantage6/server/resource/run.py:110-117`: the VIEW rule of scope
 *   COLLABORATION is assigned to containers — a station's key subtask can read the other runs of
 *   the key task, and in a collaboration without encryption their results (announcements) in the
 *   clear, so it can announce another organisation's key as its own.
 * - Run ids, and so the order of `GET /result?task_id=`, follow the order of the task's
 *   organizations (`resource/task.py`, one run per organization as listed), which the central
 *   container chooses: the order says nothing about who copied whom.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CouplerError } from '../../src/errors';
import { createRoster, encodePublicKey, generateIdentity, rosterBoundSessionId, saveIdentity } from '../../src/identity';
import { buildRosterFromResults, identityPath, loadPeerSession, readContainerEnv, type AlgorithmContext, type SubtaskResult } from '../../src/vantage6';
import { collectingLogger, tempDir } from '../vantage6/helpers';

const announce = (org: number, publicKey: Uint8Array, keyTaskId = 7): SubtaskResult => ({
  runId: 1000 + org,
  organizationId: org,
  result: { type: 'coupler-public-key', version: 1, organizationId: String(org), publicKey: encodePublicKey(publicKey), keyTaskId: String(keyTaskId) },
});

function caught(f: () => unknown): CouplerError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(CouplerError);
    return err as CouplerError;
  }
  throw new Error('did not throw');
}

describe('R20-3: a key-exchange fault is pinned on the organisation that can have caused it, and only then', () => {
  const k1 = generateIdentity().publicKey;
  const k3 = generateIdentity().publicKey;

  test('a weak key (the identity point: anyone can sign for it) names the organisation that announced it, like a malformed key', () => {
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const err = caught(() => buildRosterFromResults([announce(1, k1), announce(2, identityPoint), announce(3, k3)], { expectedOrganizations: [1, 2, 3], keyTaskId: 7 }));
    expect({ code: err.code, peers: err.peers }).toEqual({ code: 'COUPLER_ERR_VANTAGE6', peers: ['2'] });
  });

  test('a key copied from another organisation names neither (either could be the copier); both are suspects', () => {
    // Organisation 2 read 1's announcement (unencrypted collaboration) and returned it as its own;
    // its run comes first because the central listed it first.
    const err = caught(() => buildRosterFromResults([announce(2, k1), announce(1, k1), announce(3, k3)], { expectedOrganizations: [2, 1, 3], keyTaskId: 7 }));
    expect({ peers: err.peers, suspects: [...err.suspects].sort() }).toEqual({ peers: [], suspects: ['1', '2'] });
    // The message does not single out the later one (before: 'roster entry 1 (id "1"): ... the same key as party "2"').
    expect(err.message).not.toMatch(/roster entry/);
    expect((err as CouplerError & { entry?: string }).entry).toBeUndefined();
  });
});

describe('R20-2: a compute subtask refuses a roster that is not the one its session id commits to', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('coupler-r20-')));
  afterEach(() => cleanup());

  test('roster-bound session id of roster R, input roster R′ (one key swapped): refused before joining, typed', async () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const me = generateIdentity('2');
    await saveIdentity(identityPath(tmp, 61), me);
    const one = generateIdentity().publicKey;
    const real3 = generateIdentity().publicKey;
    const fake3 = generateIdentity().publicKey; // the server's key for organisation 3 in this station's view
    const agreed = createRoster([{ id: '1', publicKey: one }, { id: '2', publicKey: me.publicKey }, { id: '3', publicKey: real3 }]);
    const splitView = createRoster([{ id: '1', publicKey: one }, { id: '2', publicKey: me.publicKey }, { id: '3', publicKey: fake3 }]);
    const sessionId = rosterBoundSessionId(agreed, 'v6-60-0123456789abcdef0123456789abcdef');
    const ctx = { organizationId: '2', taskId: '62', temporaryFolder: tmp, stateFolder: tmp, env: readContainerEnv({}), logger: collectingLogger() } as unknown as AlgorithmContext;
    const outcome = await loadPeerSession({ roster: splitView.toJSON(), sessionId, keyTaskId: 61 }, ctx).then(
      () => 'accepted',
      (e: unknown) => e,
    );
    expect(outcome).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
  });
});
