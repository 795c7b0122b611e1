/**
 * `floor`: where the time of one message goes, layer by layer (issue 18.1). Ping-pong of one
 * `--size`-byte message between two ends, one round trip at a time, through each layer:
 * `tcp` (node:net, no Nagle) → `ws` (binary, the channel's socket options, no crypto) →
 * `channel` (SecureChannel, native suite) → `group` (two-party Group, send/receive, a fresh round
 * name per message). See `layers.ts`.
 *
 * Two placements: `inproc` (both ends in this process: its CPU is both ends' work) and `cross`
 * (the echoing end in a child process, `echo.ts`: CPU is this process's plus the child's over the
 * same span). Every (placement, layer) pair is one variant; all are interleaved per repetition
 * (ABC…, …CBA), so the ratios and increments between them are paired per repetition. One
 * repetition of a variant = `--warm` untimed round trips, then `--trips` timed ones.
 *
 * Also counts the channel messages one party sends and receives in a 5-party `secureSum` of one
 * number (`shares: 'seed'`, as `protocols --variants=secureSum/seed`) and in one message round
 * (`sendToAll` + `gather`), all parties in this process, so that per-message cost × messages
 * estimates the messaging part of a run.
 *
 * Flags: `--layers=tcp,ws,channel,group`, `--placements=inproc,cross`, `--reps=N`, `--trips=N`,
 * `--warm=N`, `--size=300`. `--quick`: 3 repetitions of 500 round trips.
 *
 * `--baseline=<dir>` (with the `group` layer): also the group layer of another source tree (a
 * checkout of the commit before a change, `node_modules` linked), as one more variant
 * `group@base`, interleaved with this tree's in every repetition (its own pair of parties; across
 * processes its own echo child started from that tree): the paired ratios this tree ÷ baseline
 * show a change of a few percent that separate runs on a loaded machine cannot.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serializeIdentity, type parseIdentity as parseIdentityHere } from '../../src/identity/identity.js';
import { rosterToJSON, type parseRoster as parseRosterHere } from '../../src/identity/roster.js';
import type { Group } from '../../src/group/group.js';
import { secureSum } from '../../src/protocols/additive.js';
import { AddressBook, createTestGroups, joinLocal, makeParties, type TestParties } from '../../test/support/group-harness.js';
import { spawnWorker, type Worker } from '../lib/child.js';
import { registerBenchmark, type BenchOptions, type BenchReport, type ReportTable } from '../lib/registry.js';
import { cell, fmt, interleave, median, pairedRatios, summarize, type Summary } from '../lib/stats.js';
import { LAYERS, channelEcho, channelPing, groupEcho, groupPing, tcpEcho, tcpPing, wsEcho, wsPing, type EchoEnd, type Layer, type PingEnd } from './layers.js';
import type { EchoConfig } from './shared.js';

/** Where the two ends run. */
export const PLACEMENTS = ['inproc', 'cross'] as const;
/** One placement of {@link PLACEMENTS}. */
export type Placement = (typeof PLACEMENTS)[number];

const ROUND_TIMEOUT_MS = 60_000;

/** A row of the tables: a layer of this tree, or the group layer of the `--baseline` tree. */
type Row = Layer | 'group@base';
const BASE_ROW = 'group@base' as const;

/** The group harness of the `--baseline` tree (its own module instances), and `parties` rebuilt with that tree's identity classes. */
async function baselineHarness(dir: string, parties: TestParties): Promise<{ joinLocal: typeof joinLocal; AddressBook: typeof AddressBook; parties: TestParties }> {
  const at = (f: string): string => {
    if (!existsSync(join(dir, f))) throw new Error(`floor: --baseline tree ${dir} has no ${f}`);
    return pathToFileURL(join(dir, f)).href;
  };
  at('bench/floor/echo.ts');
  const harness = (await import(at('test/support/group-harness.ts'))) as { joinLocal: typeof joinLocal; AddressBook: typeof AddressBook };
  const { parseIdentity } = (await import(at('src/identity/identity.ts'))) as { parseIdentity: typeof parseIdentityHere };
  const { parseRoster } = (await import(at('src/identity/roster.ts'))) as { parseRoster: typeof parseRosterHere };
  const identities = new Map([...parties.identities].map(([id, ident]) => [id, parseIdentity(serializeIdentity(ident))]));
  return { ...harness, parties: { ...parties, identities, roster: parseRoster(rosterToJSON(parties.roster)) } };
}
/** The protocol whose message count is reported: `protocols --ns=5 --lengths=1 --variants=secureSum/seed`. */
const COUNT_N = 5;

