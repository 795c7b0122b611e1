/**
 * `latency`: the fixed cost of a protocol run at small L — message rounds and echo broadcasts —
 * with n parties in ONE process over real channels on 127.0.0.1 (every party's CPU work is on one
 * thread, so the numbers are the sum of all parties' work plus the rounds' latency; separate
 * processes overlap some of it, see `npm run bench -- jiff` for those).
 *
 * Variants, interleaved per repetition (ABC CBA …), each one operation at every party at once:
 * - `round`: `sendToAll` + `gather` of a small value (one message round — the floor);
 * - `echo`: `echoBroadcast` of a 32-byte value (two rounds; signs twice, verifies nothing unless
 *   digests differ);
 * - `echo + verify all`: the same, followed by verifying every signature the echo carried
 *   (n − 1 statements and n − 1 digests per party), which is what the echo did before signatures
 *   were checked only as evidence;
 * - `secureSum L=1`: a whole `secureSum` of one number (shape echo, share round, commitment echo,
 *   opening).
 *
 * Flags: `--ns=3,5,9` (at most 9: the test harness's party ids), `--reps=40`,
 * `--variants=round,secureSum L=1` (a subset, e.g. to profile one with `node --cpu-prof`).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createTestGroups } from '../../test/support/group-harness';
import { echoBroadcast, ECHO_STATEMENT } from '../../src/group/echo';
import { ed25519Verify } from '../../src/crypto/ed25519';
import { encodeMessage } from '../../src/wire/codec';
import { secureSum } from '../../src/protocols/additive';
import type { Group } from '../../src/group/group';
import { registerBenchmark, type BenchOptions, type BenchReport } from '../lib/registry.js';
import { cell, fmt, interleave, pairedRatios, summarize } from '../lib/stats.js';

function flag(args: readonly string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

const VARIANTS = ['round', 'echo', 'echo + verify all', 'secureSum L=1'] as const;
type Variant = (typeof VARIANTS)[number];

/** Verify what the previous echo verified at `g`: every peer's round-1 statement and round-2 signature (same count and sizes). */
function verifyAll(g: Group, round: string, value: Uint8Array): void {
  const h = new Uint8Array(createHash('sha256').update(encodeMessage(value)).digest());
  for (const peer of g.peers) {
    const pk = g.roster.get(peer)!.publicKey;
    const stmt = encodeMessage({ t: ECHO_STATEMENT.broadcast, s: g.sessionId, r: `${round}/v`, from: peer, h });
    // The signatures are not at hand outside echo.ts; verifying against a fixed 64-byte value costs
    // the same as a real verification (Ed25519 verification time does not depend on the outcome).
    ed25519Verify(stmt, new Uint8Array(64).fill(1), pk);
    ed25519Verify(encodeMessage({ t: ECHO_STATEMENT.digest, s: g.sessionId, r: `${round}/d`, from: peer, d: h }), new Uint8Array(64).fill(2), pk);
  }
}

async function run(opts: BenchOptions): Promise<BenchReport> {
  const ns = (flag(opts.args, 'ns') ?? (opts.quick ? '3' : '3,5,9')).split(',').map(Number);
  const reps = Number(flag(opts.args, 'reps') ?? (opts.quick ? 10 : 40));
  const picked = flag(opts.args, 'variants')?.split(',');
  const unknown = picked?.filter((v) => !(VARIANTS as readonly string[]).includes(v)) ?? [];
  if (unknown.length > 0) throw new Error(`latency: unknown variants ${unknown.join(', ')} (known: ${VARIANTS.join(', ')})`);
  const variants = picked === undefined ? VARIANTS : VARIANTS.filter((v) => picked.includes(v));
  const value = new Uint8Array(32).fill(7);
  const rows: (string | number)[][] = [];
  const cpuRows: (string | number)[][] = [];
  const data: unknown[] = [];
  for (const n of ns) {
    const tg = await createTestGroups(n, { roundTimeoutMs: 30_000 });
    let k = 0;
    try {
      // CPU time of this process (user + system, all n parties) per operation, by variant and
      // repetition: on a loaded machine the wall time also counts waiting for a core, this does not.
      const cpu = new Map<Variant, number[]>(variants.map((v) => [v, []]));
      const once = async (v: Variant): Promise<number> => {
        const round = `lat.${++k}`;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(
          tg.groups.map(async (g) => {
            if (v === 'round') {
              await g.sendToAll(round, value);
              await g.gather(round);
            } else if (v === 'echo') {
              await echoBroadcast(g, round, value);
            } else if (v === 'echo + verify all') {
              await echoBroadcast(g, round, value);
              verifyAll(g, round, value);
            } else {
              await secureSum(g, 1.5);
            }
          }),
        );
        const ms = performance.now() - t0;
        const c = process.cpuUsage(c0);
        cpu.get(v)!.push((c.user + c.system) / 1000);
        return ms;
      };
      const samples = await interleave(variants, { warmup: 3, reps }, (v) => once(v));
      // The warm-up repetitions' CPU samples come first (one per variant and repetition).
      const cpuSamples = Object.fromEntries(variants.map((v) => [v, cpu.get(v)!.slice(3)])) as Record<Variant, number[]>;
      cpuRows.push([n, ...variants.map((v) => cell(summarize(cpuSamples[v])))]);
      const summaries = Object.fromEntries(variants.map((v) => [v, summarize(samples[v])]));
      const paired = samples['echo + verify all'] !== undefined && samples.echo !== undefined;
      const saving = paired ? summarize(pairedRatios(samples['echo + verify all']!, samples.echo!)) : undefined;
      rows.push([n, ...variants.map((v) => cell(summaries[v]!)), saving === undefined ? '–' : `${fmt(saving.median)} (${fmt(saving.q1)}–${fmt(saving.q3)})`]);
      data.push({ n, samples, summaries, echoVerifyAllOverEcho: saving, cpuMs: cpuSamples });
      opts.log(`latency: n=${n} done`);
    } finally {
      await tg.close();
    }
  }
  return {
    parameters: { ns, reps, warmup: 3, transport: 'loopback 127.0.0.1, all parties in one process' },
    tables: [
      {
        title: `Fixed cost per operation, all n parties in one process, ms (median (IQR) of ${reps})`,
        columns: ['n', ...variants, '(echo + verify all) / echo, paired'],
        rows,
        notes: ['one operation = the same call at every party at once; time until the last party returns.'],
      },
      {
        title: `CPU time per operation, all n parties together (this process, user + system), ms (median (IQR) of ${reps})`,
        columns: ['n', ...variants],
        rows: cpuRows,
        notes: ['÷ n for the CPU one party spends; less sensitive to other load on the machine than the wall time.'],
      },
    ],
    data,
  };
}

registerBenchmark({ name: 'latency', description: 'fixed cost of a message round, an echo broadcast and secureSum of one number (in-process parties)', run });
