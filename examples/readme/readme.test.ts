/**
 * The README's "Use it in an algorithm" example runs as written: the code block is this folder's
 * algorithm.ts, character for character, and it runs under `coupler simulate` on vantage6 4.x and
 * 5.x (station data from the mean-variance example), giving the pooled mean in the clear.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES, REPO, builtCli, csvColumn, runExample, stationFiles } from '../_support/harness';

const ALGORITHM = join(EXAMPLES, 'readme', 'algorithm.ts');
const DATA = stationFiles('mean-variance', 3);

beforeAll(() => builtCli());

test('the README block is examples/readme/algorithm.ts', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use it in an algorithm'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
  expect(block).toBe(readFileSync(ALGORITHM, 'utf8'));
  expect(block).not.toContain('as any');
});

test("no 'as any' in the README or in any example a user copies (the sums' results are typed)", () => {
  const files = [join(REPO, 'README.md')];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'data') walk(p);
      else if (e.isFile() && /\.(ts|mts|cts|js|mjs|cjs|md)$/.test(e.name) && !e.name.endsWith('.test.ts')) files.push(p);
    }
  };
  walk(EXAMPLES);
  expect(files.length).toBeGreaterThan(10);
  const casts = files.filter((f) => /\bas\s+any\b|<any>/.test(readFileSync(f, 'utf8')));
  expect(casts).toEqual([]);
});

test.each(['mean-variance', 'histogram', 'central'])("examples/%s casts no sum result: the sum has its input's type", (example) => {
  const source = readFileSync(join(EXAMPLES, example, 'algorithm.ts'), 'utf8');
  expect(source.match(/\b(sum|total)\s+as\s+[{A-Za-z]/g) ?? []).toEqual([]);
});

test.each([4, 5] as const)('vantage6 %i.x: it runs and every station gets the pooled mean', async (vantage6) => {
  const { outcome, results } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, vantage6 });
  expect(outcome.agreed).toBe(true);
  const ages = DATA.flatMap((f) => csvColumn(f, 'age')).filter((c) => c !== '' && c !== 'NA').map(Number);
  const mean = ages.reduce((a, x) => a + x, 0) / ages.length;
  for (const r of results as { mean: number }[]) expect(Math.abs(r.mean - mean)).toBeLessThan(1e-3);
});
