import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createNodeProxyClient,
  decodeTokenClaims,
  nodeProxyClientFromEnv,
  proxyBaseUrl,
  readContainerEnv,
  ProxyRequestError,
  type NodeProxyClient,
} from '../../src/vantage6';
import { CouplerError } from '../../src/errors';
import { KNOWN_FAILED_STATUSES } from '../../src/vantage6/proxy-client';
import { fakePublicKeyOf, startFakeNodeProxy, type FakeNodeProxy } from '../support/fake-node-proxy';
import { tempDir, v6EncodeEnv } from './helpers';

describe('NodeProxyClient against the fake node proxy', () => {
  let proxy: FakeNodeProxy;
  let token: string;
  let client: NodeProxyClient;

  beforeEach(async () => {
    proxy = await startFakeNodeProxy({ pageSize: 2 });
    token = proxy.issueToken({ node_id: 9, organization_id: 1, collaboration_id: proxy.collaborationId, task_id: 50, image: 'harbor/algo:1', databases: [{ label: 'default' }] });
    client = createNodeProxyClient({ baseUrl: proxy.url, token, requestTimeoutMs: 2000 });
  });
  afterEach(async () => proxy.close());

  const expectNoToken = (err: unknown): void => {
    expect(err).toBeInstanceOf(CouplerError);
    const e = err as Error;
    expect(e.message).not.toContain(token);
    expect(JSON.stringify({ ...e, message: e.message })).not.toContain(token);
  };

  test('tokenClaims decodes the sub claim without verifying', () => {
    expect(client.tokenClaims()).toMatchObject({ clientType: 'container', nodeId: 9, organizationId: 1, collaborationId: 7, taskId: 50, image: 'harbor/algo:1' });
    expect(() => decodeTokenClaims('not-a-jwt')).toThrow('not a JWT');
    expect(() => decodeTokenClaims('a.b.c')).toThrow('payload is not a JSON object');
    const stringSub = `e30.${Buffer.from(JSON.stringify({ sub: JSON.stringify({ organization_id: 3 }) })).toString('base64url')}.x`;
    expect(decodeTokenClaims(stringSub).organizationId).toBe(3);
  });

  test('createSubtask sends base64 JSON input per organization, image and databases from the token', async () => {
    const task = await client.createSubtask({
      name: 'partials',
      organizations: [
        { id: 2, input: { method: 'partial', args: [], kwargs: { column: 'age', big: 10n ** 20n } } },
        { id: '3', input: { method: 'partial', args: [], kwargs: { column: 'äge' } } },
      ],
    });
    const body = proxy.tasks.get(task.id)!.body;
    expect(body).toMatchObject({ name: 'partials', image: 'harbor/algo:1', collaboration_id: 7, databases: [{ label: 'default' }] });
    const orgs = body.organizations as { id: number; input: string }[];
    expect(orgs.map((o) => o.id)).toEqual([2, 3]);
    expect(Buffer.from(orgs[0]!.input, 'base64').toString('utf8')).toBe('{"method":"partial","args":[],"kwargs":{"column":"age","big":100000000000000000000}}');
    expect(JSON.parse(Buffer.from(orgs[1]!.input, 'base64').toString('utf8'))).toEqual({ method: 'partial', args: [], kwargs: { column: 'äge' } });
    expect(proxy.requests.at(-1)!.authorized).toBe(true);
  });

  test('createSubtask validates its options', async () => {
    await expect(client.createSubtask({ organizations: [] })).rejects.toThrow('non-empty array');
    await expect(client.createSubtask({ organizations: [{ id: 1, input: {} }, { id: 1, input: {} }] })).rejects.toThrow('twice');
    await expect(client.createSubtask({ organizations: [{ id: -1, input: {} }] })).rejects.toThrow('"organizations[0].id"');
    await expect(client.createSubtask({ organizations: [{ id: 1, input: { x: NaN } }] })).rejects.toThrow('NaN at $.x');
    expect(proxy.requests).toHaveLength(0);
  });

  test('waitForResults polls with backoff until late results, then decodes them with their organizations', async () => {
    const task = await client.createSubtask({ organizations: [1, 2, 3].map((id) => ({ id, input: { method: 'm' } })) });
    const [r1, r2, r3] = proxy.runsOf(task.id);
    setTimeout(() => proxy.completeRun(r1!.id, { n: 1 }), 50);
    setTimeout(() => proxy.completeRun(r2!.id, [2]), 150);
    setTimeout(() => proxy.completeRun(r3!.id, 'three'), 400);
    const started = Date.now();
    const results = await client.waitForResults(task.id, { timeoutMs: 5000, intervalMs: 40, maxIntervalMs: 160 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(results.map((r) => [r.organizationId, r.result])).toEqual([
      [1, { n: 1 }],
      [2, [2]],
      [3, 'three'],
    ]);
    const polls = proxy.requests.filter((r) => r.path === `/task/${task.id}/status`).length;
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(polls).toBeLessThanOrEqual(8); // exponential, not one per 40 ms
    expect(proxy.requests.some((r) => r.path === '/run')).toBe(true); // attribution through /run
  });

  test('results carrying their organization need no /run lookup', async () => {
    await proxy.close();
    proxy = await startFakeNodeProxy({ resultsIncludeOrganization: true });
    token = proxy.issueToken({ organization_id: 1, collaboration_id: 7, image: 'i' });
    client = createNodeProxyClient({ baseUrl: proxy.url, token });
    const task = await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    proxy.completeRun(proxy.runsOf(task.id)[0]!.id, 5);
    expect(await client.getResults(task.id)).toEqual([{ runId: expect.any(Number), organizationId: 2, result: 5 }]);
    expect(proxy.requests.some((r) => r.path === '/run')).toBe(false);
  });

  test('waitForResults times out with the last status', async () => {
    const task = await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    await expect(client.waitForResults(task.id, { timeoutMs: 300, intervalMs: 50 })).rejects.toMatchObject({
      code: 'COUPLER_ERR_TIMEOUT',
      message: `task ${task.id} did not complete within 300 ms (last status "active")`,
    });
  });

  test('waitForResults names the organizations of a failed task', async () => {
    const task = await client.createSubtask({ organizations: [1, 2].map((id) => ({ id, input: {} })) });
    const [r1, r2] = proxy.runsOf(task.id);
    proxy.completeRun(r1!.id, 1);
    proxy.crashRun(r2!.id);
    await expect(client.waitForResults(task.id, { timeoutMs: 2000, intervalMs: 20 })).rejects.toMatchObject({
      code: 'COUPLER_ERR_VANTAGE6',
      peers: ['2'],
      message: `task ${task.id} ended with status "crashed"; organizations that failed: 2`,
    });
  });

  // Every failure status of both versions, as their source spells them:
  // vantage6-common/vantage6/common/task_status.py (4.14) and vantage6-common/vantage6/common/enum.py
  // (5.0 RunStatus). Before: "non-existing Docker image" (and the 5.0 additions) polled to the deadline.
  test.each([
    'failed',
    'start failed',
    'non-existing Docker image',
    'crashed',
    'killed by user',
    'not allowed',
    'unknown error',
    'dataframe not found',
    'depended on failed task',
    'unexpected output',
  ])('waitForResults fails fast on the status "%s"', async (status) => {
    expect(KNOWN_FAILED_STATUSES).toContain(status.toLowerCase());
    const task = await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    proxy.tasks.get(task.id)!.status = status;
    const t0 = Date.now();
    await expect(client.waitForResults(task.id, { timeoutMs: 20_000, intervalMs: 20 })).rejects.toMatchObject({
      code: 'COUPLER_ERR_VANTAGE6',
      message: expect.stringContaining(`task ${task.id} ended with status "${status.toLowerCase()}"`),
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  test.each(['pending', 'initializing', 'active', 'awaiting'])('the in-progress status "%s" keeps polling until the deadline', async (status) => {
    const task = await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    proxy.tasks.get(task.id)!.status = status;
    await expect(client.waitForResults(task.id, { timeoutMs: 200, intervalMs: 20 })).rejects.toMatchObject({ code: 'COUPLER_ERR_TIMEOUT' });
  });

  test('results keep integers beyond 2^53 exact (coupler writes them with all their digits)', async () => {
    const task = await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    const [run] = proxy.runsOf(task.id);
    proxy.completeRunRaw(run!.id, Buffer.from('{"total":12345678901234567890,"small":3,"neg":-9007199254740993,"f":0.5}', 'utf8').toString('base64'));
    const [r] = await client.waitForResults(task.id, { timeoutMs: 2000, intervalMs: 20 });
    expect(r!.result).toEqual({ total: 12345678901234567890n, small: 3, neg: -9007199254740993n, f: 0.5 });
  });

  describe('vantage6 5.x task bodies (HQ rules in the fake: vantage6-hq/vantage6/hq/resource/common/input_schema.py; client shape: vantage6-algorithm-tools/vantage6/algorithm/client/__init__.py Task.create, 5.0)', () => {
    let v5: FakeNodeProxy;
    beforeEach(async () => {
      v5 = await startFakeNodeProxy({ version: 'v5' });
    });
    afterEach(async () => v5.close());
    const claims = { node_id: 9, organization_id: 1, collaboration_id: 7, task_id: 50, image: 'harbor/algo:1', databases: [[{ label: 'default', type: 'dataframe' }]], session_id: 12 };

    test('createSubtask sends method, session_id, action and per-organization arguments (base64 JSON of the kwargs); the fake HQ accepts it', async () => {
      const c5 = createNodeProxyClient({ baseUrl: v5.url, token: v5.issueToken(claims), contractVersion: 'v5' });
      const task = await c5.createSubtask({
        organizations: [
          { id: 2, input: { method: 'partial', kwargs: { column: 'age', big: 10n ** 20n } } },
          { id: 3, input: { method: 'partial', args: [], kwargs: {} } },
        ],
      });
      const body = v5.tasks.get(task.id)!.body;
      expect(body).toMatchObject({ method: 'partial', session_id: 12, action: 'federated_compute', image: 'harbor/algo:1', collaboration_id: 7, databases: [[{ label: 'default', type: 'dataframe' }]] });
      const orgs = body.organizations as Record<string, string>[];
      expect(orgs.map((o) => Object.keys(o).sort())).toEqual([['arguments', 'id'], ['arguments', 'id']]);
      expect(Buffer.from(orgs[0]!.arguments!, 'base64').toString('utf8')).toBe('{"column":"age","big":100000000000000000000}');
    });

    test('the v4 body on a v5 node fails (HTTP 500 from the proxy: no `arguments`) — what coupler sent before', async () => {
      const c4 = createNodeProxyClient({ baseUrl: v5.url, token: v5.issueToken(claims) });
      await expect(c4.createSubtask({ organizations: [{ id: 2, input: { method: 'partial', args: [], kwargs: {} } }] })).rejects.toMatchObject({ code: 'COUPLER_ERR_PROXY_REQUEST_FAILED', status: 500 });
    });

    test('refused before sending: no session_id claim, different methods per organization, positional args, databases not a list of lists', async () => {
      const noSession = createNodeProxyClient({ baseUrl: v5.url, token: v5.issueToken({ ...claims, session_id: undefined }), contractVersion: 'v5' });
      await expect(noSession.createSubtask({ organizations: [{ id: 2, input: { method: 'm', kwargs: {} } }] })).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
      const c5 = createNodeProxyClient({ baseUrl: v5.url, token: v5.issueToken(claims), contractVersion: 'v5' });
      await expect(c5.createSubtask({ organizations: [{ id: 2, input: { method: 'a', kwargs: {} } }, { id: 3, input: { method: 'b', kwargs: {} } }] })).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
      await expect(c5.createSubtask({ organizations: [{ id: 2, input: { method: 'a', args: [1], kwargs: {} } }] })).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
      await expect(c5.createSubtask({ organizations: [{ id: 2, input: { method: 'a', kwargs: {} } }], databases: [{ label: 'x' }] })).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
      expect(v5.tasks.size).toBe(0);
    });

    test('nodeProxyClientFromEnv picks the v5 body from the environment (ALGORITHM_METHOD, CONTAINER_TOKEN)', async () => {
      const env = readContainerEnv(v6EncodeEnv({ ALGORITHM_METHOD: 'central', CONTAINER_TOKEN: v5.issueToken(claims), HOST: '127.0.0.1', PORT: String(v5.port) }));
      const c = nodeProxyClientFromEnv(env);
      const task = await c.createSubtask({ organizations: [{ id: 2, input: { method: 'partial', kwargs: { x: 1 } } }] });
      expect(v5.tasks.get(task.id)!.body).toMatchObject({ method: 'partial', session_id: 12 });
    });
  });

  describe('large_result_store (vantage6 4.13+ blob store: vantage6-node/vantage6/node/proxy_server.py /blobstream, vantage6-common/vantage6/common/client/blob_storage.py)', () => {
    let blob: FakeNodeProxy;
    beforeEach(async () => {
      blob = await startFakeNodeProxy({ blobStore: true });
    });
    afterEach(async () => blob.close());
    const claims = { node_id: 9, organization_id: 1, collaboration_id: 7, task_id: 50, image: 'harbor/algo:1', databases: [{ label: 'default' }] };

    test('createSubtask uploads each input to /blobstream with the organization key and sends the blob UUID', async () => {
      const c = createNodeProxyClient({ baseUrl: blob.url, token: blob.issueToken(claims) });
      const task = await c.createSubtask({ organizations: [{ id: 2, input: { method: 'partial', args: [], kwargs: { big: 10n ** 20n } } }] });
      const org = (blob.tasks.get(task.id)!.body.organizations as { input: string }[])[0]!;
      expect(org.input).toMatch(/^[0-9a-f-]{36}$/);
      expect(blob.blobPlaintext(org.input)).toEqual({
        publicKey: fakePublicKeyOf(2),
        bytes: Buffer.from('{"method":"partial","args":[],"kwargs":{"big":100000000000000000000}}'),
      });
      const upload = blob.requests.find((r) => r.method === 'POST' && r.path === '/blobstream');
      expect(upload).toBeDefined();
      expect(blob.runsOf(task.id)[0]!.input).toEqual({ method: 'partial', args: [], kwargs: { big: 100000000000000000000 } });
    });

    test('the upload is streamed without Content-Length, so the proxy\'s forwarded request is chunked and framed (a length would reach the server next to Transfer-Encoding: chunked)', async () => {
      const c = createNodeProxyClient({ baseUrl: blob.url, token: blob.issueToken(claims) });
      const kwargs = { rows: Array.from({ length: 3000 }, (_, i) => i * 7) };
      const task = await c.createSubtask({ organizations: [{ id: 2, input: { method: 'partial', args: [], kwargs } }, { id: 3, input: { method: 'partial', args: [], kwargs: {} } }] });
      expect(blob.blobUploadHeads).toHaveLength(2);
      for (const head of blob.blobUploadHeads) {
        expect(head).toMatch(/^Transfer-Encoding: chunked$/m);
        expect(head).not.toMatch(/^Content-Length:/im);
        expect(head).toMatch(/^Content-Type: application\/octet-stream$/m);
      }
      expect(blob.runsOf(task.id).map((r) => r.input)).toEqual([
        { method: 'partial', args: [], kwargs },
        { method: 'partial', args: [], kwargs: {} },
      ]);
    });

    test('results stored as blobs (blob_storage_used) are fetched from /blobstream/<uuid>, integers exact', async () => {
      const c = createNodeProxyClient({ baseUrl: blob.url, token: blob.issueToken(claims) });
      const task = await c.createSubtask({ organizations: [{ id: 2, input: {} }, { id: 3, input: {} }] });
      const [r2, r3] = blob.runsOf(task.id);
      blob.completeRunBlob(r2!.id, undefined, '{"total":12345678901234567890}');
      blob.completeRun(r3!.id, { total: 1 });
      const results = await c.waitForResults(task.id, { timeoutMs: 3000, intervalMs: 20 });
      expect(results.map((r) => r.result)).toEqual([{ total: 12345678901234567890n }, { total: 1 }]);
    });

    test('a blob result whose "uuid" is not a UUID: typed error, nothing fetched', async () => {
      const c = createNodeProxyClient({ baseUrl: blob.url, token: blob.issueToken(claims) });
      const task = await c.createSubtask({ organizations: [{ id: 2, input: {} }] });
      const [r2] = blob.runsOf(task.id);
      blob.completeRunRaw(r2!.id, '../../task');
      r2!.blobStorageUsed = true;
      await expect(c.getResults(task.id)).rejects.toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
    });
  });

  test('waitForResults rides out a few 500s while polling, but not too many', async () => {
    const task = await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    proxy.completeRun(proxy.runsOf(task.id)[0]!.id, 'ok');
    proxy.failNext(`/task/${task.id}/status`, 500, 2);
    expect((await client.waitForResults(task.id, { timeoutMs: 3000, intervalMs: 10 }))[0]!.result).toBe('ok');
    proxy.failNext(`/task/${task.id}/status`, 500, 3);
    await expect(client.waitForResults(task.id, { timeoutMs: 3000, intervalMs: 10 })).rejects.toMatchObject({ code: 'COUPLER_ERR_PROXY_REQUEST_FAILED', status: 500 });
  });

  test('waitForResults can be aborted', async () => {
    const task = await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await expect(client.waitForResults(task.id, { timeoutMs: 5000, intervalMs: 30, signal: ac.signal })).rejects.toMatchObject({ code: 'COUPLER_ERR_ABORTED' });
  });

  test('non-2xx answers: PROXY_REQUEST_FAILED with method, path and status, never the token', async () => {
    proxy.failNext('/task', 500);
    let caught: unknown;
    try {
      await client.createSubtask({ organizations: [{ id: 2, input: {} }] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProxyRequestError);
    expect(caught).toMatchObject({ code: 'COUPLER_ERR_PROXY_REQUEST_FAILED', status: 500, method: 'POST', path: '/task', message: 'POST /task: HTTP 500' });
    expectNoToken(caught);

    const stranger = createNodeProxyClient({ baseUrl: proxy.url, token: 'aaa.bbb.ccc' });
    await expect(stranger.getTaskStatus(1)).rejects.toMatchObject({ status: 401, message: 'GET /task/1/status: HTTP 401' });
  });

  test('a request that gets no answer times out', async () => {
    const fast = createNodeProxyClient({ baseUrl: proxy.url, token, requestTimeoutMs: 200 });
    proxy.stallNext('/organization');
    const started = Date.now();
    let caught: unknown;
    try {
      await fast.listOrganizations();
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'COUPLER_ERR_TIMEOUT', message: 'GET /organization: no complete answer from the node proxy within 200 ms' });
    expect(Date.now() - started).toBeLessThan(2000);
    expectNoToken(caught);
  });

  test('responses over the size cap are refused', async () => {
    const small = createNodeProxyClient({ baseUrl: proxy.url, token, maxResponseBytes: 1000 });
    proxy.oversizeNext('/organization', 5000);
    await expect(small.listOrganizations()).rejects.toMatchObject({ code: 'COUPLER_ERR_PROXY_REQUEST_FAILED', message: 'GET /organization: response larger than 1000 bytes' });
  });

  test('connection refused: PROXY_REQUEST_FAILED without a status', async () => {
    const port = proxy.port;
    await proxy.close();
    const gone = createNodeProxyClient({ baseUrl: `http://127.0.0.1:${port}`, token });
    await expect(gone.getTaskStatus(1)).rejects.toMatchObject({ code: 'COUPLER_ERR_PROXY_REQUEST_FAILED', status: undefined });
    proxy = await startFakeNodeProxy();
  });

  test('pagination is followed, and capped', async () => {
    await proxy.close();
    const many = Array.from({ length: 9 }, (_, i) => ({ id: i + 1, name: `org${i + 1}` }));
    proxy = await startFakeNodeProxy({ organizations: many, pageSize: 2 });
    token = proxy.issueToken({ organization_id: 1, collaboration_id: 7 });
    client = createNodeProxyClient({ baseUrl: proxy.url, token });
    expect((await client.listOrganizations()).map((o) => o.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(proxy.requests.filter((r) => r.path === '/organization').map((r) => r.query.get('page'))).toEqual(['1', '2', '3', '4', '5']);
    const capped = createNodeProxyClient({ baseUrl: proxy.url, token, maxPages: 3 });
    await expect(capped.listOrganizations()).rejects.toThrow('more than 3 pages');
  });

  test('vpnAddresses sends the flags and parses entries, skipping malformed ones', async () => {
    proxy.vpnAddresses = [
      { ip: '10.76.0.2', port: 51000, label: 'coupler', organization_id: 2, task_id: 60, parent_id: 50 },
      { ip: '10.76.0.3', port: '51001', label: 'coupler', organization_id: 3, task_id: 60, parent_id: 50 },
      { ip: '10.76.0.4', port: 0, label: 'coupler', organization_id: 4, task_id: 60, parent_id: 50 },
      { ip: 12, port: 51002, label: 'coupler' },
    ];
    const addrs = await client.vpnAddresses({ label: 'coupler', only: 'children', includeParent: true });
    expect(addrs).toEqual([
      { ip: '10.76.0.2', port: 51000, label: 'coupler', organizationId: 2, taskId: 60, parentId: 50 },
      { ip: '10.76.0.3', port: 51001, label: 'coupler', organizationId: 3, taskId: 60, parentId: 50 },
    ]);
    const q = proxy.requests.at(-1)!.query;
    expect(q.get('label')).toBe('coupler');
    expect(q.get('only_children')).toBe('1');
    expect(q.get('include_parent')).toBe('1');
    proxy.vpnBodyOverride = { msg: 'VPN not configured' };
    await expect(client.vpnAddresses()).rejects.toThrow('no "addresses" list');
  });

  test('the client never shows its token when inspected or serialized', () => {
    const { inspect } = jest.requireActual<typeof import('node:util')>('node:util');
    expect(inspect(client)).not.toContain(token);
    expect(JSON.stringify(client)).not.toContain(token);
  });
});

describe('nodeProxyClientFromEnv', () => {
  test('base URL from HOST, PORT, API_PATH; token from TOKEN_FILE or CONTAINER_TOKEN', () => {
    const { dir, cleanup } = tempDir();
    try {
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'h.e30.s\n');
      const env = { ...v6EncodeEnv({ HOST: 'http://proxyserver', PORT: '8080', API_PATH: '/api/', TOKEN_FILE: tokenFile }) };
      expect(nodeProxyClientFromEnv(env).baseUrl).toBe('http://proxyserver:8080/api');
      expect(proxyBaseUrl(readContainerEnv({ HOST: 'proxy', ALGORITHM_METHOD: 'm' }))).toBe('http://proxy:7654');
      expect(nodeProxyClientFromEnv({ HOST: 'http://p', CONTAINER_TOKEN: 'a.b.c' }).baseUrl).toBe('http://p:8080');
      expect(() => nodeProxyClientFromEnv({ HOST: 'http://p' })).toThrow('no container token');
      expect(() => nodeProxyClientFromEnv({ TOKEN_FILE: tokenFile })).toThrow('HOST is not set');
      expect(() => nodeProxyClientFromEnv({ HOST: 'http://p', TOKEN_FILE: join(dir, 'missing') })).toThrow('cannot read TOKEN_FILE (ENOENT)');
      expect(() => nodeProxyClientFromEnv({ HOST: 'ftp://p', TOKEN_FILE: tokenFile })).toThrow('http or https');
    } finally {
      cleanup();
    }
  });

  test('bad init options are refused without echoing the token', () => {
    expect(() => createNodeProxyClient({ baseUrl: 'nope', token: 't' })).toThrow('"baseUrl"');
    expect(() => createNodeProxyClient({ baseUrl: 'http://x', token: 'has space secret' })).toThrow('"token" must be a non-empty string without whitespace');
    expect(() => createNodeProxyClient({ baseUrl: 'http://x', token: 't', requestTimeoutMs: 0 })).toThrow('"requestTimeoutMs"');
  });
});
