/**
 * The `mpyc` variant of the protocols benchmark: the semi-honest secure sum of a Python MPC
 * framework (MPyC) that issue 18 compares against, run beside coupler and interleaved with it.
 *
 * MPyC is not a dependency and none of its code is here: set `MPYC_PATH` to a directory that
 * holds the `mpyc` package (a checkout of github.com/lschoe/mpyc works; numpy optional) and
 * `python3` on the PATH runs it. Per (n, L) this starts n Python processes (one per party, each
 * `-M n -I i --ssl`, mutual TLS with certificates made here with the `openssl` CLI), which connect
 * once and then, per repetition, run: a barrier, then `mpc.input` of L 32-bit secure integers
 * from every party, `mpc.vector_add` over the parties and `mpc.output` (Shamir shares, t = ⌊(n−1)/2⌋,
 * MPyC's defaults). A party's time runs from leaving the barrier to holding the opened sum; a
 * repetition's time is the max over parties, as for coupler.
 *
 * Parent side only (spawns the Python processes).
 *
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cli/ports.js';
import { createInterface } from 'node:readline';

/** Environment variable naming the directory that contains the `mpyc` package. */
export const MPYC_PATH_ENV = 'MPYC_PATH';

/**
 * Longest vector the variant runs: MPyC holds about 2.2 kB per element per party (its secure
 * integers are Python objects; 2.2 GB per party at L = 1e6, n = 5, measured), too much for a shared
 * machine. Longer ones are reported as skipped.
 */
export const MPYC_MAX_LENGTH = 100_000;

/** The party program (ours, not MPyC's): one secure sum per line read from stdin. */
const DRIVER = `
import asyncio, json, os, sys, time
from mpyc.runtime import mpc

L = int(os.environ['MPYC_BENCH_L'])

async def main():
    secint = mpc.SecInt(32)
    await mpc.start()
    x = [secint((mpc.pid * 7919 + j) % 1000) for j in range(L)]
    print(json.dumps({'ready': True}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == 'exit':
            break
        rep = int(line)
        await mpc.barrier(f'rep {rep}')
        t0 = time.perf_counter()
        c0 = time.process_time()
        xs = mpc.input(x)
        s = xs[0]
        for v in xs[1:]:
            s = mpc.vector_add(s, v)
        out = await mpc.output(s)
        ms = (time.perf_counter() - t0) * 1000
        cpu = (time.process_time() - c0) * 1000
        print(json.dumps({'rep': rep, 'ms': ms, 'cpuMs': cpu, 'first': int(out[0])}), flush=True)
    await mpc.shutdown()

mpc.run(main())
`;

/** Whether the variant can run here; the reason when not. */
export function mpycAvailable(): { ok: true; path: string } | { ok: false; reason: string } {
  const path = process.env[MPYC_PATH_ENV];
  if (path === undefined || path === '') return { ok: false, reason: `set ${MPYC_PATH_ENV} to a directory containing the mpyc package` };
  if (!existsSync(join(path, 'mpyc', 'runtime.py'))) return { ok: false, reason: `${MPYC_PATH_ENV}=${path} has no mpyc/runtime.py` };
  return { ok: true, path };
}

/** A CA and one certificate per party (CN "MPyC party i", what MPyC checks), in `dir/.config`. */
function makeCertificates(dir: string, n: number): void {
  const cfg = join(dir, '.config');
  mkdirSync(cfg, { recursive: true });
  const ssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: cfg, stdio: 'ignore' });
  };
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'mpyc_ca.key', '-out', 'mpyc_ca.crt', '-days', '2', '-subj', '/CN=MPyC CA']);
  for (let i = 0; i < n; i++) {
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `party_${i}.key`, '-out', `party_${i}.csr`, '-subj', `/CN=MPyC party ${i}`]);
    ssl(['x509', '-req', '-in', `party_${i}.csr`, '-CA', 'mpyc_ca.crt', '-CAkey', 'mpyc_ca.key', '-CAcreateserial', '-out', `party_${i}.crt`, '-days', '2']);
  }
}

/**
 * A base port with `n` free ports from it on, on every address (MPyC's parties bind 0.0.0.0,
 * port base + i; a coupler or probe listener on any 127.0.0.x would collide).
 */
export function freePortRange(n: number): Promise<number> {
  return freePort('0.0.0.0', n);
}

/** n MPyC parties connected once, running one sum of L elements per {@link MpycSession.run}. */
export class MpycSession {
  readonly #children: ChildProcess[];
  readonly #lines: AsyncIterator<string>[];
  readonly #dir: string;

  private constructor(children: ChildProcess[], lines: AsyncIterator<string>[], dir: string) {
    this.#children = children;
    this.#lines = lines;
    this.#dir = dir;
  }

  /** Start n parties on 127.0.0.1 from `basePort` on and wait until all are connected. */
  static async start(mpycPath: string, n: number, L: number, basePort: number, timeoutMs: number): Promise<MpycSession> {
    const dir = mkdtempSync(join(tmpdir(), 'coupler-bench-mpyc-'));
    writeFileSync(join(dir, 'driver.py'), DRIVER);
    makeCertificates(dir, n);
    const children: ChildProcess[] = [];
    const lines: AsyncIterator<string>[] = [];
    for (let i = 0; i < n; i++) {
      const child = spawn('python3', ['driver.py', '-M', String(n), '-I', String(i), '--ssl', '-B', String(basePort), '--no-log'], {
        cwd: dir,
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, PYTHONPATH: mpycPath, MPYC_BENCH_L: String(L) },
      });
      child.stdin!.on('error', () => undefined); // a party that died: reported by the next read
      children.push(child);
      lines.push(createInterface({ input: child.stdout! })[Symbol.asyncIterator]());
    }
    const session = new MpycSession(children, lines, dir);
    try {
      await session.#each(timeoutMs, (msg) => msg.ready === true);
    } catch (err) {
      session.stop();
      throw err;
    }
    return session;
  }

  /** Read one JSON line from every party (checked by `ok`), under one deadline. */
  async #each(timeoutMs: number, ok: (msg: Record<string, unknown>) => boolean): Promise<Record<string, unknown>[]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`mpyc: no answer from every party within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([
        Promise.all(
          this.#lines.map(async (it, i) => {
            for (;;) {
              const { value, done } = await it.next();
              if (done) throw new Error(`mpyc: party ${i} exited`);
              let msg: Record<string, unknown>;
              try {
                msg = JSON.parse(value) as Record<string, unknown>;
              } catch {
                continue; // MPyC's own output
              }
              if (!ok(msg)) throw new Error(`mpyc: party ${i} answered ${value}`);
              return msg;
            }
          }),
        ),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One repetition: every party's wall time and process CPU time, ms (max wall = the repetition's time). */
  async run(rep: number, timeoutMs: number): Promise<{ ms: number; cpuMs: number }[]> {
    for (const c of this.#children) c.stdin!.write(`${rep}\n`);
    const answers = await this.#each(timeoutMs, (msg) => msg.rep === rep && typeof msg.ms === 'number' && typeof msg.cpuMs === 'number');
    return answers.map((a) => ({ ms: a.ms as number, cpuMs: a.cpuMs as number }));
  }

  /** Ask every party to shut down, kill whatever is left after 5 s, remove the directory. */
  stop(): void {
    for (const c of this.#children) {
      try {
        c.stdin!.end('exit\n');
      } catch {
        /* already gone */
      }
      setTimeout(() => c.kill('SIGKILL'), 5_000).unref();
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
