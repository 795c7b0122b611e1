/**
 * Running an algorithm function the way a vantage6 node expects: read `INPUT_FILE`, call the
 * requested method, write its JSON result to `OUTPUT_FILE`, exit 1 on any error.
 *
 * ## Calling convention
 *
 * Every algorithm method is called as
 *
 * ```ts
 * async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<unknown>
 * ```
 *
 * - `kwargs` is the keyword-argument object: `input.kwargs` under v4, the whole input file under v5.
 *   It is always a fresh plain object (never `undefined`). The input is JSON as vantage6's Python
 *   client writes it: `NaN`, `Infinity` and `-Infinity` literals read as those numbers, integers
 *   beyond 2^53 as `bigint`.
 * - `ctx` is the {@link AlgorithmContext}: the contract version, the method name, v4 positional
 *   arguments (`ctx.args`, empty under v5), the decoded environment, the databases, the temporary
 *   folder, the organization and task ids, and `ctx.client` (the node-proxy client).
 * - The return value (or what its promise resolves to) is written as JSON. `bigint` becomes a JSON
 *   integer with all digits; typed arrays become arrays; `NaN`, `Infinity`, `Map`, `Set`,
 *   functions and class instances without `toJSON()` are refused with an error naming the path.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { constants as fsConstants } from 'node:fs';
import { access, open, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AbortedError, CouplerError, ErrorCode, InvalidArgumentError, Vantage6Error, describeType } from '../errors';
import { decodeEnvValue, decodeProcessLevelVariables, readContainerEnv, type ContainerEnv, type ContractVersion, type DatabaseConfig } from './env';
import { decodeTokenClaims, nodeProxyClientFromEnv, readContainerToken, type ContainerClaims, type NodeProxyClient } from './proxy-client';
import { MAX_JSON_DEPTH, jsonNestsDeeperThan, parseContractJson, toContractJson } from './_json';
import { KEY_EXCHANGE_METHOD, deleteKeyFile, keyFileOfInput, keySubtask } from './keys';

/** Largest `INPUT_FILE` accepted, in bytes (checked before parsing). */
export const DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024;
/** Largest JSON output written to `OUTPUT_FILE`, in bytes. */
export const DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024;
/** Longest error line printed, in characters. */
const MAX_ERROR_LINE = 500;
const METHOD_NAME_RE = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;
const FORBIDDEN_METHODS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Where the runtime writes its own messages. Each call receives one line without secrets. */
export interface Logger {
  /** Progress. */
  info(message: string): void;
  /** Something odd that does not stop the run. */
  warn(message: string): void;
  /** The run failed. */
  error(message: string): void;
  /** Detail for troubleshooting (normal but noisy events); optional. */
  debug?(message: string): void;
}

/** A logger writing `[coupler] <level>: <message>` lines to stderr. */
export const stderrLogger: Logger = Object.freeze({
  info: (m: string) => void process.stderr.write(`[coupler] info: ${m}\n`),
  warn: (m: string) => void process.stderr.write(`[coupler] warn: ${m}\n`),
  error: (m: string) => void process.stderr.write(`[coupler] error: ${m}\n`),
  /** Printed only with COUPLER_LOG_LEVEL=debug (raw, or base32 as a node sets every value it passes on, like the other COUPLER_* variables). */
  debug: (m: string) => {
    const level = process.env.COUPLER_LOG_LEVEL;
    if (level !== undefined && decodeEnvValue(level).trim().toLowerCase() === 'debug') process.stderr.write(`[coupler] debug: ${m}\n`);
  },
});

