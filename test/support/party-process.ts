/**
 * Party processes for group tests: every party is its own OS process (`node --import tsx
 * test/group/fixtures/party.ts`), listening on its own loopback address and the same port, the
 * way containers on an overlay network each have their own IP.
 *
 * - {@link PartyWorld}: identities + roster written to files in a temporary folder (the fixture
 *   loads them like a container loads mounted files), address plan, spawning, cleanup.
 * - {@link PartyProcess}: one child; the fixture prints JSON lines on stdout ({@link PartyLine}),
 *   reads commands as JSON lines on stdin (`{"cmd":"go"}`, `{"cmd":"close"}`, `{"cmd":"exit"}`).
 *
 * Children end on their own: a hard deadline (`hardDeadlineMs`), and when stdin closes (the parent
 * exited or was killed). {@link PartyWorld.cleanup} SIGKILLs whatever is still running.
 *
 * The config type is shared with the fixture (type-only import there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { serializeIdentity, type Identity } from '../../src/identity/identity';
import { testIdentity } from './identity';
import { createRoster, rosterToJSON, type Roster } from '../../src/identity/roster';

/** Environment variable with the fixture's JSON config. */
export const PARTY_CONFIG_ENV = 'COUPLER_PARTY_CONFIG';

/** Where the fixture looks for peers. */
export type DiscoverySpec =
  | { readonly kind: 'dns'; readonly servers: readonly string[]; readonly names: readonly string[]; readonly port: number }
  | { readonly kind: 'static'; readonly list: string }
  | { readonly kind: 'env'; readonly variable: string };

/** One round of the `exchange` action. */
export interface RoundSpec {
  readonly name: string;
  /** Round deadline, ms (default: the group's roundTimeoutMs). */
  readonly timeoutMs?: number;
  /** Send to and gather from only the peers not lost so far (default: every peer). */
  readonly aliveOnly?: boolean;
}

/** What a party process does. */
export type PartyAction =
  /** Join, report `ready`, wait for `{"cmd":"close"}`, close. */
  | 'mesh'
  /** Join, report `ready`, wait for `go`, run `rounds` (send own value, gather), report, close. */
  | 'exchange'
  /** Join, report `ready`, wait for `go`, then `process.exit(137)` without closing anything. */
  | 'crash-after-join'
  /** Join, report `ready`, close the group at once (an algorithm that fails right after joining). */
  | 'close-after-join'
  /** Join, report `ready`, never send anything; close on `{"cmd":"exit"}`. */
  | 'silent'
  /** Not a party: listen (and dial discovered addresses) with a key that is not the roster's. */
  | 'impostor';

/** The fixture's config (JSON in {@link PARTY_CONFIG_ENV}). */
export interface PartyConfig {
  /** Label for diagnostics. */
  readonly name: string;
  readonly identityFile: string;
  readonly rosterFile: string;
  readonly sessionId: string;
  readonly localId?: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** One discovery or several (merged by joinGroup). */
  readonly discovery: DiscoverySpec | readonly DiscoverySpec[];
  /** Mesh deadline, ms. */
  readonly timeoutMs: number;
  /** Default round deadline, ms. */
  readonly roundTimeoutMs: number;
  /** The process exits (code 3) after this long, whatever happens. */
  readonly hardDeadlineMs: number;
  /** Sleep this long before joining (reports `woke` after it). */
  readonly startDelayMs?: number;
  readonly action: PartyAction;
  /** Rounds of the `exchange` action. */
  readonly rounds?: readonly RoundSpec[];
  /** Impostor: `unknown-key` listens as a party id not in the roster; `wrong-key` claims `claimId` with its own key. */
  readonly impostor?: { readonly mode: 'unknown-key' | 'wrong-key'; readonly claimId: string };
  /** joinGroup dial backoff. */
  readonly dialBackoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Group event types forwarded as `event` lines (default: every type except `dialing`). */
  readonly forwardEvents?: readonly string[];
}

/** A JSON line from a party process. `t` is the child's wall clock (epoch ms, sub-ms precision). */
export type PartyLine = { readonly type: string; readonly t: number } & Record<string, unknown>;

