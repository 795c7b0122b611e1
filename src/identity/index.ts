/**
 * Identities (key pairs) and rosters (the pinned keys of one task).
 * @module
 */
export {
  type Identity,
  type LoadIdentityOptions,
  PARTY_ID_PATTERN,
  isValidPartyId,
  generateIdentity,
  assertIdentity,
  serializeIdentity,
  parseIdentity,
  saveIdentity,
  loadIdentity,
  fingerprint,
  encodePublicKey,
  decodePublicKey,
} from './identity.js';
export {
  type RosterEntry,
  Roster,
  MAX_ROSTER_PARTIES,
  compareIds,
  createRoster,
  parseRoster,
  loadRoster,
  rosterFromEnv,
  rosterToJSON,
  rosterDigest,
  rosterBoundSessionId,
  sessionRosterDigest,
} from './roster.js';
