/**
 * The central-function pattern in a few lines: exchange keys through subtasks, start the compute
 * subtasks with the roster and a fresh session id, wait, and check that every peer reports the
 * same result. The compute method itself (e.g. a secure sum over the peers' channels) is the
 * algorithm's own.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, InvalidArgumentError, TimeoutError, Vantage6Error, describeType, throwIfAborted } from '../errors';
import { rosterBoundSessionId, type Roster } from '../identity';
import { DEFAULT_WAIT_TIMEOUT_MS, MAX_TASK_NAME_LENGTH, toId, type NodeProxyClient, type SubtaskResult } from './proxy-client';
import { KEY_EXCHANGE_METHOD, buildRosterFromResults } from './keys';

/** Input names `runPeerTasks` adds to the compute subtasks' kwargs. */
export const RESERVED_KWARGS: readonly string[] = Object.freeze(['roster', 'sessionId', 'keyTaskId']);

/** Options of {@link runPeerTasks}. */
export interface RunPeerTasksOptions {
  /** The node-proxy client (`ctx.client` in a central method). */
  readonly client: NodeProxyClient;
  /** The organizations that run the protocol (at least 2, unique). */
  readonly organizations: readonly (number | string)[];
  /** The compute method every peer runs. */
  readonly method: string;
  /** Its keyword arguments (the names in {@link RESERVED_KWARGS} are added by this function). */
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** Prefix of the subtask names (default `coupler`). */
  readonly name?: string;
  /**
   * `subtask` (default): exchange keys through a first subtask (architecture option 2).
   * `provisioned`: the stations have operator-provisioned keys and roster (option 1); no key subtask.
   */
  readonly keys?: 'subtask' | 'provisioned';
  /** Overall deadline in ms for everything (default {@link DEFAULT_WAIT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** First polling interval in ms (see {@link NodeProxyClient.waitForResults}). */
  readonly intervalMs?: number;
  /** Longest polling interval in ms. */
  readonly maxIntervalMs?: number;
  /** Abort everything. */
  readonly signal?: AbortSignal;
}

/** What {@link runPeerTasks} returns. */
export interface PeerTasksOutcome<T = unknown> {
  /** The result every peer agreed on. */
  readonly result: T;
  /** The roster used (undefined with provisioned keys). */
  readonly roster: Roster | undefined;
  /** The session id given to the peers. */
  readonly sessionId: string;
  /** The key subtask's id (undefined with provisioned keys). */
  readonly keyTaskId: number | undefined;
  /** The compute subtask's id. */
  readonly computeTaskId: number;
  /** Every peer's result, as returned by the server. */
  readonly results: readonly SubtaskResult[];
}

/** Deepest nesting {@link canonicalJson} walks (above MAX_JSON_DEPTH, which parsed values keep to). */
const MAX_CANONICAL_DEPTH = 1024;

/** Canonical JSON (object keys sorted) of a decoded JSON value, for comparing results; `NaN`, `Infinity` and `-Infinity` are written as such (not as `null`), so they differ from `null` and from each other. A value nested deeper than 1024 throws {@link InvalidArgumentError}. */
export function canonicalJson(value: unknown): string {
  return canonical(value, 0);
}

function canonical(value: unknown, depth: number): string {
  // Recursive: a value nested thousands deep would overflow the stack (a bare RangeError).
  // Parsed inputs and results nest at most MAX_JSON_DEPTH; a caller's own value may not.
  if (depth > MAX_CANONICAL_DEPTH) throw new InvalidArgumentError(`value nested deeper than ${MAX_CANONICAL_DEPTH}`);
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, depth + 1)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k], depth + 1)}`).join(',')}}`;
  }
  if (typeof value === 'bigint') return value.toString();
  // JSON has no NaN or ±Infinity (JSON.stringify writes null): keep them apart from null and each other.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value === undefined ? 'null' : JSON.stringify(value);
}

/**
 * Check that every expected organization returned exactly one result and that all results are
 * deep-equal.
 *
 * @param results - the compute subtask's results.
 * @param expectedOrganizations - who must have answered (default: whoever did).
 * @returns the agreed result.
 * @throws {@link Vantage6Error} with code `COUPLER_ERR_VANTAGE6` naming missing, duplicate or
 *   unattributed results, or code `COUPLER_ERR_PROTOCOL_VIOLATION` naming the organizations that
 *   disagree (those outside a strict majority, or everyone when there is no majority). `peers`
 *   holds the organizations at fault.
 * @example
 * const sum = checkAgreement(await client.waitForResults(task.id), [1, 2, 3]);
 */
