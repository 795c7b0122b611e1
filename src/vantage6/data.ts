/**
 * Reading a station's tabular data: the CSV database a vantage6 4 node hands to the container
 * (`<LABEL>_DATABASE_URI`, `<LABEL>_DATABASE_TYPE=csv`), parsed without dependencies, and the
 * Parquet dataframes of vantage6 5 (hyparquet).
 *
 * Two shapes:
 * - rows ({@link DataTable}: {@link readStationTable}, {@link readCsvFile}, {@link readParquetFile}),
 *   every cell a value;
 * - columns ({@link ColumnTable}: {@link readStationColumns}, {@link readParquetColumns}), where a
 *   numeric Parquet column is one `Float64Array` with NaN for a missing value — for large tables:
 *   only the requested columns are read.
 *
 * {@link numericColumn} and {@link completeRows} read both. The CSV parser follows RFC 4180
 * (quoted fields may hold commas, newlines and `""` quotes; CRLF or LF line ends; a UTF-8
 * byte-order mark is dropped) and is bounded: the file size, the number of columns and the number
 * of rows are capped. Errors name the file's line, the data row and the column, never the cell's
 * content: the data stays private even in logs.
 *
 * @example
 * import { readStationColumns, numericColumn, completeRows } from 'coupler/vantage6';
 * const table = await readStationColumns(ctx, { columns: ['age', 'bmi'] }); // only these columns
 * const { values, missing } = numericColumn(table, 'age');                   // Float64Array, count
 * const { values: [age, bmi], skipped } = completeRows(table, ['age', 'bmi']); // rows with both
 *
 * @module
 */
import { readBoundedFile } from '../files.js';
import { join } from 'node:path';
import { ErrorCode, InvalidArgumentError, ValueError, Vantage6Error, describeType } from '../errors.js';
import type { AlgorithmContext } from './contract.js';
import { dataFileError, readColumns } from './parquet.js';

export { MAX_PARQUET_PAGE_BYTES } from './parquet.js';

/** Largest CSV file {@link readCsvFile} reads by default (256 MiB). */
export const DEFAULT_MAX_CSV_BYTES = 256 * 1024 * 1024;
/** Most columns a CSV table may have. */
export const MAX_CSV_COLUMNS = 10_000;
/** Character codes the CSV parser looks for. */
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * One cell of a {@link DataTable}. From CSV: the cell's text (an empty cell is `''`). From Parquet:
 * a typed value, `null` when missing (pyarrow writes pandas' NaN and None as null, and so does
 * `coupler simulate --vantage6 5`).
 */
export type Cell = string | number | bigint | boolean | null | undefined | Date;

/** A table of rows: the column names and the data rows (every row has `columns.length` cells). */
export interface DataTable {
  /** Column names. */
  readonly columns: readonly string[];
  /** Data rows. */
  readonly rows: readonly (readonly Cell[])[];
}

/** A parsed CSV table: the header and the data rows (every row has `columns.length` cells). */
export interface CsvTable extends DataTable {
  /** Column names from the header row, trimmed. */
  readonly columns: readonly string[];
  /** Data rows, cells trimmed; blank lines are skipped. */
  readonly rows: readonly (readonly string[])[];
}

/** Options of {@link parseCsv} and {@link readCsvFile}. */
export interface CsvOptions {
  /** Field separator, one character (default `,`). */
  readonly separator?: string;
  /** Most data rows accepted (default {@link DEFAULT_MAX_ROWS}). */
  readonly maxRows?: number;
  /** Keep only these columns, in this order (default all): the other cells are dropped as each row is read. */
  readonly columns?: readonly string[];
}

/** Options of {@link readCsvFile}. */
export interface ReadCsvOptions extends CsvOptions {
  /** Refuse files larger than this many bytes (default {@link DEFAULT_MAX_CSV_BYTES}). */
  readonly maxBytes?: number;
}

/** What {@link numericColumn} returns for a {@link DataTable}. */
export interface NumericColumn {
  /** The numeric cells, in row order (missing cells left out). */
  readonly values: number[];
  /** How many cells were missing (empty or one of the `missing` markers). */
  readonly missing: number;
}

/** What {@link numericColumn} returns for a {@link ColumnTable}. */
export interface NumericValues {
  /** The column's values, in row order, missing values left out. */
  readonly values: Float64Array;
  /** How many values were missing. */
  readonly missing: number;
}

/**
 * A numeric column of a {@link ColumnTable}: one value per row, **NaN where the value is missing**
 * (a Parquet null, or a NaN stored in the file: pandas reads both as missing), and the number of
 * missing values. Read from Parquet DOUBLE, FLOAT, INT32 and INT64 columns (and decimals) without
 * a date or time annotation.
 */
