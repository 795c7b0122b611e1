/**
 * dk scaling child of the protocols benchmark: for each n, all n parties run in THIS process
 * (one group each, every party on its own 127.0.0.x address), and dkSecureSum runs repeatedly
 * with fixed k. Wire bytes sent per party are split by phase by watching the round names a party
 * sends on (instance wrappers around `group.send` / `group.sendToAll`; src is untouched): the
 * `group.stats()` totals are snapshotted the moment a party sends its first message of a new
 * phase, which is exact because every phase's sends are awaited before the next phase starts.
 *
 * Phases: `agree` (rounds `<run>/shape/*`: the shape-and-parameters echo broadcast), `segment`
 * (`<run>/segment`: the k − 1 segments), and the opening of the partial sums: `commit`
 * (`<run>/partial/c/*`: commitment echo), `vectors` (broadcast: `<run>/partial/c/d`, the digests
 * of the commitment echo, which carry the openings; aggregate:
 * `<run>/partial/pieces` and `<run>/partial/sums`), `check` (`<run>/partial/check/*`: the aggregate
 * check echo). Each mode fixes the segment transport (`shares`) and the `opening`.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { joinGroup, type Group } from '../../src/group/group.js';
import { generateIdentity } from '../../src/identity/identity.js';
import { createRoster } from '../../src/identity/roster.js';
import { dkSecureSum } from '../../src/protocols/index.js';
import type { PlainData } from '../../src/wire/codec.js';
import { emit, serve, workerConfig } from '../lib/worker.js';
import { BOUND, DK_PHASES, digestOf, hintedDiscovery, partyId, partyInput, type DkPhase, type DkScaleConfig, type DkScaleRow, type PartyAddress } from './shared.js';
import { freePort } from '../../src/cli/ports';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const cfg = workerConfig<DkScaleConfig>();

type Phase = DkPhase;
const PHASES = DK_PHASES;

function phaseOf(round: string, opening: 'broadcast' | 'aggregate'): Phase | undefined {
  const parts = round.split('/');
  if (parts[1] === 'shape') return 'agree';
  if (parts[1] === 'segment') return 'segment';
  if (parts[1] !== 'partial') return undefined;
  // Broadcast opening: the T_p ride on the commitment echo's digest round (`partial/c/d`).
  if (parts[2] === 'c') return opening === 'broadcast' && parts[3] === 'd' ? 'vectors' : 'commit';
  if (parts[2] === 'check') return 'check';
  return 'vectors'; // o (broadcast), pieces, sums (aggregate); dispute never happens here
}

function sentTotal(g: Group): { bytes: number; messages: number } {
  let bytes = 0;
  let messages = 0;
  for (const s of g.stats()) {
    bytes += s.bytesSent;
    messages += s.messagesSent;
  }
  return { bytes, messages };
}

/** Per-party phase accounting, reset before each run. */
class PhaseMeter {
  current: Phase | undefined;
  opening: 'broadcast' | 'aggregate' = 'aggregate';
  marks: { phase: Phase; bytes: number; messages: number }[] = [];
  constructor(readonly g: Group) {
    const send = g.send.bind(g);
    const sendToAll = g.sendToAll.bind(g);
    g.send = (peer: string, round: string, payload: PlainData): Promise<void> => {
      this.see(round);
      return send(peer, round, payload);
    };
    g.sendToAll = (round: string, payload: PlainData, to?: readonly string[]): Promise<void> => {
      this.see(round);
      return to === undefined ? sendToAll(round, payload) : sendToAll(round, payload, to);
    };
  }
  reset(): void {
    this.current = undefined;
    this.marks = [];
  }
  see(round: string): void {
    const p = phaseOf(round, this.opening);
    if (p === undefined || p === this.current) return;
    this.current = p;
    this.marks.push({ phase: p, ...sentTotal(this.g) });
  }
  /** Bytes and messages per phase, given the totals before and after the run. */
  split(before: { bytes: number; messages: number }, after: { bytes: number; messages: number }): Record<Phase, { bytes: number; messages: number }> {
    const out = Object.fromEntries(PHASES.map((p) => [p, { bytes: 0, messages: 0 }])) as Record<Phase, { bytes: number; messages: number }>;
    const marks = [...this.marks, { phase: undefined, ...after }];
    let prev = before;
    let phase: Phase | undefined;
    for (const m of marks) {
      if (phase !== undefined) {
        out[phase].bytes += m.bytes - prev.bytes;
        out[phase].messages += m.messages - prev.messages;
      }
      prev = m;
      phase = m.phase;
    }
    return out;
  }
}


