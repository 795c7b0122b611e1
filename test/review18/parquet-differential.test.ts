/**
 * Review 18: coupler's Parquet readers against hyparquet's own full read (its reference path),
 * column by column, on random files with what pandas writes and what test/vantage6/columns.test.ts
 * leaves out: every column type pandas writes mixed in one file (float64, float32, int64 with
 * values beyond 2^53 and negative, int32, bool, strings), REQUIRED and OPTIONAL columns, nulls at
 * random positions (runs and singletons), NaN and -0 stored as values, plain and dictionary
 * encodings with wide dictionaries (bit widths up to 13), version 1 and 2 pages, snappy, gzip
 * and no compression, several row groups and pages, zero rows and one row.
 *
 * Expected from coupler for each column, given hyparquet's cells (null = missing):
 * - readParquetColumns: a numeric column whose every value fits a double exactly → 'number' with
 *   NaN at the nulls (and at stored NaNs), the same doubles bit for bit (-0 stays -0), and the
 *   count of NaNs; an INT64 column with a value beyond ±(2^53 − 1) → 'cells' equal to hyparquet's;
 *   every other column → 'cells' equal to hyparquet's;
 * - readParquetFile: rows equal to hyparquet's rows;
 * - numericColumn on the columns: the present values, or a refusal for a value beyond 2^53.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { numericColumn, readParquetColumns, readParquetFile } from '../../src/vantage6';
import { ErrorCode } from '../../src/errors';
import { tempDir } from '../vantage6/helpers';
import { toDataPageV1 } from '../vantage6/pandas-parquet';

const t = tempDir('coupler-r18-diff-');
afterAll(() => t.cleanup());

interface Writer {
  parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer;
}
const load = async <T>(spec: string): Promise<T> => (await import(spec)) as T;

async function reference(path: string): Promise<Record<string, unknown>[]> {
  const hp = await load<{ parquetReadObjects(o: { file: ArrayBuffer; compressors: Record<string, (b: Uint8Array, n: number) => Uint8Array> }): Promise<Record<string, unknown>[]> }>('hyparquet');
  const b = readFileSync(path);
  return hp.parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, compressors: { GZIP: (input) => gunzipSync(input) } });
}

type Type = 'DOUBLE' | 'FLOAT' | 'INT64' | 'INT32' | 'BOOLEAN' | 'STRING';
interface Spec {
  type: Type;
  nullable: boolean;
  encoding: string | undefined;
  data: unknown[];
}

const LIMIT = 2n ** 53n - 1n;
function value(type: Type, distinct: number): fc.Arbitrary<unknown> {
  const pick = <T>(wide: fc.Arbitrary<T>, few: (i: number) => T): fc.Arbitrary<T> => fc.oneof({ arbitrary: wide, weight: 1 }, { arbitrary: fc.integer({ min: 0, max: distinct - 1 }).map(few), weight: 3 });
  switch (type) {
    case 'DOUBLE':
      return pick(fc.double(), (i) => [Number.NaN, -0, 0, 0.1, -1e300, 5e-324][i % 6]! + (i >= 6 ? i / 8 : 0));
    case 'FLOAT':
      return pick(fc.float().map(Math.fround), (i) => Math.fround(i / 3));
    case 'INT64':
      return pick(
        fc.oneof(fc.bigInt({ min: -LIMIT, max: LIMIT }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(LIMIT, -LIMIT, LIMIT + 1n, -LIMIT - 1n, -(2n ** 53n), 2n ** 53n, -(2n ** 63n), 2n ** 63n - 1n, -1n, 0n)),
        (i) => BigInt(i) - 3n,
      );
    case 'INT32':
      return pick(fc.integer(), (i) => i * 1000 - 2 ** 31 / 2);
    case 'BOOLEAN':
      return fc.boolean();
    case 'STRING':
      return pick(fc.string({ unit: 'grapheme', maxLength: 12 }), (i) => `s${i}`);
  }
}

function spec(rows: number): fc.Arbitrary<Spec> {
  return fc
    .record({
      type: fc.constantFrom<Type>('DOUBLE', 'FLOAT', 'INT64', 'INT32', 'BOOLEAN', 'STRING'),
      nullable: fc.boolean(),
      distinct: fc.constantFrom(1, 2, 7, 300, 5000),
      nullRate: fc.constantFrom(0, 0.05, 0.5, 1),
      bigOnly: fc.boolean(),
    })
    .chain(({ type, nullable, distinct, nullRate, bigOnly }) =>
      fc.record({
        type: fc.constant(type),
        nullable: fc.constant(nullable),
        encoding: fc.constantFrom(undefined, 'PLAIN', ...(type === 'BOOLEAN' ? [] : ['RLE_DICTIONARY'])),
        data: fc
          .array(fc.tuple(value(type, distinct), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: rows, maxLength: rows })
          .map((cells) => cells.map(([v, r]) => (nullable && r < nullRate ? null : v)))
          // an INT64 column that is entirely safe (the fast path) is the common case: keep it common
          .map((cells) => (type === 'INT64' && !bigOnly ? cells.map((v) => (typeof v === 'bigint' && (v > LIMIT || v < -LIMIT) ? v % LIMIT : v)) : cells)),
      }),
    );
}

function same(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

let run = 0;
async function check(specs: Spec[], rows: number, options: { rowGroupSize: number; pageSize: number; codec: string; v1: boolean }): Promise<void> {
  const hw = await load<Writer>('hyparquet-writer');
  const file = join(t.dir, `d${run++}.parquet`);
  const columnData = specs.map((s, i) => ({ name: `c${i}`, type: s.type, nullable: s.nullable, data: s.data, ...(s.encoding ? { encoding: s.encoding } : {}) }));
  const codec = options.v1 && options.codec === 'GZIP' ? 'SNAPPY' : options.codec; // the v1 rewriter handles snappy and none
  // many tiny row groups cost the general path O(groups²) (R18-5, test/review18/row-groups.test.ts): kept to 200 here
  const rowGroupSize = rows / options.rowGroupSize > 200 ? 1000 : options.rowGroupSize;
  const buffer = new Uint8Array(hw.parquetWriteBuffer({ columnData, rowGroupSize, pageSize: options.pageSize, codec, compressors: { GZIP: (b: Uint8Array) => gzipSync(b) } }));
  writeFileSync(file, options.v1 ? await toDataPageV1(buffer) : buffer);
  const expected = await reference(file);
  expect(expected.length).toBe(rows);

  const table = await readParquetColumns(file);
  expect(table.rowCount).toBe(rows);
  expect(table.columns).toEqual(columnData.map((c) => c.name));
  for (const { name, type } of columnData) {
    const want = expected.map((r) => r[name] as unknown);
    const column = table.data.get(name)!;
    const numeric = type === 'DOUBLE' || type === 'FLOAT' || type === 'INT64' || type === 'INT32';
    const unsafe = want.some((v) => typeof v === 'bigint' && (v > LIMIT || v < -LIMIT));
    if (numeric && !unsafe) {
      expect(column.kind).toBe('number');
      const got = column.values as Float64Array;
      const bad = want.findIndex((v, i) => !same(got[i]!, v === null ? Number.NaN : Number(v as number | bigint)));
      if (bad >= 0) throw new Error(`${name} (${type}, run ${run - 1}) row ${bad}: coupler ${got[bad]} hyparquet ${String(want[bad])}`);
      expect(column.kind === 'number' && column.missing).toBe(want.filter((v) => v === null || Number.isNaN(v)).length);
      const finite = want.filter((v) => v !== null && !Number.isNaN(v));
      if (finite.every((v) => Number.isFinite(Number(v)))) {
        const { values, missing } = numericColumn(table, name);
        expect(missing).toBe(rows - finite.length);
        expect(Array.from(values)).toEqual(finite.map((v) => Number(v as number | bigint)));
      } else expect(() => numericColumn(table, name)).toThrow(/is infinite/);
    } else {
      expect(column).toEqual({ kind: 'cells', values: want });
      if (unsafe) expect(() => numericColumn(table, name)).toThrow(expect.objectContaining({ code: ErrorCode.VALUE_INVALID }));
    }
  }
  const asRows = await readParquetFile(file);
  expect(asRows.columns).toEqual(columnData.map((c) => c.name));
  expect(asRows.rows).toEqual(expected.map((r) => columnData.map((c) => r[c.name])));
}

describe('readParquetColumns / readParquetFile agree with hyparquet', () => {
  test('random pandas-like files', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1, 2, 9, 64, 1000, 6000).chain((rows) =>
          fc.tuple(
            fc.constant(rows),
            fc.array(spec(rows), { minLength: 1, maxLength: 5 }),
            fc.record({ rowGroupSize: fc.constantFrom(1, 7, 1000, 100_000), pageSize: fc.constantFrom(16, 256, 4096, 1 << 20), codec: fc.constantFrom('SNAPPY', 'UNCOMPRESSED', 'GZIP'), v1: fc.boolean() }),
          ),
        ),
        async ([rows, specs, options]) => check(specs, rows, options),
      ),
      { numRuns: Number(process.env.R18_RUNS ?? 120), seed: Number(process.env.R18_SEED ?? 18_2026), endOnFailure: true },
    );
  });
});
