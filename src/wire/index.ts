/**
 * Wire format: the locked-down msgpack codec and shape checks for untrusted messages.
 * @module
 */
export {
  type PlainData,
  type DecodeLimits,
  MAX_DEPTH,
  DEFAULT_MAX_VALUES,
  DEFAULT_MAX_HEAP_BYTES,
  DECODED_HEAP_BYTES,
  ELEMENTS_GAP,
  encodeMessage,
  decodeMessage,
  assertPlainData,
} from './codec.js';
export { type ShapeContext, expectRecord, expectString, expectBytes, expectUint, expectArray, expectLiteral } from './shape.js';
