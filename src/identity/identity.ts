/**
 * Party identities: Ed25519 key pairs (tweetnacl layout), their file format, and fingerprints.
 *
 * Identity file format (JSON, UTF-8, written with mode 0600):
 *
 * ```json
 * { "type": "coupler-identity", "version": 1, "id": "org-7",
 *   "publicKey": "<base64, 32 bytes>", "secretSeed": "<base64, 32 bytes>" }
 * ```
 *
 * `id` is optional (a key may be created before the party id is known). The secret key is
 * re-derived from the seed on load and checked against `publicKey`.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { readBoundedFile } from '../files.js';
import { basename, dirname, join } from 'node:path';
import { IdentityError, InvalidArgumentError, describeType } from '../errors.js';
import { bytesEqual, decodeBase64Strict, encodeBase64, isBytes } from '../crypto/bytes.js';
import { ed25519KeyPairFromSeed, ed25519PublicKeyFromSeed } from '../crypto/ed25519.js';

/** A party's long-term signing identity. Treat `secretKey` as secret: never log or send it. */
export interface Identity {
  /** The party id this key belongs to, when known. */
  readonly id?: string;
  /** Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /** Ed25519 secret key in tweetnacl layout (seed || public key), 64 bytes. */
  readonly secretKey: Uint8Array;
}

/** Party ids: 1 to 64 characters of letters, digits, `.`, `_`, `-`. vantage6 organization ids fit. */
export const PARTY_ID_PATTERN: RegExp = /^[A-Za-z0-9._-]{1,64}$/;

const MAX_IDENTITY_FILE_BYTES = 64 * 1024;

/** Identities already checked by {@link assertIdentity} (the check costs a key derivation). */
const verified = new WeakMap<object, { publicKey: unknown; secretKey: unknown; copy: Uint8Array }>();

/** True when `id` is a well-formed party id. */
export function isValidPartyId(id: unknown): id is string {
  return typeof id === 'string' && PARTY_ID_PATTERN.test(id);
}

/**
 * Create a fresh identity from 32 bytes of the operating system's CSPRNG.
 *
 * @param id - optional party id to attach.
 * @returns a new identity.
 * @throws {@link InvalidArgumentError} if `id` is given and malformed.
 * @example
 * const me = generateIdentity('org-1');
 */
export function generateIdentity(id?: string): Identity {
  if (id !== undefined && !isValidPartyId(id)) {
    throw new InvalidArgumentError(`"id" must match ${PARTY_ID_PATTERN}, got ${describeType(id)}`);
  }
  const seed = new Uint8Array(randomBytes(32));
  const kp = ed25519KeyPairFromSeed(seed);
  seed.fill(0);
  return id === undefined ? kp : { id, ...kp };
}

/**
 * Check that a value is a usable identity (right types and lengths, public key matching the
 * secret key) and return it. Used on every identity a caller passes in.
 *
 * @throws {@link InvalidArgumentError} describing the first problem (never the key bytes).
 */
export function assertIdentity(value: unknown, name = 'identity'): Identity {
  if (typeof name !== 'string' || name.length > 64) name = 'identity';
  if (typeof value !== 'object' || value === null) {
    throw new InvalidArgumentError(`"${name}" must be an identity object, got ${describeType(value)}`);
  }
  const v = value as Record<string, unknown>;
  if (!isBytes(v.publicKey) || v.publicKey.length !== 32) {
    throw new InvalidArgumentError(`"${name}.publicKey" expected 32 bytes, got ${describeType(v.publicKey)}`);
  }
  if (!isBytes(v.secretKey) || v.secretKey.length !== 64) {
    throw new InvalidArgumentError(`"${name}.secretKey" expected 64 bytes, got ${describeType(v.secretKey)}`);
  }
  if (v.id !== undefined && !isValidPartyId(v.id)) {
    throw new InvalidArgumentError(`"${name}.id" must match ${PARTY_ID_PATTERN}`);
  }
  const known = verified.get(v);
  if (known !== undefined && known.publicKey === v.publicKey && known.secretKey === v.secretKey && bytesEqual(known.copy, v.secretKey)) {
    return value as Identity;
  }
  const derived = ed25519PublicKeyFromSeed(v.secretKey.subarray(0, 32));
  if (Buffer.compare(derived, v.publicKey) !== 0 || Buffer.compare(derived, v.secretKey.subarray(32)) !== 0) {
    throw new InvalidArgumentError(`"${name}" public key does not match its secret key`);
  }
  verified.set(v, { publicKey: v.publicKey, secretKey: v.secretKey, copy: v.secretKey.slice() });
  return value as Identity;
}

