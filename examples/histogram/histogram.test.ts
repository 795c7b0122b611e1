/**
 * The histogram example, run for real: four `coupler run` processes (one per station CSV) compute
 * the pooled histogram with one dk-secure sum. Needs the built CLI (`npm run build`).
 */
import { join } from 'node:path';
import { EXAMPLES, builtCli, csvColumn, runExample, stationFiles } from '../_support/harness';

const ALGORITHM = join(EXAMPLES, 'histogram', 'algorithm.ts');
const DATA = stationFiles('histogram', 4);

interface Histogram {
  column: string;
  edges: number[];
  counts: number[];
  below: number;
  above: number;
  missing: number;
  total: number;
  k: number;
  collusionThreshold: number;
  stations: string[];
}

/** The pooled histogram counted in the clear (linear scan, independent of the algorithm's binary search). */
function clear(column: string, edges: number[]): Pick<Histogram, 'counts' | 'below' | 'above' | 'missing' | 'total'> {
  const cells = DATA.flatMap((f) => csvColumn(f, column));
  const values = cells.filter((c) => c !== '' && c !== 'NA').map(Number);
  const m = edges.length - 1;
  const counts = new Array<number>(m).fill(0);
  let below = 0;
  let above = 0;
  for (const x of values) {
    if (x < edges[0]!) below++;
    else if (x > edges[m]!) above++;
    else {
      let i = 0;
      while (i < m - 1 && !(x < edges[i + 1]!)) i++;
      counts[i]!++;
    }
  }
  return { counts, below, above, missing: cells.length - values.length, total: values.length };
}

beforeAll(() => {
  builtCli();
});

test.each([4, 5] as const)('vantage6 %i.x, default bins and k: every station gets the exact pooled counts', async (vantage6) => {
  const { outcome, results, exitCodes } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, vantage6 });
  expect(exitCodes).toEqual([0, 0, 0, 0]);
  expect(outcome.agreed).toBe(true);
  const edges = [80, 100, 120, 140, 160, 180, 200];
  const expected = clear('systolic_bp', edges);
  for (const r of results as Histogram[]) {
    expect(r).toEqual({ column: 'systolic_bp', edges, ...expected, k: 4, collusionThreshold: 3, stations: ['1', '2', '3', '4'] });
  }
});

test('custom edges with values outside them, k = 2: exact counts, below/above, the threshold that k gives', async () => {
  const edges = [90, 110, 130, 150, 170];
  const { outcome, results } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { edges, k: 2 } });
  expect(outcome.agreed).toBe(true);
  const expected = clear('systolic_bp', edges);
  expect(expected.below).toBeGreaterThan(0); // the data has values on both sides of these edges
  expect(expected.above).toBeGreaterThan(0);
  for (const r of results as Histogram[]) {
    expect(r).toMatchObject({ edges, ...expected, k: 2, collusionThreshold: 2 });
  }
});

test('bins that are not increasing are refused by name, before any traffic', async () => {
  const { exitCodes, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { edges: [100, 140, 120] } });
  expect(exitCodes).toEqual([1, 1, 1, 1]);
  expect(lines.filter((l) => l.includes('kwarg "edges" must be strictly increasing (element 2 is not above element 1)'))).toHaveLength(4);
  for (const p of outcome.parties) expect(p.traffic).toEqual([]);
});

test('k larger than the number of stations (the roster size): refused by every station before joining, no result', async () => {
  const { exitCodes, results, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { k: 5 } });
  expect(exitCodes).toEqual([1, 1, 1, 1]);
  expect(results).toEqual([undefined, undefined, undefined, undefined]);
  expect(lines.filter((l) => l.includes('kwarg "k" must be at most the number of stations (4)'))).toHaveLength(4);
  for (const p of outcome.parties) expect(p.traffic).toEqual([]);
  expect(lines.join('\n')).not.toMatch(/R\d{5}/); // no record id (or any other cell) in the output
});

test('kwarg "minRows" above one station\'s count of values: that station leaves before the sum and every station fails at once', async () => {
  // station-4 has 38 rows; the others have 45 or more.
  const { exitCodes, results, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { minRows: 40 } });
  expect(exitCodes).toEqual([1, 1, 1, 1]);
  expect(results).toEqual([undefined, undefined, undefined, undefined]);
  expect(lines.filter((l) => l.includes('fewer than kwarg "minRows" (40): it does not take part')).map((l) => l.slice(0, 11))).toEqual(['  [party 4]']);
  // The others lose a peer (station 4, or one that stopped because of it) instead of waiting.
  // (PEER_LOST when it saw station 4's channel close first, PEER_ABORTED when another station's
  // notice naming station 4 came first.)
  for (const p of outcome.parties.slice(0, 3)) {
    expect(['COUPLER_ERR_PEER_LOST', 'COUPLER_ERR_PEER_ABORTED']).toContain(p.error?.code);
    expect(p.error?.message).toContain('"4"');
  }
});
