/**
 * `coupler simulate --vantage6 4|5` must start each party with the environment a real node of that
 * version gives an algorithm container (review10 R10-11): an algorithm that passes simulate must
 * not meet a different environment on a node.
 *
 * vantage6 4.14 (tag version/4.14.0):
 * - vantage6-node/vantage6/node/docker/task_manager.py:476-480 writes `input`, `output` and
 *   `token` (the container token, ASCII) into the run's task folder; :540-548 sets `INPUT_FILE`,
 *   `OUTPUT_FILE`, `TOKEN_FILE`, `TEMPORARY_FOLDER`, `HOST` (`http://<proxy host>`), `PORT`,
 *   `API_PATH` (`""`); :582-640 always sets `USER_REQUESTED_DATABASE_LABELS` and `DB_LABELS` (empty
 *   when there are none) and `<LABEL>_DATABASE_URI`/`_TYPE` per node database. It never sets
 *   `ORGANIZATION_ID`, `TASK_ID`, `NODE_ID` or `COLLABORATION_ID`: they are claims of the token.
 * - vantage6-server/vantage6/server/resource/token.py:335-351: the container identity
 *   `{client_type, node_id, organization_id, collaboration_id, study_id, store_id, task_id, image,
 *   databases}` (databases: the task's `parameters` with `label`), passed to `create_access_token`,
 *   which puts it in the `sub` claim (Flask-JWT-Extended 4.7.1 `JWT_IDENTITY_CLAIM` default;
 *   vantage6-server/vantage6/server/__init__.py:326-330 turns off the string check on `sub` for
 *   exactly this); `additional_claims_loader` (__init__.py:555-590) adds `client_type: "container"`
 *   and `roles: []` at the top level; no `exp` (`expires_delta=False`).
 *
 * vantage6 5.0 (tag version/5.0.0rc2), vantage6-node/vantage6/node/k8s/container_manager.py:
 * - :424-427 and :440 set `HOST` (`V6_PROXY_HOST`, `http://<proxy service>` in
 *   charts/node/templates/node-deployment.yml:34-35), `PORT` and `API_PATH` (`""`) for every
 *   container, whatever its step; only :429-430, the `CONTAINER_TOKEN` secret, is for
 *   `central_compute` alone;
 * - :442-452 set `ALGORITHM_METHOD`, `FUNCTION_ACTION`, `TASK_ID`, `NODE_ID`, `ORGANIZATION_ID`,
 *   `COLLABORATION_ID`;
 * - :954-963 set `OUTPUT_FILE`, `INPUT_FILE`, `SESSION_FOLDER` and `SESSION_FILE`, the session's
 *   state file `<SESSION_FOLDER>/session_state.parquet` (k8s/session_manager.py:36, 48-53: created
 *   with the session, `_create_session_state_file` :136-160 writes one row
 *   `{action: "", file: "session_state.parquet", timestamp, message: "Created this session file.",
 *   dataframe: ""}`; k8s/run_io.py:239-244 adds `{action: "data_extraction", file:
 *   "<df>.parquet", message: "Session updated.", dataframe: "<df>"}` when an extraction step writes
 *   a dataframe);
 * - :1004-1029: every step but data extraction gets `USER_REQUESTED_DATAFRAMES`, the requested
 *   dataframes joined by `,` and `;` (vantage6-common/vantage6/common/globals.py:55-56): `""`
 *   when the task names none;
 * - no `TOKEN_FILE`, `TEMPORARY_FOLDER`, `DB_LABELS`, `USER_REQUESTED_DATABASE_LABELS`,
 *   `<LABEL>_DATABASE_URI` (4.x variables).
 *
 * Runs the built CLI (`npm run build`) with a user's module next to node_modules/coupler.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ROOT, cleanupAll, requireBuiltCli, runCli, tempDir } from './_cli';

beforeAll(() => requireBuiltCli());
afterAll(cleanupAll);

const VARS = [
  'ORGANIZATION_ID',
  'TASK_ID',
  'NODE_ID',
  'COLLABORATION_ID',
  'ALGORITHM_METHOD',
  'FUNCTION_ACTION',
  'INPUT_FILE',
  'OUTPUT_FILE',
  'SESSION_FOLDER',
  'SESSION_FILE',
  'USER_REQUESTED_DATAFRAMES',
  'TOKEN_FILE',
  'TEMPORARY_FOLDER',
  'HOST',
  'PORT',
  'API_PATH',
  'USER_REQUESTED_DATABASE_LABELS',
  'DB_LABELS',
  'DEFAULT_DATABASE_URI',
  'DEFAULT_DATABASE_TYPE',
] as const;

interface Probe {
  vars: Record<(typeof VARS)[number], string | null>;
  organizationId: string | null;
  taskId: string | null;
  hasToken: boolean;
  claims: Record<string, unknown> | null;
  clientClaims: Record<string, unknown> | null;
  token: { mode: string; text: string } | null;
  proxy: { name?: string; code?: string; status?: number } | string;
  /** What a plain HTTP GET of `HOST:PORT` + `API_PATH` + `/organization/1` answered (status), or why it failed; null without HOST. */
  http: number | string | null;
  /** The file SESSION_FILE names, read as Parquet; null without SESSION_FILE. */
  sessionFile: { columns: string[]; rows: unknown[][]; magic: string } | { error: string } | null;
}

