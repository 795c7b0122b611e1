/**
 * The environment a vantage6 node gives an algorithm container, decoded and typed.
 *
 * Since vantage6 4.2 every value the node sets is the RFC 4648 base32 encoding of its UTF-8
 * bytes, with each padding `=` replaced by `!`. {@link decodeEnvValue} reverses that: `!` → `=`,
 * strict base32 decoding, strict UTF-8 decoding; if any step fails the raw value is used (values
 * set by the image or by older nodes are not encoded). A raw value that happens to be valid
 * padded base32 of valid UTF-8 is decoded too: vantage6's own wrapper behaves the same way.
 *
 * @module
 */
import { ErrorCode, InvalidArgumentError, Vantage6Error, describeType } from '../errors';

/** The contract a container runs under: `v4` (input file holds `{method, args, kwargs}`) or `v5` (`ALGORITHM_METHOD`). */
export type ContractVersion = 'v4' | 'v5';

/** Port of the node proxy when `PORT` is not set, by contract version. */
export const DEFAULT_PROXY_PORT: Readonly<Record<ContractVersion, number>> = Object.freeze({ v4: 8080, v5: 7654 });

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE32_LOOKUP: ReadonlyMap<string, number> = new Map([...BASE32_ALPHABET].map((c, i) => [c, i]));
/** Valid counts of `=` at the end of a base32 quantum (RFC 4648 §6), mapped to the data characters before them. */
const PAD_TO_DATA_CHARS: ReadonlyMap<number, number> = new Map([
  [0, 8],
  [1, 7],
  [3, 5],
  [4, 4],
  [6, 2],
]);
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Strict RFC 4648 base32 decoding: upper-case alphabet only, length a multiple of 8, padding only
 * at the end and only in the counts the RFC allows, unused trailing bits zero.
 *
 * @param text - the base32 text.
 * @returns the bytes, or `undefined` when `text` is not canonical base32.
 * @example
 * decodeBase32('MZXW6===') // Uint8Array [0x66, 0x6f, 0x6f] ("foo")
 */
export function decodeBase32(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length % 8 !== 0) return undefined;
  const out = new Uint8Array((text.length / 8) * 5);
  let written = 0;
  for (let q = 0; q < text.length; q += 8) {
    const quantum = text.slice(q, q + 8);
    const firstPad = quantum.indexOf('=');
    const pads = firstPad === -1 ? 0 : 8 - firstPad;
    const dataChars = PAD_TO_DATA_CHARS.get(pads);
    if (dataChars === undefined) return undefined;
    if (pads > 0 && q + 8 !== text.length) return undefined; // padding only in the last quantum
    if (pads > 0 && quantum.slice(firstPad) !== '='.repeat(pads)) return undefined;
    let acc = 0n;
    for (let i = 0; i < dataChars; i++) {
      const v = BASE32_LOOKUP.get(quantum.charAt(i));
      if (v === undefined) return undefined;
      acc = (acc << 5n) | BigInt(v);
    }
    const bits = dataChars * 5;
    const bytes = Math.floor(bits / 8);
    const spare = BigInt(bits - bytes * 8);
    if ((acc & ((1n << spare) - 1n)) !== 0n) return undefined; // non-canonical trailing bits
    acc >>= spare;
    for (let i = bytes - 1; i >= 0; i--) {
      out[written + i] = Number(acc & 0xffn);
      acc >>= 8n;
    }
    written += bytes;
  }
  return out.subarray(0, written);
}

/**
 * Decode one value the node set: `!` → `=`, base32, UTF-8. Falls back to the raw value when the
 * value is not canonical base32 or the bytes are not valid UTF-8.
 *
 * @param value - the raw environment value.
 * @returns the decoded text, or `value` unchanged.
 * @throws {@link InvalidArgumentError} when `value` is not a string.
 * @example
 * decodeEnvValue('MZXW6!!!') // 'foo'
 * decodeEnvValue('/mnt/data/input') // '/mnt/data/input' (not base32: used as is)
 */
