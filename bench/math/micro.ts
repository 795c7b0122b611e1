/**
 * Micro-benchmarks of the math layer (single thread).
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
  fVecAddInPlace,
} from '../../src/protocols/math/index';
import { fieldFromBytes, fieldToBytes } from '../../src/protocols/common';
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
