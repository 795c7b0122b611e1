/**
 * review14 R14-3 (brief r143): a roster party p3 on relayed links reads everything p1 and p2 send
 * it — it takes part in every sum, answers liveness probes — but never sends `coupler ack`. A
 * relayed link keeps every unacknowledged message for resending after a resume; before this fix
 * up to `MAX_RETAINED_BYTES` (256 MiB) per link, for the group's life: p3 held that much of each
 * honest party's memory.
 *
 * Measured at the senders: the bytes their links to p3 retain (`retainedBytes` in `stats()`, read
 * without relying on the field's type: it is new) and the process's ArrayBuffer memory after a
 * full GC (p1, p2 and p3 share this process; p3 keeps nothing of what it receives, and p1's and
 * p2's links to each other are acknowledged, so what stays is what the senders keep for p3).
 *
 * Honest outcome: the senders do not keep more than a few acknowledgement windows for p3 — p3 is
 * provably not acknowledging what it reads (it answers a probe sent after the messages, on the
 * same ordered channel, before acknowledging them), so p1 and p2 name it `PROTOCOL_VIOLATION` and
 * drop what they kept.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { joinGroup, type Group } from '../../src/group/group';
import { PeerLink } from '../../src/group/link';
import { secureSum } from '../../src/protocols';
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
    roundTimeoutMs: 8_000,
  });
}

/** What `g` keeps for `peer` (undefined on code without the field). */
const retainedFor = (g: Group, peer: string): number | undefined => (g.stats().find((s) => s.peer === peer) as { retainedBytes?: number } | undefined)?.retainedBytes;

const outcomeOf = (r: PromiseSettledResult<{ sum: unknown }>): unknown =>
  r.status === 'fulfilled' ? 'ok' : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers].sort() };

const ELEMENTS = 1 << 17; // 1 MiB and more per share message
const RUNS = 24;

test('R14-3 — p3 reads every message p1 and p2 send it and never acknowledges: the senders keep at most a few acknowledgement windows for it, and name it', async () => {
  const parties = makeParties(3);
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${relay.port}`;
  const original = PeerLink.prototype.onCounted;
  // p3's links count nothing and so never acknowledge (everything else of p3 is honest).
  // R143_HONEST=1: the control, p3 acknowledges.
  PeerLink.prototype.onCounted = function (this: PeerLink, bytes: number): void {
    if (this.channel.localId === 'p3' && !process.env.R143_HONEST) return;
    original.call(this, bytes);
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
    console.log(`R14-3 noack: ${JSON.stringify(report)}`);
    // p1 and p2 each sent p3 far more than the bound below (24 runs: ≈ 48 MiB each) unless they
    // named it first.
    expect(peakGrowth).toBeLessThan(24);
    const last = outcomes[outcomes.length - 1]!;
    expect(last[0]).toEqual({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['p3'] });
    expect(last[1]).toEqual({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['p3'] });
    // What they keep for it now: nothing (the link is down).
    expect(retainedFor(g1, 'p3')).toBe(0);
    expect(retainedFor(g2, 'p3')).toBe(0);
  } finally {
    PeerLink.prototype.onCounted = original;
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
