/**
 * Three in-process parties over real channels on 127.0.0.1, where p2 has left the group with a
 * notice blaming p3, and p3 is frozen towards p1 (a userspace TCP forwarder that stops moving
 * bytes): p1 holds p2's notice, and asking p3 about it gets no answer. The group's round deadline
 * is 12 s, so waiting for that notice's verdict at the group's deadline takes 6 s.
 */
import type { Group } from '../../src/group/group';
import { ErrorCode, GroupError } from '../../src/errors';
import type { Forwarder } from './forwarder';
import { threeViaForwarder } from './three-via-forwarder';

/** Form the groups as described above (see the module notes). */
export async function setup(): Promise<{ g1: Group; g2: Group; g3: Group; via: Forwarder }> {
  // The group's default deadline: its half (6 s) was the wait.
  const { g1, g2, g3, via } = await threeViaForwarder({ roundTimeoutMs: 12_000 });
  via.freeze(); // p3 no longer answers p1 (nor hears it)
  // p2 leaves blaming p3; p1 files its notice.
  await g2.abort(new GroupError(ErrorCode.PEER_LOST, 'lost peer "p3"', { peer: 'p3' }));
  while (!g1.lostPeers.includes('p2')) await new Promise((r) => setTimeout(r, 5));
  return { g1, g2, g3, via };
}
