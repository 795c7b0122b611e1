/**
 * Where the roster comes from inside vantage6 (architecture.md, "Trust and keys").
 *
 * - Option 1, provisioned: the station operator mounts a key file and the collaboration's roster
 *   file into the container ({@link loadProvisionedIdentity}, `COUPLER_IDENTITY_FILE`,
 *   `COUPLER_ROSTER_FILE`). Trusts no server, nor whoever writes a task's input: where either
 *   variable is set, a compute input's `roster` is refused and the key subtask makes no key.
 * - Option 2, exchanged through vantage6: a first subtask at every station runs
 *   {@link keySubtask} (the built-in method `coupler_key_exchange`), which creates a key pair,
 *   keeps the secret in the job's `TEMPORARY_FOLDER` (shared by the job's containers on that node)
 *   and returns the public key. The server attributes each result to its organization; the
 *   central container builds the roster with {@link buildRosterFromResults} and passes it to the
 *   compute subtasks in their (proxy-encrypted) input, where {@link loadPeerSession} picks it up.
 *   This trusts the vantage6 server to attribute results honestly. The secret-key file serves one
 *   compute subtask: it is deleted as soon as that subtask has read it, and `runAlgorithm` deletes
 *   it when the compute subtask ends (success, error, or SIGTERM/SIGINT) if it was never read.
 *
 * @module
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Identity,
  Roster,
  compareIds,
  createRoster,
  encodePublicKey,
  decodePublicKey,
  generateIdentity,
  isValidPartyId,
  loadIdentity,
  loadRoster,
  parseRoster,
  rosterDigest,
  saveIdentity,
  sessionRosterDigest,
} from '../identity';
import { SESSION_ID_PATTERN } from '../channel/handshake';
import { ErrorCode, IdentityError, InvalidArgumentError, RosterError, Vantage6Error, describeType } from '../errors';
import { isWeakEd25519PublicKey } from '../crypto/ed25519';
import { readContainerEnv, type ContainerEnv } from './env';
import { isContainerEnv, type SubtaskResult } from './proxy-client';
import type { AlgorithmContext } from './contract';

/** Name of the built-in key-exchange method served by `runAlgorithm`. */
export const KEY_EXCHANGE_METHOD = 'coupler_key_exchange';
/** Variable naming an operator-provisioned identity file (option 1). */
export const IDENTITY_FILE_VARIABLE = 'COUPLER_IDENTITY_FILE';
/** Variable naming an operator-provisioned roster file (option 1). */
export const ROSTER_FILE_VARIABLE = 'COUPLER_ROSTER_FILE';

/** What a key subtask returns (its JSON result). */
export interface PublicKeyAnnouncement {
  /** Always `coupler-public-key`. */
  readonly type: 'coupler-public-key';
  /** Format version, 1. */
  readonly version: 1;
  /** The organization the key claims to belong to (checked against the server's attribution). */
  readonly organizationId: string;
  /** Ed25519 public key, base64. */
  readonly publicKey: string;
  /** Id of the key subtask: it names the secret-key file in `TEMPORARY_FOLDER`. */
  readonly keyTaskId: string;
}

/** An identity with the roster it belongs to and the session to run. */
export interface PeerSession {
  /** This party's id (the organization id). */
  readonly partyId: string;
  /** This party's identity (secret: never log it). */
  readonly identity: Identity;
  /** The roster of the session. */
  readonly roster: Roster;
  /** The session id, bound into every handshake. */
  readonly sessionId: string;
}

/**
 * The path of the secret-key file a key subtask writes.
 *
 * @param temporaryFolder - the job's `TEMPORARY_FOLDER`.
 * @param keyTaskId - the key subtask's id.
 * @returns `<folder>/coupler-identity-task-<id>.json`.
 * @throws {@link InvalidArgumentError} for an id that is not a decimal or party-id string.
 */
export function identityPath(temporaryFolder: string, keyTaskId: string | number): string {
  const id = String(keyTaskId);
  if (typeof temporaryFolder !== 'string' || temporaryFolder.length === 0) throw new InvalidArgumentError('"temporaryFolder" must be a non-empty string');
  if (!isValidPartyId(id) || id.startsWith('.')) throw new InvalidArgumentError(`"keyTaskId" must be an id, got ${describeType(keyTaskId)}`);
  return join(temporaryFolder, `coupler-identity-task-${id}.json`);
}

