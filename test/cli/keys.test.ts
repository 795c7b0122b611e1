/**
 * `coupler keygen` and `coupler roster` as users run them (README "Keys and rosters"): real
 * processes of the built CLI, files on disk, modes checked with stat.
 */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, expectCleanFailure, requireBuiltCli, runCli, runProcess, tempDir } from './_cli';

beforeAll(() => requireBuiltCli());
afterAll(() => cleanupAll());

interface Keygen {
  file: string;
  publicKey: string;
  fingerprint: string;
}

const KEY_RE = /^public key: ([A-Za-z0-9+/]{43}=)$/m;
const FPR_RE = /^fingerprint: (SHA256:[0-9a-f:]+)$/m;

async function keygen(dir: string, name: string, id?: string): Promise<Keygen> {
  const file = join(dir, name);
  const r = await runCli(['keygen', '--out', file, ...(id === undefined ? [] : ['--id', id])]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const publicKey = KEY_RE.exec(r.stdout)?.[1];
  const fingerprint = FPR_RE.exec(r.stdout)?.[1];
  expect(publicKey).toBeDefined();
  expect(fingerprint).toBeDefined();
  return { file, publicKey: publicKey!, fingerprint: fingerprint! };
}

describe('coupler keygen', () => {
  test('README: keygen --out me.json --id 7 writes a 0600 identity and prints its public key, never the secret', async () => {
    const dir = tempDir();
    const file = join(dir, 'me.json');
    const r = await runCli(['keygen', '--out', file, '--id', '7'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${file} (mode 0600)`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const identity = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(identity).toMatchObject({ type: 'coupler-identity', version: 1, id: '7' });
    expect(r.stdout).toMatch(KEY_RE);
    expect(r.stdout).toMatch(FPR_RE);
    expect(KEY_RE.exec(r.stdout)![1]).toBe(identity.publicKey);
    // Nothing printed is secret: no field of the file other than the public key shows up.
    for (const [k, v] of Object.entries(identity)) {
      if (k !== 'publicKey' && k !== 'id' && k !== 'type' && k !== 'version' && typeof v === 'string') expect(r.stdout + r.stderr).not.toContain(v);
    }
    expect(Buffer.from(identity.publicKey as string, 'base64')).toHaveLength(32);
  });

  test('the file is 0600 whatever the umask', async () => {
    // A permissive umask (000) must not make the secret group- or world-readable. The built CLI is
    // loaded in a node whose umask was cleared first, and its exported main() run.
    const dir = tempDir();
    const file = join(dir, 'k.json');
    const script = `process.umask(0); require(${JSON.stringify(requireBuiltCli())}).main(['keygen', '--out', ${JSON.stringify(file)}]).then((c) => process.exit(c))`;
    const r = await runProcess(process.execPath, ['-e', script]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test('two runs give two different keys', async () => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const b = await keygen(dir, 'b.json');
    expect(a.publicKey).not.toBe(b.publicKey);
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });

  test('refuses to overwrite an existing file without --force, and leaves it untouched', async () => {
    const dir = tempDir();
    const first = await keygen(dir, 'id.json', '3');
    const before = readFileSync(first.file, 'utf8');
    const r = await runCli(['keygen', '--out', first.file, '--id', '3']);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_IDENTITY_INVALID', mentions: /identity file exists \(pass overwrite \/ --force to replace it\)/ });
    expect(readFileSync(first.file, 'utf8')).toBe(before);
  });

  test('--force overwrites, with a new key, and the file ends up 0600 even if it was 0644', async () => {
    const dir = tempDir();
    const first = await keygen(dir, 'id.json', '3');
    chmodSync(first.file, 0o644);
    const r = await runCli(['keygen', '--out', first.file, '--id', '3', '--force']);
    expect(r.code).toBe(0);
    const second = KEY_RE.exec(r.stdout)![1];
    expect(second).not.toBe(first.publicKey);
    expect(JSON.parse(readFileSync(first.file, 'utf8')).publicKey).toBe(second);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
  });

  test('an invalid --id is refused', async () => {
    const dir = tempDir();
    const r = await runCli(['keygen', '--out', join(dir, 'x.json'), '--id', 'org 7']);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /"id" must match/ });
  });

  test('an unwritable --out is refused with the errno', async () => {
    const dir = tempDir();
    const r = await runCli(['keygen', '--out', join(dir, 'no', 'such', 'dir', 'x.json')]);
    expectCleanFailure(r, { code: 1, mentions: /ENOENT/ });
  });
});

describe('coupler roster', () => {
  test('README: roster build from identity files and base64 keys (with an address hint), then roster check', async () => {
    const dir = tempDir();
    const seven = await keygen(dir, 'org7.json', '7');
    const nine = await keygen(dir, 'org9.json', '9');
    const three = await keygen(dir, 'org3.json', '3');
    const roster = join(dir, 'roster.json');
    const r = await runCli(['roster', 'build', '--out', roster, `7=${seven.file}`, `9=${nine.publicKey}`, `3=${three.file}@station3:8888`]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`wrote ${roster}: 3 parties`);
    const parsed = JSON.parse(readFileSync(roster, 'utf8')) as { parties: { id: string; publicKey: string; address?: string }[] };
    const byId = new Map(parsed.parties.map((p) => [p.id, p]));
    expect(byId.get('7')?.publicKey).toBe(seven.publicKey);
    expect(byId.get('9')?.publicKey).toBe(nine.publicKey);
    expect(byId.get('3')).toEqual({ id: '3', publicKey: three.publicKey, address: 'station3:8888' });
    // Only public keys: no secret from the identity files ends up in the roster.
    for (const f of [seven.file, nine.file, three.file]) {
      for (const [k, v] of Object.entries(JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>)) {
        if (k !== 'publicKey' && k !== 'id' && k !== 'type' && k !== 'version' && typeof v === 'string') expect(readFileSync(roster, 'utf8')).not.toContain(v);
      }
    }

    const c = await runCli(['roster', 'check', roster]);
    expect({ code: c.code, stderr: c.stderr }).toEqual({ code: 0, stderr: '' });
    expect(c.stdout).toContain('roster OK: 3 parties');
    for (const k of [seven, nine, three]) expect(c.stdout).toContain(k.fingerprint);
    expect(c.stdout).toMatch(/^ {2}3 +SHA256:[0-9a-f:]+ {2}station3:8888$/m);
  });

  test('a duplicate id is refused, naming the entry', async () => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const b = await keygen(dir, 'b.json');
    const r = await runCli(['roster', 'build', '--out', join(dir, 'r.json'), `7=${a.file}`, `7=${b.file}`]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_ROSTER_INVALID', mentions: /entry 1 \(id "7"\): duplicate id/ });
  });

  test('the same key under two ids is refused, naming both parties', async () => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const r = await runCli(['roster', 'build', '--out', join(dir, 'r.json'), `7=${a.file}`, `9=${a.publicKey}`]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_ROSTER_INVALID', mentions: /id "9".*same key as party "7"/ });
  });

  test('an invalid id is refused', async () => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const r = await runCli(['roster', 'build', '--out', join(dir, 'r.json'), `org 7=${a.file}`, `8=${a.file}`]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_ROSTER_INVALID', mentions: /field "id" must match/ });
  });

  test('an argument that is not ID=KEY is a usage error', async () => {
    const dir = tempDir();
    expectCleanFailure(await runCli(['roster', 'build', '--out', join(dir, 'r.json'), 'justakey', 'another']), { code: 2, mentions: /"justakey" is not ID=KEY/ });
    expectCleanFailure(await runCli(['roster', 'build', '--out', join(dir, 'r.json')]), { code: 2, mentions: /at least two parties/ });
  });

  test('a bad key is refused and nothing is written', async () => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const out = join(dir, 'r.json');
    const r = await runCli(['roster', 'build', '--out', out, `7=${a.file}`, '9=AAAA']);
    expectCleanFailure(r, { code: 1 });
    expect(() => statSync(out)).toThrow();
  });

  // A KEY that is neither base64 of 32 bytes nor a readable identity file names the entry.
  test('a bad key is refused naming the entry', async () => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const r = await runCli(['roster', 'build', '--out', join(dir, 'r.json'), `7=${a.file}`, '9=AAAA']);
    expectCleanFailure(r, { code: 1, mentions: /\b9\b/ });
  });

  test.each([
    ['a duplicate id', (k1: string, k2: string) => [{ id: '1', publicKey: k1 }, { id: '1', publicKey: k2 }], /entry 1 \(id "1"\): duplicate id/],
    ['a key that is not base64', (k1: string) => [{ id: '1', publicKey: k1 }, { id: '2', publicKey: 'not-a-key!' }], /entry 1 \(id "2"\): field "publicKey"/],
    ['a key of the wrong length', (k1: string) => [{ id: '1', publicKey: k1 }, { id: '2', publicKey: Buffer.alloc(31, 1).toString('base64') }], /entry 1 \(id "2"\): field "publicKey"/],
    ['an entry without id', (k1: string) => [{ publicKey: k1 }], /entry 0: field "id"/],
  ])('roster check refuses %s, naming the entry', async (_name, entries, msg) => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const b = await keygen(dir, 'b.json');
    const file = join(dir, 'roster.json');
    writeFileSync(file, JSON.stringify({ version: 1, parties: entries(a.publicKey, b.publicKey) }));
    const r = await runCli(['roster', 'check', file]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_ROSTER_INVALID', mentions: msg });
    expect(r.stdout).not.toContain('roster OK');
  });

  test('roster check of a missing file, and of a file that is not a roster', async () => {
    const dir = tempDir();
    expectCleanFailure(await runCli(['roster', 'check', join(dir, 'none.json')]), { code: 1, errorCode: 'COUPLER_ERR_ROSTER_INVALID', mentions: /ENOENT/ });
    const file = join(dir, 'x.json');
    writeFileSync(file, '{"hello": "world"}');
    expectCleanFailure(await runCli(['roster', 'check', file]), { code: 1, errorCode: 'COUPLER_ERR_ROSTER_INVALID' });
    expectCleanFailure(await runCli(['roster', 'check']), { code: 2, mentions: /roster check takes one FILE/ });
  });
});
