/**
 * The compact echo broadcast (src/group/echo.ts), parties over real channels in this process:
 *
 * - bytes per party of one echoBroadcast at n = 5, 10, 20 grow linearly in n (one value and one
 *   signed digest per peer), against a bound derived from the message layout — the previous echo
 *   (every party forwarding all n statements to every peer) exceeds it from n = 10 on;
 * - adversarial parties built from the group API (send/gather and their own roster key; the honest
 *   code is not patched): round-1 equivocation (named with two signed statements, through the
 *   fallback round), a false digest to one party only (that party names the liar with its two
 *   contradicting signed statements; the others complete with the same values), a false digest
 *   backed by a forged list (the forwarder is named), and silence in the fallback round (TIMEOUT
 *   naming the silent party, nobody else); round-1 signatures are checked only when they become
 *   evidence (an invalid one on a consistent value is harmless; on an equivocated value the
 *   receiver names the sender instead of forwarding it).
 *
 * - attachments to the digest round (`echoBroadcastAttached`) and commit-then-open in two rounds:
 *   the opening travels with the digest; a party that attaches no opening is named.
 *
 * The same deviations as real processes are in test/protocols/adversarial.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AddressBook, joinLocal, settleAll, type TestParties } from '../support/group-harness';
import { testIdentity } from '../support/identity';
import { createRoster } from '../../src/identity/roster';
import { echoBroadcast, echoBroadcastAttached, echoDigest, ECHO_STATEMENT } from '../../src/group/echo';
import { commitThenOpen } from '../../src/group/commit';
import { ed25519Sign, ed25519Verify } from '../../src/crypto/ed25519';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import { CheatingDetectedError, CouplerError, ErrorCode, GroupError, TimeoutError } from '../../src/errors';
import type { Group } from '../../src/group/group';

jest.setTimeout(60_000);

/** Parties e01..eNN (zero-padded: canonical order = index order). */
function parties(n: number): TestParties {
  const ids = Array.from({ length: n }, (_, i) => `e${String(i + 1).padStart(2, '0')}`);
  const identities = new Map(ids.map((id) => [id, testIdentity(id)]));
  const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
  return { ids, identities, roster, sessionId: `test-echo-${randomBytes(8).toString('hex')}` };
}

const open: Group[][] = [];
async function groupsOf(n: number, roundTimeoutMs = 10_000): Promise<{ p: TestParties; gs: Group[] }> {
  const p = parties(n);
  const gs = await joinLocal(p, p.ids, new AddressBook(), { roundTimeoutMs });
  open.push(gs);
  return { p, gs };
}
afterEach(async () => {
  await Promise.all(open.splice(0).flat().map((g) => g.close()));
});

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const totalSent = (g: Group): number => g.stats().reduce((s, x) => s + x.bytesSent, 0);

/** Round names a group sends on (a wrapper on the instance; echo.ts is untouched). */
function watchRounds(g: Group): Set<string> {
  const seen = new Set<string>();
  const send = g.send.bind(g);
  const sendToAll = g.sendToAll.bind(g);
  g.send = (peer: string, round: string, payload: PlainData): Promise<void> => {
    seen.add(round);
    return send(peer, round, payload);
  };
  g.sendToAll = (round: string, payload: PlainData, to?: readonly string[]): Promise<void> => {
    seen.add(round);
    return to === undefined ? sendToAll(round, payload) : sendToAll(round, payload, to);
  };
  return seen;
}

// --- An adversarial party, from the group API and its own key (the statement layouts are the
// --- documented ones of echo.ts).

const broadcastStatement = (s: string, e: Uint8Array, r: string, from: string, h: Uint8Array): Uint8Array => encodeMessage({ t: ECHO_STATEMENT.broadcast, s, e, r, from, h });
const digestStatement = (s: string, e: Uint8Array, r: string, from: string, d: Uint8Array): Uint8Array => encodeMessage({ t: ECHO_STATEMENT.digest, s, e, r, from, d });
type Entry = { from: string; h: Uint8Array; sig: Uint8Array };

