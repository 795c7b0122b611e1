/**
 * `relay-attacks`: the relay's memory and a real task's mesh formation under each exhaustion
 * attempt of issue 16, item 3, at the relay's default limits.
 *
 * For each attack two fresh `coupler relay` processes run side by side on 127.0.0.1 (defaults;
 * the real task's roster and one outsider's static roster listed, roster-bound sessions on): one
 * is attacked by the outsider (bench/relay/attacker.ts, its own process, source addresses
 * 127.0.0.2 … 127.0.0.9), the other not. The real task (5 parties in the bench process, relay
 * transport, from 127.0.0.1) forms its mesh (all 10 channels) on each in turn, repetitions
 * interleaved, so both see the same machine load; ratio = attacked / unattacked median. RSS of
 * the attacked relay: idle, under the attack (VmRSS) and its peak over the run (VmHWM).
 *
 * (a) roster-bound: 8 sources × 32 self-paired idle sessions of the outsider's own keys;
 * (b) static roster: one member from one address opens as many sessions as it can;
 * (c) unadmitted WebSockets: 4 000 from one address, then 8 × 500 from eight;
 * (d) self-paired writers whose partner never reads, as many as the caps allow from 8 sources,
 *     each writing 256 KiB messages without pause;
 * (e) admissions churned from 8 sources (admit, close, again) to grow the replay set.
 *
 * Flags: `--reps=3`, `--attacks=a,b,c,d,e`. `--quick`: one repetition, smaller attacks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { rosterToJSON } from '../../src/identity/roster';
import { serializeIdentity } from '../../src/identity/identity';
import type { BenchOptions, BenchReport } from '../lib/registry.js';
import { fmt, summarize } from '../lib/stats.js';
import { makeParties, type TestParties } from '../../test/support/group-harness';
import { joinAll } from '../../test/relay/_relay';

const MIB = 2 ** 20;
const ATTACKS = ['a', 'b', 'c', 'd', 'e'] as const;
type Attack = (typeof ATTACKS)[number];

interface RelayProc {
  readonly child: ChildProcess;
  readonly url: string;
  rss(): { rss: number; hwm: number };
  stop(): Promise<void>;
}

async function startRelayProc(root: string, rosterFiles: string[]): Promise<RelayProc> {
  const args = ['--import', 'tsx', resolve(root, 'src/cli/main.ts'), 'relay', ...rosterFiles.flatMap((f) => ['--roster', f]), '--roster-bound-sessions', '--host', '127.0.0.1', '--port', '0'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error('relay did not start')), 60_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(l);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    });
  });
  const kib = (status: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return {
    child,
    url: `ws://127.0.0.1:${port}`,
    rss: () => {
      const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return { rss: kib(s, 'VmRSS'), hwm: kib(s, 'VmHWM') };
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Time for the real task to form its mesh through the relay (ms); its groups are closed after. */
async function formMesh(url: string, p: TestParties, rep: string): Promise<number> {
  const t0 = performance.now();
  const groups = await joinAll({ ...p, sessionId: `${p.sessionId}-${rep}` }, () => ({ transport: 'relay', relayUrl: url }), 120_000);
  const ms = performance.now() - t0;
  await Promise.all(groups.map((g) => g.close()));
  return ms;
}

