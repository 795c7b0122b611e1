/**
 * One testbed party process (test/netns/party.ts) on loopback, without namespaces or root: for
 * group tests that need a party to really crash (SIGKILL) or freeze (SIGSTOP) next to in-process
 * parties. Only 127.0.0.1 is used.
 *
 * @module
 */
import { freePort as freePortOn } from '../../src/cli/ports';
import { serializeIdentity, type Identity } from '../../src/identity/identity';
import { rosterToJSON, type Roster } from '../../src/identity/roster';
import { runLocal, type NsProcess } from './testbed';

/** A free port on 127.0.0.1 for a party that must be dialled before it listens (see src/cli/ports.ts). */
export function freePort(): Promise<number> {
  return freePortOn('127.0.0.1');
}

/** What {@link startLoopbackParty} needs. */
export interface LoopbackParty {
  readonly id: string;
  readonly identity: Identity;
  readonly roster: Roster;
  readonly sessionId: string;
  /** Ports on 127.0.0.1 it dials (it listens on a port of its own choosing). */
  readonly dial: readonly number[];
  /** `commands`: join, then wait (no sums unless told); `auto`: join, one sum, exit. */
  readonly mode: 'commands' | 'auto';
  readonly joinTimeoutMs: number;
  readonly roundTimeoutMs: number;
}

/** Start the party process; it emits `group` events (connected, peer-lost, ...), `ready`, `error`. */
export function startLoopbackParty(p: LoopbackParty, deadlineMs = 120_000): NsProcess {
  return runLocal(
    'test/netns/party.ts',
    {
      CPL_PARTY: JSON.stringify({
        id: p.id,
        identity: serializeIdentity(p.identity),
        roster: rosterToJSON(p.roster),
        sessionId: p.sessionId,
        port: 0,
        listenHost: '127.0.0.1',
        discovery: { kind: 'static', list: p.dial.map((port) => `127.0.0.1:${port}`) },
        joinTimeoutMs: p.joinTimeoutMs,
        roundTimeoutMs: p.roundTimeoutMs,
        mode: p.mode,
        length: 1,
      }),
    },
    p.id,
    deadlineMs,
  );
}
