/**
 * Secure histogram of one numeric column with the dk-secure sum.
 *
 * Every station bins its own values into the same bins and the stations add the counts with ONE
 * `dkSecureSum` of a record — the bin counts as a vector of exact integers, plus the values below
 * the first edge, above the last edge and missing — directly between each other. Each station
 * learns the pooled histogram; another station's counts stay hidden unless a coalition of at least
 * `collusionThreshold(n, k) = min(2(k − 1), n − 1)` stations pools what it saw.
 *
 * Method `partial` (run at every station):
 *   kwargs.column     the column to bin (default "systolic_bp")
 *   kwargs.edges      increasing bin edges [e0, e1, ..., em] (default 80, 100, ..., 200): bins
 *                     [e0, e1), [e1, e2), ..., [e(m-1), em] (the last bin includes its right edge)
 *   kwargs.k          segments per input of the dk-secure sum, 2..n (default min(4, n))
 *   kwargs.csv        optional path of the CSV file; default: the vantage6 database labelled
 *                     kwargs.database (default "default")
 *   kwargs.minRows    the fewest values in the column a station needs to take part (default 5):
 *                     a station with fewer leaves the group before the sum, so the run fails
 *                     everywhere — with it in, the pooled counts minus one station's own would
 *                     be (nearly) another station's counts
 */
import { collusionThreshold, dkSecureSum } from 'coupler';
import { joinPeerGroup, loadPeerSession, numericColumn, readCsvFile, readStationTable, type AlgorithmContext, type DataTable } from 'coupler/vantage6';

const DEFAULT_EDGES = [80, 100, 120, 140, 160, 180, 200];
const MAX_BINS = 10_000;

/** A string kwarg: `fallback` when absent, else a non-empty string (the error names the kwarg, never its value). */
function stringKwarg(kwargs: Record<string, unknown>, name: string, fallback?: string): string | undefined {
  const v = kwargs[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v.trim().length === 0) throw new Error(`kwarg "${name}" must be a non-empty string`);
  return v;
}

/** The bin edges: at least two finite numbers, strictly increasing. */
function edgesKwarg(kwargs: Record<string, unknown>): number[] {
  const v = kwargs.edges;
  if (v === undefined || v === null) return DEFAULT_EDGES;
  if (!Array.isArray(v) || v.length < 2 || v.length > MAX_BINS + 1) throw new Error(`kwarg "edges" must be an array of 2..${MAX_BINS + 1} numbers`);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'number' || !Number.isFinite(v[i])) throw new Error(`kwarg "edges": element ${i} is not a finite number`);
    if (i > 0 && !((v[i] as number) > (v[i - 1] as number))) throw new Error(`kwarg "edges" must be strictly increasing (element ${i} is not above element ${i - 1})`);
  }
  return v as number[];
}

/** Default of kwarg "minRows". */
const DEFAULT_MIN_ROWS = 5;

/** kwarg "minRows": a positive integer, default {@link DEFAULT_MIN_ROWS}. */
function minRowsKwarg(kwargs: Record<string, unknown>): number {
  const v = kwargs.minRows;
  if (v === undefined || v === null) return DEFAULT_MIN_ROWS;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error('kwarg "minRows" must be an integer ≥ 1');
  return v;
}

/** The optional `k`: an integer ≥ 2 (its upper limit, the number of stations, is checked after joining). */
function kKwarg(kwargs: Record<string, unknown>): number | undefined {
  const v = kwargs.k;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 2) throw new Error('kwarg "k" must be an integer ≥ 2');
  return v;
}

/** The path of this station's CSV: `kwargs.csv`, else the node's database `kwargs.database` ("default"). */
/** The station's table: kwarg "csv" (a path), else its data as the node gives it (vantage6 4: the CSV database "database"; 5: the Parquet dataframe). */
function stationTable(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<DataTable> {
  const csv = stringKwarg(kwargs, 'csv');
  if (csv !== undefined) return readCsvFile(csv);
  const database = stringKwarg(kwargs, 'database');
  return readStationTable(ctx, database === undefined ? {} : { database });
}

/** This station's counts: per bin, below the first edge, above the last. */
function bin(values: readonly number[], edges: readonly number[]): { counts: bigint[]; below: bigint; above: bigint } {
  const m = edges.length - 1;
  const counts = new Array<bigint>(m).fill(0n);
  let below = 0n;
  let above = 0n;
  for (const x of values) {
    if (x < edges[0]!) below++;
    else if (x > edges[m]!) above++;
    else if (x === edges[m]) counts[m - 1]!++;
    else {
      let lo = 0; // largest i with edges[i] <= x
      let hi = m - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (edges[mid]! <= x) lo = mid;
        else hi = mid - 1;
      }
      counts[lo]!++;
    }
  }
  return { counts, below, above };
}

export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<Record<string, unknown>> {
  // Check every kwarg and read the data before joining the group: a bad input fails at once.
  const column = stringKwarg(kwargs, 'column', 'systolic_bp')!;
  const edges = edgesKwarg(kwargs);
  const kWanted = kKwarg(kwargs);
  const minRows = minRowsKwarg(kwargs);
  // Empty, NA, NaN and null cells count as missing; any other non-number is refused (naming the row).
  const { values, missing } = numericColumn(await stationTable(kwargs, ctx), column);
  const local = bin(values, edges);
  // The number of stations is the roster's size: check k against it before joining (a station
  // that gave up right after joining would leave the others waiting for it until their deadline).
  const n = (await loadPeerSession(kwargs, ctx)).roster.size;
  const k = kWanted ?? Math.min(4, n);
  if (k > n) throw new Error(`kwarg "k" must be at most the number of stations (${n})`);
  ctx.logger.info(`local counts ready for column "${column}" in ${edges.length - 1} bins (the counts stay here)`);

  // A task may give each station its own input: agree on what defines the histogram, or edges no
  // value falls in at all stations but one would make the pooled counts that station's own; and
  // on what picks the data (csv, database), or data the task's author knows at all stations but
  // one would do the same.
  const group = await joinPeerGroup({ ...kwargs, column, edges, minRows }, ctx, {}, { agreeOn: ['column', 'edges', 'minRows', 'csv', 'database'] });
  try {
    // Too few values here: leave before the sum (the others' sum then fails at once, naming this
    // station), rather than let the pooled counts give away the other stations' counts. Checked
    // after joining, so the others are not left waiting for this station until their deadline.
    if (values.length < minRows) {
      throw new Error(`this station has ${values.length} values in column "${column}", fewer than kwarg "minRows" (${minRows}): it does not take part`);
    }
    // One dk-secure sum of a record of exact integers (bigint): nothing is rounded.
    // The sum has the input's type, { counts: bigint[]; below: bigint; above: bigint; missing: bigint }: no cast.
    const { sum: s, contributors } = await dkSecureSum(group, { ...local, missing: BigInt(missing) }, { k });
    const counts = s.counts.map(Number);
    return {
      column,
      edges,
      counts,
      below: Number(s.below),
      above: Number(s.above),
      missing: Number(s.missing),
      total: counts.reduce((a, c) => a + c, 0) + Number(s.below) + Number(s.above),
      k,
      collusionThreshold: collusionThreshold(n, k),
      stations: contributors,
    };
  } finally {
    await group.close();
  }
}
