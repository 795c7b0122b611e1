/**
 * Cipher suites of the channel. Both suites use X25519 for ephemeral key agreement, Ed25519 for
 * signatures and HKDF-SHA256 for key derivation; they differ in who computes them and in the
 * frame AEAD:
 *
 * - `native` (default): node:crypto for X25519 and Ed25519, ChaCha20-Poly1305 (RFC 8439) for frames.
 * - `tweetnacl`: tweetnacl for X25519 (`scalarMult`) and Ed25519, XSalsa20-Poly1305 (`secretbox`)
 *   for frames, with the 24-byte nonce derived as SHA-256(associated data) so the header is bound.
 *
 * Ed25519 keys and signatures are byte-identical between the two (tested). Both peers must use the
 * same suite; the suite name is part of the handshake transcript.
 *
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import nacl from 'tweetnacl';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';

/** Name of a cipher suite. */
export type SuiteName = 'native' | 'tweetnacl';

/** All suite names. */
export const SUITES: readonly SuiteName[] = ['native', 'tweetnacl'];

/** An ephemeral X25519 key pair; `secret` is opaque. */
export interface EphemeralKey {
  readonly publicKey: Uint8Array;
  readonly secret: KeyObject | Uint8Array;
}

/** The primitives one suite provides. */
export interface Suite {
  readonly name: SuiteName;
  /** Bytes of authentication tag added by {@link Suite.seal}. */
  readonly overhead: number;
  ephemeral(): EphemeralKey;
  /** X25519; returns undefined for a low-order peer key (all-zero shared secret). */
  dh(own: EphemeralKey, peerPublic: Uint8Array): Uint8Array | undefined;
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean;
  /** Encrypt and authenticate; `nonce` is a 12-byte unique value, `aad` authenticated only. */
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * {@link Suite.seal} into `out` at `offset` (`plaintext.length + overhead` bytes): a frame is
   * assembled with one copy of the ciphertext instead of two.
   */
  sealInto(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, offset: number): void;
  /** Authenticate then decrypt; undefined when authentication fails. */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined;
}

const TAG = 16;

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

const nativeSuite: Suite = {
  name: 'native',
  overhead: TAG,
  ephemeral() {
    // JWK, not DER: OpenSSL 3's encoders and decoders cost about 100 µs per key, the raw-key
    // path of a JWK 3–14 µs — half of a responder's CPU per handshake, which an outsider who
    // opens connections spends at will (bench formation). Encoded by the generation job itself,
    // while it is alive: on Node 20, `publicKey.export({ format: 'jwk' })` afterwards deadlocks
    // when a garbage collection during the export runs the finished job's destructor, which
    // takes the key's lock the export holds (the process hangs for good;
    // test/channel/ephemeral-deadlock.test.ts).
    const { publicKey, privateKey } = generateKeyPairSync('x25519', { publicKeyEncoding: { format: 'jwk' } });
    const x = (publicKey as { x?: string }).x;
    return { publicKey: new Uint8Array(Buffer.from(x ?? '', 'base64url')), secret: privateKey };
  },
  dh(own, peerPublic) {
    if (peerPublic.length !== 32) return undefined;
    try {
      const pub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublic.buffer, peerPublic.byteOffset, 32).toString('base64url') }, format: 'jwk' });
      const shared = new Uint8Array(diffieHellman({ privateKey: own.secret as KeyObject, publicKey: pub }));
      return isAllZero(shared) ? undefined : shared;
    } catch {
      return undefined;
    }
  },
  sign: (m, sk) => ed25519Sign(m, sk, 'native'),
  verify: (m, s, pk) => ed25519Verify(m, s, pk, 'native'),
  seal(key, nonce, aad, plaintext) {
    const out = new Uint8Array(plaintext.length + TAG);
    nativeSuite.sealInto(key, nonce, aad, plaintext, out, 0);
    return out;
  },
  sealInto(key, nonce, aad, plaintext, out, offset) {
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    out.set(c.update(plaintext), offset);
    c.final();
    out.set(c.getAuthTag(), offset + plaintext.length);
  },
  open(key, nonce, aad, sealed) {
    if (sealed.length < TAG) return undefined;
    const ctLen = sealed.length - TAG;
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
    d.setAAD(aad, { plaintextLength: ctLen });
    d.setAuthTag(sealed.subarray(ctLen));
    const body = d.update(sealed.subarray(0, ctLen));
    try {
      d.final();
    } catch {
      body.fill(0);
      return undefined;
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  },
};

function naclNonce(nonce: Uint8Array, aad: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(nonce).update(aad).digest().subarray(0, 24));
}

const tweetnaclSuite: Suite = {
  name: 'tweetnacl',
  overhead: nacl.secretbox.overheadLength,
  ephemeral() {
    const kp = nacl.box.keyPair();
    return { publicKey: kp.publicKey, secret: kp.secretKey };
  },
  dh(own, peerPublic) {
    if (peerPublic.length !== 32) return undefined;
    const shared = nacl.scalarMult(own.secret as Uint8Array, peerPublic);
    return isAllZero(shared) ? undefined : shared;
  },
  sign: (m, sk) => ed25519Sign(m, sk, 'tweetnacl'),
  verify: (m, s, pk) => ed25519Verify(m, s, pk, 'tweetnacl'),
  seal: (key, nonce, aad, plaintext) => nacl.secretbox(plaintext, naclNonce(nonce, aad), key),
  sealInto(key, nonce, aad, plaintext, out, offset) {
    out.set(nacl.secretbox(plaintext, naclNonce(nonce, aad), key), offset);
  },
  open(key, nonce, aad, sealed) {
    return nacl.secretbox.open(sealed, naclNonce(nonce, aad), key) ?? undefined;
  },
};

/** The suite with this name. */
export function getSuite(name: SuiteName): Suite {
  return name === 'tweetnacl' ? tweetnaclSuite : nativeSuite;
}
