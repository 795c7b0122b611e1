/**
 * Micro-benchmarks of the math layer. Run: node --import tsx bench/math.ts
 */
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
} from '../src/protocols/math/index';

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

const rows = [
  bench('encodeRing64 (Float64Array)', '1e6', () => void encodeRing64(floats, params)),
  bench('encodeRing64 (number[])', '1e6', () => void encodeRing64(floatArr, params)),
  bench('r64Random', '1e6', () => void r64Random(L)),
  bench('r64AddInPlace', '1e6', () => void r64AddInPlace(a, b)),
  bench('r64Add (allocating)', '1e6', () => void r64Add(a, b)),
  bench('expandSeed (ChaCha20)', '1e6', () => void expandSeed(seed, L, 'bench')),
  bench('encode + random + add (one share)', '1e6', () => {
    const x = encodeRing64(floats, params).vector;
    r64AddInPlace(x, r64Random(L));
  }),
];

const Ls = 10_000;
const fparams = { parties: 10, modulus: 'p127' as const };
const secret = encodeField(new Float64Array(Ls).map(() => Math.random()), fparams).elements;
for (const [n, t] of [
  [5, 3],
  [10, 4],
  [20, 11],
] as const) {
  const xs = evaluationPoints(n);
  rows.push(bench(`shamirShare n=${n} t=${t}`, '1e4', () => void shamirShare(secret, t, xs)));
  const shares = shamirShare(secret, t, xs);
  const pts = shares.map((y, j) => ({ x: xs[j]!, y }));
  rows.push(bench(`lagrangeAtZero t=${t}`, '1e4', () => void lagrangeAtZero(pts.slice(0, t))));
  rows.push(bench(`checkDegree r=${n} t=${t} (clean)`, '1e4', () => void checkDegree(pts, t)));
  const bad = pts.slice();
  bad[1] = { x: bad[1]!.x, y: bad[1]!.y.map((v) => (v === 0n ? 1n : v - 1n)) };
  if (n - t >= 2) rows.push(bench(`checkDegree r=${n} t=${t} (1 cheater, all elements)`, '1e4', () => void checkDegree(bad, t)));
}

console.log(`node ${process.version}`);
console.log('| operation | L | ms/op | ops/s |');
console.log('| --- | --- | ---: | ---: |');
for (const r of rows) console.log(`| ${r.name} | ${r.size} | ${r.ms.toFixed(2)} | ${r.ops.toFixed(1)} |`);
