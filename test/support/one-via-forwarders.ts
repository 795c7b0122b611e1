/**
 * n in-process parties over real channels on 127.0.0.1 where every party reaches ONE party (the
 * last id, `pn`) only through a userspace TCP forwarder of its own (test/support/forwarder.ts),
 * and reaches every other party directly. Freezing one party's forwarder cuts the path between it
 * and `pn` alone, so a test can let `pn`'s messages reach some parties and not others — as a host
 * whose link goes down (or a process killed) while its first flight is on the wire does.
 *
 * `pn` dials nobody; each other party dials it through its own forwarder.
 */
import { joinGroup, type Group, type GroupEvent, type JoinGroupOptions } from '../../src/group/group';
import type { PeerAddress } from '../../src/discovery/types';
import { forwarder, type Forwarder } from './forwarder';
import { makeParties, type TestParties } from './group-harness';

/** The groups (in id order), the forwarder of each party towards `pn`, and a teardown. */
export interface OneViaForwarders {
  readonly parties: TestParties;
  readonly groups: Group[];
  readonly byId: Map<string, Group>;
  /** The party reached through forwarders (`pn`). */
  readonly far: string;
  /** Each other party's forwarder towards `far`. */
  readonly via: Map<string, Forwarder>;
  close(): Promise<void>;
}

/** Form the n groups (round deadline `roundTimeoutMs`; `extra` join options per party, e.g. onProgress). */
export async function oneViaForwarders(n: number, o: { roundTimeoutMs: number; extra?: (id: string) => Partial<JoinGroupOptions> }): Promise<OneViaForwarders> {
  const parties = makeParties(n);
  const far = parties.ids[n - 1]!;
  const ports = new Map<string, number>();
  const via = new Map<string, Forwarder>();
  const at = (party: string, port: number): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  const sees = (id: string): PeerAddress[] => {
    if (id === far) return [];
    const out: PeerAddress[] = [];
    for (const p of parties.ids) {
      if (p === id) continue;
      if (p === far) {
        const v = via.get(id);
        if (v !== undefined) out.push(at(p, v.port));
      } else if (ports.has(p)) out.push(at(p, ports.get(p)!));
    }
    return out;
  };
  const join = (id: string): Promise<Group> =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover: () => Promise.resolve(sees(id)) },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 30_000,
      roundTimeoutMs: o.roundTimeoutMs,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      ...(o.extra?.(id) ?? {}),
      onEvent: (e: GroupEvent) => {
        if (e.type === 'listening') ports.set(id, e.port);
      },
    });
  const jFar = join(far);
  while (!ports.has(far)) await new Promise((r) => setTimeout(r, 5));
  for (const p of parties.ids) if (p !== far) via.set(p, await forwarder(ports.get(far)!));
  const joined = await Promise.allSettled([...parties.ids.filter((p) => p !== far).map(join), jFar]);
  const groups = joined.filter((r): r is PromiseFulfilledResult<Group> => r.status === 'fulfilled').map((r) => r.value);
  const close = async (): Promise<void> => {
    for (const v of via.values()) await v.close();
    await Promise.all(groups.map((g) => g.close()));
  };
  const failed = joined.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await close();
    throw (failed as PromiseRejectedResult).reason;
  }
  const byId = new Map(groups.map((g) => [g.localId, g]));
  return { parties, groups: parties.ids.map((p) => byId.get(p)!), byId, far, via, close };
}