/** A module whose method reports what its container was given: variables (decoded), token file, context, proxy. */
function userModule(): { dir: string; module: string } {
  const dir = tempDir('coupler-cli-env-');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'coupler'), 'dir');
  const module = join(dir, 'algorithm.mjs');
  writeFileSync(
    module,
    `import { readFileSync, statSync } from 'node:fs';
import { readParquetFile } from 'coupler/vantage6';

const VARS = ${JSON.stringify(VARS)};
const plain = (v) => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

export async function probe(kwargs, ctx) {
  let token = null;
  if (ctx.env.tokenFile !== undefined) {
    token = { mode: (statSync(ctx.env.tokenFile).mode & 0o777).toString(8), text: readFileSync(ctx.env.tokenFile, 'ascii') };
  }
  let clientClaims = null;
  let proxy;
  try {
    const client = ctx.client;
    clientClaims = plain(client.tokenClaims());
    await client.request('GET', 'organization/' + ctx.organizationId);
    proxy = 'answered';
  } catch (e) {
    proxy = { name: e.name, code: e.code, status: e.status ?? null };
  }
  let http = null;
  if (process.env.HOST !== undefined) {
    try {
      const res = await fetch(ctx.env.get('HOST') + ':' + ctx.env.get('PORT') + (ctx.env.get('API_PATH') ?? '') + '/organization/1', { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      http = res.status;
    } catch (e) {
      http = String(e);
    }
  }
  let sessionFile = null;
  if (process.env.SESSION_FILE !== undefined) {
    try {
      const path = ctx.env.get('SESSION_FILE');
      const bytes = readFileSync(path);
      const table = await readParquetFile(path);
      sessionFile = {
        magic: bytes.subarray(0, 4).toString('latin1') + bytes.subarray(-4).toString('latin1'),
        columns: table.columns,
        rows: table.rows.map((r) => r.map((c) => (c instanceof Date ? 'Date' : typeof c === 'bigint' ? 'bigint' : c))),
      };
    } catch (e) {
      sessionFile = { error: String(e) };
    }
  }
  return {
    http,
    sessionFile,
    vars: Object.fromEntries(VARS.map((n) => [n, n in process.env ? ctx.env.get(n) : null])),
    organizationId: ctx.organizationId ?? null,
    taskId: ctx.taskId ?? null,
    hasToken: ctx.hasToken,
    claims: plain(ctx.claims),
    clientClaims,
    token,
    proxy,
  };
}
`,
  );
  return { dir, module };
}

const json = (segment: string): Record<string, unknown> => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

/** Run `simulate <module> --method probe` and return each party's probe, in party order. */
async function probeParties(version: 4 | 5, withData: boolean): Promise<{ probes: Probe[]; dataFiles: string[]; stdout: string }> {
  const { dir, module } = userModule();
  const dataFiles = withData
    ? [1, 2, 3].map((i) => {
        const f = join(dir, `station-${i}.csv`);
        writeFileSync(f, `value\n${i}\n`);
        return f;
      })
    : [];
  const r = await runCli(
    ['simulate', module, '--method', 'probe', '--parties', '3', '--vantage6', String(version), '--discovery', 'static', '--json', ...(withData ? ['--data', dataFiles.join(',')] : [])],
    { cwd: dir, timeoutMs: 40_000 },
  );
  const where = `exit ${String(r.code)}\n${r.stdout}\n${r.stderr}`;
  const report = JSON.parse(r.stdout) as { parties: { party: string; exitCode: number | null; result: Probe; error?: unknown }[] };
  expect({ exits: report.parties.map((p) => p.exitCode), where }).toEqual({ exits: [0, 0, 0], where });
  return { probes: report.parties.map((p) => p.result), dataFiles, stdout: r.stdout };
}

