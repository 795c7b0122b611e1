/**
 * review14 R14-3 (brief r143): p3 on relayed links reads everything, never acknowledges, and
 * answers every liveness probe — 6 s late. An acknowledgement check unanswered for 5 s is followed
 * by a new one; if that forgot the first, a peer answering late escaped the check for ever (each
 * answer came after its check was replaced) and was only held to the per-link cap.
 *
 * Honest outcome: a late answer is still evidence (the channel is ordered whatever the delay):
 * p1 and p2 name p3 `PROTOCOL_VIOLATION`.
 */
import { joinGroup, type Group } from '../../src/group/group';
import { PeerLink } from '../../src/group/link';
import { secureSum } from '../../src/protocols';
import { SecureChannel } from '../../src/channel/channel';
import { decodeMessage } from '../../src/wire/codec';
import { PONG_ROUND } from '../../src/group/inbound';
import { CouplerError } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';

jest.setTimeout(120_000);

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


const outcomeOf = (r: PromiseSettledResult<{ sum: unknown }>): unknown =>
  r.status === 'fulfilled' ? 'ok' : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers].sort() };

const ELEMENTS = 1 << 17; // 1 MiB and more per share message
const RUNS = 30;

test('R14-3 — p3 reads everything, never acknowledges, and answers every probe 6 s late: p1 and p2 still name it', async () => {
  const parties = makeParties(3);
  const relay: RelayServer = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${relay.port}`;
  const originalCounted = PeerLink.prototype.onCounted;
  const originalSend = SecureChannel.prototype.send;
  PeerLink.prototype.onCounted = function (this: PeerLink, bytes: number): void {
    if (this.channel.localId === 'p3') return;
    originalCounted.call(this, bytes);
  };
  const timers = new Set<NodeJS.Timeout>();
  SecureChannel.prototype.send = function (this: SecureChannel, message: Uint8Array): Promise<void> {
    if (this.localId === 'p3' && message.length < 4096) {
      const m = decodeMessage(message, 4096) as { r?: unknown };
      if (m.r === PONG_ROUND) {
        const t = setTimeout(() => {
          timers.delete(t);
          originalSend.call(this, message).catch(() => undefined);
        }, 6_000);
        timers.add(t);
        return Promise.resolve();
      }
    }
    return originalSend.call(this, message);
  };
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => join(parties, id, url)));
    const inputs = groups.map((_, i) => new Float64Array(ELEMENTS).fill(i + 1));
    const outcomes: unknown[][] = [];
    const t0 = Date.now();
    for (let run = 0; run < RUNS; run++) {
      const settled = await Promise.allSettled(groups.map((g, i) => secureSum(g, inputs[i]!, { shares: 'vector' })));
      outcomes.push(settled.map(outcomeOf));
      if (settled.some((s) => s.status === 'rejected')) break;
      // Runs keep going for longer than the answer's delay.
      await new Promise((r) => setTimeout(r, 200));
    }
    const last = outcomes[outcomes.length - 1]!;
    console.log(`R14-3 late: ${JSON.stringify({ runs: outcomes.length, ms: Date.now() - t0, last })}`);
    expect(last[0]).toEqual({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['p3'] });
    expect(last[1]).toEqual({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['p3'] });
  } finally {
    for (const t of timers) clearTimeout(t);
    PeerLink.prototype.onCounted = originalCounted;
    SecureChannel.prototype.send = originalSend;
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
});
