/**
 * `coupler run` (the container entry point) started by hand the way a vantage6 node starts an
 * algorithm container: INPUT_FILE / OUTPUT_FILE / TEMPORARY_FOLDER (base32 with `!` for `=` as a
 * v4 node sets them, or raw), PKG_NAME naming a module, and the v5 shape with ALGORITHM_METHOD.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, cleanupAll, expectCleanFailure, requireBuiltCli, runCli, tempDir, v6Encode, v6EncodeEnv } from './_cli';

beforeAll(() => requireBuiltCli());
afterAll(() => cleanupAll());

const ALGORITHM = `
import { readdir } from 'node:fs/promises';
export async function describe(kwargs, ctx) {
  return {
    kwargs,
    args: ctx.args,
    version: ctx.contractVersion,
    method: ctx.method,
    organizationId: ctx.organizationId ?? null,
    taskId: ctx.taskId ?? null,
    temporaryFolder: ctx.temporaryFolder ?? null,
    tmpEntries: ctx.temporaryFolder ? await readdir(ctx.temporaryFolder) : null,
    big: 2n ** 70n,
    vector: new Float64Array([0.5, -1.25]),
    nested: { ok: true, list: [1, 'two', null] },
  };
}
export function boom() {
  throw new RangeError('the station has no rows\\n    at fake (stack:1:1)');
}
export async function rejects() {
  await new Promise((r) => setTimeout(r, 5));
  throw new Error('asynchronous failure');
}
export function nan() {
  return { x: NaN };
}
export const notAFunction = 42;
export async function waitForever(kwargs, ctx) {
  // A peer that never comes (the timer keeps the process alive, as an open socket would): only a signal ends this.
  await new Promise(() => setInterval(() => undefined, 1000));
}
`;

interface Container {
  dir: string;
  input: string;
  output: string;
  tmp: string;
  module: string;
}

function container(input: string): Container {
  const dir = tempDir('coupler-cli-run-');
  const c = { dir, input: join(dir, 'input'), output: join(dir, 'output'), tmp: join(dir, 'tmp'), module: join(dir, 'algorithm.mjs') };
  mkdirSync(c.tmp);
  writeFileSync(join(c.tmp, 'shared.txt'), 'from the parent container');
  writeFileSync(c.module, ALGORITHM);
  writeFileSync(c.input, input);
  writeFileSync(c.output, '');
  return c;
}

/** The environment a v4 node gives the container: every value base32 with '!' for '='. PKG_NAME comes from the image (raw). */
function v4Env(c: Container, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return baseEnv({
    PKG_NAME: c.module,
    ...v6EncodeEnv({ INPUT_FILE: c.input, OUTPUT_FILE: c.output, TEMPORARY_FOLDER: c.tmp, HOST: 'http://proxyserver', PORT: '8080', API_PATH: '', ...extra }),
  });
}

const output = (c: Container): unknown => JSON.parse(readFileSync(c.output, 'utf8'));

