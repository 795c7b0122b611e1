/**
 * A client for the vantage6 node proxy, the only HTTP endpoint an algorithm container can reach.
 *
 * The proxy forwards requests (with the container's bearer token) to the vantage6 server,
 * encrypts subtask inputs per organization and decrypts results. Every request has a deadline
 * (`AbortSignal.timeout`) and a response-size cap; lists are paginated (`{data, links}`) and
 * followed up to a page cap. Errors name the method, the path and the HTTP status: never the
 * token, never a request or response body.
 *
 * @module
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readBoundedFileSync } from '../files';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, ErrorCode, InvalidArgumentError, TimeoutError, Vantage6Error, describeType, throwIfAborted } from '../errors';
import { decodeBase64Strict } from '../crypto/bytes';
import { readContainerEnv, type ContainerEnv } from './env';
import { MAX_JSON_DEPTH, jsonNestsDeeperThan, parseContractJson, toContractJson } from './_json';

/** Deadline of one HTTP request to the proxy, in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Largest response body accepted from the proxy, in bytes. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/**
 * Largest `/vpn/algorithm/addresses` answer in bytes: 65 536 entries (what the VPN discovery
 * scans at most) of 128 bytes; a real entry is ~100 bytes and a task lists a few per organization.
 */
export const MAX_VPN_ADDRESSES_BYTES = 8 * 1024 * 1024;
/** Most pages followed for one paginated list. */
export const DEFAULT_MAX_PAGES = 100;
/**
 * Largest paginated list accepted, in bytes: every page together (and, for results, the blobs they
 * name). The server answers each page (the proxy forwards it as is), so without a total a hostile
 * one could make a container hold {@link DEFAULT_MAX_PAGES} × {@link DEFAULT_MAX_RESPONSE_BYTES}.
 * 1 GiB: the results of, say, 40 stations that each return a sum of 10^6 numbers (~24 MB of base64).
 */
export const DEFAULT_MAX_LIST_BYTES = 1024 * 1024 * 1024;
/**
 * vantage6's page size when a request names none (`DEFAULT_PAGE_SIZE`,
 * vantage6-backend-common/vantage6/backend/common/globals.py, 4.14 and 5.0). Results are read one
 * per page instead (`per_page=1`), so that {@link DEFAULT_MAX_RESPONSE_BYTES} bounds one result,
 * and up to this many times the page cap.
 */
const VANTAGE6_PAGE_SIZE = 10;
/** Default deadline of {@link NodeProxyClient.waitForResults}, in milliseconds. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10 * 60_000;
/** First polling interval of {@link NodeProxyClient.waitForResults}, in milliseconds. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** Longest polling interval of {@link NodeProxyClient.waitForResults}, in milliseconds. */
export const DEFAULT_MAX_POLL_INTERVAL_MS = 15_000;
/** Largest token file accepted, in bytes. */
export const MAX_TOKEN_FILE_BYTES = 64 * 1024;
/**
 * Longest task name the server accepts: `MAX_LEN_NAME` of vantage6's `validate_name`
 * (vantage6-backend-common/vantage6/backend/common/resource/input_schema.py, 4.14 and 5.0), which
 * also refuses an empty or numeric name.
 */
export const MAX_TASK_NAME_LENGTH = 128;
/** Longest task description the server accepts (`MAX_LEN_STR_LONG`, same file). */
export const MAX_TASK_DESCRIPTION_LENGTH = 1024;

/**
 * Check a task name as the server will (so the caller gets a reason, not a bare HTTP 400).
 * @throws {@link InvalidArgumentError}
 * @internal
 */
export function checkTaskName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string') throw new InvalidArgumentError(`"${field}" must be a string, got ${describeType(name)}`);
  if (name.length === 0 || name.length > MAX_TASK_NAME_LENGTH) throw new InvalidArgumentError(`"${field}" must have 1 to ${MAX_TASK_NAME_LENGTH} characters (the server's limit), got ${name.length}`);
  // Python's str.isnumeric(): every character a numeric one.
  if (/^\p{N}+$/u.test(name)) throw new InvalidArgumentError(`"${field}" must not be a number (the server refuses numeric task names)`);
  return name;
}

/** Consecutive failed status polls tolerated by {@link NodeProxyClient.waitForResults}. */
export const MAX_CONSECUTIVE_POLL_ERRORS = 3;
/**
 * Size of the chunks of a blob-store upload, in bytes: vantage6's `DEFAULT_CHUNK_SIZE`
 * (vantage6-common/vantage6/common/globals.py, 1 MiB).
 */
export const BLOB_UPLOAD_CHUNK_BYTES = 1024 * 1024;

/**
 * Task and run statuses (lower-cased) in which work is still going on. Every other status but
 * `completed` is a failure — the rule of vantage6's own `has_task_failed`
 * (vantage6-common/vantage6/common/task_status.py, 4.14: pending, initializing, active) and of
 * 5.0's `TaskStatus`/`RunStatus` (vantage6-common/vantage6/common/enum.py: task `awaiting`). So
 * a failure status added by a later version fails fast too instead of polling to the deadline.
 */
const IN_PROGRESS_STATUSES: ReadonlySet<string> = new Set(['pending', 'initializing', 'active', 'awaiting']);
/**
 * The failure statuses of both versions, lower-cased, as their source spells them: 4.14 run/task
 * statuses (task_status.py) and 5.0 `RunStatus` (enum.py). Documentation and tests; the rule is
 * {@link isFailedStatus}.
 * @internal
 */
export const KNOWN_FAILED_STATUSES: readonly string[] = Object.freeze([
  'failed',
  'start failed',
  'non-existing docker image',
  'crashed',
  'killed by user',
  'not allowed',
  'unknown error',
  'dataframe not found',
  'depended on failed task',
  'unexpected output',
]);
const COMPLETED_STATUS = 'completed';
/** A blob UUID as vantage6 writes it (vantage6-common/vantage6/common/client/utils.py, is_uuid). */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a (lower-cased) task or run status means it failed: neither completed nor in progress. */
function isFailedStatus(status: string): boolean {
  return status !== COMPLETED_STATUS && !IN_PROGRESS_STATUSES.has(status);
}
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A failed HTTP exchange with the node proxy (`COUPLER_ERR_PROXY_REQUEST_FAILED`). */
export class ProxyRequestError extends Vantage6Error {
  /** HTTP status, or `undefined` when no response arrived. */
  readonly status: number | undefined;
  /** HTTP method. */
  readonly method: string;
  /** Request path (without the query string). */
  readonly path: string;
  constructor(method: string, path: string, status: number | undefined, reason: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.PROXY_REQUEST_FAILED, `${method} /${path}: ${reason}`, options);
    this.status = status;
    this.method = method;
    this.path = `/${path}`;
  }
}

