/**
 * Parent side: generate identities and a roster for n parties, and start them as processes in
 * the testbed's party hosts.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { serializeIdentity } from '../../src/identity/identity';
import { testIdentity } from '../support/identity';
import { createRoster, rosterToJSON, type Roster } from '../../src/identity/roster';
import type { NsProcess, Testbed } from './testbed';
import { DNS_IP } from './testbed';
import type { PartyConfig } from './inputs';

/** Party ids sort in host order: p00, p01, ... */
export const partyId = (i: number): string => `p${String(i).padStart(2, '0')}`;

/** Port every party listens on. */
export const PARTY_PORT = 8888;

export interface PartySet {
  readonly ids: string[];
  readonly roster: Roster;
  readonly rosterJson: string;
  readonly identities: string[];
  readonly sessionId: string;
}

/** Fresh identities, roster and session id for n parties. */
export function makeParties(n: number): PartySet {
  const ids: string[] = [];
  const identities: string[] = [];
  const entries: { id: string; publicKey: Uint8Array }[] = [];
  for (let i = 0; i < n; i++) {
    const id = partyId(i);
    const ident = testIdentity(id);
    ids.push(id);
    identities.push(serializeIdentity(ident));
    entries.push({ id, publicKey: ident.publicKey });
  }
  const roster = createRoster(entries);
  return { ids, roster, rosterJson: rosterToJSON(roster), identities, sessionId: `netns-${randomBytes(6).toString('hex')}` };
}

export type PartyOverrides = Partial<Omit<PartyConfig, 'id' | 'identity' | 'roster' | 'sessionId'>>;

/** Start party i of `set` in host i. Default: DNS discovery of `tasks.sum`, auto mode, one secureSum of length 16. */
export function startParty(tb: Testbed, set: PartySet, i: number, o: PartyOverrides = {}): NsProcess {
  const cfg: PartyConfig = {
    id: set.ids[i]!,
    identity: set.identities[i]!,
    roster: set.rosterJson,
    sessionId: set.sessionId,
    port: PARTY_PORT,
    discovery: { kind: 'dns', server: `${DNS_IP}:53`, names: ['tasks.sum'] },
    joinTimeoutMs: 30_000,
    roundTimeoutMs: 10_000,
    mode: 'auto',
    length: 16,
    ...o,
  };
  return tb.run(i, 'test/netns/party.ts', { CPL_PARTY: JSON.stringify(cfg) }, set.ids[i]);
}

/** Start all parties. */
export function startParties(tb: Testbed, set: PartySet, o: PartyOverrides | ((i: number) => PartyOverrides) = {}): NsProcess[] {
  return set.ids.map((_, i) => startParty(tb, set, i, typeof o === 'function' ? o(i) : o));
}
