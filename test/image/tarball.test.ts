/**
 * The packed package as a user installs it (issue 12), offline: the tarball made the way a
 * maintainer makes it here (`npm run tarball`: a staged copy without the `prepare` build script; the
 * repository's package.json is never edited), unpacked into a
 * fresh project's node_modules next to the runtime dependencies only (no devDependencies: a type
 * the published declarations need must be a dependency), then:
 * - strict `tsc` (`skipLibCheck: false`) with `moduleResolution` node16 (ESM and CJS files) and
 *   node10 (`coupler/vantage6` through `typesVersions`);
 * - real ESM and CommonJS programs that import both entry points and run a check;
 * - the type test (test/types/sum-types.typecheck.ts) and the README's algorithm example compiled
 *   against the published declarations, not the sources;
 * - the installed CLI on a user's own modules: a `.ts` module without tsx is refused with a message
 *   that says to install it; with tsx linked in, the README example runs under `coupler simulate`.
 * Also: the tarball ships LICENSE and no "prepare" script, and packing leaves package.json as it is.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT, cleanupAll, requireBuiltCli, tempDir } from '../cli/_cli';

jest.setTimeout(180_000);

let consumer = '';
let packedManifest: Record<string, unknown> = {};
let packedFiles: string[] = [];
let manifestBefore = '';
let manifestAfter = '';
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

beforeAll(() => {
  requireBuiltCli();
  const work = tempDir('coupler-tarball-');
  // 1. Pack as a maintainer does (`npm run tarball` after the build): a staged copy, the repository's
  // package.json untouched.
  manifestBefore = readFileSync(join(ROOT, 'package.json'), 'utf8');
  const out = execFileSync(process.execPath, [join(ROOT, 'scripts', 'pack-manifest.mjs'), 'pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  manifestAfter = readFileSync(join(ROOT, 'package.json'), 'utf8');
  const info = (JSON.parse(out) as { filename: string; files: { path: string }[] }[])[0]!;
  packedFiles = info.files.map((f) => f.path);
  // 2. A fresh project: the tarball unpacked as node_modules/coupler, the runtime dependencies only.
  consumer = join(work, 'consumer');
  mkdirSync(join(consumer, 'node_modules'), { recursive: true });
  execFileSync('tar', ['-xzf', join(work, info.filename), '-C', join(consumer, 'node_modules')]);
  renameSync(join(consumer, 'node_modules', 'package'), join(consumer, 'node_modules', 'coupler'));
  packedManifest = JSON.parse(readFileSync(join(consumer, 'node_modules', 'coupler', 'package.json'), 'utf8')) as Record<string, unknown>;
  const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .map((p) => p.trim())
    .filter((p) => p.startsWith(join(ROOT, 'node_modules') + '/'));
  for (const p of prod) {
    const rel = relative(join(ROOT, 'node_modules'), p);
    if (rel.includes('/node_modules/')) continue; // nested copies come with their parent
    const target = join(consumer, 'node_modules', rel);
    if (existsSync(target)) continue;
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(p, target, 'dir');
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
});
afterAll(() => cleanupAll());

test('the tarball has LICENSE, an executable CLI and none of the repository-only scripts ("prepare" would be an install script)', () => {
  expect(packedFiles).toContain('LICENSE');
  expect(readFileSync(join(consumer, 'node_modules', 'coupler', 'LICENSE'), 'utf8')).toContain('Apache License');
  expect(statSync(join(consumer, 'node_modules', 'coupler', 'dist', 'cli.js')).mode & 0o111).not.toBe(0);
  const scripts = packedManifest.scripts as Record<string, string>;
  for (const s of ['prepare', 'prepack', 'postpack', 'tarball']) expect({ s, packed: scripts[s] }).toEqual({ s, packed: undefined });
  // The rest of the manifest is the repository's.
  const repo = JSON.parse(manifestBefore) as Record<string, unknown>;
  expect({ ...packedManifest, scripts: undefined }).toEqual({ ...repo, scripts: undefined });
});

test("packing never edits the repository's package.json; it keeps \"prepare\" (npm ci builds dist/) and refuses a plain npm pack", () => {
  expect(manifestAfter).toBe(manifestBefore);
  const repo = JSON.parse(manifestBefore) as { scripts: Record<string, string> };
  expect(repo.scripts.prepare).toBe('tsup');
  expect(repo.scripts.tarball).toBe('tsup && node scripts/pack-manifest.mjs pack');
  // `npm pack`/`npm publish` here run "prepack" first (before "prepare"): it refuses and says what to run.
  expect(repo.scripts.prepack).toBe('node scripts/pack-manifest.mjs check');
  const check = (cwd: string) => spawnSync(process.execPath, [join(ROOT, 'scripts', 'pack-manifest.mjs'), 'check'], { cwd, encoding: 'utf8' });
  const refused = check(ROOT);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toContain('npm run tarball');
  expect(check(join(consumer, 'node_modules', 'coupler')).status).toBe(0); // the packed manifest passes
});

const USE_TS = `
import { checkSumInput, secureSum, type Group, type SumResult } from 'coupler';
import { joinPeerGroup, readStationTable, type AlgorithmContext } from 'coupler/vantage6';
export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<number> {
  const table = await readStationTable(ctx);
  const mine = { total: table.rows.length * 1.5, count: BigInt(table.rows.length) };
  checkSumInput(mine);
  const group: Group = await joinPeerGroup(kwargs, ctx);
  const r: SumResult<{ total: number; count: bigint }> = await secureSum(group, mine);
  await group.close();
  return r.sum.total / Number(r.sum.count);
}
`;

function tsc(config: Record<string, unknown>, files: Record<string, string>): void {
  const dir = join(consumer, `ts-${Object.keys(files).join('-').replace(/[^a-z]/gi, '')}-${String(config.moduleResolution)}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022', types: [], ...config }, files: Object.keys(files) }),
  );
  try {
    execFileSync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`tsc failed (${JSON.stringify(config)}):\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * The strict tsc runs of several tests that use the same compiler options, made as one program:
 * most of a run is checking the declarations (`skipLibCheck: false`), the same for every test file,
 * so one program per set of options instead of one per test. Each test calls {@link tscShared}
 * with its own files (the program holds the files of every test that shares it, computed by
 * `files`). The test files are modules without global declarations, so a file's diagnostics do not
 * depend on the other files: a clean shared program is every test's clean run. If the shared
 * program fails, each test runs {@link tsc} on its own files as before, so its verdict and message
 * are exactly those of its own run.
 */
