/**
 * `coupler simulate --vantage6 5`: a vantage6 5 node hands compute containers their data as Parquet
 * dataframes in the session folder, written by pandas/pyarrow from what the data-extraction step
 * returned (vantage6-algorithm-tools/vantage6/algorithm/tools/wrap.py, 5.0). simulate turns each
 * party's data file into one the same way: a Parquet file is copied as it is; a CSV file is
 * converted (hyparquet-writer) with the column types `pandas.read_csv` infers and the nulls pyarrow
 * writes:
 *
 * - every non-missing cell an integer in int64 and none missing → INT64 (pandas int64);
 * - every cell an integer, none missing, none negative (no '-' at all, "-0" included), some beyond
 *   int64 but all within uint64 → INT64 annotated unsigned (pandas uint64);
 * - every non-missing cell an integer, some beyond int64, but no 64-bit integer type holds them all
 *   → STRING (pandas keeps them as text: object): with one beyond int64 within uint64 and a
 *   negative or a missing cell, every cell as read (a missing cell stays its text, as `""`);
 *   with one beyond uint64 or below int64, missing cells null;
 * - every non-missing cell a number (integers within int64 with missing cells included) → DOUBLE (float64);
 * - every cell `True`/`False` (any case pandas accepts) and none missing → BOOLEAN;
 * - anything else → STRING (object).
 *
 * A missing cell (one of pandas' default `na_values`, e.g. empty, `NA`, `NaN`, `null`) is written
 * as a Parquet null in every column type, as pyarrow writes pandas' NaN/None: never as a NaN (but
 * for the text pandas leaves as read, above). The
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
const UINT64_MAX = 2n ** 64n - 1n;

interface Writer {
  parquetWriteBuffer(o: {
    columnData: { name: string; data: unknown[]; type?: string; nullable?: boolean }[];
    schema?: Record<string, unknown>[];
    kvMetadata: { key: string; value: string }[];
  }): ArrayBuffer;
}

/** hyparquet-writer, loaded when first needed (an optional part of the CLI). */
async function parquetWriter(): Promise<Writer> {
  const specifier = 'hyparquet-writer';
  return (await import(specifier)) as Writer;
}

/** A column's Parquet type as {@link writeDataframe} writes it: a physical type, or uint64. */
type ColumnType = 'INT64' | 'UINT64' | 'DOUBLE' | 'BOOLEAN' | 'STRING';

