/**
 * The CLI as a user meets it (issue 12): simulate's report (pid and the signal that ended a party,
 * which parties and fields differ, --json, --quiet, --vantage6 5, --transport relay), errors that
 * point at the mistake before any party starts (--method, unknown flags with "did you mean",
 * --input naming its file), and the roster subcommands' guards. Real `coupler` processes.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cleanupAll, expectCleanFailure, requireBuiltCli, runCli, tempDir } from './_cli';

jest.setTimeout(60_000);
beforeAll(() => requireBuiltCli());
afterAll(() => cleanupAll());

/** An algorithm module (plain ESM) in a fresh folder that resolves `coupler` to this package. */
function moduleWith(source: string): { dir: string; module: string } {
  const dir = tempDir('coupler-cli-polish-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'coupler'), 'dir');
  const module = join(dir, 'algorithm.mjs');
  writeFileSync(module, source);
  return { dir, module };
}

const MODULE = `import { CouplerError, secureSum } from 'coupler';
import { joinPeerGroup } from 'coupler/vantage6';

export async function partial(kwargs, ctx) {
  const group = await joinPeerGroup(kwargs, ctx);
  try {
    const { sum } = await secureSum(group, Number(ctx.organizationId));
    // Party 3 reports one field differently: the report must name it and who differs.
    return { sum, station: ctx.organizationId === '3' ? 'odd' : 'same', n: 3 };
  } finally {
    await group.close();
  }
}

export async function fails(kwargs, ctx) {
  if (ctx.organizationId === '2') throw new CouplerError('COUPLER_ERR_VALUE_INVALID', 'column "age" holds no numbers');
  if (ctx.organizationId === '3') throw new RangeError('no rows at this station');
  return 'ok';
}

export async function killed(kwargs, ctx) {
  if (ctx.organizationId === '2') process.kill(process.pid, 'SIGKILL');
  return 'alive';
}
`;

describe('coupler simulate: the report', () => {
  test('when results differ, the agreement line names the field and which parties report what', async () => {
    const { dir, module } = moduleWith(MODULE);
    const r = await runCli(['simulate', module, '--method', 'partial', '--parties', '3', '--discovery', 'static', '--no-progress'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('agreement: FAILED: the results differ: field "station": parties 1, 2 vs party 3');
    expect(r.stdout).not.toContain('field "sum"');
  });

  test('a party ended by a signal: its pid, and SIGKILL (not "exit null") in the table and the agreement line', async () => {
    const { dir, module } = moduleWith(MODULE);
    const r = await runCli(['simulate', module, '--method', 'killed', '--parties', '3', '--discovery', 'static', '--no-progress'], { cwd: dir });
    expect(r.code).toBe(1);
    const row = r.stdout.split('\n').find((l) => /^ +2 +\d+ +SIGKILL +\d+/.test(l));
    expect(row).toBeDefined();
    expect(r.stdout).not.toContain('null');
    expect(r.stdout).toMatch(/agreement: FAILED: party 2 failed or gave no result \(2: SIGKILL\)/);
  });

  test('progress: each party\'s run reports its phases (plain lines when not on a terminal), with the bytes so far', async () => {
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--length', '50000', '--discovery', 'static']);
    expect(r.code).toBe(0);
    for (const party of ['1', '2', '3']) {
      for (const phase of ['agree', 'share', 'open']) expect(r.stdout).toMatch(new RegExp(`\\[party ${party}\\] secureSum sum\\.1: ${phase}, sent [0-9.]+ MB, received [0-9.]+ MB, [0-9.]+ s`));
      // done: at least the 2 · 8L bytes of the opening of T_j went out
      const done = new RegExp(`\\[party ${party}\\] secureSum sum\\.1: done, sent ([0-9.]+) MB`).exec(r.stdout);
      expect(Number(done![1])).toBeGreaterThanOrEqual(0.8);
    }
    expect(r.stdout).not.toContain('info: progress {');
  });

  test('--json: one JSON document with full results, pids, exit codes, signals, traffic and paths', async () => {
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--length', '300', '--discovery', 'static', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      agreed: boolean;
      correct: boolean;
      vantage6: number;
      parties: { party: string; pid: number; exitCode: number; signal: null; result: { head: number[]; length: number }; traffic: { peer: string; path: string }[] }[];
    };
    expect(doc).toMatchObject({ agreed: true, correct: true, vantage6: 4 });
    expect(doc.parties.map((p) => p.party)).toEqual(['1', '2', '3']);
    for (const p of doc.parties) {
      expect(p).toMatchObject({ exitCode: 0, signal: null });
      expect(p.pid).toBeGreaterThan(1);
      expect(p.traffic.map((t) => t.path)).toEqual(['direct', 'direct']);
    }
    // The table cuts a long result; --json does not.
    expect(JSON.stringify(doc.parties[0]!.result).length).toBeGreaterThan(120);
  });

  test('why a party failed (its error code and message) is in --json, --quiet and the report, also without the live log lines', async () => {
    const { dir, module } = moduleWith(MODULE);
    const args = ['simulate', module, '--method', 'fails', '--parties', '3', '--discovery', 'static'];
    const json = await runCli([...args, '--json'], { cwd: dir });
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout) as { failed: string[]; parties: { party: string; exitCode: number; error?: { code?: string; message: string } }[] };
    expect(doc.failed).toEqual(['2', '3']);
    expect(doc.parties.map((p) => [p.party, p.exitCode, p.error])).toEqual([
      ['1', 0, undefined],
      ['2', 1, { code: 'COUPLER_ERR_VALUE_INVALID', message: 'column "age" holds no numbers' }],
      ['3', 1, { message: 'RangeError: no rows at this station' }],
    ]);
    const quiet = await runCli([...args, '--quiet'], { cwd: dir });
    expect(quiet.stdout.trim().split('\n')).toEqual([
      '1 "ok"',
      '# party 2: no result (exit 1): COUPLER_ERR_VALUE_INVALID: column "age" holds no numbers',
      '# party 3: no result (exit 1): RangeError: no rows at this station',
    ]);
    const plain = await runCli([...args, '--no-progress'], { cwd: dir });
    expect(plain.stdout).toContain(
      'agreement: FAILED: parties 2, 3 failed or gave no result (2: exit 1, COUPLER_ERR_VALUE_INVALID: column "age" holds no numbers; 3: exit 1, RangeError: no rows at this station)',
    );
  });

  test('--quiet: only "<party> <JSON result>" lines', async () => {
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--length', '4', '--discovery', 'static', '--quiet']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    lines.forEach((l, i) => {
      expect(l.startsWith(`${i + 1} {`)).toBe(true);
      expect(JSON.parse(l.slice(2))).toMatchObject({ protocol: 'secureSum', length: 4 });
    });
  });

  test('--vantage6 5 --transport relay: the 5.x contract, every pair through the embedded relay, and the report says so', async () => {
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--length', '16', '--vantage6', '5', '--transport', 'relay']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('vantage6 5.x contract');
    expect(r.stdout.match(/\(contract v5\)/g)).toHaveLength(3);
    expect(r.stdout).toContain('paths: 0 pair(s) direct, 3 through the relay');
    expect(r.stdout.match(/, via the relay$/gm)).toHaveLength(6);
    expect(r.stdout).toContain('check against the sum computed in the clear: correct');
  });
});

