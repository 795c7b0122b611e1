/**
 * What `npm pack` puts in the published package (and so in the image, which installs the packed
 * package): the entry points of the exports map with their type declarations, the CLI, the
 * chunks they import — and nothing from test/, src/, bench/, examples/, docs/ or key files.
 */
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ROOT, cleanupAll, requireBuiltCli, runProcess } from '../cli/_cli';
import { SECRET_FILE } from './_dockerfile';

interface PackFile {
  path: string;
  mode: number;
  size: number;
}

let files: PackFile[] = [];
let paths: string[] = [];

beforeAll(async () => {
  requireBuiltCli();
  // --ignore-scripts: a dry run would otherwise still run "prepare" (tsup, which cleans dist/)
  // under the feet of tests running in parallel.
  const r = await runProcess('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`npm pack --dry-run failed (exit ${r.code}):\n${r.stderr}`);
  files = (JSON.parse(r.stdout) as { files: PackFile[] }[])[0]!.files;
  paths = files.map((f) => f.path);
}, 60_000);
afterAll(() => cleanupAll());

test('the entry points, their CommonJS and ES builds and their type declarations, and the CLI', () => {
  for (const f of [
    'package.json',
    'README.md',
    'Dockerfile.base',
    'dist/index.js',
    'dist/index.mjs',
    'dist/index.d.ts',
    'dist/index.d.mts',
    'dist/vantage6.js',
    'dist/vantage6.mjs',
    'dist/vantage6.d.ts',
    'dist/vantage6.d.mts',
    'dist/cli.js',
  ]) {
    expect(paths).toContain(f);
  }
});

test('every file package.json points at (exports, main, module, types, bin) is packed', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const targets = new Set<string>();
  const collect = (v: unknown): void => {
    if (typeof v === 'string') targets.add(posix.normalize(v));
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  collect(pkg.exports);
  collect([pkg.main, pkg.module, pkg.types, pkg.bin]);
  expect(targets.size).toBeGreaterThanOrEqual(10);
  for (const t of targets) expect({ target: t, packed: paths.includes(t) }).toEqual({ target: t, packed: true });
});

test('every relative import of a packed JS or declaration file resolves to a packed file (shared chunks included)', () => {
  const code = paths.filter((p) => /\.(m?js|d\.m?ts)$/.test(p));
  for (const file of code) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const specs = [...text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]!);
    for (const spec of specs) {
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      // Declarations import "./x.js" meaning "./x.d.ts" (or .mjs -> .d.mts).
      const candidates = [target, target.replace(/\.js$/, '.d.ts'), target.replace(/\.mjs$/, '.d.mts'), target.replace(/\.js$/, '.d.mts')];
      expect({ file, spec, packed: candidates.some((c) => paths.includes(c)) }).toEqual({ file, spec, packed: true });
    }
  }
});

test('the CLI is executable with a node shebang (the image links it as /usr/local/bin/coupler)', () => {
  const cli = files.find((f) => f.path === 'dist/cli.js')!;
  expect(cli.mode & 0o111).not.toBe(0);
  expect(readFileSync(join(ROOT, 'dist', 'cli.js'), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
});

test('no tests, sources, benchmarks, examples, docs, dependencies, key or secret files', () => {
  for (const p of paths) {
    expect({ p, dev: /^(test|src|bench|examples|docs|node_modules|coverage|\.github)\//.test(p) }).toEqual({ p, dev: false });
    expect({ p, secret: SECRET_FILE.test(p) || /\.(key|pem)$/.test(p) || /(^|\/)\.(env|npmrc)/.test(p) }).toEqual({ p, secret: false });
  }
  // Only the files package.json's "files" names (npm adds package.json, README and LICENSE itself).
  for (const p of paths) expect(p).toMatch(/^(dist\/|README\.md$|Dockerfile\.base$|package\.json$|LICENSE)/);
});

test('the tarball `npm run tarball` writes in the repository (coupler-<version>.tgz) is ignored by git, so it is never committed', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  const r = await runProcess('git', ['check-ignore', '--no-index', `${pkg.name}-${pkg.version}.tgz`, 'examples/some-lib-1.0.0.tgz'], { cwd: ROOT, timeoutMs: 10_000 });
  expect({ code: r.code, ignored: r.stdout.trim().split('\n') }).toEqual({ code: 0, ignored: [`${pkg.name}-${pkg.version}.tgz`, 'examples/some-lib-1.0.0.tgz'] });
});
