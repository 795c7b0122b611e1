/**
 * The shared round engine of the secure-sum family: option checks, local encoding (every bad
 * value is refused before anything leaves the process), the shape-and-parameters agreement round,
 * and byte codecs for ring and field vectors.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ErrorCode, GroupError, InvalidArgumentError, ValueError, describeType } from '../errors.js';
import { Group } from '../group/group.js';
import { echoBroadcast } from '../group/echo.js';
import { expectRecord, expectString } from '../wire/shape.js';
import {
  DEFAULT_BOUND,
  DEFAULT_FRACTIONAL_BITS,
  P127,
  checkParams,
  encodeField,
  encodeField61,
  encodeRing64,
  f61FromBytes,
  r64FromBytes,
  shapeDigest,
  type EncodingParams,
  type Field61Vector,
  type Modulus,
  type Ring64Vector,
  type Shape,
  type SumInput,
  type SumOutput,
} from './math/index.js';

/** Options every secure-sum protocol accepts. */
export interface SumOptions {
  /** Fractional bits f of the fixed-point encoding. Default 16. All parties must agree. */
  readonly fractionalBits?: number;
  /** Bound B: every input element satisfies |x| ≤ B. Default 2^31. All parties must agree. */
  readonly bound?: number | bigint;
  /** Deadline of each round, ms. Default: the group's round timeout. */
  readonly roundTimeoutMs?: number;
  /** Abort the run. */
  readonly signal?: AbortSignal;
  /**
   * Allow a run with only two parties. With two parties the sum reveals the other party's input
   * to each of them, so it is refused unless this is true.
   */
  readonly allowTwoParties?: boolean;
  /** Cap on the number of elements of the input. Default 2^24. */
  readonly maxElements?: number;
  /** Decimal places d of decimal-string/BigNumber inputs (summed exactly at scale 10^d). Default 4. */
  readonly decimalPlaces?: number;
}

/** The result of a secure sum. */
export interface SumResult {
  /** The sum, in the shape of the inputs (number, Float64Array, bigint, decimal string, record). */
  readonly sum: SumOutput;
  /** The protocol that produced it. */
  readonly protocol: string;
  /** Whose inputs the sum contains (all parties, except in the threshold sum after dropouts). */
  readonly contributors: readonly string[];
  /** Label of this run within the group (rounds are named after it). */
  readonly runId: string;
  /** Wall time of the run, ms. */
  readonly elapsedMs: number;
}

/** What {@link prepareRun} returns. */
export interface PreparedRun<V> {
  readonly runId: string;
  readonly shape: Shape;
  readonly params: EncodingParams;
  readonly encoded: V;
  readonly length: number;
  readonly startedAt: number;
}

/** Check the group argument. */
export function checkGroup(group: unknown): Group {
  if (!Group.isGroup(group)) throw new InvalidArgumentError(`"group" must be a Group from joinGroup(), got ${describeType(group)}`);
  return group;
}

/** Check the common options and the party count. */
export function checkSumOptions(group: Group, options: unknown): SumOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
  const o = options as SumOptions;
  if (o.roundTimeoutMs !== undefined && (!Number.isSafeInteger(o.roundTimeoutMs) || o.roundTimeoutMs <= 0)) {
    throw new InvalidArgumentError('"roundTimeoutMs" must be a positive integer');
  }
  const n = group.parties.length;
  if (n < 2) throw new ValueError(ErrorCode.TOO_FEW_PARTIES, 'a secure sum needs at least two parties');
  if (n === 2 && o.allowTwoParties !== true) {
    throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, 'with two parties the sum reveals the other input; pass allowTwoParties: true to run anyway');
  }
  return o;
}

/** Round options derived from sum options. */
export function roundOptions(o: SumOptions): { timeoutMs?: number; signal?: AbortSignal } {
  return { ...(o.roundTimeoutMs === undefined ? {} : { timeoutMs: o.roundTimeoutMs }), ...(o.signal === undefined ? {} : { signal: o.signal }) };
}

/**
 * Encode the input locally (refusing NaN, ±Infinity, |x| > B, bad shapes, unsafe parameters before
 * anything is sent), then agree with every party on the shape and the parameters by echo broadcast.
 *
 * @param extra - protocol parameters that must be equal at every party (e.g. k, t).
 * @throws {@link ValueError} `VALUE_INVALID`/`PARAMETERS_UNSAFE` locally; `SHAPE_MISMATCH` naming
 *   the parties that disagree.
 */
