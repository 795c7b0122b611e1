/**
 * Joining the peer group from inside an algorithm container, configured by environment variables
 * (so one image works on vantage6, a Docker Swarm, Kubernetes, and `coupler simulate`).
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `COUPLER_DISCOVERY` | `dns`, `static`, `env` or `vantage6-vpn` (comma list to combine) | `dns` if `COUPLER_DNS_NAMES` is set, else `env` if `COUPLER_PEERS` is set, else `vantage6-vpn` under vantage6 4.x (5.x has no VPN: `vantage6-vpn` and no discovery at all are refused there, with what to set) |
 * | `COUPLER_DNS_NAMES` | comma list, e.g. `tasks.sum` | — |
 * | `COUPLER_DNS_SERVERS` | comma list of `ip[:port]` | the system resolvers |
 * | `COUPLER_PEERS` | comma list of `host:port` | — |
 * | `COUPLER_PORT` | port every party listens on (and DNS names are dialled on) | 8888 |
 * | `COUPLER_LISTEN_HOST` | interface to bind | `0.0.0.0` |
 * | `COUPLER_JOIN_TIMEOUT_MS` | deadline to form the mesh | 300000 |
 * | `COUPLER_ROUND_TIMEOUT_MS` | deadline of each protocol round | 60000 |
 * | `COUPLER_PROGRESS` | `1`: log each sum's progress (phase, bytes) as `progress {json}` info lines | — |
 * | `COUPLER_STATS_FILE` | if set, per-peer traffic is written there as JSON when the group closes | — |
 * | `COUPLER_TRANSPORT` | `direct`, `relay` (egress only: every pair through the relay; no listener and no discovery unless `COUPLER_PORT` / `COUPLER_DISCOVERY` are set) or `auto` (direct, relay per pair as fallback) | `direct` |
 * | `COUPLER_RELAY_URL` | the relay for `relay`/`auto`, `ws://` or `wss://` | — |
 *
 * On vantage6 an operator sets these in the node's `algorithm_env` (4.x node configuration file;
 * 5.x `node.algorithm_env`, the node's Helm values): the node hands them to every algorithm
 * container, base32-encoded like all it sets. When the node sets no `COUPLER_TRANSPORT` or
 * `COUPLER_RELAY_URL`, the compute subtask's kwargs `couplerTransport` / `couplerRelayUrl` are used
 * instead ({@link TRANSPORT_KWARGS}); what the node sets always wins.
 *
 * @module
 */
import { transportFromEnv } from '../relay/mesh.js';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { CouplerError, ErrorCode, InvalidArgumentError, Vantage6Error, describeType } from '../errors.js';
import { echoBroadcast } from '../group/echo.js';
import { compareIds } from '../identity/roster.js';
import { canonicalJson } from './central.js';
import type { Discovery } from '../discovery/types.js';
import { dnsDiscovery } from '../discovery/dns.js';
import { envDiscovery } from '../discovery/env.js';
import { staticDiscovery } from '../discovery/static.js';
import { joinGroup, type Group, type GroupEvent, type JoinGroupOptions, type RunProgress } from '../group/group.js';
import type { AlgorithmContext } from './contract.js';
import { loadPeerSession } from './keys.js';
import { vantage6VpnDiscovery } from './vpn-discovery.js';
import { decodeEnvValue, detectContractVersion } from './env.js';

/**
 * The environment with every `COUPLER_*` value decoded like the values a vantage6 node sets
 * (base32 with `!` for `=`, falling back to the raw value), so they may come from the node's
 * algorithm environment or be set by hand.
 */
export function couplerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [k, v] of Object.entries(env)) if (k.startsWith('COUPLER_') && v !== undefined) out[k] = decodeEnvValue(v);
  return out;
}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new Vantage6Error(ErrorCode.VANTAGE6, `${name} must be an integer in ${min}..${max}`);
  return v;
}

