/**
 * coupler: direct, authenticated, encrypted channels and secure sums between the algorithm
 * containers of one federated task — no central server in the middle.
 *
 * - {@link joinGroup} forms the mesh: discovery hints, mutual authentication against a roster of
 *   pinned keys, one encrypted channel per peer.
 * - {@link secureSum}, {@link dkSecureSum}, {@link thresholdSum} compute sums of numbers, vectors
 *   and records; cheating is detected and the culprit named.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './identity/index.js';
export * from './wire/index.js';
export * from './channel/index.js';
export * from './discovery/index.js';
export * from './group/index.js';
export * from './protocols/index.js';
export * from './relay/index.js';
