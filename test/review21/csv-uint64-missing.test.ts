/**
 * Review 21, R21-5: `coupler simulate`'s CSV → Parquet typing (02d9274) against pandas.read_csv
 * (pandas/_libs/parsers.pyx, 2.x: `_convert_tokens`, `_try_uint64`; test_na_values.py
 * `test_na_values_uint64`, gh-14983). An integer column with a value beyond int64:
 *
 * - and a missing cell, all values within uint64: `_try_uint64` sees a null and a uint64
 *   (`uint64_conflict`) → ValueError → the column stays as read, text, the missing cell the text it
 *   was (`"9223372036854775808,1\n,2"` gives `["9223372036854775808", ""]`, pandas' own test).
 *   simulate wrote float64: 9223372036854775809 became 9223372036854775808, the cell null.
 * - and a negative written "-0": `str_to_uint64` marks any leading '-' as signed, so with a
 *   uint64 the column is text; simulate wrote uint64 (0).
 * - beyond uint64 (or below int64) with a missing cell: OverflowError → object with missing cells
 *   null; simulate wrote float64.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readParquetFile } from '../../src/vantage6';
import { writeDataframe } from '../../src/cli/dataframes';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coupler-r21-csv-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('R21-5: integers beyond int64 with a missing cell, or with "-0", are typed as pandas types them', async () => {
  const csv = join(dir, 'wide.csv');
  writeFileSync(
    csv,
    'a,b,c,d,e\n' +
      '9223372036854775809,-0,18446744073709551616,-9223372036854775809,5\n' +
      ',9223372036854775808,,,NA\n' +
      '7,1,3,4,6\n',
  );
  const target = join(dir, 'default.parquet');
  await writeDataframe(csv, target);
  const table = await readParquetFile(target);
  expect(table.rows).toEqual([
    ['9223372036854775809', '-0', '18446744073709551616', '-9223372036854775809', 5],
    ['', '9223372036854775808', null, null, null],
    ['7', '1', '3', '4', 6],
  ]);
});