/**
 * The kwargs a researcher may pass in a compute subtask's input when the node does not set the
 * variable: `couplerTransport` for `COUPLER_TRANSPORT`, `couplerRelayUrl` for `COUPLER_RELAY_URL`.
 * The node's setting (its operator's `algorithm_env`) always wins.
 */
export const TRANSPORT_KWARGS: Readonly<Record<'COUPLER_TRANSPORT' | 'COUPLER_RELAY_URL', string>> = Object.freeze({
  COUPLER_TRANSPORT: 'couplerTransport',
  COUPLER_RELAY_URL: 'couplerRelayUrl',
});

/** Longest `couplerRelayUrl` / `couplerTransport` kwarg accepted, in characters. */
const MAX_TRANSPORT_KWARG_CHARS = 2048;

/**
 * The decoded environment with {@link TRANSPORT_KWARGS} filled in from the kwargs where the node
 * set nothing (an empty value counts as not set). Logs where each setting came from; never the URL.
 */
function withTransportKwargs(env: NodeJS.ProcessEnv, kwargs: Record<string, unknown>, ctx: AlgorithmContext): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [variable, key] of Object.entries(TRANSPORT_KWARGS)) {
    const given = kwargs[key];
    if (given === undefined) continue;
    if (typeof given !== 'string' || given.trim() === '' || given.length > MAX_TRANSPORT_KWARG_CHARS) {
      throw new Vantage6Error(ErrorCode.VANTAGE6, `input "${key}" must be a non-empty string of at most ${MAX_TRANSPORT_KWARG_CHARS} characters`);
    }
    if ((env[variable] ?? '') !== '') {
      ctx.logger.info(`${variable} is set by the node; input "${key}" is ignored (the operator's setting wins)`);
      continue;
    }
    out[variable] = given.trim();
    ctx.logger.info(`${variable} from input "${key}" (the node sets none)`);
  }
  return out;
}

/**
 * Build the discovery methods named by the environment (see the module table).
 *
 * @param rawEnv - the environment (default `process.env`); `COUPLER_*` values may be base32 as a node sets them.
 * @param ctx - the algorithm context, needed for `vantage6-vpn`.
 * @throws {@link Vantage6Error} for an unknown method or a missing variable.
 */
export function discoveryFromEnv(rawEnv: NodeJS.ProcessEnv = process.env, ctx?: AlgorithmContext): Discovery[] {
  const env = couplerEnv(rawEnv);
  const port = intVar(env, 'COUPLER_PORT', 8888, 1, 65535);
  // vantage6 5 removed the VPN: HQ has no /vpn/algorithm/addresses (vantage6-hq/vantage6/hq/resource/,
  // 5.0) and a federated container has no token to ask the proxy with (CONTAINER_TOKEN goes to
  // central_compute only: vantage6-node/vantage6/node/k8s/container_manager.py, 5.0).
  const v5 = (ctx?.contractVersion ?? detectContractVersion(rawEnv)) === 'v5';
  let kinds = list(env.COUPLER_DISCOVERY);
  if (kinds.length === 0) kinds = env.COUPLER_DNS_NAMES ? ['dns'] : env.COUPLER_PEERS ? ['env'] : v5 ? [] : ['vantage6-vpn'];
  if (v5 && (kinds.length === 0 || kinds.includes('vantage6-vpn'))) {
    throw new Vantage6Error(
      ErrorCode.VANTAGE6,
      `vantage6 5 has no VPN to find peers through${kinds.length === 0 ? ' and no discovery is configured' : ' (COUPLER_DISCOVERY names vantage6-vpn)'}: ` +
        'set COUPLER_DISCOVERY (dns, static or env) with COUPLER_DNS_NAMES or COUPLER_PEERS, or COUPLER_TRANSPORT=relay with COUPLER_RELAY_URL (see deploy/README.md)',
    );
  }
  return kinds.map((kind): Discovery => {
    switch (kind) {
      case 'dns': {
        const names = list(env.COUPLER_DNS_NAMES);
        if (names.length === 0) throw new Vantage6Error(ErrorCode.VANTAGE6, 'COUPLER_DISCOVERY=dns needs COUPLER_DNS_NAMES');
        const servers = list(env.COUPLER_DNS_SERVERS);
        return dnsDiscovery({ names, port, ...(servers.length > 0 ? { servers } : {}) });
      }
      case 'static':
        return staticDiscovery(list(env.COUPLER_PEERS).join(','));
      case 'env':
        return envDiscovery({ env });
      case 'vantage6-vpn':
        if (ctx === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'vantage6-vpn discovery needs the algorithm context');
        return vantage6VpnDiscovery({ client: ctx.client });
      default:
        throw new Vantage6Error(ErrorCode.VANTAGE6, `COUPLER_DISCOVERY: unknown method "${kind.slice(0, 32)}" (dns, static, env, vantage6-vpn)`);
    }
  });
}

