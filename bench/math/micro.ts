/**
 * Micro-benchmarks of the math layer (single thread).
 *
 * Shamir sharing runs in both fields of thresholdSum: GF(2^127 − 1) (one BigInt per element) and
 * GF(2^61 − 1) (typed arrays, names ending in "(p61)"), at L = 1e4 for both and L = 1e6 for p61.
 *
 * Standalone: `node --import tsx bench/math/micro.ts` prints the table (each operation repeated
 * for ≥ 500 ms after one warm-up call). Under the harness (`npm run bench -- math`, see
 * `index.ts`) the same operations run in this file as a child process that answers `measure`
 * requests, so the harness can interleave them and report medians over repetitions.
 */
import { performance } from 'node:perf_hooks';
import {
  encodeField,
  encodeRing64,
  evaluationPoints,
  expandSeed,
  lagrangeAtZero,
  r64Add,
  r64AddInPlace,
  r64Random,
  shamirShare,
  checkDegree,
  checkDegree61,
  encodeField61,
  f61AddInPlace,
  f61FromBigInts,
  f61ToBigInts,
  f61ToBytes,
  fVecAddInPlace,
  lagrangeAtZero61,
  shamirShare61,
} from '../../src/protocols/math/index';
import { field61FromBytes, fieldFromBytes, fieldToBytes } from '../../src/protocols/common';
import { CONFIG_ENV } from '../lib/child';
import { emit, serve, workerConfig } from '../lib/worker';

/** One operation: a name, the size it works on, and whether it is slow (left out of --quick). */
interface Op {
  name: string;
  size: string;
  elements: number;
  heavy: boolean;
  fn: () => void;
}

function bench(name: string, size: string, fn: () => void, minMs = 500): { name: string; size: string; ops: number; ms: number } {
  fn(); // warm-up
  let runs = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    fn();
    runs++;
    t = performance.now();
  } while (t - t0 < minMs);
  const ms = (t - t0) / runs;
  return { name, size, ops: 1000 / ms, ms };
}

const L = 1_000_000;
const floats = new Float64Array(L).map(() => (Math.random() - 0.5) * 2000);
const floatArr = Array.from(floats);
const params = { parties: 10, bound: 1000, fractionalBits: 20, modulus: 'ring64' as const };
const a = r64Random(L);
const b = r64Random(L);
const seed = new Uint8Array(32).fill(3);

const ops: Op[] = [
  { name: 'encodeRing64 (Float64Array)', size: '1e6', elements: L, heavy: false, fn: () => void encodeRing64(floats, params) },
  { name: 'encodeRing64 (number[])', size: '1e6', elements: L, heavy: false, fn: () => void encodeRing64(floatArr, params) },
  { name: 'r64Random', size: '1e6', elements: L, heavy: false, fn: () => void r64Random(L) },
  { name: 'r64AddInPlace', size: '1e6', elements: L, heavy: false, fn: () => void r64AddInPlace(a, b) },
  { name: 'r64Add (allocating)', size: '1e6', elements: L, heavy: false, fn: () => void r64Add(a, b) },
  { name: 'expandSeed (ChaCha20)', size: '1e6', elements: L, heavy: false, fn: () => void expandSeed(seed, L, 'bench') },
  {
    name: 'encode + random + add (one share)',
    size: '1e6',
    elements: L,
    heavy: false,
    fn: () => {
      const x = encodeRing64(floats, params).vector;
      r64AddInPlace(x, r64Random(L));
    },
  },
];

const Ls = 10_000;
const fparams = { parties: 10, modulus: 'p127' as const };
const secret = encodeField(new Float64Array(Ls).map(() => Math.random()), fparams).elements;
// The field codec and vector addition of thresholdSum (per-element BigInt), next to the Shamir steps.
const secretBytes = fieldToBytes(secret);
const acc = secret.slice();
ops.push(
  { name: 'fieldToBytes (p127)', size: '1e4', elements: Ls, heavy: false, fn: () => void fieldToBytes(secret) },
  { name: 'fieldFromBytes (p127, range-checked)', size: '1e4', elements: Ls, heavy: false, fn: () => void fieldFromBytes(secretBytes, Ls, 'bench', 'bench') },
  { name: 'fVecAddInPlace (p127)', size: '1e4', elements: Ls, heavy: false, fn: () => void fVecAddInPlace(acc, secret) },
);
for (const [n, t] of [
  [5, 3],
  [10, 4],
  [20, 11],
] as const) {
  const xs = evaluationPoints(n);
  const heavy = n > 5;
  ops.push({ name: `shamirShare n=${n} t=${t}`, size: '1e4', elements: Ls, heavy, fn: () => void shamirShare(secret, t, xs) });
  const shares = shamirShare(secret, t, xs);
  const pts = shares.map((y, j) => ({ x: xs[j]!, y }));
  ops.push({ name: `lagrangeAtZero t=${t}`, size: '1e4', elements: Ls, heavy, fn: () => void lagrangeAtZero(pts.slice(0, t)) });
  ops.push({ name: `checkDegree r=${n} t=${t} (clean)`, size: '1e4', elements: Ls, heavy, fn: () => void checkDegree(pts, t) });
  const bad = pts.slice();
  bad[1] = { x: bad[1]!.x, y: bad[1]!.y.map((v) => (v === 0n ? 1n : v - 1n)) };
  if (n - t >= 2) ops.push({ name: `checkDegree r=${n} t=${t} (1 cheater, all elements)`, size: '1e4', elements: Ls, heavy: true, fn: () => void checkDegree(bad, t) });
}

