/**
 * Review 21, R21-3: the examples' `agreeOn` (ab20a03, R20-5) leaves out the kwargs that pick a
 * station's data — `csv` (a path) and `database` (a node database label) in mean-variance,
 * histogram and logistic-regression — as peer.ts's advice said ("leave out what may differ per
 * station (a file path)"). A task gives each organization its own input, so whoever creates it
 * points all stations but one at data it knows (a node's test database, a file of its choice):
 * the pooled totals minus the known ones are that one station's own.
 *
 * Here the known data is a CSV of zeros the other two stations are pointed at (`csv`; the same
 * holds for `database` and a node's second database). Runs the example as `coupler simulate
 * --input` does, per-party kwargs, 3 stations, vantage6 4.x, real processes on 127.0.0.1. Needs
 * the built CLI (`dist/cli.js`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, csvColumn, runExample, stationFiles } from '../../examples/_support/harness';

jest.setTimeout(120_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coupler-r21-src-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('R21-3: stations pointed at different data (kwarg "csv") do not give away one station\'s totals', async () => {
  const DATA = stationFiles('mean-variance', 3);
  const zeros = join(dir, 'zeros.csv');
  writeFileSync(zeros, `age\n${'0\n'.repeat(10)}`);
  const ages = csvColumn(DATA[1]!, 'age').filter((c) => c !== '' && c !== 'NA').map(Number);
  const stationTwoSum = ages.reduce((a, x) => a + x, 0);
  const { results, lines } = await runExample({
    algorithm: join(EXAMPLES, 'mean-variance', 'algorithm.ts'),
    method: 'partial',
    dataFiles: DATA,
    kwargs: { column: 'age' },
    perParty: [{ csv: zeros }, {}, { csv: zeros }],
  });
  const leaked = results.filter((r) => {
    const x = r as { mean?: number; count?: number } | undefined;
    return x?.mean != null && x.count != null && Math.abs(x.mean * x.count - stationTwoSum) < 1e-6 * stationTwoSum;
  });
  expect({ leaked: leaked.length, stationTwoSum }).toEqual({ leaked: 0, stationTwoSum });
  expect(results.every((r) => r === undefined)).toBe(true);
  expect(lines.join('\n')).toMatch(/different/);
});
