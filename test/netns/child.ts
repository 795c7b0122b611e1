/**
 * Helpers for scripts that run inside a testbed namespace: JSON-line events on stdout, JSON-line
 * commands on stdin, and the guards that make a child exit on its own — when stdin closes (the
 * parent went away) and at a hard deadline (`CPL_DEADLINE_MS`, default 120 s).
 *
 * @module
 */
import { createInterface } from 'node:readline';

/** Print one event line. */
export function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

/** Install the exit guards and return a command subscription. */
export function childSetup(onCommand?: (cmd: Record<string, unknown>) => void): void {
  const deadline = Number(process.env.CPL_DEADLINE_MS ?? 120_000);
  setTimeout(() => {
    emit('deadline', { ms: deadline });
    process.exit(9);
  }, deadline).unref();
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim().startsWith('{')) return;
    try {
      onCommand?.(JSON.parse(line) as Record<string, unknown>);
    } catch (err) {
      emit('command-error', { message: (err as Error).message });
    }
  });
  rl.on('close', () => process.exit(0));
}

/** The chain of error codes (err.code, err.cause.code, ...). */
export function codeChain(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 8 && e && typeof e === 'object'; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') out.push(c);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}