export function decodeEnvValue(value: string): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`"value" must be a string, got ${describeType(value)}`);
  if (value.length === 0) return value;
  const bytes = decodeBase32(value.replaceAll('!', '='));
  if (bytes === undefined) return value;
  try {
    return UTF8.decode(bytes);
  } catch {
    return value;
  }
}

/**
 * Variables that coupler's code reads straight from `process.env` rather than through
 * {@link readContainerEnv}, and that a node can set: the relay dial's proxy lookup
 * (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, `ALL_PROXY`, upper and lower case, read by
 * proxy-from-env) and its extra CA (`COUPLER_RELAY_CA`, src/relay/dial.ts). A 4.x node with a
 * `whitelist` sets the proxy variables to its squid proxy, the container's only way out of the
 * node's internal network (vantage6-node/vantage6/node/docker/task_manager.py:558-580, 4.14), and
 * an operator sets `COUPLER_*` through `algorithm_env`; both node versions base32-encode all of
 * them (task_manager.py:660-664, 4.14; k8s/container_manager.py:453-473, 5.0).
 */
export const PROCESS_LEVEL_VARIABLES: readonly string[] = Object.freeze([
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
  'COUPLER_RELAY_CA',
]);

/**
 * Decode, in place, the {@link PROCESS_LEVEL_VARIABLES} a node set, as vantage6's own wrapper
 * decodes the whole environment before the algorithm runs (vantage6-algorithm-tools/vantage6/
 * algorithm/tools/wrap.py, `_decode_env_vars`). Values that are not node-encoded (a URL, a path,
 * a host list: never canonical base32) are left as they are, so a second call changes nothing.
 * `coupler run` calls it once at start, on `process.env`.
 *
 * @param target - the environment to decode in place (default `process.env`).
 * @returns the names of the variables whose value changed (never the values).
 * @example
 * decodeProcessLevelVariables(); // HTTPS_PROXY 'NB2HI4B2F4XXG4LVNFSDUMZRGI4A!!!!' → 'http://squid:3128'
 */
export function decodeProcessLevelVariables(target: NodeJS.ProcessEnv = process.env): string[] {
  if (typeof target !== 'object' || target === null) throw new InvalidArgumentError(`"target" must be an object, got ${describeType(target)}`);
  const changed: string[] = [];
  for (const name of PROCESS_LEVEL_VARIABLES) {
    const raw = target[name];
    if (typeof raw !== 'string') continue;
    const decoded = decodeEnvValue(raw);
    if (decoded !== raw) {
      target[name] = decoded;
      changed.push(name);
    }
  }
  return changed;
}

/** Supported database types a node announces in `<LABEL>_DATABASE_TYPE`. */
export type DatabaseType = 'csv' | 'parquet' | 'sql' | 'sparql' | 'excel' | 'other' | (string & {});

/** One database the node made available, from the `<LABEL>_...` variables. */
export interface DatabaseConfig {
  /** The label (as listed in `USER_REQUESTED_DATABASE_LABELS` or `DB_LABELS`). */
  readonly label: string;
  /** `<LABEL>_DATABASE_URI`: a file path inside the container or a connection URI. */
  readonly uri: string | undefined;
  /** `<LABEL>_DATABASE_TYPE`. */
  readonly type: DatabaseType | undefined;
  /** `<LABEL>_QUERY`, for SQL and SPARQL databases. */
  readonly query: string | undefined;
  /** `<LABEL>_SHEET_NAME`, for Excel files. */
  readonly sheetName: string | undefined;
  /** `<LABEL>_PREPROCESSING` parsed as JSON (`undefined` when absent or not valid JSON). */
  readonly preprocessing: unknown;
  /** `<LABEL>_DB_PARAM_<KEY>` values keyed by `<KEY>` (as the node wrote it, upper case). */
  readonly params: ReadonlyMap<string, string>;
}