interface Deviation {
  /** Value sent to `peer` in round 1. */
  value: (peer: string) => PlainData;
  /** The view whose digest is signed to `peer` (default: `peer`'s true view). */
  claimedView?: (peer: string, truth: Entry[]) => Entry[];
  /** Whether to send the claimed list in the fallback round to the peers it lied to. Default true. */
  answer?: boolean;
  /** Round-1 signature sent to `peer` (default: the valid one). */
  sig?: (peer: string, valid: Uint8Array) => Uint8Array;
  /** List sent in the fallback (default: the true view). */
  list?: (peer: string, truth: Entry[], claimed: Entry[]) => Entry[];
  /** Sees the round-1 messages it received (what an adversary keeps for later). */
  seen?: (received: ReadonlyMap<string, { v: Uint8Array; sig: Uint8Array }>) => void;
}

async function deviantEcho(g: Group, round: string, dev: Deviation): Promise<void> {
  const sk = g.identity.secretKey;
  const sent = new Map<string, Entry>();
  await Promise.all(
    g.peers.map((peer) => {
      const v = encodeMessage(dev.value(peer));
      const h = sha256(v);
      const valid = ed25519Sign(broadcastStatement(g.sessionId, g.epoch, round, g.localId, h), sk);
      const sig = dev.sig ? dev.sig(peer, valid) : valid;
      sent.set(peer, { from: g.localId, h, sig });
      return g.send(peer, `${round}/v`, { v, sig });
    }),
  );
  const got = await g.gather(`${round}/v`);
  dev.seen?.(got as Map<string, { v: Uint8Array; sig: Uint8Array }>);
  const theirs = new Map([...got].map(([p, m]) => [p, { from: p, h: sha256((m as { v: Uint8Array }).v), sig: (m as { sig: Uint8Array }).sig }]));
  const truthOf = (peer: string): Entry[] => g.parties.map((p) => (p === g.localId ? sent.get(peer)! : theirs.get(p)!));
  const lied: string[] = [];
  await Promise.all(
    g.peers.map((peer) => {
      const truth = truthOf(peer);
      const claimed = dev.claimedView ? dev.claimedView(peer, truth) : truth;
      const d = echoDigest(g.sessionId, g.epoch, round, claimed);
      if (claimed !== truth) lied.push(peer);
      return g.send(peer, `${round}/d`, { d, sig: ed25519Sign(digestStatement(g.sessionId, g.epoch, round, g.localId, d), sk) });
    }),
  );
  await g.gatherSome(`${round}/d`, 0, { timeoutMs: 2000 });
  if (dev.answer === false) return;
  await Promise.all(
    lied.map((peer) => {
      const truth = truthOf(peer);
      const list = dev.list ? dev.list(peer, truth, dev.claimedView!(peer, truth)) : truth;
      const stmt = encodeMessage({ t: ECHO_STATEMENT.list, s: g.sessionId, e: g.epoch, r: round, from: g.localId, list });
      return g.send(peer, `${round}/f`, { stmt, sig: ed25519Sign(stmt, sk) });
    }),
  );
}

/** Run `echoBroadcast` at every party but `bad` (index), which runs `deviantEcho`. */
async function withAdversary(gs: Group[], bad: number, round: string, dev: Deviation) {
  const honest = gs.filter((_, i) => i !== bad);
  const rounds = honest.map(watchRounds);
  const t0 = Date.now();
  const [results] = await Promise.all([settleAll(honest.map((g) => echoBroadcast(g, round, { from: g.localId }))), deviantEcho(gs[bad]!, round, dev)]);
  return { honest, results, rounds, elapsedMs: Date.now() - t0 };
}

