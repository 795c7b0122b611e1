/**
 * Openings that drip (issue 17, item 6): a long opening in pieces has ONE deadline — the round
 * deadline plus its size at MIN_OPENING_BYTES_PER_SECOND — instead of a fresh round deadline per
 * piece. A hostile party (in-process, built from the group API and the documented commitment
 * layout) sends each of its pieces just within a per-piece deadline; the honest parties abort at
 * the opening's deadline — naming it, or nobody when its late piece came during the probe (review17
 * R17-5) — instead of waiting pieces × deadline.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Group } from '../../src/group/group';
import { commitThenOpenPieces, commitment, MIN_OPENING_BYTES_PER_SECOND } from '../../src/group/commit';
import { echoBroadcastAttached } from '../../src/group/echo';
import { ErrorCode, TimeoutError } from '../../src/errors';
import { createTestGroups, settleAll, type TestGroups } from '../support/group-harness';

const ROUND_MS = 600;
let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(4, { roundTimeoutMs: ROUND_MS });
});
afterAll(() => h.close());

const COUNT = 12;
const pieceOf = (party: number, i: number): Uint8Array => new Uint8Array(256).fill((party * 16 + i) & 0xff);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** commitThenOpenPieces as the documented protocol, but piece i is sent `delayMs` after piece i − 1 (and after the others' piece i − 1). */
async function drip(g: Group, round: string, delayMs: number): Promise<void> {
  const mine = Array.from({ length: COUNT }, (_, i) => pieceOf(3, i));
  const hashes = new Uint8Array(32 * COUNT);
  mine.forEach((p, i) => hashes.set(createHash('sha256').update(p).digest(), 32 * i));
  const nonce = new Uint8Array(randomBytes(32));
  await echoBroadcastAttached(g, `${round}/c`, commitment(g.sessionId, g.epoch, round, g.localId, nonce, hashes), () => ({ hs: hashes, n: nonce }));
  for (let i = 0; i < COUNT; i++) {
    // Flow control as the protocol's, and it stops once the others stopped (they aborted).
    if (i > 0 && !(await g.gather(`${round}/p${i - 1}`).then(() => true, () => false))) return;
    await sleep(delayMs);
    await g.sendToAll(`${round}/p${i}`, mine[i]!).catch(() => undefined);
  }
}

test('a party that sends each piece just within a round deadline is named by a TIMEOUT at the opening’s single deadline', async () => {
  // Each piece comes ROUND_MS / 2 after the previous one: in time for a per-piece deadline, so the
  // opening used to complete after COUNT × ROUND_MS / 2. Its size is 12 × 256 bytes from each of 3
  // peers, a few milliseconds at MIN_OPENING_BYTES_PER_SECOND: the deadline is about ROUND_MS.
  expect(3 * COUNT * 256 * 1000 / MIN_OPENING_BYTES_PER_SECOND).toBeLessThan(ROUND_MS);
  const round = 'dr.1/open';
  const honest = h.groups.slice(0, 3);
  const [results] = await Promise.all([
    settleAll(honest.map((g, gi) => commitThenOpenPieces(g, round, COUNT, (i) => pieceOf(gi, i), () => undefined))),
    drip(h.groups[3]!, round, ROUND_MS / 2),
  ]);
  for (const r of results) {
    expect(r.ok).toBe(false);
    const e = (r as { error: unknown }).error as TimeoutError;
    expect(e).toBeInstanceOf(TimeoutError);
    expect(e.code).toBe(ErrorCode.TIMEOUT);
    // p4, or nobody when p4's late piece came during the probe at the deadline: a party whose
    // message came then is not named (review17 R17-5 — an honest party held up by a withholder
    // looks the same; nobody named costs nothing, any live party can stop a run unnamed anyway).
    // Never an honest party.
    expect(e.peers.filter((p) => p !== 'p4')).toEqual([]);
    if (e.peers.length === 0) expect(e.message).toContain('during the probe');
    expect(e.message).toContain("opening's deadline");
  }
});
