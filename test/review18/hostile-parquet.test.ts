/**
 * Review 18: damaged and hostile Parquet files. Valid files (fast-path numeric columns in PLAIN,
 * dictionary, BYTE_STREAM_SPLIT and DELTA encodings, version 1 and 2 pages, strings, booleans,
 * several row groups and pages) are damaged — truncated, bytes overwritten, 32-bit fields set to
 * huge or negative values, in the pages and in the footer — and read by readParquetColumns and
 * readParquetFile. Expected: a result, or a ValueError with a stable code; never another error
 * (RangeError, TypeError), never a hang (each read bounded by a deadline a loaded machine meets).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readParquetColumns, readParquetFile } from '../../src/vantage6';
import { CouplerError } from '../../src/errors';
import { tempDir } from '../vantage6/helpers';
import { toDataPageV1 } from '../vantage6/pandas-parquet';

const t = tempDir('coupler-r18-hostile-');
afterAll(() => t.cleanup());

interface Writer {
  parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer;
}

const ROWS = 300;
async function bases(): Promise<Uint8Array[]> {
  const hw = (await import('hyparquet-writer' as string)) as Writer;
  const n = (f: (i: number) => unknown): unknown[] => Array.from({ length: ROWS }, (_, i) => f(i));
  const files: Uint8Array[] = [];
  const columnData = [
    { name: 'd', type: 'DOUBLE', data: n((i) => (i % 11 === 0 ? null : i / 7)), encoding: 'PLAIN' },
    { name: 'dict', type: 'INT64', data: n((i) => (i % 13 === 0 ? null : BigInt(i % 9))), encoding: 'RLE_DICTIONARY' },
    { name: 'i32', type: 'INT32', data: n((i) => i * 31 - 4000), nullable: false },
    { name: 'f', type: 'FLOAT', data: n((i) => (i % 5 === 0 ? null : Math.fround(i / 3))), encoding: 'BYTE_STREAM_SPLIT' },
    { name: 'delta', type: 'INT64', data: n((i) => (i % 7 === 0 ? null : BigInt(i * i))), encoding: 'DELTA_BINARY_PACKED' },
    { name: 's', type: 'STRING', data: n((i) => (i % 4 === 0 ? null : `v${i % 6}`)) },
    { name: 'b', type: 'BOOLEAN', data: n((i) => (i % 9 === 0 ? null : i % 2 === 0)) },
  ];
  for (const rowGroupSize of [ROWS, 64]) {
    for (const pageSize of [1 << 20, 128]) {
      const v2 = new Uint8Array(hw.parquetWriteBuffer({ columnData, rowGroupSize, pageSize, statistics: false }));
      files.push(v2, await toDataPageV1(v2));
    }
  }
  files.push(new Uint8Array(hw.parquetWriteBuffer({ columnData: columnData.slice(0, 3), codec: 'UNCOMPRESSED', statistics: false })));
  return files;
}

type Damage = { kind: 'truncate'; at: number } | { kind: 'bytes'; at: number; bytes: number[] } | { kind: 'int32'; at: number; value: number } | { kind: 'varint'; at: number; value: number };
const damage: fc.Arbitrary<Damage[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ kind: fc.constant('bytes' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant('int32' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.constantFrom(-1, 0x7fffffff, -0x80000000, 0x10000000, 1 << 24, 255) }),
    // a thrift varint (page sizes, value counts, bit widths) made huge
    fc.record({ kind: fc.constant('varint' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.constantFrom(0xffffffff, 0x7fffffff, 1 << 30, 33, 64) }),
  ),
  { minLength: 1, maxLength: 3 },
);

function apply(file: Uint8Array, ds: Damage[], footerBias: boolean): Uint8Array {
  let out = Uint8Array.from(file);
  for (const d of ds) {
    // half the damage lands in the footer (the last ~15%), where the lengths and offsets are
    const at = Math.floor((footerBias ? 0.85 + 0.15 * d.at : d.at) * out.length);
    if (d.kind === 'truncate') out = out.subarray(0, Math.min(at, out.length - 1));
    else if (d.kind === 'bytes') d.bytes.forEach((b, k) => at + k < out.length && (out[at + k] = b));
    else if (d.kind === 'int32') {
      if (at + 4 <= out.length) new DataView(out.buffer, out.byteOffset).setInt32(at, d.value, true);
    } else {
      let v = d.value;
      for (let k = 0; k < 5 && at + k < out.length; k++) {
        out[at + k] = (v & 0x7f) | (k < 4 ? 0x80 : 0);
        v = Math.floor(v / 128);
      }
    }
  }
  return out;
}

const DEADLINE_MS = 20_000;
async function bounded<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('hung: no answer within the deadline')), DEADLINE_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

test('damaged files: a result or a typed error, never another error or a hang', async () => {
  const files = await bases();
  let run = 0;
  const seen = { ok: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: files.length - 1 }), damage, fc.boolean(), async (which, ds, footer) => {
      const path = join(t.dir, `h${run++ % 4}.parquet`);
      writeFileSync(path, apply(files[which]!, ds, footer));
      for (const read of [() => readParquetColumns(path, { maxBytes: 1 << 20, maxRows: 1 << 20 }), () => readParquetFile(path, { maxBytes: 1 << 20, maxRows: 1 << 20 })]) {
        try {
          await bounded<unknown>(read());
          seen.ok++;
        } catch (err) {
          if (!(err instanceof CouplerError)) throw new Error(`not a CouplerError: ${String(err)} (file ${which}, ${JSON.stringify(ds)}, footer ${footer})`);
          expect(err.code).toMatch(/^COUPLER_ERR_/);
          seen.refused++;
        }
      }
    }),
    { numRuns: Number(process.env.R18_RUNS ?? 400), seed: Number(process.env.R18_SEED ?? 18_2026), endOnFailure: true },
  );
  expect(seen.refused).toBeGreaterThan(0);
}, 120_000);

test('the undamaged bases read', async () => {
  const files = await bases();
  for (const [i, f] of files.entries()) {
    const path = join(t.dir, `base${i}.parquet`);
    writeFileSync(path, f);
    expect((await readParquetColumns(path)).rowCount).toBe(ROWS);
  }
});