export function checkAgreement<T = unknown>(results: readonly SubtaskResult[], expectedOrganizations?: readonly (number | string)[]): T {
  if (!Array.isArray(results)) throw new InvalidArgumentError(`"results" must be an array, got ${describeType(results)}`);
  const byOrg = new Map<string, unknown>();
  for (const r of results) {
    if (r.organizationId === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, `result of run ${r.runId} is not attributed to an organization`);
    const org = String(r.organizationId);
    if (byOrg.has(org)) throw new Vantage6Error(ErrorCode.VANTAGE6, `organization ${org} returned more than one result`, { peer: org });
    if (r.result !== undefined) byOrg.set(org, r.result);
  }
  const expected = expectedOrganizations === undefined ? [...byOrg.keys()] : expectedOrganizations.map(String);
  const missing = expected.filter((o) => !byOrg.has(o));
  if (missing.length > 0) throw new Vantage6Error(ErrorCode.VANTAGE6, `no result from organization(s) ${missing.join(', ')}`, { peers: missing });
  if (expected.length === 0) throw new Vantage6Error(ErrorCode.VANTAGE6, 'no results');
  const groups = new Map<string, string[]>();
  for (const org of expected) {
    const key = canonicalJson(byOrg.get(org));
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [org]);
    else g.push(org);
  }
  if (groups.size === 1) return byOrg.get(expected[0]!) as T;
  const sorted = [...groups.values()].sort((a, b) => b.length - a.length);
  const largest = sorted[0]!;
  if (largest.length * 2 > expected.length) {
    const culprits = sorted.slice(1).flat();
    throw new Vantage6Error(
      ErrorCode.PROTOCOL_VIOLATION,
      `peers disagree on the result: organization(s) ${culprits.join(', ')} differ from the majority (${largest.join(', ')})`,
      { peers: culprits },
    );
  }
  throw new Vantage6Error(
    ErrorCode.PROTOCOL_VIOLATION,
    `peers disagree on the result and there is no majority: ${sorted.map((g) => `{${g.join(', ')}}`).join(' vs ')}`,
    { peers: expected },
  );
}

function v4Input(method: string, kwargs: Record<string, unknown>): { method: string; args: unknown[]; kwargs: Record<string, unknown> } {
  return { method, args: [], kwargs };
}

/**
 * Run a peer-to-peer computation from a central method:
 * (a) a key subtask at every organization (built-in method `coupler_key_exchange`) and its
 * public keys, (b) the roster and a fresh session id (`v6-<task id>-<128-bit nonce>`), (c) the
 * compute subtask with `{ ...kwargs, roster, sessionId, keyTaskId }` as its kwargs, (d) its
 * results, (e) the agreement check.
 *
 * Subtask inputs use the v4 shape `{method, args: [], kwargs}`.
 *
 * @param options - see {@link RunPeerTasksOptions}.
 * @returns the agreed result and what led to it.
 * @throws {@link InvalidArgumentError} for bad options; {@link TimeoutError} past the deadline;
 *   {@link Vantage6Error} from the key exchange or the agreement check (naming organizations);
 *   {@link ProxyRequestError} on HTTP failures.
 * @example
 * export async function central(kwargs, ctx) {
 *   const orgs = (await ctx.client.listOrganizations()).map((o) => o.id);
 *   const { result } = await runPeerTasks({ client: ctx.client, organizations: orgs, method: 'partial', kwargs: { column: kwargs.column } });
 *   return result;
 * }
 */