describe('coupler simulate: mistakes caught before any party starts', () => {
  test('--method the module does not export: refused with "did you mean", no party started', async () => {
    const { dir, module } = moduleWith(MODULE);
    const r = await runCli(['simulate', module, '--method', 'partal', '--parties', '3', '--discovery', 'static'], { cwd: dir });
    const line = expectCleanFailure(r, { code: 1, mentions: /--method "partal" is not a function the module exports \(did you mean "partial"\?\); it exports: fails, killed, partial/ });
    expect(line).toBeDefined();
    expect(r.stdout).not.toContain('[party');
  });

  test('a module that cannot be loaded: one clear line', async () => {
    const { dir, module } = moduleWith('export const x = ;\n');
    const r = await runCli(['simulate', module, '--method', 'partial', '--parties', '3'], { cwd: dir });
    expectCleanFailure(r, { code: 1, mentions: /the algorithm module cannot be loaded/ });
    expect(r.stdout).not.toContain('[party');
  });

  // Node >= 22.18 / 23.6 strips types itself (process.features.typescript === 'strip'): a module of
  // erasable TypeScript loads with no tsx, one with syntax that needs transforming (an enum) fails
  // with ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX. Node 20 refuses any .ts (ERR_UNKNOWN_FILE_EXTENSION).
  const nodeStripsTypes = typeof (process.features as { typescript?: unknown }).typescript === 'string';

  test('a TypeScript module this Node cannot load by itself (an enum; any .ts on Node 20): the error says to install tsx or compile it, not Node\'s bare message', async () => {
    const dir = tempDir();
    const mod = join(dir, 'algorithm.ts');
    writeFileSync(mod, 'enum Answer { One = 1 }\nexport async function partial(): Promise<number> { return Answer.One; }\n');
    const r = await runCli(['run', '--list-methods', '--module', mod], { cwd: dir });
    expectCleanFailure(r, { code: 1, mentions: /a TypeScript module needs tsx \(npm install --save-dev tsx/ });
  });

  test(`a type-erasable TypeScript module without tsx: ${nodeStripsTypes ? 'this Node strips the types and loads it' : 'on this Node (no type stripping) the error says to install tsx or compile it'}`, async () => {
    const dir = tempDir();
    const mod = join(dir, 'algorithm.ts');
    writeFileSync(mod, 'export async function partial(): Promise<number> { return 1; }\n');
    const r = await runCli(['run', '--list-methods', '--module', mod], { cwd: dir });
    if (nodeStripsTypes) expect({ code: r.code, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({ code: 0, stdout: '["partial"]', stderr: '' });
    else expectCleanFailure(r, { code: 1, mentions: /a TypeScript module needs tsx \(npm install --save-dev tsx/ });
  });

  test('an unknown flag: "did you mean"', async () => {
    expectCleanFailure(await runCli(['simulate', 'demo', '--lenght', '4']), { code: 2, mentions: /unknown option --lenght \(did you mean --length\?\)/ });
    expectCleanFailure(await runCli(['simulate', 'demo', '--partys', '4']), { code: 2, mentions: /did you mean --parties\?/ });
    expectCleanFailure(await runCli(['keygen', '--outt', 'x']), { code: 2, mentions: /did you mean --out\?/ });
    // Two letters swapped; and a one-letter option (--t) is not a "prefix" of everything starting with t.
    expectCleanFailure(await runCli(['simulate', 'demo', '--transprot', 'relay']), { code: 2, mentions: /unknown option --transprot \(did you mean --transport\?\)/ });
    expectCleanFailure(await runCli(['simulate', 'demo', '--tiemout', '3']), { code: 2, mentions: /did you mean --timeout\?/ });
  });

  test('--list-methods lists what the module exports, not the runtime\'s built-in key exchange', async () => {
    const { dir, module } = moduleWith(MODULE);
    const r = await runCli(['run', '--list-methods', '--module', module], { cwd: dir });
    expect({ code: r.code, methods: JSON.parse(r.stdout) as string[] }).toEqual({ code: 0, methods: ['fails', 'killed', 'partial'] });
  });

  test('--input errors name the file', async () => {
    const dir = tempDir();
    const missing = join(dir, 'nope.json');
    expectCleanFailure(await runCli(['simulate', 'demo', '--input', missing]), { code: 1, mentions: new RegExp(`--input ${missing}: cannot read the file \\(ENOENT\\)`) });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"kwargs": ');
    expectCleanFailure(await runCli(['simulate', 'demo', '--input', bad]), { code: 1, mentions: new RegExp(`--input ${bad}: not valid JSON`) });
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, '{"kwarg": {}}');
    expectCleanFailure(await runCli(['simulate', 'demo', '--input', typo]), { code: 1, mentions: /unknown field "kwarg"/ });
  });

  test('--vantage6 5 with a CSV that cannot be converted to a dataframe: the error names the file, and no party starts', async () => {
    const dir = tempDir();
    const good = join(dir, 'good.csv');
    writeFileSync(good, 'age\n1\n');
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'age,name\n1,"unclosed\n');
    const r = await runCli(['simulate', 'demo', '--vantage6', '5', '--data', `${good},${bad}`, '--length', '3']);
    expectCleanFailure(r, {
      code: 1,
      errorCode: 'COUPLER_ERR_VALUE_INVALID',
      mentions: new RegExp(`--data ${bad}: cannot hand it over as a Parquet dataframe \\(--vantage6 5\\): line 2: a quoted field is not closed`),
    });
    expect(r.stdout).not.toContain('[party');
  });

  test('--vantage6, --transport, --json with --quiet: checked', async () => {
    expectCleanFailure(await runCli(['simulate', 'demo', '--vantage6', '3']), { code: 2, mentions: /--vantage6 must be 4 or 5/ });
    expectCleanFailure(await runCli(['simulate', 'demo', '--transport', 'carrier-pigeon']), { code: 2, mentions: /--transport must be direct, relay or auto/ });
    expectCleanFailure(await runCli(['simulate', 'demo', '--json', '--quiet']), { code: 2, mentions: /--json or --quiet, not both/ });
  });
});

describe('coupler roster: guards', () => {
  async function keygen(dir: string, name: string): Promise<string> {
    const file = join(dir, name);
    const r = await runCli(['keygen', '--out', file]);
    expect(r.code).toBe(0);
    return file;
  }

  test('no subcommand is an error (exit 2), not the help with exit 0', async () => {
    expectCleanFailure(await runCli(['roster']), { code: 2, mentions: /roster needs a subcommand: build or check/ });
    expectCleanFailure(await runCli(['roster', 'chek', 'x']), { code: 2, mentions: /did you mean "check"\?/ });
  });

  test('roster check on an identity file says so, and prints no key', async () => {
    const dir = tempDir();
    const id = await keygen(dir, 'me.json');
    const r = await runCli(['roster', 'check', id]);
    expectCleanFailure(r, { code: 2, mentions: /is an identity file \(it holds a secret key\), not a roster/ });
    const secret = (JSON.parse(readFileSync(id, 'utf8')) as { secretSeed: string }).secretSeed;
    expect(r.stdout + r.stderr).not.toContain(secret);
  });

  test('a one-party roster is refused; roster build does not overwrite without --force', async () => {
    const dir = tempDir();
    const a = await keygen(dir, 'a.json');
    const b = await keygen(dir, 'b.json');
    const out = join(dir, 'roster.json');
    expectCleanFailure(await runCli(['roster', 'build', '--out', out, `1=${a}`]), { code: 2, mentions: /at least two parties \(got 1 ID=KEY\)/ });
    expect((await runCli(['roster', 'build', '--out', out, `1=${a}`, `2=${b}`])).code).toBe(0);
    const before = readFileSync(out, 'utf8');
    expectCleanFailure(await runCli(['roster', 'build', '--out', out, `1=${b}`, `2=${a}`]), { code: 2, mentions: /exists; give --force to overwrite it/ });
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect((await runCli(['roster', 'build', '--force', '--out', out, `1=${b}`, `2=${a}`])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toBe(before);
  });
});
