/**
 * A small Dockerfile reader for static checks (no Docker engine on the test machines, no new
 * dependencies): instructions with line continuations, comments, parser directives, stages,
 * `ARG` defaults before the first `FROM`, exec/shell forms, COPY/ADD flags, and `.dockerignore`.
 *
 * It refuses what it does not understand (heredocs, a non-default escape character) instead of
 * guessing, so a check built on it cannot pass by misreading the file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/**
 * The Node.js release line the base image and the examples' build stages pin: 26, the active LTS
 * line (end of life April 2029). Node 20 reached end of life in April 2026; 22 (April 2027) and 24
 * (April 2028) are in maintenance. Move it before the line's end of life (docs/reviews/node-lts.md).
 */
export const NODE_LINE = 26;

/** An image of {@link NODE_LINE}, slim variant: `node:26-slim`, `node:26.1.2-slim`, optionally pinned by digest. */
export const NODE_IMAGE = new RegExp(`^node:${NODE_LINE}(?:\\.\\d+){0,2}-slim(?:@sha256:[0-9a-f]{64})?$`);

/** One instruction. */
export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

/** One build stage. */
export interface Stage {
  /** The image after ARG substitution (`node:26-slim`). */
  readonly image: string;
  /** `AS name`, if any. */
  readonly name: string | undefined;
  readonly from: Instruction;
  /** The instructions after FROM, up to the next FROM. */
  readonly instructions: readonly Instruction[];
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  readonly path: string;
  readonly instructions: readonly Instruction[];
  readonly stages: readonly Stage[];
  /** The comment lines (without `#`), for build-command hints. */
  readonly comments: readonly string[];
}

