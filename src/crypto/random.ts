/**
 * 32-byte random values (commitment nonces, coin-toss contributions) from a small pool of the
 * system CSPRNG's output: node's synchronous `randomBytes` builds a crypto job object per call,
 * which cost more than a small sum's own use of the bytes (a 5-party secureSum of one number
 * draws two per party and run). The pool holds at most {@link POOL_BYTES} bytes not yet handed
 * out; every value is copied out and its bytes in the pool zeroed at once, so the pool never holds
 * a value that was handed out.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';

/** Bytes drawn from the CSPRNG at a time (128 values). */
const POOL_BYTES = 4096;
const VALUE_BYTES = 32;
const pool = Buffer.alloc(POOL_BYTES);
/** Offset of the next unused value; POOL_BYTES: empty. */
let next = POOL_BYTES;

/** 32 uniformly random bytes from the system CSPRNG, as a new Uint8Array. */
export function random32(): Uint8Array {
  if (next === POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  const out = new Uint8Array(pool.subarray(next, next + VALUE_BYTES));
  pool.fill(0, next, next + VALUE_BYTES);
  next += VALUE_BYTES;
  return out;
}
