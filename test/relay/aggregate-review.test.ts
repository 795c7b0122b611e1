/**
 * Adversarial review of the aggregating relay (`opening: 'relay'`): attacks found in review, each a
 * real relay on 127.0.0.1 and real groups over real WebSockets, one party (or the relay, through
 * its test hooks) deviating. Companion of aggregate-attacks.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { secureSum, type SumResult } from '../../src/protocols';
import { startRelay, type RelayHooks, type RelayServer } from '../../src/relay';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import { RelayCheatingError, aggregationId, relayCheckStatement, relayCommitStatement } from '../../src/protocols/relay-opening';
import { FINGERPRINT_BYTES, fingerprintAdd, fingerprintFromBytes, fingerprintToBytes } from '../../src/protocols/math/fingerprint';
import { maskCommitment, maskInPlace } from '../../src/protocols/sumcheck';
import { r64ToBytes } from '../../src/protocols/math/index';
import { chainNext, chainStart, chunkHash } from '../../src/relay/aggregate-wire';
import { agreeRun, encodeRun } from '../../src/protocols/common';
import { maskPairwise } from '../../src/protocols/additive';
import { ECHO_STATEMENT, echoBroadcast, echoDigest } from '../../src/group/echo';
import { decodeBase64Strict } from '../../src/crypto/bytes';
import { RelayAggregateMismatchError, RelayOpeningError, openRelayAggregation } from '../../src/relay/aggregate-client';
import { WebSocketServer } from 'ws';
import { RELAY_SUBPROTOCOL } from '../../src/relay/protocol';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import type { Group } from '../../src/group/group';
import { makeParties, settleAll, type TestParties } from '../support/group-harness';
import { joinAll } from './_relay';
import { REBUILD_MODES, rebuildMode } from '../support/rebuild';
import { openRaw } from './_attack';
import type WebSocket from 'ws';
import { encodeBase64 } from '../../src/crypto/bytes';
import { rosterDigest, type Roster } from '../../src/identity/roster';
import { aggregateTranscript } from '../../src/relay/aggregate-wire';
import { RelayTable, type AdmitRequest, type TableLimits } from '../../src/relay/table';

jest.setTimeout(60_000);

const relays: RelayServer[] = [];
const groupsToClose: Group[][] = [];
afterEach(async () => {
  await Promise.all(groupsToClose.splice(0).flat().map((g) => g.close()));
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

const N = 4;
/** Three chunks (16 384, 16 384, 7 232 elements). */
const L = 40_000;
const CHUNKS = 3;
const inputOf = (p: number, run = 0): Float64Array => Float64Array.from({ length: L }, (_, l) => ((l * 3 + p * 11 + run) % 1001) - 500);
const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

async function setup(hooks: RelayHooks = {}, roundTimeoutMs = 8_000): Promise<{ groups: Group[]; relay: RelayServer; url: string }> {
  const parties = makeParties(N);
  const relay = await startRelay({ rosters: [parties.roster], _hooks: hooks });
  relays.push(relay);
  const url = `ws://127.0.0.1:${relay.port}`;
  const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url, roundTimeoutMs }));
  groupsToClose.push(groups);
  return { groups, relay, url };
}

/**
 * Turn `g` into a party that lies in the relayed opening's check echo: it publishes `lie(v, f)`
 * instead of its honest `{v, f}` — validly signed, the same to everyone, echo-consistent (its
 * round-2 digest covers the lie) — then, before its own code sees the other digests, runs `then`
 * with the run's round name and the unwrapped `sendToAll`/`gather` (its dispute move). Its own
 * code never learns of the lie.
 */
