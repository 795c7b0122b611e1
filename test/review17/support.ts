/**
 * Shared helpers of review 17's tests: parties with chosen ids and session ids (the harness's
 * makeParties fixes both), joined in this process over real channels on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { AddressBook, joinLocal, type JoinLocalOptions, type TestParties } from '../support/group-harness';
import { testIdentity } from '../support/identity';
import { createRoster } from '../../src/identity/roster';
import type { Group } from '../../src/group/group';

/** Parties with the given ids (canonical order must equal the given order) and session id. */
export function partiesWith(ids: readonly string[], sessionId = `r17-${randomBytes(8).toString('hex')}`): TestParties {
  const identities = new Map(ids.map((id) => [id, testIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  if (roster.ids.join('\n') !== ids.join('\n')) throw new Error('partiesWith: ids not in canonical order');
  return { ids: [...ids], identities, roster, sessionId };
}

const open: Group[][] = [];

/** Join every party in this process; closed by {@link closeAll}. */
export async function join(p: TestParties, roundTimeoutMs = 8_000, extra?: JoinLocalOptions['extra']): Promise<Group[]> {
  const gs = await joinLocal(p, p.ids, new AddressBook(), { roundTimeoutMs, ...(extra === undefined ? {} : { extra }) });
  open.push(gs);
  return gs;
}

/** Close every group joined by {@link join}. */
export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).flat().map((g) => g.close()));
}

export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/**
 * A TCP forwarder on 127.0.0.1 to the port `target()` names when a connection arrives, whose
 * dialer-to-target direction can be delayed (`delay(ms)`, in order; the other direction at once).
 */
export async function delayLine(target: () => number): Promise<{ port: number; delay(ms: number): void; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  let delayMs = 0;
  const server = createServer((a) => {
    const b = connect(target(), '127.0.0.1');
    sockets.push(a, b);
    a.on('data', (d) => (delayMs === 0 ? b.write(d) : setTimeout(() => b.write(d), delayMs)));
    b.on('data', (d) => a.write(d));
    for (const s of [a, b]) s.on('error', () => undefined);
    a.on('close', () => setTimeout(() => b.destroy(), delayMs));
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    delay: (ms) => (delayMs = ms),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
