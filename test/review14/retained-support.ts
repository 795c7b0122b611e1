/**
 * What the R14-3 tests (`retained-*.test.ts`) share: p1..p3 joined through a real relay on
 * 127.0.0.1 with p3's behaviour changed (it never acknowledges; its probe answers dropped or
 * late), the sums they run, and how memory is measured at the senders.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Group } from '../../src/group/group';
import { PeerLink } from '../../src/group/link';
import { SecureChannel } from '../../src/channel/channel';
import { decodeMessage } from '../../src/wire/codec';
import { PONG_ROUND } from '../../src/group/inbound';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { startRelay, type RelayServer } from '../../src/relay';
import { makeParties, type TestParties } from '../support/group-harness';
import { joinViaRelay } from '../support/relay-group';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** ArrayBuffer bytes of this process after two full collections, MiB. */
export async function arrayBuffersMiB(): Promise<number> {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().arrayBuffers / 2 ** 20;
}

/** What `g` keeps for `peer` (undefined on code without the field). */
export const retainedFor = (g: Group, peer: string): number | undefined => (g.stats().find((s) => s.peer === peer) as { retainedBytes?: number } | undefined)?.retainedBytes;

/** A sum's outcome at one party: 'ok', or its error's code and the parties it names (sorted). */
export const outcomeOf = (r: PromiseSettledResult<unknown>): unknown =>
  r.status === 'fulfilled' ? 'ok' : { code: (r.reason as CouplerError).code, peers: [...(r.reason as CouplerError).peers].sort() };

/** How p3 departs from the protocol: it never acknowledges, and its probe answers are dropped (`'drop'`), sent this many ms late, or sent (undefined). */
export interface P3Cheat {
  readonly pongs?: 'drop' | number;
}

/**
 * Run `body` with p1..p3 joined through a real relay (join deadline `joinMs`, round deadline
 * `roundMs`) and p3 changed as `cheat` says (`R143_HONEST=1` in the environment: p3 acknowledges,
 * the control); afterwards restore p3's behaviour and close the groups and the relay.
 */
export async function withRetainingP3(joinMs: number, roundMs: number, cheat: P3Cheat, body: (groups: Group[], parties: TestParties, relay: RelayServer) => Promise<void>): Promise<void> {
  const parties = makeParties(3);
  const relay = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0 });
  const url = `ws://127.0.0.1:${relay.port}`;
  const originalCounted = PeerLink.prototype.onCounted;
  const originalSend = SecureChannel.prototype.send;
  const timers = new Set<NodeJS.Timeout>();
  // p3's links count nothing and so never acknowledge (everything else of p3 is honest).
  PeerLink.prototype.onCounted = function (this: PeerLink, bytes: number): void {
    if (this.channel.localId === 'p3' && !process.env.R143_HONEST) return;
    originalCounted.call(this, bytes);
  };
  if (cheat.pongs !== undefined) {
    const pongs = cheat.pongs;
    SecureChannel.prototype.send = function (this: SecureChannel, message: Uint8Array): Promise<void> {
      if (this.localId === 'p3' && message.length < 4096 && (decodeMessage(message, 4096) as { r?: unknown }).r === PONG_ROUND) {
        if (pongs !== 'drop') {
          const t = setTimeout(() => {
            timers.delete(t);
            originalSend.call(this, message).catch(() => undefined);
          }, pongs);
          timers.add(t);
        }
        return Promise.resolve();
      }
      return originalSend.call(this, message);
    };
  }
  let groups: Group[] = [];
  try {
    groups = await Promise.all(parties.ids.map((id) => joinViaRelay(parties, id, url, roundMs, joinMs)));
    await body(groups, parties, relay);
  } finally {
    for (const t of timers) clearTimeout(t);
    PeerLink.prototype.onCounted = originalCounted;
    SecureChannel.prototype.send = originalSend;
    await Promise.all(groups.map((g) => g.close()));
    await relay.close();
  }
}

/** What {@link sumsUntilFailure} saw: each run's outcomes, and at the senders p1, p2 the peaks. */
export interface RetainedRuns {
  readonly outcomes: unknown[][];
  /** Largest `retainedFor(p1 or p2, 'p3')` after a run, bytes. */
  readonly peakRetained: number;
  /** Largest ArrayBuffer growth after a run over the start, MiB. */
  readonly peakGrowth: number;
  /** Bytes p1 sent p3. */
  readonly sentToP3: number;
  /** The report the tests print. */
  readonly report: Record<string, unknown>;
}

/**
 * Up to `runs` secureSums of `elements`-element vectors with vector shares (1 MiB and more per
 * share message at 2^17), stopping after the first run some party failed; with `measure`, the
 * senders' retained bytes and the process's ArrayBuffer growth after each run; `pauseMs` between
 * runs.
 */
export async function sumsUntilFailure(groups: Group[], runs: number, elements: number, options: { readonly measure?: boolean; readonly pauseMs?: number } = {}): Promise<RetainedRuns> {
  const [g1, g2] = groups as [Group, Group, Group];
  const before = options.measure ? await arrayBuffersMiB() : 0;
  const inputs = groups.map((_, i) => new Float64Array(elements).fill(i + 1));
  let peakRetained = 0;
  let peakGrowth = 0;
  const outcomes: unknown[][] = [];
  const t0 = Date.now();
  for (let run = 0; run < runs; run++) {
    const settled = await Promise.allSettled(groups.map((g, i) => secureSum(g, inputs[i]!, { shares: 'vector' })));
    outcomes.push(settled.map(outcomeOf));
    if (options.measure) {
      for (const g of [g1, g2]) peakRetained = Math.max(peakRetained, retainedFor(g, 'p3') ?? 0);
      peakGrowth = Math.max(peakGrowth, (await arrayBuffersMiB()) - before);
    }
    if (settled.some((s) => s.status === 'rejected')) break;
    if (options.pauseMs !== undefined) await new Promise((r) => setTimeout(r, options.pauseMs));
  }
  const sentToP3 = g1.stats().find((s) => s.peer === 'p3')!.bytesSent;
  const last = outcomes[outcomes.length - 1];
  const report = options.measure
    ? { runs: outcomes.length, last, sentToP3MiB: +(sentToP3 / 2 ** 20).toFixed(1), peakRetainedMiB: +(peakRetained / 2 ** 20).toFixed(1), peakArrayBufferGrowthMiB: +peakGrowth.toFixed(1) }
    : { runs: outcomes.length, ms: Date.now() - t0, last };
  return { outcomes, peakRetained, peakGrowth, sentToP3, report };
}
