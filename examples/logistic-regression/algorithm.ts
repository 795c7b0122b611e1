/**
 * Federated logistic regression, fitted by Newton's method (IRLS) with every round's sums
 * computed peer-to-peer: one group, many secure sums, no server in the loop.
 *
 * The stations join ONE group. Each round, every station evaluates its own rows at the current
 * coefficients β — log-likelihood, gradient, Hessian (information matrix) and row count — and
 * ONE `secureSum` of that record gives every station the pooled totals. Every station then takes
 * the same Newton step β ← β + H⁻¹g from the same pooled numbers, so all stations hold the same
 * coefficients after every round and stop after the same round (the stopping rule reads only
 * pooled values). The result is the pooled maximum-likelihood fit, as if the rows were in one
 * table; no station sees another station's rows or totals.
 *
 * Method `partial` (run at every station):
 *   kwargs.outcome        the 0/1 outcome column (default "event")
 *   kwargs.features       the predictor columns (default ["age", "bmi", "systolic_bp", "smoker"]);
 *                         an intercept is always added. Rows with a missing cell (empty, NA, NaN
 *                         or null) in the outcome or a feature are left out (complete cases),
 *                         counted as skipped.
 *   kwargs.maxIterations  most Newton rounds (default 25, at most 100)
 *   kwargs.tolerance      stop once the Newton decrement g·H⁻¹g/2 — the log-likelihood the next
 *                         step would still gain — is at most this (default 1e-10)
 *   kwargs.l2             ridge penalty λ on the non-intercept coefficients (default 0)
 *   kwargs.fractionalBits, kwargs.bound   fixed point of the secure sums (default 32 and 2^24:
 *                         per-station rounding ≤ 2^-33; |every local sum| ≤ bound; fits up to 64 stations)
 *   kwargs.minRows        the fewest complete rows a station needs to take part (default 5): with
 *                         fewer, the pooled sums would give away the other stations' totals
 *   kwargs.csv / kwargs.database          a CSV file to read instead, or the node's database label
 *                         (default: the station's data as the node gives it — vantage6 4: database
 *                         "default"; 5: the requested dataframe, of which only the model's columns
 *                         are read)
 */
import { checkParams, secureSum } from 'coupler';
import { completeRows, joinPeerGroup, loadPeerSession, readCsvFile, readStationColumns, type AlgorithmContext, type ColumnTable, type DataTable } from 'coupler/vantage6';

const DEFAULTS = {
  outcome: 'event',
  features: ['age', 'bmi', 'systolic_bp', 'smoker'],
  maxIterations: 25,
  tolerance: 1e-10,
  l2: 0,
  fractionalBits: 32,
  bound: 2 ** 24,
  minRows: 5,
};

// ---- kwargs ---------------------------------------------------------------------------------

/** A string kwarg: `fallback` when absent, else a non-empty string (errors name the kwarg, never its value). */
function stringKwarg(kwargs: Record<string, unknown>, name: string, fallback?: string): string | undefined {
  const v = kwargs[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v.trim().length === 0) throw new Error(`kwarg "${name}" must be a non-empty string`);
  return v;
}

