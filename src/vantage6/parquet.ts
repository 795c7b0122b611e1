/**
 * Column-wise Parquet reading behind {@link readParquetColumns} and {@link readParquetFile}
 * (src/vantage6/data.ts): only the requested columns' chunks are read from the file, one column
 * and one row group at a time, so memory follows the columns asked for, not the file.
 *
 * Two decoders:
 * - the fast path, for flat numeric columns (DOUBLE, FLOAT, signed INT32/INT64 without a date or
 *   time annotation): the column chunk's pages (version 1 and 2, PLAIN or dictionary-encoded) are
 *   decoded here — definition levels, dictionary indices and values into typed arrays, straight
 *   into one `Float64Array`, a missing value (null, or a NaN stored in the file) becoming NaN, no
 *   JavaScript value per row. Page headers are parsed, and pages in other encodings
 *   (BYTE_STREAM_SPLIT, DELTA_BINARY_PACKED) decoded, by hyparquet's page functions
 *   (`hyparquet/src/*.js`, public subpath exports; without them every column takes the general path);
 * - the general path, for every other column (strings, categoricals, dates, datetimes, booleans,
 *   decimals, nested columns) and for the row path: hyparquet's `parquetRead`, one row group at a
 *   time, giving cells (`null` = missing).
 *
 * An INT64 column holding a value beyond ±(2^53 − 1) is read by the general path as exact
 * `bigint` cells, so that {@link numericColumn} can refuse it naming the row instead of rounding.
 *
 * @module
 * @internal
 */
import type { FileHandle } from 'node:fs/promises';
import { openRegularFile, type FileReadError } from '../files.js';
import * as zlib from 'node:zlib';
import { ErrorCode, ValueError } from '../errors.js';
import type { Cell, Column, ColumnTable } from './data.js';

/** Largest page (uncompressed bytes) the reader decompresses (pyarrow writes 1 MiB pages). */
export const MAX_PARQUET_PAGE_BYTES = 256 * 1024 * 1024;

interface SchemaElement {
  readonly name: string;
  readonly type?: string;
  readonly type_length?: number;
  readonly repetition_type?: string;
  readonly num_children?: number;
  readonly converted_type?: string;
  readonly logical_type?: { readonly type: string; readonly isSigned?: boolean; readonly scale?: number };
  readonly scale?: number;
}
interface SchemaTree {
  readonly element: SchemaElement;
  readonly children: readonly SchemaTree[];
}
interface ColumnMeta {
  readonly type: string;
  readonly path_in_schema: readonly string[];
  readonly codec: string;
  readonly total_compressed_size: bigint;
  readonly num_values?: bigint;
  readonly data_page_offset: bigint;
  readonly dictionary_page_offset?: bigint;
}
interface FileMetaData {
  readonly schema: readonly SchemaElement[];
  readonly num_rows: bigint;
  readonly row_groups: readonly { readonly num_rows: bigint; readonly columns: readonly { readonly meta_data?: ColumnMeta }[] }[];
  readonly key_value_metadata?: readonly { readonly key: string; readonly value?: string }[];
}
interface AsyncBuffer {
  readonly byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}
interface DataReader {
  view: DataView;
  offset: number;
}
interface PageHeader {
  readonly type: string;
  readonly uncompressed_page_size: number;
  readonly compressed_page_size: number;
  readonly data_page_header?: { readonly num_values: number; readonly encoding: string; readonly definition_level_encoding?: string };
  readonly data_page_header_v2?: {
    readonly num_values: number;
    readonly num_nulls?: number;
    readonly encoding: string;
    readonly definition_levels_byte_length: number;
    readonly repetition_levels_byte_length: number;
    readonly is_compressed?: boolean;
  };
  readonly dictionary_page_header?: { readonly num_values: number };
}
type Decompressor = (input: Uint8Array, outputLength: number) => Uint8Array;
interface ColumnDecoder {
  readonly type: string;
  readonly element: SchemaElement;
  readonly schemaPath: readonly SchemaTree[];
  readonly codec: string;
  readonly compressors: Record<string, Decompressor>;
}
type Values = ArrayLike<unknown>;
interface DataPage {
  readonly definitionLevels: readonly number[] | undefined;
  readonly dataPage: Values;
}

/** The parts of hyparquet used here (an ESM-only package, imported lazily). */
interface Hyparquet {
  parquetMetadataAsync(file: AsyncBuffer): Promise<FileMetaData>;
  parquetSchema(metadata: FileMetaData): SchemaTree;
  parquetRead(options: {
    file: AsyncBuffer;
    metadata: FileMetaData;
    columns: string[];
    rowStart: number;
    rowEnd: number;
    compressors: Record<string, Decompressor>;
    utf8?: boolean;
    onChunk(chunk: { columnName: string; columnData: Values; rowStart: number; rowEnd: number }): void;
  }): Promise<void>;
  snappyUncompress(input: Uint8Array, output: Uint8Array): void;
}
/** hyparquet's page functions (`hyparquet/src/*.js`), for the fast path. */
interface PageFunctions {
  parquetHeader(reader: DataReader): PageHeader;
  readDataPage(bytes: Uint8Array, header: NonNullable<PageHeader['data_page_header']>, decoder: ColumnDecoder): DataPage;
  readDataPageV2(bytes: Uint8Array, header: PageHeader, decoder: ColumnDecoder): DataPage;
}

let loaded: Promise<{ hp: Hyparquet; pages: PageFunctions | undefined }> | undefined;

