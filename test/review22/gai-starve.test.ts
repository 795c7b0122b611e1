/**
 * review22 R22-7 (open): a dial to a host name resolves it with the system resolver (getaddrinfo),
 * which libuv runs on its thread pool — at most 2 such lookups at a time with the default pool of
 * 4 ("slow I/O" is limited to half). Against a resolver that never answers, each lookup holds its
 * thread ~10 s (glibc: 5 s × 2 attempts) and cannot be cancelled; a dial's deadline ends the dial,
 * not the lookup. Twelve dials to names nobody answers made a dial to `localhost` — answered from
 * /etc/hosts, no DNS at all — fail at its 30 s deadline, and every other name lookup of the process
 * waits with it
 * (a relay URL, the vantage6 node proxy's host). The mesh dials such names: SRV targets that did
 * not resolve (kept as names), static/env list entries and roster addresses given as names, up to
 * 16 new ones a second.
 *
 * Runs in its own network and mount namespace (`unshare -n -m`, root): only loopback, and
 * /etc/resolv.conf bind-mounted inside that namespace to a silent DNS server on 127.0.0.1.
 *
 * Skipped: not fixed for configured names (the case below dials names directly). The DNS's part is
 * (96e124f): an SRV target that does not resolve is no longer handed on as a name. Bounding the dials' own lookups (one at a time, dropped once their dial's
 * deadline passed) keeps the thread pool's second slot free for everything else, but a FIFO of
 * junk names still starves a real name behind it at 16 new junk dials a second; resolving through
 * c-ares (cancellable, with a deadline) would skip /etc/hosts, which deployments use. Needs a
 * design decision (see the review file, R22-7).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

it.skip('R22-7: dials to names a silent resolver never answers do not hold back a dial to localhost for more than a few seconds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coupler-r22-gai-'));
  const conf = join(dir, 'resolv.conf');
  writeFileSync(conf, 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n');
  try {
    const child = spawn(
      'unshare',
      ['-n', '-m', 'sh', '-c', `ip link set lo up && mount --bind ${conf} /etc/resolv.conf && exec "${process.execPath}" --import tsx test/review22/_gai-child.ts`],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    await new Promise((r) => child.once('close', r));
    clearTimeout(killer);
    const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ms?: number; outcome?: string };
    console.log(`R22-7: ${out.trim()}`);
    // On this code (measured once, 22:02 UTC): {"ms":30001,"outcome":"COUPLER_ERR_HANDSHAKE_FAILED"} —
    // the localhost dial failed at its 30 s deadline, still waiting for a lookup thread. (A bare
    // dns.lookup('localhost') behind 12 such lookups waited 60 s.)
    expect(r.outcome).toBe('connected');
    expect(r.ms).toBeLessThan(12_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