interface Plan {
  layers: Layer[];
  placements: Placement[];
  reps: number;
  warmupReps: number;
  trips: number;
  warm: number;
  size: number;
  countRuns: number;
  /** The `--baseline` tree, resolved. */
  baseline: string | undefined;
}

function makePlan(opts: BenchOptions): Plan {
  const flag = (name: string): string | undefined => {
    const hit = opts.args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    return hit === undefined ? undefined : hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : '';
  };
  const list = <T extends string>(name: string, known: readonly T[]): T[] => {
    const v = flag(name);
    if (v === undefined || v === '') return [...known];
    const picked = v.split(',');
    const bad = picked.filter((x) => !(known as readonly string[]).includes(x));
    if (bad.length) throw new Error(`floor: unknown ${name} ${bad.join(', ')} (known: ${known.join(', ')})`);
    return known.filter((k) => picked.includes(k)); // bottom-up order, whatever the flag's order
  };
  const num = (name: string, dflt: number): number => {
    const v = flag(name);
    if (v === undefined) return dflt;
    const x = Number(v);
    if (!Number.isSafeInteger(x) || x < 1) throw new Error(`floor: --${name} must be a positive integer`);
    return x;
  };
  const trips = num('trips', opts.quick ? 500 : 2000);
  return {
    layers: list('layers', LAYERS),
    placements: list('placements', PLACEMENTS),
    reps: num('reps', opts.quick ? 3 : 15),
    warmupReps: 1,
    trips,
    warm: num('warm', Math.max(50, Math.round(trips / 10))),
    size: num('size', 300),
    countRuns: opts.quick ? 2 : 5,
    baseline: flag('baseline') === undefined || flag('baseline') === '' ? undefined : resolve(flag('baseline')!),
  };
}

/** The ends of one placement: a pinging end per layer here, the echoing ends here or in the child. */
interface Setup {
  ping: Map<Row, PingEnd>;
  /** Announce `count` round trips of `run` to the echoing end (group round names). */
  expect(layer: Row, run: string, count: number): Promise<void>;
  /** Start counting the CPU of the process echoing `layer` (cross only). */
  mark(layer: Row): Promise<void>;
  /** That process's CPU since {@link Setup.mark}, µs (0 in process: counted with ours). */
  since(layer: Row): Promise<number>;
  close(): Promise<void>;
}

/** Two-party identities: `p1` pings (this process), `p2` echoes. */
function pair(): TestParties {
  return makeParties(2);
}

async function inproc(plan: Plan): Promise<Setup> {
  const parties = pair();
  const [pingId, echoId] = parties.ids as [string, string];
  const echo = new Map<Row, EchoEnd>();
  const ping = new Map<Row, PingEnd>();
  const groupFailed = (err: unknown): void => {
    process.stderr.write(`floor: in-process group echo failed: ${String((err as Error)?.stack ?? err)}\n`);
  };
  for (const layer of plan.layers) {
    if (layer === 'tcp') {
      const e = await tcpEcho();
      echo.set(layer, e);
      ping.set(layer, await tcpPing(e.port, plan.size));
    } else if (layer === 'ws') {
      const e = await wsEcho();
      echo.set(layer, e);
      ping.set(layer, await wsPing(e.port, plan.size));
    } else if (layer === 'channel') {
      const common = { roster: parties.roster, sessionId: parties.sessionId };
      const e = await channelEcho({ identity: parties.identities.get(echoId)!, ...common });
      echo.set(layer, e);
      ping.set(layer, await channelPing(e.port, plan.size, { identity: parties.identities.get(pingId)!, peer: echoId, ...common }));
    } else {
      const groups = await joinLocal(parties, parties.ids, new AddressBook(), { roundTimeoutMs: ROUND_TIMEOUT_MS });
      echo.set(layer, groupEcho(groups[1]!, groupFailed));
      ping.set(layer, groupPing(groups[0]!, plan.size));
      if (plan.baseline !== undefined) {
        const b = await baselineHarness(plan.baseline, parties);
        const bg = (await b.joinLocal(b.parties, parties.ids, new b.AddressBook(), { roundTimeoutMs: ROUND_TIMEOUT_MS })) as Group[];
        echo.set(BASE_ROW, groupEcho(bg[1]!, groupFailed));
        ping.set(BASE_ROW, groupPing(bg[0]!, plan.size));
      }
    }
  }
  return {
    ping,
    expect: async (layer, run, count) => echo.get(layer)!.expect(run, count),
    mark: async () => undefined,
    since: async () => 0,
    close: async () => {
      for (const p of ping.values()) await p.close().catch(() => undefined);
      for (const e of echo.values()) await e.close().catch(() => undefined);
    },
  };
}