/** Options of {@link joinPeerGroup} that are not the group's own. */
export interface JoinPeerGroupOptions {
  /**
   * Names of the kwargs that define what the stations compute (a column, a threshold, bin edges):
   * every station must have been given the same values, checked with one echo round once the
   * group has formed. A vantage6 task gives each organization its own input, and whoever creates
   * it (any researcher, or the server) may give them different ones — a threshold no value reaches
   * at all stations but one makes the "pooled" count that one station's own (review20 R20-5).
   * The same list at every station (it is part of what is compared). Include the kwargs that pick
   * the data (a database label, a file path): stations pointed at data the input's author knows,
   * all but one, make the pooled result that one station's own just as well (review21 R21-3).
   * A mismatch closes the group and throws `SHAPE_MISMATCH` naming nobody:
   * the input's author did it, or a station that claims so (which any live station can do to stop a run anyway).
   */
  readonly agreeOn?: readonly string[];
}

/** Most names in {@link JoinPeerGroupOptions.agreeOn}. */
const MAX_AGREED_KWARGS = 256;

/** The digest every station compares: the names, and the values of those present, as canonical JSON. */
function inputDigest(kwargs: Record<string, unknown>, names: readonly string[]): Uint8Array {
  // No prototype: a kwarg named "__proto__" (an own property of a parsed input) is a key like any other.
  const present = Object.create(null) as Record<string, unknown>;
  for (const n of names) if (Object.prototype.hasOwnProperty.call(kwargs, n) && kwargs[n] !== undefined) present[n] = kwargs[n];
  return new Uint8Array(createHash('sha256').update('coupler-v6-input/1\n').update(canonicalJson({ names, present })).digest());
}

function checkAgreeOn(agreeOn: unknown): string[] {
  if (agreeOn === undefined) return [];
  if (!Array.isArray(agreeOn) || agreeOn.length > MAX_AGREED_KWARGS || agreeOn.some((n) => typeof n !== 'string' || n.length === 0 || n.length > 128)) {
    throw new InvalidArgumentError(`"agreeOn" must be a list of at most ${MAX_AGREED_KWARGS} kwarg names (1 to 128 characters), got ${describeType(agreeOn)}`);
  }
  return [...new Set(agreeOn as string[])].sort();
}

/**
 * One echo round over the digest of the agreed kwargs; every station sees the same digests (echo
 * checked), so all stop together when they differ. Closes the group on any failure.
 */
