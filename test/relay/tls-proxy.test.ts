/**
 * TLS and proxies as institutions deploy them (issue 16, item 6): the relay serves wss:// itself
 * with a certificate from a private CA (made here with openssl, never committed), parties trust it
 * through COUPLER_RELAY_CA, and reach it only through an HTTP CONNECT proxy named by HTTPS_PROXY
 * (a small one in this test, on loopback) — a real secureSum end to end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode, InvalidArgumentError } from '../../src/errors';
import { dialRelay, relayChannel, relayProxyFor, startRelay, type RelayEvent, type RelayServer } from '../../src/relay';
import { makeParties } from '../support/group-harness';
import { joinAll } from './_relay';
import { startConnectProxy } from '../support/connect-proxy';

/** A CONNECT proxy dialling out from 127.0.0.7 (the relay sees the proxy's address), stopped after the test. */
async function connectProxy(): Promise<{ url: string; targets: string[] }> {
  const p = await startConnectProxy({ localAddress: '127.0.0.7' });
  cleanups.push(() => p.close());
  return p;
}

jest.setTimeout(60_000);

const PROXY_VARS = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'COUPLER_RELAY_CA'] as const;
let dir: string;
let certFile: string;
let cert: Buffer;
let key: Buffer;
const saved: Record<string, string | undefined> = {};
const relays: RelayServer[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'coupler-tls-'));
  certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  // A self-signed certificate for 127.0.0.1 and localhost: it is its own (private) CA.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=coupler test relay', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  cert = readFileSync(certFile);
  key = readFileSync(keyFile);
  for (const v of PROXY_VARS) saved[v] = process.env[v];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  for (const v of PROXY_VARS) delete process.env[v];
});
afterEach(async () => {
  for (const v of PROXY_VARS) {
    if (saved[v] === undefined) delete process.env[v];
    else process.env[v] = saved[v];
  }
  await Promise.all(relays.splice(0).map((r) => r.close()));
  await Promise.all(cleanups.splice(0).map((c) => c()));
});


async function tlsRelay(rosters: Parameters<typeof startRelay>[0]['rosters'], events: RelayEvent[] = []): Promise<{ r: RelayServer; url: string }> {
  const r = await startRelay({ rosters, tls: { cert, key }, onEvent: (e) => events.push(e) });
  relays.push(r);
  return { r, url: `wss://127.0.0.1:${r.port}` };
}

test('wss:// with the private CA from COUPLER_RELAY_CA: a secureSum through the TLS relay', async () => {
  const parties = makeParties(3);
  const { r, url } = await tlsRelay([parties.roster]);
  expect(r.publicUrls).toEqual([url]);
  process.env.COUPLER_RELAY_CA = certFile;
  const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url }));
  try {
    const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    expect(out.map((o) => o.sum)).toEqual([6, 6, 6]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
});

test('wss:// without the CA: the certificate is refused (HANDSHAKE_FAILED naming the relay problem); a bad CA path is an argument error', async () => {
  const parties = makeParties(2);
  const { url } = await tlsRelay([parties.roster]);
  const o = { identity: parties.identities.get('p1')!, roster: parties.roster, sessionId: parties.sessionId, pairTimeoutMs: 2_000 };
  const err = await relayChannel(url, 'p2', o).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CouplerError);
  expect((err as CouplerError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
  expect((err as CouplerError).message).toMatch(/cannot reach the relay( at \S+)? \((SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY)/);
  process.env.COUPLER_RELAY_CA = join(dir, 'missing.pem');
  expect(() => dialRelay(url, { maxPayload: 1024 })).toThrow(InvalidArgumentError);
});

test('HTTPS_PROXY: every party reaches the wss:// relay only through the CONNECT proxy; the sum is right', async () => {
  const parties = makeParties(3);
  const events: RelayEvent[] = [];
  const { url, r } = await tlsRelay([parties.roster], events);
  const proxy = await connectProxy();
  process.env.COUPLER_RELAY_CA = certFile;
  process.env.HTTPS_PROXY = proxy.url;
  expect(relayProxyFor(url)).toBe(proxy.url);
  const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url }));
  try {
    const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    expect(out.map((o) => o.sum)).toEqual([6, 6, 6]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
  // Six connections (three pairs), every one tunnelled: the relay saw only the proxy's address.
  expect(proxy.targets).toEqual(Array(6).fill(`127.0.0.1:${r.port}`));
  const sources = new Set(events.flatMap((e) => (e.type === 'admitted' ? [e.source] : [])));
  expect(sources).toEqual(new Set(['127.0.0.7']));
});

test('NO_PROXY exempts the relay host; HTTP_PROXY is the one for ws://', async () => {
  process.env.HTTPS_PROXY = 'http://127.0.0.1:1';
  process.env.NO_PROXY = '127.0.0.1';
  expect(relayProxyFor('wss://127.0.0.1:9')).toBeUndefined();
  expect(relayProxyFor('wss://relay.example.org')).toBe('http://127.0.0.1:1');
  expect(relayProxyFor('ws://relay.example.org')).toBeUndefined();
  process.env.http_proxy = 'http://127.0.0.1:2';
  expect(relayProxyFor('ws://relay.example.org:8889')).toBe('http://127.0.0.1:2');
});

test('HTTPS_PROXY to a wss:// relay addressed by IP whose certificate names only that IP: checked against the IP, the sum is right', async () => {
  // https-proxy-agent leaves the host out of tls.connect for an IP (no SNI may name an IP), so
  // Node checked the certificate against "localhost": ERR_TLS_CERT_ALTNAME_INVALID through a proxy,
  // while the same relay worked dialled directly (review27, noticed).
  const ipCert = join(dir, 'ip-cert.pem');
  const ipKey = join(dir, 'ip-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', ipKey, '-out', ipCert, '-days', '1', '-subj', '/CN=coupler ip-only relay', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const parties = makeParties(3);
  const r = await startRelay({ rosters: [parties.roster], tls: { cert: readFileSync(ipCert), key: readFileSync(ipKey) } });
  relays.push(r);
  const url = `wss://127.0.0.1:${r.port}`;
  const proxy = await connectProxy();
  process.env.COUPLER_RELAY_CA = ipCert;
  process.env.HTTPS_PROXY = proxy.url;
  const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url }));
  try {
    const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
    expect(out.map((o) => o.sum)).toEqual([6, 6, 6]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
  expect(proxy.targets.length).toBeGreaterThan(0);
  // A certificate for another IP is still refused through the proxy: a relay on 127.0.0.2 showing it.
  const other = await startRelay({ host: '127.0.0.2', rosters: [parties.roster], tls: { cert: readFileSync(ipCert), key: readFileSync(ipKey) } });
  relays.push(other);
  const o = { identity: parties.identities.get('p1')!, roster: parties.roster, sessionId: parties.sessionId, pairTimeoutMs: 2_000 };
  const err = await relayChannel(`wss://127.0.0.2:${other.port}`, 'p2', o).catch((e: unknown) => e);
  expect((err as CouplerError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
  expect((err as CouplerError).message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
});
