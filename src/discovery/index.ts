/**
 * Peer discovery: where the other containers of a task might be listening.
 *
 * Every method implements {@link Discovery}: `discover()` returns one deduplicated, sorted
 * snapshot of {@link PeerAddress}es, possibly empty while containers start, and never hangs past
 * its own timeout. {@link waitForPeers} polls one until enough peers are known.
 *
 * - {@link dnsDiscovery}: Docker Swarm `tasks.<service>`, network aliases, Kubernetes headless
 *   services, SRV records.
 * - {@link staticDiscovery}: a fixed `host:port,...` list.
 * - {@link envDiscovery}: the same syntax read from `COUPLER_PEERS` at each lookup.
 * - {@link startDevDnsServer}: a small real DNS server for local runs and tests.
 *
 * Addresses are untrusted hints: identities are proven by the handshake against the roster.
 *
 * @example
 * ```ts
 * import { dnsDiscovery, waitForPeers } from 'coupler';
 * const peers = await waitForPeers(dnsDiscovery({ names: ['tasks.sum'], port: 7000 }), {
 *   expected: 3,
 *   timeoutMs: 60_000,
 * });
 * ```
 *
 * @packageDocumentation
 */
export type { DiscoverOptions, Discovery, PeerAddress } from './types';
export { dnsDiscovery, DNS_LOOKUP_TIMEOUT, MAX_DNS_LOOKUP_TIMEOUT, MAX_DNS_NAMES, MAX_SRV_TARGETS } from './dns';
export type { DnsDiscoveryInit } from './dns';
export { staticDiscovery } from './static';
export { envDiscovery, DEFAULT_PEERS_VARIABLE } from './env';
export type { EnvDiscoveryInit } from './env';
export { waitForPeers, WAIT_INITIAL_DELAY, WAIT_MAX_DELAY, MAX_WAIT_TIMEOUT, MAX_EXPECTED_PEERS } from './wait';
export type { WaitForPeersOptions } from './wait';
export { startDevDnsServer, MAX_QUERY_BYTES, MAX_RECORDS_PER_NAME, MAX_NAMES, MAX_OVERRIDE_DELAY_MS } from './dev-dns-server';
export type { DevDnsServer, DevDnsServerInit, DevDnsOverride, DevDnsStats, DevRecordType, DevSrvRecord } from './dev-dns-server';
export { MAX_PEERS_PER_LOOKUP } from './_peers';
export { MAX_PEER_LIST_ENTRIES, MAX_PEER_LIST_LENGTH } from './_parse-list';
