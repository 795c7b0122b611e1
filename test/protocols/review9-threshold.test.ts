/**
 * review9: thresholdSum's dropout path against review 8's blame rules (docs/reviews/review9-threshold.md).
 *
 * Every party is a real group on 127.0.0.1 in this process. A cheater runs the real thresholdSum
 * with its own `Group.send` replaced: it rewrites (re-signing with its own key) or delays its OWN
 * messages — what any roster peer can put on its own channel. Honest parties are unmodified.
 */
import { createHash } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { cheat, type Send } from '../support/cheat';
import { createTestGroups, makeParties, settleAll, type TestGroups } from '../support/group-harness';
import { joinGroup, type GroupEvent } from '../../src/group/group';
import type { PeerAddress } from '../../src/discovery/types';
import { thresholdSum, type SumResult } from '../../src/protocols';
import { _thresholdStatements } from '../../src/protocols/threshold';
import { PIECE_ELEMENTS } from '../../src/protocols/common';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { encodeMessage, type PlainData } from '../../src/wire/codec';
import type { Group } from '../../src/group/group';
import { f61FromBigInts, f61FromBytes, f61ToBigInts, f61ToBytes } from '../../src/protocols/math/field61';


/** The cheater's signed dealer report over `d` (what thresholdSum signs: session, epoch, run, author, dealers). */
function signedReport(c: TestGroups, g: Group, run: string, d: string[]): { d: string[]; sig: Uint8Array } {
  const statement = encodeMessage({ t: 'coupler/1 dealers', s: g.sessionId, e: g.epoch, r: run, from: g.localId, d });
  return { d, sig: ed25519Sign(statement, c.identities.get(g.localId)!.secretKey) };
}

/** The cheater's signed confirmation of the dealer-set hash `q` with the partial-sum commitment `commit`. */
function signedConfirmation(c: TestGroups, g: Group, run: string, q: Uint8Array, commit: Uint8Array): Uint8Array {
  return ed25519Sign(_thresholdStatements.confirmStatement(g, run, g.localId, q, commit), c.identities.get(g.localId)!.secretKey);
}

const runOf = (round: string): string => round.slice(0, round.indexOf('/'));

test('W1 — thresholdSum n = 5, t = 3: a reporter claiming it lacks two honest dealers’ shares (Q below the floor) gets nobody honest named: TOO_FEW_PARTIES must not put p2, p3 in `peers`', async () => {
  const c = await createTestGroups(5, { roundTimeoutMs: 3000 });
  try {
    const m = c.byId.get('p5')!;
    cheat(m, (send, peer, round, payload) => (round.endsWith('/dealers') ? send(peer, round, signedReport(c, m, runOf(round), ['p1', 'p4', 'p5'])) : send(peer, round, payload)));
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, 10 * (i + 1), { t: 3, roundTimeoutMs: 3000 })));
    for (const id of ['p1', 'p2', 'p3', 'p4']) {
      const r = out[c.ids.indexOf(id)]!;
      expect(r.ok).toBe(false);
      const e = (r as { error: CouplerError }).error;
      expect(e.code).toBe(ErrorCode.TOO_FEW_PARTIES);
      // The floor held (nothing published); the claim "I lack p2's and p3's shares" is p5's word.
      // Before: peers = ['p2', 'p3'] at every honest party (and its abort notice blamed them).
      expect(e.peers.filter((p) => p !== 'p5')).toEqual([]);
    }
  } finally {
    await c.close();
  }
}, 30_000);

test('W1, a long vector (pieces, GF(2^61 − 1)): the same claim gets nobody honest named', async () => {
  const c = await createTestGroups(5, { roundTimeoutMs: 15_000 });
  try {
    const m = c.byId.get('p5')!;
    cheat(m, (send, peer, round, payload) => (round.endsWith('/dealers') ? send(peer, round, signedReport(c, m, runOf(round), ['p1', 'p4', 'p5'])) : send(peer, round, payload)));
    const L = PIECE_ELEMENTS + 1;
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, new Float64Array(L).fill(i + 1), { t: 3, roundTimeoutMs: 15_000 })));
    for (const id of ['p1', 'p2', 'p3', 'p4']) {
      const e = (out[c.ids.indexOf(id)] as { error: CouplerError }).error;
      expect(e.code).toBe(ErrorCode.TOO_FEW_PARTIES);
      expect(e.peers.filter((p) => p !== 'p5')).toEqual([]);
    }
  } finally {
    await c.close();
  }
}, 90_000);