/** What an algorithm method receives besides its keyword arguments. */
export interface AlgorithmContext {
  /** `v4` or `v5`. */
  readonly contractVersion: ContractVersion;
  /** The method being run. */
  readonly method: string;
  /** v4 positional arguments (`input.args`); always empty under v5. */
  readonly args: readonly unknown[];
  /** The decoded container environment. */
  readonly env: ContainerEnv;
  /** `TEMPORARY_FOLDER`: shared by this job's containers on this node. */
  readonly temporaryFolder: string | undefined;
  /**
   * Where coupler keeps state between the containers of one computation on this node (the key
   * subtask's secret key): `TEMPORARY_FOLDER` under v4 (one volume per job, shared by the parent
   * and its subtasks), `SESSION_FOLDER` under v5 (shared by the tasks of one session). Undefined
   * when the node set neither.
   */
  readonly stateFolder: string | undefined;
  /** The databases the node made available, by label. */
  readonly databases: ReadonlyMap<string, DatabaseConfig>;
  /** This container's organization id (`ORGANIZATION_ID`, else the token's `organization_id`). */
  readonly organizationId: string | undefined;
  /** This container's task id (`TASK_ID`, else the token's `task_id`). */
  readonly taskId: string | undefined;
  /** True when a container token is available (v4 always; v5 central containers only). */
  readonly hasToken: boolean;
  /** The token's claims, or `undefined` without a token. */
  readonly claims: ContainerClaims | undefined;
  /**
   * The node-proxy client, created on first use.
   * @throws {@link Vantage6Error} when there is no token or no `HOST`.
   */
  readonly client: NodeProxyClient;
  /** The runtime's logger. */
  readonly logger: Logger;
  /** Aborted when the caller of {@link runAlgorithm} aborts. */
  readonly signal: AbortSignal | undefined;
}

/** An algorithm method: see the calling convention in this module's documentation. */
export type AlgorithmFunction = (kwargs: Record<string, unknown>, ctx: AlgorithmContext) => unknown;

/** An algorithm module: its own enumerable function exports are its methods. */
export type AlgorithmModule = Readonly<Record<string, unknown>>;

/** Options of {@link runAlgorithm}. */
export interface RunAlgorithmOptions {
  /** The module object, or a module to import: a file path (absolute or relative to the working directory) or a package name. */
  readonly module: AlgorithmModule | string;
  /** The environment (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Where runtime messages go (default {@link stderrLogger}). */
  readonly logger?: Logger;
  /** Passed to the method as `ctx.signal`. */
  readonly signal?: AbortSignal;
  /** Input size cap in bytes (default {@link DEFAULT_MAX_INPUT_BYTES}). */
  readonly maxInputBytes?: number;
  /** Output size cap in bytes (default {@link DEFAULT_MAX_OUTPUT_BYTES}). */
  readonly maxOutputBytes?: number;
  /** Serve coupler's built-in methods (`coupler_key_exchange`) when the module does not export that name (default true). */
  readonly builtins?: boolean;
}

/** The parsed input of one run. */
export interface ParsedInput {
  /** Method name. */
  readonly method: string;
  /** v4 positional arguments. */
  readonly args: readonly unknown[];
  /** Keyword arguments. */
  readonly kwargs: Record<string, unknown>;
}

/** The `FUNCTION_ACTION` values of the compute steps coupler serves (vantage6 5.0 `AlgorithmStepType.is_compute`). */
const COMPUTE_ACTIONS: readonly string[] = ['central_compute', 'federated_compute'];

/** Why a step other than a compute step is refused. */
function refusedActionMessage(action: string): string {
  const shown = JSON.stringify(action.slice(0, 40));
  const why =
    action === 'data_extraction' || action === 'preprocessing'
      ? 'data extraction and preprocessing must write Parquet; use vantage6\'s own algorithm tools for them'
      : action === 'postprocessing'
        ? 'postprocessing is not a compute step; give the function the step type central_compute or federated_compute'
        : 'not a step type coupler knows';
  return `FUNCTION_ACTION is ${shown}: coupler runs compute steps only (central_compute, federated_compute): ${why}`;
}

