/**
 * review22 R22-4: the vantage6 VPN address lookup runs at every pass of the dial loop (every
 * discovery interval while forming), and took an answer of up to the client's general response cap
 * (64 MiB, sized for results and blobs): measured, 64 MiB of address entries is ~830 000 entries,
 * ~0.7 s of blocked event loop and ~190 MiB of heap per lookup, although the discovery keeps at
 * most 65 536 entries and 4 096 addresses. A server (or anything answering as the node proxy) that
 * lists junk made a forming party spend that at every lookup.
 *
 * Real fake node proxy on 127.0.0.1.
 */
import { createNodeProxyClient, vantage6VpnDiscovery } from '../../src/vantage6';
import { startFakeNodeProxy, type FakeNodeProxy } from '../support/fake-node-proxy';

let proxy: FakeNodeProxy;
beforeAll(async () => {
  proxy = await startFakeNodeProxy();
});
afterAll(() => proxy.close());

test('R22-4: an address answer far larger than any real one (~28 MB) is refused with DISCOVERY_FAILED before it is parsed', async () => {
  const entry = { ip: '10.76.0.2', port: 51002, label: 'coupler', organization_id: 2, task_id: 60, parent_id: 50 };
  proxy.vpnBodyOverride = { addresses: Array.from({ length: 300_000 }, () => entry) };
  const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, task_id: 60 }) });
  const t0 = Date.now();
  const outcome = await vantage6VpnDiscovery({ client }).discover().then(
    (peers) => ({ peers: peers.length }),
    (err: unknown) => ({ code: (err as { code?: string }).code, message: (err as Error).message }),
  );
  console.log(`R22-4: ${JSON.stringify(outcome)} in ${Date.now() - t0} ms`);
  expect(outcome).toMatchObject({ code: 'COUPLER_ERR_DISCOVERY_FAILED' });
  expect((outcome as { message: string }).message).toMatch(/larger than/);
});

test('held: a real-sized answer (4 096 peers) is still taken', async () => {
  proxy.vpnBodyOverride = {
    addresses: Array.from({ length: 4096 }, (_, i) => ({ ip: `10.76.${i >> 8}.${i & 255}`, port: 51002, label: 'coupler', organization_id: 2 + i, task_id: 60, parent_id: 50 })),
  };
  const client = createNodeProxyClient({ baseUrl: proxy.url, token: proxy.issueToken({ organization_id: 1, task_id: 60 }) });
  expect(await vantage6VpnDiscovery({ client }).discover()).toHaveLength(4096);
});
