/**
 * The base image's entry point run exactly as the image runs it, without Docker: the package as
 * published (npm pack of the build), installed in an image-shaped root (see ./_image-root), an
 * algorithm module at /app/algorithm.mjs importing 'coupler' and 'coupler/vantage6' by name,
 * `coupler` found on PATH and started as `coupler run` from /app with PKG_NAME and the vantage6
 * node's base32 environment — as the image's user (root by default, as on a stock vantage6 node; uid 1000
 * for the non-root variant) when the tests run as root.
 *
 * Then a real 3-party secure sum through that installation: three `coupler run` containers with
 * identities and a roster made by the packed CLI itself, static discovery on 127.0.0.2-4.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freePort } from '../../src/cli/ports';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, childrenOf, cleanupAll, expectCleanFailure, isAlive, runProcess, trackPid, v6EncodeEnv, type Run } from '../cli/_cli';
import { IMAGE_UID, buildImageRoot, runningAsRoot, runtimePackages, type ImageRoot } from './_image-root';

const ALGORITHM = `
import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import * as coupler from 'coupler';
import * as v6 from 'coupler/vantage6';
import { secureSum, CouplerError } from 'coupler';
import { joinPeerGroup, readContainerEnv } from 'coupler/vantage6';

const require = createRequire(import.meta.url);

async function refused(spec) {
  try {
    await import(spec);
    return 'imported';
  } catch (err) {
    return err.code ?? err.message;
  }
}

export async function check(kwargs, ctx) {
  const cjs = require('coupler');
  const cjs6 = require('coupler/vantage6');
  return {
    kwargs,
    version: ctx.contractVersion,
    esm: { secureSum: typeof secureSum, CouplerError: typeof CouplerError, joinGroup: typeof coupler.joinGroup, dkSecureSum: typeof coupler.dkSecureSum, thresholdSum: typeof coupler.thresholdSum },
    esmVantage6: { joinPeerGroup: typeof joinPeerGroup, readContainerEnv: typeof readContainerEnv, runAlgorithm: typeof v6.runAlgorithm, runPeerTasks: typeof v6.runPeerTasks },
    cjs: { secureSum: typeof cjs.secureSum, joinGroup: typeof cjs.joinGroup, joinPeerGroup: typeof cjs6.joinPeerGroup },
    resolved: {
      esm: import.meta.resolve('coupler'),
      esmVantage6: import.meta.resolve('coupler/vantage6'),
      cjs: require.resolve('coupler'),
      cjsVantage6: require.resolve('coupler/vantage6'),
      packageJson: require.resolve('coupler/package.json'),
    },
    // A dev dependency is not installed next to the package (npm ci --omit=dev): not resolvable from it.
    devDependency: (() => {
      try {
        createRequire(require.resolve('coupler')).resolve('fast-check');
        return 'resolved';
      } catch (err) {
        return err.code;
      }
    })(),
    notExported: { dist: await refused('coupler/dist/index.mjs'), src: await refused('coupler/src/index.ts'), cli: await refused('coupler/dist/cli.js') },
    uid: process.getuid(),
    cwd: process.cwd(),
    nodeEnv: process.env.NODE_ENV,
    temporaryFolder: ctx.temporaryFolder,
  };
}

export async function wait(kwargs, ctx) {
  await writeFile(ctx.temporaryFolder + '/started', String(process.pid));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 20000);
    ctx.signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    });
  });
  return 'late';
}

export async function fail() {
  throw new CouplerError('COUPLER_ERR_VALUE_INVALID', 'the column holds no numbers');
}

export async function partial(kwargs, ctx) {
  const group = await joinPeerGroup(kwargs, ctx);
  try {
    // bound 2^44 with 16 fractional bits: log2(3) + 44 + 16 + 2 <= 64, as the modulus check requires.
    const result = await secureSum(group, { total: BigInt(kwargs.value), vector: kwargs.vector }, { bound: 2 ** 44 });
    return { sum: result.sum, contributors: result.contributors, localId: group.localId, peers: group.peers, uid: process.getuid() };
  } finally {
    await group.close();
  }
}
`;

let image: ImageRoot;
const TASK = '/mnt/data/task-000000001';

beforeAll(async () => {
  if (!runningAsRoot) {
    // Not root: the children run as the current user (spawn cannot switch users without privileges).
    process.stderr.write(`test/image: not running as root; the entry point runs as uid ${process.getuid?.()} instead of the image's user\n`);
  }
  image = await buildImageRoot();
  writeFileSync(image.path('/app/algorithm.mjs'), ALGORITHM);
  image.own(image.path('/app/algorithm.mjs'));
}, 120_000);

afterAll(() => {
  cleanupAll();
  if (image) rmSync(image.root, { recursive: true, force: true });
});

/**
 * The files a stock vantage6 4.x node mounts for one task run, created as the node creates them
 * (vantage6-node/vantage6/node/docker/task_manager.py, 4.14: the node runs as root, writes
 * `input`, creates `output` with open(..., "wb") — root:root 0644 — and mounts the per-job
 * TEMPORARY_FOLDER volume root-owned). When the tests run as root these files are root's.
 */