function lieInCheck(
  g: Group,
  lie: (honest: { v: Uint8Array; f: Uint8Array }) => { v: Uint8Array; f: Uint8Array },
  then: (run: string, io: { sendToAll: Group['sendToAll']; gather: Group['gather'] }) => Promise<void>,
): void {
  const sendToAll = g.sendToAll.bind(g);
  const gather = g.gather.bind(g);
  const me = g.localId;
  let mine: Uint8Array | undefined;
  const received = new Map<string, Uint8Array>();
  g.gather = async (round, options) => {
    const got = await gather(round, options);
    if (round.endsWith('/check/v')) for (const [p, m] of got) received.set(p, (m as { v: Uint8Array }).v);
    return got;
  };
  g.sendToAll = async (round: string, payload: PlainData, to?: readonly string[]): Promise<void> => {
    if (round.endsWith('/check/v')) {
      const echoRound = round.slice(0, -'/v'.length);
      const run = echoRound.slice(0, -'/check'.length);
      const { v, f } = lie(decodeMessage((payload as { v: Uint8Array }).v, 1 << 20) as { v: Uint8Array; f: Uint8Array });
      const value = encodeMessage({ v, f, sig: ed25519Sign(relayCheckStatement(g.sessionId, g.epoch, run, me, v, f), g.identity.secretKey) });
      mine = sha256(value);
      const sig = ed25519Sign(encodeMessage({ t: ECHO_STATEMENT.broadcast, s: g.sessionId, e: g.epoch, r: echoRound, from: me, h: mine }), g.identity.secretKey);
      return sendToAll(round, { v: value, sig }, to);
    }
    if (round.endsWith('/check/d')) {
      const echoRound = round.slice(0, -'/d'.length);
      const run = echoRound.slice(0, -'/check'.length);
      const view = g.parties.map((p) => ({ from: p, h: p === me ? mine! : sha256(received.get(p)!) }));
      const d = echoDigest(g.sessionId, g.epoch, echoRound, view);
      const sig = ed25519Sign(encodeMessage({ t: ECHO_STATEMENT.digest, s: g.sessionId, e: g.epoch, r: echoRound, from: me, d }), g.identity.secretKey);
      await sendToAll(round, { d, sig }, to);
      await then(run, { sendToAll, gather });
      return;
    }
    if (round.endsWith('/check/f')) return;
    return sendToAll(round, payload, to);
  };
}

/**
 * `g` publishes `v` = the hash of `st` instead of the hash of the answer it received, and then
 * presents `st` with the relay's signature `rs` in the dispute. Its own run is held at its round-2
 * digest until `release` resolves (so it sends no abort notice meanwhile).
 */
function presentForeignAnswer(g: Group, st: Uint8Array, rs: Uint8Array, release: Promise<void>): void {
  lieInCheck(
    g,
    (honest) => ({ v: sha256(st), f: honest.f }),
    async (run, io) => {
      await io.sendToAll(`${run}/dispute`, { st, rs, h: new Uint8Array(32 * CHUNKS), i: CHUNKS, u: new Uint8Array(0) });
      await release;
    },
  );
}

