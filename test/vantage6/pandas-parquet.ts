/**
 * Test and benchmark support: Parquet files shaped as pandas + pyarrow write them
 * (`DataFrame.to_parquet`, pyarrow 15+ defaults), written with hyparquet-writer because neither
 * pandas' Parquet engine nor pyarrow is installable here (Debian 12 has python3-pandas 1.5 but no
 * python3-pyarrow or python3-fastparquet).
 *
 * What pyarrow does and this copies: every column OPTIONAL (nullable), a missing value a null
 * (pandas' NaN/None/NaT); int64 → INT64; float64 → DOUBLE; bool → BOOLEAN; object strings and
 * categoricals → BYTE_ARRAY UTF8/STRING (categoricals dictionary-encoded); `datetime.date` objects →
 * INT32 DATE; datetime64[ns] → INT64 TIMESTAMP(NANOS, not adjusted to UTC); snappy; one row group
 * up to 1,048,576 rows; a stored index (after a row filter: `__index_level_0__`, or a named index)
 * appended after the data columns; the `pandas` key-value entry (`index_columns`, `columns`); and
 * version 1 data pages (pyarrow's default `data_page_version="1.0"`: hyparquet-writer writes
 * version 2 pages, {@link toDataPageV1} rewrites them).
 * Not copied: the `ARROW:schema` entry (hyparquet does not read it), statistics and page indexes.
 *
 * Why pandas + pyarrow: a vantage6 5 session dataframe is what the extraction or preprocessing
 * function returned, converted with `pa.Table.from_pandas` (vantage6-algorithm-tools/vantage6/algorithm/decorator/action.py
 * `_convert_to_parquet`, 5.0.0rc2) and written by the node with `pq.write_table` and pyarrow's
 * defaults (vantage6-node/vantage6/node/k8s/session_manager.py `write_dataframe_file`, 5.0.0rc2)
 * to `<session folder>/<name>.parquet` (checked by review10).
 */
import { writeFileSync } from 'node:fs';

/** One pandas column: its dtype and values (`null` = missing). */
export type PandasColumn =
  | { readonly name: string; readonly dtype: 'int64'; readonly data: readonly (bigint | null)[] | BigInt64Array }
  | { readonly name: string; readonly dtype: 'float64'; readonly data: readonly (number | null)[] | Float64Array }
  | { readonly name: string; readonly dtype: 'bool'; readonly data: readonly (boolean | null)[] }
  | { readonly name: string; readonly dtype: 'object' | 'category'; readonly data: readonly (string | null)[] }
  | { readonly name: string; readonly dtype: 'date' | 'datetime64[ns]'; readonly data: readonly (Date | null)[] };

/** How the frame's index is stored. */
export type PandasIndex =
  /** A RangeIndex: metadata only, no column (a fresh frame). */
  | { readonly kind: 'range'; readonly length: number }
  /** A stored index column: `__index_level_0__` for an unnamed index (e.g. after a row filter), else its name. */
  | { readonly kind: 'stored'; readonly name?: string; readonly data: readonly bigint[] | BigInt64Array };

/** pyarrow's default `row_group_size` (rows). */
export const PYARROW_ROW_GROUP_ROWS = 1024 * 1024;

interface SchemaElement {
  name: string;
  type?: string;
  repetition_type?: string;
  num_children?: number;
  converted_type?: string;
  logical_type?: Record<string, unknown>;
}

function element(c: PandasColumn | { name: string; dtype: 'int64' }): SchemaElement {
  const base = { name: c.name, repetition_type: 'OPTIONAL' };
  switch (c.dtype) {
    case 'int64':
      return { ...base, type: 'INT64' };
    case 'float64':
      return { ...base, type: 'DOUBLE' };
    case 'bool':
      return { ...base, type: 'BOOLEAN' };
    case 'object':
    case 'category':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'date':
      return { ...base, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'datetime64[ns]':
      return { ...base, type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'NANOS' } };
  }
}

const PANDAS_TYPE: Record<PandasColumn['dtype'], [string, string]> = {
  int64: ['int64', 'int64'],
  float64: ['float64', 'float64'],
  bool: ['bool', 'bool'],
  object: ['unicode', 'object'],
  category: ['categorical', 'int8'],
  date: ['date', 'object'],
  'datetime64[ns]': ['datetime', 'datetime64[ns]'],
};

