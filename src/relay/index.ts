/**
 * Egress-only mode: a relay that forwards end-to-end encrypted channels between parties that
 * cannot accept inbound connections.
 * @module
 */
export {
  startRelay,
  type RelayOptions,
  type RelayLimits,
  type RelayServer,
  type RelayStats,
  type RelayHooks,
} from './server.js';
export { relayChannel, type RelayChannelOptions, DEFAULT_PAIR_TIMEOUT_MS } from './client.js';
export { transportFromEnv, checkTransport, channelPath, DEFAULT_AUTO_FALLBACK_MS, type Transport, type ChannelPath } from './mesh.js';
export {
  RelayError,
  RELAY_PATH,
  RELAY_SUBPROTOCOL,
  RELAY_REFUSE_REASONS,
  ADMISSION_SKEW_MS,
  MAX_ADMISSION_BYTES,
  admissionTranscript,
  normalizeRelayUrl,
  type AdmissionRequest,
  type RelayRefuseReason,
} from './protocol.js';
