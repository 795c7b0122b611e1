/**
 * Static checks of Dockerfile.base and of every examples/<name>/Dockerfile that exists when the
 * test runs (there is no Docker engine here: nothing is built). The Dockerfiles are parsed
 * instruction by instruction (continuations, comments, stages) by ./_dockerfile.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import {
  NODE_IMAGE,
  NODE_LINE,
  SECRET_FILE,
  baseImageLayout,
  documentedContext,
  execForm,
  expandSource,
  finalStage,
  isIgnored,
  keyValues,
  last,
  parseCopy,
  parseDockerfile,
  readDockerfile,
  readDockerignore,
  stageArgs,
  stageEnv,
  stageLabels,
  stageUser,
  type Dockerfile,
  type Stage,
} from './_dockerfile';

const ROOT = join(__dirname, '..', '..');
const BASE = join(ROOT, 'Dockerfile.base');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };

const ROOT_USER = /^(root|0)(:.*)?$/;
const SECRET_VARIABLE = /(TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|_KEY$|^KEY$|NPM_AUTH|CREDENTIAL)/i;

/** Check every COPY/ADD from the build context: the source exists there, is not excluded, holds no secret (and, for algorithm images, no data). */
function checkContextCopies(df: Dockerfile, context: string, options: { noData: boolean }): string[] {
  const ignore = readDockerignore(context);
  const copied: string[] = [];
  const stageNames = new Set<string>();
  df.stages.forEach((stage, index) => {
    for (const ins of stage.instructions) {
      if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') continue;
      const copy = parseCopy(ins);
      const from = copy.flags.get('from');
      if (from !== undefined) {
        // From an earlier stage (by name or index), or an image.
        const known = stageNames.has(from) || (/^\d+$/.test(from) && Number(from) < index) || from.includes(':') || from.includes('/');
        expect({ line: ins.line, from, known }).toEqual({ line: ins.line, from, known: true });
        continue;
      }
      expect({ line: ins.line, keyword: copy.keyword }).toEqual({ line: ins.line, keyword: 'COPY' }); // ADD fetches URLs and unpacks: not wanted
      for (const source of copy.sources) {
        expect({ line: ins.line, source, escapesContext: posix.normalize(source).startsWith('..') }).toEqual({ line: ins.line, source, escapesContext: false });
        const files = expandSource(context, source, ignore);
        expect({ line: ins.line, source, existsInContext: files.length > 0 }).toEqual({ line: ins.line, source, existsInContext: true });
        for (const f of files) {
          expect({ line: ins.line, file: f, secret: SECRET_FILE.test(f) }).toEqual({ line: ins.line, file: f, secret: false });
          if (options.noData) expect({ line: ins.line, file: f, data: /\.(csv|tsv|parquet|xlsx?|sqlite|db)$/i.test(f) }).toEqual({ line: ins.line, file: f, data: false });
        }
        copied.push(...files);
      }
    }
    if (stage.name !== undefined) stageNames.add(stage.name);
  });
  return copied;
}

function checkNoSecretVariables(df: Dockerfile): void {
  for (const ins of df.instructions) {
    if (ins.keyword !== 'ENV' && ins.keyword !== 'ARG') continue;
    const name = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(ins.args)?.[1] ?? '';
    expect({ line: ins.line, name, secretLooking: SECRET_VARIABLE.test(name) }).toEqual({ line: ins.line, name, secretLooking: false });
  }
}