/** The roster without its entries' address hints (the digest, which leaves them out, is the same). */
function withoutAddresses(roster: Roster): Roster {
  const entries = roster.entries();
  if (entries.every((e) => e.address === undefined)) return roster;
  return createRoster(entries.map((e) => ({ id: e.id, publicKey: e.publicKey })));
}

/** The option-1 variables this container's node sets (non-empty), in a fixed order. */
function provisionedVariables(ctx: AlgorithmContext): string[] {
  const env = ctx.env;
  if (env === undefined || typeof env.get !== 'function') return [];
  return [IDENTITY_FILE_VARIABLE, ROSTER_FILE_VARIABLE].filter((name) => (env.get(name) ?? '') !== '');
}

/**
 * The key subtask (option 2): create a fresh identity for this organization, save its secret to
 * the state folder (`TEMPORARY_FOLDER` on v4, `SESSION_FOLDER` on v5; mode 0600, file named with the task id, never overwritten) and return the
 * public key. Served as the built-in method `coupler_key_exchange`.
 *
 * @param ctx - the algorithm context (needs the organization id, the task id and its state folder).
 * @returns the announcement to return as the subtask's result.
 * @throws {@link Vantage6Error} when the organization id, task id or temporary folder is unknown,
 *   or the station is provisioned (`COUPLER_IDENTITY_FILE` / `COUPLER_ROSTER_FILE` set);
 *   {@link IdentityError} when the key file cannot be created.
 * @example
 * export const coupler_key_exchange = (_kwargs, ctx) => keySubtask(ctx); // what the built-in does
 */
export async function keySubtask(ctx: AlgorithmContext): Promise<PublicKeyAnnouncement> {
  const { organizationId, taskId, stateFolder } = ctx;
  if (organizationId === undefined || !isValidPartyId(organizationId)) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, 'key exchange: this container\'s organization id is unknown (no ORGANIZATION_ID, no token claim)');
  }
  if (taskId === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'key exchange: this container\'s task id is unknown (no TASK_ID, no token claim)');
  if (stateFolder === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'key exchange: neither TEMPORARY_FOLDER (v4) nor SESSION_FOLDER (v5) is set');
  // A provisioned station takes no roster from an input (loadPeerSession), so a key made here
  // could serve nobody but would wait in the state folder: make none (review20 R20-1).
  const provisioned = provisionedVariables(ctx);
  if (provisioned.length > 0) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `key exchange: this station's operator provisioned ${provisioned.join(' and ')}; it makes no keys for rosters from task inputs (run the task with keys: 'provisioned')`);
  }
  const identity = generateIdentity(organizationId);
  await saveIdentity(identityPath(stateFolder, taskId), identity);
  ctx.logger.info(`key exchange: created the identity of organization ${organizationId} for task ${taskId}`);
  return Object.freeze({
    type: 'coupler-public-key',
    version: 1,
    organizationId,
    publicKey: encodePublicKey(identity.publicKey),
    keyTaskId: taskId,
  });
}

/**
 * The key file a compute subtask's input points to (`kwargs.keyTaskId` in the state folder), or
 * `undefined` when the input names none (or an id that is not one).
 * @internal used by `runAlgorithm` to delete it when the subtask ends.
 */
export function keyFileOfInput(kwargs: Readonly<Record<string, unknown>>, stateFolder: string | undefined): string | undefined {
  const id = kwargs.keyTaskId;
  if (stateFolder === undefined || (typeof id !== 'string' && typeof id !== 'number')) return undefined;
  try {
    return identityPath(stateFolder, id);
  } catch {
    return undefined;
  }
}

/**
 * Delete a key file now. Synchronous, so a signal handler can call it before the process exits;
 * a file that is already gone is fine.
 * @returns `undefined` when the file is gone, else the errno code that kept it (e.g. `EROFS`).
 * @internal
 */
