/**
 * `coupler/vantage6`: run coupler algorithms as vantage6 algorithm containers.
 *
 * ## The container contract
 *
 * A vantage6 node starts the algorithm image with files and environment variables
 * (`INPUT_FILE`, `OUTPUT_FILE`, `TOKEN_FILE`, `TEMPORARY_FOLDER`, `HOST`/`PORT`/`API_PATH` of the
 * node proxy, `<LABEL>_DATABASE_URI` ...), every value base32-encoded with `!` for `=` since
 * vantage6 4.2 ({@link readContainerEnv} decodes them). Under v4 the input file holds
 * `{"method", "args", "kwargs"}`; under v5 the method comes in `ALGORITHM_METHOD` and the input
 * file holds the keyword arguments. The container writes the method's JSON result to
 * `OUTPUT_FILE` and exits 1 on any error.
 *
 * {@link runAlgorithm} (and {@link runContainerMain}, what `coupler run` calls, with the module
 * named by `PKG_NAME`) does all of that. Algorithm methods are plain exported functions called as
 *
 * ```ts
 * export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext) { ... }
 * ```
 *
 * with the keyword arguments first and the {@link AlgorithmContext} second (v4 positional
 * arguments are in `ctx.args`).
 *
 * ## Talking to the node proxy
 *
 * `ctx.client` is a {@link NodeProxyClient}: create subtasks, wait for their results (polling
 * with exponential backoff under a deadline), list organizations, read the v4 VPN addresses.
 * Every request has a timeout and a response-size cap; errors never contain the token.
 *
 * ## Keys, rosters and the central pattern
 *
 * {@link runPeerTasks} is the v4 MPC pattern in one call: a key subtask at every station
 * ({@link keySubtask}, served automatically as the method `coupler_key_exchange`), a roster built
 * from the server-attributed results ({@link buildRosterFromResults}), the compute subtasks with
 * `{roster, sessionId, keyTaskId}` added to their kwargs, and an agreement check on their results
 * ({@link checkAgreement}). In the compute method, {@link loadPeerSession} returns the identity,
 * roster and session id; with operator-provisioned keys it reads `COUPLER_IDENTITY_FILE` and
 * `COUPLER_ROSTER_FILE` instead ({@link loadProvisionedIdentity}). {@link vantage6VpnDiscovery}
 * finds the peers' addresses on the v4 VPN.
 *
 * @example
 * ```ts
 * import { runPeerTasks, loadPeerSession, type AlgorithmContext } from 'coupler/vantage6';
 *
 * export async function central(kwargs: Record<string, unknown>, ctx: AlgorithmContext) {
 *   const orgs = (await ctx.client.listOrganizations()).map((o) => o.id);
 *   const { result } = await runPeerTasks({ client: ctx.client, organizations: orgs, method: 'partial', kwargs });
 *   return result;
 * }
 *
 * export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext) {
 *   const { identity, roster, sessionId } = await loadPeerSession(kwargs, ctx);
 *   // open the group with vantage6VpnDiscovery({ client: ctx.client }) and run the secure sum
 * }
 * ```
 *
 * @packageDocumentation
 */
export {
  type ContractVersion,
  type ContainerEnv,
  type DatabaseConfig,
  type DatabaseType,
  DEFAULT_PROXY_PORT,
  decodeBase32,
  decodeEnvValue,
  decodeProcessLevelVariables,
  PROCESS_LEVEL_VARIABLES,
  detectContractVersion,
  readContainerEnv,
} from './env';
export {
  type AlgorithmContext,
  type AlgorithmFunction,
  type AlgorithmModule,
  type Logger,
  type ParsedInput,
  type RunAlgorithmOptions,
  DEFAULT_MAX_INPUT_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES,
  formatErrorLine,
  importAlgorithmModule,
  listMethods,
  parseInput,
  resolveMethod,
  runAlgorithm,
  runContainerMain,
  stderrLogger,
} from './contract';
export {
  type ContainerClaims,
  type CreateSubtaskOptions,
  type CreatedTask,
  type NodeProxyClient,
  type NodeProxyClientInit,
  type OrganizationInfo,
  type ProxyRequestOptions,
  type RunInfo,
  type SubtaskOrganization,
  type SubtaskResult,
  type VpnAddress,
  type VpnAddressQuery,
  type WaitForResultsOptions,
  DEFAULT_MAX_PAGES,
  DEFAULT_MAX_POLL_INTERVAL_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_MAX_LIST_BYTES,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  MAX_TASK_DESCRIPTION_LENGTH,
  MAX_TASK_NAME_LENGTH,
  ProxyRequestError,
  createNodeProxyClient,
  decodeTokenClaims,
  nodeProxyClientFromEnv,
  proxyBaseUrl,
  readContainerToken,
} from './proxy-client';
export { type Vantage6VpnDiscoveryInit, DEFAULT_VPN_LABEL, DEFAULT_VPN_LOOKUP_TIMEOUT_MS, vantage6VpnDiscovery } from './vpn-discovery';
export {
  type BuildRosterOptions,
  type PeerSession,
  type ProvisionedIdentityOptions,
  type PublicKeyAnnouncement,
  IDENTITY_FILE_VARIABLE,
  KEY_EXCHANGE_METHOD,
  ROSTER_FILE_VARIABLE,
  buildRosterFromResults,
  identityPath,
  keySubtask,
  loadPeerSession,
  loadProvisionedIdentity,
} from './keys';
export { type PeerTasksOutcome, type RunPeerTasksOptions, RESERVED_KWARGS, canonicalJson, checkAgreement, runPeerTasks } from './central';
export { toContractJson } from './_json';
export { TRANSPORT_KWARGS, couplerEnv, discoveryFromEnv, joinPeerGroup, type JoinPeerGroupOptions } from './peer';
export {
  type CsvOptions,
  type Cell,
  type CsvTable,
  type DataTable,
  type NumericColumn,
  type NumericValues,
  type NumericOptions,
  type NumberColumn,
  type CellColumn,
  type Column,
  type ColumnTable,
  type CompleteRows,
  type ReadCsvOptions,
  type ReadParquetOptions,
  DEFAULT_MAX_CSV_BYTES,
  DEFAULT_MAX_PARQUET_BYTES,
  DEFAULT_MAX_ROWS,
  MAX_CSV_COLUMNS,
  MAX_PARQUET_PAGE_BYTES,
  databaseFile,
  dataframeFile,
  readStationTable,
  readStationColumns,
  type ReadStationTableOptions,
  numericColumn,
  completeRows,
  toColumnTable,
  parseCsv,
  readCsvFile,
  readParquetFile,
  readParquetColumns,
} from './data';
export {
  CouplerError,
  ErrorCode,
  InvalidArgumentError,
  RosterError,
  TimeoutError,
  AbortedError,
  Vantage6Error,
  ValueError,
  IdentityError,
  type ErrorCodeValue,
} from '../errors';
