import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  formatErrorLine,
  listMethods,
  parseInput,
  resolveMethod,
  runAlgorithm,
  stderrLogger,
  toContractJson,
  type AlgorithmContext,
} from '../../src/vantage6';
import { AbortedError, Vantage6Error } from '../../src/errors';
import { secureSum } from '../../src/protocols';
import { AddressBook, joinLocal, makeParties } from '../support/group-harness';
import { startFakeNodeProxy, type FakeNodeProxy } from '../support/fake-node-proxy';
import { collectingLogger, fakeJwt, tempDir, v6Encode, v6EncodeEnv } from './helpers';

const ROOT = resolve(__dirname, '../..');
const RUNNER = join(__dirname, 'fixtures', 'run-container.ts');
const ALGORITHM = join(__dirname, 'fixtures', 'algorithm.ts');
const TOKEN = fakeJwt({ client_type: 'container', organization_id: 2, task_id: 55, collaboration_id: 7, image: 'img' });

interface ChildOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

function runChild(env: Record<string, string>): Promise<ChildOutcome> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', RUNNER],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe('container contract, as real child processes', () => {
  let dir: string;
  let cleanup: () => void;
  let files: { input: string; output: string; token: string; tmp: string };

  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    files = { input: join(dir, 'input'), output: join(dir, 'output'), token: join(dir, 'token'), tmp: dir };
    writeFileSync(files.output, '');
    writeFileSync(files.token, TOKEN);
  });
  afterEach(() => cleanup());

  const v4Env = (extra: Record<string, string> = {}): Record<string, string> => ({
    ...v6EncodeEnv({
      INPUT_FILE: files.input,
      OUTPUT_FILE: files.output,
      TOKEN_FILE: files.token,
      TEMPORARY_FOLDER: files.tmp,
      HOST: 'http://127.0.0.1',
      PORT: '9',
      API_PATH: '',
      USER_REQUESTED_DATABASE_LABELS: 'default',
      DEFAULT_DATABASE_URI: '/mnt/data/default.csv',
      DEFAULT_DATABASE_TYPE: 'csv',
    }),
    PKG_NAME: ALGORITHM,
    ...extra,
  });

  const expectNoToken = (out: ChildOutcome): void => {
    expect(out.stderr).not.toContain(TOKEN);
    expect(out.stdout).not.toContain(TOKEN);
    expect(out.stderr).not.toContain(TOKEN.split('.')[1]);
  };

  test('v4: {method, args, kwargs} -> fn(kwargs, ctx), JSON output, exit 0', async () => {
    writeFileSync(files.input, JSON.stringify({ method: 'sum', args: [1, 'two'], kwargs: { values: [1, 2, 3.5] } }));
    const out = await runChild(v4Env());
    expect(out.code).toBe(0);
    expect(JSON.parse(readFileSync(files.output, 'utf8'))).toEqual({
      total: 6.5,
      method: 'sum',
      version: 'v4',
      args: [1, 'two'],
      organizationId: '2',
      taskId: '55',
      database: '/mnt/data/default.csv',
      temporaryFolder: files.tmp,
    });
    expectNoToken(out);
  });

  test('v5: ALGORITHM_METHOD and kwargs-only input, exit 0', async () => {
    writeFileSync(files.input, JSON.stringify({ values: [10, 20] }));
    const out = await runChild({
      ...v6EncodeEnv({ INPUT_FILE: files.input, OUTPUT_FILE: files.output, ALGORITHM_METHOD: 'sum', ORGANIZATION_ID: '4', TASK_ID: '99', HOST: 'http://127.0.0.1' }),
      PKG_NAME: ALGORITHM,
    });
    expect(out.code).toBe(0);
    const result = JSON.parse(readFileSync(files.output, 'utf8'));
    expect(result).toMatchObject({ total: 30, method: 'sum', version: 'v5', args: [], organizationId: '4', taskId: '99', database: null });
  });

  test.each([
    ['data_extraction', 'must write Parquet'],
    ['preprocessing', 'must write Parquet'],
    ['postprocessing', 'postprocessing is not a compute step; give the function the step type central_compute or federated_compute'],
    ['a_later_step', 'not a step type coupler knows'],
  ])('v5 FUNCTION_ACTION=%s (not a compute step): exit 1 with a clear message, the method never runs, nothing written', async (action, why) => {
    writeFileSync(files.input, JSON.stringify({ values: [10, 20] }));
    const out = await runChild({
      ...v6EncodeEnv({ INPUT_FILE: files.input, OUTPUT_FILE: files.output, ALGORITHM_METHOD: 'sum', FUNCTION_ACTION: action, ORGANIZATION_ID: '4', TASK_ID: '99', HOST: 'http://127.0.0.1' }),
      PKG_NAME: ALGORITHM,
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`FUNCTION_ACTION is "${action}": coupler runs compute steps only (central_compute, federated_compute): `);
    expect(out.stderr).toContain(why);
    expect(out.stderr).not.toContain('running method');
    expect(readFileSync(files.output, 'utf8')).toBe('');
  });

  test.each(['central_compute', 'federated_compute'])('v5 FUNCTION_ACTION=%s runs', async (action) => {
    writeFileSync(files.input, JSON.stringify({ values: [1, 2] }));
    const out = await runChild({
      ...v6EncodeEnv({ INPUT_FILE: files.input, OUTPUT_FILE: files.output, ALGORITHM_METHOD: 'sum', FUNCTION_ACTION: action, ORGANIZATION_ID: '4', TASK_ID: '99', HOST: 'http://127.0.0.1' }),
      PKG_NAME: ALGORITHM,
    });
    expect(out.code).toBe(0);
    expect(JSON.parse(readFileSync(files.output, 'utf8'))).toMatchObject({ total: 3 });
  });

  test('v4 input with an integer beyond 2^53 reaches the method exactly (bigint)', async () => {
    writeFileSync(files.input, '{"method":"exact_input","args":[],"kwargs":{"n":12345678901234567890}}');
    const out = await runChild(v4Env());
    expect(out.code).toBe(0);
    expect(readFileSync(files.output, 'utf8')).toBe('{"n":12345678901234567890,"type":"bigint"}');
  });

  test('exact numbers: bigint digits, typed arrays as arrays', async () => {
    writeFileSync(files.input, JSON.stringify({ method: 'exact' }));
    const out = await runChild(v4Env());
    expect(out.code).toBe(0);
    expect(readFileSync(files.output, 'utf8')).toBe('{"big":1180591620717411303424,"vector":[0.5,1.5],"counts":[-3],"when":"1970-01-01T00:00:00.000Z"}');
  });

  test('unknown method: exit 1 and a message listing the methods', async () => {
    writeFileSync(files.input, JSON.stringify({ method: 'nope', kwargs: {} }));
    const out = await runChild(v4Env());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('COUPLER_ERR_VANTAGE6: unknown method "nope"; the algorithm module exports: exact, exact_input, leak, nan, organizations, sum');
    expect(out.stderr).not.toContain('notAFunction');
    expect(out.stderr).not.toMatch(/\n\s+at /); // no stack
    expect(readFileSync(files.output, 'utf8')).toBe('');
    expectNoToken(out);
  });

  test.each([['__proto__'], ['constructor'], ['notAFunction']])('refuses method %s', async (method) => {
    writeFileSync(files.input, JSON.stringify({ method }));
    const out = await runChild(v4Env());
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/not allowed|unknown method/);
  });

  test('bad input JSON: exit 1', async () => {
    writeFileSync(files.input, '{"method": "sum", ');
    const out = await runChild(v4Env());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('INPUT_FILE is not valid JSON');
    expect(out.stderr).not.toContain('"method"');
  });

  test('oversized input: refused before parsing', async () => {
    writeFileSync(files.input, JSON.stringify({ method: 'sum', kwargs: { values: new Array(2000).fill(1) } }));
    const out = await runChild(v4Env({ FIXTURE_MAX_INPUT_BYTES: '1024' }));
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/INPUT_FILE is \d+ bytes; the limit is 1024/);
  });

  test('an error message holding the token is redacted', async () => {
    writeFileSync(files.input, JSON.stringify({ method: 'leak' }));
    const out = await runChild(v4Env());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('Error: oops the token was [redacted]');
    expectNoToken(out);
  });

  test('NaN in the result: refused with the path', async () => {
    writeFileSync(files.input, JSON.stringify({ method: 'nan' }));
    const out = await runChild(v4Env());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('cannot serialize NaN at $.mean to JSON');
  });

  test('PKG_NAME missing or not importable', async () => {
    writeFileSync(files.input, JSON.stringify({ method: 'sum' }));
    const env = v4Env();
    delete env.PKG_NAME;
    const missing = await runChild(env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('PKG_NAME is not set');
    const wrong = await runChild({ ...env, PKG_NAME: join(dir, 'no-such-module.js') });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('cannot import the algorithm module');
  });

  describe('with a fake node proxy', () => {
    let proxy: FakeNodeProxy;
    beforeEach(async () => {
      proxy = await startFakeNodeProxy();
    });
    afterEach(async () => proxy.close());

    test('ctx.client reaches the proxy with the token file', async () => {
      const token = proxy.issueToken({ organization_id: 1, collaboration_id: proxy.collaborationId, task_id: 5, image: 'img' });
      writeFileSync(files.token, token);
      writeFileSync(files.input, JSON.stringify({ method: 'organizations' }));
      const out = await runChild(v4Env({ HOST: v6Encode('http://127.0.0.1'), PORT: v6Encode(String(proxy.port)) }));
      expect(out.code).toBe(0);
      expect(JSON.parse(readFileSync(files.output, 'utf8'))).toEqual([1, 2, 3]);
      expect(out.stderr).not.toContain(token);
      expect(proxy.requests.every((r) => r.authorized)).toBe(true);
    });
  });
});