function contractError(message: string): Vantage6Error {
  return new Vantage6Error(ErrorCode.VANTAGE6, message);
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse input file bytes under a contract version.
 *
 * - v4: a JSON object `{ "method": string, "args"?: array, "kwargs"?: object }`.
 * - v5: the keyword-argument object (an empty file or `null` means `{}`); the method is `method`.
 *
 * @param bytes - the file content.
 * @param version - the contract version.
 * @param v5Method - `ALGORITHM_METHOD` (v5 only).
 * @returns the method, positional and keyword arguments.
 * @throws {@link Vantage6Error} (`COUPLER_ERR_VANTAGE6`) describing the problem, never the input.
 * @example
 * parseInput(Buffer.from('{"method":"sum","kwargs":{"column":"age"}}'), 'v4')
 */
export function parseInput(bytes: Uint8Array, version: ContractVersion, v5Method?: string): ParsedInput {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw contractError('INPUT_FILE is not valid UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  if (text.trim().length === 0) value = null;
  else {
    // As results are (decodeResultField): deeper would overflow every recursive walk of the
    // kwargs after parsing (joinPeerGroup's agreeOn digest, canonicalJson, the algorithm's own).
    if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) throw contractError(`INPUT_FILE is nested deeper than ${MAX_JSON_DEPTH}`);
    try {
      value = parseContractJson(text);
    } catch {
      throw contractError('INPUT_FILE is not valid JSON (only JSON input is supported; pickled input from vantage6 < 4 is not)');
    }
  }
  if (version === 'v5') {
    if (typeof v5Method !== 'string' || v5Method.length === 0) throw contractError('ALGORITHM_METHOD is not set');
    if (value === null) value = {};
    if (!isPlainRecord(value)) throw contractError(`INPUT_FILE must hold a JSON object of keyword arguments, got ${describeType(value)}`);
    return { method: v5Method, args: [], kwargs: { ...value } };
  }
  if (!isPlainRecord(value)) throw contractError(`INPUT_FILE must hold a JSON object {method, args, kwargs}, got ${describeType(value)}`);
  if (typeof value.method !== 'string' || value.method.length === 0) throw contractError('INPUT_FILE field "method" must be a non-empty string');
  const args = value.args ?? [];
  if (!Array.isArray(args)) throw contractError(`INPUT_FILE field "args" must be an array, got ${describeType(args)}`);
  const kwargs = value.kwargs ?? {};
  if (!isPlainRecord(kwargs)) throw contractError(`INPUT_FILE field "kwargs" must be an object, got ${describeType(kwargs)}`);
  return { method: value.method, args: [...(args as unknown[])], kwargs: { ...kwargs } };
}

function ownFunctions(obj: unknown): Map<string, AlgorithmFunction> {
  const out = new Map<string, AlgorithmFunction>();
  if ((typeof obj !== 'object' && typeof obj !== 'function') || obj === null) return out;
  for (const key of Object.keys(obj)) {
    if (FORBIDDEN_METHODS.has(key)) continue;
    const v = (obj as Record<string, unknown>)[key];
    if (typeof v === 'function') out.set(key, v as AlgorithmFunction);
  }
  return out;
}

/**
 * The methods a module offers: its own enumerable function exports, or, when it has none but a
 * `default` export that is an object (CommonJS `module.exports = {...}`, `export default {...}`),
 * that object's own enumerable functions.
 *
 * @param mod - the module namespace or object.
 * @returns method names mapped to functions.
 */
export function listMethods(mod: AlgorithmModule): Map<string, AlgorithmFunction> {
  const direct = ownFunctions(mod);
  const dflt = isPlainRecord(mod) && Object.prototype.propertyIsEnumerable.call(mod, 'default') ? mod.default : undefined;
  if (isPlainRecord(dflt)) for (const [k, v] of ownFunctions(dflt)) if (!direct.has(k)) direct.set(k, v);
  direct.delete('default');
  return direct;
}

/**
 * Pick the method to run. Only own enumerable function exports qualify; `__proto__`,
 * `constructor`, `prototype` and names that are not identifiers are refused.
 *
 * @param mod - the module.
 * @param name - the requested method.
 * @param builtins - fallbacks when the module does not export `name`.
 * @returns the function.
 * @throws {@link Vantage6Error} listing the available methods.
 */
export function resolveMethod(mod: AlgorithmModule, name: string, builtins: ReadonlyMap<string, AlgorithmFunction> = new Map()): AlgorithmFunction {
  const shown = JSON.stringify(String(name).slice(0, 64));
  if (typeof name !== 'string' || !METHOD_NAME_RE.test(name) || FORBIDDEN_METHODS.has(name)) {
    throw contractError(`method name ${shown} is not allowed (an identifier other than __proto__, constructor, prototype is required)`);
  }
  const methods = listMethods(mod);
  const fn = methods.get(name) ?? builtins.get(name);
  if (fn !== undefined) return fn;
  const names = [...methods.keys()].sort();
  const list = names.length === 0 ? 'none' : names.slice(0, 40).join(', ') + (names.length > 40 ? `, ... (${names.length} in all)` : '');
  throw contractError(`unknown method ${shown}; the algorithm module exports: ${list}`);
}

function isPathLike(spec: string): boolean {
  return isAbsolute(spec) || spec.startsWith('./') || spec.startsWith('../') || /\.(?:[cm]?js|[cm]?ts)$/.test(spec) || spec.includes('\\');
}

/**
 * Node's error codes for a TypeScript module it cannot run itself (tsx or a build step would):
 * no type stripping at all (Node 20), syntax that needs transforming (enums, namespaces, parameter
 * properties), a .ts file under node_modules, a Node built without its TypeScript support.
 */
const TS_LOADER_NEEDED: ReadonlySet<string> = new Set([
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
  'ERR_NO_TYPESCRIPT',
]);

/**
 * Import an algorithm module: a path (absolute or relative to the working directory) or a
 * package name (resolved from the working directory first, then from coupler's location).
 *
 * @param spec - the module (`PKG_NAME`).
 * @returns the module namespace.
 * @throws {@link Vantage6Error} when it cannot be imported (with the first line of the cause).
 */
export async function importAlgorithmModule(spec: string): Promise<AlgorithmModule> {
  if (typeof spec !== 'string' || spec.trim().length === 0) throw contractError('no algorithm module: PKG_NAME is not set');
  const target = spec.trim();
  let url: string;
  if (isPathLike(target)) url = pathToFileURL(resolve(target)).href;
  else {
    try {
      url = pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve(target)).href;
    } catch {
      url = target;
    }
  }
  try {
    return (await import(url)) as AlgorithmModule;
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
    // A TypeScript module Node cannot run by itself needs a loader (tsx) or a build step; say so
    // instead of Node's message. Node 20 refuses every .ts (ERR_UNKNOWN_FILE_EXTENSION); Node
    // >= 22.18 / 23.6 strips erasable types itself and refuses the rest with codes of its own.
    const code = (err as NodeJS.ErrnoException)?.code;
    const ts = (/\.[cm]?ts$/.test(target) || /\.[cm]?ts$/.test(url)) && code !== undefined && TS_LOADER_NEEDED.has(code);
    const hint = ts ? ' — a TypeScript module needs tsx (npm install --save-dev tsx; coupler simulate then runs it with --import tsx) or compile it to JavaScript first (the example Dockerfiles do, with esbuild)' : '';
    throw new Vantage6Error(ErrorCode.VANTAGE6, `cannot import the algorithm module ${JSON.stringify(target.slice(0, 200))}: ${first}${hint}`, { cause: err });
  }
}

