/**
 * The logistic-regression example, run for real (three `coupler run` processes, one group, one
 * secure sum per Newton round), compared with the same optimiser run centrally in plain
 * TypeScript on the concatenated rows. Needs the built CLI (`npm run build`).
 *
 * Tolerance. Each round every station encodes its sums in fixed point with f fractional bits
 * (round to nearest: error ≤ 2^-(f+1) per element); the ring sum of the encodings is exact, so the
 * pooled gradient differs from the exact one by at most n·2^-(f+1) per element. At the fixed point
 * of Newton's iteration the gradient the stations see is zero, so the true gradient there is that
 * rounding error ε and the coefficients differ from the exact maximum-likelihood fit by H⁻¹ε:
 *   max |Δβ| ≤ ‖H⁻¹‖∞ · n · 2^-(f+1)   (rounding in the information matrix only changes the step
 * length, not the fixed point). The test computes this bound from the centralised fit and asserts
 * max |Δβ| ≤ 2× it (the factor covers float64 rounding and the centralised fit's own last step),
 * and also the plain number stated in the README, max |Δβ| ≤ 1e-6.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES, builtCli, readCsv, runExample, stationFiles } from '../_support/harness';
import { stationCsv, STATIONS } from './data/generate';

const ALGORITHM = join(EXAMPLES, 'logistic-regression', 'algorithm.ts');
const DATA = stationFiles('logistic-regression', 3);
const FEATURES = ['age', 'bmi', 'systolic_bp', 'smoker'];
const FRACTIONAL_BITS = 32; // the example's default

interface Fit {
  outcome: string;
  terms: string[];
  coefficients: number[];
  standardErrors: number[];
  logLikelihood: number;
  iterations: number;
  converged: boolean;
  count: number;
  skipped: number;
  l2: number;
  stations: string[];
}

/** The pooled rows (complete cases), intercept first: the centralised analyst's table. */
function pooledRows(features: readonly string[]): { x: number[][]; y: number[]; skipped: number } {
  const x: number[][] = [];
  const y: number[] = [];
  let skipped = 0;
  for (const file of DATA) {
    const { header, rows } = readCsv(file);
    const cols = ['event', ...features].map((c) => header.indexOf(c));
    for (const r of rows) {
      const cells = cols.map((c) => r[c] ?? '');
      if (cells.some((c) => c === '')) {
        skipped++;
        continue;
      }
      y.push(Number(cells[0]));
      x.push([1, ...cells.slice(1).map(Number)]);
    }
  }
  return { x, y, skipped };
}

/** Solve A·z = b by Gaussian elimination with partial pivoting (A is copied). */
function solve(A: readonly number[][], b: readonly number[]): number[] {
  const p = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    for (let r = c + 1; r < p; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= p; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  const z = new Array<number>(p).fill(0);
  for (let r = p - 1; r >= 0; r--) {
    let s = M[r]![p]!;
    for (let k = r + 1; k < p; k++) s -= M[r]![k]! * z[k]!;
    z[r] = s / M[r]![r]!;
  }
  return z;
}

/** Gradient and information matrix of the log-likelihood at β over all rows (full matrices). */
function gradientAndInformation(x: readonly number[][], y: readonly number[], beta: readonly number[]): { g: number[]; H: number[][] } {
  const p = beta.length;
  const g = new Array<number>(p).fill(0);
  const H = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  x.forEach((row, r) => {
    const mu = 1 / (1 + Math.exp(-row.reduce((a, v, j) => a + v * beta[j]!, 0)));
    for (let i = 0; i < p; i++) {
      g[i]! += (y[r]! - mu) * row[i]!;
      for (let j = 0; j < p; j++) H[i]![j]! += mu * (1 - mu) * row[i]! * row[j]!;
    }
  });
  return { g, H };
}

/**
 * The same optimiser, centrally: Newton from β = 0 on the (ridge-penalised) log-likelihood, stop
 * once g·H⁻¹g/2 ≤ tolerance (that last step is taken).
 */
function centralisedNewton(x: readonly number[][], y: readonly number[], l2 = 0, tolerance = 1e-10, maxIterations = 25): { beta: number[]; iterations: number; H: number[][] } {
  let beta = new Array<number>(x[0]!.length).fill(0);
  for (let it = 1; it <= maxIterations; it++) {
    const { g, H } = gradientAndInformation(x, y, beta);
    for (let j = 1; j < beta.length; j++) {
      g[j]! -= l2 * beta[j]!;
      H[j]![j]! += l2;
    }
    const step = solve(H, g);
    beta = beta.map((b, j) => b + step[j]!);
    if (g.reduce((a, gj, j) => a + gj * step[j]!, 0) / 2 <= tolerance) return { beta, iterations: it, H };
  }
  throw new Error('centralised fit did not converge');
}

/** ‖A⁻¹‖∞ (largest absolute row sum of the inverse). */
function inverseNorm(A: readonly number[][]): number {
  const p = A.length;
  const columns = A.map((_, j) => solve(A, A.map((__, i) => (i === j ? 1 : 0))));
  let norm = 0;
  for (let i = 0; i < p; i++) norm = Math.max(norm, columns.reduce((a, col) => a + Math.abs(col[i]!), 0));
  return norm;
}

beforeAll(() => {
  builtCli();
});

test('the committed station files are the output of data/generate.ts', () => {
  STATIONS.forEach((_, i) => expect(readFileSync(DATA[i]!, 'utf8')).toBe(stationCsv(i)));
});

test.each([4, 5] as const)('vantage6 %i.x: every station ends with the same coefficients, equal to the centralised fit on the pooled rows', async (vantage6) => {
  const started = Date.now();
  const { outcome, results, exitCodes } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, vantage6 });
  const elapsed = Date.now() - started;
  expect(exitCodes).toEqual([0, 0, 0]);
  expect(outcome.agreed).toBe(true); // deep-equal results: the same coefficients to the last bit

  const { x, y, skipped } = pooledRows(FEATURES);
  const central = centralisedNewton(x, y);
  const fit = results[0] as Fit;
  expect(fit).toMatchObject({ outcome: 'event', terms: ['intercept', ...FEATURES], converged: true, count: x.length, skipped, l2: 0, stations: ['1', '2', '3'] });
  expect(fit.iterations).toBe(central.iterations); // one secure sum per round, all in one group

  const maxDelta = Math.max(...fit.coefficients.map((b, j) => Math.abs(b - central.beta[j]!)));
  const derived = inverseNorm(central.H) * 3 * 2 ** -(FRACTIONAL_BITS + 1);
  expect(maxDelta).toBeLessThanOrEqual(2 * derived);
  expect(maxDelta).toBeLessThanOrEqual(1e-6);

  // the coefficients solve the pooled score equations, and the standard errors are sqrt(diag(H⁻¹))
  const atFit = gradientAndInformation(x, y, fit.coefficients);
  expect(Math.max(...atFit.g.map(Math.abs))).toBeLessThanOrEqual(1e-6);
  const se = atFit.H.map((_, j) => Math.sqrt(solve(atFit.H, atFit.H.map((__, i) => (i === j ? 1 : 0)))[j]!));
  fit.standardErrors.forEach((s, j) => expect(Math.abs(s - se[j]!) / se[j]!).toBeLessThanOrEqual(1e-6));

  // the measured numbers, for the README
  process.stdout.write(
    `logistic regression (vantage6 ${vantage6}.x): ${fit.iterations} rounds, ${elapsed} ms; max |Δβ| vs centralised = ${maxDelta.toExponential(2)} (derived bound ${derived.toExponential(2)})\n`,
  );
});