/** Parse Dockerfile text. */
export function parseDockerfile(text: string, path = 'Dockerfile'): Dockerfile {
  const lines = text.split(/\r?\n/);
  const instructions: Instruction[] = [];
  const comments: string[] = [];
  let directives = true;
  let buffer = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (directives) {
      const d = /^#\s*([a-zA-Z]+)\s*=\s*(.*)$/.exec(trimmed);
      if (d && buffer === '') {
        if (d[1]!.toLowerCase() === 'escape' && d[2]!.trim() !== '\\') throw new Error(`${path}:${i + 1}: escape directive other than "\\" is not supported`);
        continue;
      }
      directives = false;
    }
    if (trimmed.startsWith('#')) {
      comments.push(trimmed.replace(/^#\s?/, ''));
      continue; // comment lines are dropped, also inside a continuation
    }
    if (trimmed === '') {
      continue; // empty lines inside a continuation are allowed (and ignored) by BuildKit
    }
    if (buffer === '') start = i + 1;
    const continued = /\\\s*$/.test(raw);
    const part = continued ? raw.replace(/\\\s*$/, '') : raw;
    buffer = buffer === '' ? part.trim() : `${buffer} ${part.trim()}`;
    if (continued && i < lines.length - 1) continue;
    const m = /^([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(buffer);
    if (!m) throw new Error(`${path}:${start}: cannot read instruction: ${buffer.slice(0, 80)}`);
    const args = (m[2] ?? '').trim();
    if (/<<-?\s*["']?[A-Za-z_]+/.test(args) && /^(RUN|COPY|ADD)$/i.test(m[1]!)) throw new Error(`${path}:${start}: heredocs are not supported by this reader`);
    instructions.push({ keyword: m[1]!.toUpperCase(), args, line: start });
    buffer = '';
  }
  if (buffer !== '') throw new Error(`${path}: the file ends inside a continuation`);

  // Stages, with global ARG defaults substituted into FROM.
  const globalArgs = new Map<string, string>();
  const stages: { image: string; name: string | undefined; from: Instruction; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--platform'));
      const image = parts[0]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => globalArgs.get(n) ?? '');
      const name = parts.length >= 3 && parts[1]!.toUpperCase() === 'AS' ? parts[2] : undefined;
      stages.push({ image, name, from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`${path}:${ins.line}: ${ins.keyword} before the first FROM`);
      const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(ins.args);
      if (a) globalArgs.set(a[1]!, unquote(a[2] ?? ''));
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new Error(`${path}: no FROM`);
  return { path, instructions, stages, comments };
}

/** Read and parse a Dockerfile. */
export function readDockerfile(path: string): Dockerfile {
  return parseDockerfile(readFileSync(path, 'utf8'), path);
}

function unquote(s: string): string {
  const t = s.trim();
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
  return t;
}

/** The exec (JSON array) form of an instruction's arguments, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith('[')) return undefined;
  const v = JSON.parse(args) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`not an exec form: ${args}`);
  return v as string[];
}

/** `KEY=value` pairs of ENV or LABEL (the `KEY value` legacy form too), quotes removed. */
export function keyValues(args: string): Map<string, string> {
  const out = new Map<string, string>();
  const tokens = shellWords(args);
  if (tokens.length >= 1 && !tokens[0]!.includes('=')) {
    // Legacy `ENV KEY value with spaces`.
    out.set(tokens[0]!, tokens.slice(1).join(' '));
    return out;
  }
  for (const t of tokens) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new Error(`not KEY=value: ${t}`);
    out.set(t.slice(0, eq), t.slice(eq + 1));
  }
  return out;
}

/** Split like a shell would for simple words: whitespace outside quotes, quotes removed. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      any = true;
    } else if (/\s/.test(c)) {
      if (any || cur !== '') out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${s}`);
  if (any || cur !== '') out.push(cur);
  return out;
}

/** A COPY or ADD: its flags, sources and destination. */
export interface Copy {
  readonly keyword: 'COPY' | 'ADD';
  readonly flags: ReadonlyMap<string, string>;
  readonly sources: readonly string[];
  readonly dest: string;
  readonly line: number;
}

/** Read a COPY/ADD instruction. */
export function parseCopy(ins: Instruction): Copy {
  if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') throw new Error(`not a COPY/ADD: ${ins.keyword}`);
  let rest = ins.args;
  const flags = new Map<string, string>();
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!f) break;
    flags.set(f[1]!, f[2] ?? 'true');
    rest = rest.slice(f[0].length);
  }
  const words = execForm(rest) ?? shellWords(rest);
  if (words.length < 2) throw new Error(`line ${ins.line}: ${ins.keyword} needs a source and a destination`);
  return { keyword: ins.keyword, flags, sources: words.slice(0, -1), dest: words[words.length - 1]!, line: ins.line };
}

/** The build context a Dockerfile's own comments give (`docker build [-f F] ... CONTEXT`, run from `root`). */
export function documentedContext(df: Dockerfile, root: string): string | undefined {
  const rel = relative(root, df.path).split(sep).join('/');
  for (const c of df.comments) {
    const m = /docker build\s+(.*)$/.exec(c);
    if (!m) continue;
    const words = shellWords(m[1]!.replace(/\s+#.*$/, ''));
    let file: string | undefined;
    const positional: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (w === '-f' || w === '--file') file = words[++i];
      else if (w.startsWith('--file=')) file = w.slice(7);
      else if (w === '-t' || w === '--tag' || w === '--build-arg' || w === '--target' || w === '--platform') i++;
      else if (!w.startsWith('-')) positional.push(w);
    }
    const context = positional[positional.length - 1];
    if (context === undefined) continue;
    const ctxDir = join(root, context);
    const dockerfile = file === undefined ? join(ctxDir, 'Dockerfile') : join(root, file);
    if (relative(root, dockerfile).split(sep).join('/') === rel) return ctxDir;
  }
  return undefined;
}

/** `.dockerignore` patterns of a context (empty when there is none). */
export function readDockerignore(context: string): string[] {
  const file = join(context, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Whether a context-relative path is excluded by `.dockerignore` (a path under an excluded folder is excluded). */
export function isIgnored(relPath: string, patterns: readonly string[]): boolean {
  const p = posix.normalize(relPath).replace(/^\.\//, '');
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pat = posix.normalize((negate ? raw.slice(1) : raw).replace(/^\//, ''));
    const re = globToRegExp(pat);
    const parts = p.split('/');
    const hit = parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
    if (hit) ignored = !negate;
  }
  return ignored;
}

/** Files (context-relative, POSIX) a COPY source names in a context: one file, a folder's files, or a glob. */
export function expandSource(context: string, source: string, ignore: readonly string[]): string[] {
  const src = posix.normalize(source.replace(/^\//, ''));
  const all = (dir: string): string[] => {
    const out: string[] = [];
    for (const e of readdirSync(join(context, dir), { withFileTypes: true })) {
      const rel = dir === '.' ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory()) out.push(...all(rel));
      else out.push(rel);
    }
    return out;
  };
  let files: string[];
  if (/[*?[]/.test(src)) {
    const re = globToRegExp(src);
    files = all('.').filter((f) => re.test(f));
  } else if (!existsSync(join(context, src))) {
    files = [];
  } else if (statSync(join(context, src)).isDirectory()) {
    files = all(src);
  } else {
    files = [src];
  }
  return files.filter((f) => !isIgnored(f, ignore));
}

/** Names that must never be copied into an image: keys, identities, rosters, env files, registry credentials. */
export const SECRET_FILE = /(^|\/)(\.env(\..*)?|\.npmrc|\.netrc|id_rsa[^/]*|id_ed25519[^/]*|[^/]*\.(key|pem|p12|pfx|jks)|[^/]*identity[^/]*\.json|[^/]*secret[^/]*|roster\.json|token)$/i;

/** The final stage. */
export function finalStage(df: Dockerfile): Stage {
  return df.stages[df.stages.length - 1]!;
}

/** The ENV of a stage, in order (later wins). */
export function stageEnv(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions) if (ins.keyword === 'ENV') for (const [k, v] of keyValues(ins.args)) env.set(k, v);
  return env;
}

/** The LABELs of a stage. */
export function stageLabels(stage: Stage): Map<string, string> {
  const labels = new Map<string, string>();
  for (const ins of stage.instructions) if (ins.keyword === 'LABEL') for (const [k, v] of keyValues(ins.args)) labels.set(k, v);
  return labels;
}

/** The last value of a single-valued instruction (USER, WORKDIR, ENTRYPOINT, CMD) in a stage. */
export function last(stage: Stage, keyword: string): Instruction | undefined {
  return [...stage.instructions].reverse().find((i) => i.keyword === keyword);
}

/** `ln -s TARGET LINK` commands in a stage's RUN instructions. */
export function symlinks(stage: Stage): { target: string; link: string }[] {
  const out: { target: string; link: string }[] = [];
  for (const ins of stage.instructions) {
    if (ins.keyword !== 'RUN') continue;
    for (const m of ins.args.matchAll(/\bln\s+-s[fn]*\s+(\S+)\s+(\S+)/g)) out.push({ target: m[1]!, link: m[2]! });
  }
  return out;
}

/**
 * The runtime layout the base image's Dockerfile sets up, read from the Dockerfile itself so the
 * entry-point test mirrors whatever the Dockerfile says (not a copy of it):
 * where the packed SDK goes, the `coupler` command, the app folder and its node_modules link,
 * the user, the environment, and the entry point.
 */
export interface ImageLayout {
  /** The packed package's folder (`/opt/coupler`). */
  readonly installDir: string;
  /** The `coupler` command on PATH and what it links to (`/usr/local/bin/coupler` -> `/opt/coupler/dist/cli.js`). */
  readonly bin: { readonly link: string; readonly target: string };
  /** WORKDIR of the final stage (`/app`). */
  readonly appDir: string;
  /** `/node_modules/coupler` -> `/opt/coupler`: where `import 'coupler'` resolves from any folder. */
  readonly appLink: { readonly link: string; readonly target: string };
  /** The package.json the image writes into the app folder (`printf '%s\n' '<json>' > /app/package.json`), if any. */
  readonly appPackageJson: { readonly path: string; readonly text: string } | undefined;
  /** USER of the final stage, `${ARG}` references resolved with the build args. */
  readonly user: string;
  readonly env: ReadonlyMap<string, string>;
  readonly entrypoint: readonly string[];
}

/** The ARG defaults declared in a stage (after its FROM), overridden by `buildArgs` (`--build-arg`). */
export function stageArgs(stage: Stage, buildArgs: Readonly<Record<string, string>> = {}): Map<string, string> {
  const args = new Map<string, string>();
  for (const ins of stage.instructions) {
    if (ins.keyword !== 'ARG') continue;
    const a = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(ins.args);
    if (a) args.set(a[1]!, buildArgs[a[1]!] ?? unquote(a[2] ?? ''));
  }
  return args;
}

/** The USER of a stage with `${ARG}` references resolved (undefined: none, i.e. root). */
export function stageUser(stage: Stage, buildArgs: Readonly<Record<string, string>> = {}): string | undefined {
  const raw = last(stage, 'USER')?.args;
  if (raw === undefined) return undefined;
  const args = stageArgs(stage, buildArgs);
  return raw.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => args.get(n) ?? '');
}

export function baseImageLayout(df: Dockerfile, buildArgs: Readonly<Record<string, string>> = {}): ImageLayout {
  const stage = finalStage(df);
  const runs = stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const ciDir = runs.map((r) => /\bcd\s+(\S+)\s*&&[^;]*?\bnpm\s+ci\b/.exec(r)?.[1]).find((d) => d !== undefined);
  if (ciDir === undefined) throw new Error(`${df.path}: no "cd DIR && npm ci" in the final stage`);
  const links = symlinks(stage);
  const bin = links.find((l) => /\/bin\/coupler$/.test(l.link));
  const appLink = links.find((l) => /\/node_modules\/coupler$/.test(l.link));
  const workdir = last(stage, 'WORKDIR')?.args;
  const user = stageUser(stage, buildArgs);
  const entry = last(stage, 'ENTRYPOINT');
  if (!bin || !appLink || !workdir || !user || !entry) throw new Error(`${df.path}: the final stage lacks the coupler link, the app link, WORKDIR, USER or ENTRYPOINT`);
  const entrypoint = execForm(entry.args);
  if (!entrypoint) throw new Error(`${df.path}:${entry.line}: ENTRYPOINT is not in exec form`);
  const pj = runs.map((r) => /\bprintf\s+'%s\\n'\s+'([^']*)'\s*>\s*(\S+\/package\.json)/.exec(r)).find((m) => m !== null);
  const appPackageJson = pj ? { path: pj[2]!, text: `${pj[1]!}\n` } : undefined;
  return { installDir: ciDir, bin, appDir: workdir, appLink, appPackageJson, user, env: stageEnv(stage), entrypoint };
}
