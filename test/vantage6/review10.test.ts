/**
 * review10: the vantage6 adapter against vantage6's own source (4.14.0 and 5.0.0rc2). Each block
 * names the finding (docs/reviews/review10-vantage6.md) and the vantage6 file it was checked
 * against. Network: 127.0.0.1 only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createNodeProxyClient,
  decodeTokenClaims,
  runPeerTasks,
  parseInput,
  checkAgreement,
  discoveryFromEnv,
  vantage6VpnDiscovery,
  ProxyRequestError,
  type AlgorithmContext,
  type NodeProxyClient,
  type NodeProxyClientInit,
} from '../../src/vantage6';
import { MAX_PEERS_PER_LOOKUP } from '../../src/discovery';
import { startFakeNodeProxy, type FakeNodeProxy } from '../support/fake-node-proxy';
import { fakeJwt, v6EncodeEnv } from './helpers';

/**
 * R10-1. The entries of `GET /vpn/algorithm/addresses` as vantage6-server/vantage6/server/resource/port.py
 * (VPNAddress.get, 4.14.0, lines 377-389) builds them: `port` (the node's VPN-side port, from
 * FREE_PORT_RANGE = range(49152, 65535), vantage6-node/vantage6/node/globals.py:38), `label`,
 * `ip` (= port.run.node.ip, the node's VPN IPv4 address), `organization_id`, `task_id`, `parent_id`.
 * A hostile server can put anything there.
 */
describe('R10-1: VPN discovery against a hostile address list', () => {
  let proxy: FakeNodeProxy;
  let client: NodeProxyClient;
  beforeEach(async () => {
    proxy = await startFakeNodeProxy();
    client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, task_id: 60 }) });
  });
  afterEach(async () => proxy.close());

  const entry = (ip: unknown, port: unknown, org: number): Record<string, unknown> => ({ ip, port, label: 'coupler', organization_id: org, task_id: 60, parent_id: 50 });

  test('a list of 20 000 addresses is cut to MAX_PEERS_PER_LOOKUP (each address becomes a concurrent dial)', async () => {
    const list: Record<string, unknown>[] = [];
    for (let i = 0; i < 20_000; i++) list.push(entry(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 49152 + (i % 16_000), 2 + (i % 50)));
    proxy.vpnAddresses = list;
    const found = await vantage6VpnDiscovery({ client }).discover();
    expect(found.length).toBeLessThanOrEqual(MAX_PEERS_PER_LOOKUP);
    expect(found.length).toBeGreaterThan(0);
  });

  test('an ip that is not an IP literal is dropped (vantage6 gives the node\'s VPN IP address)', async () => {
    proxy.vpnAddresses = [
      entry('10.76.0.2', 51002, 2),
      entry('10.76.0.9:1/x', 51003, 3),
      entry('evil host', 51004, 4),
      entry('http://10.76.0.8', 51005, 5),
      entry('10.76.0.7#', 51006, 6),
      entry('localhost', 51007, 7),
      entry('x'.repeat(200), 51008, 8),
      entry('10.76.0.300', 51009, 9),
      entry(null, 51010, 10), // a node without a VPN address: port.run.node.ip is None
    ];
    const found = await vantage6VpnDiscovery({ client }).discover();
    expect(found).toEqual([{ host: '10.76.0.2', port: 51002, source: 'vantage6-vpn', partyHint: '2' }]);
  });

  test('ports outside 1..65535 or not integers, and wrong ids, are dropped or carry no hint (typed, no crash)', async () => {
    proxy.vpnAddresses = [
      entry('10.76.0.2', 0, 2),
      entry('10.76.0.3', 65536, 3),
      entry('10.76.0.4', -1, 4),
      entry('10.76.0.5', 51005.5, 5),
      entry('10.76.0.6', null, 6),
      entry('10.76.0.7', '51007', 7), // a decimal string: read as the port
      { ip: '10.76.0.8', port: 51008, label: 'coupler', organization_id: -3, task_id: 60, parent_id: 50 }, // no usable id: no hint
      { ip: '10.76.0.9', port: 51009, label: 'coupler', organization_id: { id: 9 }, task_id: 60, parent_id: 50 },
    ];
    const found = await vantage6VpnDiscovery({ client }).discover();
    expect(found).toEqual([
      { host: '10.76.0.7', port: 51007, source: 'vantage6-vpn', partyHint: '7' },
      { host: '10.76.0.8', port: 51008, source: 'vantage6-vpn' },
      { host: '10.76.0.9', port: 51009, source: 'vantage6-vpn' },
    ]);
  });

  test('one address written two ways is one address (canonical IPv6)', async () => {
    proxy.vpnAddresses = [entry('2001:DB8::1', 51002, 2), entry('2001:db8:0:0::1', 51002, 2), entry('[2001:db8::1]', 51002, 2)];
    const found = await vantage6VpnDiscovery({ client }).discover();
    expect(found).toEqual([{ host: '2001:db8::1', port: 51002, source: 'vantage6-vpn', partyHint: '2' }]);
  });
});

