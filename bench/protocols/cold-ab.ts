/**
 * Cold runs, paired between two source trees (issue 18.1): the issue's separate-process bench
 * measures a process's first ~33 sums, most of whose CPU is V8 still compiling (interpreted code,
 * the optimizing compiler's threads — `process.cpuUsage` counts them). This starts fresh processes
 * alternately from tree A and tree B (ABBA…); each forms an n-party group in its own process (not
 * measured), then runs `--runs` secureSums of one number at every party at once and reports the
 * process CPU (user + system, all threads) of those runs, and of `--warm` more runs after 300
 * unmeasured ones. Printed: per pair the ratio A / B, and the median and IQR of the ratios.
 *
 *   node --import tsx bench/protocols/cold-ab.ts --a=<tree> --b=<tree> [--procs=20] [--runs=10] [--n=5] [--variant=secureSum|plainSum]
 *
 * Trees are source checkouts with `node_modules` (e.g. `git archive <commit> | tar -x -C /tmp/x`
 * and a link to node_modules); each child runs with its tree as working directory.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const arg = (name: string, dflt?: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;

async function child(): Promise<void> {
  const tree = arg('tree')!;
  const n = Number(arg('n', '5'));
  const runs = Number(arg('runs', '10'));
  const warm = Number(arg('warm', '0'));
  const variant = arg('variant', 'secureSum');
  const at = (f: string): string => pathToFileURL(resolve(tree, f)).href;
  const { createTestGroups } = (await import(at('test/support/group-harness.ts'))) as typeof import('../../test/support/group-harness');
  const { secureSum } = (await import(at('src/protocols/additive.ts'))) as typeof import('../../src/protocols/additive');
  const { plainSum } = (await import(at('src/protocols/baselines.ts'))) as typeof import('../../src/protocols/baselines');
  const { groups } = await createTestGroups(n, { roundTimeoutMs: 30_000 });
  const once = (): Promise<unknown> => Promise.all(groups.map((g) => (variant === 'plainSum' ? plainSum(g, 1.5, { acknowledgeInsecure: true }) : secureSum(g, 1.5))));
  const cpu = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
  const c0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) await once();
  const cold = cpu(process.cpuUsage(c0));
  let warmMs = 0;
  if (warm > 0) {
    for (let i = 0; i < 300; i++) await once();
    const c1 = process.cpuUsage();
    for (let i = 0; i < warm; i++) await once();
    warmMs = cpu(process.cpuUsage(c1));
  }
  await Promise.all(groups.map((g) => g.close()));
  process.stdout.write(JSON.stringify({ cold: cold / (runs * n), warm: warm > 0 ? warmMs / (warm * n) : undefined }) + '\n');
}

function parent(): void {
  const a = resolve(arg('a')!);
  const b = resolve(arg('b')!);
  const procs = Number(arg('procs', '20'));
  const pass = ['n', 'runs', 'warm', 'variant'].flatMap((k) => (arg(k) === undefined ? [] : [`--${k}=${arg(k)}`]));
  const one = (tree: string): { cold: number; warm?: number } =>
    JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', resolve(tree, 'bench/protocols/cold-ab.ts'), 'child', `--tree=${tree}`, ...pass], { cwd: tree, encoding: 'utf8' }).trim().split('\n').pop()!) as { cold: number; warm?: number };
  const ratios: number[] = [];
  const warmRatios: number[] = [];
  const med = (x: number[]): string => {
    const s = [...x].sort((p, q) => p - q);
    const q = (f: number): number => s[Math.min(s.length - 1, Math.floor(f * s.length))]!;
    return `${q(0.5).toFixed(3)} (IQR ${q(0.25).toFixed(3)}–${q(0.75).toFixed(3)}, ${s.length} pairs)`;
  };
  for (let i = 0; i < procs; i++) {
    const order = i % 2 === 0 ? [a, b] : [b, a];
    const load = (process.platform === 'linux' ? execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ')[0] : '?') as string;
    const got = new Map(order.map((t) => [t, one(t)] as const));
    const ra = got.get(a)!;
    const rb = got.get(b)!;
    ratios.push(ra.cold / rb.cold);
    if (ra.warm !== undefined && rb.warm !== undefined) warmRatios.push(ra.warm / rb.warm);
    console.log(`pair ${i + 1} load ${load}: A cold ${ra.cold.toFixed(3)} ms/party-run, B ${rb.cold.toFixed(3)}${ra.warm === undefined ? '' : `; warm A ${ra.warm.toFixed(3)}, B ${rb.warm!.toFixed(3)}`}`);
  }
  console.log(`A / B cold CPU per party and run: ${med(ratios)}`);
  if (warmRatios.length > 0) console.log(`A / B warm CPU per party and run: ${med(warmRatios)}`);
}

if (process.argv[2] === 'child') void child();
else parent();
