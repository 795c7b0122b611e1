/**
 * The shared round engine of the secure-sum family: option checks, local encoding (every bad
 * value is refused before anything leaves the process), the shape-and-parameters agreement round,
 * and byte codecs for ring and field vectors.
 *
 * @module
 */
import { types } from 'node:util';
import { CheatingDetectedError, CouplerError, ErrorCode, GroupError, InvalidArgumentError, TimeoutError, ValueError, describeType } from '../errors.js';
import { Group, type RunProgress } from '../group/group.js';
import { echoBroadcastAttached } from '../group/echo.js';
import { MIN_OPENING_BYTES_PER_SECOND, commitment, deferred, timeUntil } from '../group/commit.js';
import { MAX_TIMER_MS } from '../channel/channel.js';
import { bytesEqual } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { random32 } from '../crypto/random.js';
import { encodeMessage, type PlainData } from '../wire/codec.js';
import { expectBytes, expectRecord, expectString } from '../wire/shape.js';
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
  type SumInputLike,
  type SumOutput,
} from './math/index.js';
import { _trustedParams } from './math/fixedpoint.js';

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
  /**
   * Progress of this run: on each phase change and every `progressIntervalMs` (the group's,
   * default 1000 ms) while it runs. Also reported to the group's `onProgress`. A callback that
   * throws is ignored.
   */
  readonly onProgress?: (progress: RunProgress) => void;
  /**
   * What this sum is, the same at every party (e.g. `'mean-age'`): 1 to 64 printable ASCII
   * characters, stated in the run's parameters and compared like them. Runs are matched by call
   * order at each party, so a call that meets another call's run — a sum one party started from a
   * later asynchronous step while the others still wait in a run it refused (review16 R16-3) —
   * would add different statistics together; with a label it aborts with `SHAPE_MISMATCH` naming
   * the party whose label differs instead. Public to the group: never put data in it.
   */
  readonly label?: string;
}

/**
 * The bound as the run's parameters state it: an integer as its exact decimal digits whatever its
 * type (`String(1e21)` is "1e+21", `String(10n ** 21n)` all 22 digits: one bound written two ways
 * was a parameter mismatch between parties that agreed), any other number as `String` gives it
 * (the shortest text of that double, the same at every party).
 */
function boundText(bound: number | bigint): string {
  return typeof bound === 'number' && Number.isInteger(bound) ? BigInt(bound).toString() : String(bound);
}

/** A {@link SumOptions.label}: 1 to 64 printable ASCII characters. */
const LABEL_PATTERN = /^[\x20-\x7e]{1,64}$/;

/**
 * Reports one run's progress (see {@link SumOptions.onProgress}); a no-op without listeners.
 * @internal
 */
export class ProgressReporter {
  readonly #group: Group;
  readonly #listeners: ((p: RunProgress) => void)[];
  readonly #base: { sent: number; received: number };
  readonly #startedAt: number;
  #phase: RunProgress['phase'] = 'agree';
  #timer: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(group: Group, readonly protocol: string, readonly runId: string, options: SumOptions, startedAt: number) {
    this.#group = group;
    this.#startedAt = startedAt;
    const hook = group._progress;
    this.#listeners = [options.onProgress, hook.hook].filter((f): f is (p: RunProgress) => void => typeof f === 'function');
    this.#base = this.#listeners.length === 0 ? { sent: 0, received: 0 } : ProgressReporter.#totals(group);
    if (this.#listeners.length > 0) {
      this.#timer = setInterval(() => this.#emit(), hook.intervalMs);
      this.#timer.unref();
      this.#emit();
    }
  }

  static #totals(group: Group): { sent: number; received: number } {
    let sent = 0;
    let received = 0;
    for (const s of group.stats()) {
      sent += s.bytesSent;
      received += s.bytesReceived;
    }
    return { sent, received };
  }

  #emit(): void {
    const t = ProgressReporter.#totals(this.#group);
    const p: RunProgress = {
      runId: this.runId,
      protocol: this.protocol,
      phase: this.#phase,
      bytesSent: t.sent - this.#base.sent,
      bytesReceived: t.received - this.#base.received,
      elapsedMs: Date.now() - this.#startedAt,
    };
    for (const l of this.#listeners) {
      try {
        l(p);
      } catch {
        /* a progress callback must not break the run */
      }
    }
  }

  /** Enter a phase (reported at once). */
  phase(phase: 'share' | 'open'): void {
    if (this.#listeners.length === 0 || this.#phase === phase || this.#timer === undefined) return;
    this.#phase = phase;
    this.#emit();
  }

  /**
   * The run ended (`done` or `failed`): the last report; stops the timer. A failure is also told to
   * every peer at once (the group's abort notice for this run, with whom `error` blames). The
   * first call also releases what the mailboxes hold for the run (`Group._runEnded`).
   */
  end(phase: 'done' | 'failed', error?: unknown): void {
    if (!this.#ended) {
      this.#ended = true;
      if (phase === 'failed') this.#group._runFailed(this.runId, error);
      this.#group._runEnded(this.runId);
    }
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#phase = phase;
    this.#emit();
  }

  /** Run `body`, then report `done`, or `failed` if it throws. */
  async around<T>(body: () => Promise<T>): Promise<T> {
    try {
      const out = await body();
      this.end('done');
      return out;
    } catch (err) {
      this.end('failed', err);
      throw err;
    }
  }
}

