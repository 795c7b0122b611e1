/**
 * memcap (a): a cap across peers on what a party holds for them. The mailbox caps were per peer
 * only (512 MiB of message bytes plus estimated heap by default): k colluding roster peers could
 * each fill their own allowance with messages for a run this party never starts and pin
 * k × the per-peer cap (at n = 10 with 4 colluders, 2 GiB).
 *
 * Here n = 5: the victim m1 caps what it holds for all its peers together at 8 MiB
 * (`mailbox.maxTotalPendingBytes`, so each peer's share is 8 MiB / 4 = 2 MiB); three colluders
 * m2..m4 each send twelve 1 MiB messages for a run m1 never starts, the honest m5 one 1 MiB
 * message for the same kind of run. What m1 holds for them all together must stay within 8 MiB,
 * and the honest m5's message must not be pushed out by the flood (m5 is never dropped or named).
 * Real groups over real WebSockets on 127.0.0.1; the colluders use the public `send`.
 */
import { partiesWith, join, closeAll } from '../review17/support';
import { joinGroup, type Group } from '../../src/group/group';
import { ErrorCode } from '../../src/errors';

jest.setTimeout(60_000);
afterEach(closeAll);

const MiB = 1024 * 1024;
const TOTAL = 8 * MiB;
const FLOOD = 12;

/** What m1 still holds for `peer` of the rounds `rounds` (messages it can take without waiting). */
async function held(victim: Group, peer: string, rounds: readonly string[]): Promise<number> {
  let bytes = 0;
  for (const r of rounds) {
    const got = await victim.receive(peer, r, { timeoutMs: 200 }).then(
      (v) => v as Uint8Array,
      () => undefined,
    );
    if (got !== undefined) bytes += got.byteLength;
  }
  return bytes;
}

test('three colluders each filling their per-peer allowance with messages for a run never started stay within the cap across peers; the honest peer is not pushed out', async () => {
  const p = partiesWith(['m1', 'm2', 'm3', 'm4', 'm5']);
  // Built apart so the option is accepted by the type checker of the code before the cap existed.
  const mailbox = { maxTotalPendingBytes: TOTAL } as Record<string, number>;
  const [v, ...peers] = await join(p, 5000, (id) => (id === 'm1' ? { mailbox } : {}));
  const victim = v!;
  const colluders = peers.slice(0, 3);
  const honest = peers[3]!;
  const rounds = Array.from({ length: FLOOD }, (_, i) => `never.3/x${i}`);
  const payload = new Uint8Array(MiB).fill(7);
  // The honest peer's message first (it is early for a run m1 has not started yet).
  await honest.send('m1', 'never.3/h', payload);
  await Promise.all(
    colluders.map(async (c) => {
      for (const r of rounds) await c.send('m1', r, payload).catch(() => undefined);
      await c.send('m1', 'mark.1/done', 1).catch(() => undefined);
    }),
  );
  await honest.send('m1', 'mark.1/done', 1);
  // Channels are ordered: once the marker is in (or the peer was dropped), the flood was handled.
  for (const c of [...colluders, honest]) await victim.receive(c.localId, 'mark.1/done', { timeoutMs: 10_000 }).catch(() => undefined);
  const fromHonest = await held(victim, honest.localId, ['never.3/h']);
  let total = fromHonest;
  for (const c of colluders) total += await held(victim, c.localId, rounds);
  console.log(`[memcap-a] m1 held ${(total / MiB).toFixed(1)} MiB for 4 peers (cap across peers ${TOTAL / MiB} MiB); honest m5: ${(fromHonest / MiB).toFixed(1)} MiB; lost: ${JSON.stringify(victim.lostPeers)}`);
  expect(fromHonest).toBe(MiB);
  expect(victim.lostPeers).not.toContain('m5');
  expect(total).toBeLessThanOrEqual(TOTAL);
});

test('a cap across peers that is not a positive integer, or leaves a peer no byte, is refused before anything starts (INVALID_ARGUMENT)', async () => {
  const p = partiesWith(['v1', 'v2', 'v3']);
  for (const mailbox of [{ maxTotalPendingBytes: 0 }, { maxTotalPendingBytes: 1.5 }, { maxTotalPendingBytes: 1 }, { maxRunsAhead: -1 }]) {
    await expect(
      joinGroup({ identity: p.identities.get('v1')!, roster: p.roster, sessionId: p.sessionId, listen: false, timeoutMs: 1000, mailbox }),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  }
});
