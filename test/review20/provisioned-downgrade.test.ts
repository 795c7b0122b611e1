/**
 * Review 20, R20-1: a station whose operator provisioned its identity and roster (option 1,
 * `COUPLER_IDENTITY_FILE` / `COUPLER_ROSTER_FILE` in the node's `algorithm_env`) must not take a
 * roster from the task input. README: option 1 "trusts no server"; architecture.md: "provisioned
 * by the station operator — strongest, trusts no server".
 *
 * Who writes the input: the task's creator (any researcher of the collaboration, or a malicious
 * server, which can re-encrypt any input with the organization's public key it stores). The
 * environment is the node's: vantage6 4.14 `vantage6-node/vantage6/node/docker/task_manager.py`
 * `_setup_environment_vars` merges the operator's `algorithm_env` (from the node configuration,
 * `docker_manager.py:143`) over the node's own variables; nothing in the task sets it.
 *
 * The attack: create a key subtask at the victim station (the built-in `coupler_key_exchange` is
 * served by every coupler image), read its public key from the result, then a compute subtask whose
 * input carries a roster of the victim's fresh key and keys the attacker holds. Before the fix the
 * station dropped its provisioned roster for that one and summed with the attacker's parties only:
 * the attacker learns the station's input exactly.
 *
 * Real files in a temp dir, real groups on 127.0.0.1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CouplerError } from '../../src/errors';
import { createRoster, generateIdentity, rosterBoundSessionId, rosterToJSON, saveIdentity, type Identity, type Roster } from '../../src/identity';
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { identityPath, keySubtask, loadPeerSession, readContainerEnv, type AlgorithmContext } from '../../src/vantage6';
import { AddressBook } from '../support/group-harness';
import { collectingLogger, tempDir, v6EncodeEnv } from '../vantage6/helpers';

jest.setTimeout(60_000);

describe('R20-1: a provisioned station (option 1) ignores nobody\'s roster but its operator\'s', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('coupler-r20-')));
  afterEach(() => cleanup());

  /** Station 2, provisioned by its operator with the collaboration's roster {1, 2, 3}. */
  async function provisionedStation(): Promise<{ ctxFor: (taskId: string) => AlgorithmContext; me: Identity; tmp: string }> {
    const me = generateIdentity('2');
    await saveIdentity(join(dir, 'identity.json'), me);
    const roster = createRoster([
      { id: '1', publicKey: generateIdentity().publicKey },
      { id: '2', publicKey: me.publicKey },
      { id: '3', publicKey: generateIdentity().publicKey },
    ]);
    writeFileSync(join(dir, 'roster.json'), rosterToJSON(roster));
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    // As the node hands them over: base32-encoded, the operator's variables from algorithm_env.
    const env = readContainerEnv(
      v6EncodeEnv({ COUPLER_IDENTITY_FILE: join(dir, 'identity.json'), COUPLER_ROSTER_FILE: join(dir, 'roster.json'), TEMPORARY_FOLDER: tmp }),
    );
    const ctxFor = (taskId: string): AlgorithmContext =>
      ({ organizationId: '2', taskId, temporaryFolder: tmp, stateFolder: tmp, env, logger: collectingLogger() }) as unknown as AlgorithmContext;
    return { ctxFor, me, tmp };
  }

  /**
   * A fresh key of the station in its state folder and its public key, as a key subtask leaves
   * them: by `keySubtask` where it still runs, else written as it writes it (a key subtask run
   * before the operator provisioned the station, or on 5.x another task of the session).
   */
  async function stationKey(ctx: AlgorithmContext, tmp: string): Promise<string> {
    try {
      return (await keySubtask(ctx)).publicKey;
    } catch {
      const key = generateIdentity('2');
      await saveIdentity(identityPath(tmp, ctx.taskId!), key);
      return Buffer.from(key.publicKey).toString('base64');
    }
  }

  test('the key subtask is refused at a provisioned station (typed VANTAGE6)', async () => {
    const { ctxFor } = await provisionedStation();
    await expect(keySubtask(ctxFor('31'))).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
  });

  test('a compute input with its own roster is refused (typed VANTAGE6), not used', async () => {
    const { ctxFor, tmp } = await provisionedStation();
    // The attacker's key subtask at the station: a fresh key, announced.
    const announced = { publicKey: await stationKey(ctxFor('41'), tmp) };
    const mallory = [generateIdentity('8'), generateIdentity('9')];
    const roster = createRoster([{ id: '2', publicKey: announced.publicKey }, ...mallory.map((m) => ({ id: m.id!, publicKey: m.publicKey }))]);
    const kwargs = { roster: roster.toJSON(), sessionId: rosterBoundSessionId(roster, 'v6-42-attacker'), keyTaskId: '41' };
    const outcome = await loadPeerSession(kwargs, ctxFor('42')).then(
      (s) => ({ roster: s.roster.ids }),
      (e: unknown) => e,
    );
    expect(outcome).toBeInstanceOf(CouplerError);
    expect(outcome).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
    expect(String((outcome as Error).message)).toContain('COUPLER_ROSTER_FILE');
  });

  test('end to end: the attacker does not learn the station\'s input', async () => {
    const { ctxFor, tmp } = await provisionedStation();
    const announced = { publicKey: await stationKey(ctxFor('51'), tmp) };
    const mallory = [generateIdentity('8'), generateIdentity('9')];
    const roster: Roster = createRoster([{ id: '2', publicKey: announced.publicKey }, ...mallory.map((m) => ({ id: m.id!, publicKey: m.publicKey }))]);
    const kwargs = { roster: roster.toJSON(), sessionId: rosterBoundSessionId(roster, 'v6-52-attacker'), keyTaskId: '51' };
    const secret = 123_456;
    const learned = await loadPeerSession(kwargs, ctxFor('52')).then(
      async (session) => {
        // The station runs the sum it was asked to, with the parties of the input's roster.
        const book = new AddressBook();
        const join1 = (identity: Identity, id: string): Promise<Group> =>
          joinGroup({
            identity,
            roster: session.roster,
            sessionId: session.sessionId,
            localId: id,
            discovery: book.discoveryFor(id),
            listen: { host: '127.0.0.1', port: 0 },
            timeoutMs: 20_000,
            roundTimeoutMs: 10_000,
            discoveryIntervalMs: 20,
            onEvent: (e) => (e.type === 'listening' ? book.add(id, e.port) : undefined),
          });
        const groups = await Promise.all([join1(session.identity, '2'), join1(mallory[0]!, '8'), join1(mallory[1]!, '9')]);
        try {
          const [, m8] = await Promise.all([secureSum(groups[0]!, [secret]), secureSum(groups[1]!, [0]), secureSum(groups[2]!, [0])]);
          return Number(m8.sum[0]); // the sum minus the attacker's own zeros
        } finally {
          await Promise.all(groups.map((g) => g.close()));
        }
      },
      () => undefined,
    );
    expect(learned).not.toBe(secret);
  });
});
