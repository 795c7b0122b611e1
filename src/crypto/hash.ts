/**
 * SHA-256 of the small byte strings the protocols hash per run (statements, commitments, value
 * hashes): one native call each, where `createHash(…).update(…).digest()` builds a Hash object
 * (a JavaScript stream wrapper) per digest — 23 of them per party in a 5-party secureSum of one
 * number, more than the hashing itself. Same digests; `node:crypto`'s one-shot `hash` when this
 * Node has it (20.12 and later), else `createHash`.
 *
 * @module
 */
import * as nodeCrypto from 'node:crypto';

type OneShot = (algorithm: string, data: Uint8Array | string, outputEncoding: 'buffer') => Buffer;

/**
 * The one-shot digest in use (undefined: `createHash` for everything).
 * @internal tests switch it off to check the fallback gives the same digests.
 */
export const _hashBackend: { oneShot: OneShot | undefined } = {
  oneShot: typeof (nodeCrypto as { hash?: unknown }).hash === 'function' ? (nodeCrypto as unknown as { hash: OneShot }).hash : undefined,
};

/** Parts of at most this many bytes in all are joined and hashed in one call; longer ones are streamed (no copy of a long value). */
const JOIN_MAX_BYTES = 4096;

/**
 * SHA-256 of the concatenation of `parts` (a string as its UTF-8 bytes), as a new 32-byte
 * Uint8Array: the bytes `createHash('sha256')` gives when updated with each part in turn.
 */
export function sha256(...parts: (Uint8Array | string)[]): Uint8Array {
  const oneShot = _hashBackend.oneShot;
  if (oneShot !== undefined) {
    if (parts.length === 1) return new Uint8Array(oneShot('sha256', parts[0]!, 'buffer'));
    let total = 0;
    for (const p of parts) total += typeof p === 'string' ? p.length * 3 : p.length;
    if (total <= JOIN_MAX_BYTES) {
      const joined = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
      return new Uint8Array(oneShot('sha256', joined, 'buffer'));
    }
  }
  const h = nodeCrypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