async function cross(plan: Plan, opts: BenchOptions): Promise<Setup> {
  const parties = pair();
  const [pingId, echoId] = parties.ids as [string, string];
  const config: EchoConfig = {
    layers: plan.layers,
    echoIdentity: serializeIdentity(parties.identities.get(echoId)!),
    echoId,
    pingId,
    roster: rosterToJSON(parties.roster),
    sessionId: parties.sessionId,
    roundTimeoutMs: ROUND_TIMEOUT_MS,
  };
  const child: Worker = spawnWorker(join(opts.root, 'bench', 'floor', 'echo.ts'), config, { name: 'floor-echo', root: opts.root, deadlineMs: 30 * 60_000 });
  // The baseline tree's group echo: a child started from that tree (group layer only).
  const baseChild: Worker | undefined =
    plan.baseline !== undefined && plan.layers.includes('group')
      ? spawnWorker(join(plan.baseline, 'bench', 'floor', 'echo.ts'), { ...config, layers: ['group'] }, { name: 'floor-echo-base', root: plan.baseline, deadlineMs: 30 * 60_000 })
      : undefined;
  const childOf = (layer: Row): Worker => (layer === BASE_ROW ? baseChild! : child);
  const ping = new Map<Row, PingEnd>();
  /** Form the two-party group with the echo party in `w`, this party's end made by `harness`. */
  const formGroup = async (w: Worker, harness: { joinLocal: typeof joinLocal; AddressBook: typeof AddressBook; parties: TestParties }): Promise<Group> => {
    const book = new harness.AddressBook();
    book.add(echoId, await w.call<number>('groupListen'));
    let myPort = 0;
    const [g] = await harness.joinLocal(harness.parties, [pingId], book, {
      roundTimeoutMs: ROUND_TIMEOUT_MS,
      onEvent: (e) => {
        if (e.type === 'listening') myPort = e.port;
      },
      onListening: async () => {
        await w.call('groupPeer', { port: myPort });
      },
    });
    await w.call('groupReady', {}, 60_000);
    return g as Group;
  };
  try {
    await child.waitEvent('ready', 60_000);
    const ports = await child.call<Partial<Record<Layer, number>>>('start');
    const common = { roster: parties.roster, sessionId: parties.sessionId };
    for (const layer of plan.layers) {
      if (layer === 'tcp') ping.set(layer, await tcpPing(ports.tcp!, plan.size));
      else if (layer === 'ws') ping.set(layer, await wsPing(ports.ws!, plan.size));
      else if (layer === 'channel') ping.set(layer, await channelPing(ports.channel!, plan.size, { identity: parties.identities.get(pingId)!, peer: echoId, ...common }));
      else {
        ping.set(layer, groupPing(await formGroup(child, { joinLocal, AddressBook, parties }), plan.size));
        if (baseChild !== undefined) {
          await baseChild.waitEvent('ready', 60_000);
          ping.set(BASE_ROW, groupPing(await formGroup(baseChild, await baselineHarness(plan.baseline!, parties)), plan.size));
        }
      }
    }
  } catch (err) {
    for (const p of ping.values()) await p.close().catch(() => undefined);
    await child.stop();
    await baseChild?.stop();
    throw err;
  }
  return {
    ping,
    expect: async (layer, run, count) => {
      await childOf(layer).call('expect', { layer: layer === BASE_ROW ? 'group' : layer, run, count });
    },
    mark: async (layer) => {
      await childOf(layer).call('mark');
    },
    since: (layer) => childOf(layer).call<number>('since'),
    close: async () => {
      for (const p of ping.values()) await p.close().catch(() => undefined);
      for (const w of baseChild === undefined ? [child] : [child, baseChild]) {
        await w.call('close').catch(() => undefined);
        await w.stop();
      }
    },
  };
}