describe('the Dockerfile reader', () => {
  test('continuations, comments inside them, directives, stages, exec forms', () => {
    const df = parseDockerfile(
      ['# syntax=docker/dockerfile:1', 'ARG BASE=node:26-slim', 'FROM ${BASE} AS build', 'RUN a \\', '  # a comment inside', '  && b \\', '', '  && c', 'FROM build', 'ENTRYPOINT ["x", "y z"]', 'LABEL p8888="coupler" other=1'].join('\n'),
    );
    expect(df.stages.map((s) => [s.image, s.name])).toEqual([
      ['node:26-slim', 'build'],
      ['build', undefined],
    ]);
    expect(df.stages[0]!.instructions).toEqual([{ keyword: 'RUN', args: 'a && b && c', line: 4 }]);
    expect(execForm(last(df.stages[1]!, 'ENTRYPOINT')!.args)).toEqual(['x', 'y z']);
    expect([...stageLabels(df.stages[1]!)]).toEqual([
      ['p8888', 'coupler'],
      ['other', '1'],
    ]);
  });

  test('refuses what it cannot read', () => {
    expect(() => parseDockerfile('FROM a\nRUN <<EOF\necho\nEOF\n')).toThrow(/heredoc/);
    expect(() => parseDockerfile('# escape=`\nFROM a\n')).toThrow(/escape/);
    expect(() => parseDockerfile('RUN x\n')).toThrow(/before the first FROM/);
    expect(() => parseDockerfile('FROM a\nRUN x \\')).not.toThrow(); // a final continuation ends with the file
  });
});

