/**
 * Reading a station's tabular data: the CSV database a vantage6 node hands to the container
 * (`<LABEL>_DATABASE_URI`, `<LABEL>_DATABASE_TYPE=csv`), parsed without dependencies.
 *
 * The parser follows RFC 4180 (quoted fields may hold commas, newlines and `""` quotes; CRLF or
 * LF line ends; a UTF-8 byte-order mark is dropped) and is bounded: the file size, the number of
 * columns and the number of rows are capped. Errors name the file's line and column, never the
 * cell's content: the data stays private even in logs.
 *
 * @example
 * import { databaseFile, readCsvFile, numericColumn } from 'coupler/vantage6';
 * const table = await readCsvFile(databaseFile(ctx));          // the database labelled "default"
 * const { values, missing } = numericColumn(table, 'age');
 *
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, InvalidArgumentError, ValueError, Vantage6Error, describeType } from '../errors.js';
import type { AlgorithmContext } from './contract.js';

/** Largest CSV file {@link readCsvFile} reads by default (256 MiB). */
export const DEFAULT_MAX_CSV_BYTES = 256 * 1024 * 1024;
/** Most columns a CSV table may have. */
export const MAX_CSV_COLUMNS = 10_000;

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
  /** Most data rows accepted (default 50 million). */
  readonly maxRows?: number;
}

/** Options of {@link readCsvFile}. */
export interface ReadCsvOptions extends CsvOptions {
  /** Refuse files larger than this many bytes (default {@link DEFAULT_MAX_CSV_BYTES}). */
  readonly maxBytes?: number;
}

/** What {@link numericColumn} returns. */
export interface NumericColumn {
  /** The numeric cells, in row order. */
  readonly values: number[];
  /** How many cells were missing (empty or one of the `missing` markers). */
  readonly missing: number;
}

/**
 * Parse CSV text.
 *
 * @param text - the file's content.
 * @param options - separator and row cap.
 * @returns the header and the rows.
 * @throws {@link ValueError} `VALUE_INVALID` for an empty file, a duplicate or empty column name,
 *   an unterminated quote, a row with a different number of cells than the header, or too many
 *   rows/columns — naming the line, never the content.
 */
