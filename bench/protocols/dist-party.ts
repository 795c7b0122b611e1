/**
 * The protocols benchmark's party process as users run coupler: the built package (`dist/`) under
 * plain `node`, not the sources under tsx. `party.ts` is bundled with esbuild into one CommonJS
 * file in a temporary folder, every import of `src/` replaced by `require('<root>/dist/index.js')`
 * (the package's `main`), so the only coupler code in the process is the build's. The bench's own
 * glue (barrier, timing, IPC) is bundled in as plain JavaScript.
 *
 * `dist/` must be built from the current sources (`npm run build`): a `dist/index.js` older than
 * any file under `src/` is refused, so a stale build is never measured as this tree.
 *
 * @module
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';

/** Newest modification time (ms) of any file below `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const t = e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/** Why the built package cannot stand for this tree's sources, or undefined if it can. */
export function distProblem(root: string): string | undefined {
  const main = join(root, 'dist', 'index.js');
  let built: number;
  try {
    built = statSync(main).mtimeMs;
  } catch {
    return `${main} does not exist (run \`npm run build\`)`;
  }
  const src = newestMtime(join(root, 'src'));
  if (src > built) return `dist/ is older than src/ (${new Date(built).toISOString()} < ${new Date(src).toISOString()}; run \`npm run build\`)`;
  return undefined;
}

/** A bundled party entry that loads coupler from `dist/`; `dispose()` removes its folder. */
export interface DistParty {
  readonly file: string;
  readonly builtAt: string;
  dispose(): void;
}

/** Bundle `bench/protocols/party.ts` against `<root>/dist/index.js`. Throws when dist/ is missing or stale. */
export async function buildDistParty(root: string): Promise<DistParty> {
  const problem = distProblem(root);
  if (problem !== undefined) throw new Error(`protocols --from=dist: ${problem}`);
  const { build } = await import('esbuild');
  const srcDir = resolve(root, 'src') + sep;
  const distMain = resolve(root, 'dist', 'index.js');
  const dir = mkdtempSync(join(tmpdir(), 'coupler-bench-party-'));
  const file = join(dir, 'party.cjs');
  try {
    await build({
      entryPoints: [join(root, 'bench', 'protocols', 'party.ts')],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      logLevel: 'warning',
      plugins: [
        {
          name: 'coupler-from-dist',
          setup(b) {
            b.onResolve({ filter: /^\.\.?\// }, (args) => {
              const p = resolve(args.resolveDir, args.path);
              return p.startsWith(srcDir) ? { path: distMain, external: true } : undefined;
            });
          },
        },
      ],
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    file,
    builtAt: new Date(statSync(distMain).mtimeMs).toISOString(),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