/**
 * R10-2. Lists are paginated `{data, links}` (vantage6-backend-common/vantage6/backend/common/resource/pagination.py,
 * 4.14.0, `metadata_links`); the node proxy forwards the server's answer verbatim
 * (vantage6-node/vantage6/node/proxy_server.py, 4.14.0, `proxy`: `response.content`). A hostile
 * server can answer every page with a full page and `links.next` set.
 */
describe('R10-2: a paginated list is capped in total bytes, not only per page', () => {
  let server: Server;
  let url: string;
  let pages = 0;
  beforeEach(async () => {
    pages = 0;
    const item = { id: 1, name: 'x'.repeat(1000) };
    const page = JSON.stringify({ data: new Array(1000).fill(item), links: { next: '/organization?page=2' } }); // ≈ 1 MB
    server = createServer((_req, res) => {
      pages += 1;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(page) });
      res.end(page);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('the client stops once the pages together pass maxListBytes', async () => {
    const init = { baseUrl: url, token: fakeJwt({ organization_id: 1, collaboration_id: 7 }), maxResponseBytes: 2 * 1024 * 1024, maxListBytes: 5 * 1024 * 1024 };
    const client = createNodeProxyClient(init as NodeProxyClientInit);
    const err = await client.listOrganizations().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProxyRequestError);
    expect((err as Error).message).toMatch(/larger than 5242880 bytes/);
    expect(pages).toBeLessThanOrEqual(6);
  });
});

/**
 * R10-3. The container token's identity claim: 4.14.0 writes `client_type`
 * (vantage6-server/vantage6/server/resource/token.py:335-351); 5.0.0rc2 writes
 * `vantage6_client_type` and adds `session_id` (vantage6-hq/vantage6/hq/resource/token.py:178-193).
 */
describe('R10-3: token claims as each version writes them', () => {
  test('5.0: vantage6_client_type', () => {
    const v5 = fakeJwt({ vantage6_client_type: 'container', node_id: 3, organization_id: 2, collaboration_id: 1, study_id: null, store_id: null, session_id: 4, task_id: 9, image: 'img', databases: [[{ label: 'df', type: 'dataframe', dataframe_id: 5 }]] });
    expect(decodeTokenClaims(v5)).toMatchObject({ clientType: 'container', organizationId: 2, sessionId: 4, taskId: 9 });
  });

  test('4.14: client_type', () => {
    const v4 = fakeJwt({ client_type: 'container', node_id: 3, organization_id: 2, collaboration_id: 1, study_id: null, store_id: null, task_id: 9, image: 'img', databases: [{ label: 'default' }] });
    expect(decodeTokenClaims(v4)).toMatchObject({ clientType: 'container', organizationId: 2, taskId: 9 });
  });

  test('the fake node proxy issues 5.0 tokens with the 5.0 claim name', async () => {
    const proxy = await startFakeNodeProxy({ version: 'v5' });
    try {
      const sub = JSON.parse(Buffer.from(proxy.issueToken({ organization_id: 1, session_id: 2 }).split('.')[1]!, 'base64url').toString('utf8')).sub as Record<string, unknown>;
      expect(sub.vantage6_client_type).toBe('container');
      expect(sub.client_type).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});

/**
 * R10-4. vantage6 5 has no VPN: HQ has no /vpn/algorithm/addresses (vantage6-hq/vantage6/hq/resource/
 * has no vpn or port resource, 5.0.0rc2), and federated containers get no token
 * (vantage6-node/vantage6/node/k8s/container_manager.py:429-430: CONTAINER_TOKEN for central_compute only).
 */
describe('R10-4: discovery defaults under vantage6 5', () => {
  const ctxOf = (version: 'v4' | 'v5'): AlgorithmContext => {
    const client = createNodeProxyClient({ baseUrl: 'http://127.0.0.1:9', token: fakeJwt({ organization_id: 1, task_id: 5 }) });
    return { contractVersion: version, client } as unknown as AlgorithmContext;
  };

  test('no discovery configured under 5.x: a clear error naming what to set, not the VPN', () => {
    expect(() => discoveryFromEnv({}, ctxOf('v5'))).toThrow(/vantage6 5 has no VPN.*COUPLER_DISCOVERY/);
  });

  test('COUPLER_DISCOVERY=vantage6-vpn under 5.x (raw or node-encoded) is refused', () => {
    expect(() => discoveryFromEnv({ COUPLER_DISCOVERY: 'vantage6-vpn' }, ctxOf('v5'))).toThrow(/vantage6 5 has no VPN/);
    expect(() => discoveryFromEnv(v6EncodeEnv({ COUPLER_DISCOVERY: 'vantage6-vpn' }), ctxOf('v5'))).toThrow(/vantage6 5 has no VPN/);
  });

  test('4.x keeps the VPN default; 5.x with DNS names or peers is unchanged', () => {
    expect(discoveryFromEnv({}, ctxOf('v4')).map((d) => d.kind)).toEqual(['vantage6-vpn']);
    expect(discoveryFromEnv({ COUPLER_DNS_NAMES: 'tasks.sum' }, ctxOf('v5')).map((d) => d.kind)).toEqual(['dns']);
    expect(discoveryFromEnv({ COUPLER_PEERS: '10.0.0.2:8888' }, ctxOf('v5')).map((d) => d.kind)).toEqual(['env']);
  });
});

/**
 * R10-5. A result is base64 of JSON bytes (vantage6-algorithm-tools/vantage6/algorithm/client/__init__.py,
 * 4.14.0, Result.from_task: `json.loads(base64s_to_bytes(result_data))`); a peer (or the server)
 * can return JSON nested a million levels deep, which JSON.parse accepts.
 */
describe('R10-5: a deeply nested result is a typed error naming the run, not a stack overflow', () => {
  let proxy: FakeNodeProxy;
  afterEach(async () => proxy.close());

  test('getResults refuses a result nested deeper than the contract JSON depth', async () => {
    proxy = await startFakeNodeProxy({
      onTask: (_task, runs, p) => {
        const deep = '['.repeat(200_000) + ']'.repeat(200_000);
        p.completeRunRaw(runs[0]!.id, Buffer.from(deep, 'utf8').toString('base64'));
        p.completeRun(runs[1]!.id, { sum: 3 });
      },
    });
    const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, collaboration_id: 7, task_id: 50, image: 'img' }) });
    const task = await client.createSubtask({ organizations: [{ id: 2, input: { method: 'm' } }, { id: 3, input: { method: 'm' } }] });
    const err = await client.waitForResults(task.id, { intervalMs: 10, timeoutMs: 10_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'COUPLER_ERR_VANTAGE6' });
    expect((err as Error).message).toMatch(/result of run \d+ \(organization 2\) is nested deeper than 256/);
  });
});