describe.each(REBUILD_MODES)('review ($mode): a malicious party cannot get the honest relay named', ({ rebuild }) => {
  const rebuilds = rebuildMode(rebuild);

  test("a party presents the relay's signed answer of an earlier run in the dispute → that party is named, not the relay", async () => {
    // The relay is honest; the hook only records the answer message p3 received in run 0.
    let recorded: { st: string; sig: string } | undefined;
    const { groups } = await setup({
      aggregateTrailer: (c, text) => {
        if (c.to === 'p3') recorded = JSON.parse(text) as { st: string; sig: string };
        return text;
      },
    });
    for (const r of await settleAll(groups.map((g, i) => secureSum(g, inputOf(i, 0), { opening: 'relay' })))) expect(r.ok).toBe(true);
    const oldSt = decodeBase64Strict(recorded!.st)!;
    const oldSig = decodeBase64Strict(recorded!.sig)!;

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    presentForeignAnswer(groups[2]!, oldSt, oldSig, released);
    const cheater = secureSum(groups[2]!, inputOf(2, 1), { opening: 'relay' });
    cheater.catch(() => undefined);
    const honest = await settleAll<SumResult<Float64Array>>([0, 1, 3].map((i) => secureSum(groups[i]!, inputOf(i, 1), { opening: 'relay' })));
    release();
    for (const r of honest) {
      expect(r.ok).toBe(false);
      const e = (r as { error: unknown }).error;
      // On the old code: RelayCheatingError EQUIVOCATION ("the relay sent different answers"),
      // with the run-0 statement as the "second answer" — and p3 not named.
      expect(e).not.toBeInstanceOf(RelayCheatingError);
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect((e as CheatingDetectedError).code).toBe(ErrorCode.TAMPERING_DETECTED);
      expect((e as CheatingDetectedError).peers).toEqual(['p3']);
      expect((e as Error).message).toMatch(/another aggregation/);
    }
    // Run 0 and run 1 each fingerprint at every party (p3's run is the honest code with its sends
    // rewritten); the views differ, so the dispute opens no chunk.
    expect(rebuilds.count()).toBe(rebuild ? 2 * N : 0);
  });

  // Registered with the partial sum rebuilt only, for CI time: no existing suite had this attack on
  // the relayed opening; it passes with the partial sum kept as well (~1.6 s more).
  (rebuild ? test : (): void => undefined)('a party that publishes a false fingerprint of chunk 1, then opens in the dispute a chunk that is not its upload → p3 named (COMMITMENT_MISMATCH, its signed commitment), not the relay', async () => {
    const { groups } = await setup();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    lieInCheck(
      groups[2]!,
      (honest) => {
        const f = Uint8Array.from(honest.f);
        const at = FINGERPRINT_BYTES; // chunk 1
        f.set(fingerprintToBytes(fingerprintAdd(fingerprintFromBytes(f.subarray(at, at + FINGERPRINT_BYTES))!, 1n)), at);
        return { v: honest.v, f };
      },
      async (run, io) => {
        // The honest parties' disputes carry the relay's one signed answer: p3 presents it too,
        // with chunk hashes and an opening of chunk 1 that are not its upload.
        const theirs = [...(await io.gather(`${run}/dispute`)).values()][0] as { st: Uint8Array; rs: Uint8Array };
        await io.sendToAll(`${run}/dispute`, { st: theirs.st, rs: theirs.rs, h: new Uint8Array(32 * CHUNKS), i: 1, u: new Uint8Array(8 * 16_384) });
        await released;
      },
    );
    const cheater = secureSum(groups[2]!, inputOf(2), { opening: 'relay' });
    cheater.catch(() => undefined);
    const honest = await settleAll([0, 1, 3].map((i) => secureSum(groups[i]!, inputOf(i), { opening: 'relay' })));
    release();
    for (const r of honest) {
      expect(r.ok).toBe(false);
      const e = (r as { error: unknown }).error as CheatingDetectedError;
      expect(e).not.toBeInstanceOf(RelayCheatingError);
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.code).toBe(ErrorCode.COMMITMENT_MISMATCH);
      expect(e.peers).toEqual(['p3']);
      expect(e.evidence.statements).toHaveLength(1);
    }
    // Every party fingerprinted (p3's own code too); each honest one then opened its chunk 1 —
    // rebuilt, and checked against its own upload chain before p3's was looked at.
    expect(rebuilds.count()).toBe(N + (N - 1));
  });
});

describe.each(REBUILD_MODES)('review ($mode): a malicious relay cannot get an honest party named', ({ rebuild }) => {
  rebuildMode(rebuild);

  // A relay that fails the opening at ONE party only (an abort message, a cut, a wrong key, a
  // replayed signed answer — anything that makes that party throw a RelayOpeningError or
  // RelayCheatingError, whose `peers` is empty) made that party send an abort notice blaming
  // nobody, which the others read as "my own doing": every other party reported PEER_ABORTED with
  // `peers` = [that honest party]. Now the notice says the relay caused it (`relay: true`,
  // src/group/inbound.ts relayCaused), and the others name nobody.
  test('the relay ends the aggregation for one party only → the others do not name that party', async () => {
    const { groups } = await setup({
      aggregateTrailer: (c, text) => (c.to === 'p1' ? JSON.stringify({ t: 'abort', reason: 'relay-closing' }) : text),
    });
    const results = await settleAll(groups.map((g, i) => secureSum(g, inputOf(i), { opening: 'relay' })));
    for (const r of results) expect(r.ok).toBe(false);
    for (const r of results.slice(1)) {
      const e = (r as { error: unknown }).error as CouplerError;
      expect(e).toBeInstanceOf(CouplerError);
      // On main: PEER_ABORTED with peers ['p1'] at p2, p3 and p4.
      expect(e.peers).toEqual([]);
    }
  });
});

