/**
 * Child process of hostile-pages.test.ts: reads one Parquet file with readParquetColumns and
 * readParquetFile and prints, per reader, `ok <rows>` or `refused <error class> <code>` (a crash
 * or a hang shows as the child's exit status or its kill by the parent's deadline).
 */
import { readParquetColumns, readParquetFile } from '../../src/vantage6';
import { CouplerError } from '../../src/errors';

async function main(): Promise<void> {
  const path = process.argv[2]!;
  for (const [name, read] of [
    ['columns', async () => (await readParquetColumns(path)).rowCount],
    ['rows', async () => (await readParquetFile(path)).rows.length],
  ] as const) {
    try {
      process.stdout.write(`${name} ok ${await read()}\n`);
    } catch (err) {
      process.stdout.write(`${name} refused ${(err as Error).constructor.name} ${err instanceof CouplerError ? err.code : 'untyped'}\n`);
    }
  }
}
void main();