async function agreeOnInput(group: Group, names: readonly string[], digest: Uint8Array): Promise<void> {
  const run = group.nextRunId('v6-input');
  let values: Map<string, unknown>;
  try {
    values = await echoBroadcast(group, `${run}/d`, digest);
    group.endRun(run);
  } catch (err) {
    group.endRun(run, err);
    // A group-wide notice, not only the run's: a station that never started this round (an image
    // without agreeOn) gave this run's counter to another run, drops this run's notice, and would
    // name this station for leaving in the middle of its own run (review21 R21-4).
    await group.abort(err instanceof CouplerError ? err : ErrorCode.PROTOCOL_VIOLATION);
    throw err;
  }
  const byDigest = new Map<string, string[]>();
  for (const [party, v] of values) {
    const key = v instanceof Uint8Array && v.length === 32 ? Buffer.from(v).toString('hex') : 'malformed';
    const parties = byDigest.get(key);
    if (parties === undefined) byDigest.set(key, [party]);
    else parties.push(party);
  }
  if (byDigest.size === 1 && !byDigest.has('malformed')) return;
  const sets = [...byDigest.values()]
    .map((ps) => ps.sort(compareIds))
    .sort((a, b) => compareIds(a[0]!, b[0]!))
    .map((ps) => `{${ps.join(', ')}}`)
    .join(' vs ');
  const error = new Vantage6Error(
    ErrorCode.SHAPE_MISMATCH,
    `the stations were given different values of input ${names.map((n) => `"${n.slice(0, 40)}"`).join(', ')}: ${sets}; nothing was computed (the task gave the organizations different inputs, or a station claims so)`,
    { peers: [] },
  );
  await group.abort(error);
  throw error;
}

/**
 * In a compute subtask: load this party's session (identity, roster, session id — see
 * `loadPeerSession`), discover the peers as the environment says, and form the group.
 *
 * @param kwargs - the method's keyword arguments (carry `roster`/`sessionId` under option 2, and
 *   optionally {@link TRANSPORT_KWARGS} for a node that sets no transport).
 * @param ctx - the algorithm context.
 * @param overrides - any {@link JoinGroupOptions} to set in code instead of the environment.
 * @param options - {@link JoinPeerGroupOptions}: `agreeOn`, the kwargs every station must share.
 * @returns the formed group; close it when done.
 * @throws {@link Vantage6Error} `SHAPE_MISMATCH` (nobody named) when the stations' `agreeOn`
 *   kwargs differ; what `loadPeerSession` and `joinGroup` throw.
 * @example
 * export async function partial(kwargs, ctx) {
 *   const group = await joinPeerGroup(kwargs, ctx);
 *   try {
 *     const { sum } = await secureSum(group, localTotals(ctx));
 *     return { sum };
 *   } finally {
 *     await group.close();
 *   }
 * }
 */