/** What the container token says about the container (the JWT's `sub` claim, read without verifying). */
export interface ContainerClaims {
  /**
   * `container` for algorithm containers: the claim `client_type` under 4.x
   * (vantage6-server/vantage6/server/resource/token.py, 4.14), `vantage6_client_type` under 5.x
   * (vantage6-hq/vantage6/hq/resource/token.py, 5.0).
   */
  readonly clientType: string | undefined;
  /** `node_id`. */
  readonly nodeId: number | undefined;
  /** `organization_id`: the organization this container runs for. */
  readonly organizationId: number | undefined;
  /** `collaboration_id`. */
  readonly collaborationId: number | undefined;
  /** `study_id`. */
  readonly studyId: number | undefined;
  /** `store_id`. */
  readonly storeId: number | undefined;
  /** `task_id`: the task this container runs. */
  readonly taskId: number | undefined;
  /** `image`: the only image this container may create subtasks with. */
  readonly image: string | undefined;
  /** `databases`: the databases of this task, passed on to subtasks by default. */
  readonly databases: readonly unknown[];
  /** `session_id` (v5): the session this task belongs to; subtasks must name it. */
  readonly sessionId: number | undefined;
}

/** One organization's part of a new subtask. */
export interface SubtaskOrganization {
  /** Organization id. */
  readonly id: number | string;
  /**
   * What the organization's container gets: `{ method, args, kwargs }` (the v4 input shape).
   * Under v4 it is sent as is (`input`: base64 of its JSON; the proxy encrypts it); under v5 the
   * task body carries `method` once and each organization gets `arguments` = base64 of the JSON of
   * `kwargs` (the proxy encrypts `arguments`), so every organization must name the same method
   * and pass no positional `args`.
   */
  readonly input: unknown;
}

/** Options of {@link NodeProxyClient.createSubtask}. */
export interface CreateSubtaskOptions {
  /** Task name (default `subtask`). */
  readonly name?: string;
  /** Image (default: the `image` claim of the token; the server refuses any other). */
  readonly image?: string;
  /** Who runs it and with which input. At least one; ids unique. */
  readonly organizations: readonly SubtaskOrganization[];
  /** Description (default: names the creating node). */
  readonly description?: string;
  /** Databases (default: the `databases` claim of the token). */
  readonly databases?: readonly unknown[];
  /** Abort the request. */
  readonly signal?: AbortSignal;
}

/** A task as the server returned it after creation. */
export interface CreatedTask {
  /** Task id. */
  readonly id: number;
  /** The server's response, as is. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** One result of a (sub)task, decoded. */
export interface SubtaskResult {
  /** Id of the run (one run per organization). */
  readonly runId: number;
  /** The organization whose container produced it, as the server attributes it (`undefined` if the server did not say). */
  readonly organizationId: number | undefined;
  /** The decoded result (`undefined` when the run has no result). */
  readonly result: unknown;
}

/** One run of a task. */
export interface RunInfo {
  /** Run id. */
  readonly id: number;
  /** Organization that runs it. */
  readonly organizationId: number | undefined;
  /** Run status, e.g. `active`, `completed`, `crashed`. */
  readonly status: string | undefined;
}

/** An organization of the collaboration. */
export interface OrganizationInfo {
  /** Organization id. */
  readonly id: number;
  /** Name, when the server sent one. */
  readonly name: string | undefined;
}

/** One exposed port of an algorithm container on the v4 VPN. */
export interface VpnAddress {
  /** VPN IP address of the node. */
  readonly ip: string;
  /** Port on the VPN side (the node forwards it to the container's exposed port). */
  readonly port: number;
  /** The port's label (`LABEL p<port>="<label>"` in the image). */
  readonly label: string | undefined;
  /** Organization running the container. */
  readonly organizationId: number | undefined;
  /** Task of the container. */
  readonly taskId: number | undefined;
  /** Parent task of that task. */
  readonly parentId: number | undefined;
}

/** Query of {@link NodeProxyClient.vpnAddresses}. */
export interface VpnAddressQuery {
  /** Only ports with this label. */
  readonly label?: string;
  /** Restrict to one relation (the server's `only_children`, `only_parent`, `only_siblings`, `only_self`). */
  readonly only?: 'children' | 'parent' | 'siblings' | 'self';
  /** Also the children of the current task (`include_children`). */
  readonly includeChildren?: boolean;
  /** Also the parent of the current task (`include_parent`). */
  readonly includeParent?: boolean;
  /** Abort the request. */
  readonly signal?: AbortSignal;
}

/** Options of {@link NodeProxyClient.waitForResults}. */
export interface WaitForResultsOptions {
  /** Overall deadline in ms (default {@link DEFAULT_WAIT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** Abort the wait. */
  readonly signal?: AbortSignal;
  /** First polling interval in ms (default {@link DEFAULT_POLL_INTERVAL_MS}); doubles after every poll. */
  readonly intervalMs?: number;
  /** Longest polling interval in ms (default {@link DEFAULT_MAX_POLL_INTERVAL_MS}). */
  readonly maxIntervalMs?: number;
}

/** Options of one low-level request. */
export interface ProxyRequestOptions {
  /** Query parameters. */
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  /** JSON body (POST/PATCH). */
  readonly body?: unknown;
  /** Abort the request. */
  readonly signal?: AbortSignal;
  /** Deadline of this request in ms (default: the client's). */
  readonly timeoutMs?: number;
}

/** Options of {@link createNodeProxyClient}. */
export interface NodeProxyClientInit {
  /** Base URL of the proxy, e.g. `http://proxyserver:8080` (plus `API_PATH`). */
  readonly baseUrl: string;
  /** The container's JWT. Secret: never logged, never in messages. */
  readonly token: string;
  /** Deadline of each request in ms (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  readonly requestTimeoutMs?: number;
  /** Largest response body in bytes (default {@link DEFAULT_MAX_RESPONSE_BYTES}). */
  readonly maxResponseBytes?: number;
  /** Most pages of one list (default {@link DEFAULT_MAX_PAGES}). */
  readonly maxPages?: number;
  /** Largest list in bytes, all pages together (default {@link DEFAULT_MAX_LIST_BYTES}). */
  readonly maxListBytes?: number;
  /** Collaboration id for {@link NodeProxyClient.listOrganizations} when the token has none (v5: `COLLABORATION_ID`). */
  readonly collaborationId?: number;
  /**
   * The vantage6 contract of the node (default `'v4'`; {@link nodeProxyClientFromEnv} takes it from
   * the environment): decides the body of `POST /task` (see {@link NodeProxyClient.createSubtask}).
   */
  readonly contractVersion?: 'v4' | 'v5';
}

/** The node-proxy client. Create it with {@link createNodeProxyClient} or {@link nodeProxyClientFromEnv}. */
export interface NodeProxyClient {
  /** The proxy's base URL. */
  readonly baseUrl: string;
  /** The token's claims (decoded once, not verified). @throws {@link Vantage6Error} when the token is not a container JWT. */
  tokenClaims(): ContainerClaims;
  /** Create a subtask. @throws {@link ProxyRequestError} on HTTP failure; {@link InvalidArgumentError} on bad options. */
  createSubtask(options: CreateSubtaskOptions): Promise<CreatedTask>;
  /** The status of a task (`GET /task/<id>/status`). */
  getTaskStatus(taskId: number, options?: { signal?: AbortSignal }): Promise<string>;
  /** The runs of a task (`GET /run?task_id=`), all pages. */
  getRuns(taskId: number, options?: { signal?: AbortSignal }): Promise<RunInfo[]>;
  /** The results of a task (`GET /result?task_id=`), all pages, decoded and attributed to organizations. */
  getResults(taskId: number, options?: { signal?: AbortSignal }): Promise<SubtaskResult[]>;
  /** Poll until the task completes (exponential backoff), then return its results. */
  waitForResults(taskId: number, options?: WaitForResultsOptions): Promise<SubtaskResult[]>;
  /** The organizations of the collaboration (or study), all pages. */
  listOrganizations(options?: { signal?: AbortSignal }): Promise<OrganizationInfo[]>;
  /** The v4 VPN addresses of the job's algorithm containers (`GET /vpn/algorithm/addresses`). */
  vpnAddresses(query?: VpnAddressQuery): Promise<VpnAddress[]>;
  /** A raw JSON request to the proxy (for endpoints this client does not wrap). */
  request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, options?: ProxyRequestOptions): Promise<unknown>;
}

