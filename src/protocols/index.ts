/**
 * The secure-sum family and its value encoding.
 * @module
 */
export { type SumOptions, type SumResult, checkSumInput, type CheckSumInputOptions } from './common.js';
export { secureSum, type SecureSumOptions, type PartialsOpening, SHARE_PRG_DOMAIN, RELAY_OPENING_MIN_PARTIES } from './additive.js';
export { dkSecureSum, type DkSecureSumOptions } from './dk.js';
export { RelayCheatingError, RELAY_OPENING_MIN_ELEMENTS } from './relay-opening.js';
export { thresholdSum, thresholdDealerFloor, thresholdQuorum, SPILL_MIN_ELEMENTS, type ThresholdSumOptions } from './threshold.js';
export { type SpillTarget } from './spill.js';
export { ringSecureSum, plainSum, type BaselineOptions, type RingSumOptions } from './baselines.js';
export {
  type SumInput,
  type SumInputLike,
  type SumOutput,
  type SumOutputOf,
  type SumScalar,
  type SumVector,
  type SumField,
  type SumRecord,
  type SumOutputScalar,
  type SumOutputVector,
  type SumOutputField,
  type Shape,
  type ShapeEntry,
  type ElementType,
  DEFAULT_FRACTIONAL_BITS,
  DEFAULT_BOUND,
  DEFAULT_DECIMAL_PLACES,
  describeShape,
  shapeDigest,
  collusionThreshold,
  shareGraph,
  checkParams,
  type EncodingParams,
  type ResolvedEncodingParams,
  type Modulus,
} from './math/index.js';
