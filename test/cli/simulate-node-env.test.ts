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
 * vantage6 5.0 (tag version/5.0.0rc2): vantage6-node/vantage6/node/k8s/container_manager.py:442-452
 * sets `TASK_ID`, `NODE_ID`, `ORGANIZATION_ID`, `COLLABORATION_ID`, `ALGORITHM_METHOD`; a token only
 * for central steps (:429-430). Unchanged here, checked so that it stays so.
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
  'INPUT_FILE',
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
  return {
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

describe('simulate --vantage6 5: unchanged (k8s/container_manager.py:429-452)', () => {
  test('ORGANIZATION_ID, TASK_ID, NODE_ID, COLLABORATION_ID set; no token for a federated step', async () => {
    const { probes } = await probeParties(5, false);
    for (const [i, p] of probes.entries()) {
      const org = String(i + 1);
      expect(p.vars).toMatchObject({ ORGANIZATION_ID: org, TASK_ID: '1', NODE_ID: org, COLLABORATION_ID: '1', ALGORITHM_METHOD: 'probe', TOKEN_FILE: null, TEMPORARY_FOLDER: null });
      expect({ organizationId: p.organizationId, taskId: p.taskId, hasToken: p.hasToken, token: p.token }).toEqual({ organizationId: org, taskId: '1', hasToken: false, token: null });
      expect(p.proxy).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
    }
  });
});