export function deleteKeyFile(path: string): string | undefined {
  try {
    rmSync(path, { force: true });
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

/**
 * Identities a compute subtask has read from the state folder, per algorithm context and file:
 * the file is deleted once read, and later calls with the same context (e.g. `loadPeerSession`
 * and then `joinPeerGroup`) get the identity from here.
 */
const keysRead = new WeakMap<AlgorithmContext, Map<string, Identity>>();

/** Read the key subtask's secret key once per context, then delete its file. */
async function takeSubtaskKey(ctx: AlgorithmContext, keyTaskId: string | number): Promise<Identity> {
  const path = identityPath(ctx.stateFolder!, keyTaskId);
  let read = keysRead.get(ctx);
  if (read === undefined) {
    read = new Map();
    keysRead.set(ctx, read);
  }
  const known = read.get(path);
  if (known !== undefined) return known;
  let identity: Identity;
  try {
    identity = await loadIdentity(path);
  } catch (err) {
    if (err instanceof IdentityError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new Vantage6Error(
        ErrorCode.VANTAGE6,
        `no secret key of key subtask ${String(keyTaskId).slice(0, 40)} in the state folder: the key subtask did not run on this node, or another compute subtask already used it (a key serves one compute subtask and is deleted after it)`,
        { cause: err },
      );
    }
    throw err;
  }
  read.set(path, identity);
  // The key is in memory now; nothing secret stays in the folder the session's other tasks share.
  const kept = deleteKeyFile(path);
  if (kept !== undefined) ctx.logger.warn(`could not delete the key file ${path} after reading it (${kept})`);
  return identity;
}

/** Options of {@link buildRosterFromResults}. */
export interface BuildRosterOptions {
  /** The organizations that must all be present, and no others. */
  readonly expectedOrganizations?: readonly (number | string)[];
  /** The key subtask's id: every announcement must name it. */
  readonly keyTaskId?: number | string;
}

/**
 * Build the roster from the key subtask's results. The party id of each key is the organization
 * the *server* attributes the result to; the announcement's own claim must agree.
 *
 * @param results - the key subtask's results ({@link NodeProxyClient.waitForResults}).
 * @param options - the expected organizations and key task id.
 * @returns the roster (ids are organization ids as strings).
 * @throws {@link Vantage6Error} naming the organizations at fault (`peers`): unattributed, duplicate,
 *   malformed, weak, mismatched, missing or unexpected; {@link RosterError} for the same key from
 *   two organizations, naming nobody: both are `suspects` (either may have copied the other's).
 * @example
 * const roster = buildRosterFromResults(await client.waitForResults(keyTask.id), { expectedOrganizations: [1, 2, 3] });
 */
export function buildRosterFromResults(results: readonly SubtaskResult[], options: BuildRosterOptions = {}): Roster {
  if (!Array.isArray(results)) throw new InvalidArgumentError(`"results" must be an array, got ${describeType(results)}`);
  const entries = new Map<string, Uint8Array>();
  const byKey = new Map<string, string>();
  const fault = (org: string, why: string): never => {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `key exchange: organization ${org} ${why}`, { peer: org });
  };
  for (const r of results) {
    if (r.organizationId === undefined) {
      throw new Vantage6Error(ErrorCode.VANTAGE6, `key exchange: the server did not attribute run ${r.runId} to an organization`);
    }
    const org = String(r.organizationId);
    if (entries.has(org)) fault(org, 'returned more than one key');
    const a = r.result as Partial<Record<keyof PublicKeyAnnouncement, unknown>> | null | undefined;
    if (typeof a !== 'object' || a === null || a.type !== 'coupler-public-key' || a.version !== 1) fault(org, 'returned no public-key announcement');
    if (String(a!.organizationId) !== org) fault(org, 'returned a key that claims to belong to another organization');
    if (options.keyTaskId !== undefined && String(a!.keyTaskId) !== String(options.keyTaskId)) fault(org, 'returned a key made for another task');
    let key: Uint8Array;
    try {
      key = decodePublicKey(a!.publicKey as string);
    } catch {
      return fault(org, 'returned a malformed public key');
    }
    // A weak key (a point of small order, a non-canonical encoding) is its announcer's doing, as
    // a malformed one is: named here, not left to the roster's check (which names no organisation).
    if (isWeakEd25519PublicKey(key)) fault(org, 'returned a weak public key (anyone could sign for it)');
    // The same key from two organisations: announcements are public (a station's key subtask may
    // read the other runs of the key task: VIEW of scope collaboration is assigned to containers),
    // so either may have copied the other's, and the order of the results (the central's order of
    // the organisations) says nothing about which. Both are suspects; nobody is named.
    const hex = Buffer.from(key).toString('hex');
    const holder = byKey.get(hex);
    if (holder !== undefined) {
      const pair = [holder, org].sort(compareIds);
      throw new RosterError(`key exchange: organizations ${pair.join(' and ')} returned the same public key (one of them copied the other's; which cannot be told here)`, { suspects: pair, field: 'publicKey' });
    }
    byKey.set(hex, org);
    entries.set(org, key);
  }
  if (options.expectedOrganizations !== undefined) {
    const expected = new Set(options.expectedOrganizations.map(String));
    const missing = [...expected].filter((o) => !entries.has(o));
    if (missing.length > 0) {
      throw new Vantage6Error(ErrorCode.VANTAGE6, `key exchange: no key from organization(s) ${missing.join(', ')}`, { peers: missing });
    }
    const extra = [...entries.keys()].filter((o) => !expected.has(o));
    if (extra.length > 0) {
      throw new Vantage6Error(ErrorCode.VANTAGE6, `key exchange: unexpected key from organization(s) ${extra.join(', ')}`, { peers: extra });
    }
  }
  if (entries.size === 0) throw new Vantage6Error(ErrorCode.VANTAGE6, 'key exchange: no keys');
  return createRoster([...entries].map(([id, publicKey]) => ({ id, publicKey })));
}

/** Options of {@link loadProvisionedIdentity}. */
export interface ProvisionedIdentityOptions {
  /** The environment (default `process.env`); `COUPLER_IDENTITY_FILE` and `COUPLER_ROSTER_FILE` are read from it. */
  readonly env?: NodeJS.ProcessEnv | ContainerEnv;
  /** Identity file path (overrides the variable). */
  readonly identityFile?: string;
  /** Roster file path (overrides the variable). */
  readonly rosterFile?: string;
  /** When known, the party id the identity must have in the roster (the organization id). */
  readonly partyId?: string;
}

/**
 * Option 1: load the operator-provisioned identity and roster files and check that the identity
 * is a roster party.
 *
 * @param options - file paths or the environment naming them.
 * @returns the party id (the roster id of the identity's key), the identity and the roster.
 * @throws {@link Vantage6Error} when a path is not configured or the key is not in the roster
 *   (or belongs to another party than `partyId`); {@link IdentityError} / {@link RosterError} for bad files.
 * @example
 * const { identity, roster, partyId } = await loadProvisionedIdentity();
 */
export async function loadProvisionedIdentity(options: ProvisionedIdentityOptions = {}): Promise<{
  /** This party's id (the identity's id, checked against the roster). */
  partyId: string;
  /** This party's identity (secret key included). */
  identity: Identity;
  /** The pinned roster of the task. */
  roster: Roster;
}> {
  const env = isContainerEnv(options.env) ? options.env : readContainerEnv((options.env as NodeJS.ProcessEnv | undefined) ?? process.env);
  const identityFile = options.identityFile ?? env.get(IDENTITY_FILE_VARIABLE);
  const rosterFile = options.rosterFile ?? env.get(ROSTER_FILE_VARIABLE);
  if (identityFile === undefined || identityFile.length === 0) throw new Vantage6Error(ErrorCode.VANTAGE6, `${IDENTITY_FILE_VARIABLE} is not set`);
  if (rosterFile === undefined || rosterFile.length === 0) throw new Vantage6Error(ErrorCode.VANTAGE6, `${ROSTER_FILE_VARIABLE} is not set`);
  const [identity, roster] = await Promise.all([loadIdentity(identityFile), loadRoster(rosterFile)]);
  const entry = roster.findByKey(identity.publicKey);
  if (entry === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'the provisioned identity\'s public key is not in the provisioned roster');
  if (options.partyId !== undefined && entry.id !== options.partyId) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `the provisioned identity belongs to party ${entry.id}, not to organization ${options.partyId}`);
  }
  return { partyId: entry.id, identity, roster };
}

