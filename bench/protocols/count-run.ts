/**
 * Count what one small secureSum (or plainSum) does per party (issue 18.1): node:crypto objects and
 * calls (hashes, HMACs, ciphers, random draws, signatures, verifications), messages and bytes,
 * timers — all n parties in this process, wrappers on node:crypto's exports (installed before the
 * sources load), averaged over `--runs` runs after as many warm-up runs.
 *
 *   node --import tsx bench/protocols/count-run.ts [--n=5] [--runs=200] [--variant=secureSum|plainSum] [--L=1]
 *
 * @module
 */
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const n = Number(arg('n', '5'));
const runs = Number(arg('runs', '200'));
const variant = arg('variant', 'secureSum');
const L = Number(arg('L', '1'));

const counts = new Map<string, number>();
const bump = (k: string): void => void counts.set(k, (counts.get(k) ?? 0) + 1);
const c = crypto as unknown as Record<string, (...a: unknown[]) => unknown>;
for (const name of ['createHash', 'createHmac', 'createCipheriv', 'createDecipheriv', 'randomBytes', 'randomFillSync', 'sign', 'verify', 'hash', 'createPrivateKey', 'createPublicKey']) {
  const orig = c[name];
  if (typeof orig !== 'function') continue;
  c[name] = function (this: unknown, ...a: unknown[]) {
    bump(name === 'createCipheriv' || name === 'createDecipheriv' || name === 'createHash' || name === 'createHmac' ? `${name}(${String(a[0])})` : name);
    return orig.apply(this, a);
  };
}
for (const name of ['setTimeout', 'setImmediate'] as const) {
  const orig = globalThis[name] as (...a: unknown[]) => unknown;
  (globalThis as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
    bump(name);
    return orig(...a);
  };
}
syncBuiltinESMExports();

async function main(): Promise<void> {
  const { createTestGroups } = await import('../../test/support/group-harness.js');
  const { secureSum } = await import('../../src/protocols/additive.js');
  const { plainSum } = await import('../../src/protocols/baselines.js');
  const { groups } = await createTestGroups(n, { roundTimeoutMs: 30_000 });
  const input = L === 1 ? 1.5 : new Float64Array(L).fill(1.5);
  const once = (): Promise<unknown> =>
    Promise.all(groups.map((g) => (variant === 'plainSum' ? plainSum(g, input, { acknowledgeInsecure: true }) : secureSum(g, input))));
  for (let i = 0; i < runs; i++) await once();
  const stats = (): { sent: number; bytes: number } => {
    let sent = 0;
    let bytes = 0;
    for (const g of groups) for (const s of g.stats()) {
      sent += s.messagesSent;
      bytes += s.bytesSent;
    }
    return { sent, bytes };
  };
  counts.clear();
  const s0 = stats();
  for (let i = 0; i < runs; i++) await once();
  const s1 = stats();
  const per = (v: number): string => (v / (runs * n)).toFixed(2);
  console.log(`${variant}, n = ${n}, L = ${L}: per party and run (mean of ${runs} runs after ${runs} warm-up)`);
  console.log(`  channel messages sent ${per(s1.sent - s0.sent)}, wire bytes sent ${per(s1.bytes - s0.bytes)}`);
  for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`  ${k} ${per(v)}`);
  await Promise.all(groups.map((g) => g.close()));
}

void main();
