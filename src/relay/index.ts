/**
 * Egress-only mode: a relay that forwards end-to-end encrypted channels between parties that
 * cannot accept inbound connections.
 * @module
 */
export {
  startRelay,
  relaySourceKey,
  DEFAULT_RELAY_HOST,
  DEFAULT_RELAY_MAX_MESSAGE_BYTES,
  RELAY_HEALTH_PATH,
  RELAY_METRICS_PATH,
  type RelayOptions,
  type RelayLimits,
  type RelayServer,
  type RelayStats,
  type RelayHooks,
  type RelayEvent,
  type RelayTlsOptions,
} from './server.js';
export {
  memoryBound,
  resolveTableLimits,
  DEFAULT_RELAY_MAX_PENDING,
  DEFAULT_RELAY_MAX_PENDING_PER_SOURCE,
  DEFAULT_RELAY_ADMISSION_TIMEOUT_MS,
  DEFAULT_RELAY_MAX_CONNECTIONS,
  DEFAULT_RELAY_MAX_CONNECTIONS_PER_SOURCE,
  DEFAULT_RELAY_MAX_CONNECTIONS_PER_SESSION,
  DEFAULT_RELAY_MAX_SESSIONS,
  DEFAULT_RELAY_MAX_SESSIONS_PER_SOURCE,
  DEFAULT_RELAY_MAX_SESSIONS_PER_DIGEST,
  DEFAULT_RELAY_MAX_ROSTER_PARTIES,
  DEFAULT_RELAY_IDLE_TIMEOUT_MS,
  DEFAULT_RELAY_PAIR_TIMEOUT_MS,
  DEFAULT_RELAY_MAX_BYTES_PER_SESSION,
  DEFAULT_RELAY_WINDOW_BYTES,
  DEFAULT_RELAY_MAX_NONCES,
  DEFAULT_RELAY_MAX_NONCES_PER_SOURCE,
  DEFAULT_RELAY_MAX_AGGREGATIONS,
  DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SESSION,
  DEFAULT_RELAY_MAX_AGGREGATIONS_PER_DIGEST,
  DEFAULT_RELAY_MAX_AGGREGATIONS_PER_SOURCE,
  DEFAULT_RELAY_AGGREGATE_JOIN_TIMEOUT_MS,
  DEFAULT_RELAY_MAX_AGGREGATE_ELEMENTS,
  AGGREGATE_MIN_BYTES_PER_SECOND,
  AGGREGATE_STALL_GRACE_MS,
  RELAY_IN_USE_MS,
  SOCKET_READ_BYTES,
  CONNECTION_OVERHEAD_BYTES,
  NONCE_BYTES,
  ROSTER_PARTY_BYTES,
  type TableLimits,
  type ResolvedTableLimits,
  type MemoryBoundInputs,
} from './table.js';
export { dialRelay, relayProxyFor, RELAY_CA_ENV, DEFAULT_RELAY_DIAL_TIMEOUT_MS, type RelayDialOptions } from './dial.js';
export { relayMetrics, RELAY_METRIC_PREFIX } from './metrics.js';
export { relayLogger, DEFAULT_REFUSAL_LOG_INTERVAL_MS, MAX_REFUSAL_LOG_KEYS, type RelayLoggerOptions } from './log.js';
export { relayChannel, type RelayChannelOptions, DEFAULT_PAIR_TIMEOUT_MS } from './client.js';
export { RelayOpeningError } from './aggregate-client.js';
export { AGGREGATE_CHUNK_ELEMENTS, AGGREGATE_ABORT_REASONS, type AggregateAbort, type AggregateAbortReason } from './aggregate-wire.js';
export { AGGREGATE_WINDOW_CHUNKS, AGGREGATE_MEMORY_BYTES } from './aggregate.js';
export { transportFromEnv, checkTransport, channelPath, DEFAULT_AUTO_FALLBACK_MS, type Transport, type ChannelPath } from './mesh.js';
export {
  RelayError,
  RELAY_PATH,
  RELAY_SUBPROTOCOL,
  RELAY_REFUSE_REASONS,
  RELAY_REFUSAL_CLASS,
  isTransientRefusal,
  parseAdmissionRequest,
  ADMISSION_SKEW_MS,
  MAX_ADMISSION_BYTES,
  admissionTranscript,
  normalizeRelayUrl,
  type AdmissionRequest,
  type RelayRefuseReason,
  type RelayRefusalClass,
} from './protocol.js';
