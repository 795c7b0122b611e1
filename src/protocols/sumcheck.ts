/**
 * The check that makes an aggregated sum's integrity independent of who aggregates: masks that
 * hide the sum from the aggregators until their answer is fixed, and a random linear fingerprint,
 * drawn after that, against which every party checks the answer.
 *
 * Used by the aggregated opening (`aggregate.ts`), where each chunk of the partial sums T_p is
 * summed by one party; meant for any aggregator that sums vectors it must not be trusted with —
 * the aggregating relay of issue 18 is checked the same way.
 *
 * The steps, for a party p with its committed vector T_p (mod 2^64):
 *
 * 1. *Mask.* p draws a secret 32-byte σ_p, masks U_p = T_p + PRG(σ_p) (mod 2^64), and commits to
 *    U_p (however the protocol commits) and to σ_p ({@link maskCommitment}, echo-broadcast with the
 *    commitment to U_p). The aggregators see only masked values; the sum they return,
 *    Ŝ = Σ U_p = S + Σ_p PRG(σ_p), is uniformly random to anyone missing one honest σ.
 * 2. *Aggregate.* The aggregator returns Ŝ with the carries κ (Σ_p U_p over the integers is
 *    Ŝ + 2^64·κ, κ_l ∈ [0, n)); every party fixes its view of (Ŝ, κ) before step 3.
 * 3. *Open the masks* ({@link openMasks}): p sends σ_p only after it holds the whole answer; each
 *    σ_q is checked against q's commitment. The fingerprint weights are drawn from
 *    SHA-256(all σ in canonical order) ({@link checkPoint}): unknown to everyone until the last
 *    honest σ is out, i.e. after every honest party's view of the answer is fixed.
 * 4. *Check.* Every party publishes f_p = F_w(U_p) (its own masked vector's fingerprint, see
 *    `math/fingerprint.ts`) in an echo-checked, signed statement; everyone accepts iff
 *    F_w(Ŝ + 2^64·κ) = Σ_p f_p, and then outputs S = Ŝ − Σ_p PRG(σ_p) ({@link unmaskInPlace}).
 *
 * Why it holds (static adversary, any coalition short of all parties, ChaCha20 a PRG, SHA-256
 * collision resistant, Ed25519 unforgeable):
 *
 * - *No adaptive change.* Until the answer is fixed, a coalition sees U_h of honest parties only
 *   masked by PRG(σ_h), and Ŝ masked by Σ PRG(σ_h): nothing about S. So whatever the aggregators
 *   return is Ŝ + Δ with Δ chosen independently of the honest inputs, and the output is S + Δ: at
 *   most what any party can do to the sum anyway by changing its own input or shares (which no
 *   sum protocol can detect). Replacing a chunk by a chosen value is impossible: the value lands
 *   at (chosen − mask), uniformly random.
 * - *Detected unless covered.* If Δ ≠ 0 and every f_p is honest, the check fails except with
 *   probability 2^-89 (the weights are drawn after Δ is fixed; the field exceeds every value).
 *   A failed check leads the protocol to open the U_p and name the culprit with signed evidence:
 *   an aggregator whose signed answer is not the sum, or a party whose signed f_p is not the
 *   fingerprint of its committed U_p. The only way to pass with Δ ≠ 0 is a false f_p — the
 *   aggregator's own or a colluder's — chosen after the weights are known — which gives the coalition nothing beyond the blind
 *   offset above.
 * - *Why masks are needed, not only the fingerprint.* Without masks the aggregator sees S, and a
 *   colluder's false f_p covers any change it makes after seeing S: the fingerprint alone only
 *   binds parties that tell the truth about themselves. Drawing the weights before the answer
 *   does not help either: with known weights, an aggregator finds short vectors Δ with
 *   F_w(Δ) = 0 (a lattice problem in two or three dimensions) and can move any chunk to within a
 *   few units of a target undetected.
 *
 * What it costs: the masks (one PRG expansion of L to mask, n to unmask: ≈ n·L ChaCha20 words
 * per party), two fingerprints of L elements per party, one message round for the mask openings
 * and 12 bytes per party in the check echo. A party that withholds its σ after seeing the others'
 * aborts the run (named by the timeout) — having learned S, as a last opener can in any protocol
 * without an honest majority.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { CheatingDetectedError, ErrorCode, GroupError } from '../errors.js';
import { bytesEqual } from '../crypto/bytes.js';
import type { Group, RoundOptions } from '../group/group.js';
import { encodeMessage } from '../wire/codec.js';
import { expectBytes } from '../wire/shape.js';
import { applySeedInPlace, type Ring64Vector } from './math/index.js';

/** PRG domain of the masks. */
export const MASK_DOMAIN = 'coupler/1 aggregate mask';
const MASK_COMMIT_TAG = 'coupler/1 aggregate mask commitment';
const POINT_TAG = 'coupler/1 aggregate check point';

