/**
 * Review 18 (noticed, left alone there): a Parquet TIME column (time of day: TIME_MILLIS in INT32,
 * TIME_MICROS / logical TIME in INT64) was read as cells holding the raw count since midnight —
 * 45 296 789 for 12:34:56.789 — and `numericColumn` summed those counts as numbers, although
 * parquet.ts's own NOT_NUMBER says such columns are "never numbers" (pandas gives
 * `datetime.time`, which cannot be summed). Now a time of day is its text, `HH:MM:SS.fff…`, and
 * `numericColumn` refuses the column by name, as it refuses dates and timestamps.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { numericColumn, readParquetColumns, readParquetFile } from '../../src/vantage6';
import { ErrorCode } from '../../src/errors';
import { tempDir } from '../vantage6/helpers';

const t = tempDir('coupler-r18-time-');
afterAll(() => t.cleanup());

async function write(name: string, element: Record<string, unknown>, data: unknown[]): Promise<string> {
  const spec = 'hyparquet-writer';
  const w = (await import(spec)) as { parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer };
  const file = join(t.dir, `${name}.parquet`);
  writeFileSync(file, Buffer.from(w.parquetWriteBuffer({ columnData: [{ name: 't', data }], schema: [{ name: 'root', num_children: 1 }, { name: 't', repetition_type: 'OPTIONAL', ...element }] })));
  return file;
}

const MS = 12 * 3600_000 + 34 * 60_000 + 56_000 + 789; // 12:34:56.789

const cases: [string, Record<string, unknown>, unknown[], (string | null)[]][] = [
  ['TIME_MILLIS (INT32)', { type: 'INT32', converted_type: 'TIME_MILLIS' }, [MS, null, 0, 86_399_999], ['12:34:56.789', null, '00:00:00.000', '23:59:59.999']],
  ['TIME_MICROS (INT64)', { type: 'INT64', converted_type: 'TIME_MICROS' }, [BigInt(MS) * 1000n + 1n, null], ['12:34:56.789001', null]],
  ['logical TIME, NANOS (INT64)', { type: 'INT64', logical_type: { type: 'TIME', isAdjustedToUTC: false, unit: 'NANOS' } }, [BigInt(MS) * 1_000_000n + 5n, null], ['12:34:56.789000005', null]],
];

describe.each(cases)('%s', (name, element, data, text) => {
  it('is read as the time of day, and numericColumn refuses it', async () => {
    const file = await write(name.replace(/\W+/g, '-'), element, data);
    const rows = await readParquetFile(file);
    expect(rows.rows.map((r) => r[0] ?? null)).toEqual(text);
    const cols = await readParquetColumns(file);
    expect(() => numericColumn(cols, 't')).toThrow(expect.objectContaining({ code: ErrorCode.VALUE_INVALID }));
    expect(() => numericColumn(rows, 't')).toThrow(expect.objectContaining({ code: ErrorCode.VALUE_INVALID }));
  });
});

it('a TIME value outside one day is a corrupt file (typed), not a time', async () => {
  const file = await write('time-out-of-day', { type: 'INT32', converted_type: 'TIME_MILLIS' }, [MS, 86_400_000]);
  await expect(readParquetFile(file)).rejects.toMatchObject({ code: expect.stringMatching(/^COUPLER_ERR_/) });
  await expect(readParquetColumns(file)).rejects.toMatchObject({ code: expect.stringMatching(/^COUPLER_ERR_/) });
});
