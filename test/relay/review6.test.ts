/**
 * Review 6 (everything that goes through the relay): adversarial cases found in review, each
 * failing on the code before its fix. Real relays on 127.0.0.1, real WebSockets.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { secureSum } from '../../src/protocols';
import { RelayCheatingError, aggregationId } from '../../src/protocols/relay-opening';
import { RELAY_PATH, RELAY_SUBPROTOCOL } from '../../src/relay/protocol';
import type { Group } from '../../src/group/group';
import { settleAll } from '../support/group-harness';
import { joinAll } from './_relay';
import { startRelay, type RelayHooks, type RelayServer } from '../../src/relay';
import { openRelayAggregation, RelayOpeningError } from '../../src/relay/aggregate-client';
import { AGGREGATE_CHUNK_ELEMENTS, aggregateChunkCount, aggregateChunkLength, chainNext, chainStart, chunkHash, encodeUploadChunk, uploadStatement } from '../../src/relay/aggregate-wire';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { makeParties, type TestParties } from '../support/group-harness';
import { rosterDigest } from '../../src/identity/roster';
import { RelayTable, type AdmitRequest, type TableLimits } from '../../src/relay/table';

jest.setTimeout(60_000);

const relays: RelayServer[] = [];
const groupsToClose: Group[][] = [];
afterEach(async () => {
  await Promise.all(groupsToClose.splice(0).flat().map((g) => g.close()));
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

/** An honest member's upload messages of `bytes` (its masked vector), as `openRelayed` makes them. */
function uploadMessages(session: string, agg: string, me: string, parties: readonly string[], length: number, bytes: Uint8Array, sk: Uint8Array): (i: number) => Buffer {
  const count = aggregateChunkCount(length);
  const chains: Uint8Array[] = [];
  let c = chainStart(session, agg, me, length, parties);
  const chunk = (i: number): Uint8Array => bytes.subarray(8 * i * AGGREGATE_CHUNK_ELEMENTS, 8 * (i * AGGREGATE_CHUNK_ELEMENTS + aggregateChunkLength(length, i)));
  for (let i = 0; i < count; i++) chains.push((c = chainNext(c, chunkHash(i, chunk(i)))));
  return (i) => encodeUploadChunk(i, ed25519Sign(uploadStatement(session, agg, me, i, chunk(i).length, chains[i]!), sk), chunk(i));
}

describe('R6-0 (guard): an honest member that uploads ahead of a slower one is not reported malformed', () => {
  // The relay stops reading a member two chunks ahead of the slowest (ws.pause()), but `ws` still
  // emits every message already in the socket read it is parsing: the tail of the chunk in
  // flight and, when the vector's last chunk is short, that whole last chunk too. The relay took
  // the second for a member breaking the window and ended the aggregation `upload-malformed`,
  // naming the honest member as the suspect — no attacker needed, only a slower member.
  test.each([1, 100, 4_000])('L = 3 chunks + %d elements: the fast member waits; both get the sum', async (tail) => {
    const p = makeParties(2);
    const relay = await startRelay({ rosters: [p.roster] });
    relays.push(relay);
    const url = `ws://127.0.0.1:${relay.port}`;
    const length = 3 * AGGREGATE_CHUNK_ELEMENTS + tail;
    const agg = randomBytes(32).toString('hex');
    const vectors = new Map(p.ids.map((id) => [id, new Uint8Array(randomBytes(8 * length))]));
    const sums = new Map<string, Uint8Array>();
    const open = (me: string) => {
      const got = new Uint8Array(8 * length);
      sums.set(me, got);
      return openRelayAggregation({
        relayUrl: url,
        identity: p.identities.get(me)!,
        roster: p.roster,
        sessionId: p.sessionId,
        localId: me,
        agg,
        parties: p.ids,
        length,
        admissionTimeoutMs: 5_000,
        onChunk: (i, sum) => got.set(sum, 8 * i * AGGREGATE_CHUNK_ELEMENTS),
      });
    };
    const fast = await open('p1');
    const slow = await open('p2');
    const msgs = (me: string) => uploadMessages(p.sessionId, agg, me, p.ids, length, vectors.get(me)!, p.identities.get(me)!.secretKey);
    // p1 uploads everything at once; p2 only after p1's bytes have all reached the relay.
    const fastUpload = fast.upload(msgs('p1'));
    fastUpload.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const slowUpload = slow.upload(msgs('p2'));
    slowUpload.catch(() => undefined);
    const answers = await Promise.allSettled([fast.answer, slow.answer]);
    for (const a of answers) {
      // On the code before the fix: RelayOpeningError PROTOCOL_VIOLATION, "upload-malformed (party "p1")".
      if (a.status === 'rejected') throw a.reason as RelayOpeningError;
    }
    expect(Buffer.from(sums.get('p1')!).equals(Buffer.from(sums.get('p2')!))).toBe(true);
  });
});