/** Decoded evidence statements, each checked to verify under `signer`'s roster key only. */
function evidence(p: TestParties, e: CheatingDetectedError, signer: string): Record<string, unknown>[] {
  return e.evidence.statements.map((bytes) => {
    const ev = decodeMessage(bytes, 1 << 16) as { signer: string; statement: Uint8Array; signature: Uint8Array };
    expect(ev.signer).toBe(signer);
    expect(ed25519Verify(ev.statement, ev.signature, p.roster.get(signer)!.publicKey)).toBe(true);
    const other = p.ids.find((id) => id !== signer)!;
    expect(ed25519Verify(ev.statement, ev.signature, p.roster.get(other)!.publicKey)).toBe(false);
    return decodeMessage(ev.statement, 1 << 16) as Record<string, unknown>;
  });
}

describe('bytes per party', () => {
  test('one echoBroadcast at n = 5, 10, 20: linear in n (≤ (n − 1)·(two messages of constant size)), no fallback round', async () => {
    const payload = new Uint8Array(32).fill(7); // a commitment-sized value, as commitThenOpen and aggregate.ts send
    const round = 'x.1/c'; // same length at every n
    // Per peer: the value message (payload + 64-byte signature) and the digest message (32-byte
    // digest + 64-byte signature), each with msgpack keys and the round name (< 40 B) and the
    // channel's frame header and AEAD tag (< 40 B).
    const perPeerBound = encodeMessage(payload).length + 64 + 32 + 64 + 2 * 80;
    const perPeer: number[] = [];
    for (const n of [5, 10, 20]) {
      const { gs } = await groupsOf(n);
      const rounds = gs.map(watchRounds);
      const before = gs.map(totalSent);
      const out = await Promise.all(gs.map((g) => echoBroadcast(g, round, payload)));
      const bytes = gs.map((g, i) => totalSent(g) - before[i]!);
      for (const b of bytes) expect(b).toBeLessThanOrEqual((n - 1) * perPeerBound);
      for (const r of rounds) expect([...r].sort()).toEqual([`${round}/d`, `${round}/v`]);
      for (const m of out) expect([...m.keys()].sort()).toEqual(gs.map((g) => g.localId));
      perPeer.push(Math.max(...bytes) / (n - 1));
      await Promise.all(open.splice(0).flat().map((g) => g.close()));
    }
    // Per-peer bytes constant in n (a quadratic echo would add ~150 B per peer per extra party).
    expect(perPeer[2]! - perPeer[0]!).toBeLessThanOrEqual(8);
    console.log(`[echo bytes per peer, n = 5, 10, 20] ${perPeer.map((x) => x.toFixed(1)).join(', ')} (bound ${perPeerBound})`);
  }, 120_000);
});