// ---------------------------------------------------------------------------------------------
// helpers

function positiveIntOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`"${name}" must be a positive integer, got ${describeType(value)}`);
  }
  return value;
}

function optionalId(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^[0-9]{1,15}$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Parse an id given as a number or a decimal string.
 * @throws {@link InvalidArgumentError}
 */
export function toId(name: string, value: unknown): number {
  const id = optionalId(value);
  if (id === undefined) throw new InvalidArgumentError(`"${name}" must be a non-negative integer id, got ${describeType(value)}`);
  return id;
}

function orgOf(entry: Record<string, unknown>): number | undefined {
  const org = entry.organization;
  if (typeof org === 'object' && org !== null) return optionalId((org as Record<string, unknown>).id);
  return optionalId(entry.organization_id ?? org);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeBase64UrlJson(segment: string): unknown {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(segment)) return undefined;
  try {
    return JSON.parse(UTF8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return undefined;
  }
}

/**
 * Read the `sub` claim of a container JWT without verifying its signature (vantage6 algorithms
 * do the same: the proxy and the server verify it).
 *
 * @param token - the JWT.
 * @returns the claims.
 * @throws {@link Vantage6Error} (`COUPLER_ERR_VANTAGE6`) when the token is not a JWT with an object `sub`.
 * @example
 * const { organizationId, taskId } = decodeTokenClaims(token);
 */
export function decodeTokenClaims(token: string): ContainerClaims {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) throw new Vantage6Error(ErrorCode.VANTAGE6, 'container token is not a JWT (expected three dot-separated parts)');
  const payload = decodeBase64UrlJson(parts[1]!);
  if (!isRecord(payload)) throw new Vantage6Error(ErrorCode.VANTAGE6, 'container token payload is not a JSON object');
  let sub: unknown = payload.sub;
  if (typeof sub === 'string') {
    try {
      sub = JSON.parse(sub);
    } catch {
      sub = undefined;
    }
  }
  if (!isRecord(sub)) throw new Vantage6Error(ErrorCode.VANTAGE6, 'container token has no "sub" object with the container identity');
  return Object.freeze({
    clientType: typeof sub.client_type === 'string' ? sub.client_type : typeof sub.vantage6_client_type === 'string' ? sub.vantage6_client_type : undefined,
    nodeId: optionalId(sub.node_id),
    organizationId: optionalId(sub.organization_id),
    collaborationId: optionalId(sub.collaboration_id),
    studyId: optionalId(sub.study_id),
    storeId: optionalId(sub.store_id),
    taskId: optionalId(sub.task_id),
    image: typeof sub.image === 'string' ? sub.image : undefined,
    databases: Object.freeze(Array.isArray(sub.databases) ? [...(sub.databases as unknown[])] : []),
    sessionId: optionalId(sub.session_id),
  });
}

/**
 * The container identity a vantage6 4.x server puts in a container token (the inverse of
 * {@link decodeTokenClaims} for 4.x).
 * @internal for `coupler simulate`.
 */
export interface V4ContainerIdentity {
  readonly nodeId: number;
  readonly organizationId: number;
  readonly collaborationId: number;
  readonly taskId: number;
  readonly image: string;
  /** The task's databases, each `{label, ...parameters}`. */
  readonly databases: readonly Readonly<Record<string, unknown>>[];
  readonly studyId?: number | null;
  readonly storeId?: number | null;
}

/**
 * A container token shaped as a vantage6 4.14 server issues it, for `coupler simulate`. The
 * identity goes in `sub` in the order of vantage6-server/vantage6/server/resource/token.py:335-351
 * (`create_access_token(container, expires_delta=False)`: Flask-JWT-Extended 4.7.1 puts it in its
 * identity claim `sub`, adds `fresh`, `iat`, `jti`, `type`, `nbf`, `csrf` and no `exp`);
 * vantage6-server/vantage6/server/__init__.py `additional_claims_loader` adds `client_type` and
 * `roles`. Signed HS256 with `key`, a key no server knows: a well-formed JWT that nothing can
 * verify, which is all a simulation needs (containers read the claims without verifying).
 *
 * @param identity - the container identity.
 * @param key - the HMAC key (random bytes; never a real server's secret).
 * @param nowSeconds - `iat` and `nbf`, in seconds.
 * @returns the JWT, ASCII.
 * @internal for `coupler simulate`; tests build their tokens independently.
 */
export function simulatedV4ContainerToken(identity: V4ContainerIdentity, key: Uint8Array, nowSeconds: number = Math.floor(Date.now() / 1000)): string {
  const sub = {
    client_type: 'container',
    node_id: identity.nodeId,
    organization_id: identity.organizationId,
    collaboration_id: identity.collaborationId,
    study_id: identity.studyId ?? null,
    store_id: identity.storeId ?? null,
    task_id: identity.taskId,
    image: identity.image,
    databases: identity.databases,
  };
  const payload = { fresh: false, iat: nowSeconds, jti: randomUUID(), type: 'access', sub, nbf: nowSeconds, csrf: randomUUID(), client_type: 'container', roles: [] };
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  const signingInput = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

/**
 * The proxy's base URL from `HOST`, `PORT` and `API_PATH` (`HOST` may omit the scheme).
 *
 * @throws {@link Vantage6Error} when `HOST` is not set or not a URL.
 */
export function proxyBaseUrl(env: ContainerEnv): string {
  if (env.host === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'HOST is not set: the node proxy address is unknown');
  const host = /^[a-z][a-z0-9+.-]*:\/\//i.test(env.host) ? env.host : `http://${env.host}`;
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new Vantage6Error(ErrorCode.VANTAGE6, 'HOST is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Vantage6Error(ErrorCode.VANTAGE6, 'HOST must be an http or https URL');
  if (url.port === '') url.port = String(env.port);
  const apiPath = env.apiPath.trim().replace(/^\/*/, '').replace(/\/*$/, '');
  return `${url.protocol}//${url.host}${apiPath.length > 0 ? `/${apiPath}` : ''}`;
}

/**
 * The container token: v5 `CONTAINER_TOKEN`, else the v4 `TOKEN_FILE` (at most 64 KiB, trimmed).
 *
 * @throws {@link Vantage6Error} when neither is available or the file cannot be read (the message never holds the token).
 */
export function readContainerToken(env: ContainerEnv): string {
  const fromEnv = env.containerToken();
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv;
  if (env.tokenFile === undefined) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, 'no container token: neither TOKEN_FILE (v4) nor CONTAINER_TOKEN (v5) is set (v5 gives tokens to central containers only)');
  }
  let text: string;
  try {
    text = readBoundedFileSync(env.tokenFile, MAX_TOKEN_FILE_BYTES).bytes.toString('ascii').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTREG') throw new Vantage6Error(ErrorCode.VANTAGE6, 'TOKEN_FILE is not a regular file');
    if (code === 'EFBIG' || code === 'ECHANGED') throw new Vantage6Error(ErrorCode.VANTAGE6, `TOKEN_FILE is larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    throw new Vantage6Error(ErrorCode.VANTAGE6, `cannot read TOKEN_FILE (${code ?? 'error'})`);
  }
  if (text.length === 0) throw new Vantage6Error(ErrorCode.VANTAGE6, 'TOKEN_FILE is empty');
  return text;
}

function decodeResultField(value: unknown, runId: number, org: number | undefined): unknown {
  if (value === null || value === undefined || value === '') return undefined;
  const where = `result of run ${runId}${org === undefined ? '' : ` (organization ${org})`}`;
  if (typeof value !== 'string') throw new Vantage6Error(ErrorCode.VANTAGE6, `${where} is not a base64 string`);
  const bytes = decodeBase64Strict(value);
  if (bytes === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, `${where} is not valid base64`);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `${where} is not UTF-8 JSON`);
  }
  // The depth toContractJson writes at most: deeper would overflow the stack of every recursive
  // walk after parsing (checkAgreement's canonicalJson first).
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) throw new Vantage6Error(ErrorCode.VANTAGE6, `${where} is nested deeper than ${MAX_JSON_DEPTH}`);
  try {
    // Integers beyond 2^53 stay exact (bigint): coupler writes them with all their digits.
    return parseContractJson(text);
  } catch {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `${where} is not UTF-8 JSON`);
  }
}

// ---------------------------------------------------------------------------------------------
// implementation

class ProxyClient implements NodeProxyClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #contractVersion: 'v4' | 'v5';
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #maxPages: number;
  readonly #maxListBytes: number;
  readonly #collaborationId: number | undefined;
  #claims: ContainerClaims | undefined;

  constructor(init: NodeProxyClientInit) {
    if (typeof init !== 'object' || init === null) throw new InvalidArgumentError(`"init" must be an object, got ${describeType(init)}`);
    if (typeof init.baseUrl !== 'string') throw new InvalidArgumentError(`"baseUrl" must be a string, got ${describeType(init.baseUrl)}`);
    let url: URL;
    try {
      url = new URL(init.baseUrl);
    } catch {
      throw new InvalidArgumentError('"baseUrl" must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('"baseUrl" must be an absolute http(s) URL');
    if (typeof init.token !== 'string' || init.token.length === 0 || /[\s]/.test(init.token)) {
      throw new InvalidArgumentError('"token" must be a non-empty string without whitespace');
    }
    this.baseUrl = init.baseUrl.replace(/\/+$/, '');
    this.#token = init.token;
    if (init.contractVersion !== undefined && init.contractVersion !== 'v4' && init.contractVersion !== 'v5') {
      throw new InvalidArgumentError('"contractVersion" must be "v4" or "v5"');
    }
    this.#contractVersion = init.contractVersion ?? 'v4';
    this.#timeoutMs = positiveIntOption('requestTimeoutMs', init.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
    this.#maxBytes = positiveIntOption('maxResponseBytes', init.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES);
    this.#maxPages = positiveIntOption('maxPages', init.maxPages, DEFAULT_MAX_PAGES);
    this.#maxListBytes = positiveIntOption('maxListBytes', init.maxListBytes, DEFAULT_MAX_LIST_BYTES);
    this.#collaborationId = init.collaborationId === undefined ? undefined : toId('collaborationId', init.collaborationId);
  }

  /** Never show the token when the client is inspected. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `NodeProxyClient { baseUrl: ${JSON.stringify(this.baseUrl)} }`;
  }

  toJSON(): { baseUrl: string } {
    return { baseUrl: this.baseUrl };
  }

  tokenClaims(): ContainerClaims {
    this.#claims ??= decodeTokenClaims(this.#token);
    return this.#claims;
  }

  async request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, options: ProxyRequestOptions = {}): Promise<unknown> {
    return (await this.#jsonRequest(method, path, options)).value;
  }

  /** {@link request}, also giving the size of the response body in bytes. */
  async #jsonRequest(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, options: ProxyRequestOptions, maxBytes = this.#maxBytes): Promise<{ value: unknown; size: number }> {
    if (typeof path !== 'string' || path.includes('?') || path.includes('#') || path.includes('..')) {
      throw new InvalidArgumentError('"path" must be a path without query, fragment or ".."');
    }
    const cleanPath = path.replace(/^\/+/, '');
    throwIfAborted(options.signal);
    const url = new URL(`${this.baseUrl}/${cleanPath}`);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const timeoutMs = options.timeoutMs === undefined ? this.#timeoutMs : Math.max(1, Math.min(this.#timeoutMs, Math.ceil(options.timeoutMs)));
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = toContractJson(options.body);
      headers['content-type'] = 'application/json';
    }
    const { status, bytes } = await this.#exchange(method, cleanPath, url, headers, body, signal, timeout, timeoutMs, options.signal, maxBytes);
    if (bytes.length === 0) return { value: null, size: 0 };
    try {
      return { value: JSON.parse(UTF8.decode(bytes)), size: bytes.length };
    } catch {
      throw new ProxyRequestError(method, cleanPath, status, 'response is not UTF-8 JSON');
    }
  }

  /** A raw exchange of bytes (for `/blobstream`), with the same deadline, caps and errors as {@link request}. */
  async #raw(method: 'GET' | 'POST', path: string, body: ReadableStream<Uint8Array> | undefined, extraHeaders: Record<string, string>, signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal);
    const url = new URL(`${this.baseUrl}/${path}`);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, ...extraHeaders };
    return (await this.#exchange(method, path, url, headers, body, both, timeout, this.#timeoutMs, signal, this.#maxBytes)).bytes;
  }

  async #exchange(
    method: string,
    cleanPath: string,
    url: URL,
    headers: Record<string, string>,
    body: string | ReadableStream<Uint8Array> | undefined,
    signal: AbortSignal,
    timeout: AbortSignal,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
    maxBytes: number,
  ): Promise<{ status: number; bytes: Uint8Array }> {
    const onAbort = (err: unknown): never => {
      if (callerSignal?.aborted) throw new AbortedError(`${method} /${cleanPath} aborted`);
      if (timeout.aborted) throw new TimeoutError(`${method} /${cleanPath}: no complete answer from the node proxy within ${timeoutMs} ms`);
      const code = ((err as { cause?: { code?: unknown } }).cause?.code ?? '') as string;
      throw new ProxyRequestError(method, cleanPath, undefined, `request failed${typeof code === 'string' && code !== '' ? ` (${code})` : ''}`);
    };
    let response: Response;
    try {
      // A stream body goes out chunked, without Content-Length (`duplex: 'half'` is how fetch sends one).
      response = await fetch(url, { method, headers, body, signal, redirect: 'error', ...(typeof body === 'object' ? { duplex: 'half' as const } : {}) });
    } catch (err) {
      return onAbort(err);
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.#readCapped(response, method, cleanPath, maxBytes);
    } catch (err) {
      if (err instanceof ProxyRequestError) throw err;
      return onAbort(err);
    }
    if (response.status < 200 || response.status > 299) {
      throw new ProxyRequestError(method, cleanPath, response.status, `HTTP ${response.status}`);
    }
    return { status: response.status, bytes };
  }

  /**
   * Whether the server keeps task inputs and results in its blob store (vantage6 4.13+
   * `large_result_store`): `GET /blobstream/status` → `{blob_store_enabled}`; an error or an older
   * server means no (vantage6-common/vantage6/common/client/blob_storage.py, check_if_blob_store_enabled).
   */
  async #blobStoreEnabled(signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await this.request('GET', 'blobstream/status', { signal });
      return isRecord(res) && res.blob_store_enabled === true;
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      return false;
    }
  }

  /**
   * Upload one organization's input to the blob store through the proxy, which encrypts it for
   * that organization (`X-Public-Key`: the organization's key from `GET organization/<id>`);
   * returns the blob's UUID, which then stands in the task body instead of the input.
   *
   * The body is streamed in chunks without `Content-Length`, as vantage6's own client does
   * (vantage6-common/vantage6/common/client/blob_storage.py, `_upload_run_data_to_server`): the
   * proxy copies a `Content-Length` header onto its forwarded request but sends a longer,
   * re-encrypted body under `Transfer-Encoding: chunked` (vantage6-node/vantage6/node/proxy_server.py,
   * `stream_handler_post`), which the server cannot read (4.14: HTTP 500; 5.0 unencrypted: a hang).
   */
  async #uploadBlob(organizationId: number, data: Uint8Array, signal?: AbortSignal): Promise<string> {
    const org = await this.request('GET', `organization/${organizationId}`, { signal });
    const key = isRecord(org) ? org.public_key : undefined;
    if (typeof key !== 'string' || key.length === 0) throw new ProxyRequestError('GET', `organization/${organizationId}`, 200, 'response has no public_key');
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= data.length) return controller.close();
        const end = Math.min(data.length, offset + BLOB_UPLOAD_CHUNK_BYTES);
        controller.enqueue(data.subarray(offset, end));
        offset = end;
      },
    });
    const bytes = await this.#raw('POST', 'blobstream', stream, { 'content-type': 'application/octet-stream', 'x-public-key': key, accept: 'application/json' }, signal);
    let uuid: unknown;
    try {
      uuid = (JSON.parse(UTF8.decode(bytes)) as Record<string, unknown>).uuid;
    } catch {
      uuid = undefined;
    }
    if (typeof uuid !== 'string' || !UUID_PATTERN.test(uuid)) throw new ProxyRequestError('POST', 'blobstream', 200, 'response has no blob uuid');
    return uuid;
  }

  async #readCapped(response: Response, method: string, path: string, maxBytes: number): Promise<Uint8Array> {
    const declared = response.headers.get('content-length');
    if (declared !== null && Number(declared) > maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new ProxyRequestError(method, path, response.status, `response larger than ${maxBytes} bytes`);
    }
    if (response.body === null) return new Uint8Array(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw new ProxyRequestError(method, path, response.status, `response larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks, total);
  }

  /** Count `size` more bytes of one list against {@link DEFAULT_MAX_LIST_BYTES}. */
  #countListBytes(budget: { used: number }, size: number, path: string): void {
    budget.used += size;
    if (budget.used > this.#maxListBytes) {
      throw new ProxyRequestError('GET', path, undefined, `list larger than ${this.#maxListBytes} bytes in all; refusing to read further`);
    }
  }

  /** Follow `?page=` while `links.next` is set, up to the page cap and the list's byte cap. */
  async #list(
    path: string,
    query: Record<string, string | number | undefined>,
    signal: AbortSignal | undefined,
    budget: { used: number } = { used: 0 },
    maxPages: number = this.#maxPages,
  ): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (let page = 1; ; page++) {
      if (page > maxPages) {
        throw new ProxyRequestError('GET', path, undefined, `more than ${maxPages} pages; refusing to follow further`);
      }
      const { value: body, size } = await this.#jsonRequest('GET', path, { query: { ...query, page }, signal });
      this.#countListBytes(budget, size, path);
      let data: unknown;
      let next = false;
      if (Array.isArray(body)) data = body;
      else if (isRecord(body) && Array.isArray(body.data)) {
        data = body.data;
        next = isRecord(body.links) && typeof body.links.next === 'string' && body.links.next.length > 0;
      } else {
        throw new ProxyRequestError('GET', path, 200, 'response is not a list ({data, links})');
      }
      for (const item of data as unknown[]) if (isRecord(item)) out.push(item);
      if (!next || (data as unknown[]).length === 0) return out;
    }
  }

  async createSubtask(options: CreateSubtaskOptions): Promise<CreatedTask> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
    const orgs = options.organizations;
    if (!Array.isArray(orgs) || orgs.length === 0) throw new InvalidArgumentError('"organizations" must be a non-empty array');
    const seen = new Set<number>();
    const v5 = this.#contractVersion === 'v5';
    let v5Method: string | undefined;
    const organizations = orgs.map((o: unknown, i) => {
      if (!isRecord(o)) throw new InvalidArgumentError(`"organizations[${i}]" must be an object, got ${describeType(o)}`);
      const id = toId(`organizations[${i}].id`, o.id);
      if (seen.has(id)) throw new InvalidArgumentError(`"organizations" lists organization ${id} twice`);
      seen.add(id);
      if (o.input === undefined) throw new InvalidArgumentError(`"organizations[${i}].input" is required`);
      if (!v5) return { id, input: Buffer.from(toContractJson(o.input), 'utf8').toString('base64') };
      // v5 (vantage6-algorithm-tools/vantage6/algorithm/client/__init__.py, Task.create, 5.0):
      // one method per task, per-organization `arguments` = base64 of the kwargs' JSON.
      const input = o.input;
      if (!isRecord(input) || typeof input.method !== 'string' || input.method.length === 0) {
        throw new InvalidArgumentError(`"organizations[${i}].input" must be { method, kwargs } under vantage6 5 (one method per task)`);
      }
      if (Array.isArray(input.args) && input.args.length > 0) throw new InvalidArgumentError(`"organizations[${i}].input.args": vantage6 5 passes keyword arguments only`);
      if (v5Method !== undefined && input.method !== v5Method) throw new InvalidArgumentError('"organizations": vantage6 5 runs one method per task, but the inputs name different methods');
      v5Method = input.method;
      const kwargs = input.kwargs ?? {};
      if (!isRecord(kwargs)) throw new InvalidArgumentError(`"organizations[${i}].input.kwargs" must be an object`);
      return { id, arguments: Buffer.from(toContractJson(kwargs), 'utf8').toString('base64') };
    });
    if (options.name !== undefined) checkTaskName(options.name);
    if (options.description !== undefined && typeof options.description !== 'string') throw new InvalidArgumentError('"description" must be a string');
    if (options.description !== undefined && options.description.length > MAX_TASK_DESCRIPTION_LENGTH) {
      throw new InvalidArgumentError(`"description" must have at most ${MAX_TASK_DESCRIPTION_LENGTH} characters (the server's limit), got ${options.description.length}`);
    }
    if (options.databases !== undefined && !Array.isArray(options.databases)) throw new InvalidArgumentError('"databases" must be an array');
    const claims = this.tokenClaims();
    const image = options.image ?? claims.image;
    if (typeof image !== 'string' || image.length === 0) {
      throw new Vantage6Error(ErrorCode.VANTAGE6, 'no image for the subtask: pass "image" or use a token with an "image" claim');
    }
    const collaborationId = claims.collaborationId ?? this.#collaborationId;
    const body: Record<string, unknown> = {
      name: options.name ?? 'subtask',
      image,
      collaboration_id: collaborationId,
      description: options.description ?? `subtask from a container on node ${claims.nodeId ?? 'unknown'}`,
      organizations,
      databases: options.databases ?? claims.databases,
    };
    if (claims.studyId !== undefined) body.study_id = claims.studyId;
    if (claims.storeId !== undefined) body.store_id = claims.storeId;
    if (v5) {
      // HQ's TaskInputSchema (vantage6-hq/vantage6/hq/resource/common/input_schema.py, 5.0)
      // requires `method` and `session_id`; `databases` is a list of lists.
      if (claims.sessionId === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'no session id for the subtask: the container token has no "session_id" claim (vantage6 5 requires it)');
      body.method = v5Method;
      body.session_id = claims.sessionId;
      body.action = 'federated_compute';
      const dbs = body.databases as unknown[];
      if (!dbs.every((d) => Array.isArray(d))) throw new InvalidArgumentError('"databases" must be a list of lists of databases under vantage6 5');
    }
    if (await this.#blobStoreEnabled(options.signal)) {
      // vantage6 4.13+/5 with a blob store: each input goes to /blobstream (encrypted by the
      // proxy for its organization) and the body names its UUID, as vantage6's own client does
      // (vantage6-algorithm-tools/vantage6/algorithm/client/__init__.py, Task.create).
      for (const o of organizations as { id: number; input?: string; arguments?: string }[]) {
        const field = v5 ? 'arguments' : 'input';
        const data = Buffer.from(o[field]!, 'base64');
        o[field] = await this.#uploadBlob(o.id, data, options.signal);
      }
    }
    const res = await this.request('POST', 'task', { body, signal: options.signal });
    const id = isRecord(res) ? optionalId(res.id) : undefined;
    if (!isRecord(res) || id === undefined) throw new ProxyRequestError('POST', 'task', 200, 'response has no task id');
    return Object.freeze({ id, raw: res });
  }

  async getTaskStatus(taskId: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string> {
    const id = toId('taskId', taskId);
    const res = await this.request('GET', `task/${id}/status`, { signal: options.signal, timeoutMs: options.timeoutMs });
    if (!isRecord(res) || typeof res.status !== 'string') throw new ProxyRequestError('GET', `task/${id}/status`, 200, 'response has no status');
    return res.status.toLowerCase();
  }

  async getRuns(taskId: number, options: { signal?: AbortSignal } = {}): Promise<RunInfo[]> {
    const id = toId('taskId', taskId);
    const items = await this.#list('run', { task_id: id }, options.signal);
    const out: RunInfo[] = [];
    for (const item of items) {
      const runId = optionalId(item.id);
      if (runId === undefined) continue;
      out.push(Object.freeze({ id: runId, organizationId: orgOf(item), status: typeof item.status === 'string' ? item.status.toLowerCase() : undefined }));
    }
    return out;
  }

  async getResults(taskId: number, options: { signal?: AbortSignal } = {}): Promise<SubtaskResult[]> {
    const id = toId('taskId', taskId);
    const budget = { used: 0 };
    // One result per page: a page of ten (vantage6's default) would have to fit ten results in one
    // response; the page cap grows by the same factor so as many results can be read as before.
    const items = await this.#list('result', { task_id: id, per_page: 1 }, options.signal, budget, this.#maxPages * VANTAGE6_PAGE_SIZE);
    const entries = items.map((item) => ({ runId: optionalId(item.id), organizationId: orgOf(item), raw: item.result, blob: item.blob_storage_used === true }));
    if (entries.some((e) => e.runId === undefined)) throw new ProxyRequestError('GET', 'result', 200, 'a result has no id');
    if (entries.some((e) => e.organizationId === undefined)) {
      // The result list does not say who produced what: the run list does (same ids).
      const runs = await this.getRuns(id, options);
      const byRun = new Map(runs.map((r) => [r.id, r.organizationId]));
      for (const e of entries) e.organizationId ??= byRun.get(e.runId!);
    }
    const out: SubtaskResult[] = [];
    for (const e of entries) {
      let raw = e.raw;
      if (e.blob && raw !== null && raw !== undefined && raw !== '') {
        // A result in the blob store (`blob_storage_used`): `result` is its UUID; the proxy
        // streams and decrypts it from /blobstream/<uuid> (blob_storage.py, _download_run_data_from_server).
        if (typeof raw !== 'string' || !UUID_PATTERN.test(raw)) throw new Vantage6Error(ErrorCode.VANTAGE6, `result of run ${e.runId} is marked as stored in the blob store but has no blob uuid`);
        const blob = await this.#raw('GET', `blobstream/${raw}`, undefined, { accept: 'application/octet-stream' }, options.signal);
        this.#countListBytes(budget, blob.length, 'result');
        raw = Buffer.from(blob).toString('base64');
      }
      out.push(Object.freeze({ runId: e.runId!, organizationId: e.organizationId, result: decodeResultField(raw, e.runId!, e.organizationId) }));
    }
    return out;
  }

  async waitForResults(taskId: number, options: WaitForResultsOptions = {}): Promise<SubtaskResult[]> {
    const id = toId('taskId', taskId);
    const timeoutMs = positiveIntOption('timeoutMs', options.timeoutMs, DEFAULT_WAIT_TIMEOUT_MS);
    let interval = positiveIntOption('intervalMs', options.intervalMs, DEFAULT_POLL_INTERVAL_MS);
    const maxInterval = Math.max(interval, positiveIntOption('maxIntervalMs', options.maxIntervalMs, DEFAULT_MAX_POLL_INTERVAL_MS));
    const { signal } = options;
    const deadline = Date.now() + timeoutMs;
    let lastStatus = 'unknown';
    let errors = 0;
    for (;;) {
      throwIfAborted(signal);
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let status: string | undefined;
      try {
        status = await this.getTaskStatus(id, { signal, timeoutMs: remaining });
        errors = 0;
      } catch (err) {
        if (err instanceof AbortedError) throw err;
        if (err instanceof TimeoutError && Date.now() >= deadline) break;
        const transient = err instanceof TimeoutError || (err instanceof ProxyRequestError && (err.status === undefined || err.status >= 500));
        if (!transient || ++errors >= MAX_CONSECUTIVE_POLL_ERRORS) throw err;
      }
      if (status !== undefined) {
        lastStatus = status;
        if (status === COMPLETED_STATUS) {
          // Reading the results keeps the wait's deadline too (every page and blob under it).
          const cut = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
          try {
            return await this.getResults(id, { signal: signal === undefined ? cut : AbortSignal.any([signal, cut]) });
          } catch (err) {
            if (cut.aborted && signal?.aborted !== true) throw new TimeoutError(`task ${id} completed, but its results did not arrive within ${timeoutMs} ms`);
            throw err;
          }
        }
        if (isFailedStatus(status)) {
          let failed: string[] = [];
          try {
            // Only to name who failed: within what is left of the deadline (at least one second).
            const cut = AbortSignal.timeout(Math.max(1000, deadline - Date.now()));
            const runs = await this.getRuns(id, { signal: signal === undefined ? cut : AbortSignal.any([signal, cut]) });
            const named = (keep: (s: string) => boolean): string[] =>
              runs.filter((r) => r.status !== undefined && keep(r.status) && r.organizationId !== undefined).map((r) => String(r.organizationId));
            failed = named(isFailedStatus);
            if (failed.length === 0) failed = named((s) => s !== COMPLETED_STATUS);
          } catch {
            failed = [];
          }
          throw new Vantage6Error(
            ErrorCode.VANTAGE6,
            `task ${id} ended with status "${status.slice(0, 40)}"${failed.length > 0 ? `; organizations that failed: ${failed.join(', ')}` : ''}`,
            { peers: failed },
          );
        }
      }
      const wait = Math.min(interval, deadline - Date.now());
      if (wait <= 0) break;
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw new AbortedError(`waiting for task ${id} aborted`);
      }
      interval = Math.min(maxInterval, interval * 2);
    }
    throw new TimeoutError(`task ${id} did not complete within ${timeoutMs} ms (last status "${lastStatus.slice(0, 40)}")`);
  }

  async listOrganizations(options: { signal?: AbortSignal } = {}): Promise<OrganizationInfo[]> {
    const claims = this.tokenClaims();
    let query: Record<string, number>;
    if (claims.studyId !== undefined) query = { study_id: claims.studyId };
    else {
      const collaborationId = claims.collaborationId ?? this.#collaborationId;
      if (collaborationId === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'the collaboration id is unknown (no token claim, no COLLABORATION_ID)');
      query = { collaboration_id: collaborationId };
    }
    const items = await this.#list('organization', query, options.signal);
    const out: OrganizationInfo[] = [];
    for (const item of items) {
      const id = optionalId(item.id);
      if (id !== undefined) out.push(Object.freeze({ id, name: typeof item.name === 'string' ? item.name : undefined }));
    }
    return out;
  }

  async vpnAddresses(query: VpnAddressQuery = {}): Promise<VpnAddress[]> {
    if (typeof query !== 'object' || query === null) throw new InvalidArgumentError(`"query" must be an object, got ${describeType(query)}`);
    const params: Record<string, string | number> = {};
    if (query.label !== undefined) {
      if (typeof query.label !== 'string' || query.label.length === 0) throw new InvalidArgumentError('"label" must be a non-empty string');
      params.label = query.label;
    }
    if (query.only !== undefined) {
      if (!['children', 'parent', 'siblings', 'self'].includes(query.only)) {
        throw new InvalidArgumentError('"only" must be one of children, parent, siblings, self');
      }
      params[`only_${query.only}`] = 1;
    }
    if (query.includeChildren === true) params.include_children = 1;
    if (query.includeParent === true) params.include_parent = 1;
    // Its own cap: the lookup runs at every dial-loop pass, and the general cap (sized for results
    // and blobs, 64 MiB) let one answer cost ~0.7 s of event loop and ~190 MiB of heap, every pass
    // (review22 R22-4); the discovery keeps at most 65 536 entries anyway.
    const { value: res } = await this.#jsonRequest('GET', 'vpn/algorithm/addresses', { query: params, signal: query.signal }, Math.min(this.#maxBytes, MAX_VPN_ADDRESSES_BYTES));
    if (!isRecord(res) || !Array.isArray(res.addresses)) {
      throw new ProxyRequestError('GET', 'vpn/algorithm/addresses', 200, 'response has no "addresses" list (is the node connected to the VPN?)');
    }
    const out: VpnAddress[] = [];
    for (const a of res.addresses as unknown[]) {
      if (!isRecord(a) || typeof a.ip !== 'string' || a.ip.length === 0 || a.ip.length > 255) continue;
      const port = optionalId(a.port);
      if (port === undefined || port < 1 || port > 65535) continue;
      out.push(
        Object.freeze({
          ip: a.ip,
          port,
          label: typeof a.label === 'string' ? a.label : undefined,
          organizationId: optionalId(a.organization_id),
          taskId: optionalId(a.task_id),
          parentId: optionalId(a.parent_id),
        }),
      );
    }
    return out;
  }
}