interface SharedProgram {
  readonly config: Record<string, unknown>;
  readonly files: () => Record<string, string>;
  passed?: boolean;
}

function tscShared(program: SharedProgram, mine: Record<string, string>): void {
  if (program.passed === undefined) {
    const files = program.files();
    for (const [name, text] of Object.entries(mine)) if (files[name] !== text) throw new Error(`${name} is not in the shared program as this test has it`);
    try {
      tsc(program.config, files);
      program.passed = true;
    } catch {
      program.passed = false;
    }
  }
  if (!program.passed) tsc(program.config, mine);
}

/** node16 resolution: the ES and CommonJS modules of three tests. */
const NODE16: SharedProgram = {
  config: { module: 'node16', moduleResolution: 'node16' },
  files: () => ({ ...useNode16(), ...typesNode16(), ...readmeNode16() }),
};
/** node10 resolution with esModuleInterop: the modules of three tests. */
const NODE10: SharedProgram = {
  config: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
  files: () => ({ ...useNode10(), ...typesNode10(), ...readmeNode10() }),
};
const useNode16 = (): Record<string, string> => ({ 'use.mts': USE_TS, 'use-cjs.cts': USE_TS });
const useNode10 = (): Record<string, string> => ({ 'use.ts': USE_TS });
const typesNode16 = (): Record<string, string> => ({ 'types.mts': typeFixture(), 'types-cjs.cts': typeFixture() });
const typesNode10 = (): Record<string, string> => ({ 'types.ts': typeFixture() });
const readmeNode16 = (): Record<string, string> => ({ 'readme.mts': readmeExample(), 'readme-cjs.cts': readmeExample() });
const readmeNode10 = (): Record<string, string> => ({ 'readme.ts': readmeExample() });

test('strict tsc, skipLibCheck false, node16 resolution: an ES module and a CommonJS module', () => {
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  tscShared(NODE16, useNode16());
});

test('strict tsc, skipLibCheck false, nodenext and bundler resolution (the README names both)', () => {
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  tsc({ module: 'nodenext', moduleResolution: 'nodenext' }, { 'use-next.mts': USE_TS });
  tsc({ module: 'esnext', moduleResolution: 'bundler' }, { 'use-bundler.ts': USE_TS });
});

test('node10 without esModuleInterop: the declarations need it (or allowSyntheticDefaultImports), as the README\'s Install section says', () => {
  let failure = '';
  try {
    tsc({ module: 'commonjs', moduleResolution: 'node10' }, { 'use-no-interop.ts': USE_TS });
  } catch (err) {
    failure = (err as Error).message;
  }
  // When the declarations stop needing it, this fails: then drop the sentence from the README.
  expect(failure).toContain('TS1259');
  tsc({ module: 'commonjs', moduleResolution: 'node10', allowSyntheticDefaultImports: true }, { 'use-synthetic.ts': USE_TS });
  const install = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n## ')[2]!;
  expect(install.startsWith('Install')).toBe(true);
  expect(install.replace(/\s+/g, ' ')).toContain('the declarations need `esModuleInterop` (or `allowSyntheticDefaultImports`)');
});