describe('attachments to the digest round (commit-then-open in two rounds)', () => {
  test('echoBroadcastAttached: the attachment is computed from the round-1 values and arrives with the digest; no extra round', async () => {
    const { gs } = await groupsOf(4);
    const rounds = gs.map(watchRounds);
    const seen: number[] = [];
    const out = await Promise.all(
      gs.map((g, i) =>
        echoBroadcastAttached(g, 'at.1', i * 10, (values) => {
          seen.push(values.size);
          return { from: g.localId, total: [...values.values()].reduce((a: number, b) => a + (b as number), 0) };
        }),
      ),
    );
    expect(seen).toEqual([4, 4, 4, 4]);
    for (const [i, r] of out.entries()) {
      expect([...r.values.entries()].sort()).toEqual(gs.map((g, j) => [g.localId, j * 10]).sort());
      expect([...r.attached.keys()].sort()).toEqual(gs.filter((_, j) => j !== i).map((g) => g.localId).sort());
      for (const [peer, x] of r.attached) expect(x).toEqual({ from: peer, total: 60 });
    }
    for (const r of rounds) expect([...r].sort()).toEqual(['at.1/d', 'at.1/v']);
  });

  test('commitThenOpen: two rounds; a party whose digest carries no opening is named (PROTOCOL_VIOLATION) once the echo check passed', async () => {
    const { gs } = await groupsOf(4);
    const honest = gs.slice(0, 3);
    const rounds = honest.map(watchRounds);
    const culprit = gs[3]!.localId;
    const value = (g: Group): Uint8Array => new Uint8Array(16).fill(g.localId.charCodeAt(2));
    const [results] = await Promise.all([
      settleAll(honest.map((g) => commitThenOpen(g, 'co.1', value(g)))),
      // The culprit takes part in the commitment echo honestly (a 32-byte commitment) but attaches no opening.
      deviantEcho(gs[3]!, 'co.1/c', { value: () => new Uint8Array(32).fill(5) }),
    ]);
    for (const r of results) {
      const e = (r as { error: unknown }).error as CouplerError;
      expect(e).toBeInstanceOf(GroupError);
      expect(e.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
      expect(e.peers).toEqual([culprit]);
      expect(e.message).toContain('no opening');
    }
    for (const r of rounds) expect([...r].sort()).toEqual(['co.1/c/d', 'co.1/c/v']);
  });

  test('commitThenOpen among honest parties: every opening verified, in two rounds', async () => {
    const { gs } = await groupsOf(3);
    const rounds = gs.map(watchRounds);
    const out = await Promise.all(gs.map((g, i) => commitThenOpen(g, 'co.2', new Uint8Array([i, i, i]))));
    for (const m of out) expect([...m.entries()].map(([p, v]) => [p, Array.from(v)])).toEqual(gs.map((g, i) => [g.localId, [i, i, i]]));
    for (const r of rounds) expect([...r].sort()).toEqual(['co.2/c/d', 'co.2/c/v']);
  });
});

describe('adversarial parties (in-process, built from the group API)', () => {
  test('round-1 equivocation: every honest party takes the fallback round and names the equivocator with its two signed statements', async () => {
    const { p, gs } = await groupsOf(5);
    const round = 'eq.1/c';
    const o = await withAdversary(gs, 2, round, { value: (peer) => (peer === gs[0]!.localId ? { lie: 1 } : { lie: 2 }) });
    const culprit = gs[2]!.localId;
    o.results.forEach((r, i) => {
      expect(r.ok).toBe(false);
      const e = (r as { error: unknown }).error as CheatingDetectedError;
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.code).toBe(ErrorCode.EQUIVOCATION);
      expect(e.peers).toEqual([culprit]);
      const bodies = evidence(p, e, culprit);
      expect(bodies).toHaveLength(2);
      for (const b of bodies) expect(b).toMatchObject({ t: ECHO_STATEMENT.broadcast, s: p.sessionId, r: round, from: culprit });
      expect(Buffer.from(bodies[0]!.h as Uint8Array).equals(Buffer.from(bodies[1]!.h as Uint8Array))).toBe(false);
      expect(o.rounds[i]!.has(`${round}/f`)).toBe(true);
    });
  });

  test('a false digest to one party only: it names the liar with the liar’s signed digest and signed list; the others complete with the same values', async () => {
    const { p, gs } = await groupsOf(5);
    const round = 'fd.1/c';
    const victim = gs[0]!.localId;
    const culprit = gs[3]!.localId;
    const o = await withAdversary(gs, 3, round, {
      value: () => ({ honest: 'value' }),
      claimedView: (peer, truth) => (peer === victim ? truth.map((e) => (e.from === gs[1]!.localId ? { ...e, h: sha256(e.h) } : e)) : truth),
    });
    const [victimResult, ...others] = o.results;
    expect(victimResult!.ok).toBe(false);
    const e = (victimResult as { error: unknown }).error as CheatingDetectedError;
    expect(e).toBeInstanceOf(CheatingDetectedError);
    expect(e.code).toBe(ErrorCode.EQUIVOCATION);
    expect(e.peers).toEqual([culprit]);
    const [digestBody, listBody] = evidence(p, e, culprit);
    expect(digestBody).toMatchObject({ t: ECHO_STATEMENT.digest, s: p.sessionId, r: round, from: culprit });
    expect(listBody).toMatchObject({ t: ECHO_STATEMENT.list, s: p.sessionId, r: round, from: culprit });
    // A third party can check the contradiction: the signed list does not hash to the signed digest.
    expect(Buffer.from(echoDigest(p.sessionId, listBody!.e as Uint8Array, round, listBody!.list as Entry[])).equals(Buffer.from(digestBody!.d as Uint8Array))).toBe(false);
    const expected = new Map<string, PlainData>(gs.map((g) => [g.localId, (g.localId === culprit ? { honest: 'value' } : { from: g.localId }) as PlainData]));
    for (const r of others) {
      expect(r.ok).toBe(true);
      expect((r as { value: Map<string, PlainData> }).value).toEqual(expected);
    }
    // Only the victim took the fallback round.
    expect(o.rounds.map((r) => r.has(`${round}/f`))).toEqual([true, false, false, false]);
  });

  test('a false digest backed by a list with a forged statement: the forwarder is named with its signed list', async () => {
    const { p, gs } = await groupsOf(4);
    const round = 'fg.1/c';
    const culprit = gs[1]!.localId;
    const forge = (truth: Entry[]): Entry[] => truth.map((e) => (e.from === gs[3]!.localId ? { ...e, h: new Uint8Array(32).fill(9), sig: new Uint8Array(randomBytes(64)) } : e));
    const o = await withAdversary(gs, 1, round, { value: () => 'v', claimedView: (_peer, truth) => forge(truth), list: (_peer, _truth, claimed) => claimed });
    for (const r of o.results) {
      const e = (r as { error: unknown }).error as CheatingDetectedError;
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e.code).toBe(ErrorCode.EQUIVOCATION);
      expect(e.peers).toEqual([culprit]);
      const [listBody] = evidence(p, e, culprit);
      expect(listBody).toMatchObject({ t: ECHO_STATEMENT.list, from: culprit, r: round });
    }
  });

  test('an invalid round-1 signature on a value everyone got alike changes nothing: the channel authenticated it, all complete with the same values', async () => {
    const { gs } = await groupsOf(4);
    const round = 'is.1/c';
    const culprit = gs[2]!.localId;
    const o = await withAdversary(gs, 2, round, { value: () => ({ same: 'value' }), sig: (peer, valid) => (peer === gs[0]!.localId ? new Uint8Array(64).fill(1) : valid) });
    const expected = new Map<string, PlainData>(gs.map((g) => [g.localId, (g.localId === culprit ? { same: 'value' } : { from: g.localId }) as PlainData]));
    for (const r of o.results) {
      expect(r.ok).toBe(true);
      expect((r as { value: Map<string, PlainData> }).value).toEqual(expected);
    }
    for (const r of o.rounds) expect(r.has(`${round}/f`)).toBe(false);
  });

  test('equivocation with an invalidly signed value to one party: that party names the sender (PROTOCOL_VIOLATION) instead of forwarding it; its mismatching peers name it by TIMEOUT', async () => {
    const roundTimeoutMs = 1500;
    const { gs } = await groupsOf(4, roundTimeoutMs);
    const round = 'iq.1/c';
    const victim = gs[0]!.localId;
    const culprit = gs[2]!.localId;
    const o = await withAdversary(gs, 2, round, {
      value: (peer) => (peer === victim ? { lie: 1 } : { lie: 2 }),
      sig: (peer, valid) => (peer === victim ? new Uint8Array(64).fill(1) : valid),
    });
    const [victimResult, ...others] = o.results;
    const e = (victimResult as { error: unknown }).error as CouplerError;
    expect(e).toBeInstanceOf(CouplerError);
    expect(e.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
    expect(e.peers).toEqual([culprit]);
    expect(e.message).toContain('invalid signature');
    // The victim forwarded nothing it could not vouch for: it sent no fallback list.
    expect(o.rounds[0]!.has(`${round}/f`)).toBe(false);
    // The victim's caller does not report its failed exchange here (no `endRun(run, err)`), so
    // the others find it alive and waiting for nobody, and name it: what a caller avoids by
    // reporting it (test/review17/echo-victim-notice.test.ts; the protocols do it for their runs).
    for (const r of others) {
      const err = (r as { error: unknown }).error as CouplerError;
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err.peers).toEqual([victim]);
    }
  });

  test('silence in the fallback round: TIMEOUT naming the silent liar only, within the round deadline', async () => {
    const roundTimeoutMs = 1500;
    const { gs } = await groupsOf(4, roundTimeoutMs);
    const round = 'sl.1/c';
    const culprit = gs[3]!.localId;
    const o = await withAdversary(gs, 3, round, { value: () => 'v', claimedView: (_peer, truth) => truth.map((e) => (e.from === gs[0]!.localId ? { ...e, h: sha256(e.h) } : e)), answer: false });
    for (const r of o.results) {
      const e = (r as { error: unknown }).error as CouplerError;
      expect(e).toBeInstanceOf(TimeoutError);
      expect(e.code).toBe(ErrorCode.TIMEOUT);
      expect(e.peers).toEqual([culprit]);
      expect(e.message).toContain(`${round}/f`);
    }
    expect(o.elapsedMs).toBeGreaterThanOrEqual(roundTimeoutMs - 50);
    expect(o.elapsedMs).toBeLessThan(2 * roundTimeoutMs + 3000);
  });
});

