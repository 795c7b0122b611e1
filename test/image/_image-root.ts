/**
 * A temporary root folder laid out like the base image's runtime stage, built from the package as
 * it would be published (`npm pack` of the built dist/), so the entry point can be run exactly as
 * the image runs it — without Docker (there is no engine on the test machines).
 *
 * The layout (install folder, `coupler` command, app folder, its node_modules link, user) is read
 * from Dockerfile.base itself (see baseImageLayout), and every image path P becomes <root>/P:
 *
 *   <root>/opt/coupler                    the extracted package (npm pack of this repository)
 *   <root>/opt/coupler/node_modules/<dep>  runtime dependencies: see below
 *   <root>/usr/local/bin/coupler          -> <root>/opt/coupler/dist/cli.js (the package bin)
 *   <root>/node_modules/coupler           -> <root>/opt/coupler (Node reaches <root>/node_modules from
 *                                         every folder of the root, as it reaches /node_modules in the image)
 *   <root>/app                            owned by node (uid 1000), like `chown -R node:node /app`,
 *                                         with the package.json the image writes there
 *
 * Runtime dependencies: the image installs them with `npm ci --omit=dev` against the lockfile.
 * Here (no registry access) each runtime package the lockfile lists (entries not marked dev) is
 * symlinked from the repository's node_modules, one by one; dev dependencies are not, so a
 * runtime import of a dev dependency from dist/ fails here as it would in the image. (Node
 * resolves a symlinked package by its real path, so the dependencies' own dependencies come from
 * the repository's node_modules; the top-level set is what this checks.)
 */
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, requireBuiltCli, runProcess, type Run } from '../cli/_cli';
import { baseImageLayout, readDockerfile, type ImageLayout } from './_dockerfile';

/** uid/gid of the `node` user in the official Node images (the non-root variant of Dockerfile.base: `--build-arg COUPLER_USER=node`). */
export const IMAGE_UID = 1000;
export const IMAGE_GID = 1000;

/** uid/gid a USER value of the image stands for. */
function userIds(user: string): { uid: number; gid: number } {
  if (/^(root|0)(:(root|0))?$/.test(user)) return { uid: 0, gid: 0 };
  if (/^(node|1000)(:(node|1000))?$/.test(user)) return { uid: IMAGE_UID, gid: IMAGE_GID };
  throw new Error(`test/image: unknown image user "${user}"`);
}

export interface ImageRoot {
  readonly root: string;
  readonly layout: ImageLayout;
  /** The host path of an image path. */
  path(imagePath: string): string;
  /** The image's user (USER of the final stage with the build args applied): `root` or `node`. */
  readonly user: string;
  /** The uid/gid children run as when the tests run as root (0 for the root image), else undefined (the current user). */
  readonly runAs: { uid: number; gid: number } | undefined;
  /** The packed tarball's file list (as npm pack reported it). */
  readonly packedFiles: readonly string[];
  /** Give a file or folder (recursively) to the `node` user, as `chown -R node:node` does. */
  own(hostPath: string): void;
  /** The environment of a container of this image: PATH with the `coupler` command, the image's ENV (paths mapped), HOME. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Run a command in the image as the image user, from its WORKDIR (like the entry point). */
  run(args: readonly string[], env: NodeJS.ProcessEnv, options?: { timeoutMs?: number; command?: string }): Promise<Run>;
}

/** Whether the tests run as root (CI does): then children run as the image's user (root by default, uid 1000 for the non-root variant). */
export const runningAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function must(what: string, r: Promise<Run>): Promise<Run> {
  const done = await r;
  if (done.code !== 0) throw new Error(`${what} failed (exit ${done.code}):\n${done.stderr}\n${done.stdout}`);
  return done;
}

/** Runtime packages of the lockfile: top-level entries not marked dev (optional ones only if installed). */
export function runtimePackages(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([key, meta]) => key.startsWith('node_modules/') && !key.slice('node_modules/'.length).includes('node_modules/') && meta.dev !== true)
    .map(([key]) => key.slice('node_modules/'.length));
}

/**
 * Build the image root (pack, extract, link, own).
 * @param buildArgs - `--build-arg`s of the image (e.g. `{ COUPLER_USER: 'node' }` for the non-root variant).
 */