test('strict tsc, skipLibCheck false, node10 resolution (coupler/vantage6 through typesVersions)', () => {
  tscShared(NODE10, useNode10());
});

test('an ES module and a CommonJS program import both entry points and run', () => {
  writeFileSync(
    join(consumer, 'esm.mjs'),
    `import { checkSumInput, secureSum } from 'coupler';
import { readStationTable, joinPeerGroup } from 'coupler/vantage6';
const shape = checkSumInput({ total: 1.5, count: 3n });
console.log(JSON.stringify({ fields: shape.entries.map((e) => e.name), fns: [typeof secureSum, typeof readStationTable, typeof joinPeerGroup] }));
`,
  );
  writeFileSync(
    join(consumer, 'cjs.cjs'),
    `const { checkSumInput, secureSum } = require('coupler');
const v6 = require('coupler/vantage6');
let refused = '';
try { checkSumInput([1, NaN]); } catch (e) { refused = e.code; }
console.log(JSON.stringify({ refused, fns: [typeof secureSum, typeof v6.joinPeerGroup] }));
`,
  );
  const esm = JSON.parse(execFileSync(process.execPath, ['esm.mjs'], { cwd: consumer, encoding: 'utf8' })) as unknown;
  expect(esm).toEqual({ fields: ['count', 'total'], fns: ['function', 'function', 'function'] });
  const cjs = JSON.parse(execFileSync(process.execPath, ['cjs.cjs'], { cwd: consumer, encoding: 'utf8' })) as unknown;
  expect(cjs).toEqual({ refused: 'COUPLER_ERR_VALUE_INVALID', fns: ['function', 'function'] });
});

/** The type test, importing the published package instead of the sources. */
function typeFixture(): string {
  const text = readFileSync(join(ROOT, 'test', 'types', 'sum-types.typecheck.ts'), 'utf8');
  const fixture = text.replace(/from '\.\.\/\.\.\/src'/, "from 'coupler'");
  expect(fixture).not.toBe(text); // the import was rewritten (the fixture still imports ../../src)
  return fixture;
}

/** The README's "Use it in an algorithm" block (test/examples keep it equal to examples/readme/algorithm.ts). */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Use it in an algorithm')))![1]!;
}

test('the published declarations: sum results mirror their inputs (the type test, against the tarball), node16 ESM and CJS, node10', () => {
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  tscShared(NODE16, typesNode16());
  tscShared(NODE10, typesNode10());
});

test("the README's algorithm example type-checks against the published declarations (node16 ESM and CJS, node10)", () => {
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  tscShared(NODE16, readmeNode16());
  tscShared(NODE10, readmeNode10());
});

test("the installed CLI: a .ts module without tsx is refused with a message that says to install it; with tsx, the README example runs", () => {
  // A user's project of its own (the package installed in the consumer's node_modules above it).
  const app = join(consumer, 'app');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(join(app, 'algorithm.ts'), readmeExample());
  const cli = join(consumer, 'node_modules', 'coupler', 'dist', 'cli.js');
  const data = [1, 2, 3].map((i) => join(ROOT, 'examples', 'mean-variance', 'data', `station-${i}.csv`));
  const args = [cli, 'simulate', 'algorithm.ts', '--method', 'partial', '--data', data.join(','), '--quiet', '--no-progress', '--timeout', '60'];
  const run = (): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, args, { cwd: app, encoding: 'utf8', timeout: 90_000, env: { ...process.env, NODE_PATH: '' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  // 1. No tsx anywhere the CLI looks: one clear error, before any party starts, no stack trace.
  const bare = run();
  expect(bare.code).not.toBe(0);
  expect(bare.stderr).toMatch(/install tsx/);
  expect(bare.stderr).not.toMatch(/\n\s+at /);
  expect(bare.stdout).not.toContain('[party');
  // 2. The user installs tsx (here: linked from this repository's node_modules): the example runs.
  symlinkSync(join(ROOT, 'node_modules', 'tsx'), join(consumer, 'node_modules', 'tsx'), 'dir');
  const ok = run();
  expect({ code: ok.code, out: ok.code === 0 ? '' : ok.stdout + ok.stderr }).toEqual({ code: 0, out: '' });
  const results = ok.stdout.trim().split('\n').map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as { mean: number });
  expect(results).toHaveLength(3);
  // The pooled mean of the three stations' ages, computed in the clear.
  const ages = data.flatMap((f) => {
    const [head, ...rows] = readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split(','));
    const col = head!.indexOf('age');
    return rows.map((r) => r[col]!).filter((c) => c !== '' && c !== 'NA').map(Number);
  });
  const mean = ages.reduce((a, x) => a + x, 0) / ages.length;
  for (const r of results) expect(Math.abs(r.mean - mean)).toBeLessThan(1e-3);
});