/** The `pandas` key-value entry pyarrow writes (pyarrow/pandas_compat.py `construct_metadata`). */
export function pandasMetadata(columns: readonly PandasColumn[], index: PandasIndex): string {
  const indexName = index.kind === 'stored' ? (index.name ?? '__index_level_0__') : undefined;
  return JSON.stringify({
    index_columns: index.kind === 'range' ? [{ kind: 'range', name: null, start: 0, stop: index.length, step: 1 }] : [indexName],
    column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
    columns: [
      ...columns.map((c) => ({ name: c.name, field_name: c.name, pandas_type: PANDAS_TYPE[c.dtype][0], numpy_type: PANDAS_TYPE[c.dtype][1], metadata: c.dtype === 'category' ? { num_categories: new Set(c.data).size, ordered: false } : null })),
      ...(indexName === undefined ? [] : [{ name: index.kind === 'stored' && index.name !== undefined ? index.name : null, field_name: indexName, pandas_type: 'int64', numpy_type: 'int64', metadata: null }]),
    ],
    creator: { library: 'pyarrow', version: '15.0.2' },
    pandas_version: '2.2.3',
  });
}

/** Write `columns` (and the index) as pandas + pyarrow would; returns the file's size in bytes. */
export async function writePandasParquet(path: string, columns: readonly PandasColumn[], index: PandasIndex, options: { rowGroupSize?: number } = {}): Promise<number> {
  const spec = 'hyparquet-writer';
  const hw = (await import(spec)) as { parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer };
  const stored = index.kind === 'stored' ? [{ name: index.name ?? '__index_level_0__', dtype: 'int64' as const, data: index.data }] : [];
  const all = [...columns, ...stored];
  const schema = [{ name: 'schema', num_children: all.length }, ...all.map(element)];
  const buffer = hw.parquetWriteBuffer({
    schema,
    columnData: all.map((c) => ({ name: c.name, data: c.data })),
    kvMetadata: [{ key: 'pandas', value: pandasMetadata(columns, index) }],
    rowGroupSize: options.rowGroupSize ?? PYARROW_ROW_GROUP_ROWS,
    createdBy: 'parquet-cpp-arrow version 15.0.2',
  });
  const v1 = await toDataPageV1(new Uint8Array(buffer));
  writeFileSync(path, v1);
  return v1.byteLength;
}

interface PageHeaderV2 {
  type: string;
  uncompressed_page_size: number;
  compressed_page_size: number;
  data_page_header_v2?: { num_values: number; num_nulls: number; num_rows: number; encoding: string; definition_levels_byte_length: number; repetition_levels_byte_length: number; is_compressed?: boolean };
  dictionary_page_header?: { num_values: number; encoding: string };
}
interface ChunkMeta {
  codec: string;
  data_page_offset: bigint;
  dictionary_page_offset?: bigint;
  total_compressed_size: bigint;
  total_uncompressed_size: bigint;
  encoding_stats?: { page_type: string; encoding: string; count: number }[];
  statistics?: unknown;
  size_statistics?: unknown;
  bloom_filter_offset?: bigint;
  bloom_filter_length?: number;
}
interface ByteWriterLike {
  offset: number;
  appendBytes(b: Uint8Array): void;
  appendUint32(v: number): void;
  getBytes(): Uint8Array;
}

/**
 * Rewrite a Parquet file's version 2 data pages as version 1 pages (levels inside the compressed
 * body, each prefixed by its byte length), as pyarrow writes by default. Dictionary pages are
 * kept; statistics, page indexes and bloom filters are dropped (their offsets would be stale).
 */