export interface NumberColumn {
  /** Discriminant. */
  readonly kind: 'number';
  /** One value per row; NaN = missing. May hold ±Infinity (pandas' inf), which {@link numericColumn} refuses. */
  readonly values: Float64Array;
  /** How many rows have NaN. */
  readonly missing: number;
}

/**
 * Any other column of a {@link ColumnTable}: one cell per row, as in a {@link DataTable} — CSV
 * text, Parquet strings and categoricals (`string`), dates and datetimes (`Date`), booleans,
 * INT64 values beyond ±(2^53 − 1) (exact `bigint`); `null` = missing.
 */
export interface CellColumn {
  /** Discriminant. */
  readonly kind: 'cells';
  /** One cell per row. */
  readonly values: readonly Cell[];
}

/** A column of a {@link ColumnTable}. */
export type Column = NumberColumn | CellColumn;

/** A table read column by column (see {@link readStationColumns}). */
export interface ColumnTable {
  /** Column names, in the file's order (or the order requested). */
  readonly columns: readonly string[];
  /** Number of rows. */
  readonly rowCount: number;
  /** Every column by name; each holds `rowCount` values. */
  readonly data: ReadonlyMap<string, Column>;
}

/** What {@link completeRows} returns. */
export interface CompleteRows {
  /** The columns asked for, in that order. */
  readonly columns: readonly string[];
  /** One array per column (same order), each holding the values of the complete rows, in row order. */
  readonly values: readonly Float64Array[];
  /** The 0-based data row of each complete row (error messages say "data row" `dataRows[i] + 1`). */
  readonly dataRows: Uint32Array;
  /** Number of complete rows (the length of every array in `values` and of `dataRows`). */
  readonly count: number;
  /** Rows left out because at least one of the columns is missing there. */
  readonly skipped: number;
}

/** Options of {@link numericColumn} and {@link completeRows}. */
export interface NumericOptions {
  /** Text cells that mark a missing value (default `["", "NA", "NaN", "null"]`, case-insensitive). */
  readonly missing?: readonly string[];
}

/**
 * Parse CSV text.
 *
 * @param text - the file's content.
 * @param options - separator, row cap, which columns to keep.
 * @returns the header (or the columns kept) and the rows.
 * @throws {@link ValueError} `VALUE_INVALID` for an empty file, a duplicate or empty column name,
 *   an unterminated quote, a row with a different number of cells than the header, too many
 *   rows/columns, or a requested column the header lacks — naming the line, never the content.
 */