test('W2 — thresholdSum n = 5, t = 2: a party a live peer holds a deadline behind (its shape, then its deal to p1 come late) is dropped by the others, who complete; p1 then must not name them', async () => {
  const D = 1000;
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const m = c.byId.get('p5')!;
    // p5 is otherwise honest: it states, deals, reports and publishes to everyone, only late to p1.
    cheat(m, (send, peer, round, payload) => {
      const delay = peer !== 'p1' ? 0 : round.endsWith('/shape') ? 0.9 * D : round.endsWith('/deal') ? 1.8 * D : 0;
      if (delay === 0) return send(peer, round, payload);
      setTimeout(() => void send(peer, round, payload).catch(() => undefined), delay);
      return Promise.resolve();
    });
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, 10 * (i + 1), { t: 2, roundTimeoutMs: D })));
    // The others went on without p1 (its dealer report came after their deadline): that is the
    // dropout tolerance, and they are right.
    for (const id of ['p2', 'p3', 'p4', 'p5']) {
      const r = out[c.ids.indexOf(id)]!;
      expect(r.ok).toBe(true);
      expect((r as { value: SumResult }).value.sum).toBe(150);
    }
    // p1 cannot complete; whatever it reports, it must not name the honest parties that dropped
    // it (they are done and answer "waiting for nobody"). Before: TOO_FEW_PARTIES naming p2..p5.
    const r1 = out[0]!;
    expect(r1.ok).toBe(false);
    const e = (r1 as { error: CouplerError }).error;
    expect(e.peers.filter((p) => p !== 'p5')).toEqual([]);
  } finally {
    await c.close();
  }
}, 30_000);

// P1 is not fixable inside one run: a party that stops is a dropout to the others, who may publish
// and complete without it (no round can make every honest party publish or none, with dropouts
// tolerated), and any run's dealer set can be shrunk by a colluder's report. The README and
// docs/design.md said the retry without a CheatingDetectedError's `peers` was safe for
// thresholdSum; they now say no retry with the same inputs is. This test shows why (it failed as
// "must not give the coalition an honest input" before the docs changed: learned was 40).
test('LIMIT (P1) — thresholdSum n = 6, t = 3, coalition {p5, p6}: a retry without the `peers` of a CheatingDetectedError gives the coalition an honest input — thresholdSum has no safe retry with the same inputs', async () => {
  const D = 1500;
  const c = await createTestGroups(6, { roundTimeoutMs: D });
  const x = [10, 20, 30, 40, 50, 60];
  try {
    const m = c.byId.get('p5')!;
    // p5: an otherwise honest run, except that p1, p2, p3 get a validly signed confirmation of
    // another dealer set — its own forwarded reports contradict it, so they name p5 with
    // certainty (TAMPERING_DETECTED). p4 and p6 get the true one.
    // The partial sums the coalition receives or sends (p4's reaches p5 and p6; observed on p4's
    // side, unchanged).
    const partials = new Map<string, Uint8Array>();
    const observe = (g: Group): void =>
      cheat(g, (send, peer, round, payload) => {
        if (round.endsWith('/partial') && (peer === 'p5' || peer === 'p6') && (payload as { y?: Uint8Array }).y !== undefined) partials.set(g.localId, (payload as { y: Uint8Array }).y);
        return send(peer, round, payload);
      });
    observe(c.byId.get('p4')!);
    observe(c.byId.get('p6')!);
    cheat(m, (send, peer, round, payload) => {
      if (round.endsWith('/partial') && (payload as { y?: Uint8Array }).y !== undefined) partials.set('p5', (payload as { y: Uint8Array }).y);
      if (!round.endsWith('/confirm') || !['p1', 'p2', 'p3'].includes(peer)) return send(peer, round, payload);
      const q = new Uint8Array(createHash('sha256').update(JSON.stringify(['p1', 'p2', 'p3', 'p5'])).digest());
      const commit = (payload as { c: Uint8Array }).c;
      return send(peer, round, { q, c: commit, rep: (payload as { rep: PlainData }).rep, sig: signedConfirmation(c, m, runOf(round), q, commit) });
    });
    const retried = new Map<string, SumResult>();
    // Honest parties (p1..p4) follow the README: retry only without the peers of a CheatingDetectedError.
    const honest = (g: Group, i: number): Promise<SumResult> =>
      thresholdSum(g, x[i]!, { t: 3, roundTimeoutMs: D }).catch((err: unknown) => {
        if (err instanceof CheatingDetectedError && err.peers.length > 0 && !err.peers.includes(g.localId)) return thresholdSum(g.without(err.peers), x[i]!, { t: 3, roundTimeoutMs: D });
        throw err;
      });
    const g6 = c.byId.get('p6')!;
    const runs = [
      ...['p1', 'p2', 'p3', 'p4'].map((id) => honest(c.byId.get(id)!, c.ids.indexOf(id))),
      thresholdSum(m, x[4]!, { t: 3, roundTimeoutMs: D }),
      // p6, p5's colluder: its own run honestly, then it joins the retry of the parties that named p5.
      // (Whether or not its own run completed: since revision 4 it does not.)
      thresholdSum(g6, x[5]!, { t: 3, roundTimeoutMs: D }).finally(async () => {
        try {
          retried.set('p6', await thresholdSum(g6.without(['p5']), x[5]!, { t: 3, roundTimeoutMs: D }));
        } catch {
          /* no retry sum */
        }
      }),
    ];
    const out = await settleAll(runs);
    // Since revision 4 no party completes the first run (p4 and the coalition's own runs see 3
    // publishers that counted each other, 5 needed) — but p4 published its partial sum to p5 and
    // p6, and with their own that is t = 3 points: the coalition interpolates the first run's sum
    // itself.
    expect(out[3]!.ok).toBe(false);
    expect((out[3] as { error: CouplerError }).error.peers.filter((p) => p !== 'p5' && p !== 'p6')).toEqual([]);
    const first = interpolate61(['p4', 'p5', 'p6'].map((id) => ({ x: BigInt(1 + c.ids.indexOf(id)), y: partials.get(id) })));
    const retry = retried.get('p6');
    // What the coalition holds: the first run's sum and the retry's sum (p6 takes part). Their
    // difference less x5:
    const learned = first !== undefined && retry !== undefined ? first - (retry.sum as number) - x[4]! : undefined;
    // p4's input: p4 published in the first run (p5's false confirmation went to p1..p3 only) and
    // is not in the retry, which completes without it.
    expect(learned).toBe(x[3]);
  } finally {
    await c.close();
  }
}, 90_000);