test('with a ridge penalty: the same penalised fit as centrally', async () => {
  const features = ['age', 'systolic_bp', 'smoker'];
  const { outcome, results } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { features, l2: 5 } });
  expect(outcome.agreed).toBe(true);
  const { x, y } = pooledRows(features);
  const central = centralisedNewton(x, y, 5);
  const fit = results[0] as Fit;
  expect(fit).toMatchObject({ terms: ['intercept', ...features], converged: true, l2: 5, iterations: central.iterations, count: x.length });
  const derived = inverseNorm(central.H) * 3 * 2 ** -(FRACTIONAL_BITS + 1);
  expect(Math.max(...fit.coefficients.map((b, j) => Math.abs(b - central.beta[j]!)))).toBeLessThanOrEqual(Math.min(2 * derived, 1e-6));
});

test('a feature column the stations do not have: refused by name at every station before joining', async () => {
  const { exitCodes, results, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { features: ['age', 'cholesterol'] } });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(results).toEqual([undefined, undefined, undefined]);
  expect(lines.filter((l) => l.includes('the data has no column "cholesterol"'))).toHaveLength(3);
  for (const p of outcome.parties) expect(p.traffic).toEqual([]);
  expect(lines.join('\n')).not.toMatch(/P\d-\d{4}/); // no row id (or any other cell) in the output
});

test('an outcome that is not 0/1 is refused, naming the column and data row, not the value', async () => {
  const { exitCodes, lines } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { outcome: 'age', features: ['bmi'] } });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(lines.filter((l) => / error: Error: data row 1: the outcome column "age" must be 0 or 1$/.test(l))).toHaveLength(3);
});

test('fixed-point parameters the ring cannot hold are refused at every station before joining', async () => {
  const { exitCodes, lines, outcome } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { fractionalBits: 40 } });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(lines.filter((l) => / error: COUPLER_ERR_PARAMETERS_UNSAFE: modulus too small: need log2 M ≥ log2 n \+ log2 B \+ f \+ 2/.test(l))).toHaveLength(3);
  for (const p of outcome.parties) expect(p.traffic).toEqual([]);
});

test('one station with a different fixed-point setting: the first round aborts everywhere, naming it', async () => {
  const { exitCodes, results, lines } = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, perParty: [{}, { fractionalBits: 30 }, {}] });
  expect(exitCodes).toEqual([1, 1, 1]);
  expect(results).toEqual([undefined, undefined, undefined]);
  expect(lines.find((l) => l.startsWith('  [party 1] error: COUPLER_ERR_SHAPE_MISMATCH'))).toContain('party "2" disagrees');
  expect(lines.find((l) => l.startsWith('  [party 3] error: COUPLER_ERR_SHAPE_MISMATCH'))).toContain('party "2" disagrees');
});

test('kwarg "minRows" above the stations\' complete rows: each leaves before the first sum; a bad minRows is refused by name', async () => {
  const few = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { minRows: 1_000_000 } });
  expect(few.exitCodes).toEqual([1, 1, 1]);
  // Whoever gets there first refuses; a station still joining then loses it (it left on purpose).
  const refusing = few.lines.filter((l) => l.includes('fewer than kwarg "minRows" (1000000): it does not take part'));
  expect(refusing.length).toBeGreaterThan(0);
  // Nothing of a sum was sent by anyone: the stations left before the first round.
  for (const p of few.outcome.parties) for (const t of p.traffic) expect(t.bytesSent).toBeLessThan(20_000);
  const bad = await runExample({ algorithm: ALGORITHM, method: 'partial', dataFiles: DATA, kwargs: { minRows: 0 } });
  expect(bad.exitCodes).toEqual([1, 1, 1]);
  expect(bad.lines.filter((l) => l.includes('"minRows"'))).toHaveLength(3);
});