export async function prepareRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: 'ring64',
  extra?: Record<string, string | number>,
): Promise<PreparedRun<Ring64Vector>>;
export async function prepareRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: 'p127',
  extra?: Record<string, string | number>,
): Promise<PreparedRun<bigint[]>>;
export async function prepareRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: 'p61',
  extra?: Record<string, string | number>,
): Promise<PreparedRun<Field61Vector>>;
export async function prepareRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: Modulus,
  extra: Record<string, string | number> = {},
): Promise<PreparedRun<Ring64Vector | Field61Vector | bigint[]>> {
  const startedAt = Date.now();
  const params: EncodingParams = {
    parties: group.parties.length,
    modulus,
    fractionalBits: options.fractionalBits ?? DEFAULT_FRACTIONAL_BITS,
    bound: options.bound ?? DEFAULT_BOUND,
    ...(options.maxElements === undefined ? {} : { maxElements: options.maxElements }),
    ...(options.decimalPlaces === undefined ? {} : { decimalPlaces: options.decimalPlaces }),
  };
  const resolved = checkParams(params);
  let shape: Shape;
  let encoded: Ring64Vector | Field61Vector | bigint[];
  let length: number;
  if (modulus === 'ring64') {
    const e = encodeRing64(input, params);
    shape = e.shape;
    encoded = e.vector;
    length = e.vector.length / 2;
  } else if (modulus === 'p61') {
    const e = encodeField61(input, params);
    shape = e.shape;
    encoded = e.elements;
    length = e.elements.length / 2;
  } else {
    const e = encodeField(input, params);
    shape = e.shape;
    encoded = e.elements;
    length = e.elements.length;
  }
  const runId = group.nextRunId(protocol);
  const descriptor = JSON.stringify({ protocol, modulus, f: resolved.fractionalBits, d: resolved.decimalPlaces, B: String(resolved.bound), ...extra });
  const mine = { shape: shapeDigest(shape), params: descriptor };
  const all = await echoBroadcast(group, `${runId}/shape`, mine, roundOptions(options));
  const disagree: string[] = [];
  for (const [party, value] of all) {
    if (party === group.localId) continue;
    const ctx = { what: 'shape agreement', peer: party };
    const rec = expectRecord(value, ctx, ['shape', 'params']);
    const s = expectString(rec.shape, 'shape', ctx, 128);
    const p = expectString(rec.params, 'params', ctx, 1024);
    if (s !== mine.shape || p !== mine.params) disagree.push(party);
  }
  if (disagree.length > 0) {
    throw new ValueError(
      ErrorCode.SHAPE_MISMATCH,
      `parties ${disagree.map((d) => `"${d}"`).join(', ')} disagree with this party on the shape of the values or the protocol parameters`,
      { peers: disagree },
    );
  }
  return { runId, shape, params, encoded, length, startedAt };
}

/** Decode ring bytes received from `peer`, checking the exact length. */
export function ringFromBytes(bytes: Uint8Array, length: number, what: string, peer: string): Ring64Vector {
  if (bytes.length !== length * 8) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `${what} from "${peer}" has ${bytes.length} bytes, expected ${length * 8}`, { peer });
  }
  return r64FromBytes(bytes);
}

/** Field elements to bytes: 16 bytes little-endian each. */
export function fieldToBytes(elements: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(elements.length * 16);
  const view = new DataView(out.buffer);
  for (let i = 0; i < elements.length; i++) {
    const e = elements[i]!;
    view.setBigUint64(i * 16, e & 0xffffffffffffffffn, true);
    view.setBigUint64(i * 16 + 8, e >> 64n, true);
  }
  return out;
}

/** Bytes to field elements, checking the length and that every element is below p. */
export function fieldFromBytes(bytes: Uint8Array, length: number, what: string, peer: string): bigint[] {
  if (bytes.length !== length * 16) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `${what} from "${peer}" has ${bytes.length} bytes, expected ${length * 16}`, { peer });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<bigint>(length);
  for (let i = 0; i < length; i++) {
    const e = view.getBigUint64(i * 16, true) | (view.getBigUint64(i * 16 + 8, true) << 64n);
    if (e >= P127) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `${what} from "${peer}" holds a value outside the field`, { peer });
    out[i] = e;
  }
  return out;
}

/**
 * Bytes to GF(2^61 − 1) elements (8 bytes little-endian each), checking the length and that every
 * element is below p = 2^61 − 1.
 * @throws {@link GroupError} `PROTOCOL_VIOLATION` naming `peer`.
 */
export function field61FromBytes(bytes: Uint8Array, length: number, what: string, peer: string): Field61Vector {
  if (bytes.length !== length * 8) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `${what} from "${peer}" has ${bytes.length} bytes, expected ${length * 8}`, { peer });
  }
  try {
    return f61FromBytes(bytes);
  } catch {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `${what} from "${peer}" holds a value outside the field`, { peer });
  }
}

/** A 32-byte seed every party derives alike from the session and run (for share graphs). */
export function runSeed(group: Group, runId: string, label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`coupler/1 ${label}\0${group.sessionId}\0${runId}`).digest());
}

/** Require the explicit acknowledgement of an insecure baseline. */
export function requireInsecureAck(options: unknown, protocol: string): void {
  const ack = (options as { acknowledgeInsecure?: unknown } | undefined)?.acknowledgeInsecure;
  if (ack !== true) {
    throw new ValueError(
      ErrorCode.PARAMETERS_UNSAFE,
      `${protocol} is a baseline that is insecure under collusion (or gives no privacy at all); pass acknowledgeInsecure: true to run it`,
    );
  }
}
