/**
 * Child side of benchmark child processes (see `child.ts`): read the JSON config, answer requests
 * from the parent, and make sure the process ends on its own: at the deadline, when the parent's
 * IPC channel closes (parent exited or died), or on the `exit` request.
 *
 * ```ts
 * const cfg = workerConfig<MyConfig>();
 * serve({ async work(params) { return { ok: 1 }; } });
 * emit({ event: 'ready' });
 * ```
 *
 * @module
 */
import { CONFIG_ENV, DEADLINE_ENV } from './child.js';

let guarded = false;

function guard(): void {
  if (guarded) return;
  guarded = true;
  const deadline = Number(process.env[DEADLINE_ENV] ?? '600000');
  const ms = Number.isFinite(deadline) && deadline > 0 ? deadline : 600_000;
  setTimeout(() => {
    process.stderr.write(`benchmark worker ${process.pid}: deadline of ${ms} ms reached, exiting\n`);
    process.exit(3);
  }, ms).unref();
  if (process.send) process.on('disconnect', () => process.exit(2));
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`benchmark worker ${process.pid}: unhandled rejection: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(4);
  });
}

/** The config the parent passed, parsed from JSON. Installs the deadline and parent-exit guards. */
export function workerConfig<T>(): T {
  guard();
  const raw = process.env[CONFIG_ENV];
  if (raw === undefined) throw new Error(`${CONFIG_ENV} is not set; start this file through bench/lib/child.ts`);
  return JSON.parse(raw) as T;
}

/** Send an event to the parent (IPC when available, else one JSON line on stdout). */
export function emit(event: { event: string } & Record<string, unknown>): void {
  if (process.send) process.send(event);
  else process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** Handlers by op name; each gets the request's params and returns the result. */
export type Handlers = Record<string, (params: any) => Promise<unknown> | unknown>;

/**
 * Answer requests `{ id, op, params }` one at a time, in arrival order (a benchmark wants its
 * measurements serialized). `exit` ends the process.
 */
export function serve(handlers: Handlers): void {
  guard();
  let chain: Promise<void> = Promise.resolve();
  process.on('message', (m: { id: number; op: string; params: unknown }) => {
    if (m.op === 'exit') {
      process.exit(0);
    }
    chain = chain.then(async () => {
      const h = handlers[m.op];
      try {
        if (!h) throw new Error(`unknown op "${m.op}"`);
        const result = await h(m.params);
        process.send?.({ id: m.id, ok: true, result });
      } catch (err) {
        process.send?.({ id: m.id, ok: false, error: String((err as Error)?.stack ?? err) });
      }
    });
  });
}
