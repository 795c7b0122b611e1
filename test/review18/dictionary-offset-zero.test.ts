/**
 * Review 18, R18-7: a column chunk whose metadata says dictionary_page_offset = 0 (offset 0 is the
 * file's magic, never a page: writers that set the field without a dictionary) is read by hyparquet
 * and pandas from its first data page; coupler's fast path started at byte 0 and refused the file
 * ("a page runs past its column chunk"). Expected: the same values as hyparquet's read.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readParquetColumns, readParquetFile } from '../../src/vantage6';
import { tempDir } from '../vantage6/helpers';

const t = tempDir('coupler-r18-dpo-');
afterAll(() => t.cleanup());
const load = async <T>(spec: string): Promise<T> => (await import(spec)) as T;

test('dictionary_page_offset = 0 reads from the first data page, as hyparquet does', async () => {
  const hw = await load<{ parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer }>('hyparquet-writer');
  const hp = await load<{ parquetMetadata(b: ArrayBuffer): { row_groups: { columns: { meta_data: { dictionary_page_offset?: bigint } }[] }[]; metadata_length?: number }; parquetReadObjects(o: { file: ArrayBuffer }): Promise<Record<string, unknown>[]> }>('hyparquet');
  const { ByteWriter } = await load<{ ByteWriter: new () => { appendBytes(b: Uint8Array): void; appendUint32(v: number): void; getBytes(): Uint8Array } }>('hyparquet-writer/src/bytewriter.js');
  const { writeMetadata } = await load<{ writeMetadata(w: unknown, m: unknown): void }>('hyparquet-writer/src/metadata.js');
  const buffer = new Uint8Array(hw.parquetWriteBuffer({ columnData: [{ name: 'x', type: 'DOUBLE', data: [1.5, null, 3, 4], encoding: 'PLAIN' }, { name: 'y', type: 'INT64', data: [1n, 2n, 3n, 4n], encoding: 'PLAIN' }, { name: 's', type: 'STRING', data: ['a', null, 'b', 'a'] }], statistics: false }));
  const metadata = hp.parquetMetadata(buffer.buffer as ArrayBuffer);
  const footer = new DataView(buffer.buffer).getUint32(buffer.length - 8, true);
  for (const g of metadata.row_groups) for (const c of g.columns) c.meta_data.dictionary_page_offset ??= 0n;
  delete metadata.metadata_length;
  const w = new ByteWriter();
  w.appendBytes(buffer.subarray(0, buffer.length - 8 - footer));
  writeMetadata(w, metadata);
  w.appendUint32(0x31524150);
  const file = join(t.dir, 'dpo0.parquet');
  writeFileSync(file, w.getBytes());
  const b = readFileSync(file);
  const expected = await hp.parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer });
  const table = await readParquetColumns(file);
  expect(table.data.get('x')).toEqual({ kind: 'number', values: Float64Array.from([1.5, Number.NaN, 3, 4]), missing: 1 });
  expect(table.data.get('y')).toEqual({ kind: 'number', values: Float64Array.from([1, 2, 3, 4]), missing: 0 });
  expect((await readParquetFile(file)).rows).toEqual(expected.map((r) => [r.x, r.y, r.s]));
});
