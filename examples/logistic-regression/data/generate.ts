/**
 * Generates the synthetic station files of the logistic-regression example (no real patient data):
 *
 *   npx tsx examples/logistic-regression/data/generate.ts
 *
 * writes station-1.csv, station-2.csv and station-3.csv next to this script. Deterministic: a
 * seeded PRNG (mulberry32) and Box–Muller normals, so the same files come out every time (the
 * example's test checks that the committed files are this script's output).
 *
 * Columns: id, age (years), bmi (kg/m², one decimal, about 2 % missing), systolic_bp (mmHg),
 * smoker (0/1), event (0/1). The stations differ in size, age and smoking: the pooled fit is not
 * the fit of any one station. The outcome follows a logistic model,
 *   logit P(event = 1) = −10 + 0.06·age + 0.09·bmi + 0.025·systolic_bp + 0.8·smoker
 * (with a missing bmi the outcome is drawn from the true bmi, which is then dropped).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface StationSpec {
  readonly seed: number;
  readonly rows: number;
  readonly ageMean: number;
  readonly ageSd: number;
  readonly smokers: number;
}

export const STATIONS: readonly StationSpec[] = [
  { seed: 0x5eed0001, rows: 160, ageMean: 58, ageSd: 11, smokers: 0.25 },
  { seed: 0x5eed0002, rows: 120, ageMean: 64, ageSd: 9, smokers: 0.35 },
  { seed: 0x5eed0003, rows: 180, ageMean: 52, ageSd: 13, smokers: 0.2 },
];

/** mulberry32: a small, well-mixed 32-bit PRNG; uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** The CSV text of station `index` (0-based). */
export function stationCsv(index: number): string {
  const spec = STATIONS[index];
  if (spec === undefined) throw new Error(`no station ${index}`);
  const uniform = mulberry32(spec.seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const lines = ['id,age,bmi,systolic_bp,smoker,event'];
  for (let i = 0; i < spec.rows; i++) {
    const age = Math.round(clamp(spec.ageMean + spec.ageSd * normal(), 25, 90));
    const bmi = Math.round(clamp(27 + 4.5 * normal(), 16, 45) * 10) / 10;
    const sbp = Math.round(clamp(128 + 0.4 * (age - 55) + 15 * normal(), 90, 200));
    const smoker = uniform() < spec.smokers ? 1 : 0;
    const logit = -10 + 0.06 * age + 0.09 * bmi + 0.025 * sbp + 0.8 * smoker;
    const event = uniform() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    const bmiCell = uniform() < 0.02 ? '' : bmi.toFixed(1);
    lines.push(`P${index + 1}-${String(i + 1).padStart(4, '0')},${age},${bmiCell},${sbp},${smoker},${event}`);
  }
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  for (let i = 0; i < STATIONS.length; i++) {
    const file = join(__dirname, `station-${i + 1}.csv`);
    writeFileSync(file, stationCsv(i));
    process.stdout.write(`wrote ${file}\n`);
  }
}