/** Load hyparquet; the fast path only when its page functions are there (else everything takes the general path). */
function load(): Promise<{ hp: Hyparquet; pages: PageFunctions | undefined }> {
  loaded ??= (async () => {
    const spec = 'hyparquet';
    const hp = (await import(spec)) as Hyparquet;
    let pages: PageFunctions | undefined;
    try {
      const [column, datapage] = (await Promise.all([import(`${spec}/src/column.js`), import(`${spec}/src/datapage.js`)])) as [Partial<PageFunctions>, Partial<PageFunctions>];
      const candidate = { parquetHeader: column.parquetHeader, readDataPage: datapage.readDataPage, readDataPageV2: datapage.readDataPageV2 };
      if (Object.values(candidate).every((f) => typeof f === 'function')) pages = candidate as PageFunctions;
    } catch {
      pages = undefined;
    }
    return { hp, pages };
  })();
  return loaded;
}

/** A decompressor that refuses an output above the page cap before allocating it. */
function capped(decode: (input: Uint8Array, size: number) => Uint8Array): Decompressor {
  return (input, size) => {
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_PARQUET_PAGE_BYTES) throw new ValueError(ErrorCode.VALUE_INVALID, `a page of the data file claims ${String(size)} bytes, more than the cap of ${MAX_PARQUET_PAGE_BYTES}`);
    return decode(input, size);
  };
}

/** The codecs read here: snappy (hyparquet's), and gzip, brotli and zstd (node:zlib, zstd from Node 22.15). */
function compressors(hp: Hyparquet): Record<string, Decompressor> {
  const z = zlib as unknown as { zstdDecompressSync?: (b: Uint8Array, o: { maxOutputLength: number }) => Buffer };
  const out: Record<string, Decompressor> = {
    SNAPPY: capped((input, size) => {
      const page = new Uint8Array(size);
      hp.snappyUncompress(input, page);
      return page;
    }),
    GZIP: capped((input, size) => zlib.gunzipSync(input, { maxOutputLength: Math.max(1, size) })),
    BROTLI: capped((input, size) => zlib.brotliDecompressSync(input, { maxOutputLength: Math.max(1, size) })),
  };
  const zstd = z.zstdDecompressSync;
  if (typeof zstd === 'function') out.ZSTD = capped((input, size) => zstd(input, { maxOutputLength: Math.max(1, size) }));
  return out;
}

/** Read exactly `length` bytes at `position`. */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new ValueError(ErrorCode.VALUE_INVALID, 'the data file ended early (it changed while being read, or is not valid Parquet)');
    done += bytesRead;
  }
  return buf;
}

/** The stored index columns named in the file's `pandas` metadata (pyarrow's `index_columns`); none when absent or unreadable. */
export function pandasIndexColumns(metadata: Pick<FileMetaData, 'key_value_metadata'>): Set<string> {
  const entry = metadata.key_value_metadata?.find((kv) => kv.key === 'pandas')?.value;
  if (entry === undefined || entry.length > 16 * 1024 * 1024) return new Set();
  try {
    const parsed = JSON.parse(entry) as { index_columns?: unknown };
    return new Set(Array.isArray(parsed.index_columns) ? parsed.index_columns.filter((c): c is string => typeof c === 'string') : []);
  } catch {
    return new Set();
  }
}

/** Physical types the fast path decodes into numbers. */
const FAST_TYPES = new Set(['DOUBLE', 'FLOAT', 'INT32', 'INT64']);
/** Converted types that keep a column a plain signed integer. */
const PLAIN_INT = new Set(['INT_8', 'INT_16', 'INT_32', 'INT_64']);
/** Temporal or otherwise non-numeric annotations: these columns are cells (Dates, …), never numbers. */
const NOT_NUMBER = new Set(['DATE', 'TIME', 'TIME_MILLIS', 'TIME_MICROS', 'TIMESTAMP', 'TIMESTAMP_MILLIS', 'TIMESTAMP_MICROS', 'INTERVAL', 'FLOAT16', 'UUID', 'JSON', 'BSON', 'ENUM', 'UTF8', 'STRING']);

