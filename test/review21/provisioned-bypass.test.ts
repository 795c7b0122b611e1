/**
 * Review 21, keys.ts (R20-1 fix 5fa4eda, f99b7c2): ways a task's input might get past a
 * provisioned station's refusal of an input roster. All held on this code.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createRoster, generateIdentity, rosterToJSON, saveIdentity } from '../../src/identity';
import { keySubtask, loadPeerSession, readContainerEnv, type AlgorithmContext } from '../../src/vantage6';
import { collectingLogger, tempDir, v6EncodeEnv } from '../vantage6/helpers';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('coupler-r21-prov-')));
afterEach(() => cleanup());

async function station(vars: Record<string, string>): Promise<AlgorithmContext> {
  const env = readContainerEnv(v6EncodeEnv({ TEMPORARY_FOLDER: dir, ...vars }));
  return { organizationId: '2', taskId: '77', temporaryFolder: dir, stateFolder: dir, env, logger: collectingLogger() } as unknown as AlgorithmContext;
}

async function provisionedFiles(): Promise<{ identity: string; roster: string }> {
  const me = generateIdentity('2');
  const identity = join(dir, 'identity.json');
  await saveIdentity(identity, me);
  const roster = join(dir, 'roster.json');
  writeFileSync(roster, rosterToJSON(createRoster([{ id: '1', publicKey: generateIdentity().publicKey }, { id: '2', publicKey: me.publicKey }])));
  return { identity, roster };
}

const attackerRoster = (): unknown => JSON.parse(rosterToJSON(createRoster([{ id: '2', publicKey: generateIdentity().publicKey }, { id: '9', publicKey: generateIdentity().publicKey }])));

test('held: only the roster variable set (no identity variable) still refuses an input roster and makes no key', async () => {
  const { roster } = await provisionedFiles();
  const ctx = await station({ COUPLER_ROSTER_FILE: roster });
  await expect(loadPeerSession({ roster: attackerRoster(), sessionId: 's1', keyTaskId: 77 }, ctx)).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
  await expect(keySubtask(ctx)).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
});

test('held: a roster of null, or one under another name ("Roster", "roster " ), gets no input roster used', async () => {
  const files = await provisionedFiles();
  const ctx = await station({ COUPLER_IDENTITY_FILE: files.identity, COUPLER_ROSTER_FILE: files.roster });
  await expect(loadPeerSession({ roster: null, sessionId: 's1' }, ctx)).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
  for (const name of ['Roster', 'roster ', 'ROSTER']) {
    const s = await loadPeerSession({ [name]: attackerRoster(), sessionId: 's1', keyTaskId: 77 }, ctx);
    // The provisioned roster ({1, 2}), not the attacker's ({2, 9}).
    expect(s.roster.entries().map((e) => e.id)).toEqual(['1', '2']);
  }
});

test('held: a session id the handshake refuses is refused before the key file is read (nothing spent)', async () => {
  const ctx = await station({});
  for (const sessionId of ['', ' ', 'a b', 'x'.repeat(129), 'é', 5]) {
    await expect(loadPeerSession({ roster: attackerRoster(), sessionId, keyTaskId: 77 }, ctx)).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
  }
});