export async function runPeerTasks<T = unknown>(options: RunPeerTasksOptions): Promise<PeerTasksOutcome<T>> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
  const { client, signal } = options;
  if (typeof client !== 'object' || client === null || typeof client.createSubtask !== 'function') {
    throw new InvalidArgumentError('"client" must be a NodeProxyClient');
  }
  if (!Array.isArray(options.organizations) || options.organizations.length < 2) {
    throw new InvalidArgumentError('"organizations" must list at least two organizations');
  }
  const orgs = options.organizations.map((o, i) => toId(`organizations[${i}]`, o));
  if (new Set(orgs).size !== orgs.length) throw new InvalidArgumentError('"organizations" has duplicates');
  if (typeof options.method !== 'string' || options.method.length === 0) throw new InvalidArgumentError('"method" must be a non-empty string');
  const kwargs = options.kwargs ?? {};
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) throw new InvalidArgumentError('"kwargs" must be an object');
  for (const k of RESERVED_KWARGS) {
    if (Object.prototype.hasOwnProperty.call(kwargs, k)) throw new InvalidArgumentError(`"kwargs.${k}" is reserved: runPeerTasks sets it`);
  }
  const keys = options.keys ?? 'subtask';
  if (keys !== 'subtask' && keys !== 'provisioned') throw new InvalidArgumentError('"keys" must be "subtask" or "provisioned"');
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new InvalidArgumentError('"timeoutMs" must be a positive integer');
  const name = options.name ?? 'coupler';
  // The subtasks are named `<name>-keys` and `<name>-<method>` (cut to 100 characters); the server
  // refuses names over MAX_TASK_NAME_LENGTH.
  if (typeof name !== 'string' || name.length + '-keys'.length > MAX_TASK_NAME_LENGTH) {
    throw new InvalidArgumentError(`"name" must be a string of at most ${MAX_TASK_NAME_LENGTH - '-keys'.length} characters (subtask names have at most ${MAX_TASK_NAME_LENGTH})`);
  }
  const deadline = Date.now() + timeoutMs;
  const remaining = (): number => {
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`runPeerTasks did not finish within ${timeoutMs} ms`, { peers: orgs.map(String) });
    return left;
  };
  const poll = { intervalMs: options.intervalMs, maxIntervalMs: options.maxIntervalMs, signal };
  /** Create a subtask within what is left of the deadline (the proxy's POST /task may stall). */
  const create = async (spec: Omit<Parameters<NodeProxyClient['createSubtask']>[0], 'signal'>): Promise<{ id: number }> => {
    const cut = AbortSignal.timeout(remaining());
    try {
      return await client.createSubtask({ ...spec, signal: signal === undefined ? cut : AbortSignal.any([signal, cut]) });
    } catch (err) {
      if (cut.aborted && signal?.aborted !== true) throw new TimeoutError(`runPeerTasks did not finish within ${timeoutMs} ms (creating subtask "${spec.name ?? ''}")`, { peers: orgs.map(String) });
      throw err;
    }
  };

  let parentTask = 'x';
  try {
    parentTask = String(client.tokenClaims().taskId ?? 'x');
  } catch {
    parentTask = 'x';
  }
  if (!/^[0-9]{1,20}$/.test(parentTask)) parentTask = 'x';
  const label = `v6-${parentTask}-${randomBytes(16).toString('hex')}`;
  let sessionId = label;

  let roster: Roster | undefined;
  let keyTaskId: number | undefined;
  const extra: Record<string, unknown> = { sessionId };
  if (keys === 'subtask') {
    throwIfAborted(signal);
    const keyTask = await create({
      name: `${name}-keys`,
      description: 'coupler key exchange',
      organizations: orgs.map((id) => ({ id, input: v4Input(KEY_EXCHANGE_METHOD, {}) })),
    });
    keyTaskId = keyTask.id;
    const keyResults = await client.waitForResults(keyTask.id, { ...poll, timeoutMs: remaining() });
    roster = buildRosterFromResults(keyResults, { expectedOrganizations: orgs, keyTaskId: keyTask.id });
    // The session id commits to the roster made for this task, so a relay can admit its parties
    // without knowing the roster in advance (`coupler relay --roster-bound-sessions`).
    sessionId = rosterBoundSessionId(roster, label);
    extra.sessionId = sessionId;
    extra.roster = roster.toJSON();
    extra.keyTaskId = keyTask.id;
  }

  throwIfAborted(signal);
  remaining();
  const computeTask = await create({
    name: `${name}-${options.method}`.slice(0, 100),
    description: `coupler peer computation (session ${sessionId})`,
    organizations: orgs.map((id) => ({ id, input: v4Input(options.method, { ...kwargs, ...extra }) })),
  });
  const results = await client.waitForResults(computeTask.id, { ...poll, timeoutMs: remaining() });
  const result = checkAgreement<T>(results, orgs);
  return Object.freeze({ result, roster, sessionId, keyTaskId, computeTaskId: computeTask.id, results });
}