/** The container environment, decoded. Every field is `undefined` when its variable is absent. */
export interface ContainerEnv {
  /** `v5` when `ALGORITHM_METHOD` is set, else `v4`. */
  readonly contractVersion: ContractVersion;
  /** `INPUT_FILE`. */
  readonly inputFile: string | undefined;
  /** `OUTPUT_FILE`. */
  readonly outputFile: string | undefined;
  /** `TOKEN_FILE` (v4). */
  readonly tokenFile: string | undefined;
  /** `TEMPORARY_FOLDER` (v4): shared by the job's containers on this node. */
  readonly temporaryFolder: string | undefined;
  /**
   * `SESSION_FOLDER` (v5): read-write, shared by the tasks of one session on this node
   * (vantage6-node/vantage6/node/k8s/container_manager.py, 5.0). v5 has no `TEMPORARY_FOLDER`.
   */
  readonly sessionFolder: string | undefined;
  /** `HOST` of the node proxy, e.g. `http://proxyserver`. */
  readonly host: string | undefined;
  /** `PORT` of the node proxy, or the version's default when absent. */
  readonly port: number;
  /** `API_PATH` of the node proxy (often empty). */
  readonly apiPath: string;
  /** `PKG_NAME`: the algorithm module (set by the image, read raw). */
  readonly pkgName: string | undefined;
  /** `ALGORITHM_METHOD` (v5). */
  readonly algorithmMethod: string | undefined;
  /** `TASK_ID` (v5). */
  readonly taskId: string | undefined;
  /** `NODE_ID` (v5). */
  readonly nodeId: string | undefined;
  /** `ORGANIZATION_ID` (v5). */
  readonly organizationId: string | undefined;
  /** `COLLABORATION_ID` (v5). */
  readonly collaborationId: string | undefined;
  /** True when `CONTAINER_TOKEN` (v5, central containers only) is set. Read it with {@link ContainerEnv.containerToken}. */
  readonly hasContainerToken: boolean;
  /**
   * `USER_REQUESTED_DATAFRAMES` (v5 compute tasks): dataframe names, one group per argument of the
   * method (`;` between groups, `,` within one). Each is a Parquet file in the session folder:
   * see `dataframeFile`. Names are plain file names (no `/`, no `..`): others are refused.
   */
  readonly requestedDataframes: readonly (readonly string[])[];
  /** `USER_REQUESTED_DATABASE_LABELS` as a list. */
  readonly requestedDatabaseLabels: readonly string[];
  /** `DB_LABELS` as a list. */
  readonly dbLabels: readonly string[];
  /** Databases by label (every requested label and every `DB_LABELS` label). */
  readonly databases: ReadonlyMap<string, DatabaseConfig>;
  /**
   * The decoded value of any variable, e.g. a setting from the node's `algorithm_env`.
   * @param name - the variable name.
   */
  get(name: string): string | undefined;
  /** The v5 `CONTAINER_TOKEN`. Secret: never log it. Not enumerable, so it never shows up in `JSON.stringify` or `console.log`. */
  containerToken(): string | undefined;
}

/**
 * Which contract the node uses: `v5` when `ALGORITHM_METHOD` is set (non-empty), `v4` otherwise.
 *
 * @param env - the environment (default `process.env`).
 * @returns `'v4'` or `'v5'`.
 * @example
 * detectContractVersion({ ALGORITHM_METHOD: 'partial' }) // 'v5'
 */
export function detectContractVersion(env: NodeJS.ProcessEnv = process.env): ContractVersion {
  if (typeof env !== 'object' || env === null) throw new InvalidArgumentError(`"env" must be an object, got ${describeType(env)}`);
  const m = env.ALGORITHM_METHOD;
  return typeof m === 'string' && m.length > 0 ? 'v5' : 'v4';
}

function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const seen = new Set<string>();
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t.length > 0) seen.add(t);
  }
  return [...seen];
}

/**
 * Read and decode the container environment.
 *
 * Nothing here is required: a missing variable gives `undefined` (or an empty list), and the
 * caller that needs it reports the problem. `PORT` that is not a port number is ignored (the
 * version's default is used).
 *
 * @param env - the environment (default `process.env`).
 * @returns the decoded, typed environment.
 * @throws {@link InvalidArgumentError} when `env` is not an object.
 * @example
 * const env = readContainerEnv();
 * const db = env.databases.get('default');
 */