/** A hand-made aggregation admission of `member` from `localAddress`: the relay's first answer and the socket. */
async function rawAggregation(url: string, p: TestParties, member: string, sessionId: string, localAddress: string, length = 2 ** 24): Promise<{ ws: WebSocket; answer: { t: string; reason?: string }; closed: Promise<string> }> {
  const ws = await openRaw(url, localAddress);
  ws.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => ws.once('close', (_code, reason) => resolve(reason.toString())));
  const body = { session: sessionId, from: member, agg: randomBytes(32).toString('hex'), parties: p.ids, len: length, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
  const sig = encodeBase64(ed25519Sign(aggregateTranscript(url, body), p.identities.get(member)!.secretKey));
  const answer = await new Promise<{ t: string; reason?: string }>((resolve) => {
    ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as { t: string; reason?: string }));
    ws.once('close', (_code, reason) => resolve({ t: 'closed', reason: reason.toString() }));
    ws.send(JSON.stringify({ v: 1, op: 'aggregate', ...body, sig }));
  });
  return { ws, answer, closed };
}

describe('review: the relay’s aggregation slots', () => {
  // Was FLAW 4: the live aggregations were capped in all (4) and per session (2), but not per
  // roster digest or per source, and a held slot was never given up to a newcomer: one member of
  // any roster the relay serves opened 2 sessions × 2 aggregations whose other members never came,
  // and every other tenant's relayed sums were refused `relay-full` until their deadline. Now each
  // digest and each source holds at most 2, and a full relay evicts the longest-waiting
  // aggregation still missing members of the digest holding the most.
  test("a member of another roster holding every aggregation slot does not stop this group's relayed sum", async () => {
    const victims = makeParties(N);
    const squatterA = makeParties(2, 'a');
    const squatterB = makeParties(2, 'b');
    const relay = await startRelay({ rosters: [victims.roster, squatterA.roster, squatterB.roster] });
    relays.push(relay);
    const url = `ws://127.0.0.1:${relay.port}`;
    const groups = await joinAll(victims, () => ({ transport: 'relay', relayUrl: url, roundTimeoutMs: 3_000 }));
    groupsToClose.push(groups);
    const held: WebSocket[] = [];
    try {
      // a1 (from 127.0.0.2) tries to hold three slots over two sessions: its roster's share is 2.
      const sA = [`test-${randomBytes(8).toString('hex')}`, `test-${randomBytes(8).toString('hex')}`];
      const a = [];
      for (const s of [sA[0]!, sA[0]!, sA[1]!]) {
        const x = await rawAggregation(url, squatterA, 'a1', s, '127.0.0.2');
        held.push(x.ws);
        a.push(x);
      }
      expect(a.map((x) => x.answer.reason ?? x.answer.t)).toEqual(['admitted', 'admitted', 'roster-limit']);
      // b1 (another roster, from 127.0.0.3) takes the other two: every slot is held.
      const sB = `test-${randomBytes(8).toString('hex')}`;
      for (let k = 0; k < 2; k++) {
        const x = await rawAggregation(url, squatterB, 'b1', sB, '127.0.0.3');
        held.push(x.ws);
        expect(x.answer.t).toBe('admitted');
      }
      expect(relay.stats().aggregations.live).toBe(4);
      const results = await settleAll(groups.map((g, i) => secureSum(g, inputOf(i), { opening: 'relay' })));
      // On main: every party fails with RelayError 'relay-full' once its opening's deadline passed.
      for (const r of results) expect(r.ok).toBe(true);
      // The one given up: a1's first (the longest-waiting of a digest holding the most).
      expect(await a[0]!.closed).toBe('evicted');
      expect(relay.stats().refused.evicted).toBe(1);
    } finally {
      for (const ws of held) ws.terminate();
    }
  });

  const table = (limits: TableLimits = {}): RelayTable<string> => new RelayTable<string>(limits);
  const rosterOf = (p: TestParties): { roster: Roster; digest: string } => ({ roster: p.roster, digest: rosterDigest(p.roster) });
  let tableNonce = 0;
  const member = (handle: string, p: TestParties, source: string, agg: string, from = p.ids[0]!, session = `s-${agg}`): AdmitRequest<string> => ({
    handle,
    source,
    session,
    ...rosterOf(p),
    from,
    to: '',
    nonce: (tableNonce++).toString(16).padStart(32, '0'),
    ts: 1_000_000,
    aggregate: { id: agg, parties: p.ids, length: 100 },
  });

  test('a source at its aggregation cap gives up one of a heavier roster, never a complete one', () => {
    const [x, y, z] = [makeParties(2, 'x'), makeParties(2, 'y'), makeParties(2, 'z')];
    const t = table({ maxAggregations: 10, maxAggregationsPerSource: 2, maxAggregationsPerDigest: 5 });
    const T0 = 1_000_000;
    expect(t.admit(member('x1', x, 'S', 'x1'), T0).ok).toBe(true);
    expect(t.admit(member('x2', x, 'S', 'x2'), T0 + 1).ok).toBe(true);
    // y from the same source: x holds 2 there, y would hold 1 → x's longest-waiting goes.
    const y1 = t.admit(member('y1', y, 'S', 'y1'), T0 + 2);
    expect(y1.ok && y1.evicted.map((c) => c.handle)).toEqual(['x1']);
    // Now x and y hold 1 each: z is refused (fair share reached), and so is x again.
    expect(t.admit(member('z1', z, 'S', 'z1'), T0 + 3)).toEqual({ ok: false, reason: 'source-limit' });
    // Another source is not concerned.
    expect(t.admit(member('z2', z, 'S2', 'z2'), T0 + 3).ok).toBe(true);
    // An aggregation whose members all came is never evicted: complete y1 and x2, then a newcomer
    // finds nothing to take at S.
    expect(t.admit(member('y1b', y, 'S', 'y1', 'y2'), T0 + 4).ok).toBe(true);
    expect(t.admit(member('x2b', x, 'S', 'x2', 'x2'), T0 + 4).ok).toBe(true);
    expect(t.admit(member('z3', z, 'S', 'z3'), T0 + 5)).toEqual({ ok: false, reason: 'source-limit' });
    expect(t.counts().aggregations).toBe(3);
  });

  test('an aggregation still missing members ends after the join timeout, not the pair timeout', () => {
    const x = makeParties(2, 'x');
    const t = table({ pairTimeoutMs: 120_000, aggregateJoinTimeoutMs: 5_000 });
    const T0 = 1_000_000;
    expect(t.admit(member('x1', x, 'S', 'agg1'), T0).ok).toBe(true);
    expect(t.expire(T0 + 4_999).unpaired).toEqual([]);
    expect(t.expire(T0 + 5_000).unpaired.map((c) => c.handle)).toEqual(['x1']);
    expect(t.counts().aggregations).toBe(0);
  });
});

