/** Test helpers: base32 encoding as the vantage6 node does it, temp dirs, a collecting logger. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/vantage6/index';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with padding (independent of the code under test). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 5) {
    const chunk = bytes.subarray(i, i + 5);
    const block = new Uint8Array(5);
    block.set(chunk);
    let bits = 0n;
    for (const b of block) bits = (bits << 8n) | BigInt(b);
    const chars = [2, 4, 5, 7, 8][chunk.length - 1] ?? 8;
    let quantum = '';
    for (let j = 0; j < 8; j++) {
      const v = Number((bits >> BigInt(35 - j * 5)) & 31n);
      quantum += j < chars ? ALPHABET[v] : '=';
    }
    out += quantum;
  }
  return out;
}

/** Encode a value as a vantage6 >= 4.2 node does: base32 of UTF-8, `=` → `!`. */
export function v6Encode(value: string): string {
  return base32Encode(new TextEncoder().encode(value)).replaceAll('=', '!');
}

/** Encode every value of an environment object. */
export function v6EncodeEnv(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v6Encode(v)]));
}

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix = 'coupler-v6-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A logger that collects lines. */
export function collectingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(`info: ${m}`),
    warn: (m) => void lines.push(`warn: ${m}`),
    error: (m) => void lines.push(`error: ${m}`),
  };
}

/** A fake JWT with the given `sub` claim. */
export function fakeJwt(sub: unknown): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub })}.c2ln`;
}