/**
 * R10-6. `waitForResults`' `timeoutMs` is documented as the overall deadline; once the task status
 * says `completed` (vantage6-server/vantage6/server/resource/task.py `TaskStatus.get`, 4.14.0) the
 * results are read from `GET /result?task_id=` page by page (paging: pagination.py), each page with
 * the client's per-request deadline only. A proxy that stalls there kept the caller waiting past
 * its deadline (one request deadline per page).
 */
describe('R10-6: waitForResults keeps its deadline while it reads the results', () => {
  let proxy: FakeNodeProxy;
  afterEach(async () => proxy.close());

  test('a stalled /result ends at the wait deadline, as a TimeoutError', async () => {
    proxy = await startFakeNodeProxy({
      onTask: (_task, runs, p) => {
        for (const r of runs) p.completeRun(r.id, { sum: 1 });
      },
    });
    const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, collaboration_id: 7, task_id: 50, image: 'img' }), requestTimeoutMs: 20_000 });
    const task = await client.createSubtask({ organizations: [{ id: 2, input: { method: 'm' } }] });
    proxy.stallNext('/result', 10);
    const started = Date.now();
    const err = await client.waitForResults(task.id, { intervalMs: 10, timeoutMs: 1500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(6000);
    expect(err).toMatchObject({ code: 'COUPLER_ERR_TIMEOUT' });
    expect((err as Error).message).toMatch(/1500 ms/);
  }, 30_000);
});