function isFlat(node: SchemaTree): boolean {
  return node.children.length === 0 && node.element.repetition_type !== 'REPEATED';
}
/** A column read as numbers (Float64Array): numeric physical type, no date/time/text annotation. */
function isNumberColumn(node: SchemaTree): boolean {
  const { type, converted_type: ct, logical_type: lt } = node.element;
  if (!isFlat(node)) return false;
  if (ct !== undefined && NOT_NUMBER.has(ct)) return false;
  if (lt !== undefined && NOT_NUMBER.has(lt.type)) return false;
  return type === 'DOUBLE' || type === 'FLOAT' || type === 'INT32' || type === 'INT64' || ct === 'DECIMAL' || lt?.type === 'DECIMAL';
}
/** A column the fast path decodes: plain signed numbers, no conversion. */
function isFastColumn(node: SchemaTree): boolean {
  const { type, converted_type: ct, logical_type: lt } = node.element;
  if (!isFlat(node) || type === undefined || !FAST_TYPES.has(type)) return false;
  if (ct !== undefined && !PLAIN_INT.has(ct)) return false;
  return lt === undefined || (lt.type === 'INTEGER' && lt.isSigned !== false);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Signals that an INT64 column holds a value a double cannot hold exactly. */
class UnsafeInteger extends Error {}

/**
 * The typed error for a station data file that could not be opened or read (see src/files.ts).
 * @internal also used by the CSV reader.
 */
export function dataFileError(err: unknown, maxBytes: number): ValueError {
  const e = err as FileReadError;
  if (e?.code === 'ENOTREG') return new ValueError(ErrorCode.VALUE_INVALID, 'the data path is not a regular file');
  if (e?.code === 'EFBIG') return new ValueError(ErrorCode.VALUE_INVALID, `the data file has ${e.size} bytes, more than the cap of ${maxBytes}`);
  if (e?.code === 'ECHANGED') return new ValueError(ErrorCode.VALUE_INVALID, 'the data file grew while it was read');
  return new ValueError(ErrorCode.VALUE_INVALID, `cannot read the data file (${e?.code ?? 'error'})`, { cause: err });
}

const corrupt = (what: string): ValueError => new ValueError(ErrorCode.VALUE_INVALID, `the data file is not valid Parquet (${what})`);

/** Options of {@link readColumns}. */
export interface ReadColumnsOptions {
  readonly maxBytes: number;
  readonly maxRows: number;
  readonly columns: readonly string[] | undefined;
  /** Row path: every column as cells (hyparquet's values, `null` = missing), no Float64Array. */
  readonly cellsOnly: boolean;
}

/**
 * Read the requested columns of a Parquet file (default: every top-level column except the
 * pandas index columns).
 */
export async function readColumns(path: string, options: ReadColumnsOptions): Promise<ColumnTable> {
  let handle: FileHandle;
  let size: number;
  try {
    // Opened without blocking and checked on the descriptor: a FIFO at the path waited for ever.
    ({ handle, stat: { size } } = await openRegularFile(path, options.maxBytes));
  } catch (err) {
    throw dataFileError(err, options.maxBytes);
  }
  try {
    const { hp, pages } = await load();
    const file: AsyncBuffer = {
      byteLength: size,
      slice: async (start, end = size) => {
        const buf = await readAt(handle, start, Math.max(0, Math.min(end, size) - start));
        return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      },
    };
    let metadata: FileMetaData;
    let tree: SchemaTree;
    try {
      metadata = await hp.parquetMetadataAsync(file);
      tree = hp.parquetSchema(metadata);
    } catch (err) {
      if (err instanceof ValueError) throw err;
      throw new ValueError(ErrorCode.VALUE_INVALID, 'the data file is not valid Parquet', { cause: err });
    }
    const rowCount = Number(metadata.num_rows);
    if (!Number.isSafeInteger(rowCount) || rowCount < 0) throw corrupt('row count');
    if (rowCount > options.maxRows) throw new ValueError(ErrorCode.VALUE_INVALID, `the data file has ${rowCount} rows, more than the cap of ${options.maxRows}`);
    const groups = metadata.row_groups.map((g) => Number(g.num_rows));
    if (groups.some((g) => !Number.isSafeInteger(g) || g < 0) || groups.reduce((a, g) => a + g, 0) !== rowCount) throw corrupt('row groups do not add up to the row count');

    const nodes = new Map<string, SchemaTree>();
    for (const child of tree.children) {
      if (nodes.has(child.element.name)) throw corrupt(`column "${child.element.name.slice(0, 64)}" appears twice`);
      nodes.set(child.element.name, child);
    }
    const index = pandasIndexColumns(metadata);
    const listed = [...nodes.keys()].filter((name) => !index.has(name));
    let names: string[];
    if (options.columns === undefined) names = listed;
    else {
      names = [...options.columns];
      for (const name of names) {
        if (!nodes.has(name)) {
          const shown = listed.slice(0, 20).join(', ') + (listed.length > 20 ? ', ...' : '');
          throw new ValueError(ErrorCode.VALUE_INVALID, `the data has no column "${name.slice(0, 64)}" (columns: ${shown})`);
        }
      }
    }
    const codecs = compressors(hp);
    const data = new Map<string, Column>();
    for (const name of names) {
      const node = nodes.get(name)!;
      let column: Column | undefined;
      if (!options.cellsOnly && pages !== undefined && isFastColumn(node)) {
        try {
          column = await fastNumbers(handle, size, metadata, tree, node, rowCount, pages, codecs);
        } catch (err) {
          if (!(err instanceof UnsafeInteger)) throw err;
        }
      }
      column ??= await generalColumn(hp, pages, file, metadata, tree, node, groups, rowCount, codecs, options.cellsOnly);
      data.set(name, column);
    }
    return { columns: Object.freeze(names), rowCount, data };
  } catch (err) {
    if (err instanceof ValueError) throw err;
    throw new ValueError(ErrorCode.VALUE_INVALID, 'the data file is not valid Parquet (or uses an unsupported encoding or compression)', { cause: err });
  } finally {
    await handle.close();
  }
}

/** Where a column chunk's pages begin: its dictionary page, else its first data page (a dictionary offset of 0 is the file's magic, not a page: read as absent, as hyparquet reads it). */
function chunkStart(meta: ColumnMeta): number {
  return Number(meta.dictionary_page_offset || meta.data_page_offset);
}

/** The chunk of `node` in every row group, checked against the file. */
function chunksOf(metadata: FileMetaData, node: SchemaTree, size: number): ColumnMeta[] {
  return metadata.row_groups.map((g) => {
    const meta = g.columns.find((c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === node.element.name)?.meta_data;
    if (meta === undefined) throw corrupt('a row group lacks a column chunk');
    const start = chunkStart(meta);
    const length = Number(meta.total_compressed_size);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > size) throw corrupt('a column chunk lies outside the file');
    return meta;
  });
}

/** The unsupported codec of a column, named in a typed error before anything is decoded. */
function checkCodec(meta: ColumnMeta, codecs: Record<string, Decompressor>, name: string): void {
  if (meta.codec !== 'UNCOMPRESSED' && codecs[meta.codec] === undefined) {
    throw new ValueError(ErrorCode.VALUE_INVALID, `column "${name.slice(0, 64)}" of the data file is compressed with ${String(meta.codec).slice(0, 16)}, which this reader cannot decompress (snappy, gzip, brotli${codecs.ZSTD ? ', zstd' : ''} or none)`);
  }
}

/** Most values a page of a nested column may declare (a flat column's pages are held to their row group's rows). */
const MAX_NESTED_PAGE_VALUES = 1 << 26;

/**
 * Check an RLE / bit-packed hybrid stream the way hyparquet's decoder (`readRleBitPackedHybrid`)
 * will read it — its varint, its run arithmetic, its byte use — without decoding. hyparquet writes
 * an RLE run's `count` copies with no bound and loops a bit-packed run `(header >> 1) << 3` times:
 * a run of 2^28 grew an array until V8 aborted the process, and a width-0 run whose count is
 * negative never ended. Refused here: a run past `limit` values (an RLE run; a bit-packed run by
 * more than its padding of 7), a negative count, a bit width above 32. A stream that merely ends
 * early is left to hyparquet (it throws, and the caller types the error).
 */
function checkHybrid(bytes: Uint8Array, pos: number, end: number, bitWidth: number, limit: number): void {
  if (!(bitWidth >= 0 && bitWidth <= 32)) throw corrupt('a bit width above 32');
  const byteWidth = (bitWidth + 7) >> 3;
  let seen = 0;
  while (seen < limit && pos < end) {
    let header = 0;
    let shift = 0;
    let b: number;
    do {
      if (pos >= end) return;
      b = bytes[pos++]!;
      header |= (b & 0x7f) << shift; // as hyparquet's readVarInt: 32-bit, the shift taken mod 32
      shift += 7;
    } while (b & 0x80);
    if (header & 1) {
      const count = (header >> 1) << 3;
      if (count < 0 || seen + count > limit + 7) throw corrupt('a bit-packed run longer than its page');
      pos += bitWidth === 0 ? 1 : (count / 8) * bitWidth; // hyparquet reads one byte of a width-0 run
      seen += count;
    } else {
      const count = header >>> 1;
      if (seen + count > limit) throw corrupt('a run longer than its page');
      pos += byteWidth;
      seen += count;
    }
  }
}

/** The levels of a column: the largest repetition and definition levels of its schema path. */
interface Levels {
  readonly maxRep: number;
  readonly maxDef: number;
}
/** Bits of a level or index, as hyparquet counts them. */
const widthOf = (max: number): number => 32 - Math.clz32(max);

/**
 * Check a data page's hybrid streams (levels; RLE booleans; dictionary indices) and counts before
 * hyparquet decodes it: see {@link checkHybrid}. `limit`: most values the page may hold. `body`:
 * the decompressed page (version 1) when the caller has it.
 */
function checkDataPage(header: PageHeader, compressed: Uint8Array, decompress: (input: Uint8Array, length: number) => Uint8Array, type: string, levels: Levels, limit: number, body?: Uint8Array): void {
  const v1 = header.data_page_header;
  const v2 = header.data_page_header_v2;
  const indexed = (encoding: string): boolean => encoding === 'RLE' || encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY';
  if (header.type === 'DATA_PAGE' && v1 !== undefined) {
    const n = v1.num_values;
    if (!Number.isSafeInteger(n) || n < 0 || n > limit) throw corrupt('a page has more values than its row group');
    const page = body ?? decompress(compressed, header.uncompressed_page_size);
    let pos = 0;
    for (const max of [levels.maxRep, levels.maxDef]) {
      if (max === 0) continue;
      if (pos + 4 > page.byteLength) throw corrupt('a page without its levels');
      const length = new DataView(page.buffer, page.byteOffset + pos, 4).getUint32(0, true);
      checkHybrid(page, pos + 4, page.byteLength, widthOf(max), n); // hyparquet reads on past `length` until it has n levels
      pos += 4 + length;
    }
    if (!indexed(v1.encoding) || pos >= page.byteLength) return;
    if (type === 'BOOLEAN') checkHybrid(page, pos + 4, page.byteLength, 1, n);
    else if (page[pos]! > 0) checkHybrid(page, pos + 1, page.byteLength, page[pos]!, n);
  } else if (header.type === 'DATA_PAGE_V2' && v2 !== undefined) {
    const n = v2.num_values;
    const nulls = v2.num_nulls ?? 0;
    if (!Number.isSafeInteger(n) || n < 0 || n > limit) throw corrupt('a page has more values than its row group');
    if (!Number.isSafeInteger(nulls) || nulls < 0 || nulls > n) throw corrupt('a page has more nulls than values');
    const rep = v2.repetition_levels_byte_length;
    const levelBytes = rep + v2.definition_levels_byte_length;
    if (!(rep >= 0 && levelBytes >= rep && levelBytes <= compressed.byteLength)) throw corrupt('levels run past their page');
    if (levels.maxRep > 0) checkHybrid(compressed, 0, compressed.byteLength, widthOf(levels.maxRep), n);
    if (levels.maxDef > 0) checkHybrid(compressed, rep, compressed.byteLength, widthOf(levels.maxDef), n);
    if (!indexed(v2.encoding)) return;
    const rest = compressed.subarray(levelBytes);
    const page = v2.is_compressed === false ? rest : decompress(rest, header.uncompressed_page_size - levelBytes);
    if (v2.encoding === 'RLE') checkHybrid(page, 4, page.byteLength, 1, n);
    else if (page.byteLength > 0) checkHybrid(page, 1, page.byteLength, page[0]!, n); // width 0 too: hyparquet decodes it
  }
}

/**
 * Check every data page of the column chunks of `node` in row group `g` (the bytes hyparquet will
 * read: from the dictionary page, or the first data page) before hyparquet's parquetRead decodes them.
 */
async function checkChunks(file: AsyncBuffer, metadata: FileMetaData, tree: SchemaTree, node: SchemaTree, g: number, groupRows: number, pages: PageFunctions, codecs: Record<string, Decompressor>): Promise<void> {
  for (const column of metadata.row_groups[g]!.columns) {
    const meta = column.meta_data;
    if (meta === undefined || meta.path_in_schema[0] !== node.element.name) continue;
    const path: SchemaTree[] = [tree];
    for (const part of meta.path_in_schema) {
      const child = path[path.length - 1]!.children.find((c) => c.element.name === part);
      if (child === undefined) throw corrupt('a column chunk of no column');
      path.push(child);
    }
    const levels: Levels = {
      maxRep: path.filter((p) => p.element.repetition_type === 'REPEATED').length,
      maxDef: path.slice(1).filter((p) => p.element.repetition_type !== 'REQUIRED').length,
    };
    const flat = path.length === 2 && levels.maxRep === 0;
    const start = chunkStart(meta); // as hyparquet's plan reads it
    const length = Number(meta.total_compressed_size);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > file.byteLength) throw corrupt('a column chunk lies outside the file');
    const want = Number(meta.num_values ?? BigInt(groupRows));
    const bytes = new Uint8Array(await file.slice(start, start + length));
    const reader: DataReader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
    const decompress = (input: Uint8Array, size: number): Uint8Array => (meta.codec === 'UNCOMPRESSED' ? input : codecs[meta.codec]!(input, size));
    let seen = 0;
    while (reader.offset < bytes.byteLength && seen < want) {
      const header = pages.parquetHeader(reader);
      const pageLength = header.compressed_page_size;
      if (!Number.isSafeInteger(pageLength) || pageLength < 0 || reader.offset + pageLength > bytes.byteLength) throw corrupt('a page runs past its column chunk');
      if (!(header.uncompressed_page_size >= 0 && header.uncompressed_page_size <= MAX_PARQUET_PAGE_BYTES)) {
        throw new ValueError(ErrorCode.VALUE_INVALID, `a page of the data file claims ${String(header.uncompressed_page_size)} bytes, more than the cap of ${MAX_PARQUET_PAGE_BYTES}`);
      }
      const compressed = bytes.subarray(reader.offset, reader.offset + pageLength);
      reader.offset += pageLength;
      const count = header.data_page_header?.num_values ?? header.data_page_header_v2?.num_values;
      if (count === undefined) continue; // dictionary and index pages: no runs
      checkDataPage(header, compressed, decompress, meta.type, levels, flat ? groupRows - seen : MAX_NESTED_PAGE_VALUES);
      seen += count;
    }
  }
}

