/**
 * Review 18, R18-6: a damaged run in a page kills the process. hyparquet's RLE decoder writes
 * `count` copies of a run's value with no bound (`output[seen + i] = value`): a definition-level
 * run (any nullable column read by hyparquet: strings, booleans, dates, every readParquetFile
 * column, the fast path's BYTE_STREAM_SPLIT/DELTA pages) or an RLE boolean run that claims 2^28
 * values grows a JavaScript array until V8 aborts ("Fatal JavaScript invalid size error"): no
 * exception, the container dies. A bit-packed run of width 0 (a version-2 dictionary page whose
 * index width byte is 0) with a header above 2^30 makes the decoder's signed count negative:
 * it never ends. Found by hostile-parquet.test.ts's damage runs.
 *
 * Each file is read in a child process (a crash would take jest down): expected, for both
 * readers, a typed refusal, within a deadline.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../vantage6/helpers';
import { toDataPageV1 } from '../vantage6/pandas-parquet';

const t = tempDir('coupler-r18-pages-');
afterAll(() => t.cleanup());

interface Header {
  type: string;
  compressed_page_size: number;
  data_page_header?: { num_values: number };
  data_page_header_v2?: { definition_levels_byte_length: number; repetition_levels_byte_length: number };
}
const load = async <T>(spec: string): Promise<T> => (await import(spec)) as T;

/** The byte offset after the header of the first page of `type` in the file's first column chunk, and the header. */
async function firstPage(file: Uint8Array, type: string): Promise<{ body: number; header: Header }> {
  const { parquetHeader } = await load<{ parquetHeader(r: { view: DataView; offset: number }): Header }>('hyparquet/src/column.js');
  const reader = { view: new DataView(file.buffer, file.byteOffset, file.byteLength), offset: 4 };
  for (;;) {
    const header = parquetHeader(reader);
    if (header.type === type) return { body: reader.offset, header };
    reader.offset += header.compressed_page_size;
  }
}

/** Read `file` in a child; its lines, or 'hung' / 'crashed'. */
function readInChild(file: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'read-one.ts'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', () => undefined);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`hung\n${out}`);
    }, 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? out : `crashed (${code ?? signal})\n${out}`);
    });
  });
}

async function writer(): Promise<{ parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer }> {
  return load('hyparquet-writer');
}
const ROWS = 200;
const strings = Array.from({ length: ROWS }, (_, i) => (i % 3 === 0 ? null : `v${i % 5}`));
const HUGE_RLE_RUN = [0x80, 0x80, 0x80, 0x80, 0x02, 0x01]; // varint 2^29: an RLE run of 2^28 copies of 1

const expectRefused = (out: string): void => {
  expect(out).toMatch(/^columns refused ValueError COUPLER_ERR_VALUE_INVALID\nrows refused ValueError COUPLER_ERR_VALUE_INVALID\n$/);
};

test('a definition-level run of 2^28 in a version 2 page (string column): refused, not a crash', async () => {
  const file = new Uint8Array((await writer()).parquetWriteBuffer({ columnData: [{ name: 's', type: 'STRING', data: strings }], codec: 'UNCOMPRESSED', statistics: false }));
  const { body, header } = await firstPage(file, 'DATA_PAGE_V2');
  expect(header.data_page_header_v2!.definition_levels_byte_length).toBeGreaterThanOrEqual(HUGE_RLE_RUN.length);
  file.set(HUGE_RLE_RUN, body + header.data_page_header_v2!.repetition_levels_byte_length);
  const path = join(t.dir, 'def-v2.parquet');
  writeFileSync(path, file);
  expectRefused(await readInChild(path));
}, 60_000);

test('a definition-level run of 2^28 in a version 1 page (boolean column): refused, not a crash', async () => {
  const data = Array.from({ length: ROWS }, (_, i) => (i % 4 === 0 ? null : i % 3 === 0));
  const file = await toDataPageV1(new Uint8Array((await writer()).parquetWriteBuffer({ columnData: [{ name: 'b', type: 'BOOLEAN', data }], codec: 'UNCOMPRESSED', statistics: false })));
  const { body } = await firstPage(file, 'DATA_PAGE');
  file.set(HUGE_RLE_RUN, body + 4); // after the levels' 4-byte length
  const path = join(t.dir, 'def-v1.parquet');
  writeFileSync(path, file);
  expectRefused(await readInChild(path));
}, 60_000);

test('a dictionary-index run of width 0 with a header above 2^30 (version 2 page): refused, not a hang', async () => {
  const file = new Uint8Array((await writer()).parquetWriteBuffer({ columnData: [{ name: 's', type: 'STRING', data: strings, encoding: 'RLE_DICTIONARY' }], codec: 'UNCOMPRESSED', statistics: false }));
  const { body, header } = await firstPage(file, 'DATA_PAGE_V2');
  const v2 = header.data_page_header_v2!;
  const values = body + v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
  file.set([0, 0xff, 0xff, 0xff, 0xff, 0x07], values); // index width 0, a bit-packed run header of 2^31 − 1
  const path = join(t.dir, 'width0.parquet');
  writeFileSync(path, file);
  expectRefused(await readInChild(path));
}, 60_000);
