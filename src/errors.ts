/**
 * Errors thrown by coupler.
 *
 * Every error is a {@link CouplerError} with a stable string `code` (listed in {@link ErrorCode}
 * and in the README's error table) and, where it is known, the id of the `peer` involved.
 * Messages never contain key material or plaintext values.
 *
 * @module
 */

const BRAND = Symbol.for('coupler.error');

/**
 * Stable error codes. Match on `err.code`, never on the message text.
 */
export const ErrorCode = {
  /** A caller passed an argument of the wrong type, shape or range. */
  INVALID_ARGUMENT: 'COUPLER_ERR_INVALID_ARGUMENT',
  /** An identity (key pair) file or object is malformed. */
  IDENTITY_INVALID: 'COUPLER_ERR_IDENTITY_INVALID',
  /** A roster is malformed (duplicate id, bad key, missing field ...). */
  ROSTER_INVALID: 'COUPLER_ERR_ROSTER_INVALID',
  /** A frame from the network is larger than the configured cap. */
  FRAME_TOO_LARGE: 'COUPLER_ERR_FRAME_TOO_LARGE',
  /** Bytes from the network do not decode to a well-formed frame. */
  FRAME_MALFORMED: 'COUPLER_ERR_FRAME_MALFORMED',
  /** The handshake failed: bad signature, wrong session, protocol violation. */
  HANDSHAKE_FAILED: 'COUPLER_ERR_HANDSHAKE_FAILED',
  /** The remote key is not in the roster, or does not belong to the claimed party. */
  PEER_UNKNOWN: 'COUPLER_ERR_PEER_UNKNOWN',
  /** A frame failed authentication (tampered, wrong key, wrong header). */
  FRAME_AUTH_FAILED: 'COUPLER_ERR_FRAME_AUTH_FAILED',
  /** A frame arrived out of sequence (replayed, duplicated, reordered or dropped before it). */
  FRAME_SEQUENCE: 'COUPLER_ERR_FRAME_SEQUENCE',
  /** The channel is closed (locally, by the peer, or after an error). */
  CHANNEL_CLOSED: 'COUPLER_ERR_CHANNEL_CLOSED',
  /** A per-direction counter would wrap; the channel must be re-established. */
  COUNTER_EXHAUSTED: 'COUPLER_ERR_COUNTER_EXHAUSTED',
  /** A message exceeds the configured maximum message size. */
  MESSAGE_TOO_LARGE: 'COUPLER_ERR_MESSAGE_TOO_LARGE',
  /** A deadline passed. `peers` names who was waited for. */
  TIMEOUT: 'COUPLER_ERR_TIMEOUT',
  /** The operation was aborted through an AbortSignal. */
  ABORTED: 'COUPLER_ERR_ABORTED',
  /** Discovery could not find the expected peers. */
  DISCOVERY_FAILED: 'COUPLER_ERR_DISCOVERY_FAILED',
  /** A peer left the group (crashed, closed, or its channel failed). */
  PEER_LOST: 'COUPLER_ERR_PEER_LOST',
  /**
   * A peer stopped the run on purpose and said why (an authenticated abort carrying its error
   * code, e.g. it refused its own input, or it was told to stop). `peer` names it.
   */
  PEER_ABORTED: 'COUPLER_ERR_PEER_ABORTED',
  /** A peer sent a message that violates the protocol of the current round. */
  PROTOCOL_VIOLATION: 'COUPLER_ERR_PROTOCOL_VIOLATION',
  /** A peer sent different values to different parties (detected by the echo round). */
  EQUIVOCATION: 'COUPLER_ERR_EQUIVOCATION',
  /** A revealed value does not match its commitment. */
  COMMITMENT_MISMATCH: 'COUPLER_ERR_COMMITMENT_MISMATCH',
  /**
   * A share, partial sum or aggregated sum is inconsistent with the others: Shamir degree check
   * (thresholdSum), or a chunk sum of the aggregated opening that is not the sum of the committed
   * partial sums, or a check that reported a failure the opened values contradict.
   */
  TAMPERING_DETECTED: 'COUPLER_ERR_TAMPERING_DETECTED',
  /** An input value cannot be encoded (NaN, out of bound, shape mismatch ...). */
  VALUE_INVALID: 'COUPLER_ERR_VALUE_INVALID',
  /** Parties disagree on the shape of the values to sum. */
  SHAPE_MISMATCH: 'COUPLER_ERR_SHAPE_MISMATCH',
  /** Protocol parameters are unsafe or inconsistent (modulus too small, n too small ...). */
  PARAMETERS_UNSAFE: 'COUPLER_ERR_PARAMETERS_UNSAFE',
  /** Too few parties remain for the protocol to complete. */
  TOO_FEW_PARTIES: 'COUPLER_ERR_TOO_FEW_PARTIES',
  /** The vantage6 container contract was violated (missing env, bad input file ...). */
  VANTAGE6: 'COUPLER_ERR_VANTAGE6',
  /** An HTTP request to the vantage6 node proxy failed. */
  PROXY_REQUEST_FAILED: 'COUPLER_ERR_PROXY_REQUEST_FAILED',
  /** The relay refused a connection (not admitted, over a limit); `reason` on the error says why. */
  RELAY_REFUSED: 'COUPLER_ERR_RELAY_REFUSED',
  /**
   * This party lost its connection to the relay (the relay stopped, or the network to it failed):
   * every channel through it ended at once. Names no party; the message names the relay's URL.
   */
  RELAY_LOST: 'COUPLER_ERR_RELAY_LOST',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options common to every coupler error. */
export interface CouplerErrorOptions {
  /** The party id of the peer involved, when known. */
  peer?: string;
  /** Party ids involved (missing peers, culprits). */
  peers?: readonly string[];
  /**
   * Parties of which at least one misbehaved, when the evidence cannot say which (see
   * {@link CouplerError.suspects}). Never the same as naming them.
   */
  suspects?: readonly string[];
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Base class of every error coupler throws. `instanceof CouplerError` works across duplicate
 * copies of the package (a `Symbol.for` brand), and `code` is stable across versions.
 */
export class CouplerError extends Error {
  /** Stable machine-readable code, one of {@link ErrorCode}. */
  readonly code: ErrorCodeValue;
  /** Party id of the peer involved, if known. */
  readonly peer: string | undefined;
  /** Party ids involved (for timeouts: who was missing; for cheating: the culprits). */
  readonly peers: readonly string[];
  /**
   * Parties under suspicion that the evidence cannot decide between: at least one of them
   * misbehaved, but an honest party may be among them, so they are not named in `peers`. Example:
   * party k reports that party j sent it a different value than j sent this party — either j
   * equivocated or k lies, and without signatures nobody can tell which. Empty when there is none.
   */
  readonly suspects: readonly string[];

  constructor(code: ErrorCodeValue, message: string, options: CouplerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.peer = options.peer;
    this.peers = options.peers ?? (options.peer === undefined ? [] : [options.peer]);
    this.suspects = options.suspects ?? [];
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The class name (`TimeoutError`, `CheatingDetectedError`, ...), also for subclasses. */
  override get name(): string {
    return this.constructor.name;
  }

  /** Brand check that works across package copies. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== CouplerError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** A caller passed a bad argument. TypeError-like (wrong type) and RangeError-like cases both land here. */
export class InvalidArgumentError extends CouplerError {
  constructor(message: string, options?: CouplerErrorOptions) {
    super(ErrorCode.INVALID_ARGUMENT, message, options);
  }
}

/** An identity file or key is malformed. */
export class IdentityError extends CouplerError {
  constructor(message: string, options?: CouplerErrorOptions) {
    super(ErrorCode.IDENTITY_INVALID, message, options);
  }
}

/** A roster is malformed. `entry` and `field` name the offending place. */
export class RosterError extends CouplerError {
  /** Index or id of the roster entry at fault, when known. */
  readonly entry: string | undefined;
  /** Name of the field at fault, when known. */
  readonly field: string | undefined;
  constructor(message: string, options: CouplerErrorOptions & { entry?: string; field?: string } = {}) {
    super(ErrorCode.ROSTER_INVALID, message, options);
    this.entry = options.entry;
    this.field = options.field;
  }
}

/** Untrusted bytes did not parse into a well-formed frame, or were too large. */
export class ProtocolError extends CouplerError {
  constructor(
    code: typeof ErrorCode.FRAME_TOO_LARGE | typeof ErrorCode.FRAME_MALFORMED | typeof ErrorCode.PROTOCOL_VIOLATION,
    message: string,
    options?: CouplerErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** The authenticated handshake failed. */
export class HandshakeError extends CouplerError {
  constructor(
    code: typeof ErrorCode.HANDSHAKE_FAILED | typeof ErrorCode.PEER_UNKNOWN | typeof ErrorCode.TIMEOUT,
    message: string,
    options?: CouplerErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** A secure channel failed or was used after it closed. */
export class ChannelError extends CouplerError {
  constructor(
    code:
      | typeof ErrorCode.FRAME_AUTH_FAILED
      | typeof ErrorCode.FRAME_SEQUENCE
      | typeof ErrorCode.CHANNEL_CLOSED
      | typeof ErrorCode.COUNTER_EXHAUSTED
      | typeof ErrorCode.MESSAGE_TOO_LARGE
      | typeof ErrorCode.FRAME_TOO_LARGE
      | typeof ErrorCode.FRAME_MALFORMED,
    message: string,
    options?: CouplerErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** A deadline passed. `peers` lists the parties that were waited for. */
export class TimeoutError extends CouplerError {
  constructor(message: string, options?: CouplerErrorOptions) {
    super(ErrorCode.TIMEOUT, message, options);
  }
}

/** The operation was aborted through an AbortSignal. */
export class AbortedError extends CouplerError {
  constructor(message = 'operation aborted', options?: CouplerErrorOptions) {
    super(ErrorCode.ABORTED, message, options);
  }
}

/** Discovery did not find what was expected. */
export class DiscoveryError extends CouplerError {
  constructor(message: string, options?: CouplerErrorOptions) {
    super(ErrorCode.DISCOVERY_FAILED, message, options);
  }
}

/** A failure of the group (a peer lost, a protocol violation in a round). */
export class GroupError extends CouplerError {}

/** Evidence of cheating: the signed messages that prove it. */
export interface CheatingEvidence {
  /** What was observed, in words (no plaintext values). */
  readonly description: string;
  /** Signed statements (opaque bytes) that prove the claim to a third party. */
  readonly statements: readonly Uint8Array[];
}

/** A party was caught cheating: equivocation, commitment mismatch, tampering. `peers` are the culprits. */
export class CheatingDetectedError extends CouplerError {
  /** The evidence, with signed statements where the protocol has them. */
  readonly evidence: CheatingEvidence;
  constructor(
    code: typeof ErrorCode.EQUIVOCATION | typeof ErrorCode.COMMITMENT_MISMATCH | typeof ErrorCode.TAMPERING_DETECTED,
    message: string,
    evidence: CheatingEvidence,
    options?: CouplerErrorOptions,
  ) {
    super(code, message, options);
    this.evidence = evidence;
  }
}

/** An input value cannot be used: NaN, out of bound, shape mismatch, unsafe parameters. */
export class ValueError extends CouplerError {}

/** The vantage6 container contract or the node proxy failed. */
export class Vantage6Error extends CouplerError {}

/** Throws {@link AbortedError} if the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/** Describe a value's type for error messages without printing the value itself. */
export function describeType(value: unknown): string {
  try {
    if (value === null) return 'null';
    if (Array.isArray(value)) return `array(${value.length})`;
    if (ArrayBuffer.isView(value) && value instanceof Uint8Array) return `Uint8Array(${value.length})`;
    if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
    return typeof value;
  } catch {
    // A Proxy or getter threw while we looked: describe it without touching it again.
    return typeof value;
  }
}
