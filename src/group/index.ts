/**
 * The group of one task: mesh formation, round messaging, echo broadcast, commit-then-open.
 * @module
 */
export {
  Group,
  joinGroup,
  type JoinGroupOptions,
  type RoundOptions,
  type GroupEvent,
  type RunProgress,
  type PeerStats,
  DEFAULT_JOIN_TIMEOUT_MS,
  DEFAULT_ROUND_TIMEOUT_MS,
  STALL_PROBE_MAX_MS,
  DEFAULT_DIAL_INITIAL_BACKOFF_MS,
  DEFAULT_DIAL_MAX_BACKOFF_MS,
  DEFAULT_DISCOVERY_INTERVAL_MS,
  DEFAULT_MAX_PENDING_BYTES_PER_PEER,
  DEFAULT_MAX_TOTAL_PENDING_BYTES,
  MIN_DEFAULT_PENDING_SHARE_BYTES,
  DEFAULT_MAX_PENDING_HEAP_BYTES_PER_PEER,
  DEFAULT_MAX_PENDING_ROUNDS_PER_PEER,
  ROUND_PATTERN,
} from './group.js';
export { echoBroadcast, echoBroadcastAttached, echoDigest, verifyStatement, encodeEvidence, ECHO_STATEMENT, type SignedStatement, type EchoAttachedResult, type EchoOptions } from './echo.js';
export { commitThenOpen, commitment } from './commit.js';
export { DEFAULT_MAX_RUNS_AHEAD } from './runs.js';
