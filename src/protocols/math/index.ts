/**
 * The pure math layer of coupler's secure sums — no networking.
 *
 * - `ring64`: vectors mod 2^64 on `Uint32Array` word pairs (additive sharing, masking).
 * - `prg`: seed expansion (HKDF-SHA256 + ChaCha20) into ring or field vectors.
 * - `field`: GF(2^127 − 1) on `bigint`.
 * - `field61`: GF(2^61 − 1) on `Uint32Array` word pairs (no BigInt per element; 8 bytes per element).
 * - `shamir`: Shamir sharing, Lagrange reconstruction, degree check / Berlekamp–Welch (GF(2^127 − 1)).
 * - `shamir61`: the same over GF(2^61 − 1), on typed arrays.
 * - `values`, `fixedpoint`: the input model, shapes, and fixed-point encoding/decoding.
 * - `sharegraph`: the run-seeded segment graph of dk-secure sum and its collusion threshold.
 *
 * @packageDocumentation
 */
export {
  type Ring64Vector,
  r64Zeros,
  r64Random,
  r64AddInPlace,
  r64AddBytesInPlace,
  r64SubInPlace,
  r64Add,
  r64Sub,
  r64Length,
  r64FromBytes,
  r64ToBytes,
  r64FromBigInts,
  r64ToBigInts,
  r64Equal,
} from './ring64';
export { MAX_VECTOR_LENGTH } from './_checks';
export { PRG_SEED_BYTES, PRG_MAX_DOMAIN_LENGTH, PRG_MAX_FIELD_COUNT, expandSeed, expandSeedField, applySeedInPlace, applySeedsInPlace } from './prg';
export {
  P127,
  FIELD_MAX_VECTOR_LENGTH,
  isFieldElement,
  fReduce,
  fAdd,
  fSub,
  fMul,
  fNeg,
  fInv,
  fRandom,
  fRandomVector,
  fVecAdd,
  fVecAddInPlace,
  fVecSub,
  fVecScale,
} from './field';
export {
  type Field61Vector,
  P61,
  isField61Element,
  f61Zeros,
  f61Random,
  f61Length,
  f61FromBigInts,
  f61ToBigInts,
  f61ToBytes,
  f61FromBytes,
  f61AddInPlace,
  f61Add,
  f61Sub,
  f61Mul,
  f61Scale,
  f61MulAddInPlace,
  f61Combine,
  f61Equal,
} from './field61';
export { type Shamir61Point, shamirShare61, lagrangeAtZero61, checkDegree61 } from './shamir61';
export {
  type ShamirPoint,
  type DegreeCheck,
  SHAMIR_MAX_POINTS,
  shamirShare,
  lagrangeAtZero,
  checkDegree,
  evaluationPoints,
} from './shamir';
export {
  type SumScalar,
  type SumVector,
  type SumField,
  type SumRecord,
  type SumInput,
  type SumInputLike,
  type SumOutputScalar,
  type SumOutputVector,
  type SumOutputField,
  type SumOutput,
  type SumOutputOf,
  _mirrorOutput,
  type ElementType,
  type ShapeEntry,
  type Shape,
  DEFAULT_MAX_ELEMENTS,
  MAX_RECORD_FIELDS,
  MAX_FIELD_NAME_LENGTH,
  FORBIDDEN_FIELD_NAMES,
  describeShape,
  shapeLength,
  assertShape,
  shapeDigest,
  assertShapesEqual,
} from './values';
export {
  type Modulus,
  type EncodingParams,
  type ResolvedEncodingParams,
  DEFAULT_FRACTIONAL_BITS,
  DEFAULT_BOUND,
  DEFAULT_DECIMAL_PLACES,
  MAX_DECIMAL_PLACES,
  MAX_FRACTIONAL_BITS,
  MAX_DECIMAL_LENGTH,
  checkParams,
  fitsModulus,
  encodeRing64,
  decodeRing64,
  encodeField,
  decodeField,
  encodeField61,
  decodeField61,
} from './fixedpoint';
export {
  SHAREGRAPH_MAX_PARTIES,
  SHAREGRAPH_MAX_ID_LENGTH,
  SHAREGRAPH_SEED_MIN_BYTES,
  SHAREGRAPH_SEED_MAX_BYTES,
  shareGraph,
  receivers,
  senders,
  exposedParties,
  collusionThreshold,
} from './sharegraph';