/** One repetition's result, per round trip, µs. */
interface Sample {
  wall: number;
  /** Both ends. */
  cpu: number;
  /** The pinging process (= `cpu` in process). */
  cpuPing: number;
  /** The echoing child (0 in process). */
  cpuEcho: number;
}

let runSeq = 0;

async function once(setup: Setup, layer: Row, plan: Plan): Promise<Sample> {
  const ping = setup.ping.get(layer)!;
  const run = `floor.${++runSeq}`;
  await setup.expect(layer, run, plan.warm + plan.trips);
  let i = 0;
  for (; i < plan.warm; i++) await ping.trip(run, i);
  await setup.mark(layer);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (; i < plan.warm + plan.trips; i++) await ping.trip(run, i);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const echoCpu = await setup.since(layer);
  ping.endRun(run);
  const pingCpu = c.user + c.system;
  return { wall: (ms * 1000) / plan.trips, cpu: (pingCpu + echoCpu) / plan.trips, cpuPing: pingCpu / plan.trips, cpuEcho: echoCpu / plan.trips };
}

/** Messages one party sends and receives (channel messages, after the group's batching) in one operation. */
interface Counts {
  sent: number[];
  received: number[];
}

function totals(g: Group): { sent: number; received: number } {
  let sent = 0;
  let received = 0;
  for (const s of g.stats()) {
    sent += s.messagesSent;
    received += s.messagesReceived;
  }
  return { sent, received };
}

/** Count messages per party for a 5-party secureSum of one number and for one message round. */
async function countMessages(runs: number): Promise<Record<'secureSum' | 'round', Counts>> {
  const { groups, close } = await createTestGroups(COUNT_N, { roundTimeoutMs: ROUND_TIMEOUT_MS });
  const out: Record<'secureSum' | 'round', Counts> = { secureSum: { sent: [], received: [] }, round: { sent: [], received: [] } };
  try {
    let k = 0;
    for (let r = 0; r < runs; r++) {
      for (const op of ['secureSum', 'round'] as const) {
        const before = groups.map(totals);
        const run = `floor.count.${++k}`;
        await Promise.all(
          groups.map(async (g) => {
            if (op === 'secureSum') await secureSum(g, new Float64Array([1.5]), { bound: 1e4, shares: 'seed' });
            else {
              await g.sendToAll(`${run}/v`, new Uint8Array(32));
              await g.gather(`${run}/v`);
              g.endRun(run);
            }
          }),
        );
        // Let the last messages of the operation land before reading the counters.
        await new Promise((res) => setTimeout(res, 50));
        groups.forEach((g, i) => {
          const a = totals(g);
          out[op].sent.push(a.sent - before[i]!.sent);
          out[op].received.push(a.received - before[i]!.received);
        });
      }
    }
  } finally {
    await close();
  }
  return out;
}

const us = (s: Summary): string => cell(s, 3);
const key = (p: Placement, l: Row): string => `${p}/${l}`;

