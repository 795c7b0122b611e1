/**
 * What `coupler simulate` hands a station must match what a vantage6 node hands it (issue 19
 * item 6). A 5.x node's data extraction reads the CSV with pandas and writes the dataframe with
 * pyarrow (vantage6-algorithm-tools/vantage6/algorithm/tools/wrap.py and
 * vantage6-algorithm-tools/vantage6/algorithm/decorator/data.py, 5.0): a missing cell becomes a
 * Parquet null, never a NaN. An algorithm written to the `Cell` docs ("`null` = missing" for
 * Parquet, `''` for an empty CSV cell) must give the same answer under `--vantage6 4` and `5`.
 *
 * Runs the built CLI (`npm run build`), three stations, a user's module next to node_modules/coupler.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readParquetFile } from '../../src/vantage6';
import { writeDataframe } from '../../src/cli/dataframes';
import { ROOT, cleanupAll, runCli, tempDir } from '../cli/_cli';

afterAll(cleanupAll);

/** A user's module that reads its table and filters missing cells exactly as the `Cell` docs say. */
function userModule(): { dir: string; module: string } {
  const dir = tempDir('coupler-data-sim-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'coupler'), 'dir');
  const module = join(dir, 'algorithm.mjs');
  writeFileSync(
    module,
    `import { secureSum } from 'coupler';
import { joinPeerGroup, readStationTable } from 'coupler/vantage6';

// The Cell docs: text from CSV (an empty cell is ''), typed values from Parquet (null = missing).
const missing = (cell) => cell === null || cell === undefined || cell === '';

export async function partial(kwargs, ctx) {
  const table = await readStationTable(ctx);
  const at = table.columns.indexOf(kwargs.column);
  const present = table.rows.filter((row) => !missing(row[at]));
  const total = present.reduce((a, row) => a + Number(row[at]), 0);
  const unnamed = table.rows.filter((row) => missing(row[table.columns.indexOf('site')])).length;
  const group = await joinPeerGroup(kwargs, ctx);
  try {
    const { sum } = await secureSum(group, { total, count: BigInt(present.length), unnamed: BigInt(unnamed) }, { fractionalBits: 16, bound: 2 ** 30 });
    return { total: sum.total, count: sum.count, unnamed: sum.unnamed };
  } finally {
    await group.close();
  }
}
`,
  );
  return { dir, module };
}

const STATIONS = [
  'id,hba1c,site,visits\n1,41.5,north,3\n2,,south,\n3,52,,7\n4,47.25,north,1\n',
  'id,hba1c,site,visits\n1,,east,2\n2,60.5,,4\n3,38,west,\n',
  'id,hba1c,site,visits\n1,44,west,5\n2,,,\n',
];

describe('a filter written to the Cell docs gives the same answer under vantage6 4 and 5', () => {
  for (const column of ['hba1c', 'visits']) {
    test(`column "${column}" (${column === 'hba1c' ? 'floats' : 'integers'} with empty cells)`, async () => {
      const { dir, module } = userModule();
      const data = STATIONS.map((text, i) => {
        const f = join(dir, `station-${i + 1}.csv`);
        writeFileSync(f, text);
        return f;
      });
      const input = join(dir, 'input.json');
      writeFileSync(input, JSON.stringify({ kwargs: { column } }));
      const results: unknown[] = [];
      for (const version of ['4', '5']) {
        const r = await runCli(['simulate', module, '--method', 'partial', '--input', input, '--data', data.join(','), '--vantage6', version, '--discovery', 'static', '--json'], {
          cwd: dir,
          timeoutMs: 40_000,
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
        });
        const where = `vantage6 ${version}: exit ${r.code}\n${r.stdout}\n${r.stderr}`;
        expect({ code: r.code, where }).toEqual({ code: 0, where });
        const doc = JSON.parse(r.stdout) as { agreed: boolean; parties: { result: unknown }[] };
        expect(doc.agreed).toBe(true);
        results.push(doc.parties[0]!.result);
      }
      const expected = column === 'hba1c' ? { total: 41.5 + 52 + 47.25 + 60.5 + 38 + 44, count: 6, unnamed: 3 } : { total: 3 + 7 + 1 + 2 + 4 + 5, count: 6, unnamed: 3 };
      expect(results[0]).toEqual(expected);
      expect(results[1]).toEqual(results[0]);
    });
  }
});

test('the v5 dataframe simulate writes holds nulls for missing cells, not NaN', async () => {
  const dir = tempDir('coupler-data-df-');
  const csv = join(dir, 'station.csv');
  writeFileSync(csv, STATIONS[0]!);
  const target = join(dir, 'default.parquet');
  await writeDataframe(csv, target);
  const table = await readParquetFile(target);
  const column = (name: string): unknown[] => table.rows.map((r) => r[table.columns.indexOf(name)]);
  expect(column('hba1c')).toEqual([41.5, null, 52, 47.25]);
  expect(column('site')).toEqual(['north', 'south', null, 'north']);
  expect(column('visits')).toEqual([3, null, 7, 1]); // integers with a missing cell: float64, as pandas reads them
  expect(column('id')).toEqual([1n, 2n, 3n, 4n]); // integers without one: int64
});

test('simulate types CSV columns as pandas.read_csv does: int64, float64 (inf too), bool, object; pandas missing markers', async () => {
  const dir = tempDir('coupler-data-df-');
  const csv = join(dir, 'types.csv');
  writeFileSync(csv, 'n,x,flag,code,label\n1,1.5,True,0x1A,a\n-2,inf,False,12,N/A\n+3,-Infinity,true,7,None\n');
  const target = join(dir, 'default.parquet');
  await writeDataframe(csv, target);
  const table = await readParquetFile(target);
  expect(table.rows).toEqual([
    [1n, 1.5, true, '0x1A', 'a'],
    [-2n, Number.POSITIVE_INFINITY, false, '12', null],
    [3n, Number.NEGATIVE_INFINITY, true, '7', null],
  ]);
});

test('simulate types integers beyond int64 as pandas.read_csv does: uint64 when none is negative, text when no integer type holds them all (review18, noticed)', async () => {
  // pandas/tests/io/parser/common/test_ints.py: test_int64_uint64_range (uint64's maximum is a
  // uint64), test_outside_int64_uint64_range and test_numeric_range_too_wide (-1 with 2^63, or a
  // number past uint64, stays text); with a missing cell and a uint64 the column stays text too,
  // the missing cell as read (test_na_values_uint64, gh-14983; review21 R21-5).
  const dir = tempDir('coupler-data-df-');
  const csv = join(dir, 'wide.csv');
  writeFileSync(
    csv,
    'u,w,h,m\n' +
      '18446744073709551615,-1,00013007854817840016671868,1\n' +
      '9223372036854775808,9223372036854775808,1,\n' +
      '0,2,2,18446744073709551615\n',
  );
  const target = join(dir, 'default.parquet');
  await writeDataframe(csv, target);
  const table = await readParquetFile(target);
  expect(table.rows).toEqual([
    [18446744073709551615n, '-1', '00013007854817840016671868', '1'],
    [9223372036854775808n, '9223372036854775808', '1', ''],
    [0n, '2', '2', '18446744073709551615'],
  ]);
});
