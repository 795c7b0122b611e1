/**
 * Dockerfile.base's build stage replayed without Docker: exactly the files its COPY instructions
 * take from the build context go into a fresh folder (its WORKDIR), then its build and pack run
 * there. This proves the stage copies everything the build needs (a source file outside the
 * copied set, or a config file the build reads but the stage does not copy, fails here as it would
 * in `docker build`), and that the package it packs has the same dist/ files and package.json as
 * the one the entry-point test installs (README.md and Dockerfile.base, which "files" lists, are
 * not copied into the stage, so the image's package lacks them).
 *
 * `npm ci` is not re-run (no registry access): the folder's node_modules is a symlink to the
 * repository's, which `npm ci` installed from the same lockfile.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { ROOT, cleanupAll, requireBuiltCli, runProcess } from '../cli/_cli';
import { expandSource, finalStage, last, parseCopy, readDockerfile, readDockerignore } from './_dockerfile';

let work: string;
beforeAll(() => {
  requireBuiltCli();
  work = mkdtempSync(join(tmpdir(), 'coupler-build-stage-'));
});
afterAll(() => {
  cleanupAll();
  rmSync(work, { recursive: true, force: true });
});

/** File names with tsup's content hashes replaced, so two builds of different sources compare by shape. */
const shape = (p: string): string => p.replace(/(chunk|group)-[A-Za-z0-9_-]{6,}/, '$1-HASH');

test('the build stage builds and packs the package from the files it copies, and nothing else', async () => {
  const df = readDockerfile(join(ROOT, 'Dockerfile.base'));
  const from = finalStage(df)
    .instructions.filter((i) => i.keyword === 'COPY')
    .map(parseCopy)
    .map((c) => c.flags.get('from'))
    .find((f) => f !== undefined);
  const stage = df.stages.find((s) => s.name === from);
  expect(stage).toBeDefined();
  const workdir = last(stage!, 'WORKDIR')?.args;
  expect(workdir).toBeDefined();
  const dir = join(work, workdir!);
  mkdirSync(dir, { recursive: true });

  // Replay the COPY instructions from the context (the repository root).
  const ignore = readDockerignore(ROOT);
  let copied = 0;
  for (const copy of stage!.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy)) {
    expect(copy.flags.get('from')).toBeUndefined();
    const dest = posix.isAbsolute(copy.dest) ? join(work, copy.dest) : join(dir, copy.dest);
    for (const source of copy.sources) {
      const files = expandSource(ROOT, source, ignore);
      expect({ source, files: files.length > 0 }).toEqual({ source, files: true });
      const isDir = files.length > 1 || files[0] !== posix.normalize(source);
      for (const f of files) {
        // COPY dir ./dir copies the folder's contents; COPY file ./ puts the file into the folder.
        const target = isDir ? join(dest, posix.relative(posix.normalize(source), f)) : copy.dest.endsWith('/') || copy.sources.length > 1 ? join(dest, posix.basename(f)) : dest;
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(ROOT, f), target);
        copied++;
      }
    }
  }
  expect(copied).toBeGreaterThan(10);
  // The stage's RUN lines are the ones replayed below.
  const runs = stage!.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
  expect(runs.some((r) => /\bnpm run build\b.*\bnpm pack --ignore-scripts\b/.test(r))).toBe(true);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir'); // stands in for `npm ci` (same lockfile)

  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
  const build = await runProcess('npm', ['run', 'build'], { cwd: dir, env, timeoutMs: 180_000 });
  expect({ code: build.code, stderr: build.code === 0 ? '' : build.stderr }).toEqual({ code: 0, stderr: '' });

  const packed = await runProcess('npm', ['pack', '--ignore-scripts', '--dry-run', '--json'], { cwd: dir, env, timeoutMs: 60_000 });
  expect(packed.code).toBe(0);
  const stagePaths = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => shape(f.path)).sort();
  const repo = await runProcess('npm', ['pack', '--ignore-scripts', '--dry-run', '--json'], { cwd: ROOT, env, timeoutMs: 60_000 });
  const repoPaths = (JSON.parse(repo.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => shape(f.path)).sort();
  // The same package, except that the stage does not copy README.md and Dockerfile.base (listed in
  // "files"), so the image's copy lacks them: documentation only, nothing the runtime loads.
  expect(stagePaths.filter((p) => !repoPaths.includes(p))).toEqual([]);
  for (const missing of repoPaths.filter((p) => !stagePaths.includes(p))) expect(['README.md', 'Dockerfile.base']).toContain(missing);
  expect(stagePaths.filter((p) => p.startsWith('dist/') || p === 'package.json')).toEqual(repoPaths.filter((p) => p.startsWith('dist/') || p === 'package.json'));
}, 240_000);
