/**
 * The vantage6 central-function pattern: a `central` method that starts the peer-to-peer
 * computation at every organization, and the `partial` method it dispatches to.
 *
 * `central` (one container, started by the researcher's task) calls `runPeerTasks`, which
 *   1. creates a key subtask at every organization (the built-in method `coupler_key_exchange`:
 *      each station makes a fresh key pair, keeps the secret in its TEMPORARY_FOLDER and returns
 *      the public key),
 *   2. builds the roster from the server-attributed public keys and a fresh session id,
 *   3. creates the compute subtask (`partial`) at every organization with the roster, and
 *   4. waits for the results and checks that every organization reports the same one.
 * The `partial` containers find each other (v4 VPN addresses by default), authenticate against
 * the roster and run ONE secure sum directly between each other: the server and the central
 * container only ever see the pooled result.
 *
 * What `partial` computes: the pooled count and mean of a numeric column and how many values are
 * at or above a threshold (default: HbA1c ≥ 48 mmol/mol, the diagnostic threshold for diabetes).
 *
 * kwargs of `central`:
 *   column          the column (default "hba1c")
 *   threshold       count values ≥ threshold (default 48)
 *   organizations   ids of the organizations to include (default: every organization of the
 *                   collaboration; at least 3)
 *   keys            "subtask" (default: keys exchanged through a key subtask, so the roster
 *                   travels through the server) or "provisioned" (each station's operator mounted
 *                   an identity and the collaboration's roster: COUPLER_IDENTITY_FILE and
 *                   COUPLER_ROSTER_FILE; no key subtask, the server is not trusted with the roster)
 *   pollIntervalMs  how often to ask the server for results (default: 1 s, doubling up to 15 s)
 *   couplerTransport, couplerRelayUrl   passed on to the stations: the relay to meet through
 *                   when their nodes set no COUPLER_TRANSPORT / COUPLER_RELAY_URL (a node's own
 *                   setting, its operator's algorithm_env, wins)
 *   minRows         the fewest values in the column a station needs to take part (default 5):
 *                   a station with fewer leaves before the sum and the run fails — with it in, the
 *                   pooled totals minus one station's own would be (nearly) another station's
 * `partial` takes column, threshold and minRows, plus roster, sessionId and keyTaskId from runPeerTasks
 * (or, with operator-provisioned keys, from COUPLER_IDENTITY_FILE / COUPLER_ROSTER_FILE, which is
 * how `coupler simulate` runs it).
 */
import { secureSum } from 'coupler';
import { TRANSPORT_KWARGS, joinPeerGroup, numericColumn, readStationTable, runPeerTasks, type AlgorithmContext } from 'coupler/vantage6';

// ---- kwargs (errors name the kwarg, never a value) ----------------------------------------------

function stringKwarg(kwargs: Record<string, unknown>, name: string, fallback: string): string {
  const v = kwargs[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v.trim().length === 0) throw new Error(`kwarg "${name}" must be a non-empty string`);
  return v;
}

function numberKwarg(kwargs: Record<string, unknown>, name: string, fallback: number | undefined, min = -Infinity): number | undefined {
  const v = kwargs[name];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new Error(`kwarg "${name}" must be a number${min > -Infinity ? ` ≥ ${min}` : ''}`);
  return v;
}

/** Default of kwarg "minRows". */
const DEFAULT_MIN_ROWS = 5;

/**
 * Fewest organizations: the stations' secure sums refuse two parties (with two, the sum reveals the
 * other's input: PARAMETERS_UNSAFE), which they would find only after the key exchange and the mesh,
 * and the central container would then report only that they failed.
 */
const MIN_ORGANIZATIONS = 3;

function organizationsKwarg(kwargs: Record<string, unknown>): number[] | undefined {
  const v = kwargs.organizations;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0)) {
    throw new Error('kwarg "organizations" must be a list of organization ids');
  }
  return v as number[];
}

// ---- central --------------------------------------------------------------------------------