/** The integer at 0 of the points' polynomial over GF(2^61 − 1) (one element each; fixed point, 16 fractional bits), or undefined when a point is missing. */
function interpolate61(points: { x: bigint; y: Uint8Array | undefined }[]): number | undefined {
  const P = 2n ** 61n - 1n;
  const mod = (a: bigint): bigint => ((a % P) + P) % P;
  const inv = (a: bigint): bigint => {
    let [r, e, b] = [1n, P - 2n, mod(a)];
    for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
    return r;
  };
  if (points.some((p) => p.y === undefined)) return undefined;
  let s = 0n;
  for (const { x, y } of points) {
    let l = 1n;
    for (const o of points) if (o.x !== x) l = mod(l * o.x * inv(o.x - x));
    s = mod(s + l * f61ToBigInts(f61FromBytes(Uint8Array.from(y!)))[0]!);
  }
  return Number(s > P / 2n ? s - P : s) / 2 ** 16;
}

// I1: t − 1 colluders whose points pass the degree check at two honest parties, shifted
// differently for each (a(x − 1)(x − 2) vanishes at p1's and p2's points), with p3 dropped by
// timing. Before protocol revision 4 p1 returned 1150 and p2 2150 for a sum of 150, nobody named
// (this test asserted that as a LIMIT). Now partial sums are committed in the signed
// confirmations, publications forward the confirmations counted, and a party reconstructs only
// from a quorum of publishers that all counted each other.

/** W2's schedule against p3 (its shape and deal reach p3 late: p3's report comes after everyone's deadline), then `rest`. */
function holdingP3(D: number, rest: (send: Send, peer: string, round: string, payload: PlainData) => Promise<void>) {
  return (send: Send, peer: string, round: string, payload: PlainData): Promise<void> => {
    const delay = peer !== 'p3' ? 0 : round.endsWith('/shape') ? 0.9 * D : round.endsWith('/deal') ? 1.8 * D : 0;
    if (delay > 0) {
      setTimeout(() => void send(peer, round, payload).catch(() => undefined), delay);
      return Promise.resolve();
    }
    return rest(send, peer, round, payload);
  };
}

