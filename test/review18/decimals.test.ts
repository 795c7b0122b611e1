/**
 * Review 18, R18-1 and R18-2: Parquet DECIMAL columns read as numbers.
 *
 * R18-1: hyparquet converts a DECIMAL as `unscaled * 10 ** -scale`, which is not the double
 * nearest the decimal (1.15 reads as 1.1500000000000001), and an unscaled value beyond 2^53
 * (DECIMAL(38, s), pyarrow's decimal128) is rounded with no error — numericColumn sums it.
 * Expected: the nearest double of the decimal (what `Number("1.15")` gives, what pandas gives
 * after `astype(float)`), and a typed refusal for an unscaled value beyond ±(2^53 − 1), as for
 * INT64 (an integer DECIMAL(38, 0) is an integer like any other).
 *
 * R18-2: a DECIMAL annotated only by its logical type (no converted type: allowed by the format,
 * written by some writers) is read as the raw unscaled integers: 12.34 reads as 1234.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { numericColumn, readParquetColumns, readParquetFile } from '../../src/vantage6';
import { ErrorCode, ValueError } from '../../src/errors';
import { tempDir } from '../vantage6/helpers';

const t = tempDir('coupler-r18-dec-');
afterAll(() => t.cleanup());

interface Writer {
  parquetWriteBuffer(o: Record<string, unknown>): ArrayBuffer;
}
async function writer(): Promise<Writer> {
  const spec = 'hyparquet-writer';
  return (await import(spec)) as Writer;
}

/** Unscaled decimals, each with its exact text. */
const UNSCALED = [115n, 1234n, 7n, null, -115n, 123456789n, -1n, 0n];
const text = (u: bigint, scale: number): string => {
  const neg = u < 0n;
  const digits = (neg ? -u : u).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
};

async function decimalFile(name: string, physical: 'INT32' | 'INT64' | 'FIXED_LEN_BYTE_ARRAY', scale: number, data: (bigint | null)[], annotate: 'both' | 'logical'): Promise<string> {
  const element: Record<string, unknown> = { name: 'd', type: physical, repetition_type: 'OPTIONAL', scale, precision: physical === 'INT32' ? 9 : physical === 'INT64' ? 18 : 38 };
  if (physical === 'FIXED_LEN_BYTE_ARRAY') element.type_length = 16;
  if (annotate === 'both') element.converted_type = 'DECIMAL';
  element.logical_type = { type: 'DECIMAL', scale, precision: element.precision };
  // without the converted type hyparquet-writer writes the values as given: the unscaled integers
  const values = annotate === 'both' ? data : data.map((u) => (u === null ? null : physical === 'INT32' ? Number(u) : u));
  const file = join(t.dir, `${name}.parquet`);
  writeFileSync(file, Buffer.from((await writer()).parquetWriteBuffer({ columnData: [{ name: 'd', data: values }], schema: [{ name: 'root', num_children: 1 }, element] })));
  return file;
}

describe('R18-1: DECIMAL values are the nearest double of the decimal', () => {
  for (const physical of ['INT32', 'INT64', 'FIXED_LEN_BYTE_ARRAY'] as const) {
    for (const scale of [0, 2, 3]) {
      it(`${physical} scale ${scale}: columns and rows`, async () => {
        const file = await decimalFile(`near-${physical}-${scale}`, physical, scale, UNSCALED, 'both');
        const expected = UNSCALED.map((u) => (u === null ? null : Number(scale === 0 ? u.toString() : text(u, scale))));
        const cols = await readParquetColumns(file);
        const col = cols.data.get('d')!;
        expect(col.kind).toBe('number');
        expect(Array.from(col.values as Float64Array).map((x) => (Number.isNaN(x) ? null : x))).toEqual(expected);
        const rows = await readParquetFile(file);
        expect(rows.rows.map((r) => r[0])).toEqual(expected);
      });
    }
  }

  it('an unscaled value beyond 2^53 (decimal128) is refused, not rounded', async () => {
    const big = 2n ** 60n + 1n; // 11529215046068469.77 at scale 2: no double holds it
    const file = await decimalFile('big', 'FIXED_LEN_BYTE_ARRAY', 2, [1n, big, null], 'both');
    const refused = async (f: () => Promise<unknown>): Promise<void> => {
      const err = await f().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ValueError);
      expect((err as ValueError).code).toBe(ErrorCode.VALUE_INVALID);
      expect((err as Error).message).toMatch(/data row 2/);
      expect((err as Error).message).not.toMatch(/11529215046068469|1152921504606846977/);
    };
    await refused(async () => numericColumn(await readParquetColumns(file), 'd'));
    await refused(async () => numericColumn(await readParquetFile(file), 'd'));
  });

  it('DECIMAL(38, 0) beyond 2^53 is refused like INT64', async () => {
    const file = await decimalFile('big0', 'FIXED_LEN_BYTE_ARRAY', 0, [2n ** 53n + 1n], 'both');
    await expect((async () => numericColumn(await readParquetColumns(file), 'd'))()).rejects.toMatchObject({ code: ErrorCode.VALUE_INVALID });
  });
});

describe('R18-2: a DECIMAL with only its logical type is scaled', () => {
  for (const physical of ['INT32', 'INT64'] as const) {
    it(`${physical}: 12.34 reads as 12.34, not 1234`, async () => {
      const file = await decimalFile(`logical-${physical}`, physical, 2, UNSCALED, 'logical');
      const expected = UNSCALED.map((u) => (u === null ? null : Number(text(u, 2))));
      const col = (await readParquetColumns(file)).data.get('d')!;
      expect(Array.from(col.values as Float64Array).map((x) => (Number.isNaN(x) ? null : x))).toEqual(expected);
      expect((await readParquetFile(file)).rows.map((r) => r[0])).toEqual(expected);
    });
  }
});
