/**
 * review22 R22-3: `coupler roster check FILE` first asks whether FILE is an identity file (to warn
 * that it holds a secret) with a plain `readFile`: a FIFO with no writer blocked the open for ever
 * (measured: still running after 10 minutes, SIGTERM did not end it), and a character device such
 * as /dev/zero was read up to Node's 2 GiB file limit before the bounded roster reader refused it.
 * `coupler simulate --input FILE` read its input the same way. The roster and identity readers
 * themselves (readBoundedFile: non-blocking open, a regular file within a cap) were right.
 *
 * Real processes: the CLI source run by node with tsx (no build needed), a real FIFO. Each run has
 * a deadline and is killed after it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, runProcess, tempDir, ROOT, baseEnv } from '../cli/_cli';

afterAll(() => cleanupAll());

function cli(args: string[], timeoutMs = 20_000): ReturnType<typeof runProcess> {
  return runProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { timeoutMs, env: baseEnv() });
}

test('R22-3: roster check on a FIFO with no writer ends with a typed error, no hang', async () => {
  const dir = tempDir('coupler-r22-');
  const fifo = join(dir, 'roster.json');
  execFileSync('mkfifo', [fifo]);
  const r = await cli(['roster', 'check', fifo]);
  expect(r.timedOut).toBe(false);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/COUPLER_ERR_\w+: .*not a regular file/);
}, 40_000);

test('R22-3: simulate --input naming a FIFO with no writer ends with a typed error, no hang', async () => {
  const dir = tempDir('coupler-r22-');
  const fifo = join(dir, 'input.json');
  execFileSync('mkfifo', [fifo]);
  const r = await cli(['simulate', 'demo', '--parties', '2', '--input', fifo, '--timeout', '20']);
  expect(r.timedOut).toBe(false);
  expect(r.code).not.toBe(0);
  expect(r.stderr + r.stdout).toMatch(/--input .*not a regular file/);
}, 40_000);

test('held: roster check on an identity file still says it is one (the secret never printed)', async () => {
  const dir = tempDir('coupler-r22-');
  const id = join(dir, 'id.json');
  const r0 = await cli(['keygen', '--out', id]);
  expect(r0.code).toBe(0);
  const r = await cli(['roster', 'check', id]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('is an identity file');
  const secret = (JSON.parse(readFileSync(id, 'utf8')) as Record<string, string>);
  for (const v of Object.values(secret)) if (typeof v === 'string' && v.length >= 32) expect(r.stderr + r.stdout).not.toContain(v);
}, 40_000);
