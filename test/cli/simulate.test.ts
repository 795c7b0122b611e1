/**
 * `coupler simulate` as users run it: the built CLI starts N party processes (each `coupler run`
 * with a vantage6-style environment), they find each other (embedded DNS or a static list),
 * authenticate and sum. Checked from the outside: exit code, the printed report (agreement,
 * "correct", one traffic line per ordered pair with matching byte counts), and — with --keep —
 * every party's output file against the sum of the demo inputs computed here.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoVector } from '../../src/cli/demo';
import { ROOT, baseEnv, childrenOf, cleanupAll, isAlive, requireBuiltCli, runCli, tempDir, trackPid, type Run } from './_cli';

beforeAll(() => requireBuiltCli());
afterAll(() => cleanupAll());

const CLOSE_FRAME_BYTES = 25;
/** Largest wire size of one probe or probe answer here (a nonce, a run id, up to 8 short party ids it waits for, framing and tag: 71 B seen). */
const MAX_PROBE_FRAME_BYTES = 512;
const PROTOCOLS = ['secureSum', 'dkSecureSum', 'thresholdSum', 'ringSecureSum', 'plainSum'] as const;

interface DemoResult {
  protocol: string;
  length: number;
  head: number[];
  total: number;
  digest: string;
  contributors: string[];
}

