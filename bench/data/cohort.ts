/**
 * The benchmark's table: a synthetic cohort of `n` rows × 7 columns shaped as a pandas frame
 * written by pyarrow after a row filter (so the index is stored as `__index_level_0__`):
 * age (int64), sex (category), bmi, systolic_bp, hba1c (float64 with 3 %, 2 %, 5 % missing),
 * visit_date (date), recorded_at (datetime64[ns]). Deterministic (seeded), no real data.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { writePandasParquet, type PandasColumn } from '../../test/vantage6/pandas-parquet.js';
import { seeded as prng } from '../lib/random.js';

/** The columns the benchmark sums (two of the seven). */
export const SUMMED = ['bmi', 'hba1c'] as const;

/** The cohort as the CSV a vantage6 4.x node would hand over (pandas' `to_csv`: empty cell = missing, ISO dates). */
function toCsv(columns: readonly PandasColumn[], n: number): string {
  const text = (v: unknown, dtype: string): string => {
    if (v === null || v === undefined) return '';
    if (v instanceof Date) return dtype === 'date' ? v.toISOString().slice(0, 10) : v.toISOString().replace('T', ' ').replace('Z', '');
    return String(v);
  };
  const lines = [columns.map((c) => c.name).join(',')];
  for (let i = 0; i < n; i++) lines.push(columns.map((c) => text(c.data[i], c.dtype)).join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * Write the cohort to `path` (Parquet) and, when `csvPath` is given, the same rows as CSV; returns
 * the Parquet file's size in bytes, the CSV's, and the expected sums of {@link SUMMED}.
 */
export async function writeCohort(path: string, n: number, csvPath?: string, seed = 19): Promise<{ bytes: number; csvBytes: number; sums: Record<string, { sum: number; count: number; missing: number }> }> {
  const r = prng(seed);
  const age = new BigInt64Array(n);
  const sex: string[] = new Array<string>(n);
  const bmi: (number | null)[] = new Array<number | null>(n);
  const sbp: (number | null)[] = new Array<number | null>(n);
  const hba1c: (number | null)[] = new Array<number | null>(n);
  const visit: Date[] = new Array<Date>(n);
  const recorded: Date[] = new Array<Date>(n);
  const index = new BigInt64Array(n);
  const day = 86_400_000;
  const start = Date.UTC(2019, 0, 1);
  let kept = 0n;
  for (let i = 0; i < n; i++) {
    kept += 1n + (r() < 0.2 ? 1n : 0n); // a row filter dropped about one row in six
    index[i] = kept;
    age[i] = BigInt(18 + Math.floor(r() * 73));
    sex[i] = r() < 0.5 ? 'F' : 'M';
    bmi[i] = r() < 0.03 ? null : Math.round((18 + r() * 22) * 10) / 10;
    sbp[i] = r() < 0.02 ? null : Math.round(95 + r() * 70);
    hba1c[i] = r() < 0.05 ? null : Math.round((30 + r() * 50) * 10) / 10;
    const d = start + Math.floor(r() * 1800) * day;
    visit[i] = new Date(d);
    recorded[i] = new Date(d + Math.floor(r() * day));
  }
  const columns: PandasColumn[] = [
    { name: 'age', dtype: 'int64', data: age },
    { name: 'sex', dtype: 'category', data: sex },
    { name: 'bmi', dtype: 'float64', data: bmi },
    { name: 'systolic_bp', dtype: 'float64', data: sbp },
    { name: 'hba1c', dtype: 'float64', data: hba1c },
    { name: 'visit_date', dtype: 'date', data: visit },
    { name: 'recorded_at', dtype: 'datetime64[ns]', data: recorded },
  ];
  const sums: Record<string, { sum: number; count: number; missing: number }> = {};
  for (const [name, values] of [['bmi', bmi], ['hba1c', hba1c]] as const) {
    let sum = 0;
    let count = 0;
    for (const v of values) {
      if (v !== null) {
        sum += v;
        count++;
      }
    }
    sums[name] = { sum, count, missing: n - count };
  }
  const bytes = await writePandasParquet(path, columns, { kind: 'stored', data: index });
  let csvBytes = 0;
  if (csvPath !== undefined) {
    const csv = toCsv(columns, n);
    writeFileSync(csvPath, csv);
    csvBytes = Buffer.byteLength(csv);
  }
  return { bytes, csvBytes, sums };
}