/** Start the outsider's process against `url`; resolves with it and its outcome once the attack is in place. */
async function launch(root: string, x: Attack, url: string, memberFile: string, quick: boolean): Promise<{ child: ChildProcess; outcome: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(root, 'bench/relay/attacker.ts'), url, x, memberFile, ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const outcome = await new Promise<string>((res, rej) => {
    child.once('exit', (code) => rej(new Error(`attacker exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('ready ')) res(l.slice(6));
    });
  });
  child.removeAllListeners('exit');
  return { child, outcome };
}

/** The `relay-attacks` benchmark. */
export async function runRelayAttacks(opts: BenchOptions): Promise<BenchReport> {
  const flag = (name: string): string | undefined => opts.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const reps = Number(flag('reps') ?? (opts.quick ? 1 : 3));
  const attacks = (flag('attacks')?.split(',') ?? [...ATTACKS]).filter((a): a is Attack => (ATTACKS as readonly string[]).includes(a));
  const dir = mkdtempSync(join(tmpdir(), 'coupler-relay-attacks-'));
  const real = makeParties(5);
  const member = makeParties(2, 'm');
  writeFileSync(join(dir, 'real.json'), rosterToJSON(real.roster));
  writeFileSync(join(dir, 'member.json'), rosterToJSON(member.roster));
  const memberFile = join(dir, 'm1.json');
  writeFileSync(memberFile, serializeIdentity(member.identities.get('m1')!));
  const rosterFiles = [join(dir, 'real.json'), join(dir, 'member.json')];
  const rows: (string | number)[][] = [];
  const data: Record<string, unknown> = {};
  try {
    for (const x of attacks) {
      opts.log(`relay-attacks: (${x})`);
      const relays = [await startRelayProc(opts.root, rosterFiles), await startRelayProc(opts.root, rosterFiles)];
      const [clean, target] = relays as [RelayProc, RelayProc];
      let attacker: ChildProcess | undefined;
      try {
        const idle = target.rss();
        const launched = await launch(opts.root, x, target.url, memberFile, opts.quick);
        attacker = launched.child;
        const under = target.rss();
        opts.log(`relay-attacks: (${x}) ${launched.outcome}; RSS ${fmt(under.rss / MIB)} MiB`);
        const cleanMs: number[] = [];
        const attackedMs: number[] = [];
        for (let i = 0; i < reps; i++) {
          // Alternate which goes first, so that neither always meets the other's leftovers.
          const order = i % 2 === 0 ? (['clean', 'attacked'] as const) : (['attacked', 'clean'] as const);
          for (const which of order) {
            if (which === 'clean') cleanMs.push(await formMesh(clean.url, real, `${x}-clean-${i}`));
            else attackedMs.push(await formMesh(target.url, real, `${x}-attacked-${i}`));
            opts.log(`relay-attacks: (${x}) rep ${i} ${which}: ${fmt((which === 'clean' ? cleanMs : attackedMs).at(-1)!)} ms`);
          }
        }
        const end = target.rss();
        const c = summarize(cleanMs);
        const a = summarize(attackedMs);
        rows.push([`(${x})`, launched.outcome, fmt(idle.rss / MIB), fmt(Math.max(under.rss, end.rss) / MIB), fmt(end.hwm / MIB), fmt(c.median), fmt(a.median), fmt(a.median / c.median)]);
        data[x] = { outcome: launched.outcome, idleRss: idle.rss, underRss: under.rss, endRss: end.rss, peakRss: end.hwm, cleanMs, attackedMs };
      } finally {
        if (attacker && attacker.exitCode === null && attacker.signalCode === null) {
          const gone = new Promise((r) => attacker!.once('exit', r));
          attacker.kill('SIGTERM');
          await gone;
        }
        opts.log(`relay-attacks: (${x}) stopping`);
        await Promise.all(relays.map((r) => r.stop()));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    parameters: { reps, attacks, quick: opts.quick, parties: 5, relay: 'coupler relay, default limits, 127.0.0.1' },
    tables: [
      {
        title: 'Relay RSS and a real task\'s mesh formation under each exhaustion attempt (default limits)',
        columns: ['attack', 'outcome at the relay', 'RSS idle MiB', 'RSS under attack MiB', 'peak RSS MiB', 'mesh ms unattacked', 'mesh ms attacked', 'attacked / unattacked'],
        rows,
        notes: ['Targets (issue 16): RSS ≤ 256 MiB under every attack; attacked mesh formation ≤ 2× unattacked.'],
      },
    ],
    data,
  };
}