export async function toDataPageV1(file: Uint8Array, options: { pageHeader?: (header: { uncompressed_page_size: number; compressed_page_size: number }) => void } = {}): Promise<Uint8Array> {
  const load = async <T>(spec: string): Promise<T> => (await import(spec)) as T;
  const hp = await load<{ parquetMetadata(b: ArrayBuffer): { row_groups: { columns: { meta_data: ChunkMeta; offset_index_offset?: bigint; offset_index_length?: number; column_index_offset?: bigint; column_index_length?: number }[]; total_compressed_size?: bigint; file_offset?: bigint }[] }; snappyUncompress(i: Uint8Array, o: Uint8Array): void }>('hyparquet');
  const { parquetHeader } = await load<{ parquetHeader(r: { view: DataView; offset: number }): PageHeaderV2 }>('hyparquet/src/column.js');
  const { ByteWriter } = await load<{ ByteWriter: new () => ByteWriterLike }>('hyparquet-writer/src/bytewriter.js');
  const { writePageHeader } = await load<{ writePageHeader(w: ByteWriterLike, h: unknown): void }>('hyparquet-writer/src/datapage.js');
  const { writeMetadata } = await load<{ writeMetadata(w: ByteWriterLike, m: unknown): void }>('hyparquet-writer/src/metadata.js');
  const { snappyCompress } = await load<{ snappyCompress(b: Uint8Array): Uint8Array }>('hyparquet-writer/src/snappy.js');
  const ab = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  const metadata = hp.parquetMetadata(ab) as unknown as { row_groups: { columns: { meta_data: ChunkMeta; [k: string]: unknown }[]; [k: string]: unknown }[]; [k: string]: unknown };
  const out = new ByteWriter();
  out.appendUint32(0x31524150); // PAR1
  for (const group of metadata.row_groups) {
    const groupStart = out.offset;
    for (const column of group.columns) {
      const meta = column.meta_data;
      const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      const reader = { view: new DataView(ab), offset: start };
      const chunkStart = out.offset;
      let uncompressed = 0;
      let dataPageOffset: number | undefined;
      let dictionaryOffset: number | undefined;
      while (reader.offset < end) {
        const header = parquetHeader(reader);
        const body = file.subarray(reader.offset, reader.offset + header.compressed_page_size);
        reader.offset += header.compressed_page_size;
        const headerStart = out.offset;
        if (header.type === 'DICTIONARY_PAGE') {
          dictionaryOffset = out.offset;
          writePageHeader(out, header);
          out.appendBytes(body);
        } else if (header.type === 'DATA_PAGE_V2') {
          dataPageOffset ??= out.offset;
          const v2 = header.data_page_header_v2!;
          const levelsLength = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
          const rep = body.subarray(0, v2.repetition_levels_byte_length);
          const def = body.subarray(v2.repetition_levels_byte_length, levelsLength);
          let values = body.subarray(levelsLength);
          if (v2.is_compressed !== false && meta.codec === 'SNAPPY') {
            const plain = new Uint8Array(header.uncompressed_page_size - levelsLength);
            hp.snappyUncompress(values, plain);
            values = plain;
          } else if (v2.is_compressed !== false && meta.codec !== 'UNCOMPRESSED') throw new Error(`toDataPageV1: codec ${meta.codec} not handled`);
          const page = new ByteWriter();
          for (const levels of [rep, def]) {
            if (levels.length === 0) continue;
            page.appendUint32(levels.length);
            page.appendBytes(levels);
          }
          page.appendBytes(values);
          const plain = page.getBytes();
          const stored = meta.codec === 'SNAPPY' ? snappyCompress(plain) : plain;
          const v1 = {
            type: 'DATA_PAGE',
            uncompressed_page_size: plain.length,
            compressed_page_size: stored.length,
            data_page_header: { num_values: v2.num_values, encoding: v2.encoding, definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' },
          };
          options.pageHeader?.(v1); // a test may falsify the header
          writePageHeader(out, v1);
          out.appendBytes(stored);
          uncompressed += out.offset - headerStart - stored.length + plain.length;
          continue;
        } else throw new Error(`toDataPageV1: page type ${header.type} not handled`);
        uncompressed += out.offset - headerStart;
      }
      meta.data_page_offset = BigInt(dataPageOffset ?? chunkStart);
      meta.dictionary_page_offset = dictionaryOffset === undefined ? undefined : BigInt(dictionaryOffset);
      meta.total_compressed_size = BigInt(out.offset - chunkStart);
      meta.total_uncompressed_size = BigInt(uncompressed);
      meta.encoding_stats = meta.encoding_stats?.map((e) => (e.page_type === 'DATA_PAGE_V2' ? { ...e, page_type: 'DATA_PAGE' } : e));
      meta.statistics = undefined;
      meta.size_statistics = undefined;
      meta.bloom_filter_offset = undefined;
      meta.bloom_filter_length = undefined;
      for (const k of ['offset_index_offset', 'offset_index_length', 'column_index_offset', 'column_index_length', 'file_offset']) delete column[k];
    }
    group.total_compressed_size = BigInt(out.offset - groupStart);
    group.file_offset = BigInt(groupStart);
  }
  delete metadata.metadata_length;
  writeMetadata(out, metadata);
  out.appendUint32(0x31524150);
  return out.getBytes();
}