/**
 * The result of a secure sum. `T` is the type of the sum: the sum functions give
 * `SumResult<SumOutputOf<I>>` for an input of type `I` (see {@link SumOutputOf}).
 */
export interface SumResult<T = SumOutput> {
  /** The sum, in the shape of the inputs (number, Float64Array, bigint, decimal string or BigNumber, record). */
  readonly sum: T;
  /** The protocol that produced it. */
  readonly protocol: string;
  /** Whose inputs the sum contains (all parties, except in the threshold sum after dropouts). */
  readonly contributors: readonly string[];
  /** Label of this run within the group (rounds are named after it). */
  readonly runId: string;
  /**
   * The run seed, hex: a coin toss of every party's committed random contribution (see
   * the shape round of every run); it fixed the share graph of `dkSecureSum`. Identical at every
   * party; for audit and reproducing that choice. thresholdSum tosses no coin (it draws nothing at
   * random beyond each party's own shares): its seed is a digest of the run and its agreed dealer
   * set, identical at every party that returns.
   */
  readonly seed: string;
  /** Wall time of the run, ms. */
  readonly elapsedMs: number;
}

/** What {@link prepareRun} returns: the locally encoded run, agreed, with its seed. */
export interface PreparedRun<V> extends Omit<LocalRun<V>, 'descriptor'> {
  /** The coin-tossed run seed (32 bytes), identical at every party; see {@link prepareRun}. */
  readonly seed: Uint8Array;
  /**
   * What each party stated as its hint in the echoed statement (see {@link agreeRun}), undefined
   * for a party that stated none: the same at every honest party.
   */
  readonly hints: ReadonlyMap<string, PlainData | undefined>;
}

/** Options of {@link checkSumInput}: the encoding options of the sum the input is meant for. */
export interface CheckSumInputOptions extends Pick<SumOptions, 'fractionalBits' | 'bound' | 'maxElements' | 'decimalPlaces'> {
  /** The number of parties (default 2): with it, the parameters are checked for that group size too. */
  readonly parties?: number;
  /** The sum's modulus: `ring64` (secureSum, dkSecureSum, the baselines; default) or `field` (thresholdSum). */
  readonly modulus?: 'ring64' | 'field';
}

/**
 * Check a value against the encoding a sum will use, without a group: every element a number,
 * bigint or decimal of the accepted kinds, no NaN or ±Infinity, |x| ≤ the bound, decimals within
 * their decimal places, a shape the sums accept, and parameters that are safe for `parties`. What
 * a sum would refuse at this party before sending anything — so an algorithm can refuse bad data
 * before it joins the group, and the others are not kept waiting.
 *
 * @param input - the value this party will contribute.
 * @returns its shape (field names, element types and lengths; never values).
 * @throws {@link ValueError} `VALUE_INVALID` naming the field and element (never the value), or
 *   `PARAMETERS_UNSAFE` for parameters the ring or field cannot hold.
 * @example
 * const mine = { total: values.reduce((a, x) => a + x, 0), count: BigInt(values.length) };
 * checkSumInput(mine, { bound: 1e6 }); // throws before joining if a value is NaN or too large
 */
export function checkSumInput<I extends SumInputLike<I>>(input: I, options: CheckSumInputOptions = {}): Shape {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
  // As the sums' options (checkSumOptions): no Proxy, and a getter that throws is a typed error.
  if (types.isProxy(options)) throw new InvalidArgumentError('"options" must be a plain object, not a Proxy');
  let params: EncodingParams;
  try {
    params = encodingParams(options.parties ?? 2, options.modulus === 'field' ? 'p127' : 'ring64', options);
  } catch (err) {
    throw new InvalidArgumentError('"options" could not be read (a getter threw)', { cause: err });
  }
  checkParams(params);
  return encodeLocal(input, params, params.modulus).shape;
}

/**
 * The encoding parameters of a sum from its options. Options of plain numbers (the usual case) give
 * the same frozen object on every call with the same values, which `checkParams` checks once for
 * all runs (see `_trustedParams`); anything else a fresh object, checked every time as before.
 */
function encodingParams(parties: number, modulus: Modulus, options: Pick<SumOptions, 'fractionalBits' | 'bound' | 'maxElements' | 'decimalPlaces'>): EncodingParams {
  const f = options.fractionalBits ?? DEFAULT_FRACTIONAL_BITS;
  const B = options.bound ?? DEFAULT_BOUND;
  const maxElements = options.maxElements;
  const d = options.decimalPlaces;
  const params = {
    parties,
    modulus,
    fractionalBits: f,
    bound: B,
    ...(maxElements === undefined ? {} : { maxElements }),
    ...(d === undefined ? {} : { decimalPlaces: d }),
  };
  if (!(typeof parties === 'number' && plainOption(f) && plainOption(B) && plainOption(maxElements) && plainOption(d))) return params;
  // typeof and String tell apart every value checkParams treats differently (String(-0) is "0",
  // which it treats as 0).
  const key = `${parties} ${String(modulus)} ${typeof f} ${String(f)} ${typeof B} ${String(B)} ${typeof maxElements} ${String(maxElements)} ${typeof d} ${String(d)}`;
  let known = PARAMS.get(key);
  if (known === undefined) {
    known = _trustedParams(params);
    if (PARAMS.size >= PARAMS_MAX) PARAMS.clear();
    PARAMS.set(key, known);
  }
  return known;
}

