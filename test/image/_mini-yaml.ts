/**
 * A deliberately small YAML reader for the deployment manifests' static checks. The project has
 * no YAML dependency of its own (one may exist transitively in node_modules; it is not relied on).
 *
 * Supported: several documents (`---`), comments, block mappings and sequences (including
 * `- key: value` items and a sequence at its parent key's indentation), flow mappings and
 * sequences on one line, single/double-quoted and plain scalars, anchors, aliases and merge keys
 * (`<<: *name`). Plain scalars: `true`/`false`, `null`/`~`, integers without a leading zero become
 * booleans/null/numbers; everything else (including `0444`) stays a string.
 *
 * Anything else (block scalars `|`/`>`, tags, multi-line flow collections or plain scalars, tabs,
 * duplicate keys, complex keys) throws with the line number: a check that relies on this reader
 * fails rather than passes on a file it cannot read.
 */

export type YamlValue = string | number | boolean | null | YamlValue[] | YamlMap;
export interface YamlMap {
  [key: string]: YamlValue;
}

interface Line {
  readonly no: number;
  readonly indent: number;
  text: string;
}

class Reader {
  readonly anchors = new Map<string, YamlValue>();
  pos = 0;
  constructor(readonly lines: Line[]) {}
  peek(): Line | undefined {
    return this.lines[this.pos];
  }
  fail(msg: string, line?: Line): never {
    throw new Error(`yaml line ${(line ?? this.peek())?.no ?? 'EOF'}: ${msg}`);
  }
}

/** Strip a comment (` #...` outside quotes) and trailing space. */
function stripComment(text: string, no: number): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") i++;
        else quote = undefined;
      } else if (c === '\\' && quote === '"') i++;
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s:[{,-]/.test(text[i - 1]!))) {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      return text.slice(0, i).trimEnd();
    }
  }
  if (quote) throw new Error(`yaml line ${no}: unterminated quote`);
  return text.trimEnd();
}

/** Parse every document of a YAML stream. */
export function parseYamlDocuments(source: string): YamlValue[] {
  const docs: Line[][] = [[]];
  source.split(/\r?\n/).forEach((raw, i) => {
    const no = i + 1;
    if (/^\t/.test(raw) || /^ *\t/.test(raw)) throw new Error(`yaml line ${no}: tab indentation`);
    if (/^%/.test(raw)) throw new Error(`yaml line ${no}: directives are not supported`);
    if (/^---(\s|$)/.test(raw)) {
      if (raw.slice(3).trim() !== '' && !raw.slice(3).trim().startsWith('#')) throw new Error(`yaml line ${no}: content after ---`);
      docs.push([]);
      return;
    }
    if (/^\.\.\.(\s|$)/.test(raw)) return;
    const text = stripComment(raw, no);
    if (text.trim() === '') return;
    docs[docs.length - 1]!.push({ no, indent: text.length - text.trimStart().length, text: text.trimStart() });
  });
  return docs
    .filter((d) => d.length > 0)
    .map((lines) => {
      const r = new Reader(lines);
      const v = parseBlock(r, lines[0]!.indent);
      if (r.peek()) r.fail('unexpected content (bad indentation?)');
      return v;
    });
}

/** Parse one document (the stream must hold exactly one). */
export function parseYaml(source: string): YamlValue {
  const docs = parseYamlDocuments(source);
  if (docs.length !== 1) throw new Error(`expected one YAML document, got ${docs.length}`);
  return docs[0]!;
}

const isSeqItem = (t: string): boolean => t === '-' || t.startsWith('- ');

function parseBlock(r: Reader, indent: number): YamlValue {
  const first = r.peek();
  if (!first || first.indent !== indent) return r.fail(`expected content at indentation ${indent}`);
  return isSeqItem(first.text) ? parseSequence(r, indent) : parseMapping(r, indent);
}

