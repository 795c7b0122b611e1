import { createNodeProxyClient, vantage6VpnDiscovery, type NodeProxyClient } from '../../src/vantage6';
import { startFakeNodeProxy, type FakeNodeProxy } from '../support/fake-node-proxy';
import { runDiscoveryCompliance, type ComplianceAddress } from '../discovery/compliance';

const entries = (addrs: readonly ComplianceAddress[]): Record<string, unknown>[] =>
  addrs.map((a, i) => ({ ip: a.host, port: a.port, label: 'coupler', organization_id: 10 + i, task_id: 60, parent_id: 50 }));

runDiscoveryCompliance('vantage6-vpn (fake node proxy on 127.0.0.1)', async ({ initial }) => {
  const proxy = await startFakeNodeProxy();
  proxy.vpnAddresses = entries(initial);
  const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, task_id: 60 }) });
  return {
    discovery: vantage6VpnDiscovery({ client, timeoutMs: 1000 }),
    supportsLatePublish: true,
    publish: (addrs) => {
      proxy.vpnAddresses = entries(addrs);
    },
    maxLookupMs: 1000,
    close: () => proxy.close(),
  };
});

describe('vantage6VpnDiscovery', () => {
  let proxy: FakeNodeProxy;
  let client: NodeProxyClient;
  beforeEach(async () => {
    proxy = await startFakeNodeProxy();
    client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, task_id: 60 }) });
  });
  afterEach(async () => proxy.close());

  test('maps VPN ip:port to PeerAddress with the organization as party hint; filters label, task and self', async () => {
    proxy.vpnAddresses = [
      { ip: '10.76.0.3', port: 51003, label: 'coupler', organization_id: 3, task_id: 60, parent_id: 50 },
      { ip: '10.76.0.2', port: 51002, label: 'coupler', organization_id: 2, task_id: 60, parent_id: 50 },
      { ip: '10.76.0.1', port: 51001, label: 'coupler', organization_id: 1, task_id: 60, parent_id: 50 }, // self
      { ip: '10.76.0.4', port: 51004, label: 'coupler', organization_id: 4, task_id: 61, parent_id: 50 }, // other task
      { ip: '10.76.0.5', port: 51005, label: 'other', organization_id: 5, task_id: 60, parent_id: 50 }, // other label
    ];
    const found = await vantage6VpnDiscovery({ client }).discover();
    expect(found).toEqual([
      { host: '10.76.0.2', port: 51002, source: 'vantage6-vpn', partyHint: '2' },
      { host: '10.76.0.3', port: 51003, source: 'vantage6-vpn', partyHint: '3' },
    ]);
    expect(proxy.requests.at(-1)!.query.get('label')).toBe('coupler');
    const any = await vantage6VpnDiscovery({ client, taskId: null, excludeSelf: false }).discover();
    expect(any.map((p) => p.partyHint)).toEqual(['1', '2', '3', '4']);
    const task61 = await vantage6VpnDiscovery({ client, taskId: 61 }).discover();
    expect(task61.map((p) => p.partyHint)).toEqual(['4']);
  });

  test('an empty answer while peers start is not an error', async () => {
    proxy.vpnAddresses = [];
    expect(await vantage6VpnDiscovery({ client }).discover()).toEqual([]);
  });

  test('endpoint failures and stalls become DiscoveryError within the bound', async () => {
    proxy.failNext('/vpn', 500);
    await expect(vantage6VpnDiscovery({ client }).discover()).rejects.toMatchObject({ code: 'COUPLER_ERR_DISCOVERY_FAILED' });
    proxy.stallNext('/vpn');
    const started = Date.now();
    await expect(vantage6VpnDiscovery({ client, timeoutMs: 200 }).discover()).rejects.toMatchObject({
      code: 'COUPLER_ERR_DISCOVERY_FAILED',
      message: 'vantage6 VPN address lookup got no answer within 200 ms',
    });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  test('validates its options', () => {
    expect(() => vantage6VpnDiscovery({ client, label: '' })).toThrow('"label"');
    expect(() => vantage6VpnDiscovery({ client, taskId: 'x' })).toThrow('"taskId"');
    expect(() => vantage6VpnDiscovery({ client: {} as NodeProxyClient })).toThrow('"client"');
  });
});