describe('contract pieces, in process', () => {
  test('parseInput v4 and v5', () => {
    const enc = (v: unknown): Uint8Array => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
    expect(parseInput(enc({ method: 'm' }), 'v4')).toEqual({ method: 'm', args: [], kwargs: {} });
    expect(parseInput(enc('\ufeff{"method":"m","args":[1],"kwargs":{"a":2}}'), 'v4')).toEqual({ method: 'm', args: [1], kwargs: { a: 2 } });
    expect(parseInput(enc(''), 'v5', 'm')).toEqual({ method: 'm', args: [], kwargs: {} });
    expect(parseInput(enc({ a: 1 }), 'v5', 'm')).toEqual({ method: 'm', args: [], kwargs: { a: 1 } });
    const bad: [unknown, 'v4' | 'v5', string][] = [
      [[], 'v4', 'must hold a JSON object'],
      [{ method: 1 }, 'v4', '"method" must be a non-empty string'],
      [{ method: 'm', args: {} }, 'v4', '"args" must be an array'],
      [{ method: 'm', kwargs: [] }, 'v4', '"kwargs" must be an object'],
      [[1], 'v5', 'keyword arguments'],
    ];
    for (const [input, version, message] of bad) {
      expect(() => parseInput(enc(input), version, 'm')).toThrow(message);
    }
    expect(() => parseInput(new Uint8Array([0xff, 0x00]), 'v4')).toThrow('not valid UTF-8');
    expect(() => parseInput(enc({}), 'v5')).toThrow('ALGORITHM_METHOD is not set');
  });

  test('a JSON "__proto__" key stays data', () => {
    const parsed = parseInput(Buffer.from('{"method":"m","kwargs":{"__proto__":{"polluted":true}}}'), 'v4');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(parsed.kwargs)).toBe(Object.prototype);
  });

  test('resolveMethod: own enumerable functions only, default-object fallback, builtins', () => {
    const f = (): number => 1;
    const proto = { inherited: f };
    const mod = Object.assign(Object.create(proto) as Record<string, unknown>, { a: f, n: 3 });
    Object.defineProperty(mod, 'hidden', { value: f, enumerable: false });
    expect(resolveMethod(mod, 'a')).toBe(f);
    for (const name of ['inherited', 'hidden', 'n', 'toString', 'hasOwnProperty']) {
      expect(() => resolveMethod(mod, name)).toThrow(`unknown method "${name}"; the algorithm module exports: a`);
    }
    for (const name of ['__proto__', 'constructor', 'prototype', 'a-b', '', 'x'.repeat(200)]) {
      expect(() => resolveMethod(mod, name)).toThrow(Vantage6Error);
    }
    expect(resolveMethod({ default: { b: f } }, 'b')).toBe(f);
    expect([...listMethods({ default: { b: f }, c: f }).keys()].sort()).toEqual(['b', 'c']);
    const builtin = (): number => 2;
    expect(resolveMethod({}, 'coupler_key_exchange', new Map([['coupler_key_exchange', builtin]]))).toBe(builtin);
    expect(resolveMethod({ coupler_key_exchange: f }, 'coupler_key_exchange', new Map([['coupler_key_exchange', builtin]]))).toBe(f);
  });

  test('toContractJson refuses what JSON.stringify would silently mangle', () => {
    expect(toContractJson({ a: [1, undefined, 'x'], b: undefined, c: null, d: -0.25 })).toBe('{"a":[1,null,"x"],"c":null,"d":-0.25}');
    expect(toContractJson(undefined)).toBe('null');
    expect(toContractJson(12345678901234567890123n)).toBe('12345678901234567890123');
    expect(toContractJson(new Uint8Array([1, 2]))).toBe('[1,2]');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, string][] = [
      [{ x: Infinity }, 'an infinite number at $.x'],
      [{ m: new Map() }, 'a Map'],
      [{ s: new Set() }, 'a Set'],
      [{ f: () => 1 }, 'a function at $.f'],
      [[Symbol('s')], 'a symbol at $[0]'],
      [cyclic, 'a circular reference at $.self'],
      [{ b: new ArrayBuffer(2) }, 'an ArrayBuffer'],
      [{ k: new (class Point {})() }, 'an instance of Point'],
      [new Float32Array([NaN]), 'NaN at $[0]'],
    ];
    for (const [value, message] of cases) expect(() => toContractJson(value)).toThrow(message);
    expect(() => toContractJson('x'.repeat(100), 10)).toThrow('exceeds 10');
  });

  test('formatErrorLine: one line, code, redaction, cap', () => {
    expect(formatErrorLine(new Vantage6Error('COUPLER_ERR_VANTAGE6', 'a\nb'))).toBe('COUPLER_ERR_VANTAGE6: a b');
    expect(formatErrorLine(new TypeError('secret-token-123 here'), ['secret-token-123'])).toBe('TypeError: [redacted] here');
    expect(formatErrorLine('str')).toBe('the algorithm threw a non-Error value (string)');
    expect(formatErrorLine(new Error('x'.repeat(2000))).length).toBeLessThanOrEqual(503);
  });

  test('stderrLogger.debug prints with COUPLER_LOG_LEVEL=debug set raw or base32-encoded as a node sets it, and only then', () => {
    const written: string[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const saved = process.env.COUPLER_LOG_LEVEL;
    try {
      for (const [value, printed] of [
        [v6Encode('debug'), true],
        ['debug', true],
        [v6Encode('info'), false],
        ['', false],
      ] as const) {
        process.env.COUPLER_LOG_LEVEL = value;
        written.length = 0;
        stderrLogger.debug!('dial to 10.0.0.2:8888 refused (order)');
        expect({ value, written }).toEqual({ value, written: printed ? ['[coupler] debug: dial to 10.0.0.2:8888 refused (order)\n'] : [] });
      }
    } finally {
      write.mockRestore();
      if (saved === undefined) delete process.env.COUPLER_LOG_LEVEL;
      else process.env.COUPLER_LOG_LEVEL = saved;
    }
  });

  test('a run stopped while its sum waits on a peer (SIGTERM in coupler run aborts the signal) says it was stopped, not only that its group closed', async () => {
    const { dir, cleanup } = tempDir();
    const stop = new AbortController();
    const parties = makeParties(2);
    // Two real parties over loopback; p1's group closes when the run's signal aborts.
    const [g1, g2] = await joinLocal(parties, parties.ids, new AddressBook(), { signalFor: (id) => (id === 'p1' ? stop.signal : undefined) });
    try {
      const input = join(dir, 'input');
      writeFileSync(input, JSON.stringify({ method: 'partial', kwargs: {} }));
      const logger = collectingLogger();
      let waiting!: () => void;
      const started = new Promise<void>((r) => (waiting = r));
      const run = runAlgorithm({
        module: {
          partial: async () => {
            const sum = secureSum(g1!, [1, 2, 3], { allowTwoParties: true }); // p2 never joins this sum
            waiting();
            return sum;
          },
        },
        env: { INPUT_FILE: input, OUTPUT_FILE: join(dir, 'output') },
        logger,
        signal: stop.signal,
      });
      await started;
      stop.abort(new AbortedError('stopped by SIGTERM'));
      expect(await run).toBe(1);
      expect(logger.lines.filter((l) => l.startsWith('error'))).toEqual(['error: COUPLER_ERR_ABORTED: stopped by SIGTERM; the method ended with COUPLER_ERR_CHANNEL_CLOSED: the group is closed']);
    } finally {
      await Promise.all([g1!.close(), g2!.close()]);
      cleanup();
    }
  });

  test('runAlgorithm in process: module object, missing env, logger lines', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, 'input');
      const output = join(dir, 'output');
      writeFileSync(input, JSON.stringify({ method: 'half', kwargs: { x: 3 } }));
      const logger = collectingLogger();
      let seen: AlgorithmContext | undefined;
      const mod = {
        half: async (kwargs: Record<string, unknown>, ctx: AlgorithmContext) => {
          seen = ctx;
          return (kwargs.x as number) / 2;
        },
      };
      expect(await runAlgorithm({ module: mod, env: { INPUT_FILE: input, OUTPUT_FILE: output }, logger })).toBe(0);
      expect(readFileSync(output, 'utf8')).toBe('1.5');
      expect(seen?.hasToken).toBe(false);
      expect(() => seen!.client).toThrow('no container token');
      expect(logger.lines.some((l) => l.startsWith('info: running method "half"'))).toBe(true);

      const logger2 = collectingLogger();
      expect(await runAlgorithm({ module: mod, env: { OUTPUT_FILE: output }, logger: logger2 })).toBe(1);
      expect(logger2.lines).toEqual(['error: COUPLER_ERR_VANTAGE6: INPUT_FILE is not set']);
      const logger3 = collectingLogger();
      expect(await runAlgorithm({ module: mod, env: { INPUT_FILE: join(dir, 'missing'), OUTPUT_FILE: output }, logger: logger3 })).toBe(1);
      expect(logger3.lines).toEqual(['error: COUPLER_ERR_VANTAGE6: cannot open INPUT_FILE (ENOENT)']);
    } finally {
      cleanup();
    }
  });

  test('an OUTPUT_FILE or state folder that cannot be written is refused before the method runs (not after a whole multi-party run)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, 'input');
      let ran = 0;
      const mod = { partial: () => ++ran };
      const run = async (env: Record<string, string>, method = 'partial'): Promise<string[]> => {
        writeFileSync(input, JSON.stringify({ method, kwargs: {} }));
        const logger = collectingLogger();
        expect(await runAlgorithm({ module: mod, env: v6EncodeEnv({ INPUT_FILE: input, ORGANIZATION_ID: '2', TASK_ID: '5', ...env }), logger })).toBe(1);
        return logger.lines.filter((l) => !l.startsWith('info'));
      };
      const hint = 'checked before the method runs; a stock vantage6 node creates the task files for root: run the image as root (the default) or give them to this user';
      mkdirSync(join(dir, 'a-folder'));
      expect(await run({ OUTPUT_FILE: join(dir, 'a-folder') })).toEqual([`error: COUPLER_ERR_VANTAGE6: cannot write OUTPUT_FILE (EISDIR); ${hint}`]);
      expect(await run({ OUTPUT_FILE: join(dir, 'gone', 'output') })).toEqual([
        `error: COUPLER_ERR_VANTAGE6: cannot write OUTPUT_FILE (ENOENT): it does not exist and its folder cannot take it; ${hint}`,
      ]);
      const output = join(dir, 'output');
      writeFileSync(output, '');
      writeFileSync(join(dir, 'a-file'), '');
      expect(await run({ OUTPUT_FILE: output, TEMPORARY_FOLDER: join(dir, 'a-file') }, 'coupler_key_exchange')).toEqual([
        `error: COUPLER_ERR_VANTAGE6: cannot write the state folder TEMPORARY_FOLDER (ENOTDIR): the key subtask saves its secret key there; ${hint}`,
      ]);
      expect(await run({ OUTPUT_FILE: output, ALGORITHM_METHOD: 'coupler_key_exchange', SESSION_FOLDER: join(dir, 'no-session') }, 'coupler_key_exchange')).toEqual([
        `error: COUPLER_ERR_VANTAGE6: cannot write the state folder SESSION_FOLDER (ENOENT): the key subtask saves its secret key there; ${hint}`,
      ]);
      expect(ran).toBe(0);
      expect(readFileSync(output, 'utf8')).toBe('');
    } finally {
      cleanup();
    }
  });
});
