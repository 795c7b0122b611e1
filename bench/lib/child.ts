/**
 * Parent side of benchmark child processes: start `node --import tsx <file>` with a JSON config
 * (environment variable `BENCH_WORKER_CONFIG`) and talk to it with request/response messages over
 * the IPC channel. Lines of JSON that a child prints on stdout are delivered as events too, so a
 * child may also be a plain script that writes JSON lines.
 *
 * Children get a hard deadline (`BENCH_WORKER_DEADLINE_MS`) and exit when the parent goes away
 * (see `worker.ts`), so no run leaves processes behind.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Environment variable carrying the JSON config. */
export const CONFIG_ENV = 'BENCH_WORKER_CONFIG';
/** Environment variable carrying the deadline in milliseconds from start. */
export const DEADLINE_ENV = 'BENCH_WORKER_DEADLINE_MS';

/** Reply of a worker to a request. */
export interface WorkerReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** An unsolicited message from a worker (`{ event: ... }` over IPC or a JSON line on stdout). */
export type WorkerEvent = { event: string } & Record<string, unknown>;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** A running benchmark child. */
export class Worker {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the child exits. */
  readonly exited: Promise<number | string>;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #events: WorkerEvent[] = [];
  readonly #eventWaiters: { match: (e: WorkerEvent) => boolean; resolve: (e: WorkerEvent) => void }[] = [];
  #exitInfo: string | undefined;

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    live.add(child);
    child.on('message', (m: unknown) => this.#onMessage(m));
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const t = line.trim();
        if (t.startsWith('{')) {
          try {
            this.#onMessage(JSON.parse(t));
            return;
          } catch {
            /* not JSON: pass through */
          }
        }
        process.stderr.write(`[${name}] ${line}\n`);
      });
    }
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        live.delete(child);
        this.#exitInfo = signal ?? String(code);
        const err = new Error(`worker ${name} exited (${this.#exitInfo}) with a request pending`);
        for (const p of this.#pending.values()) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.#pending.clear();
        resolve(signal ?? code ?? -1);
      });
    });
  }

  #onMessage(m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const msg = m as Record<string, unknown>;
    if (typeof msg.id === 'number' && typeof msg.ok === 'boolean') {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`worker ${this.name}: ${String(msg.error)}`));
      return;
    }
    if (typeof msg.event === 'string') {
      const e = msg as WorkerEvent;
      const i = this.#eventWaiters.findIndex((w) => w.match(e));
      if (i >= 0) this.#eventWaiters.splice(i, 1)[0]!.resolve(e);
      else this.#events.push(e);
    }
  }

  /** Send a request `{ id, op, params }` and wait for the reply's result. */
  call<T = unknown>(op: string, params: unknown = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#exitInfo !== undefined) return Promise.reject(new Error(`worker ${this.name} has exited (${this.#exitInfo})`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`worker ${this.name}: "${op}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ id, op, params });
    });
  }

  /** Wait for an event named `event` (including one that already arrived). */
  waitEvent(event: string, timeoutMs = 30_000): Promise<WorkerEvent> {
    const i = this.#events.findIndex((e) => e.event === event);
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match: (e: WorkerEvent) => e.event === event,
        resolve: (e: WorkerEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        const j = this.#eventWaiters.indexOf(waiter);
        if (j >= 0) this.#eventWaiters.splice(j, 1);
        reject(new Error(`worker ${this.name}: no "${event}" event within ${timeoutMs} ms (exit: ${this.#exitInfo ?? 'running'})`));
      }, timeoutMs);
      this.#eventWaiters.push(waiter);
    });
  }

  /** Ask the worker to exit (op `exit`), then kill it if it has not gone within `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.#exitInfo !== undefined) return;
    try {
      this.child.send({ id: 0, op: 'exit', params: {} });
    } catch {
      /* channel closed */
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Extra node flags for every benchmark child, space-separated (`BENCH_NODE_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof"` profiles each child; node refuses `--cpu-prof` in NODE_OPTIONS).
 */
export const NODE_ARGS_ENV = 'BENCH_NODE_ARGS';

/**
 * Start `node --import tsx <file>` from the repository root with `config` as JSON in the
 * environment (`tsx: false`: plain `node <file>`, for a JavaScript file). The child must exit by
 * itself after `deadlineMs`.
 */
export function spawnWorker(file: string, config: unknown, options: { name: string; root: string; deadlineMs: number; tsx?: boolean }): Worker {
  installExitHook();
  const extra = (process.env[NODE_ARGS_ENV] ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...extra, ...(options.tsx === false ? [] : ['--import', 'tsx']), file], {
    cwd: options.root,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, [CONFIG_ENV]: JSON.stringify(config), [DEADLINE_ENV]: String(options.deadlineMs) },
    serialization: 'advanced',
  });
  return new Worker(options.name, child);
}
