/**
 * The station's data at real sizes (issue 19 item 5): the columnar reader (`readParquetColumns`,
 * `readStationColumns`), pandas' index columns, the cell types of pandas' dtypes, `numericColumn`
 * on infinities, `completeRows`, and bad files. Parquet files are written as pandas + pyarrow
 * write them (test/vantage6/pandas-parquet.ts: version 1 pages, nulls, the `pandas` metadata),
 * and the columnar reader is checked value by value against hyparquet's own row reader on random
 * files (both page versions, plain and dictionary encodings, several row groups and pages).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  completeRows,
  numericColumn,
  parseCsv,
  readContainerEnv,
  readParquetColumns,
  readParquetFile,
  readStationColumns,
  readStationTable,
  toColumnTable,
  MAX_PARQUET_PAGE_BYTES,
  type DatabaseConfig,
} from '../../src/vantage6';
import { tempDir as makeTemp, v6EncodeEnv } from './helpers';
import { toDataPageV1, writePandasParquet, type PandasColumn } from './pandas-parquet';

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));
function tempDir(): string {
  const t = makeTemp('coupler-columns-');
  cleanups.push(t.cleanup);
  return t.dir;
}

interface Writer {
  parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer;
}
async function writer(): Promise<Writer> {
  const spec = 'hyparquet-writer';
  return (await import(spec)) as Writer;
}
async function hyparquetRows(path: string): Promise<Record<string, unknown>[]> {
  const spec = 'hyparquet';
  const hp = (await import(spec)) as { parquetReadObjects(o: { file: ArrayBuffer }): Promise<Record<string, unknown>[]> };
  const b = readFileSync(path);
  return hp.parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer });
}

const day = 86_400_000;
/** A small frame after a row filter (index stored as `__index_level_0__`), every pandas dtype. */
const FRAME: PandasColumn[] = [
  { name: 'age', dtype: 'int64', data: [34n, 51n, 47n, 62n] },
  { name: 'bmi', dtype: 'float64', data: [22.5, null, 31.25, 27] },
  { name: 'smoker', dtype: 'bool', data: [true, false, null, false] },
  { name: 'site', dtype: 'object', data: ['north', null, 'south', 'north'] },
  { name: 'sex', dtype: 'category', data: ['F', 'M', 'M', null] },
  { name: 'visit', dtype: 'date', data: [new Date(19_000 * day), null, new Date(19_010 * day), new Date(19_020 * day)] },
  { name: 'recorded', dtype: 'datetime64[ns]', data: [new Date(19_000 * day + 3_600_000), new Date(19_001 * day), null, new Date(19_020 * day + 1)] },
];

