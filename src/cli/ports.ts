/**
 * Ports for parties that must know each other's port before any of them listens (`coupler
 * simulate`, the benchmarks, multi-process tests).
 *
 * "A port free a moment ago" (bind port 0, read it, close) has two races once the port is used
 * later: the kernel hands out port 0 binds from its ephemeral range, the range every outgoing
 * connection on the machine takes its source port from and every other `listen(0)` takes its port
 * from, so either may take the port before the party binds it (`EADDRINUSE`); and the next bind to
 * port 0 may return the same port again. {@link freePort} picks below the ephemeral range (where
 * neither ever lands), never returns a port it returned before in this process, and checks that
 * the port is free now. What remains: another process picking ports the same way at random may
 * pick the same one within the moment between the check and the bind (about one in 10^4 per pick
 * while the other has a pick in flight).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** Lowest port handed out (above the registered services most machines run). */
const LOWEST = 10_000;
/** Linux's default ephemeral range; other systems use 49152–65535, above it. */
const DEFAULT_EPHEMERAL: readonly [number, number] = [32_768, 60_999];
/** Ports handed out by this process, oldest first (bounded: the oldest are forgotten). */
const given = new Set<number>();
const GIVEN_CAP = 4096;
/** Random picks tried before giving up. */
const ATTEMPTS = 200;

function ephemeralRange(): readonly [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo! > 0 && hi! >= lo!) return [lo!, hi!];
  } catch {
    // not Linux, or /proc not mounted
  }
  return DEFAULT_EPHEMERAL;
}

/** The ports outside the ephemeral range to pick from: below it, else above it. */
function pool(count: number): readonly [number, number] {
  const [lo, hi] = ephemeralRange();
  if (lo - LOWEST >= 1024 + count) return [LOWEST, lo - count];
  if (65_535 - hi >= 1024 + count) return [hi + 1, 65_536 - count];
  // A machine whose ephemeral range covers nearly everything: pick anywhere, the check still runs.
  return [1024, 65_536 - count];
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(new InvalidArgumentError(`cannot bind ${host}: ${err.code ?? 'error'}`, { cause: err }));
    });
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port (or the first of `count` consecutive ports) on `host` that is free now, outside the
 * kernel's ephemeral range, and not returned before by this process.
 * @param host - the address the party will bind (`0.0.0.0` checks every address).
 * @param count - how many consecutive ports, 1 to 64 (default 1).
 * @throws {@link InvalidArgumentError} (`INVALID_ARGUMENT`) for a bad count, a host that cannot be
 *   bound, or no free port found in 200 tries.
 * @internal used by `coupler simulate`, the benchmarks and the tests.
 */
export async function freePort(host: string, count = 1): Promise<number> {
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new InvalidArgumentError('count must be an integer from 1 to 64');
  const [from, to] = pool(count);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const base = from + Math.floor(Math.random() * (to - from));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = !given.has(base + i) && (await bindable(base + i, host));
    if (!ok) continue;
    for (let i = 0; i < count; i++) {
      given.add(base + i);
      if (given.size > GIVEN_CAP) given.delete(given.values().next().value!);
    }
    return base;
  }
  throw new InvalidArgumentError(`no ${count} free port(s) on ${host} outside the ephemeral range after ${ATTEMPTS} tries`);
}

/**
 * Whether this machine lets us bind `host` (e.g. 127.0.0.2: Linux routes all of 127/8 to loopback).
 * @internal used by `coupler simulate` and the benchmarks.
 */
export function canBind(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(0, host, () => srv.close(() => resolve(true)));
  });
}
