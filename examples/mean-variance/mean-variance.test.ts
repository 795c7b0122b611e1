/**
 * The mean-variance example, run for real: three `coupler run` processes (one per station CSV)
 * find each other over the embedded DNS server, authenticate, and compute one secure sum.
 * Needs the built CLI (`npm run build`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES, builtCli, csvColumn, runExample, stationFiles, tempDir } from '../_support/harness';

const ALGORITHM = join(EXAMPLES, 'mean-variance', 'algorithm.ts');
const DATA = stationFiles('mean-variance', 3);

/** Mean and sample variance in the clear, two-pass, over every station's rows. */
function clear(column: string, files: readonly string[] = DATA): { count: number; missing: number; mean: number; variance: number } {
  const cells = files.flatMap((f) => csvColumn(f, column));
  const values = cells.filter((c) => c !== '' && c !== 'NA').map(Number);
  const mean = values.reduce((a, x) => a + x, 0) / values.length;
  const variance = values.reduce((a, x) => a + (x - mean) ** 2, 0) / (values.length - 1);
  return { count: values.length, missing: cells.length - values.length, mean, variance };
}

const relErr = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

beforeAll(() => {
  builtCli(); // a clear message when dist/ is missing
});

test.each([4, 5] as const)('vantage6 %i.x: every station gets the pooled mean and variance of age, equal to the values in the clear', async (vantage6) => {
  // 5.x: the stations read their data as the Parquet dataframe in SESSION_FOLDER (converted from the same CSV).
  const { outcome, results, exitCodes } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, vantage6 });
  expect(exitCodes).toEqual([0, 0, 0]);
  expect(outcome.agreed).toBe(true);
  const expected = clear('age');
  for (const r of results as { column: string; count: number; missing: number; mean: number; variance: number; sd: number; stations: string[] }[]) {
    expect(r.column).toBe('age');
    expect(r.count).toBe(expected.count);
    expect(r.missing).toBe(expected.missing);
    expect(relErr(r.mean, expected.mean)).toBeLessThanOrEqual(1e-9);
    expect(relErr(r.variance, expected.variance)).toBeLessThanOrEqual(1e-9);
    expect(relErr(r.sd, Math.sqrt(expected.variance))).toBeLessThanOrEqual(1e-9);
    expect(r.stations).toEqual(['1', '2', '3']);
  }
  // the stations talked to each other directly: every pair exchanged traffic
  for (const p of outcome.parties) expect(p.traffic.map((t) => t.peer).sort()).toEqual(['1', '2', '3'].filter((x) => x !== p.party));
});

test('a column the CSV does not have: every station exits 1 with no result, the error names the column, no data is printed', async () => {
  const { results, exitCodes, lines } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { column: 'weight' } });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(results).toEqual([undefined, undefined, undefined]);
  const errors = lines.filter((l) => / error: /.test(l));
  expect(errors).toHaveLength(3);
  for (const e of errors) expect(e).toContain('the data has no column "weight"');
  expect(lines.join('\n')).not.toMatch(/S\d-\d{4}/); // no patient id (or any other cell) in the output
});

test('kwarg "csv" overrides the database; kwarg "database" picks another label, refused by name when the node has none', async () => {
  // One path for every station: "csv" picks the data, so the stations agree on it (review21
  // R21-3). In a deployment each station's container has its own file there; here they share one.
  const file = stationFiles('logistic-regression', 1)[0]!; // another file with an age column
  const overridden = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { csv: file } });
  expect(overridden.exitCodes).toEqual([0, 0, 0]);
  const expected = clear('age', [file, file, file]);
  for (const r of overridden.results as { count: number; missing: number; mean: number }[]) {
    expect(r).toMatchObject({ count: expected.count, missing: expected.missing });
    expect(relErr(r.mean, expected.mean)).toBeLessThanOrEqual(1e-9);
  }
  const { exitCodes, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { database: 'visits' } });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(lines.filter((l) => l.includes('no database labelled "visits" (the node gave: default)'))).toHaveLength(3);
  for (const p of outcome.parties) expect(p.traffic).toEqual([]);
});

test('a kwarg of the wrong type is refused by name before anything is sent', async () => {
  const { exitCodes, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { column: 5 } });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(lines.filter((l) => l.includes('kwarg "column" must be a non-empty string'))).toHaveLength(3);
  for (const p of outcome.parties) expect(p.traffic).toEqual([]);
});

test('one station with different fixed-point parameters: the run aborts everywhere, naming that station', async () => {
  const { results, exitCodes, lines } = await runExample({
    algorithm: ALGORITHM,
    method: 'partial',
    dataFiles: DATA,
    perParty: [{}, {}, { fractionalBits: 20 }],
  });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(results).toEqual([undefined, undefined, undefined]);
  const mismatch = (party: string): string | undefined => lines.find((l) => l.startsWith(`  [party ${party}] error: COUPLER_ERR_SHAPE_MISMATCH`));
  // One party: "party"; the parameter that differs, with both values (they are public).
  expect(mismatch('1')).toContain('party "3" disagrees with this party: fractionalBits is 16 here and 20 at party "3"');
  expect(mismatch('2')).toContain('party "3" disagrees with this party: fractionalBits is 16 here and 20 at party "3"');
  expect(mismatch('3')).toContain('parties "1", "2" disagree with this party: fractionalBits is 20 here and 16 at party "1"; fractionalBits is 20 here and 16 at party "2"');
});

test('a station with no values (header only) does not take part: it leaves before the sum and every station fails at once (kwarg "minRows", default 5)', async () => {
  const { dir, cleanup } = tempDir('coupler-mv-empty-');
  try {
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, `${readFileSync(DATA[1]!, 'utf8').split('\n')[0]}\n`);
    const { exitCodes, results, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: [DATA[0]!, empty, DATA[2]!] });
    expect(exitCodes).toEqual([1, 1, 1]);
    expect(results).toEqual([undefined, undefined, undefined]);
    expect(lines).toContain('  [party 2] error: Error: this station has 0 values in column "age", fewer than kwarg "minRows" (5): it does not take part');
    // The others fail at once (not at their join deadline): they lose station 2 (or the one that
    // stopped because of it).
    // Either it saw station 2's channel close first (PEER_LOST), or the other station's notice
    // saying it left because of station 2 came first (PEER_ABORTED, root cause station 2).
    for (const p of [outcome.parties[0]!, outcome.parties[2]!]) {
      expect(['COUPLER_ERR_PEER_LOST', 'COUPLER_ERR_PEER_ABORTED']).toContain(p.error?.code);
      expect(p.error?.message).toContain('"2"');
    }
    // Nothing of the sum was sent: no pooled totals to subtract from.
    for (const p of outcome.parties) for (const t of p.traffic) expect(t.bytesSent).toBeLessThan(20_000);
  } finally {
    cleanup();
  }
});

test('kwarg "minRows" above a station\'s count: that station leaves; a bad minRows is refused by name', async () => {
  const few = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { minRows: 40 } });
  // station-2 has 35 rows (fewer than 40 values in "age"); stations 1 and 3 have more.
  expect(few.exitCodes).toEqual([1, 1, 1]);
  expect(few.lines.filter((l) => l.includes('fewer than kwarg "minRows" (40): it does not take part')).map((l) => l.slice(0, 11))).toEqual(['  [party 2]']);
  const bad = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { minRows: 0 } });
  expect(bad.exitCodes).toEqual([1, 1, 1]);
  expect(bad.lines.filter((l) => l.includes('kwarg "minRows" must be at least 1'))).toHaveLength(3);
});