describe('pandas + pyarrow files', () => {
  test('pandas index columns are not data: __index_level_0__ (after a row filter) and a named index are left out unless asked for', async () => {
    const dir = tempDir();
    const filtered = join(dir, 'filtered.parquet');
    await writePandasParquet(filtered, FRAME, { kind: 'stored', data: [0n, 2n, 3n, 7n] });
    const names = FRAME.map((c) => c.name);
    expect((await readParquetFile(filtered)).columns).toEqual(names);
    expect((await readParquetColumns(filtered)).columns).toEqual(names);
    // named explicitly, an index column is read like any other
    const withIndex = await readParquetFile(filtered, { columns: ['__index_level_0__', 'age'] });
    expect(withIndex.rows.map((r) => r[0])).toEqual([0n, 2n, 3n, 7n]);
    const named = join(dir, 'named.parquet');
    await writePandasParquet(named, FRAME, { kind: 'stored', name: 'patient_id', data: [11n, 12n, 13n, 14n] });
    expect((await readParquetFile(named)).columns).toEqual(names);
    const ranged = join(dir, 'range.parquet');
    await writePandasParquet(ranged, FRAME, { kind: 'range', length: 4 });
    expect((await readParquetFile(ranged)).columns).toEqual(names);
    // an unknown column is refused, listing the data columns (not the index)
    await expect(readParquetColumns(filtered, { columns: ['weight'] })).rejects.toMatchObject({
      code: 'COUPLER_ERR_VALUE_INVALID',
      message: `the data has no column "weight" (columns: ${names.join(', ')})`,
    });
  });

  test('cells: int64 → bigint, float64 → number, bool, strings and categoricals → string, date and datetime → Date; missing → null', async () => {
    const file = join(tempDir(), 'frame.parquet');
    await writePandasParquet(file, FRAME, { kind: 'stored', data: [0n, 2n, 3n, 7n] });
    const table = await readParquetFile(file);
    FRAME.forEach((column, c) => {
      expect({ column: column.name, cells: table.rows.map((r) => r[c]) }).toEqual({ column: column.name, cells: [...column.data] });
    });
    // the same cells column-wise, with the numeric columns as Float64Array (NaN = missing)
    const columns = await readParquetColumns(file);
    expect(columns.rowCount).toBe(4);
    expect(columns.data.get('age')).toEqual({ kind: 'number', values: Float64Array.from([34, 51, 47, 62]), missing: 0 });
    expect(columns.data.get('bmi')).toEqual({ kind: 'number', values: Float64Array.from([22.5, Number.NaN, 31.25, 27]), missing: 1 });
    for (const name of ['smoker', 'site', 'sex', 'visit', 'recorded']) {
      expect(columns.data.get(name)).toEqual({ kind: 'cells', values: [...FRAME.find((c) => c.name === name)!.data] });
    }
    // numericColumn reads numbers and booleans, and refuses text and dates naming the row only
    expect(numericColumn(columns, 'bmi')).toEqual({ values: Float64Array.from([22.5, 31.25, 27]), missing: 1 });
    expect(numericColumn(table, 'bmi')).toEqual({ values: [22.5, 31.25, 27], missing: 1 });
    expect(numericColumn(columns, 'smoker')).toEqual({ values: Float64Array.from([1, 0, 0]), missing: 1 });
    expect(() => numericColumn(columns, 'site')).toThrow(/^data row 1: column "site" is not a number$/);
    expect(() => numericColumn(table, 'visit')).toThrow(/^data row 1: column "visit" is not a number$/);
  });

  test('only the requested column chunks are read: another column garbled in the file does not matter', async () => {
    const file = join(tempDir(), 'garbled.parquet');
    const n = 5000;
    await writePandasParquet(
      file,
      [
        { name: 'a', dtype: 'float64', data: Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : i / 4)) },
        { name: 'b', dtype: 'object', data: Array.from({ length: n }, (_, i) => `patient-${i}-secret`) },
        { name: 'c', dtype: 'int64', data: Array.from({ length: n }, (_, i) => BigInt(i)) },
      ],
      { kind: 'range', length: n },
    );
    const spec = 'hyparquet';
    const hp = (await import(spec)) as { parquetMetadata(b: ArrayBuffer): { row_groups: { columns: { meta_data: { path_in_schema: string[]; data_page_offset: bigint; dictionary_page_offset?: bigint; total_compressed_size: bigint } }[] }[] } };
    const bytes = readFileSync(file);
    const meta = hp.parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const chunk = meta.row_groups[0]!.columns.find((c) => c.meta_data.path_in_schema[0] === 'b')!.meta_data;
    const start = Number(chunk.dictionary_page_offset ?? chunk.data_page_offset);
    bytes.fill(0xff, start, start + Number(chunk.total_compressed_size));
    writeFileSync(file, bytes);
    const table = await readParquetColumns(file, { columns: ['c', 'a'] });
    expect(table.columns).toEqual(['c', 'a']);
    expect(numericColumn(table, 'c').values.reduce((s, x) => s + x, 0)).toBe((n * (n - 1)) / 2);
    expect(numericColumn(table, 'a').missing).toBe(Math.ceil(n / 7));
    // reading every column reaches the garbled chunk: a typed error that quotes nothing
    for (const read of [(): Promise<unknown> => readParquetFile(file), (): Promise<unknown> => readParquetColumns(file)]) {
      await expect(read()).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.not.stringContaining('secret') });
    }
  });
});