function parseSequence(r: Reader, indent: number): YamlValue[] {
  const out: YamlValue[] = [];
  for (let line = r.peek(); line && line.indent === indent && isSeqItem(line.text); line = r.peek()) {
    const rest = line.text === '-' ? '' : line.text.slice(2);
    const restTrim = rest.trimStart();
    const offset = indent + 2 + (rest.length - restTrim.length);
    if (restTrim === '') {
      r.pos++;
      const next = r.peek();
      out.push(next && next.indent > indent ? parseBlock(r, next.indent) : null);
    } else if (isSeqItem(restTrim) || (splitKey(restTrim) !== undefined && !/^[[{"'&*]/.test(restTrim))) {
      // `- key: value` (or `- - x`): the item is a block starting at the column of its content.
      r.lines[r.pos] = { no: line.no, indent: offset, text: restTrim };
      out.push(parseBlock(r, offset));
    } else {
      r.pos++;
      out.push(parseInline(r, restTrim, line, indent));
    }
  }
  return out;
}

/** Split `key: value` at the first `: ` (or a trailing `:`) outside quotes. */
function splitKey(text: string): { key: string; value: string } | undefined {
  let i = 0;
  let key: string;
  if (text[0] === '"' || text[0] === "'") {
    const q = text[0];
    let j = 1;
    while (j < text.length && text[j] !== q) j += text[j] === '\\' && q === '"' ? 2 : 1;
    if (j >= text.length) return undefined;
    key = text.slice(1, j);
    i = j + 1;
    if (text[i] !== ':') return undefined;
  } else {
    const m = /:(\s|$)/.exec(text);
    if (!m) return undefined;
    i = m.index;
    key = text.slice(0, i).trim();
    if (key === '' || /^[[{]/.test(key)) return undefined;
  }
  return { key, value: text.slice(i + 1).trim() };
}

function parseMapping(r: Reader, indent: number): YamlMap {
  const out: YamlMap = {};
  const own = new Set<string>();
  const merged: YamlMap[] = [];
  for (let line = r.peek(); line && line.indent === indent && !isSeqItem(line.text); line = r.peek()) {
    const kv = splitKey(line.text);
    if (!kv) r.fail(`expected "key: value", got ${JSON.stringify(line.text.slice(0, 60))}`);
    if (kv.key === '?' || kv.key.startsWith('? ')) r.fail('complex keys are not supported');
    if (kv.key === '__proto__') r.fail('key __proto__ refused');
    r.pos++;
    let value: YamlValue;
    let anchor: string | undefined;
    let text = kv.value;
    const a = /^&([A-Za-z0-9_-]+)\s*/.exec(text);
    if (a) {
      anchor = a[1];
      text = text.slice(a[0].length);
    }
    if (text === '') {
      const next = r.peek();
      if (next && next.indent > indent) value = parseBlock(r, next.indent);
      else if (next && next.indent === indent && isSeqItem(next.text)) value = parseSequence(r, indent);
      else value = null;
    } else {
      value = parseInline(r, text, line, indent);
    }
    if (anchor !== undefined) r.anchors.set(anchor, value);
    if (kv.key === '<<') {
      const sources = Array.isArray(value) ? value : [value];
      for (const s of sources) {
        if (s === null || typeof s !== 'object' || Array.isArray(s)) r.fail('<< needs a mapping (or a list of mappings)', line);
        merged.push(s);
      }
      continue;
    }
    if (own.has(kv.key)) r.fail(`duplicate key "${kv.key}"`, line);
    own.add(kv.key);
    out[kv.key] = value;
  }
  // Merge keys: explicit keys win; earlier merge sources win over later ones.
  for (const m of merged) for (const [k, v] of Object.entries(m)) if (!(k in out)) out[k] = v;
  return out;
}

/** A value on the same line as its key or dash: alias, flow collection, or scalar. */
function parseInline(r: Reader, text: string, line: Line, indent: number): YamlValue {
  if (text.startsWith('|') || text.startsWith('>')) r.fail('block scalars are not supported', line);
  if (text.startsWith('!')) r.fail('tags are not supported', line);
  if (text.startsWith('*')) {
    const name = text.slice(1);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) r.fail(`bad alias ${text}`, line);
    if (!r.anchors.has(name)) r.fail(`unknown anchor ${name}`, line);
    return r.anchors.get(name)!;
  }
  const next = r.peek();
  if (next && next.indent > indent && !(text.startsWith('{') || text.startsWith('['))) {
    r.fail('multi-line plain scalars are not supported', next);
  }
  if (text.startsWith('{') || text.startsWith('[')) {
    const p = { s: text, i: 0 };
    const v = parseFlow(p, line.no);
    skipWs(p);
    if (p.i !== p.s.length) r.fail(`unexpected text after a flow collection: ${p.s.slice(p.i)}`, line);
    return v;
  }
  return scalar(text, line.no);
}

function scalar(text: string, no: number): YamlValue {
  const t = text.trim();
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2) throw new Error(`yaml line ${no}: bad double-quoted scalar`);
    return JSON.parse(t) as string;
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new Error(`yaml line ${no}: bad single-quoted scalar`);
    return t.slice(1, -1).replaceAll("''", "'");
  }
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t === 'null' || t === '~' || t === '') return null;
  if (/^-?(0|[1-9][0-9]*)$/.test(t)) return Number(t);
  return t;
}

function skipWs(p: { s: string; i: number }): void {
  while (p.i < p.s.length && /\s/.test(p.s[p.i]!)) p.i++;
}

function parseFlow(p: { s: string; i: number }, no: number): YamlValue {
  skipWs(p);
  const c = p.s[p.i];
  const fail = (m: string): never => {
    throw new Error(`yaml line ${no}: ${m} in flow collection ${JSON.stringify(p.s)}`);
  };
  if (c === '{') {
    p.i++;
    const out: YamlMap = {};
    skipWs(p);
    if (p.s[p.i] === '}') {
      p.i++;
      return out;
    }
    for (;;) {
      skipWs(p);
      const key = flowScalar(p, true);
      if (typeof key !== 'string' && typeof key !== 'number') fail('bad key');
      skipWs(p);
      if (p.s[p.i] !== ':') fail('expected ":"');
      p.i++;
      const k = String(key);
      if (k in out) fail(`duplicate key "${k}"`);
      out[k] = parseFlowValue(p, no);
      skipWs(p);
      if (p.s[p.i] === ',') {
        p.i++;
        continue;
      }
      if (p.s[p.i] === '}') {
        p.i++;
        return out;
      }
      fail('expected "," or "}"');
    }
  }
  if (c === '[') {
    p.i++;
    const out: YamlValue[] = [];
    skipWs(p);
    if (p.s[p.i] === ']') {
      p.i++;
      return out;
    }
    for (;;) {
      out.push(parseFlowValue(p, no));
      skipWs(p);
      if (p.s[p.i] === ',') {
        p.i++;
        continue;
      }
      if (p.s[p.i] === ']') {
        p.i++;
        return out;
      }
      fail('expected "," or "]"');
    }
  }
  return fail('expected "{" or "["');
}

function parseFlowValue(p: { s: string; i: number }, no: number): YamlValue {
  skipWs(p);
  const c = p.s[p.i];
  if (c === '{' || c === '[') return parseFlow(p, no);
  return flowScalar(p, false);
}

function flowScalar(p: { s: string; i: number }, isKey: boolean): YamlValue {
  const c = p.s[p.i];
  if (c === '"' || c === "'") {
    const start = p.i;
    p.i++;
    while (p.i < p.s.length && p.s[p.i] !== c) p.i += p.s[p.i] === '\\' && c === '"' ? 2 : 1;
    p.i++;
    return scalar(p.s.slice(start, p.i), 0);
  }
  const start = p.i;
  while (p.i < p.s.length) {
    const ch = p.s[p.i]!;
    if (ch === ',' || ch === ']' || ch === '}') break;
    if (ch === ':' && (isKey || /\s/.test(p.s[p.i + 1] ?? ' '))) break;
    p.i++;
  }
  return scalar(p.s.slice(start, p.i), 0);
}

/** Walk a path of keys/indices; undefined when any step is missing. */
export function at(value: YamlValue | undefined, ...path: (string | number)[]): YamlValue | undefined {
  let v: YamlValue | undefined = value;
  for (const k of path) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    v = Array.isArray(v) ? (typeof k === 'number' ? v[k] : undefined) : (v as YamlMap)[String(k)];
  }
  return v;
}

/** The value as a mapping (throws otherwise). */
export function asMap(v: YamlValue | undefined, what: string): YamlMap {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} is not a mapping`);
  return v;
}

/** The value as a sequence (throws otherwise). */
export function asList(v: YamlValue | undefined, what: string): YamlValue[] {
  if (!Array.isArray(v)) throw new Error(`${what} is not a sequence`);
  return v;
}
