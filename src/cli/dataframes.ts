/**
 * `coupler simulate --vantage6 5`: a vantage6 5 node hands compute containers their data as Parquet
 * dataframes in the session folder, written by pandas/pyarrow from what the data-extraction step
 * returned (vantage6-algorithm-tools/vantage6/algorithm/tools/wrap.py, 5.0). simulate turns each
 * party's data file into one the same way: a Parquet file is copied as it is; a CSV file is
 * converted (hyparquet-writer) with the column types `pandas.read_csv` infers and the nulls pyarrow
 * writes:
 *
 * - every non-missing cell an integer in int64 and none missing → INT64 (pandas int64);
 * - every non-missing cell a number (integers with missing cells included) → DOUBLE (float64);
 * - every cell `True`/`False` (any case pandas accepts) and none missing → BOOLEAN;
 * - anything else → STRING (object).
 *
 * A missing cell (one of pandas' default `na_values`, e.g. empty, `NA`, `NaN`, `null`) is written
 * as a Parquet null in every column type, as pyarrow writes pandas' NaN/None: never as a NaN. The
 * file carries a `pandas` key-value entry (a RangeIndex, not stored as a column), as pyarrow writes.
 *
 * @module
 * @internal
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { readCsvFile } from '../vantage6/data.js';

/** pandas' default `na_values` of `read_csv` (pandas/_libs/parsers.pyx `STR_NA_VALUES`, 2.x). */
const PANDAS_NA = new Set(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null']);
/** A decimal number as pandas' C parser reads it (no hex, no `_` separators), or ±inf/Infinity. */
const FLOAT_TEXT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)$/i;
/** An integer literal. */
const INT_TEXT = /^[+-]?\d+$/;
/** pandas' true/false values of `read_csv`. */
const TRUE_TEXT = new Set(['True', 'TRUE', 'true']);
const FALSE_TEXT = new Set(['False', 'FALSE', 'false']);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

interface Writer {
  parquetWriteBuffer(o: { columnData: { name: string; data: unknown[]; type: string; nullable: boolean }[]; kvMetadata: { key: string; value: string }[] }): ArrayBuffer;
}

/** One CSV column as pandas would type it: the Parquet type, the values (null = missing) and pandas' dtype name. */
function typeColumn(cells: readonly string[]): { type: string; data: unknown[]; dtype: string } {
  const present = cells.filter((x) => !PANDAS_NA.has(x));
  const hasMissing = present.length < cells.length;
  const isInt64 = (x: string): boolean => INT_TEXT.test(x) && BigInt(x) >= INT64_MIN && BigInt(x) <= INT64_MAX;
  if (present.length > 0 && !hasMissing && present.every(isInt64)) {
    return { type: 'INT64', dtype: 'int64', data: cells.map((x) => BigInt(x)) };
  }
  if (present.every((x) => FLOAT_TEXT.test(x))) {
    const parse = (x: string): number => (/inf/i.test(x) ? (x.startsWith('-') ? -Infinity : Infinity) : Number(x));
    return { type: 'DOUBLE', dtype: 'float64', data: cells.map((x) => (PANDAS_NA.has(x) ? null : parse(x))) };
  }
  if (!hasMissing && present.every((x) => TRUE_TEXT.has(x) || FALSE_TEXT.has(x))) {
    return { type: 'BOOLEAN', dtype: 'bool', data: cells.map((x) => TRUE_TEXT.has(x)) };
  }
  return { type: 'STRING', dtype: 'object', data: cells.map((x) => (PANDAS_NA.has(x) ? null : x)) };
}

/** Write `source` (CSV or Parquet) as the Parquet dataframe `target`. */
export async function writeDataframe(source: string, target: string): Promise<void> {
  if (extname(source).toLowerCase() === '.parquet') {
    await copyFile(source, target);
    return;
  }
  const table = await readCsvFile(source);
  const typed = table.columns.map((name, c) => ({ name, ...typeColumn(table.rows.map((r) => r[c]!)) }));
  const pandas = {
    index_columns: [{ kind: 'range', name: null, start: 0, stop: table.rows.length, step: 1 }],
    column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
    columns: typed.map((t) => ({ name: t.name, field_name: t.name, pandas_type: t.dtype === 'object' ? 'unicode' : t.dtype, numpy_type: t.dtype, metadata: null })),
    creator: { library: 'coupler simulate', version: '1' },
    pandas_version: '2.2.3',
  };
  const specifier = 'hyparquet-writer';
  const hw = (await import(specifier)) as Writer;
  const buffer = hw.parquetWriteBuffer({
    columnData: typed.map((t) => ({ name: t.name, type: t.type, data: t.data, nullable: true })),
    kvMetadata: [{ key: 'pandas', value: JSON.stringify(pandas) }],
  });
  await writeFile(target, Buffer.from(buffer));
}
