/**
 * Parent side of the protocols benchmark's party processes (`party.ts`): start n of them, each on
 * its own loopback address (127.0.0.2, 127.0.0.3, … on one port; 127.0.0.1 with one port per
 * party if the kernel refuses), and have them form one group. Shared by the `protocols` and
 * `memory` benchmarks.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateIdentity, serializeIdentity } from '../../src/identity/identity.js';
import { createRoster, rosterToJSON } from '../../src/identity/roster.js';
import { canBind, freePort } from '../../src/cli/ports';
import { spawnWorker, type Worker } from '../lib/child.js';
import { partyId, type PartyAddress, type PartyConfig } from './shared.js';

/** n party processes that formed one group. */
export interface PartyGroup {
  readonly workers: Worker[];
  readonly all: PartyAddress[];
  /** Wall time of each party's `joinGroup`, ms. */
  readonly joinMs: number[];
  /** How the parties are addressed (for the report). */
  readonly hostsMode: string;
  /** Close the group in every party, then stop the processes. */
  close(): Promise<void>;
}

/** Identities, roster and addresses of n parties of one session: what each party process is given. */
export interface PartySetup {
  /** Per party: index, id, serialized identity, roster, session, own address, every address. */
  readonly configs: Omit<PartyConfig, 'roundTimeoutMs' | 'joinTimeoutMs'>[];
  readonly all: PartyAddress[];
  /** How the parties are addressed (for the report). */
  readonly hostsMode: string;
}

/**
 * Make n parties (ids 1..n, fresh keys, one roster) on their own loopback addresses: 127.0.0.2,
 * 127.0.0.3, … on one port, or 127.0.0.1 with one port per party if the kernel refuses.
 */
export async function setUpParties(n: number, sessionLabel: string): Promise<PartySetup> {
  const perAddress = await canBind('127.0.0.2');
  const hostsMode = perAddress ? 'one 127.0.0.x address per party, same port' : '127.0.0.1, one port per party';
  const ids = Array.from({ length: n }, (_, i) => partyId(i));
  const identities = ids.map((id) => generateIdentity(id));
  const roster = rosterToJSON(createRoster(identities.map((x) => ({ id: x.id!, publicKey: x.publicKey }))));
  const samePort = perAddress ? await freePort('127.0.0.2') : 0;
  const all: PartyAddress[] = [];
  for (let i = 0; i < n; i++) {
    all.push(perAddress ? { id: ids[i]!, host: `127.0.0.${i + 2}`, port: samePort } : { id: ids[i]!, host: '127.0.0.1', port: await freePort('127.0.0.1') });
  }
  const sessionId = `${sessionLabel}-${n}-${randomBytes(8).toString('hex')}`;
  const configs = ids.map((id, i) => ({ index: i, id, identity: serializeIdentity(identities[i]!), roster, sessionId, listen: all[i]!, all }));
  return { configs, all, hostsMode };
}

/**
 * Start n parties and form their group.
 * @param options.roundTimeoutMs - the group's round deadline.
 * @param options.deadlineMs - each process exits on its own after this.
 * @param options.entry - a JavaScript party entry to run under plain node (`dist-party.ts`);
 *   default: `party.ts` (the sources) under tsx.
 */
export async function startPartyGroup(n: number, options: { root: string; roundTimeoutMs: number; deadlineMs: number; sessionLabel: string; entry?: string }): Promise<PartyGroup> {
  const { configs, all, hostsMode } = await setUpParties(n, options.sessionLabel);
  const workers: Worker[] = configs.map((c) => {
    const config: PartyConfig = { ...c, roundTimeoutMs: options.roundTimeoutMs, joinTimeoutMs: 120_000 };
    const file = options.entry ?? join(__dirname, 'party.ts');
    return spawnWorker(file, config, { name: `party-${c.id}`, root: options.root, deadlineMs: options.deadlineMs, tsx: options.entry === undefined });
  });
  const stop = async (): Promise<void> => {
    await Promise.all(workers.map((w) => w.stop()));
  };
  try {
    await Promise.all(workers.map((w) => w.waitEvent('ready', 120_000)));
    const joined = await Promise.all(workers.map((w) => w.call<{ ms: number }>('join', {}, 150_000)));
    return {
      workers,
      all,
      joinMs: joined.map((j) => j.ms),
      hostsMode,
      close: async () => {
        try {
          await Promise.all(workers.map((w) => w.call('close', {}, 30_000).catch(() => undefined)));
        } finally {
          await stop();
        }
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