/** One CSV column as pandas would type it: the Parquet type, the values (null = missing) and pandas' dtype name. */
function typeColumn(cells: readonly string[]): { type: ColumnType; data: unknown[]; dtype: string } {
  const present = cells.filter((x) => !PANDAS_NA.has(x));
  const hasMissing = present.length < cells.length;
  if (present.length > 0 && present.every((x) => INT_TEXT.test(x))) {
    // pandas' C parser (parsers.pyx, _convert_tokens): int64 (with a missing cell: float64, below);
    // past int64, _try_uint64 over every cell, where any leading '-' (even "-0") counts as signed.
    const values = present.map((x) => BigInt(x));
    if (values.every((v) => v >= INT64_MIN && v <= INT64_MAX)) {
      if (!hasMissing) return { type: 'INT64', dtype: 'int64', data: values };
    } else {
      const pastUint64 = values.some((v) => v > UINT64_MAX);
      const signed = present.some((x) => x.startsWith('-'));
      const unsigned = values.some((v) => v > INT64_MAX);
      // A uint64 with a signed value or a missing cell: ValueError, the column kept as read, its
      // missing cells as the text they were (pandas test_na_values_uint64, gh-14983).
      if (!pastUint64 && unsigned && (signed || hasMissing)) return { type: 'STRING', dtype: 'object', data: [...cells] };
      // Past uint64, or below int64: OverflowError, text with missing cells missing.
      if (pastUint64 || signed) return { type: 'STRING', dtype: 'object', data: cells.map((x) => (PANDAS_NA.has(x) ? null : x)) };
      return { type: 'UINT64', dtype: 'uint64', data: values };
    }
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

/** The schema element pyarrow writes for a column of this type (nullable, as pandas columns are). */
function schemaElement(name: string, type: ColumnType): Record<string, unknown> {
  switch (type) {
    case 'UINT64':
      return { name, type: 'INT64', converted_type: 'UINT_64', logical_type: { type: 'INTEGER', bitWidth: 64, isSigned: false }, repetition_type: 'OPTIONAL' };
    case 'STRING':
      return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' };
    default:
      return { name, type, repetition_type: 'OPTIONAL' };
  }
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
  const hw = await parquetWriter();
  const buffer = hw.parquetWriteBuffer({
    columnData: typed.map((t) => ({ name: t.name, data: t.data })),
    schema: [{ name: 'schema', num_children: typed.length }, ...typed.map((t) => schemaElement(t.name, t.type))],
    kvMetadata: [{ key: 'pandas', value: JSON.stringify(pandas) }],
  });
  await writeFile(target, Buffer.from(buffer));
}

/** The file name of a 5.x session's state file in the session folder (vantage6-common globals.py:65 `SESSION_STATE_FILENAME`, session_manager.py:36). */
export const SESSION_STATE_FILE = 'session_state.parquet';

/**
 * Write the session state file a vantage6 5.0 node keeps in each session folder and names in
 * `SESSION_FILE` (vantage6-node/vantage6/node/k8s/session_manager.py, tag version/5.0.0rc2): the
 * row `_create_session_state_file` writes when the session is created (:136-160), then one row
 * per dataframe a data-extraction step wrote, as `update_state_file` adds it (run_io.py:239-244).
 * Columns `action`, `file`, `timestamp` (the node's local time, a timestamp without time zone in
 * microseconds), `message`, `dataframe`. Once a dataframe row is added the node has read and
 * rewritten the file through pandas, so the file then carries a `pandas` entry (a RangeIndex);
 * the timestamp unit pandas writes back depends on its and pyarrow's versions.
 */
export async function writeSessionStateFile(target: string, dataframes: readonly string[]): Promise<void> {
  const now = (): Date => {
    const d = new Date();
    // datetime.datetime.now(): the local wall-clock time, stored as it reads, without a zone.
    return new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  };
  const rows = [
    { action: '', file: SESSION_STATE_FILE, timestamp: now(), message: 'Created this session file.', dataframe: '' },
    ...dataframes.map((df) => ({ action: 'data_extraction', file: `${df}.parquet`, timestamp: now(), message: 'Session updated.', dataframe: df })),
  ];
  const names = ['action', 'file', 'timestamp', 'message', 'dataframe'] as const;
  const text = (name: string): Record<string, unknown> => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' });
  const schema = [
    { name: 'schema', num_children: names.length },
    ...names.map((name) => (name === 'timestamp' ? { name, type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' }, repetition_type: 'OPTIONAL' } : text(name))),
  ];
  const pandas = {
    index_columns: [{ kind: 'range', name: null, start: 0, stop: rows.length, step: 1 }],
    column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
    columns: names.map((name) => ({ name, field_name: name, pandas_type: name === 'timestamp' ? 'datetime' : 'unicode', numpy_type: name === 'timestamp' ? 'datetime64[us]' : 'object', metadata: null })),
    creator: { library: 'coupler simulate', version: '1' },
    pandas_version: '2.2.3',
  };
  const hw = await parquetWriter();
  const buffer = hw.parquetWriteBuffer({
    columnData: names.map((name) => ({ name, data: rows.map((r) => r[name]) })),
    schema,
    kvMetadata: dataframes.length > 0 ? [{ key: 'pandas', value: JSON.stringify(pandas) }] : [],
  });
  await writeFile(target, Buffer.from(buffer));
}
