/**
 * Review 20: what HELD (so later reviews need not repeat it). Real files and real FIFOs/symlinks
 * in temp dirs; no network.
 *
 * - keyTaskId from the input never leaves the state folder (traversal, separators, odd numbers).
 * - A file, a symlink or a dangling symlink planted at the next key path (5.x: another task of
 *   the session can write SESSION_FOLDER) is never written through or overwritten: the key
 *   subtask fails, typed (`open(path, 'wx')` = O_CREAT|O_EXCL, which refuses symlinks too).
 * - The key file is mode 0600 whatever the umask.
 * - A key file swapped for a FIFO, or for another identity, after the key subtask: typed refusal,
 *   no hang, and the station never runs with a key that is not its roster key.
 * - Junk in a compute subtask's input: typed errors, never the secret seed in a message.
 * - A huge or malformed announcement: typed, naming its organisation.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CouplerError } from '../../src/errors';
import { createRoster, encodePublicKey, generateIdentity, rosterBoundSessionId, saveIdentity, serializeIdentity } from '../../src/identity';
import { buildRosterFromResults, identityPath, keySubtask, loadPeerSession, readContainerEnv, type AlgorithmContext, type SubtaskResult } from '../../src/vantage6';
import { keyFileOfInput } from '../../src/vantage6/keys';
import { collectingLogger, tempDir } from '../vantage6/helpers';

let dir: string;
let tmp: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('coupler-r20-held-'));
  tmp = join(dir, 'state');
  mkdirSync(tmp);
});
afterEach(() => cleanup());

const ctxFor = (taskId: string, org = '2'): AlgorithmContext =>
  ({ organizationId: org, taskId, temporaryFolder: tmp, stateFolder: tmp, env: readContainerEnv({}), logger: collectingLogger() }) as unknown as AlgorithmContext;

async function rejection(p: Promise<unknown>): Promise<CouplerError> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(CouplerError);
  return outcome as CouplerError;
}

describe('keyTaskId stays inside the state folder', () => {
  test.each(['../x', '..', '.', '.hidden', 'a/b', 'a\\b', '', 'x'.repeat(65), 'a b', 'a\u0000b', 1e21, 1.5e300])('%p is refused (typed), and never names a file to delete', async (id) => {
    expect(() => identityPath(tmp, id as string)).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_INVALID_ARGUMENT' }));
    expect(keyFileOfInput({ keyTaskId: id }, tmp)).toBeUndefined();
    const roster = createRoster([{ id: '2', publicKey: generateIdentity().publicKey }, { id: '3', publicKey: generateIdentity().publicKey }]);
    const err = await rejection(loadPeerSession({ roster: roster.toJSON(), sessionId: 's', keyTaskId: id }, ctxFor('9')));
    expect(err.code).toBe('COUPLER_ERR_INVALID_ARGUMENT');
  });

  test('ids that are names stay in the folder: -1, NaN, 1.5', () => {
    for (const id of [-1, Number.NaN, 1.5, 'abc']) expect(identityPath(tmp, id).startsWith(`${tmp}/coupler-identity-task-`)).toBe(true);
  });
});

describe('planted files at the next key path (a co-tenant of the state folder)', () => {
  test('a symlink to a file elsewhere: the key subtask fails typed; the target is untouched', async () => {
    const target = join(dir, 'victim.txt');
    writeFileSync(target, 'precious');
    symlinkSync(target, identityPath(tmp, '31'));
    const err = await rejection(keySubtask(ctxFor('31')));
    expect(err.code).toBe('COUPLER_ERR_IDENTITY_INVALID');
    expect(readFileSync(target, 'utf8')).toBe('precious');
  });

  test('a dangling symlink: not followed (no file appears at its target)', async () => {
    const target = join(dir, 'would-be-created.json');
    symlinkSync(target, identityPath(tmp, '32'));
    expect((await rejection(keySubtask(ctxFor('32')))).code).toBe('COUPLER_ERR_IDENTITY_INVALID');
    expect(existsSync(target)).toBe(false);
  });

  test('an identity the co-tenant knows: never overwritten, never used (the key subtask fails)', async () => {
    const planted = serializeIdentity(generateIdentity('2'));
    writeFileSync(identityPath(tmp, '33'), planted);
    expect((await rejection(keySubtask(ctxFor('33')))).code).toBe('COUPLER_ERR_IDENTITY_INVALID');
    expect(readFileSync(identityPath(tmp, '33'), 'utf8')).toBe(planted);
  });

  test('the key file is 0600 even under umask 000', async () => {
    const old = process.umask(0);
    try {
      await keySubtask(ctxFor('34'));
    } finally {
      process.umask(old);
    }
    expect(statSync(identityPath(tmp, '34')).mode & 0o777).toBe(0o600);
  });
});

describe('the key file swapped after the key subtask', () => {
  const rosterWith = async (taskId: string): Promise<{ roster: ReturnType<typeof createRoster>; sessionId: string }> => {
    const a = await keySubtask(ctxFor(taskId));
    const roster = createRoster([{ id: '2', publicKey: a.publicKey }, { id: '3', publicKey: generateIdentity().publicKey }]);
    return { roster, sessionId: rosterBoundSessionId(roster, `v6-${taskId}-x`) };
  };

  test('for a FIFO nobody writes: refused at once (typed), no hang', async () => {
    const { roster, sessionId } = await rosterWith('41');
    rmSync(identityPath(tmp, '41'));
    execFileSync('mkfifo', [identityPath(tmp, '41')]);
    const started = Date.now();
    const err = await rejection(loadPeerSession({ roster: roster.toJSON(), sessionId, keyTaskId: '41' }, ctxFor('42')));
    expect(err.code).toBe('COUPLER_ERR_IDENTITY_INVALID');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('for another identity of "organisation 2": refused, the station does not run with it', async () => {
    const { roster, sessionId } = await rosterWith('43');
    rmSync(identityPath(tmp, '43'));
    await saveIdentity(identityPath(tmp, '43'), generateIdentity('2'));
    const err = await rejection(loadPeerSession({ roster: roster.toJSON(), sessionId, keyTaskId: '43' }, ctxFor('44')));
    expect(err).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6', message: 'the saved key of organization 2 is not its key in the roster' });
  });
});

describe('junk in a compute subtask\'s input: typed errors, no secret in messages', () => {
  test.each<[string, Record<string, unknown>]>([
    ['roster a string', { roster: 'x', sessionId: 's', keyTaskId: '51' }],
    ['roster a number', { roster: 5, sessionId: 's', keyTaskId: '51' }],
    ['roster null', { roster: null, sessionId: 's', keyTaskId: '51' }],
    ['roster empty', { roster: [], sessionId: 's', keyTaskId: '51' }],
    ['roster parties not an array', { roster: { parties: 'x' }, sessionId: 's', keyTaskId: '51' }],
    ['roster of 5000 parties', { roster: { parties: Array.from({ length: 5000 }, (_, i) => ({ id: String(i), publicKey: 'AAAA' })) }, sessionId: 's', keyTaskId: '51' }],
    ['roster entry with __proto__', { roster: JSON.parse('{"parties":[{"id":"2","publicKey":"AAAA","__proto__":{"x":1}}]}') as unknown, sessionId: 's', keyTaskId: '51' }],
    ['sessionId a number', { roster: { parties: [] }, sessionId: 5, keyTaskId: '51' }],
    ['sessionId too long', { roster: { parties: [] }, sessionId: 'x'.repeat(201), keyTaskId: '51' }],
    ['no sessionId', { roster: { parties: [] }, keyTaskId: '51' }],
    ['keyTaskId an object', { keyTaskId: {}, sessionId: 's' }],
    ['this station not in the roster', { sessionId: 's', keyTaskId: '51' }],
  ])('%s', async (_why, input) => {
    const me = await keySubtask(ctxFor('51'));
    const secretSeed = (JSON.parse(readFileSync(identityPath(tmp, '51'), 'utf8')) as { secretSeed: string }).secretSeed;
    const kwargs = { ...input };
    if (kwargs.roster === undefined) kwargs.roster = createRoster([{ id: '3', publicKey: generateIdentity().publicKey }, { id: '4', publicKey: generateIdentity().publicKey }]).toJSON();
    if (_why === 'keyTaskId an object') kwargs.roster = createRoster([{ id: '2', publicKey: me.publicKey }, { id: '3', publicKey: generateIdentity().publicKey }]).toJSON();
    const err = await rejection(loadPeerSession(kwargs, ctxFor('52')));
    expect(['COUPLER_ERR_VANTAGE6', 'COUPLER_ERR_ROSTER_INVALID', 'COUPLER_ERR_INVALID_ARGUMENT']).toContain(err.code);
    expect(err.message).not.toContain(secretSeed);
    expect(err.message.length).toBeLessThan(600);
    expect(readdirSync(tmp)).toEqual(['coupler-identity-task-51.json']); // the key stays for its real compute subtask
  });
});

describe('announcements: huge or malformed, typed, naming the organisation', () => {
  const base = (org: number, over: Record<string, unknown>): SubtaskResult => ({
    runId: 100 + org,
    organizationId: org,
    result: { type: 'coupler-public-key', version: 1, organizationId: String(org), publicKey: encodePublicKey(generateIdentity().publicKey), keyTaskId: '7', ...over },
  });
  test.each<[string, Record<string, unknown>]>([
    ['a 4 MB public key', { publicKey: 'A'.repeat(4 * 1024 * 1024) }],
    ['a public key that is an object', { publicKey: { length: 32 } }],
    ['a 1 MB organisation id', { organizationId: '2'.repeat(1024 * 1024) }],
    ['an array naming another organisation', { organizationId: [4] }],
    ['version 2', { version: 2 }],
    ['a replay from key task 6', { keyTaskId: '6' }],
  ])('%s', (_why, over) => {
    let err: unknown;
    try {
      buildRosterFromResults([base(1, {}), base(3, over)], { expectedOrganizations: [1, 3], keyTaskId: 7 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6', peers: ['3'] });
    expect((err as Error).message.length).toBeLessThan(200);
  });
});
