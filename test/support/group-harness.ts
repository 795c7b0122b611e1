/**
 * Test harness: n-party groups on 127.0.0.1 with real channels, in this process or split across
 * child processes.
 *
 * - {@link makeParties}: identities + roster for ids `p1..pn` (canonical order = index order).
 * - {@link AddressBook}: a Discovery whose answer grows as parties start listening (every party
 *   listens on port 0, so there are no port races between test files running in parallel).
 * - {@link createTestGroups}: join all n parties in this process; `close()` tears them down.
 * - {@link joinLocal} + {@link spawnParty}: some parties here, others as child processes
 *   (`node --import tsx <fixture>`; a fixture reads its config with {@link readFixtureConfig},
 *   talks to the parent with JSON lines on stdout ({@link emitEvent}) and reads commands as JSON
 *   lines on stdin ({@link fixtureCommands})).
 *
 * Used by test/protocols/*.test.ts; others may reuse it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseIdentity, serializeIdentity, type Identity } from '../../src/identity/identity';
import { testIdentity } from './identity';
import { createRoster, parseRoster, rosterToJSON, type Roster } from '../../src/identity/roster';
import type { Discovery, PeerAddress } from '../../src/discovery/types';
import { joinGroup, type Group, type GroupEvent, type JoinGroupOptions } from '../../src/group/group';
import type { PlainData } from '../../src/wire/codec';

/** Identities and roster of one test task. */
export interface TestParties {
  readonly ids: string[];
  readonly identities: Map<string, Identity>;
  readonly roster: Roster;
  readonly sessionId: string;
}

