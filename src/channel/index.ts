/**
 * Authenticated, encrypted channels between roster parties over WebSocket.
 * @module
 */
export {
  SecureChannel,
  type ChannelLimits,
  type ChannelStats,
  type ReceiveOptions,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
  QUEUED_MESSAGE_COST,
  DEFAULT_SEND_HIGH_WATER_BYTES,
  DEFAULT_RECEIVE_HIGH_WATER_BYTES,
  CLOSE_FLUSH_TIMEOUT_MS,
} from './channel.js';
export {
  connectChannel,
  listenChannels,
  type ChannelOptions,
  type ConnectOptions,
  type ListenOptions,
  type ChannelListener,
  SUBPROTOCOL,
  CHANNEL_PATH,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_PENDING_PER_SOURCE,
  DEFAULT_MAX_PENDING_PER_KNOWN_SOURCE,
  DEFAULT_FIRST_MESSAGE_TIMEOUT_MS,
  DEFAULT_FINISH_TIMEOUT_MS,
  DEFAULT_SILENT_GRACE_MS,
} from './transport.js';
export { PROTOCOL_VERSION, SESSION_ID_PATTERN, type RefuseReason } from './handshake.js';
export { type SuiteName, SUITES } from './suite.js';