describe('R6-1: a refused admission evicts nothing', () => {
  // `RelayTable.admit` released the aggregation it chose to evict (fair share of a full relay or
  // source) before the session cap was checked; when that check then refused the newcomer
  // (`relay-full`) the victim's members were already out of the table, yet never returned as
  // `evicted`: the server never closed or told them (they waited to their deadline), their engine
  // and accumulators stayed in its map for ever, and their connections counted against no cap.
  let nonce = 0;
  const req = (handle: string, p: TestParties, source: string, session: string, agg?: string, from = p.ids[0]!): AdmitRequest<string> => ({
    handle,
    source,
    session,
    roster: p.roster,
    digest: rosterDigest(p.roster),
    from,
    to: agg === undefined ? p.ids[1]! : '',
    nonce: (nonce++).toString(16).padStart(32, '0'),
    ts: 1_000_000,
    ...(agg === undefined ? {} : { aggregate: { id: agg, parties: p.ids, length: 100 } }),
  });

  test('an aggregation victim chosen for a newcomer the session cap then refuses stays live', () => {
    const [x, y, z] = [makeParties(2, 'x'), makeParties(2, 'y'), makeParties(2, 'z')];
    const limits: TableLimits = { maxSessions: 2, maxAggregations: 2 };
    const t = new RelayTable<string>(limits);
    const T0 = 1_000_000;
    // x (source A) holds both aggregation slots, each still missing a member, in one session.
    expect(t.admit(req('x1', x, 'A', 'sx', 'a'.repeat(64)), T0).ok).toBe(true);
    expect(t.admit(req('x2', x, 'A', 'sx', 'b'.repeat(64)), T0 + 1).ok).toBe(true);
    // z (source C) holds the other session slot with a channel.
    expect(t.admit(req('z1', z, 'C', 'sz'), T0 + 2).ok).toBe(true);
    // y (source B) opens a new session with an aggregation: x's digest holds more aggregations
    // (an aggregation victim exists), but no session is heavier than y's would be → relay-full.
    const r = t.admit(req('y1', y, 'B', 'sy', 'c'.repeat(64)), T0 + 3);
    expect(r).toEqual({ ok: false, reason: 'relay-full' });
    // On the code before the fix: x1 was released (isLive false, 1 aggregation counted) and
    // returned to nobody.
    expect(t.counts()).toMatchObject({ aggregations: 2, connections: 3, sessions: 2 });
  });
});

/**
 * An on-path attacker between the parties and a `ws://` relay, at the WebSocket level: it passes
 * every message through, and `s2c(first, text)` may replace a text message the relay sends on a
 * connection whose first message (the admission request) was `first`.
 */