/**
 * R10-7. `runPeerTasks`' `timeoutMs` is "overall deadline in ms for everything"; creating each
 * subtask goes through the proxy's `POST /task` (vantage6-node/vantage6/node/proxy_server.py
 * `proxy_task`, 4.14.0: one `GET organization/<id>` per organization, then up to RETRY = 3 tries
 * at the server, with no timeout of its own), under the client's per-request deadline only.
 */
describe('R10-7: runPeerTasks keeps its deadline while it creates subtasks', () => {
  let proxy: FakeNodeProxy;
  afterEach(async () => proxy.close());

  test('a stalled POST /task ends at the deadline, as a TimeoutError', async () => {
    proxy = await startFakeNodeProxy();
    const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, collaboration_id: 7, task_id: 50, image: 'img' }), requestTimeoutMs: 20_000 });
    proxy.stallNext('/task', 10);
    const started = Date.now();
    const err = await runPeerTasks({ client, organizations: [2, 3], method: 'partial', timeoutMs: 1500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(6000);
    expect(err).toMatchObject({ code: 'COUPLER_ERR_TIMEOUT' });
    expect((err as Error).message).toMatch(/1500 ms/);
  }, 30_000);
});

/**
 * R10-8. A task's input as vantage6's Python client writes it: vantage6-common/vantage6/common/serialization.py
 * `serialize` = `json.dumps(data)` (4.14.0; 5.0.0rc2 the same, used by vantage6-client/vantage6/client/__init__.py
 * `Task.create`), whose default `allow_nan=True` writes `NaN`, `Infinity`, `-Infinity`; vantage6's wrapper
 * reads them back with `json.load` (vantage6-algorithm-tools/vantage6/algorithm/tools/wrap.py `load_input`).
 */
describe("R10-8: input with the non-finite literals Python's json writes", () => {
  test('v4 and v5 inputs with NaN / Infinity / -Infinity are read as those numbers', () => {
    const text = '{"method": "central", "args": [NaN], "kwargs": {"a": NaN, "b": Infinity, "c": -Infinity, "s": "NaN Infinity", "n": [1, -2.5e3]}}';
    const v4 = parseInput(Buffer.from(text, 'utf8'), 'v4');
    expect(v4.args).toEqual([NaN]);
    expect(v4.kwargs).toEqual({ a: NaN, b: Infinity, c: -Infinity, s: 'NaN Infinity', n: [1, -2500] });
    const v5 = parseInput(Buffer.from('{"x": -Infinity, "big": 12345678901234567890}', 'utf8'), 'v5', 'partial');
    expect(v5.kwargs).toEqual({ x: -Infinity, big: 12345678901234567890n });
  });

  test('what Python\'s json does not write stays invalid', () => {
    for (const bad of ['{"a": nan}', '{"a": inf}', '{"a": +Infinity}', '{"a": NaNa}', '{"a": -NaN}', '{"a": Infinityx}', '{NaN: 1}', '{12345678901234567890: 1}']) {
      expect(() => parseInput(Buffer.from(`{"method":"m","kwargs":${bad}}`, 'utf8'), 'v4')).toThrow(/not valid JSON/);
    }
  });
});

/**
 * R10-9. The server validates a task's `name` (vantage6-backend-common/vantage6/backend/common/resource/input_schema.py
 * `validate_name`: not empty, not numeric, at most MAX_LEN_NAME = 128 characters; 4.14.0 and
 * 5.0.0rc2) and `description` (at most MAX_LEN_STR_LONG = 1024: vantage6-server/.../resource/common/input_schema.py
 * `TaskInputSchema`, 4.14.0; vantage6-hq/.../resource/common/input_schema.py, 5.0.0rc2) and answers
 * 400 — which the client reports as "HTTP 400" only (it never repeats a response body).
 */
