/**
 * Review 20, R20-4 (open, documented): under option 2 the roster reaches a station in the compute
 * subtask's input, so whoever can create tasks at the station chooses its co-parties.
 *
 * vantage6 facts (mirror of github:vantage6/vantage6):
 * - 4.14 `vantage6-server/vantage6/server/resource/task.py:784-794`: a task a *user* creates always
 *   gets a new `job_id`; only tasks created by a container inherit their parent's. 4.14
 *   `vantage6-node/vantage6/node/__init__.py:451-453`: one temporary volume per `job_id`
 *   (`TEMPORARY_FOLDER`). So a user's own key task and compute task never share a folder: the
 *   compute task cannot find the key (held below).
 * - 5.0.0rc2 `vantage6-node/vantage6/node/k8s/container_manager.py:942-962`: `SESSION_FOLDER` is the
 *   session's folder, shared by every task of the session, user-created ones included; a user may
 *   name any method with `action: federated_compute` (`vantage6-hq/.../common/task_post_base.py`
 *   `__check_action`: a method the store does not list takes the given action), and a federated
 *   container gets no token (`container_manager.py:429-430`), so it cannot ask the server who
 *   created its task or whether it has a parent. Nothing a 5.x station sees tells a roster built by
 *   the algorithm's central function from one written by the task's creator.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRoster, generateIdentity, rosterBoundSessionId } from '../../src/identity';
import { keySubtask, loadPeerSession, readContainerEnv, type AlgorithmContext } from '../../src/vantage6';
import { collectingLogger, tempDir } from '../vantage6/helpers';

describe('R20-4: a roster written by the task creator', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('coupler-r20-')));
  afterEach(() => cleanup());

  const ctxIn = (folder: string, taskId: string): AlgorithmContext =>
    ({ organizationId: '2', taskId, temporaryFolder: folder, stateFolder: folder, env: readContainerEnv({}), logger: collectingLogger() }) as unknown as AlgorithmContext;

  test('held on 4.x: a user-created compute task runs in another job\'s folder than the user-created key task, and finds no key (typed)', async () => {
    const job1 = join(dir, 'job-1-tmpvol');
    const job2 = join(dir, 'job-2-tmpvol');
    mkdirSync(job1);
    mkdirSync(job2);
    const announced = await keySubtask(ctxIn(job1, '71'));
    const mallory = [generateIdentity('8'), generateIdentity('9')];
    const roster = createRoster([{ id: '2', publicKey: announced.publicKey }, ...mallory.map((m) => ({ id: m.id!, publicKey: m.publicKey }))]);
    await expect(
      loadPeerSession({ roster: roster.toJSON(), sessionId: rosterBoundSessionId(roster, 'v6-72-x'), keyTaskId: '71' }, ctxIn(job2, '72')),
    ).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6', message: expect.stringContaining('no secret key of key subtask 71') });
  });

  // OPEN (R20-4): on 5.x the key task and the compute task of one session share SESSION_FOLDER,
  // whoever created them, and the station has nothing to tell the creator's roster from the central
  // function's (no token, no parent). Not fixable in the library; README "Security considerations"
  // says so and points to option 1 (provisioned stations refuse input rosters since R20-1).
  test.skip('5.x: a user-created compute task with its own roster in the session of its key task is refused', async () => {
    const session = join(dir, 'session-5');
    mkdirSync(session);
    const announced = await keySubtask(ctxIn(session, '81'));
    const mallory = [generateIdentity('8'), generateIdentity('9')];
    const roster = createRoster([{ id: '2', publicKey: announced.publicKey }, ...mallory.map((m) => ({ id: m.id!, publicKey: m.publicKey }))]);
    await expect(
      loadPeerSession({ roster: roster.toJSON(), sessionId: rosterBoundSessionId(roster, 'v6-82-x'), keyTaskId: '81' }, ctxIn(session, '82')),
    ).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
  });
});