async function measure(n: number): Promise<DkScaleRow[]> {
  const ids = Array.from({ length: n }, (_, i) => partyId(i));
  const identities = ids.map((id) => generateIdentity(id));
  const roster = createRoster(identities.map((x) => ({ id: x.id!, publicKey: x.publicKey })));
  const port = await freePort('127.0.0.2');
  const all: PartyAddress[] = ids.map((id, i) => ({ id, host: `127.0.0.${i + 2}`, port }));
  const sessionId = `bench-dkscale-${n}-${Date.now()}`;
  const t0 = performance.now();
  const groups = await Promise.all(
    ids.map((id, i) =>
      joinGroup({
        identity: identities[i]!,
        roster,
        sessionId,
        localId: id,
        discovery: hintedDiscovery(all, id),
        listen: { host: all[i]!.host, port },
        timeoutMs: 120_000,
        roundTimeoutMs: cfg.roundTimeoutMs,
        dialBackoff: { initialMs: 50, maxMs: 500 },
        discoveryIntervalMs: 50,
      }),
    ),
  );
  const joinMs = performance.now() - t0;
  const meters = groups.map((g) => new PhaseMeter(g));
  const inputs = ids.map((_, i) => partyInput(i, cfg.L));
  const rows: DkScaleRow[] = [];
  try {
    for (const mode of cfg.modes) {
      const row: DkScaleRow = {
        n,
        mode,
        joinMs,
        wallMs: [],
        bytes: { agree: [], segment: [], commit: [], vectors: [], check: [], total: [] },
        bytesMax: { agree: [], segment: [], commit: [], vectors: [], check: [], total: [] },
        messages: { agree: [], segment: [], commit: [], vectors: [], check: [] },
        agreed: true,
      };
      for (let r = 0; r < cfg.warmup + cfg.reps; r++) {
        gc();
        for (const m of meters) {
          m.reset();
          m.opening = mode.opening;
        }
        const before = groups.map(sentTotal);
        const start = performance.now();
        const results = await Promise.all(
          groups.map((g, i) => dkSecureSum(g, inputs[i]!, { k: cfg.k, bound: BOUND, shares: mode.shares, opening: mode.opening, roundTimeoutMs: cfg.roundTimeoutMs })),
        );
        const wall = performance.now() - start;
        const digests = new Set(results.map((x) => digestOf(x.sum as Float64Array)));
        if (digests.size !== 1) row.agreed = false;
        if (r < cfg.warmup) continue;
        row.wallMs.push(wall);
        const splits = groups.map((g, i) => meters[i]!.split(before[i]!, sentTotal(g)));
        for (const p of [...PHASES, 'total'] as const) {
          const per = splits.map((s) => (p === 'total' ? PHASES.reduce((a, q) => a + s[q].bytes, 0) : s[p].bytes));
          row.bytes[p].push(per.reduce((a, b) => a + b, 0) / n);
          row.bytesMax[p].push(Math.max(...per));
        }
        for (const p of PHASES) row.messages[p].push(splits.reduce((a, s) => a + s[p].messages, 0) / n);
      }
      rows.push(row);
    }
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
  return rows;
}

serve({
  async scale(): Promise<DkScaleRow[]> {
    const rows: DkScaleRow[] = [];
    for (const n of cfg.ns) {
      emit({ event: 'progress', n });
      rows.push(...(await measure(n)));
    }
    return rows;
  },
});

emit({ event: 'ready', pid: process.pid });