export function readContainerEnv(env: NodeJS.ProcessEnv = process.env): ContainerEnv {
  if (typeof env !== 'object' || env === null) throw new InvalidArgumentError(`"env" must be an object, got ${describeType(env)}`);
  const snapshot = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string') snapshot.set(k, v);
  const get = (name: string): string | undefined => {
    const raw = snapshot.get(name);
    return raw === undefined ? undefined : decodeEnvValue(raw);
  };
  const nonEmpty = (name: string): string | undefined => {
    const v = get(name);
    return v === undefined || v.length === 0 ? undefined : v;
  };
  const contractVersion = detectContractVersion(env);
  const portText = nonEmpty('PORT');
  const portNum = portText !== undefined && /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  const port = portNum >= 1 && portNum <= 65535 ? portNum : DEFAULT_PROXY_PORT[contractVersion];

  const requestedDatabaseLabels = splitList(get('USER_REQUESTED_DATABASE_LABELS'));
  const dbLabels = splitList(get('DB_LABELS'));
  const databases = new Map<string, DatabaseConfig>();
  for (const label of [...requestedDatabaseLabels, ...dbLabels]) {
    if (databases.has(label)) continue;
    const prefix = label.toUpperCase();
    const paramPrefix = `${prefix}_DB_PARAM_`;
    const params = new Map<string, string>();
    for (const key of snapshot.keys()) {
      if (key.startsWith(paramPrefix) && key.length > paramPrefix.length) params.set(key.slice(paramPrefix.length), get(key)!);
    }
    let preprocessing: unknown;
    const pre = nonEmpty(`${prefix}_PREPROCESSING`);
    if (pre !== undefined) {
      try {
        preprocessing = JSON.parse(pre);
      } catch {
        preprocessing = undefined;
      }
    }
    databases.set(
      label,
      Object.freeze({
        label,
        uri: get(`${prefix}_DATABASE_URI`),
        type: nonEmpty(`${prefix}_DATABASE_TYPE`),
        query: get(`${prefix}_QUERY`),
        sheetName: get(`${prefix}_SHEET_NAME`),
        preprocessing,
        params,
      }),
    );
  }

  const result = {
    contractVersion,
    inputFile: nonEmpty('INPUT_FILE'),
    outputFile: nonEmpty('OUTPUT_FILE'),
    tokenFile: nonEmpty('TOKEN_FILE'),
    temporaryFolder: nonEmpty('TEMPORARY_FOLDER'),
    sessionFolder: nonEmpty('SESSION_FOLDER'),
    host: nonEmpty('HOST'),
    port,
    apiPath: get('API_PATH') ?? '',
    pkgName: snapshot.get('PKG_NAME') || undefined,
    algorithmMethod: nonEmpty('ALGORITHM_METHOD'),
    taskId: nonEmpty('TASK_ID'),
    nodeId: nonEmpty('NODE_ID'),
    organizationId: nonEmpty('ORGANIZATION_ID'),
    collaborationId: nonEmpty('COLLABORATION_ID'),
    hasContainerToken: nonEmpty('CONTAINER_TOKEN') !== undefined,
    requestedDataframes: parseDataframes(nonEmpty('USER_REQUESTED_DATAFRAMES')),
    requestedDatabaseLabels: Object.freeze(requestedDatabaseLabels),
    dbLabels: Object.freeze(dbLabels),
    databases,
  };
  Object.defineProperty(result, 'get', { value: get, enumerable: false });
  Object.defineProperty(result, 'containerToken', { value: () => nonEmpty('CONTAINER_TOKEN')?.trim(), enumerable: false });
  return Object.freeze(result) as unknown as ContainerEnv;
}

/** Parse `USER_REQUESTED_DATAFRAMES`: groups split by `;`, names by `,`; names must be plain file names. */
function parseDataframes(value: string | undefined): readonly (readonly string[])[] {
  if (value === undefined) return Object.freeze([]);
  const groups = value.split(';').map((g) =>
    Object.freeze(
      g
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '')
        .map((n) => {
          if (n.length > 255 || n === '.' || n === '..' || /[/\\\0]/.test(n)) {
            throw new Vantage6Error(ErrorCode.VANTAGE6, 'USER_REQUESTED_DATAFRAMES names a dataframe that is not a plain file name');
          }
          return n;
        }),
    ),
  );
  return Object.freeze(groups.filter((g) => g.length > 0));
}
