/**
 * Test harness: a group whose channels all run through a real relay on 127.0.0.1 — the set-up of
 * the relay reviews (test/review13, test/review14, test/group/relay-gone-receive).
 *
 * - {@link withRelayGroup}: parties `p1..p3`, a relay for their roster, every party joined over
 *   `transport: 'relay'`, the test body, then the groups, the relay and the path closed (in that
 *   order). Optionally one party reaches the relay over a TCP path of the test's own
 *   (`path`: a NAT that resets, a recorder, test/support/forwarder.ts).
 * - {@link joinViaRelay}: one party's join, with the relay reviews' settings (no discovery, the
 *   library's own re-dial backoff). Not `joinAll` of test/relay/_relay.ts: that one adds a
 *   discovery and the harness's fast 20–200 ms dial backoff, which changes how often a link
 *   re-dials (review14 R14-3b counts those dials).
 * - {@link flipLastBit}, {@link sendJunk}, {@link waitUntil}: the pieces of "p3 breaks its relayed
 *   channels" (a frame p3 seals wrong is the relay hook flipping a frame from p3: on the wire
 *   exactly what p3 could send).
 * - {@link sumEach}, {@link settleSums}, {@link sumOutcome}: the sums the tests run and what they compare.
 */
import { freePort as freePortOn } from '../../src/cli/ports';
import { joinGroup, type Group } from '../../src/group/group';
import { secureSum } from '../../src/protocols';
import { CouplerError } from '../../src/errors';
import { encodeMessage } from '../../src/wire/codec';
import { relayChannel, startRelay, type RelayOptions, type RelayServer } from '../../src/relay';
import type { SecureChannel } from '../../src/channel/channel';
import { makeParties, type TestParties } from './group-harness';

/** `ws://127.0.0.1:<port>`. */
export function relayUrl(port: number): string {
  return `ws://127.0.0.1:${port}`;
}

/** A free port on 127.0.0.1 for a relay that must know its port before it starts (see src/cli/ports.ts). */
export function freePort(): Promise<number> {
  return freePortOn('127.0.0.1');
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Join party `id` of `parties` through the relay at `url`: `transport: 'relay'`, mesh deadline
 * `timeoutMs` (15 s), round deadline `roundTimeoutMs`, the library's defaults for everything else.
 */
export function joinViaRelay(parties: TestParties, id: string, url: string, roundTimeoutMs: number, timeoutMs = 15_000): Promise<Group> {
  return joinGroup({
    identity: parties.identities.get(id)!,
    roster: parties.roster,
    sessionId: parties.sessionId,
    localId: id,
    transport: 'relay',
    relayUrl: url,
    timeoutMs,
    roundTimeoutMs,
  });
}

/** A party's own TCP path to the relay: where it listens, and how to take it down. */
export interface OwnPath {
  readonly port: number;
  close(): Promise<void>;
}

/** Which party reaches the relay over a path of the test's own, and how to open that path. */
export interface PathOption<P extends OwnPath> {
  /** The party that dials the relay through the path (the others dial it directly). */
  readonly via: string;
  /** Open the path to the relay's port (127.0.0.1:`target`), before the relay starts. */
  open(target: number): Promise<P>;
}

/** Options of {@link withRelayGroup}. */
export interface RelayGroupOptions {
  /** Every party's round deadline, ms. */
  readonly roundTimeoutMs: number;
  /** Extra relay options (hooks, caps, `onEvent`); the relay always serves the parties' roster on 127.0.0.1. */
  readonly relay?: Omit<Partial<RelayOptions>, 'rosters' | 'host' | 'port' | 'publicUrls'>;
  /** Join every party before the body runs (in the order of `parties.ids`). Default true. */
  readonly join?: boolean;
}

/** What the body of {@link withRelayGroup} gets. */
export interface RelayGroup {
  /** Identities, roster and session id of `p1..p3`. */
  readonly parties: TestParties;
  readonly relay: RelayServer;
  /** The relay's own URL (what every party but the path's dials). */
  readonly url: string;
  /** The joined groups, in the order of `parties.ids` (empty with `join: false`). */
  readonly groups: Group[];
  /** Join one more party (its URL as for the others); its group is closed with the rest. */
  join(id: string): Promise<Group>;
}

/** With a {@link PathOption}: the path, and the relay URL through it. */
export interface RelayGroupBehindPath<P extends OwnPath> extends RelayGroup {
  readonly path: P;
  /** The relay's URL through the path (listed in the relay's `publicUrls`). */
  readonly viaPath: string;
}

/**
 * Run `body` with three parties joined through a real relay on 127.0.0.1 (see {@link RelayGroup});
 * afterwards close every group that joined, then the relay (closing it twice is harmless: a body
 * may close it to take the relay away), then the path. Resolves with what `body` resolves with.
 *
 * With `path`, the relay listens on a port that was free ({@link freePort}), the path is opened to
 * it first, and the relay lists both URLs as its own (`publicUrls: [url, viaPath]`) so the
 * admission signatures of either are valid.
 */
export async function withRelayGroup<T, P extends OwnPath>(options: RelayGroupOptions & { readonly path: PathOption<P> }, body: (t: RelayGroupBehindPath<P>) => Promise<T>): Promise<T>;
export async function withRelayGroup<T>(options: RelayGroupOptions, body: (t: RelayGroup) => Promise<T>): Promise<T>;
export async function withRelayGroup<T, P extends OwnPath>(
  options: RelayGroupOptions & { readonly path?: PathOption<P> },
  body: (t: RelayGroupBehindPath<P>) => Promise<T>,
): Promise<T> {
  const parties = makeParties(3);
  let relay: RelayServer;
  let path: P | undefined;
  let viaPath: string | undefined;
  if (options.path === undefined) {
    relay = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port: 0, ...options.relay });
  } else {
    const port = await freePort();
    path = await options.path.open(port);
    viaPath = relayUrl(path.port);
    relay = await startRelay({ rosters: [parties.roster], host: '127.0.0.1', port, publicUrls: [relayUrl(port), viaPath], ...options.relay });
  }
  const url = relayUrl(relay.port);
  const opened: Group[] = [];
  const join = async (id: string): Promise<Group> => {
    const g = await joinViaRelay(parties, id, id === options.path?.via ? viaPath! : url, options.roundTimeoutMs);
    opened.push(g);
    return g;
  };
  try {
    const groups = options.join === false ? [] : await Promise.all(parties.ids.map(join));
    return await body({ parties, relay, url, groups, join, path: path as P, viaPath: viaPath as string });
  } finally {
    await Promise.all(opened.map((g) => g.close()));
    await relay.close();
    await path?.close();
  }
}