// The same steps in GF(2^61 − 1) on typed arrays (what thresholdSum uses with the default bound).
const f61params = { parties: 10, modulus: 'p61' as const };
for (const [size, Lf] of [
  ['1e4', Ls],
  ['1e6', L],
] as const) {
  // Operation names must be unique: the 1e6 ones carry the size.
  const tag = Lf === Ls ? '' : ' L=1e6';
  const sec = encodeField61(Lf === Ls ? new Float64Array(Ls).map(() => Math.random()) : floats, { ...f61params, bound: 1000, fractionalBits: 20 }).elements;
  const bytes = f61ToBytes(sec);
  const acc61 = sec.slice();
  ops.push(
    { name: `encodeField61 (Float64Array)${tag}`, size, elements: Lf, heavy: false, fn: () => void encodeField61(floats.subarray(0, Lf), { ...f61params, bound: 1000, fractionalBits: 20 }) },
    { name: `f61ToBytes (p61, zero-copy, range-checked)${tag}`, size, elements: Lf, heavy: false, fn: () => void f61ToBytes(sec) },
    { name: `field61FromBytes (p61, range-checked)${tag}`, size, elements: Lf, heavy: false, fn: () => void field61FromBytes(bytes, Lf, 'bench', 'bench') },
    { name: `f61AddInPlace (p61)${tag}`, size, elements: Lf, heavy: false, fn: () => void f61AddInPlace(acc61, sec) },
  );
  const xs = evaluationPoints(5);
  ops.push({ name: `shamirShare n=5 t=3 (p61)${tag}`, size, elements: Lf, heavy: false, fn: () => void shamirShare61(sec, 3, xs) });
  const shares = shamirShare61(sec, 3, xs);
  const pts = shares.map((y, j) => ({ x: xs[j]!, y }));
  ops.push({ name: `lagrangeAtZero t=3 (p61)${tag}`, size, elements: Lf, heavy: false, fn: () => void lagrangeAtZero61(pts.slice(0, 3)) });
  ops.push({ name: `lagrangeAtZero r=5 (p61, all points as thresholdSum)${tag}`, size, elements: Lf, heavy: false, fn: () => void lagrangeAtZero61(pts) });
  ops.push({ name: `checkDegree r=5 t=3 (clean) (p61)${tag}`, size, elements: Lf, heavy: false, fn: () => void checkDegree61(pts, 3) });
  if (Lf === Ls) {
    const bad = pts.slice();
    bad[1] = { x: bad[1]!.x, y: f61FromBigInts(f61ToBigInts(bad[1]!.y).map((v) => (v === 0n ? 1n : v - 1n))) };
    ops.push({ name: `checkDegree r=5 t=3 (1 cheater, all elements) (p61)${tag}`, size, elements: Lf, heavy: true, fn: () => void checkDegree61(bad, 3) });
  }
}
{
  // p127 at L = 1e6, n = 5, t = 3 (heavy: seconds per call), for the direct comparison. Inputs
  // are built on first use, so runs that leave these out do not pay for them.
  const xs = evaluationPoints(5);
  let state: { sec: bigint[]; pts: { x: bigint; y: bigint[] }[] } | undefined;
  const get = (): { sec: bigint[]; pts: { x: bigint; y: bigint[] }[] } => {
    if (state === undefined) {
      const sec = encodeField(floats, { ...fparams, bound: 1000, fractionalBits: 20 }).elements;
      state = { sec, pts: shamirShare(sec, 3, xs).map((y, j) => ({ x: xs[j]!, y })) };
    }
    return state;
  };
  ops.push({ name: 'shamirShare n=5 t=3 L=1e6', size: '1e6', elements: L, heavy: true, fn: () => void shamirShare(get().sec, 3, xs) });
  ops.push({ name: 'lagrangeAtZero t=3 L=1e6', size: '1e6', elements: L, heavy: true, fn: () => void lagrangeAtZero(get().pts.slice(0, 3)) });
  ops.push({ name: 'checkDegree r=5 t=3 (clean) L=1e6', size: '1e6', elements: L, heavy: true, fn: () => void checkDegree(get().pts, 3) });
}

/** The operations, without their functions (for the parent). */
export interface OpInfo {
  name: string;
  size: string;
  elements: number;
  heavy: boolean;
}

if (process.env[CONFIG_ENV] !== undefined) {
  workerConfig<Record<string, never>>();
  serve({
    list: (): OpInfo[] => ops.map(({ name, size, elements, heavy }) => ({ name, size, elements, heavy })),
    /** Run `name` for at least `ms` (at least once) and return ms per call. */
    measure: (p: { name: string; ms: number }): number => {
      const op = ops.find((o) => o.name === p.name);
      if (op === undefined) throw new Error(`unknown op ${p.name}`);
      let runs = 0;
      const t0 = performance.now();
      let t = t0;
      do {
        op.fn();
        runs++;
        t = performance.now();
      } while (t - t0 < p.ms);
      return (t - t0) / runs;
    },
  });
  emit({ event: 'ready', pid: process.pid });
} else {
  const rows = ops.map((o) => bench(o.name, o.size, o.fn));
  console.log(`node ${process.version}`);
  console.log('| operation | L | ms/op | ops/s |');
  console.log('| --- | --- | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.name} | ${r.size} | ${r.ms.toFixed(2)} | ${r.ops.toFixed(1)} |`);
}
