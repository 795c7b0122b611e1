/**
 * A peer's notice read after the mesh completed and before the group took it over (phase
 * `complete`: `Mesh.form` still waits for its dial loop — here a discovery lookup in flight, which
 * may ignore the abort signal — for the relay loop and for the listener to close) was filed
 * unjudged, as a forming mesh filed it before 6dc4787: the mailbox failed with "blaming …; not
 * confirmed here, so nobody is named", the group never saw the notice, and its first step (the
 * epoch agreement) reported that error as it was — nobody named, the blamed party never asked.
 * 6dc4787 covers a notice read while the mesh forms; this is the same notice one step later.
 *
 * In-process parties, real channels on 127.0.0.1; p3 is frozen behind a userspace TCP forwarder
 * (test/support/forwarder.ts), and p2's discovery answers slowly once it has returned p1, which
 * holds p2's formation in phase `complete` while p1's notice arrives.
 */
import type { PeerAddress } from '../../src/discovery/types';
import { CouplerError, ErrorCode } from '../../src/errors';
import { joinGroup, type Group, type GroupEvent } from '../../src/group/group';
import { forwarder } from '../support/forwarder';
import { makeParties } from '../support/group-harness';

const until = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const failure = (p: Promise<Group>): Promise<CouplerError> =>
  p.then(
    async (g) => {
      await g.close();
      throw new Error(`joined, expected a failure: ${g.localId}`);
    },
    (e: unknown) => e as CouplerError,
  );

test('a notice read between the mesh completing and the group taking it over is judged: p2 names the frozen p3', async () => {
  // p2 reaches p3 through a forwarder, then its discovery lookups take 4 s each. p1 starts now,
  // sees only p2 and dials it: that channel completes p2's mesh while p2's dial loop waits in a
  // lookup, so p2's formation stays in phase `complete` until the lookup returns. p3 freezes; p1
  // never reaches p3 and gives up at its short deadline, blaming p3: its notice reaches p2 in that
  // window.
  const parties = makeParties(3);
  const ports = new Map<string, number>();
  const events = new Map<string, GroupEvent[]>([
    ['p1', []],
    ['p2', []],
    ['p3', []],
  ]);
  const joinWith = (id: string, timeoutMs: number, discover: () => Promise<PeerAddress[]>, signal?: AbortSignal): Promise<Group> =>
    joinGroup({
      ...(signal === undefined ? {} : { signal }),
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs,
      roundTimeoutMs: 4_000,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (e) => {
        events.get(id)!.push(e);
        if (e.type === 'listening') ports.set(id, e.port);
      },
    });
  const at = (port: number, party: string): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  const connected = (id: string, peer: string): boolean => events.get(id)!.some((e) => e.type === 'connected' && e.peer === peer);
  const stop3 = new AbortController();
  const j3 = failure(joinWith('p3', 60_000, () => Promise.resolve([]), stop3.signal));
  await until(() => ports.has('p3'), 10_000);
  const via = await forwarder(ports.get('p3')!);
  let inSlowLookup = false;
  const p2Discover = async (): Promise<PeerAddress[]> => {
    if (connected('p2', 'p3')) {
      // A lookup that does not stop on the abort signal.
      inSlowLookup = true;
      await new Promise((r) => setTimeout(r, 4_000));
    }
    return [at(via.port, 'p3')];
  };
  const j2 = failure(joinWith('p2', 60_000, p2Discover));
  let j1: Promise<CouplerError> | undefined;
  try {
    await until(() => inSlowLookup, 20_000);
    via.freeze(); // p3 no longer answers p2 (nor hears it)
    j1 = failure(joinWith('p1', 1_500, () => Promise.resolve([at(ports.get('p2')!, 'p2')])));
    const e1 = await j1;
    expect({ code: e1.code, peers: e1.peers }).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
    const e2 = await j2;
    expect(connected('p2', 'p1')).toBe(true);
    // Before: PEER_ABORTED from p1 naming nobody ("blaming p3; not confirmed here").
    expect({ code: e2.code, peer: e2.peer, peers: e2.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p1', peers: ['p3'] });
  } finally {
    stop3.abort();
    await via.close();
    await Promise.all([j1, j2, j3]);
  }
}, 30_000);