/**
 * In a compute subtask: the identity, roster and session id to run the protocol with.
 *
 * With `kwargs.roster` (option 2, created by `runPeerTasks`): parses the roster, loads the secret
 * key the key subtask saved (`kwargs.keyTaskId`) and checks it is this organization's roster key.
 * The key file is deleted once read (later calls with the same `ctx` reuse the key in memory), so
 * one key subtask serves one compute subtask. A roster-bound session id (`<label>#<digest>`, as
 * `runPeerTasks` makes) must commit to the input's roster, so two stations that meet in one session
 * hold the same roster.
 * Without it (option 1): {@link loadProvisionedIdentity}. The session id is `kwargs.sessionId`, or
 * for option 1 without one, `v6-task-<task id>`. A station whose node sets `COUPLER_IDENTITY_FILE`
 * or `COUPLER_ROSTER_FILE` refuses an input with a `roster`: the operator's roster decides who
 * takes part, not the task's creator or the server.
 *
 * @param kwargs - the method's keyword arguments.
 * @param ctx - the algorithm context.
 * @returns the session.
 * @throws {@link Vantage6Error} when something is missing, the key does not match the roster, or
 *   the input carries a roster at a provisioned station.
 * @example
 * export async function partial(kwargs, ctx) {
 *   const { identity, roster, sessionId } = await loadPeerSession(kwargs, ctx);
 *   // ... open the group and run the secure sum ...
 * }
 */
