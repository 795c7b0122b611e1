/**
 * Ed25519 signatures with two byte-compatible backends: tweetnacl (the project's NaCl library,
 * pure JavaScript) and node:crypto (native, about 200x faster for signing). Keys use tweetnacl's
 * layout: a 32-byte public key and a 64-byte secret key (32-byte seed followed by the public key).
 *
 * @module
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';

/** Which implementation performs a primitive. */
export type CryptoBackend = 'native' | 'tweetnacl';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const privateCache = new WeakMap<Uint8Array, KeyObject>();
const publicCache = new Map<string, KeyObject>();
const PUBLIC_CACHE_MAX = 1024;

function nativePrivate(secretKey: Uint8Array): KeyObject {
  let key = privateCache.get(secretKey);
  if (key === undefined) {
    key = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, secretKey.subarray(0, 32)]),
      format: 'der',
      type: 'pkcs8',
    });
    privateCache.set(secretKey, key);
  }
  return key;
}

function nativePublic(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString('hex');
  let key = publicCache.get(id);
  if (key === undefined) {
    // JWK rather than DER: the raw-key import costs about 14 µs, the DER decoder about 120 µs (a
    // verifier of many keys — the relay admitting strangers — pays it per key).
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString('base64url') }, format: 'jwk' });
    if (publicCache.size >= PUBLIC_CACHE_MAX) publicCache.clear();
    publicCache.set(id, key);
  }
  return key;
}

/** Sign `message` with a 64-byte secret key; returns a 64-byte signature. */
export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array, backend: CryptoBackend = 'native'): Uint8Array {
  if (backend === 'tweetnacl') return nacl.sign.detached(message, secretKey);
  return new Uint8Array(nodeSign(null, message, nativePrivate(secretKey)));
}

/** The field prime of Curve25519, 2^255 - 19. */
const FIELD_P = 2n ** 255n - 19n;
/** The y coordinate of two of the four points of order 8 (the other two have p - Y8). */
const ORDER8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;

function yEncodingHex(y: bigint): string {
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) out[i] = Number((y >> BigInt(8 * i)) & 0xffn);
  return out.toString('hex');
}

/**
 * The encodings (sign bit cleared) of the eight points of small order, by their y coordinate: 1
 * (the identity, order 1), p - 1 (order 2), 0 (order 4), ±Y8 (order 8).
 */
const SMALL_ORDER_Y = new Set([1n, FIELD_P - 1n, 0n, ORDER8_Y, FIELD_P - ORDER8_Y].map(yEncodingHex));

/**
 * True for a public key nobody needs a secret for: a point of small order (for the identity
 * point, `R = identity, S = 0` verifies for every message, and for the others a forgery succeeds
 * for a fixed share of messages) or a non-canonical encoding (y ≥ p: an alias of another point,
 * which byte comparison would count as a different key). A key derived from a seed is never weak.
 */
export function isWeakEd25519PublicKey(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return true;
  const y = Buffer.from(publicKey);
  y[31] = y[31]! & 0x7f;
  // y >= p = 2^255 - 19: bytes 1..30 all 0xff, the top byte 0x7f and the lowest at least 0xed.
  let high = y[31] === 0x7f;
  for (let i = 1; high && i < 31; i++) high = y[i] === 0xff;
  if (high && y[0]! >= 0xed) return true;
  return SMALL_ORDER_Y.has(y.toString('hex'));
}

/**
 * Verify a 64-byte detached signature. Returns false (never throws) for any malformed input, and
 * for a weak public key ({@link isWeakEd25519PublicKey}): such a key proves nothing.
 */
export function ed25519Verify(
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
  backend: CryptoBackend = 'native',
): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (isWeakEd25519PublicKey(publicKey)) return false;
  try {
    if (backend === 'tweetnacl') return nacl.sign.detached.verify(message, signature, publicKey);
    return nodeVerify(null, message, nativePublic(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * The key pair of a 32-byte seed, in tweetnacl's layout (secret key = seed || public key). The
 * public key is derived by node:crypto (native: about 0.1 ms, where tweetnacl's pure-JavaScript
 * scalar multiplication took 20 ms, and 150 ms or more under a test runner's module sandbox); the
 * bytes are tweetnacl's (test/identity/identity.test.ts compares them over random seeds).
 */
export function ed25519KeyPairFromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const publicKey = ed25519PublicKeyFromSeed(seed);
  const secretKey = new Uint8Array(64);
  secretKey.set(seed, 0);
  secretKey.set(publicKey, 32);
  return { publicKey, secretKey };
}

/** Derive the 32-byte public key from a 32-byte seed with node:crypto (native; same result as tweetnacl). */
export function ed25519PublicKeyFromSeed(seed: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}
