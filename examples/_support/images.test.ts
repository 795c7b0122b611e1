/**
 * The examples' Dockerfiles, checked without a Docker engine (there is none on the machines this
 * project is tested on): the static shape of every Dockerfile, then its build stage re-run — the
 * same esbuild arguments, the same esbuild version — into the image's layout (/app/algorithm.mjs
 * next to /app/node_modules/coupler), a plain-Node import of the result, and one example run end
 * to end from the transpiled module with the built package (no tsx, no source mapping).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_LINE } from '../../test/image/_dockerfile';
import { EXAMPLES, REPO, builtCli, csvColumn, dockerfileBuildStep, exportedFunctions, runExample, stationFiles, tempDir, transpileLikeImage } from './harness';

const EXAMPLE_METHODS: Record<string, string[]> = {
  'mean-variance': ['partial'],
  histogram: ['partial'],
  'logistic-regression': ['partial'],
  central: ['central', 'partial'],
};

let root: string;
let cleanup: (() => void) | undefined;
beforeAll(() => {
  builtCli(); // fails every test with "run `npm run build`" when dist/ is missing
  ({ dir: root, cleanup } = tempDir('coupler-images-'));
});
afterAll(() => cleanup?.());

describe.each(Object.keys(EXAMPLE_METHODS))('examples/%s/Dockerfile', (example) => {
  const dockerfile = (): string => readFileSync(join(EXAMPLES, example, 'Dockerfile'), 'utf8');

  test('builds FROM coupler-base with a pinned esbuild stage, copies only the module, bakes in no data', () => {
    const text = dockerfile();
    const froms = [...text.matchAll(/^FROM\s+(.+)$/gm)].map((m) => m[1]!.trim());
    expect(froms).toEqual([`node:${NODE_LINE}-slim AS build`, 'coupler-base']);
    expect(text).toMatch(/^COPY --from=build --chown=node:node \/build\/algorithm\.mjs \/app\/algorithm\.mjs$/m);
    expect(text).toMatch(/^ENV PKG_NAME=\/app\/algorithm\.mjs$/m);
    const step = dockerfileBuildStep(example);
    const installed = (JSON.parse(readFileSync(join(REPO, 'node_modules', 'esbuild', 'package.json'), 'utf8')) as { version: string }).version;
    // the image test below runs the esbuild in node_modules: the Dockerfile must pin that version
    expect(`esbuild@${step.esbuildVersion}`).toBe(`esbuild@${installed}`);
    expect(step.esbuildArgs).toEqual(expect.arrayContaining(['algorithm.ts', '--format=esm', '--platform=node', `--target=node${NODE_LINE}`, '--outfile=algorithm.mjs']));
    expect(step.esbuildArgs.some((a) => a.startsWith('--bundle'))).toBe(false);
    expect(step.copiedSources).toEqual(['algorithm.ts']);
    const ignored = readFileSync(join(EXAMPLES, example, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toContain('data');
  });

  test('the build stage transpiles to an ES module that keeps coupler external and imports on plain Node from the image layout', () => {
    const module = transpileLikeImage(example, join(root, example));
    const js = readFileSync(module, 'utf8');
    expect(js).toMatch(/from "coupler(\/vantage6)?"/); // not bundled: the SDK comes from the base image
    expect(js).not.toContain('class Group'); // no copy of the SDK inside
    const { functions, stderr, status } = exportedFunctions(module);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(functions).toEqual(EXAMPLE_METHODS[example]);
  });
});

test('mean-variance from the transpiled module: bmi with 32 fractional bits, equal to the values in the clear', async () => {
  const module = transpileLikeImage('mean-variance', join(root, 'run-mean-variance'));
  const data = stationFiles('mean-variance', 3);
  const { outcome, results } = await runExample({ algorithm: module, method: 'partial', dataFiles: data, kwargs: { column: 'bmi', fractionalBits: 32, bound: 2 ** 24 } });
  expect(outcome.agreed).toBe(true);
  const values = data.flatMap((f) => csvColumn(f, 'bmi')).filter((c) => c !== '').map(Number);
  const mean = values.reduce((a, x) => a + x, 0) / values.length;
  const variance = values.reduce((a, x) => a + (x - mean) ** 2, 0) / (values.length - 1);
  for (const r of results as { count: number; mean: number; variance: number }[]) {
    expect(r.count).toBe(values.length);
    expect(Math.abs(r.mean - mean) / mean).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(r.variance - variance) / variance).toBeLessThanOrEqual(1e-9);
  }
});