export function parseCsv(text: string, options: CsvOptions = {}): CsvTable {
  if (typeof text !== 'string') throw new InvalidArgumentError(`CSV text must be a string, got ${describeType(text)}`);
  const sep = options.separator ?? ',';
  if (typeof sep !== 'string' || sep.length !== 1 || sep === '"' || sep === '\n' || sep === '\r') {
    throw new InvalidArgumentError('"separator" must be one character other than a quote or a line break');
  }
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  if (!Number.isSafeInteger(maxRows) || maxRows < 0) throw new InvalidArgumentError('"maxRows" must be a non-negative integer');

  const only = checkColumnsOption(options.columns);

  let header: string[] | undefined;
  /** Which cells of a record to keep (undefined: all). */
  let keep: number[] | undefined;
  const rows: string[][] = [];
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let fieldWasQuoted = false;
  let line = 1;
  let recordLine = 1;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const endRecord = (): void => {
    cells.push(fieldWasQuoted ? field : field.trim());
    // Also here: the separators alone let a record of exactly MAX_CSV_COLUMNS + 1 cells through.
    if (cells.length > MAX_CSV_COLUMNS) throw new ValueError(ErrorCode.VALUE_INVALID, `line ${recordLine}: more than ${MAX_CSV_COLUMNS} columns`);
    const blank = cells.length === 1 && cells[0] === '' && !fieldWasQuoted;
    if (blank) {
      // a blank line is skipped
    } else if (header === undefined) {
      header = cells;
      const seen = new Set<string>();
      header.forEach((name, i) => {
        if (name === '') throw new ValueError(ErrorCode.VALUE_INVALID, `the header has an empty column name (column ${i + 1})`);
        if (seen.has(name)) throw new ValueError(ErrorCode.VALUE_INVALID, `the header names column "${name.slice(0, 64)}" twice`);
        seen.add(name);
      });
      keep = only?.map((name) => {
        const at = header!.indexOf(name);
        if (at < 0) throw noColumn({ columns: header!, rows: [] }, name);
        return at;
      });
    } else {
      if (rows.length >= maxRows) throw new ValueError(ErrorCode.VALUE_INVALID, `the CSV has more than ${maxRows} data rows`);
      if (cells.length !== header.length) throw new ValueError(ErrorCode.VALUE_INVALID, `line ${recordLine}: ${cells.length} cells, the header has ${header.length}`);
      rows.push(keep === undefined ? cells : keep.map((at) => cells[at]!));
    }
    cells = [];
    field = '';
    fieldWasQuoted = false;
  };
  // Runs of plain text and quoted text are taken as slices, not character by character.
  const n = s.length;
  const sepCode = sep.charCodeAt(0);
  let i = 0;
  while (i < n) {
    if (quoted) {
      const q = s.indexOf('"', i);
      const stop = q < 0 ? n : q;
      for (let k = i; k < stop; k++) if (s.charCodeAt(k) === LF) line++;
      field += s.slice(i, stop);
      if (q < 0) i = n;
      else if (s.charCodeAt(q + 1) === QUOTE) {
        field += '"';
        i = q + 2;
      } else {
        quoted = false;
        i = q + 1;
      }
      continue;
    }
    const c = s.charCodeAt(i);
    if (c === QUOTE && field.trim() === '') {
      quoted = true;
      fieldWasQuoted = true;
      field = '';
      i++;
    } else if (c === sepCode) {
      cells.push(fieldWasQuoted ? field : field.trim());
      if (cells.length > MAX_CSV_COLUMNS) throw new ValueError(ErrorCode.VALUE_INVALID, `line ${line}: more than ${MAX_CSV_COLUMNS} columns`);
      field = '';
      fieldWasQuoted = false;
      i++;
    } else if (c === LF || c === CR) {
      i += c === CR && s.charCodeAt(i + 1) === LF ? 2 : 1;
      endRecord();
      line++;
      recordLine = line;
    } else if (fieldWasQuoted) {
      if (s[i]!.trim() !== '') throw new ValueError(ErrorCode.VALUE_INVALID, `line ${line}: text after a closing quote`);
      i++;
    } else {
      // plain text up to the next separator, line break or quote
      let j = i + 1;
      while (j < n) {
        const d = s.charCodeAt(j);
        if (d === sepCode || d === LF || d === CR || d === QUOTE) break;
        j++;
      }
      field += s.slice(i, j);
      i = j;
    }
  }
  if (quoted) throw new ValueError(ErrorCode.VALUE_INVALID, `line ${recordLine}: a quoted field is not closed`);
  if (field !== '' || fieldWasQuoted || cells.length > 0) endRecord();
  if (header === undefined) throw new ValueError(ErrorCode.VALUE_INVALID, 'the CSV is empty (no header row)');
  return { columns: only === undefined ? header : Object.freeze([...only]), rows };
}

/**
 * Read and parse a CSV file, refusing files above a size cap before reading them.
 *
 * @param path - the file (e.g. from {@link databaseFile}).
 * @param options - size cap, separator, row cap.
 * @returns the parsed table.
 * @throws {@link ValueError} `VALUE_INVALID` for a file that cannot be read, is too large, or is not
 *   valid CSV (see {@link parseCsv}).
 */
