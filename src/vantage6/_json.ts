/**
 * JSON for the container contract: what goes into `OUTPUT_FILE` and into subtask inputs.
 *
 * `JSON.stringify` silently loses information in ways that hurt numeric algorithms (`NaN` and
 * `Infinity` become `null`, a `Map` becomes `{}`, a BigInt throws a vague TypeError, a typed array
 * becomes an object keyed by index). This serializer is explicit instead:
 *
 * - `bigint` → a JSON integer with all its digits (Python's `json` reads it exactly);
 * - typed arrays → JSON arrays of numbers (BigInt64Array/BigUint64Array → integers);
 * - `ArrayBuffer`, `DataView`, `Map`, `Set`, functions, symbols, non-finite numbers, cycles,
 *   class instances without `toJSON` → refused with an error that names the path (never the value);
 * - objects with `toJSON()` (such as `Date`) → their `toJSON()` result;
 * - `undefined`: omitted in objects, `null` in arrays and at the top level.
 *
 * @module
 */
import { Vantage6Error, ErrorCode } from '../errors';

/** Deepest nesting accepted when serializing. */
export const MAX_JSON_DEPTH = 256;

function fail(path: string, what: string): never {
  throw new Vantage6Error(ErrorCode.VANTAGE6, `cannot serialize ${what} at ${path} to JSON`);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Serialize a value to JSON text following the rules above.
 *
 * @param value - the value.
 * @param maxLength - refuse output longer than this many UTF-16 code units (the caller checks the UTF-8 byte length).
 * @throws {@link Vantage6Error} (`COUPLER_ERR_VANTAGE6`) naming the path of an unsupported value.
 */
export function toContractJson(value: unknown, maxLength = Number.MAX_SAFE_INTEGER): string {
  const parts: string[] = [];
  let length = 0;
  const stack = new Set<object>();
  const push = (s: string): void => {
    length += s.length;
    if (length > maxLength) throw new Vantage6Error(ErrorCode.VANTAGE6, `JSON output exceeds ${maxLength} characters`);
    parts.push(s);
  };

  const walk = (v: unknown, path: string, depth: number): void => {
    if (depth > MAX_JSON_DEPTH) fail(path, `a value nested deeper than ${MAX_JSON_DEPTH}`);
    switch (typeof v) {
      case 'undefined':
        push('null');
        return;
      case 'boolean':
        push(v ? 'true' : 'false');
        return;
      case 'number':
        if (!Number.isFinite(v)) fail(path, Number.isNaN(v) ? 'NaN' : 'an infinite number');
        push(JSON.stringify(v));
        return;
      case 'bigint':
        push(v.toString(10));
        return;
      case 'string':
        push(JSON.stringify(v));
        return;
      case 'function':
      case 'symbol':
        fail(path, `a ${typeof v}`);
    }
    if (v === null) {
      push('null');
      return;
    }
    const obj = v as object;
    if (ArrayBuffer.isView(obj)) {
      if (obj instanceof DataView) fail(path, 'a DataView');
      const arr = obj as unknown as ArrayLike<number | bigint>;
      push('[');
      for (let i = 0; i < arr.length; i++) {
        if (i > 0) push(',');
        const x = arr[i]!;
        if (typeof x === 'number' && !Number.isFinite(x)) fail(`${path}[${i}]`, Number.isNaN(x) ? 'NaN' : 'an infinite number');
        push(typeof x === 'bigint' ? x.toString(10) : JSON.stringify(x));
      }
      push(']');
      return;
    }
    if (obj instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && obj instanceof SharedArrayBuffer)) fail(path, 'an ArrayBuffer');
    if (obj instanceof Map) fail(path, 'a Map (convert it with Object.fromEntries)');
    if (obj instanceof Set) fail(path, 'a Set (convert it with Array.from)');
    if (stack.has(obj)) fail(path, 'a circular reference');
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      stack.add(obj);
      walk((toJSON as (key: string) => unknown).call(obj, ''), path, depth + 1);
      stack.delete(obj);
      return;
    }
    stack.add(obj);
    if (Array.isArray(obj)) {
      push('[');
      for (let i = 0; i < obj.length; i++) {
        if (i > 0) push(',');
        const item: unknown = obj[i];
        if (typeof item === 'function' || typeof item === 'symbol') fail(`${path}[${i}]`, `a ${typeof item}`);
        walk(item, `${path}[${i}]`, depth + 1);
      }
      push(']');
    } else {
      if (!isPlainObject(obj)) fail(path, `an instance of ${obj.constructor?.name ?? 'a class'} (return plain objects, or give it toJSON())`);
      push('{');
      let first = true;
      for (const key of Object.keys(obj)) {
        const item = (obj as Record<string, unknown>)[key];
        if (item === undefined) continue;
        const sub = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key.slice(0, 40))}]`;
        if (typeof item === 'function' || typeof item === 'symbol') fail(sub, `a ${typeof item}`);
        if (!first) push(',');
        first = false;
        push(JSON.stringify(key));
        push(':');
        walk(item, sub, depth + 1);
      }
      push('}');
    }
    stack.delete(obj);
  };

  walk(value, '$', 0);
  return parts.join('');
}

/**
 * Whether JSON text nests arrays and objects deeper than `maxDepth`: a scan that skips strings
 * (the text need not be valid JSON). `JSON.parse` takes any depth, but every recursive walk of the
 * value afterwards (`canonicalJson`, `toContractJson`, a user's own) overflows the stack on a
 * value nested a few thousand levels deep.
 */
export function jsonNestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** Marker of an integer literal too large for a double, while {@link parseContractJson} runs. */
const BIG_MARK = '\u0000coupler-bigint:';
/** Marker of a `NaN`, `Infinity` or `-Infinity` literal, while {@link parseContractJson} runs. */
const NUM_MARK = '\u0000coupler-number:';
/** The non-JSON literals Python's `json.dumps` writes by default (`allow_nan=True`) and `json.load` reads. */
const NON_FINITE_LITERALS: readonly string[] = ['-Infinity', 'Infinity', 'NaN'];

/**
 * Parse JSON text, keeping integers exact: an integer literal outside ±(2^53 − 1) becomes a
 * `bigint` (with `JSON.parse` alone `12345678901234567890` turns into `12345678901234567000`);
 * every other value is what `JSON.parse` gives. The counterpart of {@link toContractJson}, which
 * writes bigints as integer literals with all their digits.
 *
 * It also reads the literals `NaN`, `Infinity` and `-Infinity` (outside strings) as those numbers:
 * vantage6's Python client writes task input with `json.dumps` (vantage6-common/vantage6/common/serialization.py),
 * which emits them for non-finite floats, and vantage6's own wrapper reads them back. coupler never
 * writes them ({@link toContractJson} refuses non-finite numbers).
 *
 * @throws SyntaxError for text that is not JSON (as `JSON.parse`).
 */
export function parseContractJson(text: string): unknown {
  let out = '';
  let last = 0;
  let big = false;
  let special = false;
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
      continue;
    }
    if (c === 0x4e || c === 0x49 || c === 0x2d) {
      // N(aN), I(nfinity), -(Infinity): outside a string no JSON token starts with N or I.
      const lit = NON_FINITE_LITERALS.find((l) => text.startsWith(l, i));
      if (lit !== undefined) {
        out += `${text.slice(last, i)}"${NUM_MARK.replace('\u0000', '\\u0000')}${lit}"`;
        i += lit.length;
        last = i;
        special = true;
        continue;
      }
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && /[0-9eE.+-]/.test(text[j]!)) j++;
      const token = text.slice(i, j);
      if (/^-?(0|[1-9][0-9]*)$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(last, i)}"${BIG_MARK.replace('\u0000', '\\u0000')}${token}"`;
        last = j;
        big = true;
      }
      i = j;
      continue;
    }
    i++;
  }
  if (!big && !special) return JSON.parse(text);
  // A string of the input that would read as a marker: refuse rather than turn it into a number.
  if (/\\u0000coupler-(?:bigint|number):/i.test(text)) throw new SyntaxError('JSON text holds a string reserved by coupler');
  out += text.slice(last);
  return JSON.parse(out, (key, value: unknown) => {
    // A marker can only stand where a value stood: as an object key it was a bare literal there.
    if (key.startsWith(BIG_MARK) || key.startsWith(NUM_MARK)) throw new SyntaxError('JSON text has a number where a key belongs');
    if (typeof value !== 'string') return value;
    if (value.startsWith(BIG_MARK)) return BigInt(value.slice(BIG_MARK.length));
    if (value.startsWith(NUM_MARK)) return Number(value.slice(NUM_MARK.length));
    return value;
  });
}
