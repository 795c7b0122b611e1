/**
 * The README's "Use it in an algorithm" example runs as written: the code block is this folder's
 * algorithm.ts, character for character, and it runs under `coupler simulate` on vantage6 4.x and
 * 5.x (station data from the mean-variance example), giving the pooled mean in the clear.
 */
import { readFileSync } from 'node:fs';
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

test.each([4, 5] as const)('vantage6 %i.x: it runs and every station gets the pooled mean', async (vantage6) => {
  const { outcome, results } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, vantage6 });
  expect(outcome.agreed).toBe(true);
  const ages = DATA.flatMap((f) => csvColumn(f, 'age')).filter((c) => c !== '' && c !== 'NA').map(Number);
  const mean = ages.reduce((a, x) => a + x, 0) / ages.length;
  for (const r of results as { mean: number }[]) expect(Math.abs(r.mean - mean)).toBeLessThan(1e-3);
});
