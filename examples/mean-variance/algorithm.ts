/**
 * Federated mean and variance of one numeric column, with a single secure sum.
 *
 * Every station reads its own CSV file, computes three local totals — the count, the sum and
 * the sum of squares of the column — and the stations add them up with ONE `secureSum` of a
 * record, directly between each other. Each station learns the three pooled totals (and so the
 * pooled mean and variance), never another station's totals.
 *
 * Method `partial` (run at every station):
 *   kwargs.column       the column to summarise (default "age")
 *   kwargs.csv          optional path of the CSV file; default: the vantage6 database labelled
 *                       kwargs.database (default "default"), i.e. `<LABEL>_DATABASE_URI`
 *   kwargs.fractionalBits, kwargs.bound   fixed-point parameters of the secure sum (optional;
 *                       every station must pass the same values)
 *   kwargs.minRows      the fewest values in the column a station needs to take part (default
 *                       5): a station with fewer leaves the group before the sum, so the run
 *                       fails everywhere — with it in, the pooled totals minus one station's own
 *                       would be (nearly) another station's totals
 */
import { DEFAULT_BOUND, checkParams, secureSum } from 'coupler';
import { joinPeerGroup, loadPeerSession, numericColumn, readCsvFile, readStationTable, type AlgorithmContext, type DataTable } from 'coupler/vantage6';

/** A string kwarg: `fallback` when absent, else a non-empty string (the error names the kwarg, never its value). */
function stringKwarg(kwargs: Record<string, unknown>, name: string, fallback?: string): string | undefined {
  const v = kwargs[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v.trim().length === 0) throw new Error(`kwarg "${name}" must be a non-empty string`);
  return v;
}

/** An optional number kwarg (`integer` also requires an integer). */
function numberKwarg(kwargs: Record<string, unknown>, name: string, integer = false): number | undefined {
  const v = kwargs[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new Error(`kwarg "${name}" must be ${integer ? 'an integer' : 'a finite number'}`);
  }
  return v;
}

/** Default of kwarg "minRows". */
const DEFAULT_MIN_ROWS = 5;

/** The station's table: kwarg "csv" (a path), else its data as the node gives it (vantage6 4: the CSV database "database"; 5: the Parquet dataframe). */
function stationTable(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<DataTable> {
  const csv = stringKwarg(kwargs, 'csv');
  if (csv !== undefined) return readCsvFile(csv);
  const database = stringKwarg(kwargs, 'database');
  return readStationTable(ctx, database === undefined ? {} : { database });
}

export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<Record<string, unknown>> {
  // Check every kwarg before joining the group, so a bad input fails at once and everywhere.
  const column = stringKwarg(kwargs, 'column', 'age')!;
  const fractionalBits = numberKwarg(kwargs, 'fractionalBits', true);
  const bound = numberKwarg(kwargs, 'bound');
  const minRows = numberKwarg(kwargs, 'minRows', true) ?? DEFAULT_MIN_ROWS;
  if (minRows < 1) throw new Error('kwarg "minRows" must be at least 1');
  // Empty, NA, NaN and null cells count as missing; any other non-number is refused (naming the row).
  const { values, missing } = numericColumn(await stationTable(kwargs, ctx), column);
  let sum = 0;
  let sumSquares = 0;
  for (const x of values) {
    sum += x;
    sumSquares += x * x;
  }
  // The secure sum refuses values above the bound; say so before joining, naming the kwarg.
  if (Math.max(Math.abs(sum), sumSquares, values.length + missing) > (bound ?? DEFAULT_BOUND)) {
    throw new Error('this station\'s totals exceed kwarg "bound" (default 2^31): raise "bound" and lower "fractionalBits" so that log2 n + log2 bound + fractionalBits + 2 ≤ 64');
  }
  // Refuse fixed-point parameters the ring cannot hold for this many stations (the roster's size)
  // here too, rather than in the first round.
  checkParams({ fractionalBits, bound, parties: (await loadPeerSession(kwargs, ctx)).roster.size, modulus: 'ring64' });
  ctx.logger.info(`local totals ready for column "${column}" (the values stay here)`);

  // A task may give each station its own input: agree on the column and minRows, and on what
  // picks the data (csv, database: stations pointed at data the task's author knows, but one,
  // would make the pooled totals that one's own). fractionalBits and bound are the sum's own
  // parameters, compared by the sum.
  const group = await joinPeerGroup({ ...kwargs, column, minRows }, ctx, {}, { agreeOn: ['column', 'minRows', 'csv', 'database'] });
  try {
    // Too few values here: leave before the sum (the others' sum then fails at once, naming this
    // station), rather than let the pooled totals give away the other stations' totals. Checked
    // after joining, so the others are not left waiting for this station until their deadline.
    if (values.length < minRows) {
      throw new Error(`this station has ${values.length} values in column "${column}", fewer than kwarg "minRows" (${minRows}): it does not take part`);
    }
    // One secure sum of a record: the counts exactly (bigint), the two sums in fixed point.
    // The sum has the input's type, { count: bigint; missing: bigint; sum: number; sumSquares: number }: no cast.
    const { sum: t, contributors } = await secureSum(
      group,
      { count: BigInt(values.length), missing: BigInt(missing), sum, sumSquares },
      { ...(fractionalBits === undefined ? {} : { fractionalBits }), ...(bound === undefined ? {} : { bound }) },
    );
    const n = Number(t.count);
    const mean = n > 0 ? t.sum / n : null;
    // Sample variance from the pooled totals: (Σx² − (Σx)²/N) / (N − 1).
    const variance = n > 1 ? Math.max(0, t.sumSquares - (t.sum * t.sum) / n) / (n - 1) : null;
    return { column, count: n, missing: Number(t.missing), mean, variance, sd: variance === null ? null : Math.sqrt(variance), stations: contributors };
  } finally {
    await group.close();
  }
}