export async function readCsvFile(path: string, options: ReadCsvOptions = {}): Promise<CsvTable> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`CSV path must be a non-empty string, got ${describeType(path)}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CSV_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new InvalidArgumentError('"maxBytes" must be a non-negative integer');
  let text: string;
  try {
    text = (await readBoundedFile(path, maxBytes)).bytes.toString('utf8');
  } catch (err) {
    throw dataFileError(err, maxBytes);
  }
  return parseCsv(text, options);
}

/** {@link NumericOptions.missing}'s default. */
const DEFAULT_MISSING: readonly string[] = ['', 'NA', 'NaN', 'null'];
/** Text that pandas reads as an infinity. */
const INFINITE_TEXT = /^[+-]?(?:inf|infinity)$/i;
/** A decimal number as pandas' CSV reader reads one: digits, an optional point and exponent; no 0x/0b/0o, no `_`. */
const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** An integer written without point or exponent (pandas: int64, exact). */
const INTEGER_TEXT = /^[+-]?\d+$/;
/** Most columns {@link completeRows} takes. */
const MAX_COMPLETE_COLUMNS = 10_000;

function isColumnTable(table: DataTable | ColumnTable): table is ColumnTable {
  return (table as ColumnTable).data instanceof Map;
}

/** Check the table argument of {@link numericColumn} / {@link completeRows}. */
function checkTable(table: unknown): asserts table is DataTable | ColumnTable {
  const t = table as Partial<DataTable & ColumnTable> | null;
  const ok =
    typeof t === 'object' &&
    t !== null &&
    Array.isArray(t.columns) &&
    (Array.isArray(t.rows) || (t.data instanceof Map && Number.isSafeInteger(t.rowCount) && (t.rowCount as number) >= 0));
  if (!ok) throw new InvalidArgumentError(`"table" must be a DataTable or ColumnTable, got ${describeType(table)}`);
}

/** The "no column" error, listing (up to 20 of) the table's columns. */
function noColumn(table: DataTable | ColumnTable, column: string): ValueError {
  const listed = table.columns.slice(0, 20).join(', ') + (table.columns.length > 20 ? ', ...' : '');
  return new ValueError(ErrorCode.VALUE_INVALID, `the data has no column "${column.slice(0, 64)}" (columns: ${listed})`);
}

/** The missing markers, upper-cased. */
function markerSet(options: NumericOptions): Set<string> {
  const missing = options.missing ?? DEFAULT_MISSING;
  if (!Array.isArray(missing) || missing.some((m) => typeof m !== 'string')) throw new InvalidArgumentError('"missing" must be a list of strings');
  return new Set(missing.map((m) => m.toUpperCase()));
}

/**
 * One cell as a number, `undefined` when missing (null, NaN, or a marker). Throws for a cell that
 * is not a number and for an infinity, naming the data row (1-based) and the column, never the cell.
 */
function cellNumber(cell: Cell, markers: ReadonlySet<string>, row: number, column: string): number | undefined {
  const where = (): string => `data row ${row + 1}: column "${column.slice(0, 64)}"`;
  let x: number;
  if (cell === null || cell === undefined) return undefined; // a Parquet null
  if (typeof cell === 'number') x = cell;
  else if (typeof cell === 'string') {
    if (markers.has(cell.toUpperCase())) return undefined;
    const text = cell.trim();
    if (INFINITE_TEXT.test(text)) x = Number.POSITIVE_INFINITY;
    else if (!DECIMAL_TEXT.test(text)) throw new ValueError(ErrorCode.VALUE_INVALID, `${where()} is not a number`); // "0x10", "0b11": JavaScript reads them, pandas does not
    else {
      x = Number(text);
      // pandas reads an integer column as exact int64; a double holds integers exactly only within ±(2^53 − 1)
      if (INTEGER_TEXT.test(text) && !Number.isSafeInteger(x)) throw new ValueError(ErrorCode.VALUE_INVALID, `${where()} holds an integer beyond 2^53, not exact as a number`);
    }
  } else if (typeof cell === 'bigint') {
    // Parquet INT64: exact only within ±(2^53 − 1).
    if (cell > BigInt(Number.MAX_SAFE_INTEGER) || cell < -BigInt(Number.MAX_SAFE_INTEGER)) throw new ValueError(ErrorCode.VALUE_INVALID, `${where()} holds an integer beyond 2^53, not exact as a number`);
    x = Number(cell);
  } else if (typeof cell === 'boolean') x = cell ? 1 : 0;
  else throw new ValueError(ErrorCode.VALUE_INVALID, `${where()} is not a number`);
  if (Number.isNaN(x)) return undefined; // pandas' NaN
  if (!Number.isFinite(x)) throw new ValueError(ErrorCode.VALUE_INVALID, `${where()} is infinite (only finite numbers can be summed)`);
  return x;
}

/** A column of any table as one value per row, NaN where missing; refuses non-numbers and infinities. */
function numbersOf(table: DataTable | ColumnTable, column: string, markers: ReadonlySet<string>): { values: Float64Array; missing: number } {
  if (isColumnTable(table)) {
    const col = table.data.get(column);
    if (col === undefined) throw noColumn(table, column);
    if (col.kind === 'number') {
      const { values } = col;
      let missing = 0;
      for (let i = 0; i < values.length; i++) {
        const x = values[i]!;
        if (x !== x) missing++;
        else if (x - x !== 0) throw new ValueError(ErrorCode.VALUE_INVALID, `data row ${i + 1}: column "${column.slice(0, 64)}" is infinite (only finite numbers can be summed)`);
      }
      return { values, missing };
    }
    const values = new Float64Array(col.values.length);
    let missing = 0;
    col.values.forEach((cell, i) => {
      const x = cellNumber(cell, markers, i, column);
      if (x === undefined) missing++;
      values[i] = x ?? Number.NaN;
    });
    return { values, missing };
  }
  const at = table.columns.indexOf(column);
  if (at < 0) throw noColumn(table, column);
  const values = new Float64Array(table.rows.length);
  let missing = 0;
  table.rows.forEach((row, i) => {
    const x = cellNumber(row[at], markers, i, column);
    if (x === undefined) missing++;
    values[i] = x ?? Number.NaN;
  });
  return { values, missing };
}

/**
 * The numbers of one column, missing values left out and counted. A missing value is a Parquet
 * null, a NaN, an empty text cell or one of the `missing` markers. Only this function (and
 * {@link completeRows}) refuses cells that are not numbers: reading a table never does.
 *
 * Numbers: numbers, `bigint` within ±(2^53 − 1), booleans (0/1), and text that is a decimal
 * number. Refused: any other cell ("is not a number"), an integer beyond 2^53 (it would be
 * rounded), and an infinity (`Infinity`, pandas' `inf`: "is infinite").
 *
 * @param table - a {@link DataTable} (rows) or a {@link ColumnTable} (columns).
 * @param column - the column name.
 * @param options - `missing`: the text markers of a missing value (default `["", "NA", "NaN", "null"]`, case-insensitive).
 * @returns the values (`number[]` for a DataTable; `Float64Array` for a ColumnTable) and the number of missing cells.
 * @throws {@link ValueError} `VALUE_INVALID` for an unknown column (listing the columns) or a cell
 *   that is not a finite number (naming the data row, not the cell).
 * @throws {@link InvalidArgumentError} for a `table` that is neither, or a non-string `column`.
 */
export function numericColumn(table: ColumnTable, column: string, options?: NumericOptions): NumericValues;
export function numericColumn(table: DataTable, column: string, options?: NumericOptions): NumericColumn;
export function numericColumn(table: DataTable | ColumnTable, column: string, options?: NumericOptions): NumericColumn | NumericValues;
export function numericColumn(table: DataTable | ColumnTable, column: string, options: NumericOptions = {}): NumericColumn | NumericValues {
  checkTable(table);
  if (typeof column !== 'string') throw new InvalidArgumentError(`"column" must be a string, got ${describeType(column)}`);
  const { values: all, missing } = numbersOf(table, column, markerSet(options));
  const n = all.length;
  if (!isColumnTable(table)) {
    const values: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = all[i]!;
      if (x === x) values.push(x);
    }
    return { values, missing };
  }
  if (missing === 0) return { values: all.slice(), missing };
  const values = new Float64Array(n - missing);
  for (let i = 0, k = 0; i < n; i++) {
    const x = all[i]!;
    if (x === x) values[k++] = x;
  }
  return { values, missing };
}

/**
 * The complete rows across several numeric columns: the rows where none of `columns` is missing,
 * as one `Float64Array` per column (aligned: index i of every array is the same row), and how many
 * rows were left out. What a regression or a correlation needs (complete-case analysis). Every
 * cell of the columns is checked as {@link numericColumn} checks it, in the left-out rows too.
 *
 * @param table - a {@link DataTable} or a {@link ColumnTable}.
 * @param columns - the column names (at least one, no duplicates).
 * @param options - `missing`: the text markers of a missing value (as {@link numericColumn}).
 * @returns the columns, their values in the complete rows, the count and the number skipped.
 * @throws {@link ValueError} `VALUE_INVALID` for an unknown column or a cell that is not a finite
 *   number (naming the data row and the column, not the cell).
 * @throws {@link InvalidArgumentError} for bad arguments.
 * @example
 * const { values: [y, x1, x2], count, skipped } = completeRows(table, ['event', 'age', 'bmi']);
 */
export function completeRows(table: DataTable | ColumnTable, columns: readonly string[], options: NumericOptions = {}): CompleteRows {
  checkTable(table);
  if (!Array.isArray(columns) || columns.length === 0 || columns.length > MAX_COMPLETE_COLUMNS || columns.some((c) => typeof c !== 'string')) {
    throw new InvalidArgumentError(`"columns" must be a list of 1..${MAX_COMPLETE_COLUMNS} column names`);
  }
  if (new Set(columns).size !== columns.length) throw new InvalidArgumentError('"columns" names a column twice');
  const markers = markerSet(options);
  for (const c of columns) if (isColumnTable(table) ? !table.data.has(c) : !table.columns.includes(c)) throw noColumn(table, c);
  const all = columns.map((c) => numbersOf(table, c, markers).values);
  const rows = all[0]!.length;
  let count = 0;
  const complete = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    let ok = 1;
    for (const values of all) {
      const x = values[i]!;
      if (x !== x) {
        ok = 0;
        break;
      }
    }
    complete[i] = ok;
    count += ok;
  }
  const dataRows = new Uint32Array(count);
  for (let i = 0, k = 0; i < rows; i++) if (complete[i] === 1) dataRows[k++] = i;
  const values = all.map((src) => {
    if (count === rows) return src.slice();
    const out = new Float64Array(count);
    for (let k = 0; k < count; k++) out[k] = src[dataRows[k]!]!;
    return out;
  });
  return { columns: Object.freeze([...columns]), values, dataRows, count, skipped: rows - count };
}

/**
 * The file of a database the node made available to this container.
 *
 * @param ctx - the algorithm context (`ctx.databases`).
 * @param label - the database label (default `default`).
 * @param type - the type the algorithm can read (default `csv`); `null` accepts any type.
 * @returns the database URI (a file path inside the container).
 * @throws {@link Vantage6Error} `VANTAGE6` when no such database was given, it has no URI, or it is
 *   of another type.
 */
export function databaseFile(ctx: Pick<AlgorithmContext, 'databases'>, label = 'default', type: string | null = 'csv'): string {
  if (typeof ctx !== 'object' || ctx === null || !(ctx.databases instanceof Map)) throw new InvalidArgumentError(`"ctx" must be the algorithm context, got ${describeType(ctx)}`);
  const db = ctx.databases.get(label);
  if (db === undefined) {
    const labels = [...ctx.databases.keys()];
    throw new Vantage6Error(ErrorCode.VANTAGE6, `no database labelled "${label.slice(0, 64)}" (the node gave: ${labels.length > 0 ? labels.join(', ') : 'none'})`);
  }
  if (db.uri === undefined || db.uri === '') throw new Vantage6Error(ErrorCode.VANTAGE6, `database "${label}" has no URI`);
  if (type !== null && db.type !== undefined && db.type !== type) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `database "${label}" is of type ${db.type}; expected ${type}`);
  }
  return db.uri;
}

/** Largest Parquet file {@link readParquetFile} reads by default (1 GiB). */
export const DEFAULT_MAX_PARQUET_BYTES = 1024 * 1024 * 1024;
/** Most rows a table may have by default (50 million). */
export const DEFAULT_MAX_ROWS = 50_000_000;
/** Most columns a `columns` option may name. */
const MAX_REQUESTED_COLUMNS = 10_000;

/** Options of {@link readParquetFile} and {@link readParquetColumns}. */
export interface ReadParquetOptions {
  /** Refuse files larger than this many bytes (default {@link DEFAULT_MAX_PARQUET_BYTES}). */
  readonly maxBytes?: number;
  /** Most rows accepted (default {@link DEFAULT_MAX_ROWS}). */
  readonly maxRows?: number;
  /**
   * Read only these columns, in this order (default: every top-level column except pandas' index
   * columns). Only their column chunks are read from the file.
   */
  readonly columns?: readonly string[];
}

/** Check a `columns` option: undefined, or a list of distinct strings. */
function checkColumnsOption(columns: unknown): readonly string[] | undefined {
  if (columns === undefined) return undefined;
  if (!Array.isArray(columns) || columns.length > MAX_REQUESTED_COLUMNS || columns.some((c) => typeof c !== 'string')) {
    throw new InvalidArgumentError(`"columns" must be a list of at most ${MAX_REQUESTED_COLUMNS} column names`);
  }
  if (new Set(columns).size !== columns.length) throw new InvalidArgumentError('"columns" names a column twice');
  return columns as readonly string[];
}

/** Check the options shared by the Parquet readers. */
function parquetLimits(path: unknown, options: ReadParquetOptions): { maxBytes: number; maxRows: number; columns: readonly string[] | undefined } {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`Parquet path must be a non-empty string, got ${describeType(path)}`);
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${describeType(options)}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PARQUET_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new InvalidArgumentError('"maxBytes" must be a non-negative integer');
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  if (!Number.isSafeInteger(maxRows) || maxRows < 0) throw new InvalidArgumentError('"maxRows" must be a non-negative integer');
  return { maxBytes, maxRows, columns: checkColumnsOption(options.columns) };
}

/**
 * Read a Parquet file into a {@link DataTable} (hyparquet: pure JavaScript). vantage6 5 hands
 * compute containers their data this way: see {@link dataframeFile}. Cells: INT32, FLOAT and
 * DOUBLE as `number`, INT64 as `bigint`, strings and categoricals as `string`, dates and datetimes
 * as `Date`, booleans as `boolean`, and `null` for a missing value. pandas' index columns (named
 * in the file's `pandas` metadata, e.g. `__index_level_0__` after a row filter) are not data:
 * they are left out unless named in `columns`. {@link numericColumn} reads any of these cells.
 *
 * A row per object costs memory: for large tables ask for the `columns` you need, or read them as
 * columns with {@link readParquetColumns}.
 *
 * @param path - the file.
 * @param options - size, row and column limits.
 * @returns the columns and rows.
 * @throws {@link ValueError} `VALUE_INVALID` for a file that cannot be read, is too large, has too
 *   many rows, lacks a requested column, or is not valid Parquet — never quoting its content.
 * @example
 * const table = await readParquetFile(dataframeFile(ctx));
 * const { values } = numericColumn(table, 'age');
 */
export async function readParquetFile(path: string, options: ReadParquetOptions = {}): Promise<DataTable> {
  const limits = parquetLimits(path, options);
  const read = await readColumns(path, { ...limits, cellsOnly: true });
  return rowsOf(read);
}

/** Rows from columns (each cell as the column holds it; NaN of a numeric column becomes null). */
function rowsOf(table: ColumnTable): DataTable {
  const columns = table.columns.map((name) => table.data.get(name)!);
  const rows = new Array<Cell[]>(table.rowCount);
  for (let i = 0; i < table.rowCount; i++) {
    rows[i] = columns.map((c) => {
      if (c.kind === 'cells') return c.values[i]!;
      const x = c.values[i]!;
      return x === x ? x : null;
    });
  }
  return { columns: table.columns, rows };
}

/**
 * Read columns of a Parquet file as a {@link ColumnTable}: numeric columns as `Float64Array`s
 * with NaN for a missing value (and the count of missing values), every other column as cells
 * (see {@link CellColumn}). Only the requested columns' chunks are read, one column and one row
 * group at a time: summing two columns of a 1e6-row, 7-column table reads and holds only those
 * two. pandas' index columns are left out unless named in `columns`, as in {@link readParquetFile}.
 *
 * @param path - the file.
 * @param options - size, row and column limits; `columns`: which to read (default all).
 * @returns the table.
 * @throws {@link ValueError} `VALUE_INVALID` for a file that cannot be read, is too large, has too
 *   many rows, lacks a requested column, or is not valid Parquet (a page above
 *   {@link MAX_PARQUET_PAGE_BYTES}, an unsupported codec — named) — never quoting its content.
 * @example
 * const table = await readParquetColumns(dataframeFile(ctx), { columns: ['age'] });
 * const { values, missing } = numericColumn(table, 'age'); // Float64Array without the missing values
 */
export async function readParquetColumns(path: string, options: ReadParquetOptions = {}): Promise<ColumnTable> {
  const limits = parquetLimits(path, options);
  return readColumns(path, { ...limits, cellsOnly: false });
}

/**
 * A {@link DataTable} as a {@link ColumnTable} (every column as cells), e.g. a CSV table, so code
 * written for columns reads both.
 *
 * @param table - the table.
 * @param columns - which columns to keep, in this order (default all).
 * @returns the columns.
 * @throws {@link ValueError} `VALUE_INVALID` for an unknown column (listing the columns).
 */
export function toColumnTable(table: DataTable, columns?: readonly string[]): ColumnTable {
  checkTable(table);
  if (isColumnTable(table)) throw new InvalidArgumentError('"table" is already a ColumnTable');
  const names = checkColumnsOption(columns) ?? table.columns;
  const data = new Map<string, Column>();
  for (const name of names) {
    const at = table.columns.indexOf(name);
    if (at < 0) throw noColumn(table, name);
    data.set(name, { kind: 'cells', values: table.rows.map((r) => r[at]!) });
  }
  return { columns: Object.freeze([...names]), rowCount: table.rows.length, data };
}

/**
 * The Parquet file of a dataframe the user requested for this vantage6 5 task:
 * `USER_REQUESTED_DATAFRAMES` lists dataframe names (`,` within an argument's group, `;` between
 * groups) and each is `<SESSION_FOLDER>/<name>.parquet`, as vantage6's own algorithm tools read
 * them (vantage6-algorithm-tools/vantage6/algorithm/decorator/data.py, 5.0).
 *
 * @param ctx - the algorithm context.
 * @param group - which argument's group (default 0, the first).
 * @param index - which dataframe within the group (default 0).
 * @returns the file path.
 * @throws {@link Vantage6Error} `VANTAGE6` when the task has no such dataframe, no
 *   `SESSION_FOLDER`, or a dataframe name that is not a plain file name.
 */
export function dataframeFile(ctx: Pick<AlgorithmContext, 'env'>, group = 0, index = 0): string {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.env !== 'object' || ctx.env === null) throw new InvalidArgumentError(`"ctx" must be the algorithm context, got ${describeType(ctx)}`);
  const groups = ctx.env.requestedDataframes;
  const name = groups[group]?.[index];
  if (name === undefined) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `no requested dataframe ${group}/${index} (USER_REQUESTED_DATAFRAMES names ${groups.length} group(s))`);
  }
  const folder = ctx.env.sessionFolder;
  if (folder === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'SESSION_FOLDER is not set: the node gave no session folder to read dataframes from');
  return join(folder, `${name}.parquet`);
}

/** Options of {@link readStationTable} and {@link readStationColumns}. */
export interface ReadStationTableOptions {
  /** vantage6 4.x: the database label (default `default`). */
  readonly database?: string;
  /** vantage6 5.x: which requested dataframe, `[group, index]` (default `[0, 0]`). */
  readonly dataframe?: readonly [number, number];
  /** Byte cap of the file (default: {@link DEFAULT_MAX_CSV_BYTES} for CSV, {@link DEFAULT_MAX_PARQUET_BYTES} for Parquet). */
  readonly maxBytes?: number;
  /**
   * Only these columns, in this order (default: all; pandas' index columns left out). From
   * Parquet only their column chunks are read; from a CSV file only their cells are kept.
   */
  readonly columns?: readonly string[];
}

/** Where the station's data is: a Parquet dataframe (5.x), or a 4.x database of a readable type. */
function stationSource(ctx: Pick<AlgorithmContext, 'env' | 'databases'>, options: ReadStationTableOptions): { file: string; type: 'csv' | 'parquet' } {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.env !== 'object' || ctx.env === null) throw new InvalidArgumentError(`"ctx" must be the algorithm context, got ${describeType(ctx)}`);
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options must be an object, got ${describeType(options)}`);
  if (ctx.env.contractVersion === 'v5' || (ctx.env.requestedDataframes.length > 0 && ctx.databases.size === 0)) {
    const [group, index] = options.dataframe ?? [0, 0];
    return { file: dataframeFile(ctx, group, index), type: 'parquet' };
  }
  const label = options.database ?? 'default';
  const file = databaseFile(ctx, label, null);
  const type = ctx.databases.get(label)?.type;
  if (type === 'parquet') return { file, type: 'parquet' };
  if (type === undefined || type === 'csv') return { file, type: 'csv' };
  throw new Vantage6Error(ErrorCode.VANTAGE6, `database "${label.slice(0, 64)}" is of type ${String(type).slice(0, 32)}; the station readers read csv and parquet`);
}

