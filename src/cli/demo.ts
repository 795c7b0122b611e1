/**
 * The built-in demo algorithm of `coupler simulate` (module name `coupler:demo`): every party sums
 * its private vector with the chosen protocol. It is an ordinary algorithm module, run through the
 * same container contract as user algorithms.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { secureSum, dkSecureSum, thresholdSum, ringSecureSum, plainSum } from '../protocols/index.js';
import type { SumResult } from '../protocols/common.js';
import { joinPeerGroup } from '../vantage6/peer.js';
import type { AlgorithmContext } from '../vantage6/contract.js';
import { InvalidArgumentError } from '../errors.js';

/** Protocol names the demo accepts. */
export const DEMO_PROTOCOLS = ['secureSum', 'dkSecureSum', 'thresholdSum', 'ringSecureSum', 'plainSum'] as const;

/**
 * The private vector of demo party `index` (deterministic, so the simulator can check the sum):
 * values in [-1000, 1000] with three decimals, from a 32-bit integer hash of (index, position).
 * (It used Math.sin of large arguments, which took ~3 s for 10^7 values in every party and again
 * three times in the simulator's check, with nothing printed meanwhile.)
 */
export function demoVector(index: number, length: number): Float64Array {
  const v = new Float64Array(length);
  const seed = Math.imul(index + 1, 0x9e3779b1);
  for (let j = 0; j < length; j++) {
    // murmur3's 32-bit finaliser of seed ^ j: well mixed, exact, and cheap.
    let h = (seed ^ j) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h = (h ^ (h >>> 16)) >>> 0;
    v[j] = ((h % DEMO_VALUE_STEPS) - DEMO_VALUE_HALF_RANGE) / 1e3;
  }
  return v;
}

/** Demo values are k/1000 for k in [-10^6, 10^6]. */
const DEMO_VALUE_HALF_RANGE = 1_000_000;
const DEMO_VALUE_STEPS = 2 * DEMO_VALUE_HALF_RANGE + 1;

/** A digest of a float vector, for agreement checks without printing the vector. */
export function vectorDigest(v: Float64Array): string {
  return createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex').slice(0, 16);
}

/**
 * Method `sum`: kwargs `{ protocol, length, index, k?, t? }`.
 * Returns a summary of the sum (head, total, digest), never the private input.
 */
export async function sum(kwargs: Record<string, unknown>, ctx: AlgorithmContext): Promise<Record<string, unknown>> {
  const protocol = kwargs.protocol ?? 'secureSum';
  if (!(DEMO_PROTOCOLS as readonly unknown[]).includes(protocol)) throw new InvalidArgumentError(`"protocol" must be one of ${DEMO_PROTOCOLS.join(', ')}`);
  const length = Number(kwargs.length ?? 1000);
  const index = Number(kwargs.index);
  if (!Number.isSafeInteger(length) || length < 1 || length > 1 << 24) throw new InvalidArgumentError('"length" must be an integer in 1..2^24');
  if (!Number.isSafeInteger(index) || index < 0) throw new InvalidArgumentError('"index" must be a non-negative integer');
  const input = demoVector(index, length);
  const group = await joinPeerGroup(kwargs, ctx);
  try {
    let result: SumResult;
    const opts = { bound: 1e4 };
    switch (protocol) {
      case 'dkSecureSum':
        result = await dkSecureSum(group, input, { ...opts, ...(kwargs.k === undefined ? {} : { k: Number(kwargs.k) }) });
        break;
      case 'thresholdSum':
        result = await thresholdSum(group, input, { ...opts, ...(kwargs.t === undefined ? {} : { t: Number(kwargs.t) }) });
        break;
      case 'ringSecureSum':
        result = await ringSecureSum(group, input, { ...opts, acknowledgeInsecure: true });
        break;
      case 'plainSum':
        result = await plainSum(group, input, { ...opts, acknowledgeInsecure: true });
        break;
      default:
        result = await secureSum(group, input, opts);
    }
    const s = result.sum as Float64Array;
    let total = 0;
    for (let j = 0; j < s.length; j++) total += s[j]!;
    return {
      protocol: result.protocol,
      length: s.length,
      head: Array.from(s.subarray(0, 3)),
      total,
      digest: vectorDigest(s),
      contributors: result.contributors,
      elapsedMs: result.elapsedMs,
    };
  } finally {
    await group.close();
  }
}