// Not run with the partial sum rebuilt (test/support/rebuild.ts): the squatter is refused at
// admission, before the opening holds anything of U_p, so both modes run the same code.
describe('review: a malicious party at the relay is named', () => {
  // Was FLAW 5. The aggregation id depends only on session, epoch, round and members, so a member
  // knows it before the run. p3 opens the aggregation first, with its own valid signature but
  // another length, and otherwise runs secureSum honestly up to its partial sum. Every honest party
  // was then refused `aggregate-mismatch` (deterministic: no retry) and failed with a RelayError
  // naming nobody, so `group.without(err.peers)` could not exclude p3. Now the relay refuses with
  // the first member's signed admission as evidence; a party that verifies it (and whose shape
  // agreement passed: the length is echo-agreed, the id is the run's) names its signer.
  test('p3 opens the aggregation first with another length → the honest parties name p3', async () => {
    const { groups, url } = await setup();
    const g3 = groups[2]!;
    const o = {};
    const local = encodeRun(g3, 'sum', inputOf(2), o, 'ring64', { shares: 'seed', opening: 'relay' });
    const squat = await openRelayAggregation({
      relayUrl: url,
      identity: g3.identity,
      roster: g3.roster,
      sessionId: g3.sessionId,
      localId: g3.localId,
      agg: aggregationId(g3, `${local.runId}/partial`),
      parties: g3.parties,
      length: L + 1,
      admissionTimeoutMs: 5_000,
      onChunk: () => undefined,
    });
    const cheater = (async (): Promise<void> => {
      maskPairwise(g3, local.runId, local.encoded);
      const agreement = agreeRun(g3, local, o);
      agreement.catch(() => undefined);
      await agreement;
    })();
    cheater.catch(() => undefined);
    try {
      const honest = await settleAll([0, 1, 3].map((i) => secureSum(groups[i]!, inputOf(i), { opening: 'relay' })));
      for (const r of honest) {
        expect(r.ok).toBe(false);
        const e = (r as { error: unknown }).error;
        // On main: RelayError 'aggregate-mismatch', peers [] and suspects [].
        expect(e).toBeInstanceOf(CheatingDetectedError);
        expect((e as CheatingDetectedError).code).toBe(ErrorCode.TAMPERING_DETECTED);
        expect((e as CouplerError).peers).toEqual(['p3']);
        expect((e as CheatingDetectedError).evidence.statements).toHaveLength(1);
      }
    } finally {
      squat.close();
    }
  });
});