/**
 * Decode `count` values of the RLE / bit-packed hybrid encoding (parquet-format Encodings.md) of
 * `bitWidth` bits from `bytes[pos, end)` into `out`; returns the position after the runs read.
 */
function readHybrid(bytes: Uint8Array, pos: number, end: number, bitWidth: number, out: Uint8Array | Uint32Array, count: number): number {
  if (!(bitWidth >= 0 && bitWidth <= 32)) throw corrupt('a bit width above 32');
  const byteWidth = (bitWidth + 7) >> 3;
  const scale = 2 ** bitWidth;
  const mask = bitWidth >= 32 ? 0xffffffff : (1 << bitWidth) - 1;
  let i = 0;
  while (i < count) {
    let header = 0;
    let shift = 0;
    let b: number;
    do {
      if (pos >= end || shift > 28) throw corrupt('run-length data ends early');
      b = bytes[pos++]!;
      header += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    const runs = Math.floor(header / 2);
    if (header % 2 === 0) {
      // a repeated value: `runs` copies of one little-endian value of byteWidth bytes
      if (pos + byteWidth > end) throw corrupt('run-length data ends early');
      let value = 0;
      for (let k = 0; k < byteWidth; k++) value += bytes[pos + k]! * 2 ** (8 * k);
      pos += byteWidth;
      const stop = Math.min(count, i + runs);
      out.fill(value, i, stop);
      i = stop;
    } else {
      // bit-packed: `runs` groups of 8 values, least significant bit first
      const length = runs * bitWidth;
      if (pos + length > end) throw corrupt('bit-packed data ends early');
      const values = runs * 8;
      let p = pos;
      if (bitWidth === 0) out.fill(0, i, Math.min(count, i + values));
      else if (bitWidth <= 24) {
        let acc = 0;
        let bits = 0;
        for (let k = 0; k < values && i < count; k++) {
          while (bits < bitWidth) {
            acc |= bytes[p++]! << bits;
            bits += 8;
          }
          out[i++] = acc & mask;
          acc >>>= bitWidth;
          bits -= bitWidth;
        }
      } else {
        let acc = 0;
        let bits = 0;
        for (let k = 0; k < values && i < count; k++) {
          while (bits < bitWidth) {
            acc += bytes[p++]! * 2 ** bits;
            bits += 8;
          }
          out[i++] = acc % scale;
          acc = Math.floor(acc / scale);
          bits -= bitWidth;
        }
      }
      i = Math.min(count, i);
      pos += length;
    }
  }
  return pos;
}

/** `count` PLAIN values of a numeric physical type from `bytes[pos, end)` as numbers; an INT64 beyond 2^53 stops the fast path. */
function readPlainNumbers(bytes: Uint8Array, pos: number, end: number, type: string, count: number): Float64Array {
  const width = type === 'DOUBLE' || type === 'INT64' ? 8 : 4;
  if (pos + count * width > end) throw corrupt('a page has fewer values than its levels say');
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos, count * width);
  const out = new Float64Array(count);
  if (type === 'DOUBLE') for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
  else if (type === 'FLOAT') for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  else if (type === 'INT32') for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
  else {
    for (let i = 0; i < count; i++) {
      const hi = view.getInt32(i * 8 + 4, true);
      if (hi >= 0x200000 || hi < -0x200000) throw new UnsafeInteger();
      const v = hi * 4294967296 + view.getUint32(i * 8, true);
      if (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER) throw new UnsafeInteger();
      out[i] = v;
    }
  }
  return out;
}

