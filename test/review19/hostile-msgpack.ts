/**
 * review19: hand-written msgpack round messages of the kinds perf18's agreement test
 * (test/wire/round-message.test.ts) does not generate — strings of raw bytes (non-ASCII, invalid
 * UTF-8: overlong forms, surrogates, truncated sequences, stray continuation bytes) in every
 * length class msgpackr decodes differently (JS < 16, 16–64, TextDecoder > 64, the native
 * extractor for messages of 140 / 180 bytes and more), in fixstr / str 8 / str 16 / str 32; numbers
 * in every width whatever their value (non-canonical: 5 as uint 64, an integer as float 64); map
 * keys that collide once decoded (`__proto__` / `__proto_`, two invalid byte strings that both
 * read U+FFFD); envelopes as fixmap and map 16. A seeded generator, so a child process can
 * rebuild the same messages. Also run as a script: prints one digest of what the general decoder
 * read for every message (see msgpack-differential.test.ts).
 */
import { createHash } from 'node:crypto';
import { decodeMessageCost, decodeRoundMessage } from '../../src/wire/codec';

export function generator(seed: number): () => Uint8Array {
  let s = seed >>> 0 || 1;
  const rnd = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const ri = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(a: readonly T[]): T => a[ri(a.length)]!;
  const bits = [
    [0xc0, 0xaf], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xff], [0xfe], [0x80], [0xbf], [0xf4, 0x90, 0x80, 0x80],
    [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xef, 0xbf, 0xbd], [0xf0, 0x9f, 0x98, 0x80], [0x00], [0x7f],
  ];
  const strBytes = (max = 400): number[] => {
    const n = Math.min(max, pick([0, 1, 2, 3, 5, 13, 15, 16, 17, 31, 32, 63, 64, 65, 100, 300]));
    const out: number[] = [];
    while (out.length < n) out.push(...(rnd() < 0.35 ? pick(bits) : [0x20 + ri(95)]));
    return out;
  };
  const str = (b: number[]): number[] => {
    const n = b.length;
    const form = ri(4);
    if (n < 32 && form === 0) return [0xa0 | n, ...b];
    if (n < 256 && form === 1) return [0xd9, n, ...b];
    if (form === 2) return [0xda, n >> 8, n & 255, ...b];
    return n < 32 ? [0xa0 | n, ...b] : [0xdb, 0, 0, n >> 8, n & 255, ...b];
  };
  const f64 = (x: number): number[] => {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(x, 1);
    return [...b];
  };
  const f32 = (x: number): number[] => {
    const b = Buffer.alloc(5);
    b[0] = 0xca;
    b.writeFloatBE(x, 1);
    return [...b];
  };
  const num = (): number[] => {
    const v = ri(128);
    switch (ri(10)) {
      case 0: return [v];
      case 1: return [0xe0 | ri(32)];
      case 2: return [0xcc, v];
      case 3: return [0xcd, 0, v];
      case 4: return [0xce, 0, 0, 0, v];
      case 5: return [0xcf, 0, 0, 0, 0, 0, 0, 0, v];
      case 6: return [0xd3, ...Array.from({ length: 8 }, () => ri(256))];
      case 7: {
        const w = pick([1, 2, 4]);
        return [w === 1 ? 0xd0 : w === 2 ? 0xd1 : 0xd2, ...Array.from({ length: w }, () => ri(256))];
      }
      case 8: return f64(pick([0, -0, v, 2 ** 53, 2 ** 53 + 2, 2 ** 64, NaN, Infinity, -Infinity, 1.5, 5e-324]));
      default: return f32(pick([0, -0, v, 0.1, NaN, 3.4e38]));
    }
  };
  const keyBytes = (): number[] => (rnd() < 0.5 ? strBytes(6) : [...Buffer.from(pick(['a', 'b', '__proto__', '__proto_', 'constructor', '0', '1', '01', '1023', '1024', 'é', '\u{1F600}']))]);
  const value = (depth: number): number[] => {
    const k = ri(depth > 3 ? 4 : 7);
    if (k === 0) return num();
    if (k === 1) return str(strBytes());
    if (k === 2) {
      const n = pick([0, 1, 5, 200]);
      return [0xc4, n, ...Array.from({ length: n }, () => ri(256))];
    }
    if (k === 3) return [pick([0xc0, 0xc2, 0xc3])];
    const n = ri(4);
    const out: number[] = [];
    if (k === 4) {
      if (rnd() < 0.7) out.push(0x90 | n);
      else out.push(0xdc, 0, n);
      for (let i = 0; i < n; i++) out.push(...value(depth + 1));
      return out;
    }
    if (rnd() < 0.7) out.push(0x80 | n);
    else out.push(0xde, 0, n);
    for (let i = 0; i < n; i++) out.push(...str(keyBytes()), ...value(depth + 1));
    return out;
  };
  const names = ['x.1/r', 'a', 'x'.repeat(31), 'sum.7/shape/v'];
  return () => {
    const name = pick(names);
    // Half of them padded past the native extractor's threshold with a long leading string.
    const payload = rnd() < 0.5 ? value(0) : [0x92, ...str(strBytes()), ...value(1)];
    const env = rnd() < 0.5 ? [0x82] : [0xde, 0, 2];
    return Uint8Array.from([...env, 0xa1, 0x72, 0xa0 | name.length, ...Buffer.from(name), 0xa1, 0x70, ...payload]);
  };
}

/** A stable text of a decoded value: types kept apart (5 vs 5n vs 5.0 as -0, NaN), bytes as hex. */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === 'bigint'
      ? `bigint:${x}`
      : x instanceof Uint8Array
        ? `bytes:${Buffer.from(x).toString('hex')}`
        : typeof x === 'number' && (Object.is(x, -0) || !Number.isFinite(x))
          ? `number:${Object.is(x, -0) ? '-0' : String(x)}`
          : typeof x === 'string'
            ? `string:${Buffer.from(x, 'utf16le').toString('hex')}`
            : x,
  );
}

export type Read = { ok: string } | { err: string };

/** What the general path reads (round, payload, heap estimate) or its error. */
export function general(m: Uint8Array): Read {
  try {
    const r = decodeMessageCost(m, 1 << 24);
    const v = r.value as { r: unknown; p: unknown };
    return { ok: show([Object.keys(v), v.r, v.p, r.heapBytes]) };
  } catch (e) {
    return { err: `${(e as { code?: string }).code}: ${(e as Error).message}` };
  }
}

/** What the fast path reads, in the same form; undefined when it declines. */
export function fast(m: Uint8Array): Read | undefined {
  try {
    const r = decodeRoundMessage(m, 1 << 24);
    return r === undefined ? undefined : { ok: show([['r', 'p'], r.round, r.payload, r.heapBytes]) };
  } catch (e) {
    return { err: `${(e as { code?: string }).code}: ${(e as Error).message}` };
  }
}

/** One digest of the general path's reading of `count` messages of `seed`. */
export function digest(seed: number, count: number): string {
  const next = generator(seed);
  const h = createHash('sha256');
  for (let i = 0; i < count; i++) h.update(JSON.stringify(general(next()))).update('\n');
  return h.digest('hex');
}

if (process.argv[1]?.endsWith('hostile-msgpack.ts')) {
  const seed = Number(process.argv[2]);
  const count = Number(process.argv[3]);
  // eslint-disable-next-line no-console
  console.log(JSON.stringify({ native: (require('msgpackr') as { isNativeAccelerationEnabled?: boolean }).isNativeAccelerationEnabled === true, digest: digest(seed, count) }));
}
