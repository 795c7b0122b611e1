/**
 * Three in-process parties over real channels on 127.0.0.1 where p1 reaches p3 only through a
 * userspace TCP forwarder (test/support/forwarder.ts) and p2 reaches both directly: freezing,
 * stalling or throttling the forwarder changes the p1–p3 path alone.
 */
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import type { PeerAddress } from '../../src/discovery/types';
import { forwarder, type Forwarder } from './forwarder';
import { makeParties } from './group-harness';

/** The three groups, the forwarder between p1 and p3, and a teardown of both. */
export interface ThreeViaForwarder {
  readonly g1: Group;
  readonly g2: Group;
  readonly g3: Group;
  readonly via: Forwarder;
  close(): Promise<void>;
}

/** Form the three groups (round deadline `roundTimeoutMs`; `sendHighWaterBytes` if given). */
export async function threeViaForwarder(o: { roundTimeoutMs: number; sendHighWaterBytes?: number }): Promise<ThreeViaForwarder> {
  const parties = makeParties(3);
  const ports = new Map<string, number>();
  const at = (party: string, port: number): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  let via: Forwarder | undefined;
  const sees: Record<string, () => PeerAddress[]> = {
    p1: () => (via === undefined ? [] : [at('p3', via.port)]),
    p2: () => ['p1', 'p3'].filter((p) => ports.has(p)).map((p) => at(p, ports.get(p)!)),
    p3: () => [],
  };
  const join = (id: string): Promise<Group> =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover: () => Promise.resolve(sees[id]!()) },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 30_000,
      roundTimeoutMs: o.roundTimeoutMs,
      ...(o.sendHighWaterBytes === undefined ? {} : { sendHighWaterBytes: o.sendHighWaterBytes }),
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (e: GroupEvent) => {
        if (e.type === 'listening') ports.set(id, e.port);
      },
    });
  const j3 = join('p3');
  while (!ports.has('p3')) await new Promise((r) => setTimeout(r, 5));
  via = await forwarder(ports.get('p3')!);
  const v = via;
  const [g1, g3, g2] = (await Promise.all([join('p1'), j3, join('p2')])) as [Group, Group, Group];
  return {
    g1,
    g2,
    g3,
    via: v,
    close: async () => {
      await v.close();
      await Promise.all([g1, g2, g3].map((g) => g.close()));
    },
  };
}