async function run(opts: BenchOptions): Promise<BenchReport> {
  const plan = makePlan(opts);
  const setups = new Map<Placement, Setup>();
  const samples = new Map<string, Sample[]>();
  const withBase = plan.baseline !== undefined && plan.layers.includes('group');
  const rowsRun: Row[] = withBase ? [...plan.layers, BASE_ROW] : plan.layers;
  try {
    for (const p of plan.placements) {
      opts.log(`floor: setting up ${p} (${plan.layers.join(', ')})`);
      setups.set(p, p === 'inproc' ? await inproc(plan) : await cross(plan, opts));
    }
    const variants = plan.placements.flatMap((p) => rowsRun.map((l) => key(p, l)));
    for (const v of variants) samples.set(v, []);
    opts.log(`floor: ${variants.length} variants × (${plan.reps} reps + ${plan.warmupReps} warm-up), ${plan.warm} + ${plan.trips} round trips of ${plan.size} B each`);
    await interleave(
      variants,
      { warmup: plan.warmupReps, reps: plan.reps, onRep: (r, warm) => opts.log(`floor: repetition ${r + 1}/${plan.reps + plan.warmupReps}${warm ? ' (warm-up)' : ''}`) },
      async (v, r) => {
        const [p, l] = v.split('/') as [Placement, Row];
        const s = await once(setups.get(p)!, l, plan);
        if (r >= plan.warmupReps) samples.get(v)!.push(s);
        return s.wall;
      },
    );
  } finally {
    for (const s of setups.values()) await s.close().catch(() => undefined);
  }
  opts.log(`floor: counting messages of a ${COUNT_N}-party secureSum L=1 (${plan.countRuns} runs)`);
  const counts = await countMessages(plan.countRuns);

  const get = (p: Placement, l: Row, f: keyof Sample): number[] => samples.get(key(p, l))!.map((s) => s[f]);
  const diff = (a: number[], b: number[]): number[] => a.map((x, i) => x - b[i]!);
  const summaries: Record<string, Record<keyof Sample, Summary>> = {};
  for (const [v, ss] of samples) summaries[v] = { wall: summarize(ss.map((s) => s.wall)), cpu: summarize(ss.map((s) => s.cpu)), cpuPing: summarize(ss.map((s) => s.cpuPing)), cpuEcho: summarize(ss.map((s) => s.cpuEcho)) };
  const has = (p: Placement): boolean => plan.placements.includes(p);
  const both = has('inproc') && has('cross');

  // Table 1: per round trip.
  const columns = ['layer'];
  for (const p of plan.placements) columns.push(`${p} wall µs`, `${p} CPU µs (both ends)`);
  if (has('cross')) columns.push('cross CPU: pinger / echo µs');
  if (both) columns.push('cross ÷ inproc wall', 'cross ÷ inproc CPU');
  const rows = rowsRun.map((l) => {
    const row: (string | number)[] = [l];
    for (const p of plan.placements) row.push(us(summaries[key(p, l)]!.wall), us(summaries[key(p, l)]!.cpu));
    if (has('cross')) row.push(`${fmt(summaries[key('cross', l)]!.cpuPing.median)} / ${fmt(summaries[key('cross', l)]!.cpuEcho.median)}`);
    if (both) {
      row.push(cell(summarize(pairedRatios(get('cross', l, 'wall'), get('inproc', l, 'wall'))), 2), cell(summarize(pairedRatios(get('cross', l, 'cpu'), get('inproc', l, 'cpu'))), 2));
    }
    return row;
  });
  // Table 2: increments, paired per repetition.
  const incColumns = ['increment'];
  for (const p of plan.placements) incColumns.push(`${p} wall µs`, `${p} CPU µs`, `${p} CPU share`);
  const incRows: (string | number)[][] = [];
  const increments: Record<string, Record<string, Summary>> = {};
  for (let i = 1; i < plan.layers.length; i++) {
    const [lo, hi] = [plan.layers[i - 1]!, plan.layers[i]!];
    const row: (string | number)[] = [`${hi} − ${lo}`];
    for (const p of plan.placements) {
      const w = summarize(diff(get(p, hi, 'wall'), get(p, lo, 'wall')));
      const c = summarize(diff(get(p, hi, 'cpu'), get(p, lo, 'cpu')));
      const top = median(get(p, plan.layers[plan.layers.length - 1]!, 'cpu'));
      increments[`${p}/${hi}-${lo}`] = { wall: w, cpu: c };
      row.push(us(w), us(c), `${fmt((100 * c.median) / top, 2)}%`);
    }
    incRows.push(row);
  }
  const base = plan.layers[0]!;
  const baseRow: (string | number)[] = [`${base} (floor)`];
  for (const p of plan.placements) {
    const top = median(get(p, plan.layers[plan.layers.length - 1]!, 'cpu'));
    baseRow.push(us(summaries[key(p, base)]!.wall), us(summaries[key(p, base)]!.cpu), `${fmt((100 * summaries[key(p, base)]!.cpu.median) / top, 2)}%`);
  }
  incRows.unshift(baseRow);

  // Table 3: messages and the estimate.
  const cs = (xs: number[]): string => `${fmt(median(xs))} (${Math.min(...xs)}–${Math.max(...xs)})`;
  const top = plan.layers[plan.layers.length - 1]!;
  const msgColumns = ['operation (n = 5, all parties in one process)', 'messages sent per party', 'messages received per party'];
  for (const p of plan.placements) msgColumns.push(`est. messaging CPU per party, ${p} ${top}, ms`);
  const msgRows = (['secureSum', 'round'] as const).map((op) => {
    const row: (string | number)[] = [op === 'secureSum' ? "secureSum L=1 (shares: 'seed')" : 'one round (sendToAll + gather)', cs(counts[op].sent), cs(counts[op].received)];
    const m = (median(counts[op].sent) + median(counts[op].received)) / 2;
    for (const p of plan.placements) row.push(fmt((m * summaries[key(p, top)]!.cpu.median) / 2 / 1000));
    return row;
  });

  // Table 4 (--baseline): this tree's group layer ÷ the baseline tree's, paired per repetition.
  const baseColumns = ['placement', 'CPU this ÷ baseline', 'wall this ÷ baseline', 'CPU µs this / baseline'];
  if (plan.layers.includes('channel')) baseColumns.push('group − channel CPU µs this / baseline', '(group − channel) this ÷ baseline, CPU');
  const baseRows = withBase
    ? plan.placements.map((p) => {
        const row: (string | number)[] = [
          p,
          cell(summarize(pairedRatios(get(p, 'group', 'cpu'), get(p, BASE_ROW, 'cpu'))), 3),
          cell(summarize(pairedRatios(get(p, 'group', 'wall'), get(p, BASE_ROW, 'wall'))), 3),
          `${fmt(summaries[key(p, 'group')]!.cpu.median)} / ${fmt(summaries[key(p, BASE_ROW)]!.cpu.median)}`,
        ];
        if (plan.layers.includes('channel')) {
          const mine = diff(get(p, 'group', 'cpu'), get(p, 'channel', 'cpu'));
          const theirs = diff(get(p, BASE_ROW, 'cpu'), get(p, 'channel', 'cpu'));
          row.push(`${fmt(median(mine))} / ${fmt(median(theirs))}`, cell(summarize(pairedRatios(mine, theirs)), 3));
        }
        return row;
      })
    : [];

  const tables: ReportTable[] = [
    {
      title: `Per round trip of one ${plan.size}-byte message, µs: median (IQR) of ${plan.reps} repetitions × ${plan.trips} round trips`,
      columns,
      rows,
      notes: [
        'CPU = user + system of both ends over the timed round trips (inproc: this process; cross: this process + the echo child), ÷ round trips.',
        'cross ÷ inproc: paired per repetition (all variants interleaved ABC…, …CBA).',
        'group: the message is a Uint8Array payload; on the wire it also carries the round name and the group encoding.',
      ],
    },
    {
      title: 'Increment of each layer over the one below, per round trip, µs: median (IQR) of the paired differences',
      columns: incColumns,
      rows: incRows,
      notes: [`CPU share: the increment's median ÷ the median CPU of the top layer (${top}) in that placement.`],
    },
    {
      title: 'Messages one party sends and receives, and what they cost at this floor',
      columns: msgColumns,
      rows: msgRows,
      notes: [
        `Channel messages (group.stats(), after the group's batching of sends in one tick), ${plan.countRuns} runs × ${COUNT_N} parties: median (min–max). Same protocol as \`npm run bench -- protocols --ns=5 --lengths=1 --variants=secureSum/seed,round\` (whose own barrier round is not counted here).`,
        'Estimate = (sent + received) / 2 × (CPU per round trip ÷ 2): per round trip each end sends one message and receives one, so one end\'s share of a round trip is one send + one receive.',
        'For all n parties in one process (the latency bench), multiply by n.',
      ],
    },
    ...(withBase
      ? [
          {
            title: `This tree's group layer ÷ the baseline's (${plan.baseline}), paired per repetition: median (IQR)`,
            columns: baseColumns,
            rows: baseRows,
            notes: ['Both trees in every repetition, interleaved with the other variants; the baseline group runs on its own pair of parties (across processes: its own echo child started from that tree).'],
          },
        ]
      : []),
  ];
  return {
    parameters: { ...plan, transport: 'loopback 127.0.0.1', countN: COUNT_N },
    tables,
    data: { samples: Object.fromEntries(samples), summaries, increments, messageCounts: counts },
  };
}

registerBenchmark({ name: 'floor', description: 'per-message cost by layer (tcp, ws, channel, group), in one process and across two; message count of secureSum L=1', run });
