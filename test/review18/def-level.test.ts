/**
 * Review 18 (noticed, left alone there): a definition level above 1 in a flat nullable column is
 * corrupt (the column's maximum level is 1), but the Parquet fast path's `presence()` added the
 * levels up: a run of level 2 at row 1 and level 0 at row 2 kept the count of present values, so
 * both rows read as missing and every later value was shifted onto the row before it — the last
 * two values silently dropped. A corrupt file must be refused, not read as other data.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readParquetColumns } from '../../src/vantage6';
import { ErrorCode } from '../../src/errors';
import { tempDir } from '../vantage6/helpers';

const t = tempDir('coupler-r18-def-');
afterAll(() => t.cleanup());

const load = async <T>(spec: string): Promise<T> => (await import(spec)) as T;
interface Header {
  type: string;
  compressed_page_size: number;
  data_page_header_v2?: { definition_levels_byte_length: number; repetition_levels_byte_length: number };
}

test('a definition level of 2 in a nullable DOUBLE column (fast path, version 2 page) is refused, not read shifted', async () => {
  const N = 200;
  const data = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? null : i));
  const V = data.filter((x) => x !== null).length;
  const { parquetWriteBuffer } = await load<{ parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer }>('hyparquet-writer');
  const file = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'x', type: 'DOUBLE', data }], codec: 'UNCOMPRESSED', statistics: false }));
  const { parquetHeader } = await load<{ parquetHeader(r: { view: DataView; offset: number }): Header }>('hyparquet/src/column.js');
  const reader = { view: new DataView(file.buffer, file.byteOffset, file.byteLength), offset: 4 };
  let header = parquetHeader(reader);
  while (header.type !== 'DATA_PAGE_V2') {
    reader.offset += header.compressed_page_size;
    header = parquetHeader(reader);
  }
  const v2 = header.data_page_header_v2!;
  // Levels 2, 0, then V − 2 ones and N − V zeros: as many present values as the page holds.
  const varint = (n: number): number[] => (n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7]);
  const levels = [0x02, 0x02, 0x02, 0x00, ...varint((V - 2) << 1), 0x01, ...varint((N - V) << 1), 0x00];
  expect(levels.length).toBeLessThanOrEqual(v2.definition_levels_byte_length);
  const at = reader.offset + v2.repetition_levels_byte_length;
  file.fill(0, at, at + v2.definition_levels_byte_length);
  file.set(levels, at);
  const path = join(t.dir, 'def2.parquet');
  writeFileSync(path, file);
  await expect(readParquetColumns(path)).rejects.toMatchObject({ code: ErrorCode.VALUE_INVALID });
});
