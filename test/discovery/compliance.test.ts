/**
 * Runs the shared compliance suite against every discovery method in this folder.
 */
import { dnsDiscovery } from '../../src/discovery/dns';
import { envDiscovery } from '../../src/discovery/env';
import { staticDiscovery } from '../../src/discovery/static';
import { startDevDnsServer } from '../../src/discovery/dev-dns-server';
import { COMPLIANCE_PORT, runDiscoveryCompliance, type ComplianceAddress } from './compliance';

const NAME = 'tasks.compliance';
const hosts = (addrs: readonly ComplianceAddress[]): string[] => addrs.map((a) => a.host);
const list = (addrs: readonly ComplianceAddress[]): string => addrs.map((a) => `${a.host}:${a.port}`).join(',');

runDiscoveryCompliance('dns (dev DNS server on 127.0.0.1)', async ({ initial }) => {
  const server = await startDevDnsServer();
  server.setA(NAME, hosts(initial));
  return {
    discovery: dnsDiscovery({ names: [NAME], port: COMPLIANCE_PORT, servers: [server.server], timeoutMs: 1000 }),
    supportsLatePublish: true,
    publish: (addrs) => server.setA(NAME, hosts(addrs)),
    maxLookupMs: 1000,
    close: () => server.close(),
  };
});

runDiscoveryCompliance('static', ({ initial }) => ({
  // A static list cannot be empty; the late-publish test (the only one with none) does not apply.
  discovery: staticDiscovery(initial.length === 0 ? '127.0.0.1:1' : list(initial)),
  supportsLatePublish: false,
  maxLookupMs: 50,
}));

runDiscoveryCompliance('env', ({ initial }) => {
  const env: Record<string, string | undefined> = { COUPLER_PEERS: initial.length === 0 ? undefined : list(initial) };
  return {
    discovery: envDiscovery({ env }),
    supportsLatePublish: true,
    publish: (addrs) => {
      env.COUPLER_PEERS = list(addrs);
    },
    maxLookupMs: 50,
  };
});
