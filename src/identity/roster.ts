/**
 * Rosters: the pinned list of the parties of one task and their public keys. Only roster keys are
 * ever accepted in a handshake; nothing announced in-band is trusted.
 *
 * Roster format (JSON):
 *
 * ```json
 * { "version": 1,
 *   "parties": [ { "id": "1", "publicKey": "<base64, 32 bytes>", "address": "station-a:8888" } ] }
 * ```
 *
 * A bare array of party entries is accepted too. `address` is an optional `host:port` (or
 * `[v6]:port`) where the party listens: `joinGroup` dials the other parties' roster addresses before
 * anything a discovery returns (the handshake still decides who is there).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { readBoundedFile } from '../files.js';
import { RosterError, InvalidArgumentError, describeType } from '../errors.js';
import { bytesEqual, isBytes } from '../crypto/bytes.js';
import { isWeakEd25519PublicKey } from '../crypto/ed25519.js';
import { PARTY_ID_PATTERN, decodePublicKey, encodePublicKey, isValidPartyId, unreadableFile } from './identity.js';

/** One party of a roster. */
export interface RosterEntry {
  /** Party id (for vantage6: the organization id as a string). */
  readonly id: string;
  /** The party's pinned Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /**
   * Optional `host:port` where the party listens; `joinGroup` dials it before any discovery's
   * addresses (a malformed one fails the join with `INVALID_ARGUMENT` naming the entry).
   */
  readonly address?: string;
}

/** Most parties a roster may hold. */
export const MAX_ROSTER_PARTIES = 1000;
const MAX_ROSTER_TEXT = 1024 * 1024;

/**
 * An immutable, validated roster. Ids are unique, keys are unique, 32 bytes, and not weak
 * (no point of small order, no non-canonical encoding: see `isWeakEd25519PublicKey`).
 * `ids` is sorted (byte order), which gives every party the same canonical order.
 */
export class Roster {
  readonly #byId: Map<string, RosterEntry>;
  readonly #byKey: Map<string, RosterEntry>;
  /** Party ids in canonical (sorted) order. */
  readonly ids: readonly string[];

