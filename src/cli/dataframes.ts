/**
 * `coupler simulate --vantage6 5`: a vantage6 5 node hands compute containers their data as Parquet
 * dataframes in the session folder. simulate turns each party's data file into one: a Parquet file
 * is copied as it is; a CSV file is converted (hyparquet-writer), each column to DOUBLE when every
 * non-missing cell is a number (missing cells become NaN, as pandas writes them) and to STRING
 * otherwise (missing cells null).
 *
 * @module
 * @internal
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { readCsvFile } from '../vantage6/data.js';

const MISSING = new Set(['', 'NA', 'NaN', 'nan', 'null', 'NULL']);

interface Writer {
  parquetWriteBuffer(o: { columnData: { name: string; data: unknown[]; type: string }[] }): ArrayBuffer;
}

/** Write `source` (CSV or Parquet) as the Parquet dataframe `target`. */
export async function writeDataframe(source: string, target: string): Promise<void> {
  if (extname(source).toLowerCase() === '.parquet') {
    await copyFile(source, target);
    return;
  }
  const table = await readCsvFile(source);
  const columnData = table.columns.map((name, c) => {
    const cells = table.rows.map((r) => r[c]!);
    const numeric = cells.every((x) => MISSING.has(x) || (x.trim() !== '' && Number.isFinite(Number(x))));
    return numeric
      ? { name, type: 'DOUBLE', data: cells.map((x) => (MISSING.has(x) ? Number.NaN : Number(x))) }
      : { name, type: 'STRING', data: cells.map((x) => (x === '' ? null : x)) };
  });
  const specifier = 'hyparquet-writer';
  const hw = (await import(specifier)) as Writer;
  await writeFile(target, Buffer.from(hw.parquetWriteBuffer({ columnData })));
}