export async function buildImageRoot(buildArgs: Readonly<Record<string, string>> = {}): Promise<ImageRoot> {
  requireBuiltCli();
  const layout = baseImageLayout(readDockerfile(join(ROOT, 'Dockerfile.base')), buildArgs);
  const root = mkdtempSync(join(tmpdir(), 'coupler-image-'));
  chmodSync(root, 0o755);
  const path = (p: string): string => join(root, p);
  const runAs = runningAsRoot ? userIds(layout.user) : undefined;
  // `chown -R node:node /app` in the Dockerfile, whichever user the entry point runs as.
  const own = (hostPath: string): void => {
    if (!runningAsRoot) return;
    const walk = (p: string): void => {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return lchownSync(p, IMAGE_UID, IMAGE_GID); // like chown -R: links themselves, not their targets
      chownSync(p, IMAGE_UID, IMAGE_GID);
      if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    };
    walk(hostPath);
  };

  let packedFiles: string[] = [];
  try {
    // The built package packed as `npm run tarball` packs it (a staged copy without the "prepare"
    // script, as the Dockerfile's build stage strips it), minus the build: npm pack runs with
    // --ignore-scripts there, so tsup does not rebuild dist/ under the feet of parallel tests.
    const packDir = path('pack');
    mkdirSync(packDir);
    const packed = await must(
      'npm pack',
      runProcess(process.execPath, [join(ROOT, 'scripts', 'pack-manifest.mjs'), 'pack', '--json', '--pack-destination', packDir], { cwd: ROOT, timeoutMs: 60_000 }),
    );
    const info = (JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[])[0]!;
    packedFiles = info.files.map((f) => f.path);
    await must('tar', runProcess('tar', ['-xzf', join(packDir, info.filename), '-C', packDir]));
    const installDir = path(layout.installDir);
    mkdirSync(dirname(installDir), { recursive: true });
    renameSync(join(packDir, 'package'), installDir);
    // As the Dockerfile's build stage does (cp package-lock.json /out/package/).
    writeFileSync(join(installDir, 'package-lock.json'), readFileSync(join(ROOT, 'package-lock.json')));
    mkdirSync(join(installDir, 'node_modules'));
    for (const name of runtimePackages()) {
      const from = join(ROOT, 'node_modules', name);
      if (!existsSync(from)) continue; // an optional package for another platform
      const to = join(installDir, 'node_modules', name);
      mkdirSync(dirname(to), { recursive: true });
      symlinkSync(from, to, 'dir');
    }
    // The coupler command on PATH.
    const bin = path(layout.bin.link);
    mkdirSync(dirname(bin), { recursive: true });
    symlinkSync(path(layout.bin.target), bin);
    // The link to the SDK, and the app folder (with the package.json the image writes there),
    // owned by the image user.
    mkdirSync(dirname(path(layout.appLink.link)), { recursive: true });
    symlinkSync(installDir, path(layout.appLink.link), 'dir');
    const app = path(layout.appDir);
    mkdirSync(app, { recursive: true });
    if (layout.appPackageJson !== undefined) writeFileSync(path(layout.appPackageJson.path), layout.appPackageJson.text);
    own(app);
    const home = path('/home/node');
    mkdirSync(home, { recursive: true });
    own(home);
    if (!(statSync(path(layout.bin.target)).mode & 0o111)) throw new Error(`${layout.bin.target} is not executable in the packed package`);
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const out: NodeJS.ProcessEnv = {
      // The image's PATH with its /usr/local/bin mapped; node itself is this machine's.
      PATH: [path('/usr/local/bin'), dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
      HOME: path('/home/node'),
    };
    for (const [k, v] of layout.env) out[k] = v.startsWith('/') ? path(v) : v;
    return { ...out, ...extra };
  };

  return {
    root,
    layout,
    path,
    user: layout.user,
    runAs,
    packedFiles,
    own,
    env,
    run: (args, e, options = {}) =>
      // ENTRYPOINT ["coupler", "run"]: `coupler` is found on PATH, from WORKDIR, as USER.
      runProcess(options.command ?? layout.entrypoint[0]!, args, { cwd: path(layout.appDir), env: e, timeoutMs: options.timeoutMs ?? 30_000, ...(runAs ?? {}) }),
  };
}
