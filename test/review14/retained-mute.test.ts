/**
 * review14 R14-3 (brief r143), second half: p3 on relayed links reads everything p1 and p2 send
 * it and takes part in every sum, but never sends `coupler ack` AND never answers a liveness
 * probe (it drops its own `coupler pong`s). Nothing then proves it read what it was sent (a slow
 * path looks the same from the sender), so nobody is named — but the senders must not keep an
 * unbounded share of their memory for it: before this fix up to `MAX_RETAINED_BYTES` (256 MiB)
 * per link, and each retained message pinned the encoder's whole buffer (a 1 MiB message: 4 MiB;
 * a small one after a large one: the large one's buffer).
 *
 * Measured at the senders: the bytes their links to p3 retain (`retainedBytes` in `stats()`) and
 * the process's ArrayBuffer memory after a full GC (as in retained-noack.test.ts).
 *
 * Honest outcome: every sum completes (p3 withholds nothing a run needs); what p1 and p2 keep
 * for p3 stays under the small per-link cap (`RETAIN_FLOOR_BYTES`, 32 MiB, for messages this
 * small) and the process's growth under two such caps plus slack.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { joinGroup, type Group } from '../../src/group/group';
import { PeerLink } from '../../src/group/link';
import { secureSum } from '../../src/protocols';
import { SecureChannel } from '../../src/channel/channel';
import { decodeMessage } from '../../src/wire/codec';
import { PONG_ROUND } from '../../src/group/inbound';
import { CouplerError } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(180_000);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** ArrayBuffer bytes of this process after two full collections, MiB. */
async function arrayBuffersMiB(): Promise<number> {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().arrayBuffers / 2 ** 20;
}

function join(parties: TestParties, id: string, relayUrl: string): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl,
    timeoutMs: 20_000,
    roundTimeoutMs: 20_000,
  });
}

/** What `g` keeps for `peer` (undefined on code without the field). */
const retainedFor = (g: Group, peer: string): number | undefined => (g.stats().find((s) => s.peer === peer) as { retainedBytes?: number } | undefined)?.retainedBytes;

const outcomeOf = (r: PromiseSettledResult<{ sum: unknown }>): unknown =>
  r.status === 'fulfilled' ? 'ok' : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers].sort() };

const ELEMENTS = 1 << 17; // 1 MiB and more per share message
const RUNS = 48;

test('R14-3 — p3 reads every message p1 and p2 send it, never acknowledges and never answers a probe: every sum completes, and the senders keep at most the small per-link cap for it', async () => {
  const parties = makeParties(3);
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${relay.port}`;
  const originalCounted = PeerLink.prototype.onCounted;
  const originalSend = SecureChannel.prototype.send;
  // p3's links count nothing and so never acknowledge; p3's channels drop its probe answers.
  PeerLink.prototype.onCounted = function (this: PeerLink, bytes: number): void {
    if (this.channel.localId === 'p3') return;
    originalCounted.call(this, bytes);
  };
  SecureChannel.prototype.send = function (this: SecureChannel, message: Uint8Array): Promise<void> {
    if (this.localId === 'p3' && message.length < 4096) {
      const m = decodeMessage(message, 4096) as { r?: unknown };
      if (m.r === PONG_ROUND) return Promise.resolve();
    }
    return originalSend.call(this, message);
  };
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const [g1, g2] = groups as [Group, Group, Group];
    const before = await arrayBuffersMiB();
    const inputs = groups.map((_, i) => new Float64Array(ELEMENTS).fill(i + 1));
    let peakRetained = 0;
    let peakGrowth = 0;
    let sentToP3 = 0;
    const outcomes: unknown[][] = [];
    for (let run = 0; run < RUNS; run++) {
      const settled = await Promise.allSettled(groups.map((g, i) => secureSum(g, inputs[i]!, { shares: 'vector' })));
      outcomes.push(settled.map(outcomeOf));
      for (const g of [g1, g2]) peakRetained = Math.max(peakRetained, retainedFor(g, 'p3') ?? 0);
      peakGrowth = Math.max(peakGrowth, (await arrayBuffersMiB()) - before);
      sentToP3 = g1.stats().find((s) => s.peer === 'p3')!.bytesSent;
      if (settled.some((s) => s.status === 'rejected')) break;
    }
    const report = { runs: outcomes.length, last: outcomes[outcomes.length - 1], sentToP3MiB: +(sentToP3 / 2 ** 20).toFixed(1), peakRetainedMiB: +(peakRetained / 2 ** 20).toFixed(1), peakArrayBufferGrowthMiB: +peakGrowth.toFixed(1) };
    console.log(`R14-3 mute: ${JSON.stringify(report)}`);
    expect(outcomes.length).toBe(RUNS);
    expect(outcomes[outcomes.length - 1]).toEqual(['ok', 'ok', 'ok']);
    // p1 sent p3 ≈ 48 MiB (p2 as much); each keeps at most its 32 MiB cap for it.
    expect(sentToP3).toBeGreaterThan(40 * 2 ** 20);
    expect(peakGrowth).toBeLessThan(3 * 32);
    expect(retainedFor(g1, 'p3')).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(retainedFor(g2, 'p3')).toBeLessThanOrEqual(32 * 2 ** 20);
  } finally {
    PeerLink.prototype.onCounted = originalCounted;
    SecureChannel.prototype.send = originalSend;
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