describe('coupler run, v4 contract', () => {
  test('base32 environment: the method gets kwargs and ctx; OUTPUT_FILE holds its JSON result; exit 0', async () => {
    const c = container(JSON.stringify({ method: 'describe', args: [1, 'a'], kwargs: { column: 'age', n: 3 } }));
    const env = v4Env(c, { ORGANIZATION_ID: '12', TASK_ID: '345' });
    // The encoding really is in play: the variables do not hold the paths in clear.
    expect(env.INPUT_FILE).not.toContain('/');
    expect(env.INPUT_FILE).toMatch(/^[A-Z2-7!]+$/);
    const r = await runCli(['run'], { env, cwd: c.dir });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('[coupler] info: running method "describe" (contract v4)') });
    expect(r.stderr).not.toContain('error');
    expect(output(c)).toEqual({
      kwargs: { column: 'age', n: 3 },
      args: [1, 'a'],
      version: 'v4',
      method: 'describe',
      organizationId: '12',
      taskId: '345',
      temporaryFolder: c.tmp,
      tmpEntries: ['shared.txt'],
      big: expect.anything(),
      vector: [0.5, -1.25],
      nested: { ok: true, list: [1, 'two', null] },
    });
    // A bigint is written with all its digits (not rounded through a double).
    expect(readFileSync(c.output, 'utf8')).toContain(`"big":${(2n ** 70n).toString()}`);
  });

  test('raw (unencoded) values work too, as set by older nodes or by hand', async () => {
    const c = container(JSON.stringify({ method: 'describe', kwargs: {} }));
    const r = await runCli(['run'], { env: baseEnv({ PKG_NAME: c.module, INPUT_FILE: c.input, OUTPUT_FILE: c.output, TEMPORARY_FOLDER: c.tmp }) });
    expect(r.code).toBe(0);
    expect(output(c)).toMatchObject({ kwargs: {}, args: [], version: 'v4', temporaryFolder: c.tmp, organizationId: null });
  });

  test('--module overrides PKG_NAME; PKG_NAME relative to the working directory', async () => {
    const c = container(JSON.stringify({ method: 'describe' }));
    let r = await runCli(['run', '--module', c.module], { env: { ...v4Env(c), PKG_NAME: '/nonexistent.mjs' } });
    expect(r.code).toBe(0);
    writeFileSync(c.output, '');
    r = await runCli(['run'], { env: { ...v4Env(c), PKG_NAME: './algorithm.mjs' }, cwd: c.dir });
    expect(r.code).toBe(0);
    expect(output(c)).toMatchObject({ method: 'describe' });
  });

  test('PKG_NAME=coupler:demo is the built-in demo (its "sum" method needs peers: refused cleanly without them)', async () => {
    const c = container(JSON.stringify({ method: 'sum', kwargs: { protocol: 'nope', index: 0 } }));
    const r = await runCli(['run'], { env: { ...v4Env(c), PKG_NAME: 'coupler:demo' } });
    expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_INVALID_ARGUMENT', mentions: /"protocol" must be one of/ });
  });

  test('a method that throws: exit 1, one error line with its message, no stack', async () => {
    const c = container(JSON.stringify({ method: 'boom' }));
    const r = await runCli(['run'], { env: v4Env(c) });
    const line = expectCleanFailure(r, { code: 1, mentions: /RangeError: the station has no rows/ });
    expect(line.startsWith('[coupler] error: ')).toBe(true);
    expect(readFileSync(c.output, 'utf8')).toBe('');
  });

  test('a method that rejects asynchronously: exit 1 with its message', async () => {
    const c = container(JSON.stringify({ method: 'rejects' }));
    expectCleanFailure(await runCli(['run'], { env: v4Env(c) }), { code: 1, mentions: /Error: asynchronous failure/ });
  });

  test('a missing method: exit 1 naming it and listing what the module exports', async () => {
    const c = container(JSON.stringify({ method: 'partial' }));
    const line = expectCleanFailure(await runCli(['run'], { env: v4Env(c) }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /unknown method "partial"/ });
    expect(line).toContain('boom, describe, nan, rejects');
    expect(line).not.toContain('notAFunction');
  });

  test.each(['constructor', '__proto__', 'notAFunction'])('method %j is not callable', async (method) => {
    const c = container(JSON.stringify({ method }));
    expectCleanFailure(await runCli(['run'], { env: v4Env(c) }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /method/ });
  });

  test('a result that is not JSON (NaN) is refused, nothing written', async () => {
    const c = container(JSON.stringify({ method: 'nan' }));
    expectCleanFailure(await runCli(['run'], { env: v4Env(c) }), { code: 1, mentions: /NaN|not.*JSON|finite/i });
    expect(readFileSync(c.output, 'utf8')).toBe('');
  });

  test.each([
    ['truncated JSON', '{"method": "describe", ', /INPUT_FILE is not valid JSON/],
    ['not an object', '[1, 2, 3]', /INPUT_FILE must hold a JSON object/],
    ['no method', '{"kwargs": {}}', /field "method" must be a non-empty string/],
    ['args not an array', '{"method": "describe", "args": {}}', /field "args" must be an array/],
    ['kwargs not an object', '{"method": "describe", "kwargs": [1]}', /field "kwargs" must be an object/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1'), /not valid UTF-8/],
  ])('malformed INPUT_FILE (%s): exit 1, one line', async (_name, text, msg) => {
    const c = container('');
    writeFileSync(c.input, Buffer.from(text, 'latin1'));
    const line = expectCleanFailure(await runCli(['run'], { env: v4Env(c) }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: msg });
    // The input's content is never echoed.
    if (text.length > 4) expect(line).not.toContain(text);
  });

  test('missing INPUT_FILE, unset OUTPUT_FILE, unset PKG_NAME, nonexistent module', async () => {
    const c = container(JSON.stringify({ method: 'describe' }));
    expectCleanFailure(await runCli(['run'], { env: v4Env(c, { INPUT_FILE: join(c.dir, 'absent') }) }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /cannot open INPUT_FILE \(ENOENT\)/ });
    expectCleanFailure(await runCli(['run'], { env: baseEnv({ PKG_NAME: c.module, INPUT_FILE: v6Encode(c.input) }) }), { code: 1, mentions: /OUTPUT_FILE is not set/ });
    const noPkg = v4Env(c);
    delete noPkg.PKG_NAME;
    expectCleanFailure(await runCli(['run'], { env: noPkg }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /PKG_NAME is not set/ });
    const line = expectCleanFailure(await runCli(['run'], { env: { ...v4Env(c), PKG_NAME: join(c.dir, 'missing.mjs') } }), {
      code: 1,
      errorCode: 'COUPLER_ERR_VANTAGE6',
      mentions: /cannot import the algorithm module ".*missing\.mjs"/,
    });
    expect(line).not.toMatch(/\n/);
  });

  test('a module with a syntax error: exit 1, the first line of the cause, no stack', async () => {
    const c = container(JSON.stringify({ method: 'describe' }));
    writeFileSync(c.module, 'export function describe( {\n');
    expectCleanFailure(await runCli(['run'], { env: v4Env(c) }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /cannot import the algorithm module/ });
  });
});