/** `data` with the top bit of its last byte flipped (a frame that fails the channel's AEAD check). */
export function flipLastBit(data: Uint8Array): Uint8Array {
  const m = Uint8Array.from(data);
  m[m.length - 1]! ^= 0x80;
  return m;
}

/** `g` sends each of `peers` one sealed message of no protocol (`r14.junk`), one after the other. */
export async function sendJunk(g: Group, peers: readonly string[]): Promise<void> {
  for (const p of peers) await g._sendRaw(p, encodeMessage({ r: 'r14.junk', p: 1 }));
}

/** Poll every 5 ms until `done()` holds or `timeoutMs` passed (never throws: the caller asserts). */
export async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done() && Date.now() < until) await sleep(5);
}

/** Party i (from 0) sums `scale · (i + 1)`; all at once, rejecting with the first failure. */
export function sumEach(groups: readonly Group[], scale = 1): Promise<{ sum: unknown }[]> {
  return Promise.all(groups.map((g, i) => secureSum(g, scale * (i + 1))));
}

/** Party i (from 0) sums `scale · (i + 1)`; all at once, each settled. */
export function settleSums(groups: readonly Group[], scale = 1): Promise<PromiseSettledResult<{ sum: unknown }>[]> {
  return Promise.allSettled(groups.map((g, i) => secureSum(g, scale * (i + 1))));
}

/** A party's outcome: its sum, or its error's code and named peers (and message, with `message`). */
export type SumOutcome = { sum: unknown } | { code: string; peers: string[]; message?: string };

/**
 * A settled sum as {@link SumOutcome}. A rejection is read as a {@link CouplerError} (anything else
 * throws, as `[...undefined]` does: the test fails). `sortPeers` sorts the named peers; `message`
 * adds the error's message (for the reader of a failing comparison).
 */
export function sumOutcome(r: PromiseSettledResult<{ sum: unknown }>, options: { readonly message?: boolean; readonly sortPeers?: boolean } = {}): SumOutcome {
  if (r.status === 'fulfilled') return { sum: r.value.sum };
  const e = r.reason as CouplerError;
  const peers = [...e.peers];
  if (options.sortPeers === true) peers.sort();
  return options.message === true ? { code: e.code, peers, message: (r.reason as Error).message } : { code: e.code, peers };
}

/**
 * review14 R14-1d's cheater: party `from` dials the relay afresh for its slot toward `peer` every
 * 300 ms with its own key, until `signal` aborts — each takeover evicts `peer`'s side of the pair,
 * whose link resumes; a fresh connection that pairs completes its handshake and is kept in `held`,
 * silent (destroy them afterwards). Resolves with the number of takeovers tried.
 */
export async function takeOverSlot(parties: TestParties, url: string, from: string, peer: string, signal: AbortSignal, held: SecureChannel[]): Promise<number> {
  let takeovers = 0;
  while (!signal.aborted) {
    try {
      held.push(
        await relayChannel(url, peer, {
          identity: parties.identities.get(from)!,
          roster: parties.roster,
          sessionId: parties.sessionId,
          localId: from,
          pairTimeoutMs: 300,
          signal,
        }),
      );
    } catch {
      /* not paired within 300 ms, or evicted by the next takeover */
    }
    takeovers++;
    await sleep(300);
  }
  return takeovers;
}