describe('Dockerfile.base', () => {
  const df = (): Dockerfile => readDockerfile(BASE);
  const stage = (): Stage => finalStage(df());

  test(`every stage is a Node ${NODE_LINE} slim image (a supported LTS line, not end-of-life Node 20); the runtime stage in particular`, () => {
    expect(stage().image).toMatch(NODE_IMAGE);
    for (const s of df().stages) if (!df().stages.some((o) => o.name === s.image)) expect(s.image).toMatch(NODE_IMAGE);
    // The image pattern itself: the line and nothing else.
    expect(`node:${NODE_LINE}-slim`).toMatch(NODE_IMAGE);
    expect(`node:${NODE_LINE}.3.1-slim@sha256:${'a'.repeat(64)}`).toMatch(NODE_IMAGE);
    for (const other of ['node:20-slim', `node:${NODE_LINE}`, `node:${NODE_LINE}-alpine`, `node:${NODE_LINE}0-slim`, `node:${NODE_LINE - 1}-slim`]) expect(other).not.toMatch(NODE_IMAGE);
  });

  test('runs as root by default, as a stock vantage6 node needs; --build-arg COUPLER_USER=node gives the non-root variant (uid 1000) for Swarm/Kubernetes', () => {
    // vantage6-node/vantage6/node/docker/task_manager.py (4.14): the node runs as root, creates
    // OUTPUT_FILE with open(..., "wb") (root:root 0644) and mounts TEMPORARY_FOLDER root-owned;
    // vantage6's own algorithm base image runs as root.
    expect(stageUser(stage())).toMatch(ROOT_USER);
    expect(stageArgs(stage()).get('COUPLER_USER')).toBe('root');
    expect(stageUser(stage(), { COUPLER_USER: 'node' })).toBe('node');
    // One USER, at the end of the runtime stage: nothing after it switches back.
    const s = stage();
    expect(s.instructions.filter((i) => i.keyword === 'USER')).toHaveLength(1);
    // The app folder belongs to node either way (the non-root variant must be able to use it).
    expect(s.instructions.some((i) => i.keyword === 'RUN' && /chown -R node:node \/app/.test(i.args))).toBe(true);
  });

  test('COUPLER_USER is declared before a RUN of the runtime stage, so it is part of that step\'s cache key (a build for the other user cannot reuse the cached image)', () => {
    // Docker and buildah: an ARG is in the environment of every later RUN, and so in its cache
    // key; an ARG used only by USER after the last RUN is in no step's key, and
    // `--build-arg COUPLER_USER=node` after a root build got the cached root image.
    const s = stage();
    const argAt = s.instructions.findIndex((i) => i.keyword === 'ARG' && /^COUPLER_USER(=|$)/.test(i.args));
    expect(argAt).toBeGreaterThanOrEqual(0);
    const runsAfter = s.instructions.slice(argAt + 1).filter((i) => i.keyword === 'RUN');
    expect(runsAfter.length).toBeGreaterThanOrEqual(1);
    // That RUN checks that the user exists, so a misspelt user fails the build, not the container.
    expect(runsAfter.some((r) => /\bid -u "\$\{COUPLER_USER\}"/.test(r.args))).toBe(true);
  });

  test('the production install leaves no empty folders of omitted dev packages (npm/cli#3975, #8014): the RUN that installs removes them, replayed here on such a folder', async () => {
    const layout = baseImageLayout(df());
    const install = stage().instructions.find((i) => i.keyword === 'RUN' && /\bnpm\s+ci\b/.test(i.args))!;
    const steps = install.args.split(/\s*&&\s*/);
    const ciAt = steps.findIndex((c) => /\bnpm\s+ci\b/.test(c));
    const cleanup = steps.slice(ciAt + 1).find((c) => /^find\s/.test(c) && /-empty\b/.test(c) && /-delete\b/.test(c));
    expect(cleanup).toBeDefined();
    // Replay it on a node_modules as npm 10 leaves it: an empty scope folder of a dev package, an
    // empty nested folder, next to installed packages (which must stay).
    const root = mkdtempSync(join(tmpdir(), 'coupler-empty-dirs-'));
    try {
      const nm = join(root, layout.installDir, 'node_modules');
      for (const d of ['@jest', '@types/jest', 'ws/lib']) mkdirSync(join(nm, d), { recursive: true });
      writeFileSync(join(nm, 'ws', 'lib', 'websocket.js'), '');
      mkdirSync(join(nm, '@types', 'node'), { recursive: true });
      writeFileSync(join(nm, '@types', 'node', 'index.d.ts'), '');
      const command = cleanup!.replaceAll(layout.installDir, join(root, layout.installDir));
      const r = spawnSync('sh', ['-c', command], { encoding: 'utf8' });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(readdirSync(nm).sort()).toEqual(['@types', 'ws']);
      expect(readdirSync(join(nm, '@types'))).toEqual(['node']);
      expect(existsSync(nm)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("the npm install leaves no npm state in the image: npm's own compile cache in /tmp and its logs in /root/.npm are removed by that RUN, replayed here on them (found building the image, docs/reviews/image-trial.md IT-2)", () => {
    // npm 11 (11.19, 11.21 read) calls module.enableCompileCache() on Node >= 22.1: before the image sets
    // NODE_COMPILE_CACHE, the runtime stage's npm writes V8 code for npm itself to
    // /tmp/node-compile-cache (2.3 MB, ≈ 470 files in the built image, buildah 1.28, Node 26.12,
    // npm 11.21); `npm cache clean --force` keeps /root/.npm/_logs and _update-notifier-last-checked.
    // The official node image empties /tmp after its own npm smoke test; the base image must too.
    const install = stage().instructions.find((i) => i.keyword === 'RUN' && /\bnpm\s+ci\b/.test(i.args))!;
    const steps = install.args.split(/\s*&&\s*/);
    const ciAt = steps.findIndex((c) => /\bnpm\s+ci\b/.test(c));
    const removals = steps.slice(ciAt + 1).filter((c) => /^rm\s/.test(c));
    expect(removals.length).toBeGreaterThan(0);
    const root = mkdtempSync(join(tmpdir(), 'coupler-npm-state-'));
    try {
      const made = ['tmp/node-compile-cache/v26.12.1-x64-310b2ce3-0/04083232', 'root/.npm/_logs/2026-12-08T00_35_57_985Z-debug-0.log', 'root/.npm/_update-notifier-last-checked', 'root/.npm/_cacache/index-v5/x'];
      for (const f of made) {
        mkdirSync(dirname(join(root, f)), { recursive: true });
        writeFileSync(join(root, f), 'x');
      }
      // Something of the image's own in /tmp that is not npm's stays (nothing else is touched).
      writeFileSync(join(root, 'tmp', 'keep'), '');
      for (const rm of removals) {
        // Every absolute path of the command, moved under the temp root (only /tmp and /root may be named).
        const paths = rm.split(/\s+/).filter((w) => w.startsWith('/'));
        for (const p of paths) expect(p).toMatch(/^\/(tmp|root)\//);
        const command = rm.replace(/(^|\s)\/(tmp|root)\//g, `$1${root}/$2/`);
        const r = spawnSync('sh', ['-c', command], { encoding: 'utf8' });
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      }
      expect(readdirSync(join(root, 'tmp'))).toEqual(['keep']);
      expect(readdirSync(join(root, 'root'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("Node's compile cache: NODE_COMPILE_CACHE is a folder the entry point's user owns, filled after USER (Node keys the cache by uid) with the CLI, the CommonJS and the ES builds", () => {
    const s = stage();
    const dir = stageEnv(s).get('NODE_COMPILE_CACHE');
    expect(dir).toMatch(/^\/[^\s]+$/);
    const userAt = s.instructions.findIndex((i) => i.keyword === 'USER');
    const envAt = s.instructions.findIndex((i) => i.keyword === 'ENV' && keyValues(i.args).has('NODE_COMPILE_CACHE'));
    const runs = s.instructions.map((ins, at) => ({ ins, at })).filter(({ ins }) => ins.keyword === 'RUN');
    // Before USER (as root): a parent of the folder is made and given to the entry point's user.
    const parentIn = (args: string): string | undefined =>
      args
        .split(/\s*&&\s*/)
        .filter((c) => /^mkdir -p \S+$/.test(c))
        .map((c) => c.split(/\s+/)[2]!.replace(/\/$/, ''))
        .find((p) => dir!.startsWith(`${p}/`));
    const made = runs.find(({ ins, at }) => at < userAt && parentIn(ins.args) !== undefined);
    expect(made).toBeDefined();
    const parent = parentIn(made!.ins.args)!;
    expect(made!.ins.args).toContain(`chown "\${COUPLER_USER}" ${parent}`);
    // After USER and after the ENV: the step that fills it, so it runs as that user with the variable set.
    const fill = runs.filter(({ at }) => at > userAt && at > envAt).map(({ ins }) => ins.args);
    expect(fill).toHaveLength(1);
    expect(fill[0]).toMatch(/(^|&&\s*)coupler --help\b/);
    for (const spec of ['coupler', 'coupler/vantage6']) {
      expect(fill[0]).toContain(`require('${spec}')`);
      expect(fill[0]).toContain(`await import('${spec}')`);
    }
    expect(fill[0]).toContain('--input-type=module');
    // It is the last RUN: the ENTRYPOINT follows without another build step after it.
    expect(runs[runs.length - 1]!.at).toBeGreaterThan(userAt);
  });

  test('EXPOSE 8888 and LABEL p8888="coupler" (the vantage6 v4 port-label convention)', () => {
    const exposed = stage()
      .instructions.filter((i) => i.keyword === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/))
      .map((p) => p.replace(/\/tcp$/, ''));
    expect(exposed).toContain('8888');
    expect(stageLabels(stage()).get('p8888')).toBe('coupler');
    // Written without spaces around "=": vantage6 reads the label key literally.
    expect(stage().instructions.some((i) => i.keyword === 'LABEL' && /(^|\s)p8888="coupler"(\s|$)/.test(i.args))).toBe(true);
  });

  test('ENTRYPOINT ["coupler", "run"] in exec form, no CMD to append arguments', () => {
    const entry = last(stage(), 'ENTRYPOINT');
    expect(entry).toBeDefined();
    expect(execForm(entry!.args)).toEqual(['coupler', 'run']);
    expect(last(stage(), 'CMD')).toBeUndefined();
  });

  test('`coupler` is on PATH and is the package bin; /node_modules/coupler (reached from every folder, outside /app too) is the installed SDK; /app is an npm project of its own', () => {
    const layout = baseImageLayout(df());
    expect(layout.entrypoint[0]).toBe(posix.basename(layout.bin.link));
    expect(['/usr/local/bin', '/usr/bin', '/bin']).toContain(posix.dirname(layout.bin.link));
    expect(layout.bin.target).toBe(posix.join(layout.installDir, pkg.bin.coupler!));
    // Not in /app/node_modules, which `npm install` in /app prunes of what its package.json does not list.
    expect(layout.appLink).toEqual({ target: layout.installDir, link: '/node_modules/coupler' });
    // With a package.json, /app is npm's prefix there (not /, where it would prune /node_modules).
    expect(layout.appPackageJson?.path).toBe(posix.join(layout.appDir, 'package.json'));
    expect(JSON.parse(layout.appPackageJson!.text)).toEqual({ name: 'coupler-algorithm', private: true });
    // The default PKG_NAME is a module in the app folder.
    expect(layout.env.get('PKG_NAME')).toMatch(new RegExp(`^${layout.appDir}/[^/]+\\.(m|c)?js$`));
    expect(layout.env.get('NODE_ENV')).toBe('production');
  });

  test('runtime dependencies only, pinned by the lockfile: npm ci --omit=dev where the packed package and its lockfile are', () => {
    const d = df();
    const layout = baseImageLayout(d);
    const runs = stage().instructions.filter((i) => i.keyword === 'RUN');
    const ci = runs.find((r) => /\bnpm\s+ci\b/.test(r.args));
    expect(ci?.args).toMatch(/npm\s+ci\b[^&;]*--omit=dev/);
    for (const r of runs) expect(r.args).not.toMatch(/\bnpm\s+(install|i|add)\b/);
    // The install folder is copied from a build stage, which put package-lock.json into it.
    const copyIn = stage()
      .instructions.filter((i) => i.keyword === 'COPY')
      .map(parseCopy)
      .find((c) => c.dest.replace(/\/$/, '') === layout.installDir);
    expect(copyIn).toBeDefined();
    const from = copyIn!.flags.get('from');
    const buildStage = d.stages.find((s) => s.name === from);
    expect(buildStage).toBeDefined();
    const packed = copyIn!.sources[0]!.replace(/\/$/, '');
    const lockIntoPacked = buildStage!.instructions.some(
      (i) => i.keyword === 'RUN' && new RegExp(`\\bcp\\s+(\\S*/)?package-lock\\.json\\s+${packed.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/?(\\s|$)`).test(i.args),
    );
    expect(lockIntoPacked).toBe(true);
    // ... and the build stage has the lockfile from the repository.
    const buildCopies = buildStage!.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy);
    expect(buildCopies.some((c) => c.flags.get('from') === undefined && c.sources.includes('package-lock.json'))).toBe(true);
    expect(existsSync(join(ROOT, 'package-lock.json'))).toBe(true);
  });

  test('.dockerignore sends only what the COPY lines use: no node_modules, dist, .git, tarballs, tests or keys', () => {
    const ignore = readDockerignore(ROOT);
    expect(ignore.length).toBeGreaterThan(0);
    for (const path of ['node_modules/ws/index.js', 'dist/index.mjs', '.git/HEAD', 'coupler-0.1.0.tgz', 'test/vectors/party.key', 'examples/central/data/station-1.csv', 'bench/results/x.json', 'coverage/lcov.info', '.env', 'README.md']) {
      expect({ path, ignored: isIgnored(path, ignore) }).toEqual({ path, ignored: true });
    }
    for (const path of ['package.json', 'package-lock.json', 'src/index.ts', 'src/vantage6/contract.ts', 'scripts/pack-manifest.mjs', 'LICENSE']) {
      expect({ path, ignored: isIgnored(path, ignore) }).toEqual({ path, ignored: false });
    }
  });

  test('the build context (the repository root) has every COPY source; no key, identity, roster or env file is copied', () => {
    const d = df();
    const context = documentedContext(d, ROOT);
    expect(context).toBe(ROOT); // "docker build -f Dockerfile.base -t coupler-base ." from the repository root
    const copied = checkContextCopies(d, context!, { noData: false });
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'tsup.config.ts', 'src/index.ts']));
    checkNoSecretVariables(d);
  });
});

describe('examples/*/Dockerfile (whatever exists when the test runs)', () => {
  const examplesDir = join(ROOT, 'examples');
  const exampleDirs = existsSync(examplesDir)
    ? readdirSync(examplesDir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !e.name.startsWith('_') && !e.name.startsWith('.'))
        .map((e) => join(examplesDir, e.name))
    : [];
  const withModule = exampleDirs.filter((d) => readdirSync(d).some((f) => /^algorithm\.(m|c)?[jt]s$/.test(f)));
  const dockerfiles = exampleDirs.map((d) => join(d, 'Dockerfile')).filter((f) => existsSync(f));

  test('once examples with an algorithm module exist, at least one has a Dockerfile', () => {
    if (withModule.length > 0) expect(dockerfiles.length).toBeGreaterThanOrEqual(1);
  });

  const cases = dockerfiles.map((f) => [posix.basename(dirname(f)), f] as const);
  if (cases.length === 0) test('no example Dockerfile yet', () => expect(dockerfiles).toEqual([]));
  describe.each(cases)('examples/%s/Dockerfile', (_name, file) => {
    const df = (): Dockerfile => readDockerfile(file);

    test(`every stage that is not coupler-base is a Node ${NODE_LINE} slim image, and esbuild targets node${NODE_LINE}`, () => {
      const d = df();
      const others = d.stages.filter((s) => !/^coupler-base(:[\w.-]+)?$/.test(s.image) && !d.stages.some((o) => o.name === s.image));
      for (const s of others) expect({ line: s.from.line, image: s.image }).toEqual({ line: s.from.line, image: expect.stringMatching(NODE_IMAGE) });
      const targets = d.instructions.filter((i) => i.keyword === 'RUN' && /\besbuild\s/.test(i.args)).flatMap((i) => [...i.args.matchAll(/--target=(\S+)/g)].map((m) => m[1]));
      for (const t of targets) expect(t).toBe(`node${NODE_LINE}`);
    });

    test('the runtime stage is FROM coupler-base and keeps its entry point and user', () => {
      const stage = finalStage(df());
      expect(stage.image).toMatch(/^coupler-base(:[\w.-]+)?$/);
      expect(last(stage, 'ENTRYPOINT')).toBeUndefined();
      expect(last(stage, 'CMD')).toBeUndefined();
      const user = last(stage, 'USER')?.args;
      if (user !== undefined) expect(user).not.toMatch(ROOT_USER);
    });

    test('sets PKG_NAME to a JavaScript module that a COPY in the runtime stage puts there', () => {
      const stage = finalStage(df());
      const pkgName = stageEnv(stage).get('PKG_NAME');
      expect(pkgName).toBeDefined();
      expect(pkgName).toMatch(/^\/.+\.(m|c)?js$/); // the base image runs plain Node: no .ts
      const workdir = last(stage, 'WORKDIR')?.args ?? '/app';
      const targets = stage.instructions
        .filter((i) => i.keyword === 'COPY')
        .map(parseCopy)
        .flatMap((c) => {
          const dest = posix.isAbsolute(c.dest) ? c.dest : posix.join(workdir, c.dest);
          return c.dest.endsWith('/') || c.sources.length > 1 ? c.sources.map((s) => posix.join(dest, posix.basename(s))) : [dest];
        });
      expect(targets).toContain(pkgName);
    });

    test('every COPY source exists in its build context and is not excluded; no data, keys or env files go into the image', () => {
      const d = df();
      const context = documentedContext(d, ROOT) ?? dirname(file);
      expect(existsSync(context)).toBe(true);
      checkContextCopies(d, context, { noData: true });
      checkNoSecretVariables(d);
    });
  });
});
