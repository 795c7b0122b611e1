/**
 * A table of hostile values, and a checker that runs one call and classifies what happened.
 *
 * Contract checked for every public function: a call either succeeds, or throws / rejects a
 * CouplerError whose `code` is one of ErrorCode — never a raw TypeError or other error, never a
 * hang (per-call deadline), and never a message that contains secret key bytes (base64 or hex).
 *
 * One exception is allowed and counted separately: when the hostile value itself throws
 * (a getter or Proxy trap throwing {@link HOSTILE_THROW}), that very exception may propagate
 * unchanged — it is the caller's own error, not one the library made up.
 */
import { CouplerError, ErrorCode } from '../../src/errors';

/** The exception thrown by hostile getters and Proxy traps. */
export const HOSTILE_THROW = new Error('hostile getter threw');

const throwIt = (): never => {
  throw HOSTILE_THROW;
};

const throwingGetters = (): object => {
  const o = {};
  for (const k of ['length', 'publicKey', 'secretKey', 'id', 'parties', 'version', 'byteLength', 'buffer', 'host', 'port', 'address']) {
    Object.defineProperty(o, k, { get: throwIt, enumerable: true });
  }
  return o;
};

/** Label and a factory (fresh value per call, so nothing leaks between calls). */
export const HOSTILE: readonly (readonly [string, () => unknown])[] = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['NaN', () => NaN],
  ['-1', () => -1],
  ['0', () => 0],
  ['Infinity', () => Infinity],
  ['2**53', () => 2 ** 53],
  ['true', () => true],
  ['empty string', () => ''],
  ["'x'.repeat(1e6)", () => 'x'.repeat(1e6)],
  ['{}', () => ({})],
  ['[]', () => []],
  ['fake Uint8Array {length: 32, 0: 1}', () => ({ length: 32, 0: 1 })],
  ['Object.create(Uint8Array.prototype)', () => Object.create(Uint8Array.prototype)],
  ['Proxy around a Uint8Array(32)', () => new Proxy(new Uint8Array(32), {})],
  ['Proxy whose traps throw', () => new Proxy({}, { get: throwIt, has: throwIt, ownKeys: throwIt, getOwnPropertyDescriptor: throwIt, getPrototypeOf: throwIt })],
  ['Object.create(null)', () => Object.create(null)],
  ['Symbol()', () => Symbol('hostile')],
  ['a function', () => () => undefined],
  ['getters that throw', throwingGetters],
  ['Uint8Array(0)', () => new Uint8Array(0)],
  ['Uint8Array(31)', () => new Uint8Array(31)],
  ['Uint8Array(33)', () => new Uint8Array(33)],
  ['Uint8Array(63)', () => new Uint8Array(63)],
  ['Uint8Array(65)', () => new Uint8Array(65)],
  ['Float32Array(8) (32 bytes)', () => new Float32Array(8)],
  ['BigInt 1n', () => 1n],
];

export type Outcome =
  | { kind: 'ok'; value: unknown }
  | { kind: 'coupler'; error: CouplerError }
  | { kind: 'own-throw' }
  | { kind: 'bad'; why: string };

const CODES = new Set<string>(Object.values(ErrorCode));

function allText(err: unknown, depth = 0): string {
  if (depth > 5 || err === null || err === undefined) return '';
  if (typeof err !== 'object') return String(err);
  const e = err as { message?: unknown; stack?: unknown; cause?: unknown };
  let s = '';
  try {
    s = `${String(e.message)}\n${String(e.stack)}\n${String(err)}`;
  } catch {
    /* ignore */
  }
  return s + allText(e.cause, depth + 1);
}

/** Hex and base64 spellings of secret keys (and their 32-byte seeds). */
export function secretSpellings(secretKeys: readonly Uint8Array[]): string[] {
  const out: string[] = [];
  for (const sk of secretKeys) {
    for (const b of [sk, sk.subarray(0, 32)]) {
      const buf = Buffer.from(b);
      out.push(buf.toString('hex'), buf.toString('base64'), buf.toString('base64url'), buf.toString('base64').slice(0, 24));
    }
  }
  return out;
}

/**
 * Run `call` and classify the outcome. `secrets` are spellings that must never appear in an
 * error. A call still running at the deadline is a hang.
 */
export async function runHostile(call: () => unknown, secrets: readonly string[] = [], deadlineMs = 5000): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'bad', why: `no result within ${deadlineMs} ms (hang)` }), deadlineMs);
  });
  const run = (async (): Promise<Outcome> => {
    let value: unknown;
    try {
      value = await call();
    } catch (err) {
      if (err === HOSTILE_THROW) return { kind: 'own-throw' };
      if (!(err instanceof CouplerError)) {
        return { kind: 'bad', why: `threw ${(err as Error)?.constructor?.name ?? typeof err}: ${String((err as Error)?.message ?? err).slice(0, 200)}` };
      }
      if (!CODES.has(err.code)) return { kind: 'bad', why: `CouplerError with unknown code ${String(err.code)}` };
      const text = allText(err);
      for (const s of secrets) if (s.length >= 16 && text.includes(s)) return { kind: 'bad', why: `error text contains secret key bytes (${err.code})` };
      return { kind: 'coupler', error: err };
    }
    return { kind: 'ok', value };
  })();
  try {
    return await Promise.race([run, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** A case of the table: a function applied to one hostile value in one position. */
export interface HostileCase {
  readonly name: string;
  readonly call: (hostile: unknown) => unknown;
}

/**
 * Run every case against every hostile value; returns the list of violations (empty = pass).
 * `onOk` can release what a successful call returned (channels, listeners).
 */
export async function hostileSweep(
  cases: readonly HostileCase[],
  options: { secrets?: readonly string[]; deadlineMs?: number; onOk?: (value: unknown) => unknown } = {},
): Promise<{ violations: string[]; tally: Record<Outcome['kind'], number> }> {
  const violations: string[] = [];
  const tally: Record<Outcome['kind'], number> = { ok: 0, coupler: 0, 'own-throw': 0, bad: 0 };
  for (const c of cases) {
    for (const [label, make] of HOSTILE) {
      const outcome = await runHostile(() => c.call(make()), options.secrets, options.deadlineMs);
      tally[outcome.kind]++;
      if (outcome.kind === 'bad') violations.push(`${c.name} <- ${label}: ${outcome.why}`);
      if (outcome.kind === 'ok' && options.onOk) await options.onOk(outcome.value);
    }
  }
  return { violations, tally };
}