/** A number kwarg in [min, max] (`integer` also requires an integer). */
function numberKwarg(kwargs: Record<string, unknown>, name: string, fallback: number, min: number, max: number, integer = false): number {
  const v = kwargs[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new Error(`kwarg "${name}" must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
  }
  return v;
}

function featuresKwarg(kwargs: Record<string, unknown>, outcome: string): string[] {
  const v = kwargs.features;
  if (v === undefined || v === null) return DEFAULTS.features;
  if (!Array.isArray(v) || v.length === 0 || v.length > 100 || v.some((f) => typeof f !== 'string' || f.trim() === '')) {
    throw new Error('kwarg "features" must be a list of 1..100 column names');
  }
  const names = v as string[];
  if (new Set(names).size !== names.length) throw new Error('kwarg "features" lists a column twice');
  if (names.includes(outcome)) throw new Error(`kwarg "features" must not contain the outcome column "${outcome}"`);
  return names;
}

// ---- data -----------------------------------------------------------------------------------

/**
 * The station's data, only the columns the model needs: kwarg "csv" (a path), else the data as the
 * node gives it (vantage6 4: the database "database", CSV or Parquet; 5: the Parquet dataframe,
 * of which only these columns are read).
 */
function stationData(kwargs: Record<string, unknown>, ctx: AlgorithmContext, columns: readonly string[]): Promise<DataTable | ColumnTable> {
  const csv = stringKwarg(kwargs, 'csv');
  if (csv !== undefined) return readCsvFile(csv);
  const database = stringKwarg(kwargs, 'database');
  return readStationColumns(ctx, { columns, ...(database === undefined ? {} : { database }) });
}

/**
 * The design matrix (intercept first) and the 0/1 outcome of the complete rows: a row with a
 * missing outcome or feature (empty, NA, NaN or null) is left out and counted in `skipped`
 * (`completeRows`). Errors name the data row and the column, never a cell.
 */
function designMatrix(table: DataTable | ColumnTable, outcome: string, features: readonly string[]): { x: number[][]; y: number[]; skipped: number } {
  const { values, dataRows, count, skipped } = completeRows(table, [outcome, ...features]);
  const [outcomes, ...columns] = values;
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = outcomes![i]!;
    if (v !== 0 && v !== 1) throw new Error(`data row ${dataRows[i]! + 1}: the outcome column "${outcome}" must be 0 or 1`);
    y.push(v);
    x.push([1, ...columns.map((c) => c[i]!)]);
  }
  return { x, y, skipped };
}

// ---- local statistics and linear algebra ----------------------------------------------------

/** Index of H[i][j] (i ≤ j) in the packed upper triangle of a p×p matrix. */
const packed = (p: number, i: number, j: number): number => i * p - (i * (i - 1)) / 2 + (j - i);

/** log(1 + e^t) without overflow. */
const softplus = (t: number): number => (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t)));

/** This station's log-likelihood, gradient and information matrix (packed upper triangle) at β. */
function localStatistics(x: readonly number[][], y: readonly number[], beta: readonly number[]): { logLikelihood: number; gradient: number[]; hessian: number[] } {
  const p = beta.length;
  const gradient = new Array<number>(p).fill(0);
  const hessian = new Array<number>((p * (p + 1)) / 2).fill(0);
  let logLikelihood = 0;
  for (let r = 0; r < x.length; r++) {
    const row = x[r]!;
    let eta = 0;
    for (let j = 0; j < p; j++) eta += row[j]! * beta[j]!;
    const mu = 1 / (1 + Math.exp(-eta));
    const w = mu * (1 - mu);
    logLikelihood += y[r]! * eta - softplus(eta);
    for (let i = 0; i < p; i++) {
      gradient[i]! += (y[r]! - mu) * row[i]!;
      for (let j = i; j < p; j++) hessian[packed(p, i, j)]! += w * row[i]! * row[j]!;
    }
  }
  return { logLikelihood, gradient, hessian };
}

/** The largest |value| a station's sums can take at any β (μ(1 − μ) ≤ 1/4), for the bound check. */
function largestLocalSum(x: readonly number[][]): number {
  const p = x[0]?.length ?? 0;
  let largest = x.length; // |log-likelihood| at β = 0 is n·log 2 < n
  for (let i = 0; i < p; i++) {
    let g = 0;
    for (const row of x) g += Math.abs(row[i]!);
    largest = Math.max(largest, g);
    for (let j = i; j < p; j++) {
      let h = 0;
      for (const row of x) h += Math.abs(row[i]! * row[j]!);
      largest = Math.max(largest, h / 4);
    }
  }
  return largest;
}

/** Cholesky factor L (lower, row-major) of a symmetric p×p matrix given as its packed upper triangle; undefined unless positive definite. */
function cholesky(packedUpper: readonly number[], p: number): number[][] | undefined {
  const L = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = packedUpper[packed(p, j, i)]!;
      for (let k = 0; k < j; k++) s -= L[i]![k]! * L[j]![k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        L[i]![i] = Math.sqrt(s);
      } else L[i]![j] = s / L[j]![j]!;
    }
  }
  return L;
}

/** Solve L·Lᵀ·z = b. */
function choleskySolve(L: readonly number[][], b: readonly number[]): number[] {
  const p = b.length;
  const z = b.slice();
  for (let i = 0; i < p; i++) {
    for (let k = 0; k < i; k++) z[i]! -= L[i]![k]! * z[k]!;
    z[i]! /= L[i]![i]!;
  }
  for (let i = p - 1; i >= 0; i--) {
    for (let k = i + 1; k < p; k++) z[i]! -= L[k]![i]! * z[k]!;
    z[i]! /= L[i]![i]!;
  }
  return z;
}

// ---- the method -----------------------------------------------------------------------------

export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<Record<string, unknown>> {
  // Check every kwarg and read the data before joining the group: a bad input fails at once and
  // everywhere, before any other station waits for this one.
  const outcome = stringKwarg(kwargs, 'outcome', DEFAULTS.outcome)!;
  const features = featuresKwarg(kwargs, outcome);
  const maxIterations = numberKwarg(kwargs, 'maxIterations', DEFAULTS.maxIterations, 1, 100, true);
  const tolerance = numberKwarg(kwargs, 'tolerance', DEFAULTS.tolerance, Number.MIN_VALUE, 1);
  const l2 = numberKwarg(kwargs, 'l2', DEFAULTS.l2, 0, 1e6);
  const fractionalBits = numberKwarg(kwargs, 'fractionalBits', DEFAULTS.fractionalBits, 0, 52, true);
  const bound = numberKwarg(kwargs, 'bound', DEFAULTS.bound, Number.MIN_VALUE, 2 ** 62);
  const minRows = numberKwarg(kwargs, 'minRows', DEFAULTS.minRows, 1, Number.MAX_SAFE_INTEGER, true);
  const { x, y, skipped } = designMatrix(await stationData(kwargs, ctx, [outcome, ...features]), outcome, features);
  if (largestLocalSum(x) > bound) {
    throw new Error('this station\'s sums can exceed kwarg "bound": raise "bound" (and lower "fractionalBits" to keep log2 n + log2 bound + fractionalBits + 2 ≤ 64)');
  }
  // Fixed point the ring cannot hold for this many stations (the roster's size) is refused here,
  // not in the first round.
  checkParams({ fractionalBits, bound, parties: (await loadPeerSession(kwargs, ctx)).roster.size, modulus: 'ring64' });
  const terms = ['intercept', ...features];
  const p = terms.length;
  ctx.logger.info(`${x.length} complete rows ready (${skipped} skipped); fitting ${p} coefficients (the rows stay here)`);

  // A task may give each station its own input: agree on the model and on what picks the data
  // (csv, database: data the task's author knows at all stations but one would make the pooled
  // statistics that one's own). fractionalBits and bound are the sums' own parameters, compared
  // by each sum.
  const group = await joinPeerGroup({ ...kwargs, outcome, features, maxIterations, tolerance, l2, minRows }, ctx, {}, {
    agreeOn: ['outcome', 'features', 'maxIterations', 'tolerance', 'l2', 'minRows', 'csv', 'database'],
  });
  try {
    // Too few complete rows here: leave before the first sum (the others' sum then fails at once,
    // naming this station), rather than let the pooled totals give away the other stations'.
    // Checked after joining, so the others are not left waiting for this station until their deadline.
    if (x.length < minRows) {
      throw new Error(`this station has ${x.length} complete rows, fewer than kwarg "minRows" (${minRows}): it does not take part`);
    }
    let beta = new Array<number>(p).fill(0);
    let iterations = 0;
    let converged = false;
    let last: { logLikelihood: number; information: number[]; count: number; skipped: number } | undefined;
    while (iterations < maxIterations && !converged) {
      const local = localStatistics(x, y, beta);
      // ONE secure sum per round: the pooled log-likelihood, gradient, information matrix and counts.
      const { sum } = await secureSum(
        group,
        { ...local, count: BigInt(x.length), skipped: BigInt(skipped) },
        // The label says which statistic this is at every station: a station one iteration off
        // (its previous sum refused and retried later) fails SHAPE_MISMATCH instead of mixing.
        { fractionalBits, bound, label: `newton-${iterations + 1}` },
      );
      iterations++;
      // The sum has the input's type ({ logLikelihood: number; gradient: Float64Array; hessian:
      // Float64Array; count: bigint; skipped: bigint }): no cast.
      const s = sum;
      // The ridge penalty is applied to the pooled values (it belongs to the model, not to a station).
      const gradient = Array.from(s.gradient, (g, j) => (j === 0 ? g : g - l2 * beta[j]!));
      const information = Array.from(s.hessian);
      for (let j = 1; j < p; j++) information[packed(p, j, j)]! += l2;
      const penalty = (l2 / 2) * beta.slice(1).reduce((a, b) => a + b * b, 0);
      last = { logLikelihood: s.logLikelihood - penalty, information, count: Number(s.count), skipped: Number(s.skipped) };
      const L = cholesky(information, p);
      if (L === undefined) {
        throw new Error('the pooled information matrix is not positive definite: a feature is constant or the features are collinear (a ridge penalty "l2" > 0 helps)');
      }
      const step = choleskySolve(L, gradient);
      const decrement = gradient.reduce((a, g, j) => a + g * step[j]!, 0) / 2;
      beta = beta.map((b, j) => b + step[j]!);
      converged = decrement <= tolerance;
      ctx.logger.info(`round ${iterations}: Newton decrement ${decrement.toExponential(2)}`);
    }
    // Standard errors from the inverse information at the last evaluated coefficients.
    const L = cholesky(last!.information, p)!;
    const standardErrors = terms.map((_, j) => Math.sqrt(choleskySolve(L, terms.map((__, i) => (i === j ? 1 : 0)))[j]!));
    return {
      outcome,
      terms,
      coefficients: beta,
      standardErrors,
      logLikelihood: last!.logLikelihood,
      iterations,
      converged,
      count: last!.count,
      skipped: last!.skipped,
      l2,
      stations: group.parties,
    };
  } finally {
    await group.close();
  }
}
