/**
 * Review 21, src/files.ts (e8d0495): every file named by a path others control is opened without
 * blocking, checked on the descriptor and read at most to a cap.
 *
 * - Held: a Kubernetes secret/configMap volume (`file -> ..data/file`, `..data -> ..<timestamp>`)
 *   still loads — identity, roster, CSV data, container token, relay CA.
 * - R21-2: a file whose size the kernel reports as 0 but that has content (procfs, sysfs, some
 *   FUSE mounts) was refused as one that "grew while it was read" (the buffer is sized by
 *   `stat.size`); before e8d0495 `readFile` read it.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBoundedFile, readBoundedFileSync } from '../../src/files';
import { generateIdentity, saveIdentity, loadIdentity, createRoster, loadRoster, rosterToJSON } from '../../src/identity';
import { readCsvFile } from '../../src/vantage6';
import { readContainerToken } from '../../src/vantage6/proxy-client';
import { readContainerEnv } from '../../src/vantage6/env';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coupler-r21-files-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A k8s atomic-writer volume: the visible names are symlinks through `..data`. */
function k8sVolume(name: string, files: Record<string, string | Buffer>): string {
  const vol = join(dir, name);
  const ts = join(vol, '..2026_12_07_20_00_00.123456789');
  mkdirSync(ts, { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(join(ts, f), content, { mode: 0o600 });
  symlinkSync('..2026_12_07_20_00_00.123456789', join(vol, '..data'));
  for (const f of Object.keys(files)) symlinkSync(join('..data', f), join(vol, f));
  return vol;
}

test('held: identity, roster, CSV, token and CA through a k8s secret volume\'s symlinks', async () => {
  const id = generateIdentity('1');
  const src = join(dir, 'id.json');
  await saveIdentity(src, id);
  const { readFileSync } = await import('node:fs');
  const roster = createRoster([{ id: '1', publicKey: id.publicKey }, { id: '2', publicKey: generateIdentity('2').publicKey }]);
  const vol = k8sVolume('secret', {
    'identity.json': readFileSync(src),
    'roster.json': rosterToJSON(roster),
    'data.csv': 'age\n1\n2\n',
    'token': 'header.payload.signature\n',
    'ca.pem': '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n',
  });
  expect((await loadIdentity(join(vol, 'identity.json'))).id).toBe('1');
  expect((await loadRoster(join(vol, 'roster.json'))).size).toBe(2);
  expect(await readCsvFile(join(vol, 'data.csv'))).toBeTruthy();
  expect(readContainerToken(readContainerEnv({ TOKEN_FILE: join(vol, 'token') }))).toBe('header.payload.signature');
  expect(readBoundedFileSync(join(vol, 'ca.pem'), 1 << 20).bytes.length).toBeGreaterThan(0);
});

test('R21-2: a procfs file (size 0, content) is read, within the cap', async () => {
  const a = await readBoundedFile('/proc/self/status', 1 << 20).then(
    (f) => f.bytes.toString('utf8'),
    (e: NodeJS.ErrnoException) => `error ${e.code}`,
  );
  expect(a).toMatch(/^Name:/);
  let b: string;
  try {
    b = readBoundedFileSync('/proc/self/status', 1 << 20).bytes.toString('utf8');
  } catch (e) {
    b = `error ${(e as NodeJS.ErrnoException).code}`;
  }
  expect(b).toMatch(/^Name:/);
  // The cap still holds for such a file.
  await expect(readBoundedFile('/proc/self/status', 16)).rejects.toMatchObject({ code: 'EFBIG' });
  expect(() => readBoundedFileSync('/proc/self/status', 16)).toThrow(expect.objectContaining({ code: 'EFBIG' }) as unknown as Error);
});