export async function loadPeerSession(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<PeerSession> {
  if (typeof kwargs !== 'object' || kwargs === null) throw new InvalidArgumentError(`"kwargs" must be an object, got ${describeType(kwargs)}`);
  const orgId = ctx.organizationId;
  let sessionId = kwargs.sessionId;
  // The handshake's own rule, checked before anything is spent (the key file is read once).
  if (sessionId !== undefined && (typeof sessionId !== 'string' || !SESSION_ID_PATTERN.test(sessionId))) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, 'input "sessionId" must be 1 to 128 printable ASCII characters without spaces');
  }
  // An operator who provisioned this station's identity or roster (option 1) decided who may take
  // part; whoever writes a task's input (any researcher, or the server) must not replace that
  // roster with one of its own choosing (review20 R20-1).
  const provisioned = provisionedVariables(ctx);
  if (kwargs.roster !== undefined && provisioned.length > 0) {
    throw new Vantage6Error(
      ErrorCode.VANTAGE6,
      `the input carries a "roster", but this station's operator provisioned ${provisioned.join(' and ')}: only the provisioned roster is used here (run the task with keys: 'provisioned', or unset the variables to take rosters from key subtasks)`,
    );
  }
  if (kwargs.roster === undefined) {
    const p = await loadProvisionedIdentity({ env: ctx.env, partyId: orgId });
    if (sessionId === undefined) {
      if (ctx.taskId === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'no session id: pass "sessionId" or run with a known task id');
      sessionId = `v6-task-${ctx.taskId}`;
    }
    return Object.freeze({ ...p, sessionId: sessionId as string });
  }
  if (sessionId === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'input has a "roster" but no "sessionId"');
  if (typeof kwargs.roster !== 'object' || kwargs.roster === null) throw new Vantage6Error(ErrorCode.VANTAGE6, 'input "roster" must be a roster object');
  // Address hints are dropped: joinGroup dials a roster's addresses first, as configuration as
  // trusted as the keys, and here they are whoever wrote the input's choice of hosts inside the
  // station's network. runPeerTasks sets none; the node's discovery finds the peers.
  const roster = withoutAddresses(parseRoster(kwargs.roster));
  // A roster-bound session id (runPeerTasks makes one) commits to the roster: a party whose input
  // roster is another one (a view the server split) must not join. The relay client refuses this
  // too; the direct mesh had no such check, so parties with different rosters shared one session.
  const bound = sessionRosterDigest(sessionId as string);
  if (bound !== undefined && bound !== rosterDigest(roster)) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, 'input "roster" is not the roster the input "sessionId" commits to (its "#<digest>" suffix): the stations were given different rosters');
  }
  if (orgId === undefined) throw new Vantage6Error(ErrorCode.VANTAGE6, 'this container\'s organization id is unknown');
  if (!roster.has(orgId)) throw new Vantage6Error(ErrorCode.VANTAGE6, `organization ${orgId} is not in the roster`);
  const keyTaskId = kwargs.keyTaskId;
  if ((typeof keyTaskId !== 'string' && typeof keyTaskId !== 'number') || ctx.stateFolder === undefined) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, 'cannot find the key from the key subtask: input "keyTaskId" or the state folder (TEMPORARY_FOLDER on v4, SESSION_FOLDER on v5) is missing');
  }
  const identity = await takeSubtaskKey(ctx, keyTaskId);
  if (!roster.verify(orgId, identity.publicKey)) {
    throw new Vantage6Error(ErrorCode.VANTAGE6, `the saved key of organization ${orgId} is not its key in the roster`);
  }
  return Object.freeze({ partyId: orgId, identity, roster, sessionId: sessionId as string });
}