  /** @internal use {@link createRoster} or {@link parseRoster}. */
  constructor(entries: readonly RosterEntry[]) {
    this.#byId = new Map();
    this.#byKey = new Map();
    for (const e of entries) {
      this.#byId.set(e.id, e);
      this.#byKey.set(Buffer.from(e.publicKey).toString('hex'), e);
    }
    this.ids = Object.freeze([...this.#byId.keys()].sort(compareIds));
    Object.freeze(this);
  }

  /** Number of parties. */
  get size(): number {
    return this.#byId.size;
  }

  /** The entry for `id`, or undefined. */
  get(id: string): RosterEntry | undefined {
    return typeof id === 'string' ? this.#byId.get(id) : undefined;
  }

  /** True when `id` is a roster party. */
  has(id: string): boolean {
    return typeof id === 'string' && this.#byId.has(id);
  }

  /** The entry whose public key is `publicKey`, or undefined. */
  findByKey(publicKey: Uint8Array): RosterEntry | undefined {
    if (!isBytes(publicKey) || publicKey.length !== 32) return undefined;
    return this.#byKey.get(Buffer.from(publicKey).toString('hex'));
  }

  /** True when `id` is in the roster with exactly this public key (constant-time key compare). */
  verify(id: string, publicKey: Uint8Array): boolean {
    const entry = this.get(id);
    return entry !== undefined && isBytes(publicKey) && bytesEqual(entry.publicKey, publicKey);
  }

  /** Entries in canonical order. */
  entries(): RosterEntry[] {
    return this.ids.map((id) => this.#byId.get(id)!);
  }

  /** The roster in its JSON file format. */
  toJSON(): {
    /** Format version, 1. */
    version: 1;
    /** The entries in canonical order. */
    parties: {
      /** Party id. */
      id: string;
      /** Ed25519 public key, base64. */
      publicKey: string;
      /** Address hint `host:port`, if any. */
      address?: string;
    }[];
  } {
    return {
      version: 1,
      parties: this.entries().map((e) =>
        e.address === undefined ? { id: e.id, publicKey: encodePublicKey(e.publicKey) } : { id: e.id, publicKey: encodePublicKey(e.publicKey), address: e.address },
      ),
    };
  }
}

/** Canonical order of party ids: numeric ids by value first (vantage6 organization ids), then others by code unit. */
export function compareIds(a: string, b: string): number {
  const na = /^[0-9]{1,15}$/.test(a);
  const nb = /^[0-9]{1,15}$/.test(b);
  if (na && nb) return Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Build a roster from entries with raw keys.
 *
 * @throws {@link RosterError} naming the entry and field at fault.
 */
export function createRoster(entries: readonly { id: string | number; publicKey: Uint8Array | string; address?: string }[]): Roster {
  if (!Array.isArray(entries)) throw new RosterError(`roster must be an array of parties, got ${describeType(entries)}`);
  return new Roster(validateEntries(entries));
}

function validateEntries(raw: readonly unknown[]): RosterEntry[] {
  if (raw.length === 0) throw new RosterError('roster has no parties');
  if (raw.length > MAX_ROSTER_PARTIES) throw new RosterError(`roster has ${raw.length} parties; at most ${MAX_ROSTER_PARTIES} are allowed`);
  const seenIds = new Set<string>();
  const seenKeys = new Map<string, string>();
  const out: RosterEntry[] = [];
  raw.forEach((item, index) => {
    const where = `roster entry ${index}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new RosterError(`${where}: must be an object, got ${describeType(item)}`, { entry: String(index) });
    }
    const o = item as Record<string, unknown>;
    let id = o.id;
    if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) id = String(id);
    if (!isValidPartyId(id)) {
      throw new RosterError(`${where}: field "id" must match ${PARTY_ID_PATTERN}, got ${describeType(o.id)}`, { entry: String(index), field: 'id' });
    }
    const named = `${where} (id "${id}")`;
    if (seenIds.has(id)) throw new RosterError(`${named}: duplicate id`, { entry: id, field: 'id' });
    let publicKey: Uint8Array;
    if (isBytes(o.publicKey)) {
      if (o.publicKey.length !== 32) {
        throw new RosterError(`${named}: field "publicKey" expected 32 bytes, got ${o.publicKey.length}`, { entry: id, field: 'publicKey' });
      }
      publicKey = new Uint8Array(o.publicKey);
    } else if (typeof o.publicKey === 'string') {
      try {
        publicKey = decodePublicKey(o.publicKey);
      } catch (err) {
        throw new RosterError(`${named}: field "publicKey" ${(err as Error).message}`, { entry: id, field: 'publicKey' });
      }
    } else {
      throw new RosterError(`${named}: field "publicKey" must be a base64 string, got ${describeType(o.publicKey)}`, { entry: id, field: 'publicKey' });
    }
    if (isWeakEd25519PublicKey(publicKey)) {
      throw new RosterError(`${named}: field "publicKey" is a weak key (a point of small order or a non-canonical encoding): anyone could sign for it`, {
        entry: id,
        field: 'publicKey',
      });
    }
    const hex = Buffer.from(publicKey).toString('hex');
    const other = seenKeys.get(hex);
    if (other !== undefined) throw new RosterError(`${named}: field "publicKey" is the same key as party "${other}"`, { entry: id, field: 'publicKey' });
    let address: string | undefined;
    if (o.address !== undefined && o.address !== null) {
      if (typeof o.address !== 'string' || o.address.length === 0 || o.address.length > 300 || /\s/.test(o.address)) {
        throw new RosterError(`${named}: field "address" must be a host:port string`, { entry: id, field: 'address' });
      }
      address = o.address;
    }
    for (const key of Object.keys(o)) {
      if (key !== 'id' && key !== 'publicKey' && key !== 'address') {
        throw new RosterError(`${named}: unknown field "${key.slice(0, 40)}"`, { entry: id, field: key.slice(0, 40) });
      }
    }
    seenIds.add(id);
    seenKeys.set(hex, id);
    out.push(address === undefined ? { id, publicKey } : { id, publicKey, address });
  });
  return out;
}

/**
 * Parse a roster from JSON text or an already-parsed object (`{version: 1, parties: [...]}` or a
 * bare array of parties).
 *
 * @throws {@link RosterError} naming the entry and field at fault.
 * @example
 * const roster = parseRoster(await fs.readFile('roster.json', 'utf8'));
 */
export function parseRoster(input: string | object): Roster {
  let obj: unknown = input;
  if (typeof input === 'string') {
    if (input.length > MAX_ROSTER_TEXT) throw new RosterError('roster text is too large');
    try {
      obj = JSON.parse(input);
    } catch {
      throw new RosterError('roster is not valid JSON');
    }
  }
  if (Array.isArray(obj)) return new Roster(validateEntries(obj));
  if (typeof obj !== 'object' || obj === null) throw new RosterError(`roster must be a JSON object or array, got ${describeType(obj)}`);
  const o = obj as Record<string, unknown>;
  if (o.version !== undefined && o.version !== 1) throw new RosterError('roster field "version" must be 1', { field: 'version' });
  if (!Array.isArray(o.parties)) throw new RosterError('roster field "parties" must be an array', { field: 'parties' });
  return new Roster(validateEntries(o.parties));
}

/**
 * Read and parse a roster file.
 * @throws {@link RosterError} when it cannot be read or is malformed.
 */
export async function loadRoster(path: string): Promise<Roster> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('"path" must be a non-empty string');
  let text: string;
  try {
    // At most 4 bytes per character of the largest roster text parseRoster accepts.
    text = (await readBoundedFile(path, 4 * MAX_ROSTER_TEXT)).bytes.toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTREG') throw new RosterError(`roster path ${path} is not a regular file`);
    if (code === 'EFBIG' || code === 'ECHANGED') throw new RosterError(`roster file ${path} is larger than a roster can be`);
    const st = await stat(path).catch(() => undefined);
    throw new RosterError(unreadableFile('roster file', path, err, st), { cause: err });
  }
  return parseRoster(text);
}

/**
 * Read a roster from an environment variable holding its JSON (or base64 of its JSON).
 *
 * @param variable - name of the variable (default `COUPLER_ROSTER`).
 * @param env - the environment to read (default `process.env`).
 * @throws {@link RosterError} when the variable is missing or malformed.
 */
export function rosterFromEnv(variable = 'COUPLER_ROSTER', env: NodeJS.ProcessEnv = process.env): Roster {
  if (typeof variable !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(variable)) {
    throw new InvalidArgumentError(`"variable" must be an environment variable name, got ${describeType(variable)}`);
  }
  if (typeof env !== 'object' || env === null) throw new InvalidArgumentError(`"env" must be an object, got ${describeType(env)}`);
  const value = env[variable];
  if (value !== undefined && typeof value !== 'string') throw new RosterError(`environment variable ${variable} must be a string, got ${describeType(value)}`);
  if (value === undefined || value.trim() === '') throw new RosterError(`environment variable ${variable} is not set`);
  const trimmed = value.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseRoster(trimmed);
  const decoded = Buffer.from(trimmed, 'base64').toString('utf8');
  return parseRoster(decoded);
}

/** The roster as JSON text in the documented file format. */
export function rosterToJSON(roster: Roster): string {
  if (!(roster instanceof Roster)) throw new InvalidArgumentError(`"roster" must be a Roster, got ${describeType(roster)}`);
  return `${JSON.stringify(roster.toJSON(), null, 2)}\n`;
}

/**
 * A digest of the roster's pinned keys: SHA-256 over `coupler-roster/1` and each party's id and
 * public key in canonical order (address hints are left out: they are not trusted), lower-case hex.
 * Two rosters with the same digest pin the same keys to the same ids.
 */
export function rosterDigest(roster: Roster): string {
  if (!(roster instanceof Roster)) throw new InvalidArgumentError(`"roster" must be a Roster, got ${describeType(roster)}`);
  const h = createHash('sha256').update('coupler-roster/1\n');
  for (const e of roster.entries()) h.update(`${e.id}\n${Buffer.from(e.publicKey).toString('hex')}\n`);
  return h.digest('hex');
}

/** The suffix that makes a session id roster-bound: `#` and the 64 hex digits of {@link rosterDigest}. */
const ROSTER_BOUND_SUFFIX = /#([0-9a-f]{64})$/;

/**
 * A session id that commits to a roster: `<label>#<rosterDigest(roster)>`. A relay started with
 * `rosterBoundSessions` admits the parties of such a session on the roster they present, after
 * checking that it hashes to the digest in the id; nobody can take the session over with other
 * keys. vantage6's central pattern (`runPeerTasks` with key subtasks) uses it.
 *
 * @param label - printable ASCII without spaces or `#`, at most 60 characters (e.g. a random id).
 * @throws {@link InvalidArgumentError}
 */
export function rosterBoundSessionId(roster: Roster, label: string): string {
  if (typeof label !== 'string' || !/^[\x21-\x22\x24-\x7e]{1,60}$/.test(label)) {
    throw new InvalidArgumentError('"label" must be 1..60 printable ASCII characters without spaces or "#"');
  }
  return `${label}#${rosterDigest(roster)}`;
}

/** The roster digest a session id commits to ({@link rosterBoundSessionId}), or `undefined` for an unbound id. */
export function sessionRosterDigest(sessionId: string): string | undefined {
  if (typeof sessionId !== 'string') return undefined;
  return ROSTER_BOUND_SUFFIX.exec(sessionId)?.[1];
}
