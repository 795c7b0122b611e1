/**
 * Identities for test parties, made as generateIdentity makes them (a random 32-byte seed, its
 * Ed25519 public key, the secret key in tweetnacl layout seed || public key) but with the public
 * key derived by node:crypto — ed25519PublicKeyFromSeed, the derivation assertIdentity checks
 * every identity against when a party uses it — instead of tweetnacl's pure-JS scalar
 * multiplication, which takes 150–180 ms per key under jest on the 2-core CI machine (13 of the
 * 33 s of test/protocols/aggregate.test.ts). generateIdentity itself is tested in test/identity/,
 * and identity.test.ts checks that both derivations give the same key pair.
 */
import { randomBytes } from 'node:crypto';
import { ed25519PublicKeyFromSeed } from '../../src/crypto/ed25519';
import { isValidPartyId, type Identity } from '../../src/identity/identity';

/** A fresh identity for party `id` (from `seed` when given, else a random one). */
export function testIdentity(id: string, seed: Uint8Array = new Uint8Array(randomBytes(32))): Identity {
  if (!isValidPartyId(id)) throw new Error(`testIdentity: invalid party id ${JSON.stringify(id)}`);
  if (seed.length !== 32) throw new Error('testIdentity: the seed must be 32 bytes');
  const publicKey = ed25519PublicKeyFromSeed(seed);
  const secretKey = new Uint8Array(64);
  secretKey.set(seed);
  secretKey.set(publicKey, 32);
  return { id, publicKey, secretKey };
}