/** A running party process. */
export class PartyProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: PartyLine[] = [];
  /** Parent's wall clock when spawned. */
  readonly spawnedAt: number;
  /** Resolves when the process has exited: `{ code, signal }`. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stderr = '';
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly #waiters: { match: (l: PartyLine) => boolean; resolve: (l: PartyLine) => void }[] = [];

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    this.spawnedAt = Date.now();
    child.stdin!.on('error', () => undefined); // EPIPE after the child exited
    child.stderr!.on('data', (d: Buffer) => {
      if (this.#stderr.length < 200_000) this.#stderr += d.toString();
    });
    this.exited = new Promise((r) =>
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        r(this.#exit);
      }),
    );
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: PartyLine;
      try {
        line = JSON.parse(text) as PartyLine;
      } catch {
        this.#stderr += `[stdout] ${text}\n`;
        return;
      }
      if (typeof line !== 'object' || line === null || typeof line.type !== 'string') return;
      this.lines.push(line);
      for (const w of [...this.#waiters]) {
        if (w.match(line)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  }

  /** Collected stderr (for failure messages). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Exit status once exited, else undefined. */
  get exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.#exit;
  }

  /** Lines of `type` so far. */
  linesOf(type: string): PartyLine[] {
    return this.lines.filter((l) => l.type === type);
  }

  /** Group events forwarded so far (the `event` field of `event` lines). */
  groupEvents(type?: string): Record<string, unknown>[] {
    return this.linesOf('event')
      .map((l) => l.event as Record<string, unknown>)
      .filter((e) => type === undefined || e.type === type);
  }

  /**
   * The first line of `type` (already seen or future) that matches `match`. Rejects when the
   * process exits first or after `timeoutMs`, with its stderr in the message.
   */
  waitFor(type: string, timeoutMs = 30_000, match: (l: PartyLine) => boolean = () => true): Promise<PartyLine> {
    const pred = (l: PartyLine): boolean => l.type === type && match(l);
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolveLine, reject) => {
      const fail = (why: string): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        clearTimeout(timer);
        reject(new Error(`party ${this.name}: ${why} before a "${type}" line; lines: ${JSON.stringify(this.lines.slice(-8))}; stderr: ${this.#stderr.slice(-1500)}`));
      };
      const waiter = {
        match: pred,
        resolve: (l: PartyLine) => {
          clearTimeout(timer);
          resolveLine(l);
        },
      };
      const timer = setTimeout(() => fail(`no line within ${timeoutMs} ms`), timeoutMs);
      this.#waiters.push(waiter);
      void this.exited.then((s) => {
        if (this.#waiters.includes(waiter)) fail(`exited (${s.code ?? s.signal})`);
      });
    });
  }

  /** Send a command line (ignored once the child is gone). */
  command(cmd: string, extra: Record<string, unknown> = {}): void {
    if (this.#exit === undefined && this.child.stdin!.writable) this.child.stdin!.write(`${JSON.stringify({ cmd, ...extra })}\n`);
  }

  /** Wait for the exit; if it has not exited within `timeoutMs`, reject (the process hangs). */
  async waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`party ${this.name} did not exit within ${timeoutMs} ms (leaked handle?); stderr: ${this.#stderr.slice(-1500)}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL if still running; resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.#exit === undefined) {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await this.exited;
  }
}

/** Options of {@link PartyWorld.create}. */
export interface PartyWorldOptions {
  /** Party ids (default `'1'..'n'`, vantage6-style organization ids). */
  readonly ids?: readonly string[];
  /** Loopback block `127.<a>.<b>.x` for this world's addresses; party i gets `.<i+1>`. */
  readonly net: readonly [number, number];
  /** The port every party listens on. Default 7788. */
  readonly port?: number;
}

const FIXTURE = resolve(__dirname, '..', 'group', 'fixtures', 'party.ts');
const ROOT = resolve(__dirname, '..', '..');

/**
 * The parties of one task: identities and roster on disk, one loopback address per party, and
 * the processes spawned for it.
 */
export class PartyWorld {
  readonly ids: readonly string[];
  readonly roster: Roster;
  readonly identities: ReadonlyMap<string, Identity>;
  readonly sessionId: string;
  readonly dir: string;
  readonly port: number;
  readonly rosterFile: string;
  readonly #net: readonly [number, number];
  readonly #processes: PartyProcess[] = [];
  #extraHost = 200;

  private constructor(ids: readonly string[], net: readonly [number, number], port: number) {
    this.ids = ids;
    this.#net = net;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'coupler-party-'));
    const identities = new Map(ids.map((id) => [id, testIdentity(id)]));
    this.identities = identities;
    this.roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
    this.rosterFile = join(this.dir, 'roster.json');
    writeFileSync(this.rosterFile, rosterToJSON(this.roster));
    for (const [id, identity] of identities) writeFileSync(this.identityFile(id), serializeIdentity(identity), { mode: 0o600 });
    this.sessionId = `task-${randomBytes(6).toString('hex')}`;
  }

  /** n parties with ids `'1'..'n'` (or `ids`). */
  static create(n: number, options: PartyWorldOptions): PartyWorld {
    const ids = options.ids ?? Array.from({ length: n }, (_, i) => String(i + 1));
    return new PartyWorld(ids, options.net, options.port ?? 7788);
  }

  /** Identity file of `id`. */
  identityFile(id: string): string {
    return join(this.dir, `identity-${id}.json`);
  }

  /** The loopback address of roster party `id`. */
  host(id: string): string {
    const i = this.ids.indexOf(id);
    if (i < 0) throw new Error(`no party "${id}"`);
    return `127.${this.#net[0]}.${this.#net[1]}.${i + 1}`;
  }

  /** A fresh loopback address outside the roster's (for impostors, stale containers, no-shows). */
  extraHost(): string {
    return `127.${this.#net[0]}.${this.#net[1]}.${this.#extraHost++}`;
  }

  /** `host:port` of `id`. */
  address(id: string): string {
    return `${this.host(id)}:${this.port}`;
  }

  /** Every process spawned so far. */
  get processes(): readonly PartyProcess[] {
    return this.#processes;
  }

  /**
   * Spawn roster party `id` (or anything else: override any field). Defaults: listen on its own
   * address and the world's port, mesh deadline 20 s, rounds 10 s, hard deadline 60 s.
   */
  spawn(id: string, config: Partial<PartyConfig> & Pick<PartyConfig, 'discovery' | 'action'>, env: Record<string, string> = {}): PartyProcess {
    const full: PartyConfig = {
      name: id,
      identityFile: this.ids.includes(id) ? this.identityFile(id) : '',
      rosterFile: this.rosterFile,
      sessionId: this.sessionId,
      listen: { host: this.ids.includes(id) ? this.host(id) : this.extraHost(), port: this.port },
      timeoutMs: 20_000,
      roundTimeoutMs: 10_000,
      hardDeadlineMs: 60_000,
      ...config,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, ...env, [PARTY_CONFIG_ENV]: JSON.stringify(full) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const p = new PartyProcess(full.name, child);
    this.#processes.push(p);
    return p;
  }

  /** Kill every process still running and remove the temporary folder. */
  async cleanup(): Promise<void> {
    await Promise.all(this.#processes.map((p) => p.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The `ready` line of each process (in order), each within `timeoutMs`. */
export function allReady(parties: readonly PartyProcess[], timeoutMs = 30_000): Promise<PartyLine[]> {
  return Promise.all(parties.map((p) => p.waitFor('ready', timeoutMs)));
}

/** Resolves when `pred()` holds (checked whenever any of `parties` prints a line), or rejects after `timeoutMs`. */
export function until(parties: readonly PartyProcess[], pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolveUntil, reject) => {
    if (pred()) {
      resolveUntil();
      return;
    }
    const poll = setInterval(() => {
      if (pred()) {
        clearInterval(poll);
        clearTimeout(timer);
        resolveUntil();
      }
    }, 20);
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`not within ${timeoutMs} ms: ${what}; stderr: ${parties.map((p) => `${p.name}: ${p.stderr.slice(-500)}`).join(' | ')}`));
    }, timeoutMs);
  });
}