/** a(to)·(x − 1)(x − 2) added to every element of a partial sum's bytes (field 2^61 − 1). */
function shiftedBytes(y: Uint8Array, to: string, x: bigint): Uint8Array {
  const a = (to === 'p1' ? 1000n : 2000n) * 2n ** 15n;
  const g = a * (x - 1n) * (x - 2n);
  return f61ToBytes(f61FromBigInts(f61ToBigInts(f61FromBytes(Uint8Array.from(y))).map((e) => (e + g) % (2n ** 61n - 1n))));
}

/** p1's and p2's outcomes: a sum each, or an error. */
async function i1Outcomes(c: TestGroups, D: number): Promise<{ sums: (number | undefined)[]; errors: (CouplerError | undefined)[] }> {
  const out = await settleAll(c.groups.map((gr, i) => thresholdSum(gr, 10 * (i + 1), { t: 3, roundTimeoutMs: D })));
  const rs = ['p1', 'p2'].map((id) => out[c.ids.indexOf(id)]!);
  return {
    sums: rs.map((r) => (r.ok ? ((r.value as SumResult).sum as number) : undefined)),
    errors: rs.map((r) => (r.ok ? undefined : (r.error as CouplerError))),
  };
}

/** What must hold at p1 and p2: the same sum if both complete, and nobody honest named. */
function expectAgreement(o: { sums: (number | undefined)[]; errors: (CouplerError | undefined)[] }): void {
  if (o.sums[0] !== undefined && o.sums[1] !== undefined) expect(o.sums[0]).toBe(o.sums[1]);
  for (const e of o.errors) if (e !== undefined) expect(e.peers.filter((p) => !['p4', 'p5'].includes(p))).toEqual([]);
}

test('I1 — thresholdSum n = 5, t = 3, coalition {p4, p5}, p3 dropped by timing: partial sums shifted per receiver after committing honestly → COMMITMENT_MISMATCH naming the shifter; no two honest parties accept different sums', async () => {
  const D = 1000;
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const [m, col] = [c.byId.get('p4')!, c.byId.get('p5')!];
    const shifted = (x: bigint) => (send: Send, peer: string, round: string, payload: PlainData): Promise<void> => {
      if (!round.endsWith('/partial') || (peer !== 'p1' && peer !== 'p2')) return send(peer, round, payload);
      const rec = payload as Record<string, PlainData>;
      return send(peer, round, { ...rec, y: shiftedBytes(rec.y as Uint8Array, peer, x) });
    };
    cheat(m, holdingP3(D, shifted(4n)));
    cheat(col, shifted(5n));
    const o = await i1Outcomes(c, D);
    // Before: [1150, 2150].
    expectAgreement(o);
    expect(o.errors.map((e) => e?.code)).toEqual([ErrorCode.COMMITMENT_MISMATCH, ErrorCode.COMMITMENT_MISMATCH]);
    for (const e of o.errors) {
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e!.peers.length).toBe(1);
    }
  } finally {
    await c.close();
  }
}, 30_000);

test('I1 — the same coalition committing to each receiver its own shifted partial sum (a confirmation re-signed per receiver) → EQUIVOCATION naming a colluder, with its two signed confirmations; no two honest parties accept different sums', async () => {
  const D = 1000;
  const c = await createTestGroups(5, { roundTimeoutMs: D });
  try {
    const [m, col] = [c.byId.get('p4')!, c.byId.get('p5')!];
    // The confirmation waits until the partial sum is known (it is sent a moment later than an
    // honest one), then goes out committing to the receiver's shifted partial sum, re-signed.
    const perReceiver = (g: Group, x: bigint) => {
      const held = new Map<string, { round: string; payload: Record<string, PlainData> }>();
      return (send: Send, peer: string, round: string, payload: PlainData): Promise<void> => {
        // (To its colluder at once: two held confirmations would wait for each other.)
        if (round.endsWith('/confirm') && (peer === 'p1' || peer === 'p2')) {
          held.set(peer, { round, payload: payload as Record<string, PlainData> });
          return Promise.resolve();
        }
        if (!round.endsWith('/partial')) return send(peer, round, payload);
        const rec = payload as Record<string, PlainData>;
        const y = peer === 'p1' || peer === 'p2' ? shiftedBytes(rec.y as Uint8Array, peer, x) : (rec.y as Uint8Array);
        const n = new Uint8Array(32).fill(peer.charCodeAt(1));
        const h = [new Uint8Array(createHash('sha256').update(y).digest())];
        const run = runOf(round);
        const commit = _thresholdStatements.partialCommitment(g, run, g.localId, n, h);
        const conf = held.get(peer);
        if (conf === undefined) return send(peer, round, payload);
        const q = conf.payload.q as Uint8Array;
        return send(peer, conf.round, { ...conf.payload, c: commit, sig: signedConfirmation(c, g, run, q, commit) }).then(() => send(peer, round, { ...rec, y, n, h }));
      };
    };
    cheat(m, holdingP3(D, perReceiver(m, 4n)));
    cheat(col, perReceiver(col, 5n));
    const o = await i1Outcomes(c, D);
    expectAgreement(o);
    // p1 and p2 each hold a confirmation of each colluder and see the other's copy forwarded.
    for (const e of o.errors) {
      expect(e).toBeInstanceOf(CheatingDetectedError);
      expect(e!.code).toBe(ErrorCode.EQUIVOCATION);
      expect(e!.peers.length).toBe(1);
      expect((e as CheatingDetectedError).evidence.statements).toHaveLength(2);
    }
  } finally {
    await c.close();
  }
}, 30_000);