describe('coupler run, v5 contract (ALGORITHM_METHOD)', () => {
  test('INPUT_FILE holds the kwargs, the method comes from ALGORITHM_METHOD; exit 0', async () => {
    const c = container(JSON.stringify({ column: 'age', method: 'not-this-one' }));
    const env = baseEnv({
      PKG_NAME: c.module,
      ...v6EncodeEnv({ ALGORITHM_METHOD: 'describe', INPUT_FILE: c.input, OUTPUT_FILE: c.output, TASK_ID: '9', NODE_ID: '4', ORGANIZATION_ID: '3', COLLABORATION_ID: '1', HOST: 'http://proxy', PORT: '7654' }),
    });
    const r = await runCli(['run'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('(contract v5)');
    expect(output(c)).toMatchObject({ kwargs: { column: 'age', method: 'not-this-one' }, args: [], version: 'v5', method: 'describe', organizationId: '3', taskId: '9' });
  });

  test('an empty INPUT_FILE means no kwargs', async () => {
    const c = container('');
    const r = await runCli(['run'], { env: baseEnv({ PKG_NAME: c.module, ALGORITHM_METHOD: 'describe', INPUT_FILE: c.input, OUTPUT_FILE: c.output }) });
    expect(r.code).toBe(0);
    expect(output(c)).toMatchObject({ kwargs: {}, version: 'v5' });
  });

  test('v5: a missing method and a throwing method exit 1 with one line', async () => {
    const c = container('{}');
    const env = (m: string): NodeJS.ProcessEnv => baseEnv({ PKG_NAME: c.module, ...v6EncodeEnv({ ALGORITHM_METHOD: m, INPUT_FILE: c.input, OUTPUT_FILE: c.output }) });
    expectCleanFailure(await runCli(['run'], { env: env('partial') }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /unknown method "partial"/ });
    expectCleanFailure(await runCli(['run'], { env: env('boom') }), { code: 1, mentions: /RangeError: the station has no rows/ });
  });

  test('v5: INPUT_FILE that is not a JSON object', async () => {
    const c = container('[1]');
    const env = baseEnv({ PKG_NAME: c.module, ALGORITHM_METHOD: 'describe', INPUT_FILE: c.input, OUTPUT_FILE: c.output });
    expectCleanFailure(await runCli(['run'], { env }), { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /must hold a JSON object of keyword arguments/ });
  });
});

describe('coupler run, the key file of a compute subtask (vantage6 5: SESSION_FOLDER, shared by the session)', () => {
  test('SIGTERM while the method hangs: the key file is deleted before the process exits (143), though the method never returns', async () => {
    const c = container('{}');
    const session = join(c.dir, 'session');
    mkdirSync(session);
    const env = (method: string, taskId: string): NodeJS.ProcessEnv =>
      baseEnv({ PKG_NAME: c.module, ...v6EncodeEnv({ ALGORITHM_METHOD: method, INPUT_FILE: c.input, OUTPUT_FILE: c.output, SESSION_FOLDER: session, ORGANIZATION_ID: '3', TASK_ID: taskId }) });
    expect((await runCli(['run'], { env: env('coupler_key_exchange', '41') })).code).toBe(0);
    expect(readdirSync(session)).toEqual(['coupler-identity-task-41.json']);
    writeFileSync(c.input, JSON.stringify({ keyTaskId: 41, sessionId: 's', roster: { version: 1, parties: [] } }));
    let sent = false;
    const r = await runCli(['run'], {
      env: env('waitForever', '42'),
      timeoutMs: 20_000,
      onSpawn: (child) =>
        child.stderr!.on('data', (d: Buffer) => {
          if (!sent && d.toString().includes('running method "waitForever"')) {
            sent = true;
            child.kill('SIGTERM');
          }
        }),
    });
    expect({ code: r.code, signal: r.signal, timedOut: r.timedOut, stderr: r.stderr }).toEqual({ code: 143, signal: null, timedOut: false, stderr: expect.any(String) });
    expect(r.stderr).toContain('SIGTERM received: stopping');
    expect(existsSync(join(session, 'coupler-identity-task-41.json'))).toBe(false);
    expect(readdirSync(session)).toEqual([]);
  });
});

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** An unprivileged user that owns nothing here. */
const NOBODY = 65534;

(asRoot ? describe : describe.skip)('coupler run as a non-root user on files a stock node made for root (needs root to switch users)', () => {
  /** A task folder as a stock 4.x node leaves it: root-owned, world-readable, OUTPUT_FILE root:root 0644, TEMPORARY_FOLDER root 0755. */
  const rootOwnedTask = (input: unknown): Container => {
    const c = container(JSON.stringify(input));
    for (const p of [c.dir, c.tmp]) chmodSync(p, 0o755);
    for (const p of [c.input, c.output, c.module]) chmodSync(p, 0o644);
    return c;
  };

  test('OUTPUT_FILE root:root 0644: refused before the method runs, naming the owner and this user', async () => {
    const c = rootOwnedTask({ method: 'describe', kwargs: {} });
    const r = await runCli(['run'], { env: v4Env(c), cwd: c.dir, uid: NOBODY, gid: NOBODY });
    const line = expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /cannot write OUTPUT_FILE \(EACCES\)/ });
    expect(line).toContain(`it is owned by uid 0, gid 0, mode 644, and this process runs as uid ${NOBODY}, gid ${NOBODY}; checked before the method runs`);
    expect(r.stderr).not.toContain('running method');
  });

  test('the key subtask with a root-owned TEMPORARY_FOLDER: refused before it makes a key', async () => {
    const c = rootOwnedTask({ method: 'coupler_key_exchange', kwargs: {} });
    chmodSync(c.output, 0o666);
    const r = await runCli(['run'], { env: v4Env(c, { ORGANIZATION_ID: '3', TASK_ID: '41' }), cwd: c.dir, uid: NOBODY, gid: NOBODY });
    const line = expectCleanFailure(r, { code: 1, errorCode: 'COUPLER_ERR_VANTAGE6', mentions: /cannot write the state folder TEMPORARY_FOLDER \(EACCES\)/ });
    expect(line).toContain('the key subtask saves its secret key there');
    expect(r.stderr).not.toContain('running method');
    expect(readFileSync(c.output, 'utf8')).toBe('');
  });
});