async function startMitm(s2c: (first: Record<string, unknown>, text: string) => string): Promise<{ port: number; target(port: number): void; close(): Promise<void> }> {
  let targetPort = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => RELAY_SUBPROTOCOL });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const sockets = new Set<WebSocket>();
  const closeCode = (code: number): number | undefined => (code === 1000 || code === 1001 || (code >= 4000 && code < 5000) ? code : undefined);
  wss.on('connection', (client) => {
    const up = new WebSocket(`ws://127.0.0.1:${targetPort}${RELAY_PATH}`, RELAY_SUBPROTOCOL);
    sockets.add(client).add(up);
    client.on('error', () => undefined);
    up.on('error', () => undefined);
    let first: Record<string, unknown> | undefined;
    const queued: [Buffer, boolean][] = [];
    client.on('message', (d: Buffer, isBinary: boolean) => {
      if (first === undefined && !isBinary) first = JSON.parse(d.toString()) as Record<string, unknown>;
      if (up.readyState === WebSocket.OPEN) up.send(d, { binary: isBinary });
      else queued.push([d, isBinary]);
    });
    up.on('open', () => {
      for (const [d, b] of queued.splice(0)) up.send(d, { binary: b });
    });
    up.on('message', (d: Buffer, isBinary: boolean) => {
      if (client.readyState !== WebSocket.OPEN) return;
      client.send(isBinary ? d : s2c(first ?? {}, d.toString()), { binary: isBinary });
    });
    up.on('close', (code, reason) => {
      const c = closeCode(code);
      if (c === undefined) client.terminate();
      else client.close(c, reason);
    });
    client.on('close', () => up.terminate());
  });
  return {
    port: (wss.address() as net.AddressInfo).port,
    target: (port) => (targetPort = port),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.terminate();
        wss.close(() => resolve());
      }),
  };
}

describe('R6-2: the network cannot get the honest relay convicted with a replayed answer', () => {
  // On `ws://` nothing authenticates what the relay sends a party but the relay's signature on its
  // final answer. A relay-signed answer statement of *another* aggregation (any earlier run of
  // this relay, read off the wire) replayed by an on-path attacker in place of this run's made
  // the party throw `RelayCheatingError` (certain: "the relay answered with a statement it signed
  // for another aggregation (a replay)") against a relay that signed exactly what it sent.
  test('an earlier answer, replayed on the wire to p1 in the next run → p1 does not convict the relay', async () => {
    let recorded: string | undefined;
    let replayed = 0;
    const mitm = await startMitm((first, text) => {
      if (first.op !== 'aggregate' || first.from !== 'p1' || !text.includes('"t":"answer"')) return text;
      if (recorded === undefined) {
        recorded = text;
        return text;
      }
      replayed++;
      return recorded;
    });
    try {
      const parties = makeParties(3);
      const url = `ws://127.0.0.1:${mitm.port}`;
      const relay = await startRelay({ rosters: [parties.roster], publicUrls: [url] });
      relays.push(relay);
      mitm.target(relay.port);
      const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url, roundTimeoutMs: 8_000 }));
      groupsToClose.push(groups);
      const L = 20_000;
      const input = (i: number): Float64Array => Float64Array.from({ length: L }, (_, l) => ((l + i * 7) % 101) - 50);
      for (const r of await settleAll(groups.map((g, i) => secureSum(g, input(i), { opening: 'relay' })))) expect(r.ok).toBe(true);
      const second = await settleAll(groups.map((g, i) => secureSum(g, input(i), { opening: 'relay' })));
      expect(replayed).toBe(1);
      const e = (second[0] as { ok: false; error: unknown }).error;
      expect(second[0]!.ok).toBe(false);
      // On the code before the fix: RelayCheatingError TAMPERING_DETECTED at p1.
      expect(e).not.toBeInstanceOf(RelayCheatingError);
      expect(e).toBeInstanceOf(RelayOpeningError);
      for (const r of second) if (!r.ok) expect((r.error as { peers?: readonly string[] }).peers ?? []).toEqual([]);
    } finally {
      await mitm.close();
    }
  });
});

