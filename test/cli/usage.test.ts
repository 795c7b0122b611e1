/**
 * `coupler --help` and the command-line mistakes users make, run as real processes of the built
 * CLI: every mistake gives a non-zero exit, one error line on stderr (with the stable error code
 * where the CLI prints one) and no stack trace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, expectCleanFailure, requireBuiltCli, runCli, tempDir } from './_cli';

beforeAll(() => requireBuiltCli());
afterAll(() => cleanupAll());

describe('coupler --help', () => {
  test.each([[[]], [['--help']], [['-h']], [['help']]])('top level %j: exit 0, lists every command', async (args) => {
    const r = await runCli(args);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^coupler \d+\.\d+\.\d+/);
    for (const cmd of ['simulate', 'keygen', 'roster', 'run']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
  });

  const options: Record<string, string[]> = {
    keygen: ['--out', '--id', '--force'],
    roster: ['roster build', 'roster check', '--out', 'ID=KEY'],
    run: ['--module', 'PKG_NAME', 'INPUT_FILE', 'OUTPUT_FILE'],
    simulate: ['--parties', '--method', '--input', '--data', '--protocol', '--length', '--k', '--t', '--discovery', '--timeout', '--keep', '--quiet'],
  };
  const cases = Object.entries(options).flatMap(([cmd, opts]) => [
    [cmd, '--help', opts] as const,
    [cmd, '-h', opts] as const,
  ]);
  test.each(cases)('coupler %s %s: exit 0, usage names the options', async (cmd, flag, opts) => {
    const r = await runCli([cmd, flag]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`Usage:[\\s\\S]*coupler ${cmd}`));
    for (const o of opts) expect(r.stdout).toContain(o);
  });

  test('every simulate protocol the demo accepts is listed in its help', async () => {
    const r = await runCli(['simulate', '--help']);
    for (const p of ['secureSum', 'dkSecureSum', 'thresholdSum', 'ringSecureSum', 'plainSum']) expect(r.stdout).toContain(p);
  });

  test('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    const pkg = require('../../package.json') as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe('command-line mistakes', () => {
  test('unknown command', async () => {
    const r = await runCli(['frobnicate']);
    expectCleanFailure(r, { code: 2, mentions: /unknown command "frobnicate"/ });
  });

  test('unknown flag', async () => {
    const r = await runCli(['simulate', 'demo', '--partys', '3']);
    expectCleanFailure(r, { code: 2, mentions: /--partys/ });
    expect(r.stderr).toContain('Run "coupler simulate --help" for usage.');
  });

  test('unknown flag on keygen', async () => {
    expectCleanFailure(await runCli(['keygen', '--out', join(tempDir(), 'x.json'), '--overwrite']), { code: 2, mentions: /--overwrite/ });
  });

  test('missing value', async () => {
    expectCleanFailure(await runCli(['simulate', 'demo', '--parties']), { code: 2, mentions: /--parties/ });
  });

  test('missing <algorithm>', async () => {
    expectCleanFailure(await runCli(['simulate', '--parties', '3']), { code: 2, mentions: /simulate takes one <algorithm>/ });
  });

  test.each(['abc', '', '3x'])('non-numeric --parties %j', async (v) => {
    expectCleanFailure(await runCli(['simulate', 'demo', '--parties', v]), { code: 2, mentions: /--parties expects a number/ });
  });

  test.each(['1', '65', '0', '2.5', '-3'])('--parties %s is out of range', async (v) => {
    // The --flag=value form, so that "-3" reaches the range check instead of the argument parser.
    const r = await runCli(['simulate', 'demo', `--parties=${v}`]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /--parties must be an integer in 2\.\.64/ });
  });

  test('unknown --protocol', async () => {
    const r = await runCli(['simulate', 'demo', '--protocol', 'sumsum']);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /--protocol must be one of secureSum, .*plainSum/ });
  });

  test('unknown --discovery', async () => {
    expectCleanFailure(await runCli(['simulate', 'demo', '--discovery', 'mdns']), { code: 2, mentions: /--discovery must be dns or static/ });
  });

  test.each([
    ['--length', '0', /--length must be an integer/],
    ['--length', '1.5', /--length must be an integer/],
    ['--timeout', '0', /--timeout must be a positive number/],
  ])('%s %s is refused before any party starts', async (flag, v, msg) => {
    expectCleanFailure(await runCli(['simulate', 'demo', flag, v]), { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: msg });
  });

  test('missing --input file', async () => {
    const file = join(tempDir(), 'nope.json');
    const r = await runCli(['simulate', 'demo', '--input', file]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /--input .*nope\.json: cannot read the file \(ENOENT\)/ });
  });

  test.each([
    ['not JSON', '{"kwargs": ', /--input .*input\.json: not valid JSON/],
    ['an array', '[1, 2]', /--input .*input\.json: the file must hold a JSON object/],
    ['kwargs not an object', '{"kwargs": 3}', /"kwargs" must be an object/],
    ['perParty not objects', '{"perParty": [1, 2, 3]}', /"perParty" must be an array of objects/],
    ['perParty count mismatch', '{"perParty": [{}, {}]}', /"perParty" has 2 entries for 3 parties/],
  ])('invalid --input file: %s', async (_name, text, msg) => {
    const file = join(tempDir(), 'input.json');
    writeFileSync(file, text);
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--input', file]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: msg });
  });

  test('--data count does not match --parties', async () => {
    const dir = tempDir();
    const files = ['a.csv', 'b.csv'].map((f) => join(dir, f));
    for (const f of files) writeFileSync(f, 'x\n1\n');
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--data', files.join(',')]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /--data: 2 data files for 3 parties/ });
  });

  test('--data file that does not exist', async () => {
    const dir = tempDir();
    const r = await runCli(['simulate', 'demo', '--data', join(dir, 'a.csv'), '--data', join(dir, 'b.csv')]);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /--data: .*a\.csv is not a readable file/ });
  });

  test('a module without --method', async () => {
    const r = await runCli(['simulate', join(tempDir(), 'alg.mjs'), '--parties', '3']);
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /--method is required/ });
  });

  test('a module that cannot be imported: one line naming the import failure before any party starts, no stack, exit 1', async () => {
    const broken = join(tempDir(), 'broken-algorithm.mjs');
    writeFileSync(broken, 'export const = ;\n');
    const r = await runCli(['simulate', broken, '--method', 'partial', '--parties', '3', '--discovery', 'static', '--timeout', '20']);
    expect(r.timedOut).toBe(false);
    expectCleanFailure(r, { code: 1, mentions: /the algorithm module cannot be loaded: COUPLER_ERR_VANTAGE6: cannot import the algorithm module ".*broken-algorithm\.mjs"/ });
    expect(r.stdout).not.toContain('[party');
  });

  test('a nonexistent algorithm module is refused up front with one line on stderr', async () => {
    const missing = join(tempDir(), 'no-such-algorithm.mjs');
    const r = await runCli(['simulate', missing, '--method', 'partial', '--parties', '3', '--discovery', 'static', '--timeout', '20']);
    expectCleanFailure(r, { code: 1, mentions: /no-such-algorithm\.mjs/ });
    expect(r.stdout).not.toContain('[party');
  });

  // `--k 0` / `--t 0` used to be dropped (`options.k ? ...`) and the default used instead.
  test.each([
    ['dkSecureSum', '--k'],
    ['thresholdSum', '--t'],
  ])('%s with %s 0 is refused, not silently replaced by the default', async (protocol, flag) => {
    const r = await runCli(['simulate', 'demo', '--parties', '3', '--length', '4', '--protocol', protocol, flag, '0', '--quiet', '--timeout', '20']);
    expect(r.code).not.toBe(0);
  });

  test('roster: unknown subcommand', async () => {
    expectCleanFailure(await runCli(['roster', 'merge']), { code: 2, mentions: /unknown roster subcommand "merge" \(build, check\)/ });
  });

  test('keygen without --out', async () => {
    expectCleanFailure(await runCli(['keygen']), { code: 2, mentions: /--out FILE is required/ });
  });

  test('run with a stray positional argument', async () => {
    expectCleanFailure(await runCli(['run', 'extra']), { code: 2 });
  });
});