describe('the columnar reader agrees with hyparquet value for value', () => {
  type Spec = { name: string; type: 'DOUBLE' | 'FLOAT' | 'INT32' | 'INT64'; nullable: boolean; encoding: string | undefined; data: (number | bigint | null)[] };
  const cell = (type: Spec['type'], nullable: boolean): fc.Arbitrary<number | bigint | null> => {
    const value: fc.Arbitrary<number | bigint> =
      type === 'INT64'
        ? fc.bigInt({ min: -(2n ** 53n) + 1n, max: 2n ** 53n - 1n })
        : type === 'INT32'
          ? fc.integer()
          : type === 'FLOAT'
            ? fc.float({ noDefaultInfinity: true, noNaN: true }).map(Math.fround)
            : fc.oneof(fc.double(), fc.integer({ min: 0, max: 9 }).map((x) => x / 2)); // repeats make dictionaries worthwhile
    return nullable ? fc.option(value, { nil: null, freq: 5 }) : value;
  };
  const spec = (rows: number): fc.Arbitrary<Spec> =>
    fc
      .record({ type: fc.constantFrom('DOUBLE', 'FLOAT', 'INT32', 'INT64') as fc.Arbitrary<Spec['type']>, nullable: fc.boolean() })
      .chain((s) =>
        fc.record({
          // plain and dictionary pages are decoded by the reader itself; the other encodings by hyparquet's page readers
          encoding: fc.constantFrom('PLAIN', 'RLE_DICTIONARY', undefined, 'BYTE_STREAM_SPLIT', ...(s.type.startsWith('INT') ? ['DELTA_BINARY_PACKED'] : [])),
          data: fc.array(cell(s.type, s.nullable), { minLength: rows, maxLength: rows }),
        }).map(({ encoding, data }) => ({ ...s, encoding, name: '', data })),
      );

  test('random columns, row groups and page sizes, version 1 and 2 pages', async () => {
    const hw = await writer();
    const dir = tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }).chain((rows) => fc.tuple(fc.constant(rows), fc.array(spec(rows), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 120 }), fc.constantFrom(64, 512, 1 << 20), fc.boolean())),
        async ([rows, specs, rowGroupSize, pageSize, v1]) => {
          const file = join(dir, `r${run++}.parquet`);
          const columnData = specs.map((s, i) => ({ name: `c${i}`, type: s.type, nullable: s.nullable, data: s.data, ...(s.encoding ? { encoding: s.encoding } : {}) }));
          const buffer = new Uint8Array(hw.parquetWriteBuffer({ columnData, rowGroupSize, pageSize }));
          writeFileSync(file, v1 ? await toDataPageV1(buffer) : buffer);
          const expected = await hyparquetRows(file);
          const table = await readParquetColumns(file);
          expect(table.rowCount).toBe(rows);
          for (const { name } of columnData) {
            const column = table.data.get(name)!;
            expect(column.kind).toBe('number');
            const want = expected.map((r) => (r[name] === null ? Number.NaN : Number(r[name] as number | bigint)));
            expect(column.values).toEqual(Float64Array.from(want));
            expect(column.kind === 'number' && column.missing).toBe(want.filter((x) => Number.isNaN(x)).length);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test('an INT64 beyond 2^53 keeps the column exact (bigint cells): numericColumn refuses it naming the row', async () => {
    const hw = await writer();
    const file = join(tempDir(), 'big.parquet');
    writeFileSync(file, await toDataPageV1(new Uint8Array(hw.parquetWriteBuffer({ columnData: [{ name: 'n', type: 'INT64', data: [1n, null, 2n ** 60n] }] }))));
    const table = await readParquetColumns(file);
    expect(table.data.get('n')).toEqual({ kind: 'cells', values: [1n, null, 2n ** 60n] });
    expect(() => numericColumn(table, 'n')).toThrow(/^data row 3: column "n" holds an integer beyond 2\^53, not exact as a number$/);
  });
});

describe('numericColumn and infinities', () => {
  test('Infinity is refused as infinite, not called "not a number" (CSV text, pandas inf, Parquet doubles)', async () => {
    for (const text of ['Infinity', '-Infinity', 'inf', '-inf', '1e400']) {
      expect(() => numericColumn(parseCsv(`x\n1\n${text}\n`), 'x')).toThrow(/^data row 2: column "x" is infinite \(only finite numbers can be summed\)$/);
    }
    expect(() => numericColumn(parseCsv('x\nforty\n'), 'x')).toThrow(/^data row 1: column "x" is not a number$/);
    const file = join(tempDir(), 'inf.parquet');
    await writePandasParquet(file, [{ name: 'x', dtype: 'float64', data: [1, null, Number.NEGATIVE_INFINITY] }], { kind: 'range', length: 3 });
    const columns = await readParquetColumns(file);
    expect(columns.data.get('x')).toEqual({ kind: 'number', values: Float64Array.from([1, Number.NaN, Number.NEGATIVE_INFINITY]), missing: 1 }); // reading never refuses
    for (const table of [columns, await readParquetFile(file)]) {
      expect(() => numericColumn(table, 'x')).toThrow(/^data row 3: column "x" is infinite \(only finite numbers can be summed\)$/);
    }
  });
});

describe('completeRows', () => {
  const CSV = 'event,age,bmi,site\n1,50,22.5,a\n0,,30,b\n1,61,NA,c\n0,44,27.5,\n1,70,31,d\n';
  test('the rows complete in every named column, the same from CSV rows and from Parquet columns', async () => {
    const csv = parseCsv(CSV);
    const file = join(tempDir(), 'complete.parquet');
    await writePandasParquet(
      file,
      [
        { name: 'event', dtype: 'int64', data: [1n, 0n, 1n, 0n, 1n] },
        { name: 'age', dtype: 'float64', data: [50, null, 61, 44, 70] },
        { name: 'bmi', dtype: 'float64', data: [22.5, 30, null, 27.5, 31] },
        { name: 'site', dtype: 'object', data: ['a', 'b', 'c', null, 'd'] },
      ],
      { kind: 'stored', data: [3n, 4n, 8n, 9n, 10n] },
    );
    const expected = { columns: ['event', 'age', 'bmi'], values: [Float64Array.from([1, 0, 1]), Float64Array.from([50, 44, 70]), Float64Array.from([22.5, 27.5, 31])], dataRows: Uint32Array.from([0, 3, 4]), count: 3, skipped: 2 };
    expect(completeRows(csv, ['event', 'age', 'bmi'])).toEqual(expected);
    expect(completeRows(toColumnTable(csv), ['event', 'age', 'bmi'])).toEqual(expected);
    expect(completeRows(await readParquetColumns(file, { columns: ['event', 'age', 'bmi'] }), ['event', 'age', 'bmi'])).toEqual(expected);
    expect(completeRows(await readParquetFile(file), ['event', 'age', 'bmi'])).toEqual(expected);
    expect(completeRows(csv, ['age'])).toEqual({ columns: ['age'], values: [Float64Array.from([50, 61, 44, 70])], dataRows: Uint32Array.from([0, 2, 3, 4]), count: 4, skipped: 1 });
  });

  test('every cell is checked, in skipped rows too; bad arguments are typed errors', () => {
    const csv = parseCsv('y,x\n1,\nsecret-value,2\n');
    expect(() => completeRows(csv, ['y', 'x'])).toThrow(/^data row 2: column "y" is not a number$/);
    expect(() => completeRows(csv, ['y', 'z'])).toThrow(/no column "z" \(columns: y, x\)/);
    for (const bad of [[], ['y', 'y'], 'y', [1]]) expect(() => completeRows(csv, bad as never)).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_INVALID_ARGUMENT' }));
    expect(() => completeRows({ columns: ['a'] } as never, ['a'])).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_INVALID_ARGUMENT' }));
  });
});

describe('readStationTable / readStationColumns with columns, under 4.x and 5.x', () => {
  test('4.x CSV and Parquet databases and the 5.x Parquet dataframe give the same columns', async () => {
    const dir = tempDir();
    const csv = join(dir, 'db.csv');
    writeFileSync(csv, 'id,age,bmi\n1,40,22\n2,,31\n3,55,NA\n');
    const session = join(dir, 'session');
    mkdirSync(session);
    await writePandasParquet(
      join(session, 'cohort.parquet'),
      [
        { name: 'id', dtype: 'int64', data: [1n, 2n, 3n] },
        { name: 'age', dtype: 'float64', data: [40, null, 55] },
        { name: 'bmi', dtype: 'float64', data: [22, 31, null] },
      ],
      { kind: 'stored', data: [0n, 1n, 5n] },
    );
    const v4 = { env: readContainerEnv(v6EncodeEnv({ INPUT_FILE: '/dev/null' })), databases: new Map<string, DatabaseConfig>([['default', { label: 'default', uri: csv, type: 'csv' } as DatabaseConfig]]) };
    const v4Parquet = { env: v4.env, databases: new Map<string, DatabaseConfig>([['default', { label: 'default', uri: join(session, 'cohort.parquet'), type: 'parquet' } as DatabaseConfig]]) };
    const v5 = { env: readContainerEnv(v6EncodeEnv({ ALGORITHM_METHOD: 'partial', SESSION_FOLDER: session, USER_REQUESTED_DATAFRAMES: 'cohort' })), databases: new Map<string, DatabaseConfig>() };
    for (const ctx of [v4, v4Parquet, v5]) {
      const rows = await readStationTable(ctx, { columns: ['bmi', 'age'] });
      expect(rows.columns).toEqual(['bmi', 'age']);
      expect(numericColumn(rows, 'age')).toEqual({ values: [40, 55], missing: 1 });
      const columns = await readStationColumns(ctx, { columns: ['bmi', 'age'] });
      expect(columns.columns).toEqual(['bmi', 'age']);
      expect(numericColumn(columns, 'bmi')).toEqual({ values: Float64Array.from([22, 31]), missing: 1 });
      expect(completeRows(columns, ['age', 'bmi'])).toMatchObject({ count: 1, skipped: 2 });
      await expect(readStationColumns(ctx, { columns: ['weight'] })).rejects.toThrow(/no column "weight" \(columns: id, age, bmi\)/);
      await expect(readStationColumns(ctx, { columns: ['age', 'age'] })).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
    }
  });
});

describe('bad and unusual files', () => {
  test('gzip is read; a codec this reader lacks is named in a typed error', async () => {
    const hw = await writer();
    const dir = tempDir();
    const gz = join(dir, 'gzip.parquet');
    writeFileSync(gz, Buffer.from(hw.parquetWriteBuffer({ columnData: [{ name: 'x', type: 'DOUBLE', data: [1, 2, null] }], codec: 'GZIP', compressors: { GZIP: (b: Uint8Array) => gzipSync(b) } })));
    expect(numericColumn(await readParquetColumns(gz), 'x')).toEqual({ values: Float64Array.from([1, 2]), missing: 1 });
    expect(numericColumn(await readParquetFile(gz), 'x')).toEqual({ values: [1, 2], missing: 1 });
    const lz4 = join(dir, 'lz4.parquet');
    writeFileSync(lz4, Buffer.from(hw.parquetWriteBuffer({ columnData: [{ name: 'x', type: 'DOUBLE', data: [1, 2] }], codec: 'LZ4_RAW', compressors: { LZ4_RAW: (b: Uint8Array) => b } })));
    for (const read of [(): Promise<unknown> => readParquetColumns(lz4), (): Promise<unknown> => readParquetFile(lz4)]) {
      await expect(read()).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.stringMatching(/column "x" of the data file is compressed with LZ4_RAW, which this reader cannot decompress/) });
    }
  });

  test(`a page claiming more than ${MAX_PARQUET_PAGE_BYTES} bytes is refused before anything is allocated`, async () => {
    const hw = await writer();
    const file = join(tempDir(), 'huge-page.parquet');
    const buffer = new Uint8Array(hw.parquetWriteBuffer({ columnData: [{ name: 'x', type: 'DOUBLE', data: [1, 2, 3], encoding: 'PLAIN' }] }));
    writeFileSync(file, await toDataPageV1(buffer, { pageHeader: (h) => void (h.uncompressed_page_size = 2 ** 31 - 1) }));
    for (const read of [(): Promise<unknown> => readParquetColumns(file), (): Promise<unknown> => readParquetFile(file)]) {
      await expect(read()).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.stringContaining(`more than the cap of ${MAX_PARQUET_PAGE_BYTES}`) });
    }
  });

  test('truncated and garbled files are typed errors, never a crash or a hang', async () => {
    const dir = tempDir();
    const good = join(dir, 'good.parquet');
    await writePandasParquet(good, FRAME, { kind: 'stored', data: [0n, 2n, 3n, 7n] });
    const bytes = readFileSync(good);
    const variants = [bytes.subarray(0, bytes.length - 9), bytes.subarray(0, 40), Buffer.concat([bytes.subarray(0, 30), Buffer.alloc(200, 0x41), bytes.subarray(230)])];
    for (const [i, v] of variants.entries()) {
      const f = join(dir, `bad-${i}.parquet`);
      writeFileSync(f, v);
      for (const read of [(): Promise<unknown> => readParquetColumns(f), (): Promise<unknown> => readParquetFile(f)]) await expect(read()).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID' });
    }
    await expect(readParquetColumns(join(dir, 'nope.parquet'))).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.stringContaining('ENOENT') });
    await expect(readParquetColumns(good, { maxBytes: 100 })).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.stringContaining('more than the cap of 100') });
    await expect(readParquetColumns(good, { maxRows: 3 })).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.stringContaining('4 rows') });
    for (const bad of [{ columns: 'age' }, { columns: [1] }, { maxRows: -1 }, { maxBytes: 1.5 }]) await expect(readParquetColumns(good, bad as never)).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
    await expect(readParquetColumns('' as never)).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
  });
});