/** A page's definition levels (0 = null, 1 = a value) and the number of values, decoded here. */
function presence(bytes: Uint8Array, pos: number, end: number, count: number): { levels: Uint8Array; present: number } {
  const levels = new Uint8Array(count);
  readHybrid(bytes, pos, end, 1, levels, count);
  let present = 0;
  for (let j = 0; j < count; j++) {
    const level = levels[j]!;
    // A flat column's levels are 0 (missing) or 1: an RLE run can hold any byte. Added up, a 2 next
    // to a 0 kept the count of present values and shifted every later value one row up.
    if (level > 1) throw corrupt('a definition level above 1 in a flat column');
    present += level;
  }
  return { levels, present };
}

/**
 * The fast path: a flat numeric column's pages straight into a Float64Array (NaN = missing).
 * Version 1 and 2 data pages with PLAIN or dictionary encoding are decoded here (levels,
 * dictionary indices and values into typed arrays); pages in any other encoding
 * (BYTE_STREAM_SPLIT, DELTA_BINARY_PACKED) by hyparquet's page readers.
 */
async function fastNumbers(handle: FileHandle, size: number, metadata: FileMetaData, tree: SchemaTree, node: SchemaTree, rowCount: number, pages: PageFunctions, codecs: Record<string, Decompressor>): Promise<Column> {
  const { element } = node;
  const type = element.type!;
  const schemaPath = [tree, node];
  const nullable = element.repetition_type !== 'REQUIRED';
  const values = new Float64Array(rowCount);
  let missing = 0;
  let row = 0;
  const chunks = chunksOf(metadata, node, size);
  for (const [g, meta] of chunks.entries()) {
    checkCodec(meta, codecs, element.name);
    const decompress = (input: Uint8Array, length: number): Uint8Array => (meta.codec === 'UNCOMPRESSED' ? input : codecs[meta.codec]!(input, length));
    const end = row + Number(metadata.row_groups[g]!.num_rows);
    const start = chunkStart(meta);
    const bytes = await readAt(handle, start, Number(meta.total_compressed_size));
    const reader: DataReader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
    const decoder: ColumnDecoder = { type, element, schemaPath, codec: meta.codec, compressors: codecs };
    let dictionary: Float64Array | undefined;
    while (row < end) {
      if (reader.offset >= bytes.byteLength) throw corrupt('a column chunk has fewer values than its row group');
      const header = pages.parquetHeader(reader);
      const pageLength = header.compressed_page_size;
      if (!Number.isSafeInteger(pageLength) || pageLength < 0 || reader.offset + pageLength > bytes.byteLength) throw corrupt('a page runs past its column chunk');
      if (!(header.uncompressed_page_size >= 0 && header.uncompressed_page_size <= MAX_PARQUET_PAGE_BYTES)) {
        throw new ValueError(ErrorCode.VALUE_INVALID, `a page of the data file claims ${String(header.uncompressed_page_size)} bytes, more than the cap of ${MAX_PARQUET_PAGE_BYTES}`);
      }
      const compressed = new Uint8Array(bytes.buffer, bytes.byteOffset + reader.offset, pageLength);
      reader.offset += pageLength;

      if (header.type === 'DICTIONARY_PAGE' && header.dictionary_page_header !== undefined) {
        const plain = decompress(compressed, header.uncompressed_page_size);
        const n = header.dictionary_page_header.num_values;
        if (!Number.isSafeInteger(n) || n < 0) throw corrupt('a dictionary page');
        dictionary = readPlainNumbers(plain, 0, plain.byteLength, type, n);
        continue;
      }
      let page: DecodedPage;
      if (header.type === 'DATA_PAGE' && header.data_page_header !== undefined) {
        const { num_values: count, encoding } = header.data_page_header;
        checkCount(count, row, end);
        const body = decompress(compressed, header.uncompressed_page_size);
        const rleLevels = header.data_page_header.definition_level_encoding === undefined || header.data_page_header.definition_level_encoding === 'RLE';
        if (!isSimple(encoding) || !rleLevels) {
          checkDataPage(header, compressed, decompress, type, { maxRep: 0, maxDef: nullable ? 1 : 0 }, end - row, body);
          page = viaHyparquet(pages.readDataPage(body, header.data_page_header, decoder), count, nullable);
        }
        else {
          let at = 0;
          let levels: Uint8Array | undefined;
          let present = count;
          if (nullable) {
            if (body.byteLength < 4) throw corrupt('a page without its levels');
            const length = new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true);
            if (4 + length > body.byteLength) throw corrupt('levels run past their page');
            ({ levels, present } = presence(body, 4, 4 + length, count));
            at = 4 + length;
          }
          page = { count, levels, decoded: decodeValues(body, at, encoding, present, dictionary, type) };
        }
      } else if (header.type === 'DATA_PAGE_V2' && header.data_page_header_v2 !== undefined) {
        const v2 = header.data_page_header_v2;
        const { num_values: count, encoding } = v2;
        checkCount(count, row, end);
        if (!isSimple(encoding)) {
          checkDataPage(header, compressed, decompress, type, { maxRep: 0, maxDef: nullable ? 1 : 0 }, end - row);
          page = viaHyparquet(pages.readDataPageV2(compressed, header, decoder), count, nullable);
        }
        else {
          const levelBytes = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
          if (!(levelBytes >= 0 && levelBytes <= compressed.byteLength)) throw corrupt('levels run past their page');
          let levels: Uint8Array | undefined;
          let present = count;
          if (nullable) ({ levels, present } = presence(compressed, v2.repetition_levels_byte_length, levelBytes, count));
          const rest = compressed.subarray(levelBytes);
          const body = v2.is_compressed === false ? rest : decompress(rest, header.uncompressed_page_size - levelBytes);
          page = { count, levels, decoded: decodeValues(body, 0, encoding, present, dictionary, type) };
        }
      } else continue; // index pages carry no values

      const { count, levels, decoded } = page;
      if (levels === undefined) {
        values.set(decoded.subarray(0, count), row);
        for (let j = 0; j < count; j++) if (decoded[j] !== decoded[j]) missing++; // a NaN stored in the file
      } else {
        let k = 0;
        for (let j = 0; j < count; j++) {
          if (levels[j] === 1) {
            const x = decoded[k++]!;
            values[row + j] = x;
            if (x !== x) missing++;
          } else {
            values[row + j] = Number.NaN;
            missing++;
          }
        }
      }
      row += count;
    }
  }
  return { kind: 'number', values, missing };
}