describe('R6-2 (the other side): over wss:// a replayed answer is the relay’s for certain', () => {
  // TLS authenticates the relay's end of the connection: nobody on the path can replay into it,
  // so an answer signed for another aggregation convicts the relay (RelayCheatingError).
  let dir: string;
  let cert: Buffer;
  let key: Buffer;
  const savedCa = process.env.COUPLER_RELAY_CA;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'coupler-r6-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=coupler test relay', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
    process.env.COUPLER_RELAY_CA = join(dir, 'cert.pem');
  });
  afterAll(() => {
    if (savedCa === undefined) delete process.env.COUPLER_RELAY_CA;
    else process.env.COUPLER_RELAY_CA = savedCa;
    rmSync(dir, { recursive: true, force: true });
  });

  test('the relay replays its earlier signed answer → RelayCheatingError TAMPERING_DETECTED naming it, no party', async () => {
    let recorded: string | undefined;
    let replay = false;
    const hooks: RelayHooks = {
      aggregateTrailer: (c, text) => {
        if (c.to !== 'p1') return text;
        if (!replay) recorded = text;
        return replay ? recorded! : text;
      },
    };
    const parties = makeParties(3);
    const relay = await startRelay({ rosters: [parties.roster], tls: { cert, key }, _hooks: hooks });
    relays.push(relay);
    const url = `wss://127.0.0.1:${relay.port}`;
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url, roundTimeoutMs: 8_000 }));
    groupsToClose.push(groups);
    const L = 20_000;
    const input = (i: number): Float64Array => Float64Array.from({ length: L }, (_, l) => ((l + i * 7) % 101) - 50);
    for (const r of await settleAll(groups.map((g, i) => secureSum(g, input(i), { opening: 'relay' })))) expect(r.ok).toBe(true);
    replay = true;
    const second = await settleAll(groups.map((g, i) => secureSum(g, input(i), { opening: 'relay' })));
    const e = (second[0] as { ok: false; error: unknown }).error;
    expect(e).toBeInstanceOf(RelayCheatingError);
    expect((e as RelayCheatingError).code).toBe('COUPLER_ERR_TAMPERING_DETECTED');
    expect((e as RelayCheatingError).peers).toEqual([]);
    for (const r of second) if (!r.ok) expect((r.error as { peers?: readonly string[] }).peers ?? []).toEqual([]);
  });
});

describe('R6-3: the member that opens an aggregation first does not set the others’ clocks', () => {
  // The aggregation id is known as soon as the mesh has formed (session, epoch, round, members).
  // A member that opened it early started its join clock (and its finish deadline) alone: the
  // honest members, arriving at the run, found it timed out, and the relay served them the
  // remembered abort — `timeout`, naming the first honest member as the one missing. Every honest
  // party failed (RelayOpeningError TIMEOUT) with an honest party as the suspect; the early
  // opener, whose own code then ran honestly, was not suspected at all.
  test('p3 opens the next run’s aggregation early and lets it time out → the run still completes', async () => {
    const parties = makeParties(3);
    const relay = await startRelay({ rosters: [parties.roster], aggregateJoinTimeoutMs: 1_000 });
    relays.push(relay);
    const url = `ws://127.0.0.1:${relay.port}`;
    const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url, roundTimeoutMs: 8_000 }));
    groupsToClose.push(groups);
    const g3 = groups[2]!;
    const L = 20_000;
    const early = await openRelayAggregation({
      relayUrl: url,
      identity: g3.identity,
      roster: g3.roster,
      sessionId: g3.sessionId,
      localId: g3.localId,
      agg: aggregationId(g3, 'sum.1/partial'),
      parties: g3.parties,
      length: L,
      admissionTimeoutMs: 5_000,
      onChunk: () => undefined,
    });
    const timedOut = await early.answer.then(
      () => undefined,
      (e: unknown) => e as RelayOpeningError,
    );
    expect(timedOut?.abort).toMatchObject({ reason: 'timeout', party: 'p1' });
    const input = (i: number): Float64Array => Float64Array.from({ length: L }, (_, l) => ((l + i * 7) % 101) - 50);
    const results = await settleAll(groups.map((g, i) => secureSum(g, input(i), { opening: 'relay' })));
    // On the code before the fix: every party failed with RelayOpeningError TIMEOUT ("the relay
    // ended the aggregation: timeout (party "p1", as the relay reports)"), suspects ["p1"].
    for (const r of results) if (!r.ok) throw r.error;
  });
});