describe('simulate --vantage6 4: the environment of a vantage6 4.14 node (task_manager.py, resource/token.py)', () => {
  test.each([
    ['with --data', true],
    ['without data', false],
  ] as const)('%s: no ORGANIZATION_ID/TASK_ID, a 0600 token file whose claims give organization and task, HOST/PORT/API_PATH, DB_LABELS', async (_name, withData) => {
    const { probes, dataFiles } = await probeParties(4, withData);
    for (const [i, p] of probes.entries()) {
      const org = i + 1;
      const where = `party ${org}: ${JSON.stringify(p)}`;
      // task_manager.py:540-548, 582-640: what the node sets, and what it does not.
      expect({ where, ORGANIZATION_ID: p.vars.ORGANIZATION_ID, TASK_ID: p.vars.TASK_ID, NODE_ID: p.vars.NODE_ID, COLLABORATION_ID: p.vars.COLLABORATION_ID, ALGORITHM_METHOD: p.vars.ALGORITHM_METHOD }).toEqual({
        where,
        ORGANIZATION_ID: null,
        TASK_ID: null,
        NODE_ID: null,
        COLLABORATION_ID: null,
        ALGORITHM_METHOD: null,
      });
      expect(p.vars.TOKEN_FILE).toEqual(expect.any(String));
      // The token sits next to the input and output, in the run's task folder (task_manager.py:476-480, 540-542).
      expect(basename(p.vars.TOKEN_FILE!)).toBe('token');
      expect(dirname(p.vars.TOKEN_FILE!)).toBe(dirname(p.vars.INPUT_FILE!));
      expect(p.vars.TEMPORARY_FOLDER).toEqual(expect.any(String));
      expect(p.vars.HOST).toMatch(/^http:\/\/127\.0\.0\.1$/); // `http://<proxy host>`, the port in PORT; loopback only
      expect(p.vars.PORT).toMatch(/^[1-9][0-9]{0,4}$/);
      expect(p.vars.API_PATH).toBe('');
      expect(p.vars.USER_REQUESTED_DATABASE_LABELS).toBe(withData ? 'default' : '');
      expect(p.vars.DB_LABELS).toBe(withData ? 'default' : '');
      expect(p.vars.DEFAULT_DATABASE_URI).toBe(withData ? dataFiles[i] : null);
      expect(p.vars.DEFAULT_DATABASE_TYPE).toBe(withData ? 'csv' : null);

      // The token file: mode 0600, an ASCII JWT as the 4.14 server issues it.
      expect(p.token).not.toBeNull();
      expect(p.token!.mode).toBe('600');
      const parts = p.token!.text.split('.');
      expect(parts).toHaveLength(3);
      expect(json(parts[0]!)).toEqual({ alg: 'HS256', typ: 'JWT' });
      const payload = json(parts[1]!);
      // token.py:335-351, in the `sub` claim, in that order.
      expect(payload.sub).toEqual({
        client_type: 'container',
        node_id: expect.any(Number),
        organization_id: org,
        collaboration_id: 1,
        study_id: null,
        store_id: null,
        task_id: 1,
        image: expect.any(String),
        databases: withData ? [{ label: 'default' }] : [],
      });
      expect(Object.keys(payload.sub as object)).toEqual(['client_type', 'node_id', 'organization_id', 'collaboration_id', 'study_id', 'store_id', 'task_id', 'image', 'databases']);
      // __init__.py additional_claims_loader; Flask-JWT-Extended's own claims; no exp.
      expect(payload).toMatchObject({ client_type: 'container', roles: [], type: 'access', fresh: false });
      expect(typeof payload.iat).toBe('number');
      expect(typeof payload.jti).toBe('string');
      expect(payload).not.toHaveProperty('exp');

      // The runtime reads organization and task from the token (contract.ts, decodeTokenClaims).
      expect({ where, organizationId: p.organizationId, taskId: p.taskId, hasToken: p.hasToken }).toEqual({ where, organizationId: String(org), taskId: '1', hasToken: true });
      expect(p.claims).toMatchObject({ clientType: 'container', organizationId: org, taskId: 1, collaborationId: 1 });
      // ctx.client reads the same token (readContainerToken) and reaches a listener at HOST:PORT;
      // simulate has no vantage6 server, so the call is refused there, never sent anywhere else.
      expect(p.clientClaims).toMatchObject({ organizationId: org, taskId: 1 });
      expect(p.proxy).toMatchObject({ name: 'ProxyRequestError', status: 501 });
    }
    // One token per party, each its own.
    expect(new Set(probes.map((p) => p.token!.text)).size).toBe(3);
  });
});