/**
 * Create a node-proxy client.
 *
 * @param init - base URL, token and limits (see {@link NodeProxyClientInit}).
 * @returns the client.
 * @throws {@link InvalidArgumentError} for a malformed option (the message never holds the token).
 * @example
 * const client = createNodeProxyClient({ baseUrl: 'http://proxyserver:8080', token });
 * const task = await client.createSubtask({ organizations: [{ id: 2, input: { method: 'partial', args: [], kwargs: {} } }] });
 * const results = await client.waitForResults(task.id, { timeoutMs: 120_000 });
 */
export function createNodeProxyClient(init: NodeProxyClientInit): NodeProxyClient {
  return new ProxyClient(init);
}

/**
 * Create a node-proxy client from the container environment (`HOST`, `PORT`, `API_PATH`,
 * `TOKEN_FILE` or `CONTAINER_TOKEN`, `COLLABORATION_ID`).
 *
 * @param env - the decoded environment, or a raw one (default `process.env`).
 * @param options - limits (see {@link NodeProxyClientInit}).
 * @returns the client.
 * @throws {@link Vantage6Error} when `HOST` or the token is missing.
 * @example
 * const client = nodeProxyClientFromEnv();
 * const orgs = await client.listOrganizations();
 */
export function nodeProxyClientFromEnv(
  env: ContainerEnv | NodeJS.ProcessEnv = process.env,
  options: Omit<NodeProxyClientInit, 'baseUrl' | 'token'> = {},
): NodeProxyClient {
  const decoded = isContainerEnv(env) ? env : readContainerEnv(env as NodeJS.ProcessEnv);
  const collaborationId = options.collaborationId ?? optionalId(decoded.collaborationId);
  const token = readContainerToken(decoded);
  return new ProxyClient({ contractVersion: decoded.contractVersion, ...options, collaborationId, baseUrl: proxyBaseUrl(decoded), token });
}

/** @internal */
export function isContainerEnv(value: unknown): value is ContainerEnv {
  return isRecord(value) && typeof (value as { containerToken?: unknown }).containerToken === 'function' && typeof value.contractVersion === 'string';
}
