import { decodeBase32, decodeEnvValue, detectContractVersion, readContainerEnv } from '../../src/vantage6/index';
import { base32Encode, v6Encode, v6EncodeEnv } from './helpers';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('decodeBase32 (RFC 4648 section 10 vectors)', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY======'],
    ['fo', 'MZXQ===='],
    ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI======'],
  ];
  test.each(vectors)('%j <- %s', (plain, encoded) => {
    expect(Buffer.from(decodeBase32(encoded)!).toString('utf8')).toBe(plain);
    expect(base32Encode(utf8(plain))).toBe(encoded); // the test helper agrees with the RFC too
  });

  test.each([
    ['lower case', 'mzxw6==='],
    ['length not a multiple of 8', 'MZXW6=='],
    ['padding in the middle', 'MY======MZXQ===='],
    ['two pad characters (not allowed)', 'MZXW6Y=='],
    ['five pad characters (not allowed)', 'MZX====='],
    ['seven pad characters (not allowed)', 'M======='],
    ['character outside the alphabet', 'MZXW1==='],
    ['data after padding', 'MZ=W6==='],
    ['non-zero trailing bits', 'MZXR===='],
  ])('refuses %s', (_why, text) => {
    expect(decodeBase32(text)).toBeUndefined();
  });

  test('round-trips random bytes', () => {
    for (let n = 0; n < 40; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n * 11) & 0xff);
      expect(Buffer.from(decodeBase32(base32Encode(bytes))!)).toEqual(Buffer.from(bytes));
    }
  });
});

describe('decodeEnvValue', () => {
  test.each([
    ['base32 with !', 'MZXW6!!!', 'foo'],
    ['base32 with = (also accepted)', 'MZXW6===', 'foo'],
    ['node-encoded path', v6Encode('/mnt/data/task-000000042/input'), '/mnt/data/task-000000042/input'],
    ['node-encoded unicode', v6Encode('zürich ✓ 東京'), 'zürich ✓ 東京'],
    ['node-encoded JSON', v6Encode('{"a": [1, 2]}'), '{"a": [1, 2]}'],
    ['raw path (not base32)', '/mnt/data/input', '/mnt/data/input'],
    ['raw URL', 'http://proxyserver', 'http://proxyserver'],
    ['raw number', '8080', '8080'],
    ['raw lower-case word', 'partial', 'partial'],
    ['empty', '', ''],
    ['invalid UTF-8 after decoding falls back to raw', base32Encode(new Uint8Array([0xff, 0xfe, 0xfd])).replaceAll('=', '!'), base32Encode(new Uint8Array([0xff, 0xfe, 0xfd])).replaceAll('=', '!')],
    ['bad padding falls back to raw', 'MZXW6!!', 'MZXW6!!'],
  ])('%s', (_why, input, expected) => {
    expect(decodeEnvValue(input)).toBe(expected);
  });

  test('refuses a non-string', () => {
    expect(() => decodeEnvValue(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_INVALID_ARGUMENT' }));
  });
});

describe('readContainerEnv', () => {
  test('v4 environment, every value encoded', () => {
    const env = readContainerEnv({
      ...v6EncodeEnv({
        INPUT_FILE: '/mnt/data/task-000000001/input',
        OUTPUT_FILE: '/mnt/data/task-000000001/output',
        TOKEN_FILE: '/mnt/data/task-000000001/token',
        TEMPORARY_FOLDER: '/mnt/tmp',
        HOST: 'http://proxyserver',
        PORT: '8080',
        API_PATH: '',
        USER_REQUESTED_DATABASE_LABELS: 'default,extra',
        DEFAULT_DATABASE_URI: '/mnt/data/default.csv',
        DEFAULT_DATABASE_TYPE: 'csv',
        EXTRA_DATABASE_URI: 'postgresql://db/x',
        EXTRA_DATABASE_TYPE: 'sql',
        EXTRA_QUERY: 'SELECT 1',
        EXTRA_DB_PARAM_USER: 'reader',
        EXTRA_PREPROCESSING: '[{"function":"select_rows"}]',
        DB_LABELS: 'default',
        MY_SETTING: 'hello',
      }),
      PKG_NAME: '/app/algorithm.js',
    });
    expect(env.contractVersion).toBe('v4');
    expect(env.inputFile).toBe('/mnt/data/task-000000001/input');
    expect(env.outputFile).toBe('/mnt/data/task-000000001/output');
    expect(env.tokenFile).toBe('/mnt/data/task-000000001/token');
    expect(env.temporaryFolder).toBe('/mnt/tmp');
    expect(env.host).toBe('http://proxyserver');
    expect(env.port).toBe(8080);
    expect(env.apiPath).toBe('');
    expect(env.pkgName).toBe('/app/algorithm.js');
    expect(env.requestedDatabaseLabels).toEqual(['default', 'extra']);
    expect(env.dbLabels).toEqual(['default']);
    expect([...env.databases.keys()]).toEqual(['default', 'extra']);
    const extra = env.databases.get('extra')!;
    expect(extra.uri).toBe('postgresql://db/x');
    expect(extra.type).toBe('sql');
    expect(extra.query).toBe('SELECT 1');
    expect(extra.params.get('USER')).toBe('reader');
    expect(extra.preprocessing).toEqual([{ function: 'select_rows' }]);
    expect(env.databases.get('default')!.type).toBe('csv');
    expect(env.get('MY_SETTING')).toBe('hello');
    expect(env.get('NOT_SET')).toBeUndefined();
    expect(env.hasContainerToken).toBe(false);
  });

  test('v5 environment; the container token is not enumerable', () => {
    const token = 'aaaa.bbbb.cccc-secret-token';
    const env = readContainerEnv({
      ALGORITHM_METHOD: v6Encode('partial'),
      INPUT_FILE: '/in',
      OUTPUT_FILE: '/out',
      HOST: 'http://proxy',
      TASK_ID: v6Encode('12'),
      NODE_ID: '3',
      ORGANIZATION_ID: v6Encode('4'),
      COLLABORATION_ID: '5',
      CONTAINER_TOKEN: token,
    });
    expect(env.contractVersion).toBe('v5');
    expect(env.algorithmMethod).toBe('partial');
    expect(env.port).toBe(7654);
    expect(env.taskId).toBe('12');
    expect(env.nodeId).toBe('3');
    expect(env.organizationId).toBe('4');
    expect(env.collaborationId).toBe('5');
    expect(env.hasContainerToken).toBe(true);
    expect(env.containerToken()).toBe(token);
    expect(JSON.stringify(env)).not.toContain('secret');
    expect(Object.keys(env)).not.toContain('containerToken');
  });

  test('missing and malformed values', () => {
    const env = readContainerEnv({ PORT: 'not-a-port' });
    expect(env.inputFile).toBeUndefined();
    expect(env.port).toBe(8080);
    expect(env.databases.size).toBe(0);
    expect(readContainerEnv({ PORT: '70000' }).port).toBe(8080);
  });

  test('detectContractVersion', () => {
    expect(detectContractVersion({})).toBe('v4');
    expect(detectContractVersion({ ALGORITHM_METHOD: '' })).toBe('v4');
    expect(detectContractVersion({ ALGORITHM_METHOD: 'x' })).toBe('v5');
    expect(() => detectContractVersion(null as unknown as NodeJS.ProcessEnv)).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_INVALID_ARGUMENT' }));
  });
});