async function readCapped(path: string, cap: number): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw contractError(`cannot open INPUT_FILE (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw contractError('INPUT_FILE is not a regular file');
    if (st.size > cap) throw contractError(`INPUT_FILE is ${st.size} bytes; the limit is ${cap}`);
    const buf = Buffer.alloc(Math.min(cap + 1, Math.max(st.size, 0) + 1));
    let total = 0;
    for (;;) {
      if (total === buf.length) throw contractError(`INPUT_FILE is larger than the limit of ${cap} bytes`);
      const { bytesRead } = await handle.read(buf, total, buf.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > cap) throw contractError(`INPUT_FILE is larger than the limit of ${cap} bytes`);
    }
    return buf.subarray(0, total);
  } finally {
    await handle.close();
  }
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`"${name}" must be a positive integer, got ${describeType(value)}`);
  return value;
}

/** A CouplerError thrown by another copy of the library (ESM next to CJS): the code is what counts. */
function isCouplerErrorLike(err: unknown): err is Error & { code: string } {
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('COUPLER_ERR_');
}

/**
 * Describe an error in one line for the container log: the error code (for coupler errors) or
 * class name, and the message with newlines collapsed, secrets redacted and the length capped.
 * Never a stack trace.
 *
 * @param err - what was thrown.
 * @param secrets - strings to redact (e.g. the token).
 * @returns one line.
 */
export function formatErrorLine(err: unknown, secrets: readonly string[] = []): string {
  let line: string;
  if (err instanceof CouplerError || isCouplerErrorLike(err)) line = `${err.code}: ${err.message}`;
  else if (err instanceof Error) line = `${err.name || 'Error'}: ${err.message}`;
  else line = `the algorithm threw a non-Error value (${describeType(err)})`;
  for (const s of secrets) if (s.length >= 8) line = line.split(s).join('[redacted]');
  line = line.replace(/[\r\n\t]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '?');
  return line.length > MAX_ERROR_LINE ? `${line.slice(0, MAX_ERROR_LINE)}...` : line;
}

/** Where coupler keeps state between a computation's containers on this node (see {@link AlgorithmContext.stateFolder}). */
function stateFolderOf(env: ContainerEnv): string | undefined {
  return env.contractVersion === 'v5' ? (env.sessionFolder ?? env.temporaryFolder) : (env.temporaryFolder ?? env.sessionFolder);
}

/** The variable {@link stateFolderOf} took the folder from. */
function stateFolderVariable(env: ContainerEnv): string {
  const folder = stateFolderOf(env);
  return folder !== undefined && folder === env.sessionFolder ? 'SESSION_FOLDER' : 'TEMPORARY_FOLDER';
}

/** For a permission error: who owns the path and who this process is (the usual cause: a file the node made for root). */
async function ownership(path: string, code: string): Promise<string> {
  if ((code !== 'EACCES' && code !== 'EPERM') || typeof process.getuid !== 'function') return '';
  try {
    const st = await stat(path);
    return `: it is owned by uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o777).toString(8)}, and this process runs as uid ${process.getuid()}, gid ${process.getgid?.()}`;
  } catch {
    return '';
  }
}

/** The advice for a task file or folder this user cannot write. */
const NOT_WRITABLE_HINT = 'checked before the method runs; a stock vantage6 node creates the task files for root: run the image as root (the default) or give them to this user';

/**
 * Fail before the method runs (and before it joins a group for a long multi-party run) when its
 * result could not be written: `OUTPUT_FILE` is opened for writing without truncating it, or, when
 * the node did not create it, its folder must let this user create it.
 */
async function checkOutputWritable(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r+');
    await handle.close();
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code !== 'ENOENT') throw contractError(`cannot write OUTPUT_FILE (${code})${await ownership(path, code)}; ${NOT_WRITABLE_HINT}`);
  }
  const folder = dirname(path);
  try {
    await access(folder, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw contractError(`cannot write OUTPUT_FILE (${code}): it does not exist and its folder cannot take it${await ownership(folder, code)}; ${NOT_WRITABLE_HINT}`);
  }
}

/** The state folder must be a folder this user can create and delete files in (the key subtask's key file). */
async function checkStateFolderWritable(env: ContainerEnv, why: string): Promise<void> {
  const folder = stateFolderOf(env);
  const name = stateFolderVariable(env);
  if (folder === undefined) return; // the method says what is missing when it needs it
  let code: string | undefined;
  try {
    if (!(await stat(folder)).isDirectory()) code = 'ENOTDIR';
    else await access(folder, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    code = (err as NodeJS.ErrnoException).code ?? 'error';
  }
  if (code !== undefined) throw contractError(`cannot write the state folder ${name} (${code})${await ownership(folder, code)}: ${why}; ${NOT_WRITABLE_HINT}`);
}

function createContext(env: ContainerEnv, parsed: ParsedInput, logger: Logger, signal: AbortSignal | undefined, token: string | undefined): AlgorithmContext {
  let claims: ContainerClaims | undefined | null = null;
  const getClaims = (): ContainerClaims | undefined => {
    if (claims === null) {
      try {
        claims = token === undefined ? undefined : decodeTokenClaims(token);
      } catch {
        claims = undefined;
      }
    }
    return claims;
  };
  let client: NodeProxyClient | undefined;
  const ctx = {
    contractVersion: env.contractVersion,
    method: parsed.method,
    args: Object.freeze([...parsed.args]),
    env,
    temporaryFolder: env.temporaryFolder,
    stateFolder: stateFolderOf(env),
    databases: env.databases,
    hasToken: token !== undefined,
    logger,
    signal,
  };
  Object.defineProperties(ctx, {
    organizationId: {
      enumerable: true,
      get: () => env.organizationId ?? (getClaims()?.organizationId === undefined ? undefined : String(getClaims()!.organizationId)),
    },
    taskId: {
      enumerable: true,
      get: () => env.taskId ?? (getClaims()?.taskId === undefined ? undefined : String(getClaims()!.taskId)),
    },
    claims: { enumerable: false, get: getClaims },
    client: {
      enumerable: false,
      get: () => {
        client ??= nodeProxyClientFromEnv(env);
        return client;
      },
    },
  });
  return Object.freeze(ctx) as unknown as AlgorithmContext;
}

/**
 * Run one algorithm method under the vantage6 container contract: read `INPUT_FILE` (size-capped),
 * pick the method (v4: `input.method`; v5: `ALGORITHM_METHOD`), call it as
 * `fn(kwargs, ctx)`, await it, write the JSON result to `OUTPUT_FILE` as UTF-8.
 *
 * It never throws: failures are reported as one line through the logger (no stack, token
 * redacted) and give exit code 1.
 *
 * A compute subtask started by `runPeerTasks` (its kwargs name a `keyTaskId`) has its key file in
 * the state folder deleted when it ends — on success, on error, and as soon as `signal` aborts —
 * whether or not the method read it.
 *
 * @param options - the module, environment, logger and limits.
 * @returns 0 on success, 1 on any failure.
 * @example
 * const code = await runAlgorithm({ module: { partial: async (kwargs, ctx) => ({ n: 1 }) } });
 * process.exitCode = code;
 */
export async function runAlgorithm(options: RunAlgorithmOptions): Promise<number> {
  const logger = options?.logger ?? stderrLogger;
  let token: string | undefined;
  // A compute subtask's key file (option 2 key exchange): deleted when the subtask ends, however
  // it ends, and at once when the run is aborted (SIGTERM may be followed by a hard exit).
  let keyFile: string | undefined;
  const discardKey = (): void => {
    if (keyFile === undefined) return;
    const kept = deleteKeyFile(keyFile);
    if (kept !== undefined) logger.warn(`could not delete the key file ${keyFile} (${kept})`);
    keyFile = undefined;
  };
  const signal = typeof options === 'object' && options !== null ? options.signal : undefined;
  signal?.addEventListener('abort', discardKey, { once: true });
  try {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
    const maxInput = positiveInt('maxInputBytes', options.maxInputBytes, DEFAULT_MAX_INPUT_BYTES);
    const maxOutput = positiveInt('maxOutputBytes', options.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES);
    const env = readContainerEnv(options.env ?? process.env);
    if (env.inputFile === undefined) throw contractError('INPUT_FILE is not set');
    if (env.outputFile === undefined) throw contractError('OUTPUT_FILE is not set');
    if (env.hasContainerToken || env.tokenFile !== undefined) {
      try {
        token = readContainerToken(env);
      } catch (err) {
        logger.warn(`no usable container token: ${formatErrorLine(err)}`);
      }
    }
    // vantage6 5 names the step in FUNCTION_ACTION (vantage6-common/vantage6/common/enum.py,
    // AlgorithmStepType, 5.0): data extraction and preprocessing must write Parquet, and
    // postprocessing is not a compute step either (AlgorithmStepType.is_compute). coupler serves
    // the compute steps only: refuse every other before running anything.
    const action = env.get('FUNCTION_ACTION');
    if (action !== undefined && action !== '' && !COMPUTE_ACTIONS.includes(action)) throw contractError(refusedActionMessage(action));
    const parsed = parseInput(await readCapped(env.inputFile, maxInput), env.contractVersion, env.algorithmMethod);
    if (parsed.method !== KEY_EXCHANGE_METHOD) keyFile = keyFileOfInput(parsed.kwargs, stateFolderOf(env));
    if (signal?.aborted === true) discardKey();
    const mod = typeof options.module === 'string' ? await importAlgorithmModule(options.module) : options.module;
    if ((typeof mod !== 'object' && typeof mod !== 'function') || mod === null) {
      throw new InvalidArgumentError(`"module" must be a module object or a module path, got ${describeType(mod)}`);
    }
    const builtins = new Map<string, AlgorithmFunction>();
    if (options.builtins !== false) builtins.set(KEY_EXCHANGE_METHOD, (_kwargs, ctx) => keySubtask(ctx));
    const fn = resolveMethod(mod, parsed.method, builtins);
    await checkOutputWritable(env.outputFile);
    if (parsed.method === KEY_EXCHANGE_METHOD) await checkStateFolderWritable(env, 'the key subtask saves its secret key there');
    else if (keyFile !== undefined) await checkStateFolderWritable(env, 'the secret key of the key subtask must be deleted from it after use');
    const ctx = createContext(env, parsed, logger, options.signal, token);
    logger.info(`running method "${parsed.method}" (contract ${env.contractVersion})`);
    const result: unknown = await fn(parsed.kwargs, ctx);
    const json = toContractJson(result, maxOutput);
    const bytes = Buffer.from(json, 'utf8');
    if (bytes.length > maxOutput) throw contractError(`the result is ${bytes.length} bytes of JSON; the limit is ${maxOutput}`);
    try {
      await writeFile(env.outputFile, bytes);
    } catch (err) {
      throw contractError(`cannot write OUTPUT_FILE (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    logger.info(`method "${parsed.method}" finished; wrote ${bytes.length} bytes`);
    return 0;
  } catch (err) {
    const secrets = token === undefined ? [] : [token];
    if (signal?.aborted === true && err !== signal.reason) {
      // Stopped (SIGTERM/SIGINT in `coupler run`): what the method threw is the consequence (its
      // group closed under it: "the group is closed"); the first thing the line says is why.
      const why = signal.reason instanceof Error && signal.reason.message !== '' ? signal.reason.message : 'stopped';
      logger.error(formatErrorLine(new AbortedError(`${why}; the method ended with ${formatErrorLine(err, secrets)}`), secrets));
    } else {
      logger.error(formatErrorLine(err, secrets));
    }
    return 1;
  } finally {
    signal?.removeEventListener('abort', discardKey);
    discardKey();
  }
}