describe('review: a relay cannot get a party named with a mismatch refusal', () => {
  /**
   * A relay that refuses every aggregation admission `aggregate-mismatch` with `ev` as its
   * evidence (what a lying relay can send: it holds no member's key).
   */
  async function lyingRelay(ev: (req: Record<string, unknown>) => unknown): Promise<{ url: string; close(): Promise<void> }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => RELAY_SUBPROTOCOL });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    wss.on('connection', (ws) => {
      ws.once('message', (d: Buffer) => {
        ws.send(JSON.stringify({ t: 'refused', reason: 'aggregate-mismatch', ev: ev(JSON.parse(d.toString()) as Record<string, unknown>) }));
        ws.close(4403, 'aggregate-mismatch');
      });
    });
    return {
      url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
    };
  }

  const parties = makeParties(3);
  const admission = (url: string): Promise<unknown> =>
    openRelayAggregation({
      relayUrl: url,
      identity: parties.identities.get('p1')!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      localId: 'p1',
      agg: 'ab'.repeat(32),
      parties: parties.ids,
      length: 100,
      admissionTimeoutMs: 5_000,
      onChunk: () => undefined,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
  /** p3's admission to the same aggregation with `len`, signed by `key` (p3's own, or another). */
  const signedBy = (key: Uint8Array, url: string, req: Record<string, unknown>, len: number): Record<string, unknown> => {
    const body = { session: req.session as string, from: 'p3', agg: req.agg as string, parties: parties.ids, len, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
    return { url, from: 'p3', parties: body.parties, len, ts: body.ts, nonce: body.nonce, sig: encodeBase64(ed25519Sign(aggregateTranscript(url, body), key)) };
  };

  test('evidence not signed by the member it names → names nobody, blames the relay (RelayOpeningError)', async () => {
    let url = '';
    const relay = await lyingRelay((req) => signedBy(parties.identities.get('p2')!.secretKey, url, req, 101));
    url = relay.url;
    try {
      const e = await admission(url);
      // On main: a RelayError 'aggregate-mismatch' that ignores the evidence (no relay to blame).
      expect(e).toBeInstanceOf(RelayOpeningError);
      expect((e as RelayOpeningError).code).toBe(ErrorCode.PROTOCOL_VIOLATION);
      expect((e as CouplerError).peers).toEqual([]);
    } finally {
      await relay.close();
    }
  });

  test("the member's genuine signed admission that agrees with this party → names nobody, blames the relay", async () => {
    let url = '';
    const relay = await lyingRelay((req) => signedBy(parties.identities.get('p3')!.secretKey, url, req, 100));
    url = relay.url;
    try {
      const e = await admission(url);
      expect(e).toBeInstanceOf(RelayOpeningError);
      expect((e as CouplerError).peers).toEqual([]);
    } finally {
      await relay.close();
    }
  });

  test("the member's genuine signed admission with another length → a mismatch error carrying it (named once the agreement passes)", async () => {
    let url = '';
    const relay = await lyingRelay((req) => signedBy(parties.identities.get('p3')!.secretKey, url, req, 101));
    url = relay.url;
    try {
      const e = await admission(url);
      expect(e).toBeInstanceOf(RelayAggregateMismatchError);
      expect((e as RelayAggregateMismatchError).reason).toBe('aggregate-mismatch');
      expect((e as RelayAggregateMismatchError).conflict.signer).toBe('p3');
    } finally {
      await relay.close();
    }
  });
});

/**
 * An on-path attacker between the parties and a `ws://` relay: a TCP forwarder on 127.0.0.1 that
 * passes every byte through, except that on each aggregation connection (the relay's first frame
 * is `{"t":"admitted","key":…}`) it flips one bit of the first answer chunk's sum, 1 000 bytes in.
 */
async function startAnswerFlipper(): Promise<{ port: number; target(port: number): void; fired(): number; close(): Promise<void> }> {
  let targetPort = 0;
  let fired = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    // s2c: the HTTP response, then the first frame (unmasked, short text), then the answer chunks.
    let head = Buffer.alloc(0);
    let at = 0;
    let flipAt: number | undefined;
    let decided = false;
    upstream.on('data', (data: Buffer) => {
      let out = data;
      if (!decided) {
        head = Buffer.concat([head, data]);
        const h = head.indexOf('\r\n\r\n');
        if (h >= 0 && head.length >= h + 4 + 2) {
          const len = head[h + 5]! & 0x7f;
          if (len < 126 && head.length >= h + 6 + len) {
            decided = true;
            const first = head.subarray(h + 6, h + 6 + len).toString('utf8');
            // Frame header (2 + 8 bytes for a 147 KiB payload), index (4), then 1 000 bytes of sum.
            if (first.includes('"key"')) flipAt = h + 6 + len + 10 + 4 + 1_000;
          }
        }
      }
      if (flipAt !== undefined && flipAt >= at && flipAt < at + data.length) {
        out = Buffer.from(data);
        out[flipAt - at]! ^= 0x01;
        fired++;
      }
      at += data.length;
      client.write(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    target: (p) => (targetPort = p),
    fired: () => fired,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.each(REBUILD_MODES)('review ($mode): the network cannot get the honest relay named as a cheat', ({ rebuild }) => {
  rebuildMode(rebuild);

  test("an on-path attacker alters an answer chunk on its way (ws://) → the relay is not 'certainly' cheating (RelayOpeningError, not RelayCheatingError)", async () => {
    const flipper = await startAnswerFlipper();
    try {
      const parties = makeParties(N);
      const url = `ws://127.0.0.1:${flipper.port}`;
      const relay = await startRelay({ rosters: [parties.roster], publicUrls: [url] });
      relays.push(relay);
      flipper.target(relay.port);
      const groups = await joinAll(parties, () => ({ transport: 'relay', relayUrl: url, roundTimeoutMs: 8_000 }));
      groupsToClose.push(groups);
      const results = await settleAll(groups.map((g, i) => secureSum(g, inputOf(i), { opening: 'relay' })));
      expect(flipper.fired()).toBe(N);
      for (const r of results) {
        expect(r.ok).toBe(false);
        const e = (r as { error: unknown }).error;
        // On main: RelayCheatingError TAMPERING_DETECTED ("the relay answered with a statement it
        // signed for another aggregation or another answer (a replay)") at the parties that fail
        // first — yet the relay signed exactly what it sent.
        expect(e).not.toBeInstanceOf(RelayCheatingError);
      }
      expect(results.some((r) => (r as { error: unknown }).error instanceof RelayOpeningError)).toBe(true);
    } finally {
      await flipper.close();
    }
  });
});

// Not run with the partial sum rebuilt: no answer chunk ever arrives and no mask is opened, so
// both modes run the same code (and this case costs its 3 s deadline).
describe('review: a party that withholds its upload', () => {
  // Was FLAW 6. p3 runs secureSum honestly up to its partial sum, joins the aggregation and never
  // uploads. The relay's own deadline for the aggregation is long (join timeout + 17 B per element
  // at 1 MiB/s), the parties' is their round deadline + the same: every honest party gave up first
  // with RelayOpeningError TIMEOUT naming only the relay — p3 not even a suspect. Now a relay that
  // makes no progress for AGGREGATE_STALL_NOTICE_MS tells every member whom it waits for, and a
  // party whose deadline passes lists them as suspects (the relay's word: not `peers`).
  test('p3 joins the aggregation and never uploads → the honest parties list p3 as a suspect', async () => {
    const { groups } = await setup({}, 3_000);
    const g3 = groups[2]!;
    const cheater = (async (): Promise<void> => {
      const o = {};
      const local = encodeRun(g3, 'sum', inputOf(2), o, 'ring64', { shares: 'seed', opening: 'relay' });
      const partial = maskPairwise(g3, local.runId, local.encoded);
      const agreement = agreeRun(g3, local, o);
      agreement.catch(() => undefined);
      const round = `${local.runId}/partial`;
      const agg = aggregationId(g3, round);
      const conn = await openRelayAggregation({
        relayUrl: g3._relayUrl!,
        identity: g3.identity,
        roster: g3.roster,
        sessionId: g3.sessionId,
        localId: g3.localId,
        agg,
        parties: g3.parties,
        length: L,
        admissionTimeoutMs: 5_000,
        onChunk: () => undefined,
      });
      // Its commitment to the masked vector it would upload, echoed as an honest party's is.
      const sigma = new Uint8Array(randomBytes(32));
      maskInPlace(partial, sigma);
      const bytes = r64ToBytes(partial);
      let c = chainStart(g3.sessionId, agg, g3.localId, L, g3.parties);
      for (let i = 0; i < CHUNKS; i++) c = chainNext(c, chunkHash(i, bytes.subarray(8 * 16_384 * i, Math.min(bytes.length, 8 * 16_384 * (i + 1)))));
      const k = maskCommitment(g3, round, g3.localId, sigma);
      const rk = conn.relayKey;
      await echoBroadcast(g3, `${round}/c`, { c, k, rk, sig: ed25519Sign(relayCommitStatement(g3.sessionId, g3.epoch, round, g3.localId, c, k, rk), g3.identity.secretKey) });
      await conn.answer.catch(() => undefined);
    })();
    cheater.catch(() => undefined);
    const honest = await settleAll([0, 1, 3].map((i) => secureSum(groups[i]!, inputOf(i), { opening: 'relay' })));
    for (const r of honest) {
      expect(r.ok).toBe(false);
      // On main: RelayOpeningError TIMEOUT naming only the relay, peers [] and suspects [].
      expect(((r as { error: unknown }).error as CouplerError).suspects).toContain('p3');
    }
  });

  test('a member that leaves an unanswered aggregation ends it: the others learn who left', async () => {
    const p = makeParties(3);
    const relay = await startRelay({ rosters: [p.roster] });
    relays.push(relay);
    const url = `ws://127.0.0.1:${relay.port}`;
    const agg = randomBytes(32).toString('hex');
    const join = (member: string): Promise<{ ws: WebSocket; texts: string[] }> =>
      openRaw(url, '127.0.0.1').then(async (ws) => {
        ws.on('error', () => undefined);
        const texts: string[] = [];
        ws.on('message', (d: Buffer, isBinary: boolean) => {
          if (!isBinary) texts.push(d.toString());
        });
        const body = { session: p.sessionId, from: member, agg, parties: p.ids, len: 100, ts: Date.now(), nonce: randomBytes(16).toString('hex') };
        const sig = encodeBase64(ed25519Sign(aggregateTranscript(url, body), p.identities.get(member)!.secretKey));
        await new Promise<void>((resolve) => {
          ws.once('message', () => resolve());
          ws.send(JSON.stringify({ v: 1, op: 'aggregate', ...body, sig }));
        });
        return { ws, texts };
      });
    const a = await join('p1');
    const b = await join('p2');
    const closed = new Promise<void>((resolve) => a.ws.once('close', () => resolve()));
    b.ws.terminate();
    await closed;
    // On main: p1 is cut without a word, and the relay keeps the aggregation's engine (and its
    // accumulators) forever: it is never counted as failed.
    expect(a.texts.map((t) => JSON.parse(t) as { t: string; reason?: string; party?: string }).find((m) => m.t === 'abort')).toEqual({ t: 'abort', reason: 'member-left', party: 'p2' });
    expect(relay.stats().aggregations).toMatchObject({ live: 0, failed: 1 });
  });
});