export async function central(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<Record<string, unknown>> {
  const column = stringKwarg(kwargs, 'column', 'hba1c');
  const threshold = numberKwarg(kwargs, 'threshold', 48)!;
  const minRows = numberKwarg(kwargs, 'minRows', DEFAULT_MIN_ROWS, 1)!;
  const keys = stringKwarg(kwargs, 'keys', 'subtask');
  if (keys !== 'subtask' && keys !== 'provisioned') throw new Error('kwarg "keys" must be "subtask" or "provisioned"');
  const pollIntervalMs = numberKwarg(kwargs, 'pollIntervalMs', undefined, 10);
  const organizations = organizationsKwarg(kwargs) ?? (await ctx.client.listOrganizations()).map((o) => o.id);
  if (new Set(organizations).size < MIN_ORGANIZATIONS) {
    throw new Error(`the pooled statistic needs at least ${MIN_ORGANIZATIONS} organizations (with 2, each would learn the other's values from the sum); got ${organizations.length}`);
  }
  ctx.logger.info(`starting the peer computation at organizations ${organizations.join(', ')}`);
  // couplerTransport / couplerRelayUrl, if given, go on to the stations (joinPeerGroup reads them).
  const transport: Record<string, unknown> = {};
  for (const name of Object.values(TRANSPORT_KWARGS)) if (kwargs[name] !== undefined) transport[name] = kwargs[name];

  // Key subtasks, roster, compute subtasks, results, agreement check: one call.
  const outcome = await runPeerTasks<Record<string, unknown>>({
    client: ctx.client,
    organizations,
    method: 'partial',
    kwargs: { column, threshold, minRows, ...transport },
    keys,
    ...(pollIntervalMs === undefined ? {} : { intervalMs: pollIntervalMs, maxIntervalMs: pollIntervalMs }),
  });
  return { ...outcome.result, tasks: { keys: outcome.keyTaskId, compute: outcome.computeTaskId } };
}

// ---- partial --------------------------------------------------------------------------------

export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<Record<string, unknown>> {
  const column = stringKwarg(kwargs, 'column', 'hba1c');
  const threshold = numberKwarg(kwargs, 'threshold', 48)!;
  const minRows = numberKwarg(kwargs, 'minRows', DEFAULT_MIN_ROWS, 1)!;
  // This station's CSV, the database labelled "default"; empty, NA, NaN and null cells count as
  // missing. Read before joining: a bad input fails at once.
  const { values, missing } = numericColumn(await readStationTable(ctx), column);

  // Roster and session from runPeerTasks (or provisioned). A task may give each station its own
  // input: agree on what defines the statistic, or a threshold no value reaches at all stations
  // but one would make the pooled count that station's own (the run stops, SHAPE_MISMATCH).
  const group = await joinPeerGroup({ ...kwargs, column, threshold, minRows }, ctx, {}, { agreeOn: ['column', 'threshold', 'minRows'] });
  try {
    // Too few values here: leave before the sum (the others' sum then fails at once, naming this
    // station), rather than let the pooled totals give away the other stations' totals.
    if (values.length < minRows) {
      throw new Error(`this station has ${values.length} values in column "${column}", fewer than kwarg "minRows" (${minRows}): it does not take part`);
    }
    // The sum has the input's type, { count: bigint; missing: bigint; atOrAbove: bigint; sum: number }: no cast.
    const { sum: s, contributors } = await secureSum(group, {
      count: BigInt(values.length),
      missing: BigInt(missing),
      atOrAbove: BigInt(values.filter((x) => x >= threshold).length),
      sum: values.reduce((a, x) => a + x, 0),
    });
    const count = Number(s.count);
    return {
      column,
      threshold,
      count,
      missing: Number(s.missing),
      mean: count > 0 ? s.sum / count : null,
      atOrAbove: Number(s.atOrAbove),
      proportionAtOrAbove: count > 0 ? Number(s.atOrAbove) / count : null,
      stations: contributors,
    };
  } finally {
    await group.close();
  }
}