describe('R10-9: task names and descriptions the server refuses are refused before sending', () => {
  let proxy: FakeNodeProxy;
  let client: NodeProxyClient;
  beforeEach(async () => {
    proxy = await startFakeNodeProxy();
    client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, collaboration_id: 7, task_id: 50, image: 'img' }) });
  });
  afterEach(async () => proxy.close());

  test.each([
    ['a name of 129 characters', { name: 'x'.repeat(129) }, /"name"/],
    ['an empty name', { name: '' }, /"name"/],
    ['a numeric name', { name: '2024' }, /"name"/],
    ['a description of 1025 characters', { description: 'd'.repeat(1025) }, /"description"/],
  ])('createSubtask: %s', async (_why, extra, message) => {
    await expect(client.createSubtask({ organizations: [{ id: 2, input: { method: 'm' } }], ...extra })).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT', message: expect.stringMatching(message) });
    expect(proxy.requests.filter((r) => r.path === '/task')).toEqual([]);
  });

  test('runPeerTasks: a name prefix that makes a subtask name longer than 128 characters', async () => {
    await expect(runPeerTasks({ client, organizations: [2, 3], method: 'partial', name: 'n'.repeat(125) })).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/"name"/) });
    expect(proxy.requests.filter((r) => r.path === '/task')).toEqual([]);
  });

  test('the longest allowed name and description go through', async () => {
    const task = await client.createSubtask({ organizations: [{ id: 2, input: { method: 'm' } }], name: 'x'.repeat(128), description: 'd'.repeat(1024) });
    expect(proxy.tasks.get(task.id)!.name).toBe('x'.repeat(128));
  });
});

/**
 * R10-10. `GET /result?task_id=` pages hold DEFAULT_PAGE_SIZE = 10 results unless `per_page` says
 * otherwise (vantage6-backend-common/vantage6/backend/common/globals.py, resource/pagination.py
 * `_get_per_page`, 4.14.0 and 5.0.0rc2), each result base64 of its JSON. Reading ten results in one
 * response capped at maxResponseBytes (64 MiB by default) fails for results far below the output
 * cap (DEFAULT_MAX_OUTPUT_BYTES, 256 MiB): three stations returning a 10^6-element sum (~24 MB of
 * base64 each) could not be collected.
 */
describe('R10-10: results are read one per page, so the per-response cap bounds one result, not ten', () => {
  let proxy: FakeNodeProxy;
  afterEach(async () => proxy.close());

  test('three results of ~1 MiB each with a 2 MiB response cap', async () => {
    const big = 'v'.repeat(750 * 1024);
    proxy = await startFakeNodeProxy({
      onTask: (_task, runs, p) => {
        for (const r of runs) p.completeRun(r.id, { big });
      },
    });
    const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, collaboration_id: 7, task_id: 50, image: 'img' }), maxResponseBytes: 2 * 1024 * 1024 });
    const task = await client.createSubtask({ organizations: [2, 3, 4].map((id) => ({ id, input: { method: 'm' } })) });
    const results = await client.waitForResults(task.id, { intervalMs: 10, timeoutMs: 10_000 });
    expect(results.map((r) => [r.organizationId, (r.result as { big: string }).big.length])).toEqual([
      [2, big.length],
      [3, big.length],
      [4, big.length],
    ]);
  });
});

/**
 * R10-12. Since R10-8 a result may hold NaN / Infinity (read as Python's json writes them:
 * vantage6-common/vantage6/common/serialization.py); checkAgreement compared results by
 * canonical JSON text, in which NaN, Infinity and null are all "null".
 */
describe('R10-12: checkAgreement tells NaN, Infinity and null apart', () => {
  test('one station answering NaN where the others answer null is the odd one out', () => {
    const results = [
      { runId: 1, organizationId: 1, result: { a: NaN } },
      { runId: 2, organizationId: 2, result: { a: null } },
      { runId: 3, organizationId: 3, result: { a: null } },
    ];
    expect(() => checkAgreement(results, [1, 2, 3])).toThrow(expect.objectContaining({ code: 'COUPLER_ERR_PROTOCOL_VIOLATION', peers: ['1'] }));
    const inf = [
      { runId: 1, organizationId: 1, result: [Infinity] },
      { runId: 2, organizationId: 2, result: [-Infinity] },
      { runId: 3, organizationId: 3, result: [-Infinity] },
    ];
    expect(() => checkAgreement(inf, [1, 2, 3])).toThrow(expect.objectContaining({ peers: ['1'] }));
  });
});
