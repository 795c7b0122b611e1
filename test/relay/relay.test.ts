/**
 * The relay on 127.0.0.1 with real WebSockets: protocols complete through it, admission refuses
 * outsiders, limits hold, `auto` mixes paths, and a relay killed mid-run ends in a typed abort.
 */
import { generateIdentity } from '../../src/identity/identity';
import { createRoster } from '../../src/identity/roster';
import { secureSum, dkSecureSum, thresholdSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { startRelay, relayChannel, RelayError, type RelayServer } from '../../src/relay';
import { transportFromEnv } from '../../src/relay/mesh';
import { makeParties, settleAll } from '../support/group-harness';
import { joinAll } from './_relay';

jest.setTimeout(30_000);

const relays: RelayServer[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()));
});
async function relay(opts: Partial<Parameters<typeof startRelay>[0]> & { rosters: Parameters<typeof startRelay>[0]['rosters'] }): Promise<RelayServer> {
  const r = await startRelay(opts);
  relays.push(r);
  return r;
}
const urlOf = (r: RelayServer): string => `ws://127.0.0.1:${r.port}`;

describe('protocols through the relay', () => {
  test('secureSum, dkSecureSum and thresholdSum complete with every pair relayed', async () => {
    const parties = makeParties(4);
    const r = await relay({ rosters: [parties.roster] });
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }));
    try {
      const xs = [1.5, 2, -3, 10];
      const expected = xs.reduce((a, b) => a + b, 0);
      for (const run of [secureSum, dkSecureSum, thresholdSum]) {
        const out = await Promise.all(groups.map((g, i) => run(g, xs[i]!)));
        for (const o of out) expect(o.sum).toBeCloseTo(expected, 9);
      }
      for (const g of groups) for (const s of g.stats()) expect(s.path).toBe('relay');
      const st = r.stats();
      expect(st.pairs).toBe(6);
      expect(st.bytesForwarded).toBeGreaterThan(0);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  test('auto: pairs with a direct path go direct, a party with none is relayed', async () => {
    const parties = makeParties(3);
    const r = await relay({ rosters: [parties.roster] });
    const groups = await joinAll(parties, (id) => ({
      transport: 'auto',
      relayUrl: urlOf(r),
      autoFallbackMs: 1500,
      // p3 accepts no inbound connection and finds nobody to dial: no direct path at all.
      listen: id === 'p3' ? false : { host: '127.0.0.1', port: 0 },
      ...(id === 'p3' ? { discovery: [] } : {}),
    }));
    try {
      const path = (a: number, b: string): string => groups[a]!.stats().find((s) => s.peer === b)!.path;
      expect(path(0, 'p2')).toBe('direct');
      expect(path(0, 'p3')).toBe('relay');
      expect(path(1, 'p3')).toBe('relay');
      expect(path(2, 'p1')).toBe('relay');
      const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
      for (const o of out) expect(o.sum).toBe(6);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  test('auto: an egress-only party (no listener) that can dial out reaches the others directly', async () => {
    const parties = makeParties(3);
    const r = await relay({ rosters: [parties.roster] });
    const groups = await joinAll(parties, (id) => ({
      transport: 'auto',
      relayUrl: urlOf(r),
      autoFallbackMs: 5000,
      listen: id === 'p3' ? false : { host: '127.0.0.1', port: 0 },
    }));
    try {
      // Before, only the party whose id sorts first could dial, so p3 waited for the relay.
      for (const g of groups) for (const s of g.stats()) expect(s.path).toBe('direct');
      const out = await Promise.all(groups.map((g, i) => secureSum(g, i + 1)));
      for (const o of out) expect(o.sum).toBe(6);
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });

  test('relay killed mid-run and not back: every party aborts with RELAY_LOST naming the relay (not a random peer), within the round deadline', async () => {
    const parties = makeParties(3);
    const r = await relay({ rosters: [parties.roster] });
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }));
    try {
      // p3 has not started its sum yet: p1 and p2 are inside the protocol, waiting on rounds.
      const running = settleAll(groups.slice(0, 2).map((g, i) => secureSum(g, i + 1, { roundTimeoutMs: 4_000 })));
      await new Promise((res) => setTimeout(res, 200));
      const t0 = Date.now();
      await r.close();
      const out = await running;
      expect(Date.now() - t0).toBeLessThan(4_000 + 3_000);
      for (const o of out) {
        expect(o.ok).toBe(false);
        const e = (o as { error: CouplerError }).error;
        expect(e).toBeInstanceOf(CouplerError);
        expect(e.code).toBe(ErrorCode.RELAY_LOST);
        expect(e.peers).toEqual([]);
        expect(e.message).toMatch(/relay/);
      }
    } finally {
      await Promise.all(groups.map((g) => g.close()));
    }
  });
});

describe('admission', () => {
  test('a key not in the roster is refused (bad-signature), an id not in it too (not-in-roster)', async () => {
    const parties = makeParties(2);
    const r = await relay({ rosters: [parties.roster] });
    // Claims to be p1 with its own key (its own roster says so; the relay's does not).
    const impostor = generateIdentity('p1');
    const forged = createRoster([
      { id: 'p1', publicKey: impostor.publicKey },
      { id: 'p2', publicKey: parties.identities.get('p2')!.publicKey },
    ]);
    const err = await relayChannel(urlOf(r), 'p2', { identity: impostor, roster: forged, sessionId: parties.sessionId }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe(ErrorCode.RELAY_REFUSED);
    expect((err as RelayError).reason).toBe('bad-signature');
    expect((err as RelayError).peer).toBe('p2');

    const outsider = generateIdentity('x1');
    const other = createRoster([
      { id: 'x1', publicKey: outsider.publicKey },
      { id: 'p2', publicKey: parties.identities.get('p2')!.publicKey },
    ]);
    const err2 = await relayChannel(urlOf(r), 'p2', { identity: outsider, roster: other, sessionId: parties.sessionId }).catch((e: unknown) => e);
    expect((err2 as RelayError).reason).toBe('not-in-roster');
    expect(r.stats().refused).toEqual({ 'bad-signature': 1, 'not-in-roster': 1 });
    expect(r.stats().connections).toBe(0);
  });

  test('a signature bound to another relay URL is refused, and the party is told it is the URL (url-mismatch), at once, through joinGroup too', async () => {
    const parties = makeParties(2);
    const r = await relay({ rosters: [parties.roster], publicUrls: ['wss://relay.invalid'] });
    const err = await relayChannel(urlOf(r), 'p2', { identity: parties.identities.get('p1')!, roster: parties.roster, sessionId: parties.sessionId }).catch((e: unknown) => e);
    expect((err as RelayError).reason).toBe('url-mismatch');
    const t0 = Date.now();
    const joinErr = await joinAll(parties, () => ({ transport: 'relay', relayUrl: urlOf(r) }), 30_000).catch((e: unknown) => e);
    expect(joinErr).toBeInstanceOf(RelayError);
    expect((joinErr as RelayError).reason).toBe('url-mismatch');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  test('limits: a later request of the same signer for a held slot takes it over (the earlier one is evicted); per-source and per-session caps', async () => {
    const parties = makeParties(3);
    const r = await relay({ rosters: [parties.roster], maxConnectionsPerSource: 2 });
    const o = (id: string) => ({ identity: parties.identities.get(id)!, roster: parties.roster, sessionId: parties.sessionId, pairTimeoutMs: 5_000 });
    const ac = new AbortController();
    const earlier = relayChannel(urlOf(r), 'p2', { ...o('p1'), signal: ac.signal }).catch((e: unknown) => e);
    while (r.stats().connections < 1) await new Promise((res) => setTimeout(res, 10));
    // (Was: the second request was refused `duplicate` for as long as the first held the slot — a
    // first whose path had died half-open kept its party out until its resume window ended,
    // review13 R13-8.) Signed later, it takes the slot; the earlier connection is told `evicted`.
    await new Promise((res) => setTimeout(res, 5));
    const first = relayChannel(urlOf(r), 'p2', { ...o('p1'), signal: ac.signal }).catch((e: unknown) => e);
    expect(((await earlier) as RelayError).reason).toBe('evicted');
    while (r.stats().connections < 1) await new Promise((res) => setTimeout(res, 10));
    const second = relayChannel(urlOf(r), 'p3', { ...o('p1'), signal: ac.signal }).catch((e: unknown) => e);
    while (r.stats().connections < 2) await new Promise((res) => setTimeout(res, 10));
    const over = await relayChannel(urlOf(r), 'p1', o('p3')).catch((e: unknown) => e);
    expect((over as RelayError).reason).toBe('source-limit');
    ac.abort();
    expect(((await first) as CouplerError).code).toBe(ErrorCode.ABORTED);
    await second;

    const r2 = await relay({ rosters: [parties.roster], maxConnectionsPerSession: 1 });
    const ac2 = new AbortController();
    const waitingOne = relayChannel(urlOf(r2), 'p2', { ...o('p1'), signal: ac2.signal }).catch((e: unknown) => e);
    while (r2.stats().connections < 1) await new Promise((res) => setTimeout(res, 10));
    const full = await relayChannel(urlOf(r2), 'p1', o('p2')).catch((e: unknown) => e);
    expect((full as RelayError).reason).toBe('session-limit');
    ac2.abort();
    await waitingOne;
  });

  test('a peer that never reaches the relay: TIMEOUT naming it', async () => {
    const parties = makeParties(2);
    const r = await relay({ rosters: [parties.roster] });
    const err = await relayChannel(urlOf(r), 'p2', { identity: parties.identities.get('p1')!, roster: parties.roster, sessionId: parties.sessionId, pairTimeoutMs: 300, handshakeTimeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as CouplerError).code).toBe(ErrorCode.TIMEOUT);
    expect((err as CouplerError).peer).toBe('p2');
  });

  test('no relay listening: HANDSHAKE_FAILED naming the peer, at once', async () => {
    const parties = makeParties(2);
    const r = await startRelay({ rosters: [parties.roster] });
    const url = urlOf(r);
    await r.close();
    const t0 = Date.now();
    const err = await relayChannel(url, 'p2', { identity: parties.identities.get('p1')!, roster: parties.roster, sessionId: parties.sessionId }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((err as CouplerError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect((err as CouplerError).peer).toBe('p2');
    expect((err as CouplerError).message).toMatch(/relay/);
  });

  test('COUPLER_TRANSPORT / COUPLER_RELAY_URL', () => {
    expect(transportFromEnv({})).toEqual({});
    expect(transportFromEnv({ COUPLER_TRANSPORT: 'relay', COUPLER_RELAY_URL: 'wss://r.example:443' })).toEqual({ transport: 'relay', relayUrl: 'wss://r.example:443' });
    expect(() => transportFromEnv({ COUPLER_TRANSPORT: 'relay' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => transportFromEnv({ COUPLER_TRANSPORT: 'carrier-pigeon' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