/**
 * Serialize an identity to the documented JSON file format (contains the secret seed).
 *
 * @throws {@link InvalidArgumentError} for a malformed identity.
 */
export function serializeIdentity(identity: Identity): string {
  const ident = assertIdentity(identity);
  const file: Record<string, unknown> = { type: 'coupler-identity', version: 1 };
  if (ident.id !== undefined) file.id = ident.id;
  file.publicKey = encodeBase64(ident.publicKey);
  file.secretSeed = encodeBase64(ident.secretKey.subarray(0, 32));
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * Parse the identity file format.
 *
 * @throws {@link IdentityError} naming the field at fault (never the secret).
 */
export function parseIdentity(text: string): Identity {
  if (typeof text !== 'string') throw new IdentityError(`identity text must be a string, got ${describeType(text)}`);
  if (text.length > MAX_IDENTITY_FILE_BYTES) throw new IdentityError('identity file is too large');
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new IdentityError('identity file is not valid JSON');
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new IdentityError('identity file must hold a JSON object');
  const o = obj as Record<string, unknown>;
  if (o.type !== 'coupler-identity') throw new IdentityError('identity field "type" must be "coupler-identity"');
  if (o.version !== 1) throw new IdentityError('identity field "version" must be 1');
  if (o.id !== undefined && !isValidPartyId(o.id)) throw new IdentityError(`identity field "id" must match ${PARTY_ID_PATTERN}`);
  const seed = typeof o.secretSeed === 'string' ? decodeBase64Strict(o.secretSeed) : undefined;
  if (seed === undefined || seed.length !== 32) throw new IdentityError('identity field "secretSeed" must be base64 of 32 bytes');
  const pub = typeof o.publicKey === 'string' ? decodeBase64Strict(o.publicKey) : undefined;
  if (pub === undefined || pub.length !== 32) throw new IdentityError('identity field "publicKey" must be base64 of 32 bytes');
  const kp = ed25519KeyPairFromSeed(seed);
  seed.fill(0);
  if (Buffer.compare(kp.publicKey, pub) !== 0) throw new IdentityError('identity field "publicKey" does not match "secretSeed"');
  return o.id === undefined ? kp : { id: o.id as string, ...kp };
}

/**
 * Write an identity file with mode 0600 (created exclusively unless `overwrite`).
 *
 * @param path - file to write.
 * @param identity - the identity (its secret is written).
 * @param options.overwrite - replace an existing file (default false).
 * @throws {@link IdentityError} when the file exists (and not overwrite) or cannot be written.
 */
export async function saveIdentity(path: string, identity: Identity, options: { overwrite?: boolean } = {}): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('"path" must be a non-empty string');
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
  const text = serializeIdentity(identity);
  if (options.overwrite !== true) {
    await writeNewSecretFile(path, text, (code) => (code === 'EEXIST' ? 'identity file exists (pass overwrite / --force to replace it)' : `cannot create identity file (${code})`));
    return;
  }
  // Replace: write a fresh 0600 file beside the target and rename it over the old one, so the
  // secret never sits in a file with the old (possibly wider) permissions, even for a moment.
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  await writeNewSecretFile(temp, text, (code) => `cannot create identity file (${code})`);
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new IdentityError(`cannot replace identity file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/** Create `path` exclusively with mode 0600 (whatever the umask) and write `text` to it. */
async function writeNewSecretFile(path: string, text: string, describe: (code: string) => string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    throw new IdentityError(describe((err as NodeJS.ErrnoException).code ?? 'error'), { cause: err });
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}

/** Options of {@link loadIdentity}. */
export interface LoadIdentityOptions {
  /** Called instead of `process.emitWarning` when the file is group- or world-readable. */
  onInsecurePermissions?: (path: string, mode: number) => void;
}

/**
 * Read an identity file. Warns (`process.emitWarning`, code `COUPLER_INSECURE_KEY_FILE`) when the
 * file can be read by group or others.
 *
 * @throws {@link IdentityError} when the file cannot be read or is malformed.
 */
export async function loadIdentity(path: string, options: LoadIdentityOptions = {}): Promise<Identity> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('"path" must be a non-empty string');
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
  if (options.onInsecurePermissions !== undefined && typeof options.onInsecurePermissions !== 'function') {
    throw new InvalidArgumentError('"onInsecurePermissions" must be a function');
  }
  // One descriptor for the checks and the read: a FIFO or a larger file swapped in after a check by
  // path made the read wait for ever or read without end.
  let file;
  try {
    file = await readBoundedFile(path, MAX_IDENTITY_FILE_BYTES);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTREG') throw new IdentityError('identity path is not a regular file');
    if (code === 'EFBIG' || code === 'ECHANGED') throw new IdentityError('identity file is too large');
    if (code === 'EACCES' || code === 'EPERM') throw new IdentityError(unreadableFile('identity file', path, err, await stat(path).catch(() => undefined)), { cause: err });
    throw new IdentityError(`cannot read identity file ${path} (${code ?? 'error'})`, { cause: err });
  }
  const st = file.stat;
  if ((st.mode & 0o077) !== 0) {
    const mode = st.mode & 0o777;
    if (options.onInsecurePermissions) options.onInsecurePermissions(path, mode);
    else
      process.emitWarning(`identity file ${path} is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`, {
        code: 'COUPLER_INSECURE_KEY_FILE',
      });
  }
  return parseIdentity(file.bytes.toString('utf8'));
}

/**
 * The message for a file that exists but cannot be read: the path, the errno code and, for a
 * permission error, who owns the file and who this process is (the usual cause in containers: a
 * secret mounted for root while the image runs as another user). Never the file's content.
 * @internal
 */
export function unreadableFile(what: string, path: string, err: unknown, st?: { uid: number; gid: number; mode: number }): string {
  const code = (err as NodeJS.ErrnoException)?.code ?? 'error';
  if ((code === 'EACCES' || code === 'EPERM') && st !== undefined && typeof process.getuid === 'function') {
    return `cannot read ${what} ${path} (${code}: it is owned by uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o777).toString(8)}, and this process runs as uid ${process.getuid()}, gid ${process.getgid?.()}; give the file to this user, e.g. uid/gid on the secret or volume)`;
  }
  return `cannot read ${what} ${path} (${code})`;
}

/**
 * A short, human-comparable fingerprint of a public key: `SHA256:` and the first 16 bytes of its
 * SHA-256 digest in colon-separated hex pairs groups of 2 bytes.
 *
 * @example fingerprint(me.publicKey) // 'SHA256:3f2a:91bc:...'
 */
export function fingerprint(publicKey: Uint8Array): string {
  if (!isBytes(publicKey) || publicKey.length !== 32) {
    throw new InvalidArgumentError(`"publicKey" expected 32 bytes, got ${describeType(publicKey)}`);
  }
  const hex = createHash('sha256').update(publicKey).digest('hex').slice(0, 32);
  return `SHA256:${hex.match(/.{4}/g)!.join(':')}`;
}

/** Encode a 32-byte public key as standard base64 (the roster format). */
export function encodePublicKey(publicKey: Uint8Array): string {
  if (!isBytes(publicKey) || publicKey.length !== 32) {
    throw new InvalidArgumentError(`"publicKey" expected 32 bytes, got ${describeType(publicKey)}`);
  }
  return encodeBase64(publicKey);
}

/**
 * Decode a base64 (standard or URL-safe) public key.
 * @throws {@link InvalidArgumentError} if it is not base64 of exactly 32 bytes.
 */
export function decodePublicKey(text: string): Uint8Array {
  const bytes = typeof text === 'string' ? decodeBase64Strict(text.trim()) : undefined;
  if (bytes === undefined || bytes.length !== 32) {
    throw new InvalidArgumentError(`public key must be base64 of 32 bytes, got ${bytes === undefined ? 'invalid base64' : `${bytes.length} bytes`}`);
  }
  return bytes;
}