/** Bytes of a mask seed σ. */
export const MASK_SEED_BYTES = 32;

/**
 * The commitment to `party`'s mask seed in `round`: SHA-256(msgpack[tag, session, epoch, round,
 * party] ‖ σ). Hiding because σ is 32 uniform bytes, binding by collision resistance.
 */
export function maskCommitment(group: Group, round: string, party: string, sigma: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(encodeMessage([MASK_COMMIT_TAG, group.sessionId, group.epoch, round, party])).update(sigma).digest());
}

/** U = T + PRG(σ) in place (this party's masked vector). */
export function maskInPlace(v: Ring64Vector, sigma: Uint8Array): Ring64Vector {
  return applySeedInPlace(v, sigma, MASK_DOMAIN, 'add');
}

/** S = Ŝ − Σ_p PRG(σ_p) in place: the unmasked sum. */
export function unmaskInPlace(sum: Ring64Vector, sigmas: Iterable<Uint8Array>): Ring64Vector {
  for (const sigma of sigmas) applySeedInPlace(sum, sigma, MASK_DOMAIN, 'sub');
  return sum;
}

/**
 * The seed of the fingerprint weights: SHA-256 over the round and every party's mask seed in
 * canonical order. Nobody knows it before the last honest σ is out.
 */
export function checkPoint(group: Group, round: string, sigmas: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const h = createHash('sha256').update(encodeMessage([POINT_TAG, group.sessionId, group.epoch, round]));
  for (const p of group.parties) h.update(sigmas.get(p)!);
  return new Uint8Array(h.digest());
}

/**
 * Open this party's mask seed to every peer and check theirs against their commitments (`<round>`
 * is the message round). Call it only once this party's view of the aggregated answer is fixed.
 *
 * @returns every party's σ (this party's included).
 * @throws {@link CheatingDetectedError} `COMMITMENT_MISMATCH` naming a party whose σ does not open
 *   its commitment; {@link TimeoutError}/{@link GroupError} naming missing or lost peers.
 */
export async function openMasks(
  group: Group,
  round: string,
  sigma: Uint8Array,
  commitments: ReadonlyMap<string, Uint8Array>,
  commitRound: string,
  options: RoundOptions,
): Promise<Map<string, Uint8Array>> {
  await group.sendToAll(round, sigma, group.peers, options);
  const got = await group.gather(round, options);
  const out = new Map<string, Uint8Array>([[group.localId, sigma]]);
  for (const [peer, msg] of got) {
    const theirs = expectBytes(msg, 'sigma', { what: `mask opening of round "${round}"`, peer }, MASK_SEED_BYTES);
    const committed = commitments.get(peer);
    if (committed === undefined || !bytesEqual(maskCommitment(group, commitRound, peer, theirs), committed)) {
      throw new CheatingDetectedError(
        ErrorCode.COMMITMENT_MISMATCH,
        `party "${peer}" opened a mask seed that does not match its commitment in round "${commitRound}"`,
        { description: 'the mask opening does not hash to the echo-checked commitment', statements: [] },
        { peer },
      );
    }
    out.set(peer, theirs);
  }
  if (out.size !== group.parties.length) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `mask openings of round "${round}" are incomplete`);
  return out;
}
