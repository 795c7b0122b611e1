/**
 * Review 18, R18-5: a file of many small row groups. The general path (strings, booleans, dates,
 * decimals, and every column of readParquetFile) called hyparquet's parquetRead once per row group
 * with the whole file's metadata, and each call plans over every row group: O(groups²). 6,000
 * one-row groups of one string column took 10 s (hyparquet's own full read: 0.4 s); the 20,000
 * here took minutes — a file of a few MB that stops a task. Expected: the read finishes well
 * inside a deadline that a loaded machine meets (the fixed reader takes about a second).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readParquetColumns, readParquetFile } from '../../src/vantage6';
import { tempDir } from '../vantage6/helpers';

const t = tempDir('coupler-r18-groups-');
afterAll(() => t.cleanup());

const ROWS = 20_000;

test('20,000 one-row groups: every column read, not hung', async () => {
  const hw = (await import('hyparquet-writer' as string)) as { parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer };
  const file = join(t.dir, 'groups.parquet');
  const names = Array.from({ length: ROWS }, (_, i) => (i % 5 === 0 ? null : `site-${i % 17}`));
  const flags = Array.from({ length: ROWS }, (_, i) => i % 3 === 0);
  writeFileSync(file, Buffer.from(hw.parquetWriteBuffer({ columnData: [{ name: 'site', type: 'STRING', data: names }, { name: 'flag', type: 'BOOLEAN', data: flags, nullable: false }], rowGroupSize: 1, statistics: false })));
  const started = Date.now();
  const table = await readParquetColumns(file);
  expect(table.rowCount).toBe(ROWS);
  expect(table.data.get('site')).toEqual({ kind: 'cells', values: names });
  expect(table.data.get('flag')).toEqual({ kind: 'cells', values: flags });
  const rows = await readParquetFile(file, { columns: ['flag'] });
  expect(rows.rows.length).toBe(ROWS);
  expect(Date.now() - started).toBeLessThan(40_000);
}, 90_000);