export async function joinPeerGroup(
  kwargs: Record<string, unknown>,
  ctx: AlgorithmContext,
  overrides: Partial<JoinGroupOptions> = {},
  options: JoinPeerGroupOptions = {},
): Promise<Group> {
  if (typeof kwargs !== 'object' || kwargs === null) throw new Vantage6Error(ErrorCode.VANTAGE6, '"kwargs" must be an object');
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
  const agreed = checkAgreeOn(options.agreeOn);
  const digest = agreed.length > 0 ? inputDigest(kwargs, agreed) : undefined;
  // COUPLER_TRANSPORT / COUPLER_RELAY_URL: the node's (operator's) values, else the input's.
  const env = withTransportKwargs(couplerEnv(process.env), kwargs, ctx);
  const session = await loadPeerSession(kwargs, ctx);
  const onEvent = (e: GroupEvent): void => {
    if (e.type === 'connected') ctx.logger.info(`connected to ${e.peer} (${e.connected}/${e.expected})`);
    else if (e.type === 'ready') ctx.logger.info(`mesh ready with ${e.peers} peers in ${e.elapsedMs} ms`);
    else if (e.type === 'peer-lost' && e.graceful === true) ctx.logger.info(`peer ${e.peer} closed its channel`);
    else if (e.type === 'peer-lost') ctx.logger.warn(`lost peer ${e.peer} (${e.code})`);
    // Reaching one's own address (DNS lists every task), the refused second connection of a pair
    // that is already connected or whose other side dials, and a redundant dial that the other
    // side closed before saying anything are normal formation: debug. Anything that got as far as
    // a claim or a refusal reason (unknown key, bad signature, wrong session) is an attack or a
    // misconfiguration: a warning with the address, the claimed id and the reason — on the
    // accepting side (`refused`) and on the dialling side (`dial-failed`, e.g. an impostor
    // answering at an address DNS gave).
    else if (e.type === 'refused' || e.type === 'dial-failed') {
      const where = e.type === 'refused' ? `from ${e.remoteAddress ?? 'an unknown address'}` : `to ${e.address}`;
      const line = `${e.type === 'refused' ? 'refused a connection' : 'a dial failed'} ${where}${e.peer ? ` claiming to be ${e.peer}` : ''} (${e.code}${e.reason ? `, ${e.reason}` : ''})`;
      if (_isBenignConnectionEvent(e)) ctx.logger.debug?.(line);
      else ctx.logger.warn(line);
    }
  };
  // From the decoded environment: a node base32-encodes every value it sets, these too.
  const transport = transportFromEnv(env);
  // Egress only (COUPLER_TRANSPORT=relay): no listener and no discovery, unless asked for.
  const relayOnly = transport.transport === 'relay';
  const group = await joinGroup({
    identity: session.identity,
    roster: session.roster,
    sessionId: session.sessionId,
    localId: session.partyId,
    discovery: relayOnly && env.COUPLER_DISCOVERY === undefined ? [] : discoveryFromEnv(process.env, ctx),
    listen: relayOnly && env.COUPLER_PORT === undefined ? false : { host: env.COUPLER_LISTEN_HOST ?? '0.0.0.0', port: intVar(env, 'COUPLER_PORT', 8888, 1, 65535) },
    timeoutMs: intVar(env, 'COUPLER_JOIN_TIMEOUT_MS', 300_000, 1, 86_400_000),
    roundTimeoutMs: intVar(env, 'COUPLER_ROUND_TIMEOUT_MS', 60_000, 1, 86_400_000),
    onEvent,
    // COUPLER_PROGRESS=1 (coupler simulate sets it): every sum's progress as a log line that
    // simulate turns into a live status per party.
    ...(env.COUPLER_PROGRESS === '1' ? { onProgress: (p: RunProgress) => ctx.logger.info(`${PROGRESS_LOG_PREFIX}${JSON.stringify(p)}`) } : {}),
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    ...transport,
    ...overrides,
  });
  if (digest !== undefined) await agreeOnInput(group, agreed, digest);
  const statsFile = env.COUPLER_STATS_FILE;
  if (statsFile !== undefined && statsFile !== '') {
    const close = group.close.bind(group);
    group.close = async (): Promise<void> => {
      await writeFile(statsFile, JSON.stringify({ party: group.localId, peers: group.stats() }), { mode: 0o600 }).catch(() => undefined);
      await close();
    };
  }
  return group;
}

/**
 * Prefix of the progress log lines of `COUPLER_PROGRESS=1` (followed by the RunProgress as JSON).
 * @internal read by `coupler simulate`.
 */
export const PROGRESS_LOG_PREFIX = 'progress ';

/**
 * Whether a refused or failed connection is part of normal mesh formation: the tie-break
 * (`self`, `order`, `duplicate`, `busy`), a connection closed or timed out before any claim was
 * made (a redundant dial the other side dropped; a peer not listening yet), a dial that found
 * nobody, or one cancelled because the mesh completed. Everything else carries a claim or a refusal reason and is worth a warning.
 * @internal exported for tests.
 */
export function _isBenignConnectionEvent(e: { code: string; peer?: string; reason?: string }): boolean {
  if (e.reason === 'self' || e.reason === 'order' || e.reason === 'duplicate' || e.reason === 'busy') return true;
  if (e.reason !== undefined) return false;
  if (e.peer !== undefined) return false;
  // ABORTED: a dial still in flight when the mesh completed (or the join ended) is cancelled.
  return e.code === ErrorCode.HANDSHAKE_FAILED || e.code === ErrorCode.TIMEOUT || e.code === ErrorCode.CHANNEL_CLOSED || e.code === ErrorCode.ABORTED;
}