describe('a new formation with the same session id (the epoch)', () => {
  test('a signed statement kept from an earlier formation and replayed in a fallback list does not frame its honest signer: the forwarder is named', async () => {
    // Run ids restart with every formation (`sum.1/shape` again), and the session id is reused
    // (a re-join, or vantage6's default `v6-task-<id>` after a restart). Without the epoch in the
    // statement, e02's old signed statement verified in the new formation, and e01 named e02 for
    // EQUIVOCATION with two validly signed statements: transferable evidence against an honest party.
    const p = parties(4);
    const round = 'sum.1/shape';
    let old: { v: Uint8Array; sig: Uint8Array } | undefined;
    const first = await joinLocal(p, p.ids, new AddressBook());
    open.push(first);
    await Promise.all([
      ...first.slice(0, 3).map((g) => echoBroadcast(g, round, { value: g.localId, formation: 1 })),
      // e04 behaves honestly, and keeps what e02 signed.
      deviantEcho(first[3]!, round, { value: () => ({ value: 'e04', formation: 1 }), seen: (got) => (old = got.get('e02')) }),
    ]);
    await Promise.all(open.splice(0).flat().map((g) => g.close()));
    expect(old).toBeDefined();

    const second = await joinLocal(p, p.ids, new AddressBook());
    open.push(second);
    expect(Buffer.from(second[0]!.epoch).equals(Buffer.from(first[0]!.epoch))).toBe(false);
    const replayed = (truth: Entry[]): Entry[] => truth.map((e) => (e.from === 'e02' ? { from: 'e02', h: sha256(old!.v), sig: old!.sig } : e));
    const o = await withAdversary(second, 3, round, {
      value: () => ({ value: 'e04', formation: 2 }),
      claimedView: (peer, truth) => (peer === 'e01' ? replayed(truth) : truth),
      list: (_peer, _truth, claimed) => claimed,
    });
    const [victim, ...others] = o.results;
    expect(victim!.ok).toBe(false);
    const e = (victim as { error: unknown }).error as CheatingDetectedError;
    expect(e).toBeInstanceOf(CheatingDetectedError);
    expect(e.peers).toEqual(['e04']);
    expect(e.message).toContain('never signed');
    // The evidence is e04's own signed list; nothing in it is signed by e02.
    for (const bytes of e.evidence.statements) expect((decodeMessage(bytes, 1 << 16) as { signer: string }).signer).toBe('e04');
    for (const r of others) expect(r.ok).toBe(true);
  });

  test('every echo statement carries the epoch of the formation (evidence names the formation it belongs to)', async () => {
    const { p, gs } = await groupsOf(4);
    const round = 'ep.1/c';
    const o = await withAdversary(gs, 2, round, { value: (peer) => (peer === gs[0]!.localId ? { lie: 1 } : { lie: 2 }) });
    for (const r of o.results) {
      const e = (r as { error: unknown }).error as CheatingDetectedError;
      for (const body of evidence(p, e, gs[2]!.localId)) expect(Buffer.from(body.e as Uint8Array).equals(Buffer.from(gs[0]!.epoch))).toBe(true);
    }
  });
});