describe('simulate --vantage6 5: the environment of a vantage6 5.0 node (k8s/container_manager.py)', () => {
  test.each([
    ['with --data', true],
    ['without data', false],
  ] as const)('%s: the ids, HOST/PORT/API_PATH for every container, SESSION_FILE, USER_REQUESTED_DATAFRAMES always; no token for a federated step', async (_name, withData) => {
    const { probes } = await probeParties(5, withData);
    for (const [i, p] of probes.entries()) {
      const org = String(i + 1);
      const where = `party ${org}: ${JSON.stringify(p)}`;
      // :442-452
      expect({ where, ...p.vars }).toMatchObject({ where, ORGANIZATION_ID: org, TASK_ID: '1', NODE_ID: org, COLLABORATION_ID: '1', ALGORITHM_METHOD: 'probe', FUNCTION_ACTION: 'federated_compute' });
      // 4.x variables a 5.0 node does not set.
      expect({ where, ...p.vars }).toMatchObject({ where, TOKEN_FILE: null, TEMPORARY_FOLDER: null, USER_REQUESTED_DATABASE_LABELS: null, DB_LABELS: null, DEFAULT_DATABASE_URI: null, DEFAULT_DATABASE_TYPE: null });
      // :424-427, 440: the node proxy's address for every container, not only those with a token.
      expect({ where, HOST: p.vars.HOST, PORT: p.vars.PORT, API_PATH: p.vars.API_PATH }).toEqual({ where, HOST: 'http://127.0.0.1', PORT: expect.stringMatching(/^[1-9][0-9]{0,4}$/), API_PATH: '' });
      // ... and there is something there: the stand-in proxy, which answers 501 (no vantage6 server).
      expect({ where, http: p.http }).toEqual({ where, http: 501 });
      // :954-963: input, output, the session folder and its state file.
      expect(p.vars.INPUT_FILE).toEqual(expect.any(String));
      expect(p.vars.OUTPUT_FILE).toEqual(expect.any(String));
      expect(p.vars.SESSION_FOLDER).toEqual(expect.any(String));
      expect({ where, SESSION_FILE: p.vars.SESSION_FILE }).toEqual({ where, SESSION_FILE: join(p.vars.SESSION_FOLDER!, 'session_state.parquet') });
      // session_manager.py:136-160 (and run_io.py:239-244 for the extracted dataframe `default`).
      expect({ where, sessionFile: p.sessionFile }).toEqual({
        where,
        sessionFile: {
          magic: 'PAR1PAR1',
          columns: ['action', 'file', 'timestamp', 'message', 'dataframe'],
          rows: [
            ['', 'session_state.parquet', 'Date', 'Created this session file.', ''],
            ...(withData ? [['data_extraction', 'default.parquet', 'Date', 'Session updated.', 'default']] : []),
          ],
        },
      });
      // :1004-1029: set for every step but data extraction, empty when no dataframe is requested.
      expect({ where, USER_REQUESTED_DATAFRAMES: p.vars.USER_REQUESTED_DATAFRAMES }).toEqual({ where, USER_REQUESTED_DATAFRAMES: withData ? 'default' : '' });
      // :429-430: a federated step gets no token, so ctx.client cannot call the proxy.
      expect({ organizationId: p.organizationId, taskId: p.taskId, hasToken: p.hasToken, token: p.token }).toEqual({ organizationId: org, taskId: '1', hasToken: false, token: null });
      expect(p.proxy).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
    }
  });
});