/** Check the printed report of a demo run; returns the traffic table. */
function checkReport(r: Run, n: number): Map<string, { sent: number; received: number }> {
  const where = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  expect({ code: r.code, where }).toEqual({ code: 0, where });
  expect(r.stdout).toContain(`agreement: all ${n} parties report the same result`);
  expect(r.stdout).toContain('check against the sum computed in the clear: correct');
  expect(r.stdout).toMatch(/^total time: \d+ ms$/m);
  // One row per party, all exit 0.
  // Columns: party, pid, exit (code or signal), time, sent, received, result.
  const rows = r.stdout.split('\n').filter((l) => /^ +\d+ +\d+ +\S+ +\d+ +\d+ +\d+ +\{/.test(l));
  expect(rows).toHaveLength(n);
  for (const row of rows) expect(row.trim().split(/ +/)[2]).toBe('0');
  // Traffic per peer: every ordered pair once, bytes > 0, and what i sent to j is what j received from i.
  const traffic = new Map<string, { sent: number; received: number; probesSent: number; probesReceived: number }>();
  for (const m of r.stdout.matchAll(/^ {2}(\d+) -> (\d+): sent (\d+) B, received (\d+) B(?:, probes (\d+) sent, (\d+) received)?$/gm)) {
    const key = `${m[1]}->${m[2]}`;
    expect(traffic.has(key)).toBe(false);
    traffic.set(key, { sent: Number(m[3]), received: Number(m[4]), probesSent: Number(m[5] ?? 0), probesReceived: Number(m[6] ?? 0) });
  }
  if (n <= 8) {
    expect(r.stdout).toContain('traffic per peer (wire bytes, including framing and authentication tags):');
    expect(traffic.size).toBe(n * (n - 1));
    for (let i = 1; i <= n; i++) {
      for (let j = 1; j <= n; j++) {
        if (i === j) continue;
        const ij = traffic.get(`${i}->${j}`);
        const ji = traffic.get(`${j}->${i}`);
        expect(ij).toBeDefined();
        expect(ij!.sent).toBeGreaterThan(0);
        // Each party writes its counters when it closes; the one difference allowed is a single
        // close frame (9-byte header + 16-byte tag) sent after the other side had written its own —
        // and liveness probes (or answers) i sent that j never read because it had closed first (a
        // tolerant round probes a party still missing at half its deadline: a loaded machine).
        const unread = ij!.probesSent - ji!.probesReceived;
        const diff = ij!.sent - ji!.received;
        if (unread > 0) {
          expect(diff).toBeGreaterThan(0);
          expect(diff).toBeLessThanOrEqual(CLOSE_FRAME_BYTES + unread * MAX_PROBE_FRAME_BYTES);
        } else expect([0, CLOSE_FRAME_BYTES]).toContain(Math.abs(diff));
      }
    }
  }
  expect(r.stderr).toBe('');
  return traffic;
}

/** The results the parties wrote (run with --keep and TMPDIR=dir). */
function keptResults(r: Run, dir: string, n: number): DemoResult[] {
  const kept = /^files kept in (.+)$/m.exec(r.stdout)?.[1];
  expect(kept).toBeDefined();
  expect(kept!.startsWith(dir)).toBe(true);
  return Array.from({ length: n }, (_, i) => JSON.parse(readFileSync(join(kept!, `party-${i + 1}`, 'output'), 'utf8')) as DemoResult);
}

/** The results match the sum of the demo inputs, computed here in the clear. */
function checkSum(results: DemoResult[], n: number, length: number, protocol: string): void {
  const expected = new Float64Array(length);
  for (let i = 0; i < n; i++) {
    const v = demoVector(i, length);
    for (let j = 0; j < length; j++) expected[j]! += v[j]!;
  }
  const expectedTotal = expected.reduce((a, b) => a + b, 0);
  // Fixed point with 16 fractional bits: each input is off by at most 2^-17.
  const tol = n * 2 ** -16;
  for (const res of results) {
    expect(res.protocol).toBe(protocol);
    expect(res.length).toBe(length);
    expect(res.contributors).toEqual(Array.from({ length: n }, (_, i) => String(i + 1)));
    expect(res.head).toHaveLength(Math.min(3, length));
    res.head.forEach((h, j) => expect(Math.abs(h - expected[j]!)).toBeLessThanOrEqual(tol));
    // The whole vector, not only the head the CLI's own check looks at.
    expect(Math.abs(res.total - expectedTotal)).toBeLessThanOrEqual(tol * length);
    expect(res.digest).toBe(results[0]!.digest);
  }
}

describe('coupler simulate demo', () => {
  // Every protocol once, the discoveries alternating (discovery is independent of the protocol),
  // and secureSum with both: six runs instead of ten, for the CI time budget.
  const cases = [...PROTOCOLS.map((p, i) => [p, i % 2 === 0 ? 'dns' : 'static'] as const), ['secureSum', 'static'] as const];
  test.each(cases)('--protocol %s --discovery %s, 3 parties', async (protocol, discovery) => {
    const dir = tempDir('coupler-cli-sim-');
    const length = 17;
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--protocol', protocol, '--discovery', discovery, '--length', String(length), '--keep', '--timeout', '30'], {
      env: baseEnv({ TMPDIR: dir }),
      timeoutMs: 40_000,
    });
    checkReport(r, 3);
    expect(r.stdout).toMatch(
      new RegExp(`^coupler simulate: 3 parties, demo \\(${protocol}, length ${length}\\) method "sum", vantage6 4\\.x contract, discovery ${discovery === 'dns' ? 'dns \\(tasks\\.coupler-sim via 127\\.0\\.0\\.1:\\d+\\)' : 'static'}$`, 'm'),
    );
    // Progress lines of every party (not --quiet): each ran the method under the v4 contract.
    for (let i = 1; i <= 3; i++) expect(r.stdout).toContain(`[party ${i}] info: running method "sum" (contract v4)`);
    checkSum(keptResults(r, dir, 3), 3, length, protocol);
  });

  test('the README quick start, with exactly its arguments', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const quick = readme.slice(readme.indexOf('## Quick start'));
    const line = /npx coupler (simulate [^#&\n]*)/.exec(quick)?.[1];
    expect(line).toBeDefined();
    const args = line!.trim().split(/\s+/);
    expect(args.slice(0, 2)).toEqual(['simulate', 'demo']);
    const n = Number(args[args.indexOf('--parties') + 1] ?? 3);
    const r = await runCli(args, { timeoutMs: 60_000 });
    checkReport(r, n);
  });

  test.each([
    ['--protocol', 'dkSecureSum', '--k', '3'],
    ['--protocol', 'thresholdSum', '--t', '3'],
  ])('README: "%s %s %s %s" with 5 parties', async (...flags) => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`${flags.join(' ')}\``);
    const r = await runCli(['simulate', 'demo', '--parties', '5', '--length', '8', '--no-progress', ...flags], { timeoutMs: 40_000 });
    checkReport(r, 5);
    expect(r.stdout).not.toContain('[party');
  });

  test('--length 1 and --no-progress', async () => {
    const dir = tempDir('coupler-cli-sim-');
    const r = await runCli(['simulate', 'demo', '-n', '2', '--length', '1', '--no-progress', '--keep', '--discovery', 'static'], { env: baseEnv({ TMPDIR: dir }) });
    // Two parties: the demo refuses, since the sum would reveal the other input.
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/agreement: FAILED/);
    const r3 = await runCli(['simulate', 'demo', '-n', '3', '--length', '1', '--no-progress', '--keep', '--discovery', 'static'], { env: baseEnv({ TMPDIR: dir }) });
    checkReport(r3, 3);
    expect(r3.stdout).not.toContain('[party');
    checkSum(keptResults(r3, dir, 3), 3, 1, 'secureSum');
  });

  test('without --keep nothing is left in TMPDIR (identities hold secret keys)', async () => {
    const dir = tempDir('coupler-cli-sim-');
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--length', '4', '--no-progress'], { env: baseEnv({ TMPDIR: dir }) });
    checkReport(r, 3);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('coupler simulate <module>', () => {
  /** A user's algorithm module next to node_modules/coupler (the repository, as `npm install coupler` would give). */
  function userModule(): { dir: string; module: string } {
    const dir = tempDir('coupler-cli-mod-');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'coupler'), 'dir');
    const module = join(dir, 'algorithm.mjs');
    writeFileSync(
      module,
      `import { readFile, writeFile } from 'node:fs/promises';
import { secureSum } from 'coupler';
import { joinPeerGroup } from 'coupler/vantage6';

export async function partial(kwargs, ctx) {
  const db = ctx.databases.get('default');
  const rows = (await readFile(db.uri, 'utf8')).trim().split('\\n').slice(1).map(Number);
  const group = await joinPeerGroup(kwargs, ctx);
  try {
    const { sum } = await secureSum(group, { total: BigInt(rows.reduce((a, b) => a + b, 0)) * BigInt(kwargs.scale), count: BigInt(rows.length) });
    return { sum, label: kwargs.label, type: db.type };
  } finally {
    await group.close();
  }
}

export async function failFirst(kwargs, ctx) {
  if (ctx.organizationId === '1') throw new Error('party 1 has no data');
  const group = await joinPeerGroup(kwargs, ctx);
  await group.close();
  return 'joined';
}

export async function chatty(kwargs, ctx) {
  await writeFile(new URL('./started-' + ctx.organizationId, import.meta.url), '');
  for (let i = 0; i < 600; i++) {
    ctx.logger.info('still waiting ' + i);
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'late';
}

export async function wait(kwargs, ctx) {
  await writeFile(new URL('./started-' + ctx.organizationId, import.meta.url), '');
  await new Promise((r) => setTimeout(r, 60000));
  return 'late';
}
`,
    );
    return { dir, module };
  }

  test('--input (kwargs + perParty) and --data: every party gets its own file and the merged kwargs', async () => {
    const { dir, module } = userModule();
    const data = [
      [1, 2, 3],
      [10, 20],
      [100, 200, 300, 400],
    ].map((rows, i) => {
      const f = join(dir, `station-${i + 1}.csv`);
      writeFileSync(f, `value\n${rows.join('\n')}\n`);
      return f;
    });
    const input = join(dir, 'input.json');
    writeFileSync(input, JSON.stringify({ kwargs: { scale: 2, label: 'all' }, perParty: [{}, { label: 'all' }, {}] }));
    const r = await runCli(['simulate', module, '--method', 'partial', '--input', input, '--data', data.join(','), '--discovery', 'static', '--no-progress'], { cwd: dir, timeoutMs: 40_000 });
    const where = `${r.stdout}\n${r.stderr}`;
    expect({ code: r.code, where }).toEqual({ code: 0, where });
    expect(r.stdout).toContain('coupler simulate: 3 parties'); // --parties defaults to the number of --data files
    expect(r.stdout).toContain('agreement: all 3 parties report the same result');
    expect(r.stdout).not.toContain('check against the sum computed in the clear'); // only for the demo
    const expectedTotal = 2 * (1 + 2 + 3 + 10 + 20 + 100 + 200 + 300 + 400);
    const results = r.stdout
      .split('\n')
      .filter((l) => /^ +\d+ +\d+ +0 +\d+ +\d+ +\d+ +\{/.test(l))
      .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as unknown);
    expect(results).toHaveLength(3);
    for (const res of results) expect(res).toEqual({ sum: { total: expectedTotal, count: 9 }, label: 'all', type: 'csv' });
  });

  test('SIGTERM to simulate stops the parties it started', async () => {
    const { dir, module } = userModule();
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    let simPid = 0;
    const running = runCli(['simulate', module, '--method', 'wait', '--parties', '3', '--discovery', 'static', '--quiet', '--timeout', '90'], {
      cwd: dir,
      env: baseEnv({ TMPDIR: tmp }),
      timeoutMs: 20_000,
      onSpawn: (c) => (simPid = c.pid ?? 0),
    });
    const kids = await childrenOf(simPid, 3, 10_000);
    for (const k of kids) trackPid(k);
    expect(kids).toHaveLength(3);
    // Every party is inside its method (it has written its first log line and a marker file).
    const deadline0 = Date.now() + 10_000;
    while (Date.now() < deadline0 && readdirSync(dir).filter((f) => f.startsWith('started-')).length < 3) await new Promise((res) => setTimeout(res, 50));
    expect(readdirSync(dir).filter((f) => f.startsWith('started-'))).toHaveLength(3);
    process.kill(simPid, 'SIGTERM');
    const r = await running;
    expect(r.signal === 'SIGTERM' || r.code !== 0).toBe(true);
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline && kids.some(isAlive)) await new Promise((res) => setTimeout(res, 100));
    // Recorded for the report; the assertion below is what the brief asks of any CLI that spawns.
    orphansAfterSigterm = kids.filter(isAlive).length;
    leftoverAfterSigterm = readdirSync(tmp).length;
  }, 30_000);

  // Killing simulate (CI timeout, `timeout 60 npx coupler simulate ...`, a process manager) must
  // not leave its N party processes running, nor its temporary folder with every party's key.
  let orphansAfterSigterm = -1;
  let leftoverAfterSigterm = -1;
  test('after SIGTERM no party process is left and the temporary folder is removed', () => {
    expect(orphansAfterSigterm).toBe(0);
    expect(leftoverAfterSigterm).toBe(0);
  });

  // Every other way simulate can end: the terminal closes (SIGHUP), it is killed outright (SIGKILL:
  // it cannot clean up, so the parties notice they were re-parented, remove the folder and exit),
  // or its reader goes away (`simulate ... | head -2`: EPIPE on the next write).
  test.each(['SIGHUP', 'SIGKILL', 'EPIPE'] as const)('%s: no party process and no key folder is left', async (how) => {
    const { dir, module } = userModule();
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    let sim: ChildProcess | undefined;
    const method = how === 'EPIPE' ? 'chatty' : 'wait';
    const running = runCli(['simulate', module, '--method', method, '--parties', '3', '--discovery', 'static', ...(how === 'EPIPE' ? [] : ['--quiet']), '--timeout', '90'], {
      cwd: dir,
      env: baseEnv({ TMPDIR: tmp }),
      timeoutMs: 25_000,
      onSpawn: (c) => (sim = c),
    });
    const kids = await childrenOf(sim!.pid!, 3, 10_000);
    for (const k of kids) trackPid(k);
    expect(kids).toHaveLength(3);
    const deadline0 = Date.now() + 10_000;
    while (Date.now() < deadline0 && readdirSync(dir).filter((f) => f.startsWith('started-')).length < 3) await new Promise((res) => setTimeout(res, 50));
    expect(readdirSync(tmp)).toHaveLength(1); // the key folder exists while the run is on
    if (how === 'EPIPE') sim!.stdout!.destroy();
    else process.kill(sim!.pid!, how);
    const r = await running;
    expect(r.timedOut).toBe(false);
    if (how === 'EPIPE') expect(r.code).toBe(141);
    if (how === 'SIGHUP') expect(r.code).toBe(129);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (kids.some(isAlive) || readdirSync(tmp).length > 0)) await new Promise((res) => setTimeout(res, 100));
    expect(kids.filter(isAlive)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  }, 40_000);

  // When one party fails before joining (here: party 1 has no data), the others would wait for it
  // until the mesh deadline (here 60 s): simulate stops them once the run cannot succeed.
  test('a party that fails at once ends the run promptly, not at the deadline', async () => {
    const { dir, module } = userModule();
    const r = await runCli(['simulate', module, '--method', 'failFirst', '--parties', '3', '--discovery', 'static', '--timeout', '60'], { cwd: dir, timeoutMs: 40_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[party 1] error: Error: party 1 has no data');
    expect(r.stdout).toContain('party 1 failed; stopping the parties');
    expect(r.ms).toBeLessThan(20_000);
  });
});