/** An option value whose typeof and String identify it: undefined, a number or a bigint. */
function plainOption(v: unknown): boolean {
  return v === undefined || typeof v === 'number' || typeof v === 'bigint';
}

/** Encoding parameters by their values (see {@link encodingParams}); bounded like the encoder's contexts. */
const PARAMS = new Map<string, EncodingParams>();
const PARAMS_MAX = 64;

/** Check the group argument. */
export function checkGroup(group: unknown): Group {
  if (!Group.isGroup(group)) throw new InvalidArgumentError(`"group" must be a Group from joinGroup(), got ${describeType(group)}`);
  return group;
}

/** Check the common options and the party count. */
export function checkSumOptions(group: Group, options: unknown): SumOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`);
  // A Proxy runs code on every read (as the encoding's parameters refuse it); a getter that throws
  // let its foreign error out untyped (review16 R16-4). Every common option is read once here.
  if (types.isProxy(options)) throw new InvalidArgumentError('"options" must be a plain object, not a Proxy');
  const o = options as SumOptions;
  let signal: unknown;
  let label: unknown;
  try {
    void o.roundTimeoutMs;
    void o.allowTwoParties;
    void o.fractionalBits;
    void o.bound;
    void o.maxElements;
    void o.decimalPlaces;
    void o.onProgress;
    label = o.label;
    signal = o.signal;
  } catch (err) {
    throw new InvalidArgumentError('"options" could not be read (a getter threw)', { cause: err });
  }
  // Not an AbortSignal: it threw a TypeError from the run's first wait, after the statement went
  // out (review16 R16-4).
  if (signal !== undefined && !isAbortSignal(signal)) throw new InvalidArgumentError(`"signal" must be an AbortSignal, got ${describeType(signal)}`);
  if (label !== undefined && (typeof label !== 'string' || !LABEL_PATTERN.test(label))) {
    throw new InvalidArgumentError(`"label" must be 1 to 64 printable ASCII characters, got ${typeof label === 'string' ? `a string of ${label.length}` : describeType(label)}`);
  }
  // At most the timer's limit, as every wait checks: a longer one was refused only by the first
  // wait of the run, after the statement had gone out (review16 R16-2).
  if (o.roundTimeoutMs !== undefined && (!Number.isSafeInteger(o.roundTimeoutMs) || o.roundTimeoutMs <= 0 || o.roundTimeoutMs > MAX_TIMER_MS)) {
    throw new InvalidArgumentError(`"roundTimeoutMs" must be a positive integer of at most ${MAX_TIMER_MS} ms`);
  }
  const n = group.parties.length;
  if (n < 2) throw new ValueError(ErrorCode.TOO_FEW_PARTIES, 'a secure sum needs at least two parties');
  if (n === 2 && o.allowTwoParties !== true) {
    throw new ValueError(ErrorCode.PARAMETERS_UNSAFE, 'with two parties the sum reveals the other input; pass allowTwoParties: true to run anyway');
  }
  return o;
}

/**
 * `checks()` — a protocol's own option checks, before its run takes an id — with a refusal noted
 * as a refused input is (see `encodeRun`): a sum started in the same turn must not take the
 * refused call's run id and meet the others' refused call (review16 R16-3; secureSum did this for
 * its options, the other protocols did not). A getter that throws is `INVALID_ARGUMENT`.
 * @internal
 */
export function refusedBeforeRun<T>(group: Group, protocol: string, checks: () => T): T {
  try {
    return checks();
  } catch (err) {
    group._noteRefusedRun(protocol, protocol === 'threshold');
    if (err instanceof CouplerError) throw err;
    throw new InvalidArgumentError('"options" could not be read (a getter threw)', { cause: err });
  }
}

/** An AbortSignal, or something that behaves as one where the rounds use it. */
function isAbortSignal(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown };
  return typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function' && typeof s.removeEventListener === 'function';
}

/** Round options derived from sum options. */
export function roundOptions(o: SumOptions): { timeoutMs?: number; signal?: AbortSignal } {
  return { ...(o.roundTimeoutMs === undefined ? {} : { timeoutMs: o.roundTimeoutMs }), ...(o.signal === undefined ? {} : { signal: o.signal }) };
}

/**
 * Encode the input locally (refusing NaN, ±Infinity, |x| > B, bad shapes, unsafe parameters before
 * anything is sent), then agree with every party on the shape and the parameters by echo broadcast,
 * and toss the run seed in the same two message rounds.
 *
 * The run seed decides who shares with whom in `dkSecureSum` (and, before the masked aggregated
 * opening, which party checked which aggregator), so no party may choose it. It used to be derived from the
 * session id, which one party (the task creator) picks: grinding session ids put two chosen
 * colluders into one aggregator pair, or around a chosen victim in the share graph, in a few
 * thousand tries. Now every party commits to 32 random bytes in its echoed shape statement
 * (`SHA-256(… session, round, party ‖ coin)`: hiding, as the coin is uniform, and binding) and
 * opens it attached to its echo digest, i.e. only after it holds every commitment; the seed is
 * SHA-256 over all coins in canonical party order. One honest coin makes the seed uniform. A party
 * that opens something else is named (`COMMITMENT_MISMATCH`); a party that sees the others'
 * coins first can only withhold its own, which aborts the run naming it (a timeout) — the one bit
 * of influence no coin toss without an honest majority can take away.
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
  hint?: PlainData,
): Promise<PreparedRun<Ring64Vector>>;
export async function prepareRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: 'p127',
  extra?: Record<string, string | number>,
  hint?: PlainData,
): Promise<PreparedRun<bigint[]>>;
export async function prepareRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: 'p61',
  extra?: Record<string, string | number>,
  hint?: PlainData,
): Promise<PreparedRun<Field61Vector>>;
export async function prepareRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: Modulus,
  extra: Record<string, string | number> = {},
  hint?: PlainData,
): Promise<PreparedRun<Ring64Vector | Field61Vector | bigint[]>> {
  return agreeRun(group, encodeRun(group, protocol, input, options, modulus as 'ring64', extra), options, hint);
}

/** A run encoded locally, before the agreement round (see {@link encodeRun}). */
export interface LocalRun<V> {
  readonly runId: string;
  readonly shape: Shape;
  readonly params: EncodingParams;
  readonly encoded: V;
  readonly length: number;
  readonly startedAt: number;
  /** The parameters every party must state identically (protocol, modulus, f, d, B, extras). */
  readonly descriptor: string;
  /** Progress reports of this run (started in phase `agree`). */
  readonly progress: ProgressReporter;
}

/**
 * The local half of {@link prepareRun}: check the parameters, encode the input (refusing NaN,
 * ±Infinity, |x| > B, bad shapes, unsafe parameters before anything is sent) and take the run id.
 * Nothing is sent. A protocol may send input-independent messages (random shares) after this and
 * before {@link agreeRun} completes; see `secureSum`.
 */
export function encodeRun(group: Group, protocol: string, input: SumInput, options: SumOptions, modulus: 'ring64', extra?: Record<string, string | number>): LocalRun<Ring64Vector>;
export function encodeRun(group: Group, protocol: string, input: SumInput, options: SumOptions, modulus: 'p127', extra?: Record<string, string | number>): LocalRun<bigint[]>;
export function encodeRun(group: Group, protocol: string, input: SumInput, options: SumOptions, modulus: 'p61', extra?: Record<string, string | number>): LocalRun<Field61Vector>;
export function encodeRun(
  group: Group,
  protocol: string,
  input: SumInput,
  options: SumOptions,
  modulus: Modulus,
  extra: Record<string, string | number> = {},
): LocalRun<Ring64Vector | Field61Vector | bigint[]> {
  const startedAt = Date.now();
  const params = encodingParams(group.parties.length, modulus, options);
  let resolved: ReturnType<typeof checkParams>;
  let local: ReturnType<typeof encodeLocal>;
  try {
    resolved = checkParams(params);
    local = encodeLocal(input, params, modulus);
  } catch (err) {
    // This party refuses its own input (NaN, |x| > B, a bad shape, unsafe parameters): nothing is
    // sent and the group stays in step (the caller may retry with good data, alone or with the
    // others). If it closes the
    // group instead, the others learn why (an abort message with this code) rather than seeing a
    // plain close.
    if (err instanceof CouplerError) group._noteLocalFailure(err.code);
    // No run id is taken; but if the others ran this call, the next run here skips its id (see
    // Group._noteRefusedRun: review16 R16-1, R16-3). thresholdSum tolerates dropouts: the others
    // may complete its run without this party, and then send no abort notice (R16-5).
    group._noteRefusedRun(protocol, protocol === 'threshold');
    throw err;
  }
  const { shape, encoded, length } = local;
  const runId = group.nextRunId(protocol);
  // The label (checked by checkSumOptions) only when given: parties that use none state the same
  // parameters as before it existed.
  const label = options.label === undefined ? {} : { l: options.label };
  const descriptor = JSON.stringify({ rev: PROTOCOL_REVISION, protocol, modulus, f: resolved.fractionalBits, d: resolved.decimalPlaces, B: boundText(resolved.bound), ...label, ...extra });
  const progress = new ProgressReporter(group, PROTOCOL_NAMES[protocol] ?? protocol, runId, options, startedAt);
  return { runId, shape, params, encoded, length, startedAt, descriptor, progress };
}

/**
 * Revision of the sum protocols' messages, stated in every run's parameters: parties of releases
 * whose messages differ (2: secureSum's fused two-round form, with its commitment in the shape
 * statement; 3: thresholdSum's "went on without you" note in place of a partial sum; 4: thresholdSum's
 * partial sums committed in the signed confirmations and opened with the confirmations counted;
 * 5: thresholdSum's note also in place of a dealer report and of deal piece 0, to a party whose statement came too late) then fail with `SHAPE_MISMATCH` naming the party of the other release (as any
 * parameter mismatch does), not with a malformed statement, because the parameters are compared
 * before the rest of a statement is parsed. (Against a release before revision 2, which states no
 * revision and rejects the fused statement's unknown field, this side reports the mismatch; that
 * side names this one.)
 */
export const PROTOCOL_REVISION = 5;

/** Names of the run descriptor's fields (see {@link encodeRun}), as the options call them. */
const DESCRIPTOR_NAMES: Readonly<Record<string, string>> = { f: 'fractionalBits', d: 'decimalPlaces', B: 'bound', rev: 'protocol revision', l: 'label' };

/**
 * Why a party's shape statement differs from this party's, for the SHAPE_MISMATCH message: the
 * parameters that differ with both values (they are public), or this party's shape (public too;
 * the other party sends only its digest). Never a value of the input.
 */
function mismatchReason(party: string, myShape: Shape | undefined, mine: string, theirs: string): string {
  const parts: string[] = [];
  if (myShape !== undefined) {
    const fields = myShape.entries.map((e) => `${e.name === '' ? '' : `${e.name}: `}${e.type} ${e.kind}${e.kind === 'scalar' ? '' : ` of ${e.length}`}`);
    parts.push(`the shape of the values differs (this party: ${myShape.kind === 'record' ? `{${fields.join(', ')}}` : fields[0]}; party "${party}" sends only a digest of its shape)`);
  }
  if (mine !== theirs) {
    let a: Record<string, unknown> = {};
    let b: Record<string, unknown> = {};
    try {
      a = JSON.parse(mine) as Record<string, unknown>;
      const t = JSON.parse(theirs) as unknown;
      if (typeof t === 'object' && t !== null && !Array.isArray(t)) b = t as Record<string, unknown>;
    } catch {
      b = {};
    }
    // The peer chose the keys: read own properties only (a key such as "toString" must not find
    // Object.prototype's member, whose JSON is undefined — that threw a TypeError out of the
    // agreement at every honest party, naming nobody), and never let the text itself throw.
    const own = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
    const json = (v: unknown): string | undefined => (v === undefined ? undefined : (JSON.stringify(v) as string | undefined));
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => json(own(a, k)) !== json(own(b, k)));
    const shown = (v: unknown): string => json(v)?.slice(0, 40) ?? 'none';
    const named = (k: string): string => (Object.hasOwn(DESCRIPTOR_NAMES, k) ? DESCRIPTOR_NAMES[k]! : JSON.stringify(k.slice(0, 40)));
    parts.push(
      keys.length === 0
        ? 'the protocol parameters differ'
        : keys
            .slice(0, 6)
            .map((k) => `${named(k)} is ${shown(own(a, k))} here and ${shown(own(b, k))} at party "${party}"`)
            .join(', '),
    );
  }
  return parts.join(', and ');
}

/**
 * A commitment that rides in the echoed statement of {@link agreeRun}, opened with the agreement's
 * second round (the fused two-round secureSum): `commitment` goes into this party's statement
 * (echo-checked like the shape); `opening` is attached to this party's round-2 digest only when
 * every statement it received states its own shape and parameters — a party that sees a mismatch
 * sends its digest without the opening and then fails with `SHAPE_MISMATCH` like everyone else.
 * The opening may reach the others in a run that then aborts at the echo check (as with
 * `commitThenOpen`): it must be a value this party may reveal once the shapes agree.
 * @internal
 */
export interface FusedCommitment {
  /** 32 bytes: `commitment(session, epoch, round, party, nonce, value)` for the run's `round`. */
  readonly commitment: Uint8Array;
  /** The round name the commitment binds. */
  readonly round: string;
  /** The committed value and its 32-byte nonce. */
  readonly value: Uint8Array;
  readonly nonce: Uint8Array;
}

/** What {@link agreeRun} returns with a {@link FusedCommitment}: every party's checked opening. */
export interface FusedPreparedRun<V> extends PreparedRun<V> {
  /** Every party's opened value (this party's included), each checked against its echo-checked commitment. */
  readonly opened: ReadonlyMap<string, Uint8Array>;
}

/**
 * The agreement half of {@link prepareRun}: the echoed shape-and-parameters statement with the
 * coin toss of the run seed (two message rounds). `hint`: a small value this party states
 * alongside, not compared (e.g. whether all its channels run through the relay); every party's
 * hint comes back in {@link PreparedRun.hints}, echo-checked like the rest of the statement.
 * `fused`: a commitment stated alongside and opened with the second round (see
 * {@link FusedCommitment}); every party of the run must pass one (it follows from the agreed
 * parameters), or none.
 */
export async function agreeRun<V>(group: Group, local: LocalRun<V>, options: SumOptions, hint?: PlainData): Promise<PreparedRun<V>>;
export async function agreeRun<V>(group: Group, local: LocalRun<V>, options: SumOptions, hint: PlainData | undefined, fused: FusedCommitment): Promise<FusedPreparedRun<V>>;
export async function agreeRun<V>(group: Group, local: LocalRun<V>, options: SumOptions, hint?: PlainData, fused?: FusedCommitment): Promise<PreparedRun<V>> {
  try {
    return await agree(group, local, options, hint, fused);
  } catch (err) {
    local.progress.end('failed', err);
    throw err;
  }
}

/** One peer's parsed statement of the agreement round. */
interface Statement {
  readonly shape: string;
  readonly params: string;
  readonly c: Uint8Array;
  readonly h: PlainData | undefined;
  readonly t: Uint8Array | undefined;
}

/**
 * The `params` a statement states, if it is a record with a string of at most 1 024 characters there.
 * @internal also thresholdSum's shape exchange: parameters are compared before the rest is parsed.
 */
export function statedParams(value: PlainData): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return undefined;
  const p = (value as Record<string, PlainData>).params;
  return typeof p === 'string' && p.length <= 1024 ? p : undefined;
}

function parseStatement(value: PlainData, party: string): Statement {
  const ctx = { what: 'shape agreement', peer: party };
  const rec = expectRecord(value, ctx, ['shape', 'params', 'c', 'h', 't']);
  const t = rec.t === undefined ? undefined : expectBytes(rec.t, 't', ctx, 32);
  return { shape: expectString(rec.shape, 'shape', ctx, 128), params: expectString(rec.params, 'params', ctx, 1024), c: expectBytes(rec.c, 'c', ctx, 32), h: rec.h, t };
}

async function agree<V>(group: Group, local: LocalRun<V>, options: SumOptions, hint: PlainData | undefined, fused: FusedCommitment | undefined): Promise<PreparedRun<V> | FusedPreparedRun<V>> {
  const { runId, shape, params, encoded, length, startedAt, descriptor, progress } = local;
  const coin = random32();
  const round = `${runId}/shape`;
  const mine = {
    shape: shapeDigest(shape),
    params: descriptor,
    c: coinCommitment(group, round, group.localId, coin),
    ...(hint === undefined ? {} : { h: hint }),
    ...(fused === undefined ? {} : { t: fused.commitment }),
  };
  /** The parties whose statement differs from this party's, with why (public parameters only). */
  // The fused form compares before its opening leaves and again after the echo, over the same
  // values (the echo returns the map it gave `attach`): parsed once.
  let compared: { of: ReadonlyMap<string, PlainData>; result: { disagree: string[]; why: string[]; statements: Map<string, Statement> } } | undefined;
  const compare = (all: ReadonlyMap<string, PlainData>): { disagree: string[]; why: string[]; statements: Map<string, Statement> } => {
    if (compared?.of === all) return compared.result;
    const disagree: string[] = [];
    const why: string[] = [];
    const statements = new Map<string, Statement>();
    for (const [party, value] of all) {
      if (party === group.localId) continue;
      // Parameters first: another release states other ones (its revision is among them) and may
      // send fields this one does not know — a mismatch, not a malformed statement to name it for.
      const params = statedParams(value);
      if (params !== undefined && params !== mine.params) {
        disagree.push(party);
        why.push(mismatchReason(party, undefined, mine.params, params));
        continue;
      }
      const st = parseStatement(value, party);
      statements.set(party, st);
      if (st.shape !== mine.shape || st.params !== mine.params) {
        disagree.push(party);
        why.push(mismatchReason(party, st.shape !== mine.shape ? shape : undefined, mine.params, st.params));
      }
    }
    compared = { of: all, result: { disagree, why, statements } };
    return compared.result;
  };
  const { values: all, attached } = await echoBroadcastAttached(
    group,
    round,
    mine,
    (values): PlainData => {
      // The fused opening leaves only when every statement received states this party's shape and
      // parameters. A malformed statement withholds it too, without failing here: the digest still
      // goes out (a party that sent none would be named by the others' deadlines), and the check
      // after the echo names the sender.
      if (fused === undefined) return { coin };
      let agreed = false;
      try {
        agreed = compare(values).disagree.length === 0;
      } catch {
        agreed = false;
      }
      return agreed ? { coin, o: { v: fused.value, n: fused.nonce } } : { coin };
    },
    roundOptions(options),
  );
  const { disagree, why, statements } = compare(all);
  const hints = new Map<string, PlainData | undefined>([[group.localId, hint]]);
  for (const [party, st] of statements) hints.set(party, st.h);
  if (disagree.length > 0) {
    const who = disagree.length === 1 ? `party "${disagree[0]}" disagrees` : `parties ${disagree.map((d) => `"${d}"`).join(', ')} disagree`;
    throw new ValueError(ErrorCode.SHAPE_MISMATCH, `${who} with this party: ${why.slice(0, 8).join('; ')}`, { peers: disagree });
  }
  // Same shape and parameters: every party took the same path (fused or not), so a commitment
  // present or missing against this party's own is a violation by its sender.
  for (const [party, st] of statements) {
    if ((st.t === undefined) !== (fused === undefined)) {
      throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `party "${party}" ${fused === undefined ? 'stated' : 'did not state'} a commitment in the shape agreement of round "${round}"`, { peer: party });
    }
  }
  // SHA-256 over the prefix and every coin in canonical party order.
  const seed: Uint8Array[] = [encodeMessage(['coupler/1 run seed', group.sessionId, group.epoch, runId])];
  const opened = new Map<string, Uint8Array>();
  for (const party of group.parties) {
    if (party === group.localId) {
      seed.push(coin);
      if (fused !== undefined) opened.set(party, fused.value);
      continue;
    }
    const ctx = { what: `run-seed opening of round "${round}"`, peer: party };
    const opening = attached.get(party);
    if (opening === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `party "${party}" sent no run-seed opening`, { peer: party });
    const rec = expectRecord(opening, ctx, fused === undefined ? ['coin'] : ['coin', 'o']);
    const theirs = expectBytes(rec.coin, 'coin', ctx, 32);
    if (!bytesEqual(coinCommitment(group, round, party, theirs), statements.get(party)!.c)) {
      throw new CheatingDetectedError(
        ErrorCode.COMMITMENT_MISMATCH,
        `party "${party}" opened a run-seed contribution that does not match its commitment`,
        { description: 'the run-seed opening does not hash to the echo-checked commitment', statements: [] },
        { peer: party },
      );
    }
    seed.push(theirs);
    if (fused !== undefined) opened.set(party, checkFusedOpening(group, fused.round, party, rec.o, statements.get(party)!.t!));
  }
  group._noteLocalFailure(undefined);
  const run = { runId, shape, params, encoded, length, startedAt, seed: sha256(...seed), progress, hints };
  return fused === undefined ? run : { ...run, opened };
}

/** A fused opening checked against `party`'s echo-checked commitment `t` (see {@link FusedCommitment}). */
function checkFusedOpening(group: Group, round: string, party: string, o: PlainData | undefined, t: Uint8Array): Uint8Array {
  const ctx = { what: `opening of round "${round}"`, peer: party };
  // Every statement agreed (checked by the caller), and the echo check passed, so this party's
  // view is the sender's: an honest sender attached its opening.
  if (o === undefined) throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `party "${party}" sent no opening in round "${round}"`, { peer: party });
  const rec = expectRecord(o, ctx, ['v', 'n']);
  const v = expectBytes(rec.v, 'v', ctx);
  const n = expectBytes(rec.n, 'n', ctx, 32);
  if (!bytesEqual(commitment(group.sessionId, group.epoch, round, party, n, v), t)) {
    throw new CheatingDetectedError(
      ErrorCode.COMMITMENT_MISMATCH,
      `party "${party}" opened a value that does not match its commitment in round "${round}"`,
      { description: 'the opening does not hash to the echo-checked commitment', statements: [] },
      { peer: party },
    );
  }
  return v;
}

/** The commitment to a run-seed contribution (the 32 uniform bytes hide themselves: no nonce). */
function coinCommitment(group: Group, round: string, party: string, coin: Uint8Array): Uint8Array {
  return commitment(group.sessionId, group.epoch, `${round}/coin`, party, coin, new Uint8Array(0));
}

/** The protocol names runs report, by the run-id prefix each protocol uses. */
const PROTOCOL_NAMES: Record<string, string> = { sum: 'secureSum', dk: 'dkSecureSum', threshold: 'thresholdSum', plain: 'plainSum', ring: 'ringSecureSum' };

/** Encode this party's input for the modulus (local: nothing is sent). */
function encodeLocal(input: SumInput, params: EncodingParams, modulus: Modulus): { shape: Shape; encoded: Ring64Vector | Field61Vector | bigint[]; length: number } {
  if (modulus === 'ring64') {
    const e = encodeRing64(input, params);
    return { shape: e.shape, encoded: e.vector, length: e.vector.length / 2 };
  }
  if (modulus === 'p61') {
    const e = encodeField61(input, params);
    return { shape: e.shape, encoded: e.elements, length: e.elements.length / 2 };
  }
  const e = encodeField(input, params);
  return { shape: e.shape, encoded: e.elements, length: e.elements.length };
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

/**
 * A 32-byte seed for one use (`label`, e.g. the dk share graph), derived from the coin-tossed run
 * seed of {@link prepareRun}: every party derives the same, and no party chose it.
 */
export function seedFor(runSeed: Uint8Array, label: string): Uint8Array {
  return sha256(`coupler/1 ${label}\0`, runSeed);
}

/** Hex of a run seed, as reported in {@link SumResult.seed}. */
export function seedHex(seed: Uint8Array): string {
  return Buffer.from(seed).toString('hex');
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

/**
 * Elements per piece when a long vector is exchanged in pieces (2^17: 1 MiB of 8-byte elements);
 * vectors of at most this many elements go in one message.
 */
export const PIECE_ELEMENTS = 1 << 17;

/** Pieces a party may send ahead of the ones it has received from everyone (flow control). */
const PIECE_WINDOW = 1;

/** The number of pieces of a vector of `length` elements ({@link PIECE_ELEMENTS} each, the last shorter). */
export function pieceCount(length: number): number {
  return Math.ceil(length / PIECE_ELEMENTS);
}

/** One exchange of pieces ({@link exchangePieces}). */
export interface PiecesExchange {
  /** Round name; piece i travels in sub-round `<round>/p<i>`. */
  readonly round: string;
  /** Pieces each party sends and receives. */
  readonly count: number;
  /** The peers whose pieces this party receives. */
  readonly from: readonly string[];
  /** Bytes of all the pieces one peer sends this party (sets the exchange's one deadline). */
  readonly bytesPerPeer: number;
  /**
   * Send this party's piece i (to everyone it goes to). Must encode (copy) what it sends before it
   * returns its promise, as `group.send` and `group.sendToAll` do: once it has returned, `onPiece`
   * may overwrite the data piece i was taken from.
   */
  send(i: number): Promise<void>;
  /**
   * Piece i from every peer (that is not dropped), in order — all of piece i before any of piece
   * i + 1 — and only after this party's own piece i was sent. Unchecked: the messages as received
   * (byte strings in them are views on the received bytes); see {@link pieceBytes}. Tolerant
   * exchanges: it may return peers whose later pieces are not to be waited for (their message
   * said they send none: thresholdSum's "went on without you" note), dropped as a late peer is.
   */
  onPiece(i: number, got: ReadonlyMap<string, PlainData>): void | readonly string[];
  /**
   * Tolerate peers that fail (thresholdSum): a peer whose piece i does not arrive within the round
   * deadline (or the exchange's, if that comes first), or whose channel is lost, is dropped — its
   * later pieces are not waited for and `onDrop` is told — and the exchange's deadline moves by
   * the time spent waiting for it, so the others keep their time. The exchange fails only when
   * fewer than `minimum` peers remain. Without it, any failure fails the exchange.
   */
  readonly tolerant?: { readonly minimum: number; onDrop(peer: string, i: number): void };
}

/**
 * Exchange long vectors in pieces, so that a party holds at most a few pieces of each peer's vector
 * at once (memory ≈ its own vectors plus O(pieces in flight), not (n − 1) whole vectors), added up
 * or checked as they arrive. Flow control: a party sends piece i only once it has received piece
 * i − 1 from every peer in `from`, so pieces in flight stay bounded whatever the speed of each
 * party (and no party can run ahead: with everyone sending piece 0 at once, each piece i − 1
 * arrives from everyone, by induction, for any send and receive graph).
 *
 * Deadline: ONE for the whole exchange, set when it starts: the round deadline plus the time to
 * receive `bytesPerPeer` from every peer in `from` at `MIN_OPENING_BYTES_PER_SECOND` (as the
 * opening in pieces, `commitThenOpenPieces`): a peer that drips its pieces is named by a timeout
 * once the exchange as a whole is late, not after count × the round deadline.
 *
 * @throws {@link TimeoutError} naming the peers whose piece is late at the deadline (tolerant:
 *   when fewer than `minimum` remain); whatever `send` or `onPiece` throw; the group's errors.
 */
export async function exchangePieces(group: Group, x: PiecesExchange, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  const roundMs = options.timeoutMs ?? group.roundTimeoutMs;
  const totalMs = roundMs + Math.ceil((1000 * x.bytesPerPeer * x.from.length) / MIN_OPENING_BYTES_PER_SECOND);
  let deadline = Date.now() + totalMs;
  const handedOff = Array.from({ length: x.count }, deferred);
  const received = Array.from({ length: x.count }, deferred);
  const failAll = (err: unknown): void => {
    for (const d of handedOff) d.reject(err);
    for (const d of received) d.reject(err);
  };
  const sending = (async () => {
    for (let i = 0; i < x.count; i++) {
      if (i >= PIECE_WINDOW) await received[i - PIECE_WINDOW]!.promise;
      const sent = x.send(i);
      handedOff[i]!.resolve();
      await sent;
    }
  })();
  sending.catch(failAll);
  let alive = [...x.from];
  try {
    for (let i = 0; i < x.count; i++) {
      const round = `${x.round}/p${i}`;
      const waitFrom = Date.now();
      const timeoutMs = timeUntil(deadline);
      let got: Map<string, PlainData>;
      try {
        got =
          x.tolerant === undefined
            ? await group.gather(round, { ...options, from: alive, timeoutMs })
            : await group.gatherSome(round, x.tolerant.minimum, { ...options, from: alive, timeoutMs: Math.min(roundMs, timeoutMs) });
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        // Whom the gather named — possibly nobody (suspects only): never every peer (review8 R8-10).
        throw new TimeoutError(
          `round "${x.round}": piece ${i} of ${x.count} missing at the exchange's deadline (${totalMs} ms: the round deadline plus ${x.count} pieces from ${x.from.length} peers at ${MIN_OPENING_BYTES_PER_SECOND} bytes/s): ${err.message}`,
          { peers: err.peers, suspects: err.suspects, cause: err },
        );
      }
      if (x.tolerant !== undefined && got.size < alive.length) {
        for (const peer of alive) if (!got.has(peer)) x.tolerant.onDrop(peer, i);
        alive = alive.filter((p) => got.has(p));
        deadline += Date.now() - waitFrom;
      }
      await handedOff[i]!.promise;
      const gone = x.onPiece(i, got);
      if (x.tolerant !== undefined && gone !== undefined && gone.length > 0) {
        for (const peer of gone) if (alive.includes(peer)) x.tolerant.onDrop(peer, i);
        alive = alive.filter((p) => !gone.includes(p));
      }
      received[i]!.resolve();
    }
    await sending;
  } catch (err) {
    failAll(err);
    throw err;
  }
}

/**
 * A piece that is a byte string of exactly `elements` 8-byte elements (a ring or GF(2^61 − 1)
 * vector piece), as a view on the received bytes.
 * @throws {@link GroupError} `PROTOCOL_VIOLATION` naming `peer` for anything else.
 */
export function pieceBytes(msg: PlainData, elements: number, what: string, i: number, peer: string): Uint8Array {
  const bytes = expectBytes(msg, what, { what: `${what} ${i}`, peer });
  if (bytes.length !== 8 * elements) {
    throw new GroupError(ErrorCode.PROTOCOL_VIOLATION, `${what} ${i} from "${peer}" has ${bytes.length} bytes, expected ${8 * elements}`, { peer });
  }
  return bytes;
}