function taskFiles(name: string, input: unknown, root: ImageRoot = image): { input: string; output: string; tmp: string } {
  const dir = root.path(`${TASK}-${name}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const files = { input: join(dir, 'input'), output: join(dir, 'output'), tmp: root.path(`/mnt/tmp-${name}`) };
  writeFileSync(files.input, typeof input === 'string' ? input : JSON.stringify(input));
  writeFileSync(files.output, '');
  chmodSync(files.output, 0o644);
  mkdirSync(files.tmp);
  chmodSync(files.tmp, 0o755);
  return files;
}

/** The environment a v4 node gives the container: its values base32 with '!' for '=', on top of the image's own ENV (raw). */
function nodeEnv(files: { input: string; output: string; tmp: string }, extra: Record<string, string> = {}, root: ImageRoot = image): NodeJS.ProcessEnv {
  return root.env({
    ...v6EncodeEnv({ INPUT_FILE: files.input, OUTPUT_FILE: files.output, TEMPORARY_FOLDER: files.tmp, HOST: 'http://proxyserver', PORT: '8080', API_PATH: '', ...extra }),
    PKG_NAME: root.path('/app/algorithm.mjs'),
  });
}

describe('the packed package in the image layout', () => {
  test('npm pack shipped the entry points the exports map, main, module, types and bin name', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    const targets = new Set<string>();
    const collect = (v: unknown): void => {
      if (typeof v === 'string') targets.add(v.replace(/^\.\//, ''));
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect(pkg.exports);
    collect([pkg.main, pkg.module, pkg.types, pkg.bin]);
    for (const t of targets) expect({ file: t, packed: image.packedFiles.includes(t) }).toEqual({ file: t, packed: true });
  });

  test('the lockfile installs exactly the runtime packages: npm ci --omit=dev (dry run, offline) in the installed package', async () => {
    // What the image's `cd /opt/coupler && npm ci --omit=dev` does, minus the downloads: it fails
    // if package.json and package-lock.json disagree, and lists the packages it would add. Run on
    // the packed package.json and the lockfile the build stage copies next to it, in a folder
    // without the node_modules this root links in (the image starts without one).
    const dir = image.path('/ci-dry-run');
    mkdirSync(dir);
    for (const f of ['package.json', 'package-lock.json']) writeFileSync(join(dir, f), readFileSync(join(image.path(image.layout.installDir), f)));
    const r = await runProcess('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--dry-run', '--offline'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
      timeoutMs: 60_000,
    });
    expect({ code: r.code, stderr: r.stderr.split('\n').filter((l) => /npm error/.test(l)) }).toEqual({ code: 0, stderr: [] });
    const added = [...r.stdout.matchAll(/^add (\S+) \S+$/gm)].map((m) => m[1]!).sort();
    const runtime = runtimePackages();
    // Everything it adds is a runtime package of the lockfile (no dev dependency)...
    for (const a of added) expect(runtime).toContain(a);
    // ... and the direct dependencies are among them.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const d of Object.keys(pkg.dependencies)) expect(added).toContain(d);
  }, 60_000);
});

describe('coupler run, as the image runs it', () => {
  test('exit 0, OUTPUT_FILE holds the result; the module imports coupler and coupler/vantage6 (ESM and CJS) from the installed package, through its exports map only', async () => {
    const files = taskFiles('check', { method: 'check', args: [], kwargs: { column: 'age' } });
    const r = await image.run(['run'], nodeEnv(files));
    const where = `exit ${r.code}\n${r.stderr}`;
    expect({ code: r.code, where }).toEqual({ code: 0, where });
    const out = JSON.parse(readFileSync(files.output, 'utf8')) as Record<string, any>;
    expect(out.kwargs).toEqual({ column: 'age' });
    expect(out.version).toBe('v4');
    expect(out.esm).toEqual({ secureSum: 'function', CouplerError: 'function', joinGroup: 'function', dkSecureSum: 'function', thresholdSum: 'function' });
    expect(out.esmVantage6).toEqual({ joinPeerGroup: 'function', readContainerEnv: 'function', runAlgorithm: 'function', runPeerTasks: 'function' });
    expect(out.cjs).toEqual({ secureSum: 'function', joinGroup: 'function', joinPeerGroup: 'function' });
    // Resolved inside the installed package (its real path), never from the repository.
    const install = realpathSync(image.path(image.layout.installDir));
    expect(out.resolved).toEqual({
      esm: pathToFileURL(join(install, 'dist', 'index.mjs')).href,
      esmVantage6: pathToFileURL(join(install, 'dist', 'vantage6.mjs')).href,
      cjs: join(install, 'dist', 'index.js'),
      cjsVantage6: join(install, 'dist', 'vantage6.js'),
      packageJson: join(install, 'package.json'),
    });
    expect(out.devDependency).toBe('MODULE_NOT_FOUND');
    expect(out.notExported).toEqual({ dist: 'ERR_PACKAGE_PATH_NOT_EXPORTED', src: 'ERR_PACKAGE_PATH_NOT_EXPORTED', cli: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
    expect(out.cwd).toBe(realpathSync(image.path(image.layout.appDir)));
    expect(out.nodeEnv).toBe('production');
    expect(out.temporaryFolder).toBe(files.tmp);
    // The default image runs as root, like vantage6's own algorithm base image.
    expect(image.user).toBe('root');
    if (runningAsRoot) expect(out.uid).toBe(0);
    expect(r.stderr).toContain('[coupler] info: running method "check" (contract v4)');
  });

  test('the v5 shape (ALGORITHM_METHOD, the input file holds the kwargs) through the same entry point', async () => {
    const files = taskFiles('check-v5', { column: 'bmi' });
    const r = await image.run(['run'], nodeEnv(files, { ALGORITHM_METHOD: 'check', TASK_ID: '7', ORGANIZATION_ID: '2' }));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('(contract v5)') });
    expect(JSON.parse(readFileSync(files.output, 'utf8'))).toMatchObject({ kwargs: { column: 'bmi' }, version: 'v5' });
  });

  test('a module outside /app (a package folder of its own, a mounted volume) imports coupler all the same', async () => {
    const dir = image.path('/opt/algorithms/outside');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'algorithm.mjs'), ALGORITHM);
    image.own(dir);
    const files = taskFiles('outside', { method: 'check', args: [], kwargs: {} });
    const env = { ...nodeEnv(files), PKG_NAME: join(dir, 'algorithm.mjs') };
    const r = await image.run(['run'], env);
    const where = `exit ${r.code}\n${r.stderr}`;
    expect({ code: r.code, where }).toEqual({ code: 0, where });
    const out = JSON.parse(readFileSync(files.output, 'utf8')) as { resolved: { cjs: string; esm: string } };
    const install = realpathSync(image.path(image.layout.installDir));
    expect(out.resolved.cjs).toBe(join(install, 'dist', 'index.js'));
    expect(out.resolved.esm).toBe(pathToFileURL(join(install, 'dist', 'index.mjs')).href);
  });

  test('an algorithm image adds a dependency with `npm install <lib>` in /app (replayed in the image root, offline, as the image user): coupler still resolves, and so does the library', async () => {
    // A small library packed as the registry would serve it.
    const lib = image.path('/tmp/tiny-lib');
    mkdirSync(lib, { recursive: true });
    writeFileSync(join(lib, 'package.json'), JSON.stringify({ name: 'tiny-lib', version: '1.0.0', main: 'index.js' }));
    writeFileSync(join(lib, 'index.js'), 'module.exports = { answer: 42 };\n');
    const packed = await runProcess('npm', ['pack', '--pack-destination', image.path('/tmp')], { cwd: lib, env: image.env(), timeoutMs: 60_000 });
    expect({ code: packed.code, stderr: packed.stderr.split('\n').filter((l) => /npm error/.test(l)) }).toEqual({ code: 0, stderr: [] });
    const tarball = image.path('/tmp/tiny-lib-1.0.0.tgz');
    chmodSync(image.path('/tmp'), 0o755);
    chmodSync(tarball, 0o644);
    // `RUN npm install <lib>` in a Dockerfile FROM the base image: WORKDIR /app, USER of the image.
    const install = await image.run(['install', '--offline', '--no-audit', '--no-fund', '--omit=dev', tarball], image.env(), { command: 'npm', timeoutMs: 60_000 });
    expect({ code: install.code, stderr: install.stderr.split('\n').filter((l) => /npm error/.test(l)) }).toEqual({ code: 0, stderr: [] });
    expect(JSON.parse(readFileSync(image.path('/app/package.json'), 'utf8'))).toMatchObject({ dependencies: { 'tiny-lib': expect.any(String) } });
    expect(existsSync(image.path(image.layout.appLink.link))).toBe(true);
    writeFileSync(
      image.path('/app/with-lib.mjs'),
      ALGORITHM + `\nimport tiny from 'tiny-lib';\nexport async function withLib(kwargs, ctx) { return { answer: tiny.answer, ...(await check(kwargs, ctx)) }; }\n`,
    );
    image.own(image.path('/app/with-lib.mjs'));
    const files = taskFiles('with-lib', { method: 'withLib', args: [], kwargs: {} });
    const r = await image.run(['run'], { ...nodeEnv(files), PKG_NAME: image.path('/app/with-lib.mjs') });
    const where = `exit ${r.code}\n${r.stderr}`;
    expect({ code: r.code, where }).toEqual({ code: 0, where });
    const out = JSON.parse(readFileSync(files.output, 'utf8')) as { answer: number; resolved: { cjs: string } };
    expect(out.answer).toBe(42);
    expect(out.resolved.cjs).toBe(join(realpathSync(image.path(image.layout.installDir)), 'dist', 'index.js'));
  }, 90_000);

  test('a failing method: exit 1, one error line with its code, nothing written', async () => {
    const files = taskFiles('fail', { method: 'fail' });
    const r = await image.run(['run'], nodeEnv(files));
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_VALUE_INVALID', mentions: /the column holds no numbers/ });
    expect(readFileSync(files.output, 'utf8')).toBe('');
  });

  test('the image default PKG_NAME with no module there: exit 1 naming it', async () => {
    const files = taskFiles('default', { method: 'check' });
    const env = nodeEnv(files);
    env.PKG_NAME = image.env().PKG_NAME; // the Dockerfile's ENV PKG_NAME (mapped), which this root does not have
    const r = await image.run(['run'], env);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /cannot import the algorithm module/ });
  });

  test('the key subtask on a stock node: root-owned 0644 OUTPUT_FILE and root-owned TEMPORARY_FOLDER → exit 0, the result and a 0600 key file written', async () => {
    const files = taskFiles('keys', { method: 'coupler_key_exchange', args: [], kwargs: {} });
    if (runningAsRoot) {
      expect(statSync(files.output).uid).toBe(0);
      expect(statSync(files.tmp).uid).toBe(0);
    }
    // A 4.x node sets no ORGANIZATION_ID or TASK_ID: the organization and the task are claims of the
    // token it writes next to the input (vantage6-node/vantage6/node/docker/task_manager.py:476-480,
    // 540-548, 4.14.0; claims: vantage6-server/vantage6/server/resource/token.py:335-351).
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const sub = { client_type: 'container', node_id: 13, organization_id: 3, collaboration_id: 1, study_id: null, store_id: null, task_id: 41, image: 'coupler-algo:1', databases: [] };
    const token = join(files.input, '..', 'token');
    writeFileSync(token, `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, fresh: false, type: 'access' })}.c2ln`, 'ascii');
    chmodSync(token, 0o644);
    const r = await image.run(['run'], nodeEnv(files, { TOKEN_FILE: token }));
    const where = `exit ${r.code}\n${r.stderr}`;
    expect({ code: r.code, where }).toEqual({ code: 0, where });
    expect(JSON.parse(readFileSync(files.output, 'utf8'))).toMatchObject({ type: 'coupler-public-key', organizationId: '3', keyTaskId: '41' });
    const keyFiles = readdirSync(files.tmp);
    expect(keyFiles).toHaveLength(1);
    expect(statSync(join(files.tmp, keyFiles[0]!)).mode & 0o777).toBe(0o600);
  });

  test('the key subtask under v5: no TEMPORARY_FOLDER, the key goes to SESSION_FOLDER (vantage6-node/vantage6/node/k8s/container_manager.py, 5.0: SESSION_FOLDER, ALGORITHM_METHOD, TASK_ID, ORGANIZATION_ID)', async () => {
    const files = taskFiles('keys-v5', {});
    const session = image.path('/app/vantage6/task/session-keys-v5');
    mkdirSync(session, { recursive: true });
    const env = image.env({
      ...v6EncodeEnv({ INPUT_FILE: files.input, OUTPUT_FILE: files.output, SESSION_FOLDER: session, ALGORITHM_METHOD: 'coupler_key_exchange', TASK_ID: '77', ORGANIZATION_ID: '4', HOST: 'http://proxy', PORT: '7654' }),
      PKG_NAME: image.path('/app/algorithm.mjs'),
    });
    const r = await image.run(['run'], env);
    const where = `exit ${r.code}\n${r.stderr}`;
    expect({ code: r.code, where }).toEqual({ code: 0, where });
    expect(JSON.parse(readFileSync(files.output, 'utf8'))).toMatchObject({ type: 'coupler-public-key', organizationId: '4', keyTaskId: '77' });
    expect(readdirSync(session)).toEqual(['coupler-identity-task-77.json']);
    expect(readdirSync(files.tmp)).toEqual([]);
  });

  if (runningAsRoot) {
    describe('the non-root variant (--build-arg COUPLER_USER=node, for Swarm/Kubernetes)', () => {
      let nonroot: ImageRoot;
      beforeAll(async () => {
        nonroot = await buildImageRoot({ COUPLER_USER: 'node' });
        writeFileSync(nonroot.path('/app/algorithm.mjs'), ALGORITHM);
        nonroot.own(nonroot.path('/app/algorithm.mjs'));
      }, 120_000);
      afterAll(() => {
        if (nonroot) rmSync(nonroot.root, { recursive: true, force: true });
      });

      test('runs as uid 1000; on a stock node (OUTPUT_FILE root:root 0644) it is refused cleanly — why the default is root', async () => {
        expect(nonroot.user).toBe('node');
        expect(nonroot.runAs).toEqual({ uid: IMAGE_UID, gid: IMAGE_UID });
        const files = taskFiles('readonly-output', { method: 'check' }, nonroot);
        const r = await nonroot.run(['run'], nodeEnv(files, {}, nonroot));
        expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /cannot write OUTPUT_FILE \(EACCES\)/ });
      });

      test('with OUTPUT_FILE and TEMPORARY_FOLDER given to uid 1000 (as an operator does on Swarm/Kubernetes): exit 0 as uid 1000', async () => {
        const files = taskFiles('nonroot-ok', { method: 'check', args: [], kwargs: { column: 'age' } }, nonroot);
        nonroot.own(files.output);
        nonroot.own(files.tmp);
        const r = await nonroot.run(['run'], nodeEnv(files, {}, nonroot));
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
        expect((JSON.parse(readFileSync(files.output, 'utf8')) as { uid: number }).uid).toBe(IMAGE_UID);
      });
    });
  }
});

describe('a 3-party secure sum through the packed installation', () => {
  test('identities and roster from the packed CLI, three coupler run containers, static discovery on 127.0.0.2-4: all agree on the exact sum', async () => {
    const ids = ['1', '2', '3'];
    // Keys: `coupler keygen` of the installed package, run as the image user, one secret per station.
    const keys = new Map<string, { file: string; publicKey: string }>();
    for (const id of ids) {
      const dir = image.path(`/run/secrets/station-${id}`);
      mkdirSync(dir, { recursive: true });
      image.own(dir);
      const file = join(dir, 'coupler-identity');
      const r = await image.run(['keygen', '--out', file, '--id', id], image.env());
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      if (runningAsRoot) expect(statSync(file).uid).toBe(image.runAs!.uid);
      keys.set(id, { file, publicKey: /^public key: (\S+)$/m.exec(r.stdout)![1]! });
    }
    const rosterDir = image.path('/etc/coupler');
    mkdirSync(rosterDir, { recursive: true });
    image.own(rosterDir);
    const roster = join(rosterDir, 'roster.json');
    const rb = await image.run(['roster', 'build', '--out', roster, ...ids.map((id) => `${id}=${keys.get(id)!.file}`)], image.env());
    expect({ code: rb.code, stderr: rb.stderr }).toEqual({ code: 0, stderr: '' });
    const rc = await image.run(['roster', 'check', roster], image.env());
    expect(rc.stdout).toContain('roster OK: 3 parties');

    const port = await freePort('127.0.0.2');
    const hosts = ids.map((_, i) => `127.0.0.${i + 2}`);
    const sessionId = `image-test-${randomBytes(8).toString('hex')}`;
    const values = [17_000_000_000_003n, 42n, -5_000_000_000_001n]; // bigint inputs, summed exactly
    const vectors = [
      [1.5, -2.25, 1e3],
      [0.5, 0.25, -1e3],
      [10, 20, 30.125],
    ];
    const runs = ids.map((id, i) => {
      const files = taskFiles(`sum-${id}`, { method: 'partial', args: [], kwargs: { sessionId, value: values[i]!.toString(), vector: vectors[i] } });
      const env = nodeEnv(files, {
        ORGANIZATION_ID: id,
        TASK_ID: `10${id}`,
        COUPLER_IDENTITY_FILE: keys.get(id)!.file,
        COUPLER_ROSTER_FILE: roster,
        COUPLER_DISCOVERY: 'static',
        COUPLER_PEERS: hosts.map((h) => `${h}:${port}`).join(','),
        COUPLER_PORT: String(port),
        COUPLER_LISTEN_HOST: hosts[i]!,
        COUPLER_JOIN_TIMEOUT_MS: '20000',
        COUPLER_ROUND_TIMEOUT_MS: '20000',
      });
      return image.run(['run'], env, { timeoutMs: 40_000 }).then((r) => ({ r, files }));
    });
    const done = await Promise.all(runs);
    const results = done.map(({ r, files }, i) => {
      const where = `party ${ids[i]}: exit ${r.code}\n${r.stderr}`;
      expect({ code: r.code, where }).toEqual({ code: 0, where });
      return JSON.parse(readFileSync(files.output, 'utf8')) as { sum: { total: number | string; vector: number[] }; contributors: string[]; localId: string; peers: string[]; uid: number };
    });
    // The total is written as a JSON integer with all its digits.
    const total = values.reduce((a, b) => a + b, 0n);
    for (const { files } of done) expect(readFileSync(files.output, 'utf8')).toContain(`"total":${total.toString()}`);
    const expectedVector = [0, 1, 2].map((j) => vectors.reduce((a, v) => a + v[j]!, 0));
    results.forEach((res, i) => {
      expect(res.localId).toBe(ids[i]);
      expect([...res.peers].sort()).toEqual(ids.filter((x) => x !== ids[i]));
      expect([...res.contributors].sort()).toEqual(ids);
      res.sum.vector.forEach((x, j) => expect(Math.abs(x - expectedVector[j]!)).toBeLessThanOrEqual(3 * 2 ** -16));
      expect(res.sum).toEqual(results[0]!.sum);
      if (runningAsRoot) expect(res.uid).toBe(image.runAs!.uid);
    });
  }, 90_000);
});

/**
 * In a container the entry point is PID 1 (exec-form ENTRYPOINT, no init): the kernel drops
 * signals to PID 1 that it has no handler for, so `docker stop` / a pod deletion (SIGTERM) does
 * nothing and the runtime SIGKILLs the container after its grace period. Reproduced without
 * Docker in a PID namespace (`unshare --pid`, root only), as the image user via setpriv.
 */
const pidNamespaces = runningAsRoot && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;
describe('coupler run as PID 1 (as in a container without an init)', () => {
  let nsPid1 = false;
  let exitedOnSigterm: boolean | undefined;
  if (!pidNamespaces) {
    test('(not run: needs root and PID namespaces)', () => {
      process.stderr.write('test/image: PID-1 signal test not run (needs root and unshare --pid)\n');
    });
    return;
  }

  test('SIGTERM to the entry point running as PID 1 of its namespace', async () => {
    const files = taskFiles('pid1', { method: 'wait' });
    let unsharePid = 0;
    const drop = image.runAs ? ['setpriv', `--reuid=${image.runAs.uid}`, `--regid=${image.runAs.gid}`, '--clear-groups'] : [];
    const running: Promise<Run> = runProcess('unshare', ['--pid', '--fork', '--mount-proc', ...drop, image.layout.entrypoint[0]!, 'run'], {
      cwd: image.path(image.layout.appDir),
      env: nodeEnv(files),
      timeoutMs: 30_000,
      onSpawn: (c) => (unsharePid = c.pid ?? 0),
    });
    const [pid] = await childrenOf(unsharePid, 1, 10_000);
    expect(pid).toBeDefined();
    trackPid(pid!);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !existsSync(join(files.tmp, 'started'))) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(files.tmp, 'started'))).toBe(true); // the method is running
    const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
    nsPid1 = nspid?.[nspid.length - 1] === '1';
    expect(nsPid1).toBe(true);
    process.kill(pid!, 'SIGTERM');
    const until = Date.now() + 3000;
    while (Date.now() < until && isAlive(pid!)) await new Promise((r) => setTimeout(r, 50));
    exitedOnSigterm = !isAlive(pid!);
    if (!exitedOnSigterm) process.kill(pid!, 'SIGKILL');
    await running;
  }, 40_000);

  // As PID 1 the kernel drops signals nobody handles: coupler run handles SIGTERM itself.
  test('ends within 3 s of SIGTERM', () => {
    expect(nsPid1).toBe(true);
    expect(exitedOnSigterm).toBe(true);
  });
});