export function parseCsv(text: string, options: CsvOptions = {}): CsvTable {
  if (typeof text !== 'string') throw new InvalidArgumentError(`CSV text must be a string, got ${describeType(text)}`);
  const sep = options.separator ?? ',';
  if (typeof sep !== 'string' || sep.length !== 1 || sep === '"' || sep === '\n' || sep === '\r') {
    throw new InvalidArgumentError('"separator" must be one character other than a quote or a line break');
  }
  const maxRows = options.maxRows ?? 50_000_000;
  if (!Number.isSafeInteger(maxRows) || maxRows < 0) throw new InvalidArgumentError('"maxRows" must be a non-negative integer');

  const records: { cells: string[]; line: number }[] = [];
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let fieldWasQuoted = false;
  let line = 1;
  let recordLine = 1;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const endRecord = (): void => {
    cells.push(fieldWasQuoted ? field : field.trim());
    const blank = cells.length === 1 && cells[0] === '' && !fieldWasQuoted;
    if (!blank) {
      if (records.length > maxRows) throw new ValueError(ErrorCode.VALUE_INVALID, `the CSV has more than ${maxRows} data rows`);
      records.push({ cells, line: recordLine });
    }
    cells = [];
    field = '';
    fieldWasQuoted = false;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field.trim() === '') {
      quoted = true;
      fieldWasQuoted = true;
      field = '';
    } else if (c === sep) {
      cells.push(fieldWasQuoted ? field : field.trim());
      if (cells.length > MAX_CSV_COLUMNS) throw new ValueError(ErrorCode.VALUE_INVALID, `line ${line}: more than ${MAX_CSV_COLUMNS} columns`);
      field = '';
      fieldWasQuoted = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else if (fieldWasQuoted) {
      if (c.trim() !== '') throw new ValueError(ErrorCode.VALUE_INVALID, `line ${line}: text after a closing quote`);
    } else field += c;
  }
  if (quoted) throw new ValueError(ErrorCode.VALUE_INVALID, `line ${recordLine}: a quoted field is not closed`);
  if (field !== '' || fieldWasQuoted || cells.length > 0) endRecord();

  const header = records.shift();
  if (header === undefined) throw new ValueError(ErrorCode.VALUE_INVALID, 'the CSV is empty (no header row)');
  const seen = new Set<string>();
  header.cells.forEach((name, i) => {
    if (name === '') throw new ValueError(ErrorCode.VALUE_INVALID, `the header has an empty column name (column ${i + 1})`);
    if (seen.has(name)) throw new ValueError(ErrorCode.VALUE_INVALID, `the header names column "${name.slice(0, 64)}" twice`);
    seen.add(name);
  });
  for (const r of records) {
    if (r.cells.length !== header.cells.length) {
      throw new ValueError(ErrorCode.VALUE_INVALID, `line ${r.line}: ${r.cells.length} cells, the header has ${header.cells.length}`);
    }
  }
  return { columns: header.cells, rows: records.map((r) => r.cells) };
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
    const st = await stat(path);
    if (!st.isFile()) throw new ValueError(ErrorCode.VALUE_INVALID, 'the data path is not a regular file');
    if (st.size > maxBytes) throw new ValueError(ErrorCode.VALUE_INVALID, `the data file has ${st.size} bytes, more than the cap of ${maxBytes}`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof ValueError) throw err;
    throw new ValueError(ErrorCode.VALUE_INVALID, `cannot read the data file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  return parseCsv(text, options);
}

/**
 * The numeric cells of one column. Empty cells and the `missing` markers count as missing.
 *
 * @param table - a parsed table.
 * @param column - the column name.
 * @param options - `missing`: the markers of a missing value (default `["", "NA", "NaN", "null"]`, case-insensitive).
 * @returns the values and the number of missing cells.
 * @throws {@link ValueError} `VALUE_INVALID` for an unknown column (listing the columns) or a cell
 *   that is not a finite number (naming the data row, not the cell).
 */
export function numericColumn(table: DataTable, column: string, options: { readonly missing?: readonly string[] } = {}): NumericColumn {
  if (typeof table !== 'object' || table === null || !Array.isArray(table.columns) || !Array.isArray(table.rows)) {
    throw new InvalidArgumentError(`"table" must be a DataTable (CSV or Parquet), got ${describeType(table)}`);
  }
  if (typeof column !== 'string') throw new InvalidArgumentError(`"column" must be a string, got ${describeType(column)}`);
  const at = table.columns.indexOf(column);
  if (at < 0) {
    const listed = table.columns.slice(0, 20).join(', ') + (table.columns.length > 20 ? ', ...' : '');
    throw new ValueError(ErrorCode.VALUE_INVALID, `the data has no column "${column.slice(0, 64)}" (columns: ${listed})`);
  }
  const markers = new Set((options.missing ?? ['', 'NA', 'NaN', 'null']).map((m) => m.toUpperCase()));
  const values: number[] = [];
  let missing = 0;
  table.rows.forEach((row, i) => {
    const cell = row[at];
    const where = `data row ${i + 1}: column "${column.slice(0, 64)}"`;
    if (cell === null || cell === undefined) {
      missing++; // a Parquet null
      return;
    }
    let x: number;
    if (typeof cell === 'string') {
      if (markers.has(cell.toUpperCase())) {
        missing++;
        return;
      }
      x = cell.trim() === '' ? Number.NaN : Number(cell);
    } else if (typeof cell === 'number') {
      if (Number.isNaN(cell)) {
        missing++; // pandas writes missing floats as NaN
        return;
      }
      x = cell;
    } else if (typeof cell === 'bigint') {
      // Parquet INT64: exact only within ±(2^53 − 1).
      if (cell > BigInt(Number.MAX_SAFE_INTEGER) || cell < -BigInt(Number.MAX_SAFE_INTEGER)) throw new ValueError(ErrorCode.VALUE_INVALID, `${where} holds an integer beyond 2^53, not exact as a number`);
      x = Number(cell);
    } else if (typeof cell === 'boolean') {
      x = cell ? 1 : 0;
    } else {
      throw new ValueError(ErrorCode.VALUE_INVALID, `${where} is not a number`);
    }
    if (!Number.isFinite(x)) throw new ValueError(ErrorCode.VALUE_INVALID, `${where} is not a number`);
    values.push(x);
  });
  return { values, missing };
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

/** Options of {@link readParquetFile}. */
export interface ReadParquetOptions {
  /** Refuse files larger than this many bytes (default {@link DEFAULT_MAX_PARQUET_BYTES}). */
  readonly maxBytes?: number;
  /** Most rows accepted (default 50 million). */
  readonly maxRows?: number;
  /** Read only these columns (default: all top-level columns). */
  readonly columns?: readonly string[];
}

/** The part of hyparquet's API used here (it is imported lazily: an ESM-only package). */
interface Hyparquet {
  parquetMetadata(buffer: ArrayBuffer): { num_rows: bigint | number };
  parquetSchema(metadata: unknown): { children: { element: { name: string } }[] };
  parquetReadObjects(options: { file: ArrayBuffer; columns?: string[] }): Promise<Record<string, unknown>[]>;
}

/**
 * Read a Parquet file into a {@link DataTable} (hyparquet: pure JavaScript, snappy built in).
 * vantage6 5 hands compute containers their data this way: see {@link dataframeFile}. Integers
 * come back as `number` (INT32) or `bigint` (INT64), floats as `number`, nulls as `null`;
 * {@link numericColumn} reads any of them.
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
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError(`Parquet path must be a non-empty string, got ${describeType(path)}`);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PARQUET_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new InvalidArgumentError('"maxBytes" must be a non-negative integer');
  const maxRows = options.maxRows ?? 50_000_000;
  if (!Number.isSafeInteger(maxRows) || maxRows < 0) throw new InvalidArgumentError('"maxRows" must be a non-negative integer');
  let bytes: Buffer;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ValueError(ErrorCode.VALUE_INVALID, 'the data path is not a regular file');
    if (st.size > maxBytes) throw new ValueError(ErrorCode.VALUE_INVALID, `the data file has ${st.size} bytes, more than the cap of ${maxBytes}`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof ValueError) throw err;
    throw new ValueError(ErrorCode.VALUE_INVALID, `cannot read the data file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const specifier = 'hyparquet';
  const hp = (await import(specifier)) as Hyparquet;
  let columns: string[];
  try {
    const meta = hp.parquetMetadata(file);
    if (Number(meta.num_rows) > maxRows) throw new ValueError(ErrorCode.VALUE_INVALID, `the data file has ${String(meta.num_rows)} rows, more than the cap of ${maxRows}`);
    columns = hp.parquetSchema(meta).children.map((c) => c.element.name);
  } catch (err) {
    if (err instanceof ValueError) throw err;
    throw new ValueError(ErrorCode.VALUE_INVALID, 'the data file is not valid Parquet', { cause: err });
  }
  if (options.columns !== undefined) {
    for (const c of options.columns) if (!columns.includes(c)) throw new ValueError(ErrorCode.VALUE_INVALID, `the data has no column "${String(c).slice(0, 64)}"`);
    columns = [...options.columns];
  }
  let objects: Record<string, unknown>[];
  try {
    objects = await hp.parquetReadObjects({ file, columns });
  } catch (err) {
    throw new ValueError(ErrorCode.VALUE_INVALID, 'the data file is not valid Parquet (or uses an unsupported encoding or compression)', { cause: err });
  }
  const rows = objects.map((o) => columns.map((c) => o[c] as Cell));
  return { columns: Object.freeze(columns), rows };
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

/** Options of {@link readStationTable}. */
export interface ReadStationTableOptions {
  /** vantage6 4.x: the database label (default `default`). */
  readonly database?: string;
  /** vantage6 5.x: which requested dataframe, `[group, index]` (default `[0, 0]`). */
  readonly dataframe?: readonly [number, number];
  /** Byte cap of the file (default: {@link DEFAULT_MAX_CSV_BYTES} for CSV, {@link DEFAULT_MAX_PARQUET_BYTES} for Parquet). */
  readonly maxBytes?: number;
}

/**
 * The station's data as a table, whichever vantage6 version runs the task, so one algorithm runs
 * on both: under 5.x the requested dataframe (Parquet in `SESSION_FOLDER`, see
 * {@link dataframeFile}); under 4.x the database labelled `database` (default `default`), read as
 * CSV or Parquet by its `<LABEL>_DATABASE_TYPE` (CSV when the node gives no type).
 * {@link numericColumn} reads either.
 *
 * @param ctx - the algorithm context.
 * @returns the table.
 * @throws {@link Vantage6Error} `VANTAGE6` when the task gives no such data, or a 4.x database is
 *   of a type other than CSV or Parquet; {@link ValueError} `VALUE_INVALID` for an unreadable file.
 * @example
 * const { values, missing } = numericColumn(await readStationTable(ctx), 'age');
 */
export async function readStationTable(ctx: Pick<AlgorithmContext, 'env' | 'databases'>, options: ReadStationTableOptions = {}): Promise<DataTable> {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.env !== 'object' || ctx.env === null) throw new InvalidArgumentError(`"ctx" must be the algorithm context, got ${describeType(ctx)}`);
  const caps = options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes };
  if (ctx.env.contractVersion === 'v5' || (ctx.env.requestedDataframes.length > 0 && ctx.databases.size === 0)) {
    const [group, index] = options.dataframe ?? [0, 0];
    return readParquetFile(dataframeFile(ctx, group, index), caps);
  }
  const label = options.database ?? 'default';
  const file = databaseFile(ctx, label, null);
  const type = ctx.databases.get(label)?.type;
  if (type === 'parquet') return readParquetFile(file, caps);
  if (type === undefined || type === 'csv') return readCsvFile(file, caps);
  throw new Vantage6Error(ErrorCode.VANTAGE6, `database "${label.slice(0, 64)}" is of type ${String(type).slice(0, 32)}; readStationTable reads csv and parquet`);
}
