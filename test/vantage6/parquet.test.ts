/**
 * vantage6 5 data access: compute containers get `USER_REQUESTED_DATAFRAMES` (dataframe names; `,`
 * within a group, `;` between groups) and read `<SESSION_FOLDER>/<name>.parquet`
 * (vantage6-algorithm-tools/vantage6/algorithm/decorator/data.py and
 * vantage6-node/vantage6/node/k8s/container_manager.py, 5.0). Parquet files here are written by
 * hyparquet-writer (no pyarrow on the test machines): plain files, including a NaN stored in a
 * DOUBLE column (pyarrow writes pandas' NaN as null, but other writers keep NaN; both read as
 * missing). Files shaped as pandas + pyarrow write them are in columns.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataframeFile, numericColumn, readContainerEnv, readParquetFile } from '../../src/vantage6';
import { tempDir as makeTemp, v6EncodeEnv } from './helpers';

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));
function tempDir(): string {
  const t = makeTemp();
  cleanups.push(t.cleanup);
  return t.dir;
}

async function writeParquet(path: string, columnData: { name: string; data: unknown[]; type?: string }[]): Promise<void> {
  const spec = 'hyparquet-writer';
  const { parquetWriteBuffer } = (await import(spec)) as { parquetWriteBuffer(o: { columnData: unknown[] }): ArrayBuffer };
  writeFileSync(path, Buffer.from(parquetWriteBuffer({ columnData })));
}

test('USER_REQUESTED_DATAFRAMES: groups and names; dataframeFile gives <SESSION_FOLDER>/<name>.parquet', () => {
  const env = readContainerEnv(v6EncodeEnv({ ALGORITHM_METHOD: 'partial', SESSION_FOLDER: '/app/vantage6/task/session', USER_REQUESTED_DATAFRAMES: 'cohort,extra;controls' }));
  expect(env.requestedDataframes).toEqual([['cohort', 'extra'], ['controls']]);
  expect(dataframeFile({ env })).toBe('/app/vantage6/task/session/cohort.parquet');
  expect(dataframeFile({ env }, 0, 1)).toBe('/app/vantage6/task/session/extra.parquet');
  expect(dataframeFile({ env }, 1)).toBe('/app/vantage6/task/session/controls.parquet');
  expect(() => dataframeFile({ env }, 2)).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_VANTAGE6' }));
  const none = readContainerEnv(v6EncodeEnv({ ALGORITHM_METHOD: 'partial', USER_REQUESTED_DATAFRAMES: 'cohort' }));
  expect(() => dataframeFile({ env: none })).toThrow(/SESSION_FOLDER is not set/);
});

test('a dataframe name that is not a plain file name is refused (no path escapes from the session folder)', () => {
  for (const bad of ['../secrets', 'a/b', '..']) {
    expect(() => readContainerEnv(v6EncodeEnv({ ALGORITHM_METHOD: 'm', USER_REQUESTED_DATAFRAMES: bad }))).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_VANTAGE6' }));
  }
});

test('readParquetFile + numericColumn: doubles with NaN (missing), INT64 (bigint), nulls, strings', async () => {
  const dir = tempDir();
  const session = join(dir, 'session');
  mkdirSync(session);
  const file = join(session, 'cohort.parquet');
  await writeParquet(file, [
    { name: 'age', data: [34.5, Number.NaN, 61, 47.25], type: 'DOUBLE' },
    { name: 'visits', data: [3n, 0n, 12n, null], type: 'INT64' },
    { name: 'site', data: ['a', 'b', 'a', 'c'], type: 'STRING' },
  ]);
  const env = readContainerEnv(v6EncodeEnv({ ALGORITHM_METHOD: 'partial', SESSION_FOLDER: session, USER_REQUESTED_DATAFRAMES: 'cohort' }));
  const table = await readParquetFile(dataframeFile({ env }));
  expect(table.columns).toEqual(['age', 'visits', 'site']);
  expect(table.rows).toHaveLength(4);
  expect(numericColumn(table, 'age')).toEqual({ values: [34.5, 61, 47.25], missing: 1 });
  expect(numericColumn(table, 'visits')).toEqual({ values: [3, 0, 12], missing: 1 });
  expect(() => numericColumn(table, 'site')).toThrow(/data row 1: column "site" is not a number/);
  expect(() => numericColumn(table, 'nope')).toThrow(/no column "nope"/);
  const only = await readParquetFile(file, { columns: ['age'] });
  expect(only.columns).toEqual(['age']);
});

test('bad Parquet: not Parquet, too large, too many rows, unknown column → VALUE_INVALID without content', async () => {
  const dir = tempDir();
  const junk = join(dir, 'junk.parquet');
  writeFileSync(junk, 'secret,values\n1,2\n');
  await expect(readParquetFile(junk)).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.not.stringContaining('secret') });
  const good = join(dir, 'good.parquet');
  await writeParquet(good, [{ name: 'x', data: [1, 2, 3], type: 'DOUBLE' }]);
  await expect(readParquetFile(good, { maxBytes: 10 })).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID' });
  await expect(readParquetFile(good, { maxRows: 2 })).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.stringContaining('3 rows') });
  await expect(readParquetFile(good, { columns: ['y'] })).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID' });
  await expect(readParquetFile(join(dir, 'missing.parquet'))).rejects.toMatchObject({ code: 'COUPLER_ERR_VALUE_INVALID', message: expect.stringContaining('ENOENT') });
});

test('an INT64 beyond 2^53 is refused by numericColumn rather than rounded', async () => {
  const file = join(tempDir(), 'big.parquet');
  await writeParquet(file, [{ name: 'n', data: [2n ** 60n], type: 'INT64' }]);
  const table = await readParquetFile(file);
  expect(table.rows[0]![0]).toBe(2n ** 60n);
  expect(() => numericColumn(table, 'n')).toThrow(/beyond 2\^53/);
});