/**
 * The container entry point (what `coupler run` calls): decode the node-encoded variables that
 * libraries read from `process.env` ({@link decodeProcessLevelVariables}), import the module named
 * by `PKG_NAME`, run it with {@link runAlgorithm}, and set `process.exitCode`.
 *
 * @param env - the environment (default `process.env`).
 * @param options - logger and limits.
 * @returns the exit code (0 or 1), also stored in `process.exitCode`.
 * @example
 * // src/cli: case 'run': process.exitCode = await runContainerMain(process.env);
 */
export async function runContainerMain(
  env: NodeJS.ProcessEnv = process.env,
  options: Omit<RunAlgorithmOptions, 'module' | 'env'> = {},
): Promise<number> {
  const logger = options.logger ?? stderrLogger;
  // What the relay dial reads from process.env itself (proxy variables, COUPLER_RELAY_CA) arrives
  // base32-encoded from a node, like every value it sets: decode those in place first.
  decodeProcessLevelVariables(process.env);
  const spec = env.PKG_NAME;
  let code: number;
  if (spec === undefined || spec.trim().length === 0) {
    logger.error(`${ErrorCode.VANTAGE6}: PKG_NAME is not set: it must name the algorithm module (a path or a package name)`);
    code = 1;
  } else {
    code = await runAlgorithm({ ...options, module: spec, env, logger });
  }
  process.exitCode = code;
  return code;
}