/** Identities for `p1..pn` (or `<prefix>1..`), their roster and a fresh session id. */
export function makeParties(n: number, prefix = 'p'): TestParties {
  if (n > 9) throw new Error('makeParties: ids p1..p9 keep the canonical order equal to the index order; use at most 9');
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
  const identities = new Map(ids.map((id) => [id, testIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  return { ids, identities, roster, sessionId: `test-${randomBytes(8).toString('hex')}` };
}

/** A discovery that answers with every address registered so far (except the asking party's). */
export class AddressBook {
  readonly #addresses = new Map<string, PeerAddress>();

  /** Register where `party` listens. */
  add(party: string, port: number, host = '127.0.0.1'): void {
    this.#addresses.set(party, { host, port, source: 'test', partyHint: party });
  }

  /** Addresses of every party except `self`. */
  others(self: string): PeerAddress[] {
    return [...this.#addresses].filter(([p]) => p !== self).map(([, a]) => a);
  }

  /** `host:port` list of every party except `self` (for a child's static discovery). */
  list(self: string): string[] {
    return this.others(self).map((a) => `${a.host}:${a.port}`);
  }

  /** The discovery as seen by `self`. */
  discoveryFor(self: string): Discovery {
    return { kind: 'test', discover: () => Promise.resolve(this.others(self)) };
  }
}

/** Options of {@link joinLocal} / {@link createTestGroups}. */
export interface JoinLocalOptions {
  /** Default round deadline of the groups, ms. Default 10 000. */
  readonly roundTimeoutMs?: number;
  /** Mesh deadline, ms. Default 20 000. */
  readonly timeoutMs?: number;
  /** Called once every local party listens (before the mesh is complete): start child parties here. */
  readonly onListening?: () => void | Promise<void>;
  /** The `signal` a party joins with (it stays in force after joining). */
  readonly signalFor?: (id: string) => AbortSignal | undefined;
  /** Every group event of every party. */
  readonly onEvent?: (e: GroupEvent) => void;
  /** Extra join options per party (e.g. onProgress). */
  readonly extra?: (id: string) => Partial<JoinGroupOptions>;
}

/**
 * Join the parties `local` in this process (the others may be child processes that register with
 * `book`). Resolves with the groups, in the order of `local`.
 */
export async function joinLocal(parties: TestParties, local: readonly string[], book: AddressBook, options: JoinLocalOptions = {}): Promise<Group[]> {
  let listening = 0;
  let allListening!: () => void;
  const listeningDone = new Promise<void>((r) => (allListening = r));
  const joins = local.map((id) =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: book.discoveryFor(id),
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: options.timeoutMs ?? 20_000,
      roundTimeoutMs: options.roundTimeoutMs ?? 10_000,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      ...(options.signalFor?.(id) === undefined ? {} : { signal: options.signalFor(id)! }),
      ...(options.extra?.(id) ?? {}),
      onEvent: (e: GroupEvent) => {
        options.onEvent?.(e);
        if (e.type === 'listening') {
          book.add(id, e.port);
          if (++listening === local.length) allListening();
        }
      },
    }),
  );
  const settled = Promise.allSettled(joins);
  if (local.length === 0) allListening();
  await Promise.race([listeningDone, settled]);
  await options.onListening?.();
  const results = await settled;
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return results.map((r) => (r as PromiseFulfilledResult<Group>).value);
}

/** n parties in this process. */
export interface TestGroups extends TestParties {
  readonly groups: Group[];
  readonly byId: Map<string, Group>;
  close(): Promise<void>;
}

/** Create an n-party group, all parties in this process, over real channels on 127.0.0.1. */
export async function createTestGroups(n: number, options: JoinLocalOptions = {}): Promise<TestGroups> {
  const parties = makeParties(n);
  const book = new AddressBook();
  const groups = await joinLocal(parties, parties.ids, book, options);
  return {
    ...parties,
    groups,
    byId: new Map(groups.map((g) => [g.localId, g])),
    close: async () => {
      await Promise.all(groups.map((g) => g.close()));
    },
  };
}

/** Settle every promise; returns values or errors (never rejects). */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<({ ok: true; value: T } | { ok: false; error: unknown })[]> {
  const r = await Promise.allSettled(promises);
  return r.map((x) => (x.status === 'fulfilled' ? { ok: true as const, value: x.value } : { ok: false as const, error: x.reason as unknown }));
}

// ---------------------------------------------------------------------------------------------
// Child-process parties.

/** What the parent passes to a fixture process (JSON in env `COUPLER_FIXTURE`). */
export interface FixtureConfig {
  readonly id: string;
  readonly identity: string;
  readonly roster: string;
  readonly sessionId: string;
  /** `host:port` of the parties already listening. */
  readonly peers: string[];
  readonly roundTimeoutMs: number;
  /** Scenario-specific settings. */
  readonly scenario: Record<string, unknown>;
}

/** A running fixture process. */
export interface FixtureProcess {
  readonly child: ChildProcess;
  /** Resolves with the first event of `type` (rejects if the process exits first). */
  waitFor(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Every event so far. */
  readonly events: Record<string, unknown>[];
  /** Send a command line. */
  command(cmd: Record<string, unknown>): void;
  /** Resolves with the exit code once the process exits. */
  readonly exited: Promise<number | null>;
  /** Collected stderr. */
  stderr(): string;
  /** Kill it (SIGKILL) if still running. */
  kill(): void;
}

/**
 * Start a party as a child process running `fixture` (a path relative to the repository root)
 * with `node --import tsx`. The child is registered in `book` when it reports `listening`.
 */
export function spawnParty(fixture: string, parties: TestParties, id: string, book: AddressBook, scenario: Record<string, unknown>, roundTimeoutMs = 10_000): FixtureProcess {
  const root = resolve(__dirname, '..', '..');
  const config: FixtureConfig = {
    id,
    identity: serializeIdentity(parties.identities.get(id)!),
    roster: rosterToJSON(parties.roster),
    sessionId: parties.sessionId,
    peers: book.list(id),
    roundTimeoutMs,
    scenario,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(root, fixture)], {
    cwd: root,
    env: { ...process.env, COUPLER_FIXTURE: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin!.on('error', () => undefined); // EPIPE once the child has exited
  const events: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (e: Record<string, unknown>) => void }[] = [];
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    events.push(e);
    if (e.type === 'listening') book.add(id, e.port as number);
    for (const w of [...waiters]) {
      if (w.type === e.type) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  return {
    child,
    events,
    exited,
    stderr: () => err,
    waitFor(type, timeoutMs = 30_000) {
      const seen = events.find((e) => e.type === type);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolveEvent, reject) => {
        const timer = setTimeout(() => reject(new Error(`fixture ${id}: no "${type}" event within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
        waiters.push({
          type,
          resolve: (e) => {
            clearTimeout(timer);
            resolveEvent(e);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`fixture ${id} exited (${code}) before "${type}"; stderr: ${err.slice(-2000)}`));
        });
      });
    },
    command(cmd) {
      if (child.stdin!.writable) child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Inside a fixture: the parsed config. */
export function readFixtureConfig(): FixtureConfig & { identityObject: Identity; rosterObject: Roster } {
  const raw = process.env.COUPLER_FIXTURE;
  if (raw === undefined) throw new Error('COUPLER_FIXTURE is not set');
  const c = JSON.parse(raw) as FixtureConfig;
  return { ...c, identityObject: parseIdentity(c.identity), rosterObject: parseRoster(c.roster) };
}

/** Inside a fixture: report an event to the parent. */
export function emitEvent(type: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ type, ...data }, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}\n`);
}

/** Inside a fixture: the next command from the parent (resolves `undefined` when stdin closes). */
export function fixtureCommands(): () => Promise<Record<string, unknown> | undefined> {
  const queue: Record<string, unknown>[] = [];
  const waiting: ((c: Record<string, unknown> | undefined) => void)[] = [];
  let closed = false;
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const w = waiting.shift();
    if (w) w(c);
    else queue.push(c);
  });
  rl.on('close', () => {
    closed = true;
    for (const w of waiting.splice(0)) w(undefined);
  });
  return () => {
    const c = queue.shift();
    if (c !== undefined) return Promise.resolve(c);
    if (closed) return Promise.resolve(undefined);
    return new Promise((r) => waiting.push(r));
  };
}

/**
 * Make `group` vanish in the middle of a thresholdSum deal: its first send of piece 1 of a deal
 * closes the group instead (pieces 0 went out to everyone).
 */
export function quitAtDealPiece1(group: Group): void {
  const send = group.send.bind(group);
  group.send = (peer: string, round: string, payload: PlainData) => {
    if (round.endsWith('/deal/p1')) {
      void group.close();
      return Promise.reject(new Error('gone'));
    }
    return send(peer, round, payload);
  };
}