/** A data page as the fast path needs it: its value count, presence (undefined: all present), and the present values. */
interface DecodedPage {
  readonly count: number;
  readonly levels: Uint8Array | undefined;
  readonly decoded: Float64Array;
}

function checkCount(count: number, row: number, end: number): void {
  if (!Number.isSafeInteger(count) || count < 0 || row + count > end) throw corrupt('a page has more values than its row group');
}

/** Encodings decoded here; others go to hyparquet's page readers. */
function isSimple(encoding: string): boolean {
  return encoding === 'PLAIN' || encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY';
}

/** The `present` values of a page from `body[at..]`: PLAIN numbers, or dictionary indices resolved. */
function decodeValues(body: Uint8Array, at: number, encoding: string, present: number, dictionary: Float64Array | undefined, type: string): Float64Array {
  if (encoding === 'PLAIN') return readPlainNumbers(body, at, body.byteLength, type, present);
  if (dictionary === undefined) throw corrupt('a dictionary-encoded page without a dictionary');
  const decoded = new Float64Array(present);
  if (present === 0) return decoded;
  if (at >= body.byteLength) throw corrupt('dictionary indices missing');
  const indices = new Uint32Array(present);
  const bitWidth = body[at]!;
  if (bitWidth > 0) readHybrid(body, at + 1, body.byteLength, bitWidth, indices, present); // width 0: every index is 0 (as hyparquet reads it)
  const size = dictionary.length;
  for (let k = 0; k < present; k++) {
    const index = indices[k]!;
    if (index >= size) throw corrupt('a dictionary index out of range');
    decoded[k] = dictionary[index]!;
  }
  return decoded;
}