/**
 * The station's data as a table of rows, whichever vantage6 version runs the task, so one
 * algorithm runs on both: under 5.x the requested dataframe (Parquet in `SESSION_FOLDER`, see
 * {@link dataframeFile}); under 4.x the database labelled `database` (default `default`), read as
 * CSV or Parquet by its `<LABEL>_DATABASE_TYPE` (CSV when the node gives no type).
 * {@link numericColumn} and {@link completeRows} read either. For large tables prefer
 * {@link readStationColumns} (or at least name the `columns` you need).
 *
 * @param ctx - the algorithm context.
 * @param options - which database or dataframe, a byte cap, which columns.
 * @returns the table.
 * @throws {@link Vantage6Error} `VANTAGE6` when the task gives no such data, or a 4.x database is
 *   of a type other than CSV or Parquet; {@link ValueError} `VALUE_INVALID` for an unreadable file
 *   or an unknown column.
 * @example
 * const { values, missing } = numericColumn(await readStationTable(ctx), 'age');
 */
export async function readStationTable(ctx: Pick<AlgorithmContext, 'env' | 'databases'>, options: ReadStationTableOptions = {}): Promise<DataTable> {
  const { file, type } = stationSource(ctx, options);
  const columns = checkColumnsOption(options.columns);
  const caps = options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes };
  if (type === 'parquet') return readParquetFile(file, { ...caps, ...(columns === undefined ? {} : { columns }) });
  return readCsvFile(file, { ...caps, ...(columns === undefined ? {} : { columns }) });
}

