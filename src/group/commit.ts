/**
 * Commit-then-open: every party first commits to its value (the commitments are echo-broadcast, so
 * all parties hold the same ones), then opens it. A party cannot choose its value after seeing the
 * others' (rushing), and cannot open different values to different parties.
 *
 * Commitment: `SHA-256("coupler/1 commit" || session || round || party || nonce(32) || value)`,
 * binding by collision resistance and hiding by the 256-bit random nonce.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { CheatingDetectedError, ErrorCode } from '../errors.js';
import { bytesEqual } from '../crypto/bytes.js';
import { encodeMessage } from '../wire/codec.js';
import { expectBytes, expectRecord } from '../wire/shape.js';
import type { Group, RoundOptions } from './group.js';
import { echoBroadcast } from './echo.js';

/** The commitment to `value` by `party` under `nonce`. */
export function commitment(session: string, round: string, party: string, nonce: Uint8Array, value: Uint8Array): Uint8Array {
  const h = createHash('sha256');
  h.update(encodeMessage(['coupler/1 commit', session, round, party]));
  h.update(nonce);
  h.update(value);
  return new Uint8Array(h.digest());
}

/**
 * Commit to `value`, echo-check the commitments, then open and verify every opening.
 *
 * @param value - this party's value as bytes.
 * @returns every party's opened value (this party's included), by party id.
 * @throws {@link CheatingDetectedError} `COMMITMENT_MISMATCH` naming a party whose opening does not
 *   match its commitment; `EQUIVOCATION` from the echo round; timeouts naming missing peers.
 */
export async function commitThenOpen(group: Group, round: string, value: Uint8Array, options: RoundOptions = {}): Promise<Map<string, Uint8Array>> {
  const nonce = new Uint8Array(randomBytes(32));
  const mine = commitment(group.sessionId, round, group.localId, nonce, value);
  const commitments = await echoBroadcast(group, `${round}/c`, mine, options);
  await group.sendToAll(`${round}/o`, { v: value, n: nonce });
  const openings = await group.gather(`${round}/o`, options);
  const out = new Map<string, Uint8Array>();
  for (const party of group.parties) {
    if (party === group.localId) {
      out.set(party, value);
      continue;
    }
    const ctx = { what: `opening of round "${round}"`, peer: party };
    const rec = expectRecord(openings.get(party)!, ctx, ['v', 'n']);
    const v = expectBytes(rec.v, 'v', ctx);
    const n = expectBytes(rec.n, 'n', ctx, 32);
    const committed = expectBytes(commitments.get(party)!, 'commitment', ctx, 32);
    if (!bytesEqual(commitment(group.sessionId, round, party, n, v), committed)) {
      throw new CheatingDetectedError(
        ErrorCode.COMMITMENT_MISMATCH,
        `party "${party}" opened a value that does not match its commitment in round "${round}"`,
        { description: 'the opening does not hash to the echo-checked commitment', statements: [] },
        { peer: party },
      );
    }
    out.set(party, v);
  }
  return out;
}