/** A page decoded by hyparquet's page readers (encodings other than plain and dictionary). */
function viaHyparquet(page: DataPage, count: number, nullable: boolean): DecodedPage {
  const src = page.dataPage;
  const decoded = new Float64Array(src.length);
  for (let k = 0; k < src.length; k++) decoded[k] = toNumber(src[k]);
  let levels: Uint8Array | undefined;
  let present = count;
  const raw = page.definitionLevels;
  if (nullable && raw !== undefined && raw.length > 0) {
    levels = new Uint8Array(count);
    present = 0;
    for (let j = 0; j < count; j++) {
      levels[j] = raw[j] === 1 ? 1 : 0;
      present += levels[j]!;
    }
  }
  if (decoded.length < present) throw corrupt('a page has fewer values than its levels say');
  return { count, levels, decoded };
}

/** A value hyparquet decoded, as a number; an INT64 beyond ±(2^53 − 1) stops the fast path. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    if (v > MAX_SAFE || v < -MAX_SAFE) throw new UnsafeInteger();
    return Number(v);
  }
  throw corrupt('a value of an unexpected type in a numeric column');
}

/** A DECIMAL column (by its converted type, or by its logical type alone). */
function isDecimal(element: SchemaElement): boolean {
  return element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL';
}

/**
 * The file's metadata with `element`'s annotations removed, so that hyparquet returns a DECIMAL
 * column's unscaled values as stored (INT32 numbers, INT64 bigints, byte arrays): its own
 * conversion, `unscaled * 10 ** -scale`, is not the double nearest the decimal (115 at scale 2
 * gives 1.1500000000000001), rounds an unscaled value beyond 2^53 with no error, and is skipped
 * for a DECIMAL with only its logical type (the unscaled integer would be read as the value).
 */
function unannotated(metadata: FileMetaData, element: SchemaElement): FileMetaData {
  const { converted_type: _c, logical_type: _l, ...bare } = element;
  return { ...metadata, schema: metadata.schema.map((e) => (e === element ? bare : e)) };
}

/** Signals a DECIMAL value a double cannot hold (thrown after the read: hyparquet does not pass on an error thrown in `onChunk`). */
const INEXACT = Symbol('inexact decimal');

/** One stored DECIMAL value as a cell: the number nearest the decimal; an integer (scale 0) beyond 2^53 as an exact bigint; otherwise {@link INEXACT}. */
function decimalCell(raw: unknown, scale: number): Cell | typeof INEXACT {
  if (raw === null || raw === undefined) return null;
  let unscaled: bigint;
  if (typeof raw === 'bigint') unscaled = raw;
  else if (typeof raw === 'number' && Number.isSafeInteger(raw)) unscaled = BigInt(raw);
  else if (raw instanceof Uint8Array) {
    unscaled = 0n;
    for (const b of raw) unscaled = (unscaled << 8n) | BigInt(b);
    if (raw.length > 0 && raw[0]! >= 0x80) unscaled -= 1n << BigInt(8 * raw.length); // two's complement, big-endian
  } else return INEXACT;
  if (unscaled <= MAX_SAFE && unscaled >= -MAX_SAFE) return Number(`${unscaled}e-${scale}`); // correctly rounded
  return scale === 0 ? unscaled : INEXACT;
}

