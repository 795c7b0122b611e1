/**
 * A key or roster file the process may not read (a Swarm secret mounted 0400 for root while the
 * container runs as uid 1000) must give a typed error naming the file and saying who owns it —
 * not a raw EACCES stack trace. Run for real: the files belong to root (or to this user with mode
 * 000 when the tests do not run as root) and the CLI runs as another uid (setpriv-free: spawn's uid).
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, saveIdentity } from '../../src/identity/identity';
import { createRoster, rosterToJSON } from '../../src/identity/roster';
import { ROOT, cleanupAll, runCli, runProcess, tempDir } from '../cli/_cli';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const other = asRoot ? { uid: 65534, gid: 65534 } : {};

afterAll(() => cleanupAll());

async function files(): Promise<{ dir: string; identity: string; roster: string }> {
  const dir = tempDir('coupler-unreadable-');
  chmodSync(dir, 0o755);
  const id = generateIdentity('1');
  const identity = join(dir, 'identity.json');
  await saveIdentity(identity, id);
  const roster = join(dir, 'roster.json');
  writeFileSync(roster, rosterToJSON(createRoster([{ id: '1', publicKey: id.publicKey }, { id: '2', publicKey: generateIdentity('2').publicKey }])));
  chmodSync(identity, asRoot ? 0o400 : 0o000);
  chmodSync(roster, asRoot ? 0o400 : 0o000);
  return { dir, identity, roster };
}

test('an unreadable identity file: loadIdentity throws COUPLER_ERR_IDENTITY_INVALID naming the file, its owner and this uid', async () => {
  const f = await files();
  const script = `require(${JSON.stringify(join(ROOT, 'dist', 'index.js'))}).loadIdentity(process.argv[1]).then(() => console.log('read'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`;
  const r = await runProcess(process.execPath, ['-e', script, f.identity], { ...other });
  const out = JSON.parse(r.stdout) as { code: string; message: string };
  expect(out.code).toBe('COUPLER_ERR_IDENTITY_INVALID');
  expect(out.message).toContain(f.identity);
  expect(out.message).toMatch(/EACCES: it is owned by uid \d+, gid \d+, mode [0-7]+, and this process runs as uid \d+/);
});

test('the CLI says the same, with its exit code and no stack trace', async () => {
  const f = await files();
  const r = await runCli(['roster', 'build', '--out', join(f.dir, 'out.json'), `1=${f.identity}`, `2=${f.identity}`], { ...other });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(f.identity);
  expect(r.stderr).toContain('EACCES: it is owned by uid');
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('an unreadable roster file: COUPLER_ERR_ROSTER naming the file', async () => {
  const f = await files();
  const r = await runCli(['roster', 'check', f.roster], { ...other });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('COUPLER_ERR_ROSTER');
  expect(r.stderr).toContain(f.roster);
  expect(r.stderr).toContain('EACCES');
});