/**
 * A TCP proxy on 127.0.0.1 to `target` whose client→server direction can be held: bytes are kept
 * (in order, none lost) while held and passed on when released — a network path that delays one
 * party's traffic (the threat model's network attacker), with nothing in the channel changed.
 */
async function delayingProxy(target: number): Promise<{ port: number; hold(): void; release(): void; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const conns: { held: Buffer[]; to: Socket }[] = [];
  let holding = false;
  const server = createServer((a) => {
    const b = connect(target, '127.0.0.1');
    sockets.push(a, b);
    const c = { held: [] as Buffer[], to: b };
    conns.push(c);
    a.on('data', (d: Buffer) => (holding ? c.held.push(d) : b.write(d)));
    b.on('data', (d: Buffer) => a.write(d));
    for (const s of [a, b]) s.on('error', () => undefined);
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const c of conns) for (const d of c.held.splice(0)) c.to.write(d);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test.each([
  ['a number', 1, 1000],
  // (Long deadlines for the long vector: under a load average above 10 the in-process pieces
  // exchange of 1.5 and 3 s deadlines dropped honest parties for lateness.)
  ['a long vector (pieces)', PIECE_ELEMENTS + 1, 6000],
])('W2b — thresholdSum n = 4, t = 2, %s: a party whose confirmation reaches the others late (its report on time) gets no partial sums; it must not name the honest parties that went on without it (they are done and answer "waiting for nobody")', async (_what, L, D) => {
  const parties = makeParties(4);
  const ports = new Map<string, number>();
  const proxies = new Map<string, Awaited<ReturnType<typeof delayingProxy>>>();
  const at = (party: string, port: number): PeerAddress => ({ host: '127.0.0.1', port, source: 'test', partyHint: party });
  // p1 sorts first, so it dials everyone: through the proxies. The others dial the higher ids directly.
  const sees = (id: string): PeerAddress[] =>
    parties.ids
      .filter((p) => p > id)
      .flatMap((p) => (id === 'p1' ? (proxies.has(p) ? [at(p, proxies.get(p)!.port)] : []) : ports.has(p) ? [at(p, ports.get(p)!)] : []));
  const join = (id: string): Promise<Group> =>
    joinGroup({
      identity: parties.identities.get(id)!,
      roster: parties.roster,
      sessionId: parties.sessionId,
      discovery: { kind: 'test', discover: () => Promise.resolve(sees(id)) },
      listen: { host: '127.0.0.1', port: 0 },
      timeoutMs: 20_000,
      roundTimeoutMs: D,
      discoveryIntervalMs: 20,
      dialBackoff: { initialMs: 20, maxMs: 200 },
      onEvent: (e: GroupEvent) => {
        if (e.type === 'listening') ports.set(id, e.port);
      },
    });
  const others = ['p2', 'p3', 'p4'].map(join);
  while (!['p2', 'p3', 'p4'].every((p) => ports.has(p))) await new Promise((r) => setTimeout(r, 5));
  for (const p of ['p2', 'p3', 'p4']) proxies.set(p, await delayingProxy(ports.get(p)!));
  const groups = [await join('p1'), ...(await Promise.all(others))];
  try {
    const m = groups[3]!;
    // p4 (live) withholds its dealer report from p1 alone: p1 waits for it until its deadline, so
    // its confirmation leaves about one deadline after its report. The path from p1 is held from
    // 0.3 to 2 deadlines after p1's report: p1's confirmation reaches the others after their
    // confirm deadline. Nothing is lost or changed.
    cheat(m, (send, peer, round, payload) => (peer === 'p1' && round.endsWith('/dealers') ? Promise.resolve() : send(peer, round, payload)));
    // The hold is timed from p1's dealer report (p1's own sends are only observed here).
    let reported = false;
    cheat(groups[0]!, (send, peer, round, payload) => {
      if (!reported && round.endsWith('/dealers')) {
        reported = true;
        setTimeout(() => proxies.forEach((x) => x.hold()), 0.3 * D);
        setTimeout(() => proxies.forEach((x) => x.release()), 2 * D);
      }
      return send(peer, round, payload);
    });
    const input = (i: number): number | Float64Array => (L === 1 ? 10 * (i + 1) : new Float64Array(L).fill(10 * (i + 1)));
    const out = await settleAll(groups.map((g, i) => thresholdSum(g, input(i), { t: 2, roundTimeoutMs: D })));
    // The others go on without p1's confirmation (dropout tolerance) and complete over all four dealers.
    for (const i of [1, 2, 3]) {
      expect(out[i]!.ok).toBe(true);
      // (With the long vector p1's last deal pieces may be among what the path held: then the
      // others also dropped it as a dealer, and the sum is the other three's.)
      const { sum, contributors } = (out[i] as { value: SumResult }).value;
      const want = contributors.reduce((a, p) => a + 10 * Number(p.slice(1)), 0);
      expect(L === 1 ? sum : (sum as Float64Array)[L - 1]).toBe(want);
    }
    // p1 cannot complete. Before: TIMEOUT naming p2 and p3 (done, "waiting for nobody").
    const r1 = out[0]!;
    expect(r1.ok).toBe(false);
    const e1 = (r1 as { error: CouplerError }).error;
    expect(e1.peers.filter((p) => p !== 'p4')).toEqual([]);
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all([...proxies.values()].map((x) => x.close()));
  }
}, 90_000);

test('I1, pieces — thresholdSum n = 4, t = 2, a long vector: a publisher whose piece 1 is not the committed one is named (COMMITMENT_MISMATCH) by every honest party', async () => {
  const D = 15_000;
  const c = await createTestGroups(4, { roundTimeoutMs: D });
  try {
    const m = c.byId.get('p4')!;
    cheat(m, (send, peer, round, payload) => {
      if (!round.endsWith('/partial/p1')) return send(peer, round, payload);
      const rec = payload as Record<string, PlainData>;
      const y = Uint8Array.from(rec.y as Uint8Array);
      y[0] = y[0]! ^ 1;
      return send(peer, round, { ...rec, y });
    });
    const L = PIECE_ELEMENTS + 10;
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, new Array<number>(L).fill(i + 1), { t: 2, roundTimeoutMs: D })));
    for (const id of ['p1', 'p2', 'p3']) {
      const r = out[c.ids.indexOf(id)]!;
      expect(r.ok).toBe(false);
      const e = (r as { error: CouplerError }).error;
      expect({ code: e.code, peers: e.peers }).toEqual({ code: ErrorCode.COMMITMENT_MISMATCH, peers: ['p4'] });
    }
  } finally {
    await c.close();
  }
}, 90_000);

test('I1, pruning — a publisher that forwards no counted confirmations is left out of the reconstruction (it did not count the others), and the others complete with the true sum when a quorum remains', async () => {
  const c = await createTestGroups(5, { roundTimeoutMs: 3000 });
  try {
    const m = c.byId.get('p5')!;
    cheat(m, (send, peer, round, payload) => (round.endsWith('/partial') ? send(peer, round, { ...(payload as Record<string, PlainData>), cf: [] }) : send(peer, round, payload)));
    const out = await settleAll(c.groups.map((g, i) => thresholdSum(g, 10 * (i + 1), { t: 2, roundTimeoutMs: 3000 })));
    for (const id of ['p1', 'p2', 'p3', 'p4']) {
      const r = out[c.ids.indexOf(id)]!;
      expect(r.ok).toBe(true);
      // p5 dealt (its input is in the sum); only its point is left out: 4 points remain, m = 4.
      expect((r as { value: SumResult }).value.sum).toBe(150);
    }
  } finally {
    await c.close();
  }
}, 30_000);