/**
 * Digits after the second of a TIME column's unit (3, 6 or 9), or undefined if `element` is not a
 * time of day (TIME_MILLIS, TIME_MICROS, or the logical TIME with its unit).
 */
function timeDigits(element: SchemaElement): 3 | 6 | 9 | undefined {
  const lt = element.logical_type as { type?: string; unit?: string } | undefined;
  if (lt?.type === 'TIME') return lt.unit === 'NANOS' ? 9 : lt.unit === 'MICROS' ? 6 : 3;
  if (element.converted_type === 'TIME_MILLIS') return 3;
  if (element.converted_type === 'TIME_MICROS') return 6;
  return undefined;
}

/**
 * A time of day stored as a count of `digits`-decimal fractions of a second since midnight, as
 * its text `HH:MM:SS.fff…` (pandas gives `datetime.time`): a cell `numericColumn` refuses, not a
 * number it would sum. Undefined for a count outside one day (not a time of day: the caller
 * refuses the file after the read — hyparquet does not pass on an error thrown in `onChunk`).
 */
function timeCell(raw: unknown, digits: 3 | 6 | 9): Cell | undefined {
  if (raw === null || raw === undefined) return null;
  const count = typeof raw === 'bigint' ? raw : typeof raw === 'number' && Number.isSafeInteger(raw) ? BigInt(raw) : undefined;
  const perSecond = 10n ** BigInt(digits);
  if (count === undefined || count < 0n || count >= 86_400n * perSecond) return undefined;
  const seconds = count / perSecond;
  const two = (x: bigint): string => x.toString().padStart(2, '0');
  return `${two(seconds / 3600n)}:${two((seconds / 60n) % 60n)}:${two(seconds % 60n)}.${(count % perSecond).toString().padStart(digits, '0')}`;
}

/** The general path: hyparquet's parquetRead, one row group at a time; numbers as a Float64Array when the column is numeric and every value fits. */
async function generalColumn(hp: Hyparquet, pages: PageFunctions | undefined, file: AsyncBuffer, metadata: FileMetaData, tree: SchemaTree, node: SchemaTree, groups: readonly number[], rowCount: number, codecs: Record<string, Decompressor>, cellsOnly: boolean): Promise<Column> {
  const name = node.element.name;
  const decimal = isFlat(node) && isDecimal(node.element);
  const time = isFlat(node) ? timeDigits(node.element) : undefined;
  const scale = node.element.scale ?? node.element.logical_type?.scale ?? 0;
  if (decimal && !(Number.isSafeInteger(scale) && scale >= 0 && scale <= 1000)) throw corrupt('a DECIMAL scale');
  for (const meta of metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data).filter((m) => m !== undefined && m.path_in_schema[0] === name))) checkCodec(meta!, codecs, name);
  const cells = new Array<Cell>(rowCount);
  let inexact = -1; // the first data row of a DECIMAL no double holds
  let badTime = false; // a TIME value outside one day
  const read = decimal ? unannotated(metadata, node.element) : metadata;
  let groupStart = 0;
  for (const [g, groupRows] of groups.entries()) {
    const groupEnd = groupStart + groupRows;
    let filled = 0;
    // hyparquet plans a read over every row group of the metadata it is given: given the whole
    // file's for each group, reading G groups cost O(G²) (20,000 one-row groups: minutes). One group's.
    const group: FileMetaData = { ...read, row_groups: [read.row_groups[g]!], num_rows: BigInt(groupRows) };
    if (pages !== undefined) await checkChunks(file, metadata, tree, node, g, groupRows, pages, codecs);
    await hp.parquetRead({
      file,
      metadata: group,
      ...(decimal ? { utf8: false } : {}),
      columns: [name],
      rowStart: 0,
      rowEnd: groupRows,
      compressors: codecs,
      onChunk: ({ columnData, rowStart }) => {
        const from = Math.max(0, rowStart);
        const to = Math.min(groupRows, rowStart + columnData.length);
        for (let j = from; j < to; j++) {
          const v = columnData[j - rowStart];
          const i = groupStart + j;
          if (decimal) {
            const cell = decimalCell(v, scale);
            if (cell === INEXACT) {
              if (inexact < 0) inexact = i;
              cells[i] = null;
            } else cells[i] = cell;
          } else if (time !== undefined) {
            const cell = timeCell(v, time);
            if (cell === undefined) badTime = true;
            cells[i] = cell ?? null;
          } else cells[i] = v === undefined ? null : (v as Cell);
        }
        if (to > from) filled += to - from;
      },
    });
    if (inexact >= 0) throw new ValueError(ErrorCode.VALUE_INVALID, `data row ${inexact + 1}: column "${name.slice(0, 64)}" holds a decimal of more than 2^53 units of its last digit, not exact as a number`);
    if (badTime) throw corrupt('a TIME value outside one day');
    if (filled !== groupRows) throw corrupt('a column chunk has fewer values than its row group');
    groupStart = groupEnd;
  }
  if (cellsOnly || !isNumberColumn(node)) return { kind: 'cells', values: cells };
  const values = new Float64Array(rowCount);
  let missing = 0;
  for (let i = 0; i < rowCount; i++) {
    const v = cells[i];
    if (v === null || v === undefined) values[i] = Number.NaN;
    else if (typeof v === 'number') values[i] = v;
    else if (typeof v === 'bigint' && v <= MAX_SAFE && v >= -MAX_SAFE) values[i] = Number(v);
    else return { kind: 'cells', values: cells }; // beyond 2^53 (or not a number): exact cells, numericColumn decides
    if (values[i] !== values[i]) missing++;
  }
  return { kind: 'number', values, missing };
}