/**
 * The station's data as a {@link ColumnTable}, under either vantage6 version (found as
 * {@link readStationTable} finds it). From Parquet (5.x dataframes, 4.x parquet databases) only
 * the requested columns are read, numeric ones as `Float64Array` with NaN for missing values; a
 * 4.x CSV database is parsed and its columns kept as text cells, which {@link numericColumn} and
 * {@link completeRows} convert.
 *
 * @param ctx - the algorithm context.
 * @param options - which database or dataframe, a byte cap, and the `columns` to read (default all).
 * @returns the columns.
 * @throws as {@link readStationTable}.
 * @example
 * const table = await readStationColumns(ctx, { columns: ['age', 'bmi'] });
 * const { values, missing } = numericColumn(table, 'bmi');
 */
export async function readStationColumns(ctx: Pick<AlgorithmContext, 'env' | 'databases'>, options: ReadStationTableOptions = {}): Promise<ColumnTable> {
  const { file, type } = stationSource(ctx, options);
  const columns = checkColumnsOption(options.columns);
  const caps = options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes };
  if (type === 'parquet') return readParquetColumns(file, { ...caps, ...(columns === undefined ? {} : { columns }) });
  return toColumnTable(await readCsvFile(file, { ...caps, ...(columns === undefined ? {} : { columns }) }));
}
