/**
 * secureSum's fused two-round form (src/protocols/additive.ts, `fusedSecureSum`): pairwise masks
 * from the pair's link secret instead of dealt seeds, the commitment in the shape statement, the
 * opening with the shape digest. What the form must keep: both ends of a pair derive the same mask
 * and nobody else can; a secret is never derived twice for one run; a party opens nothing when a
 * statement it received disagrees with its own; parties on different forms (an honest shape
 * mismatch across the fused limit) fail with SHAPE_MISMATCH, not a violation or a timeout.
 */
import { createTestGroups, settleAll, type TestGroups } from '../support/group-harness';
import { secureSum } from '../../src/protocols';
import { FUSED_MAX_ELEMENTS } from '../../src/protocols/additive';
import { PROTOCOL_REVISION } from '../../src/protocols/common';
import { CouplerError, ErrorCode, GroupError } from '../../src/errors';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { ECHO_STATEMENT, echoDigest } from '../../src/group/echo';
import type { Group } from '../../src/group/group';
import { PeerLink } from '../../src/group/link';
import { commitment } from '../../src/group/commit';
import type { SecureChannel } from '../../src/channel/channel';

let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(4, { roundTimeoutMs: 10_000 });
});
afterAll(async () => {
  await h.close();
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('both ends of every pair derive the same secret; it differs per pair, run and purpose; a run is claimed once', () => {
  const [p1, p2, p3] = h.groups;
  const s1 = p1!._pairwiseSeeds('test.1', 'unit');
  const s2 = p2!._pairwiseSeeds('test.1', 'unit');
  const s3 = p3!._pairwiseSeeds('test.1', 'unit');
  expect(hex(s1.get('p2')!)).toBe(hex(s2.get('p1')!));
  expect(hex(s1.get('p3')!)).toBe(hex(s3.get('p1')!));
  expect(hex(s2.get('p3')!)).toBe(hex(s3.get('p2')!));
  const all = [...s1.values(), ...s2.values(), ...s3.values()].map(hex);
  // 3 parties × 3 peers = 9 values, 6 distinct pairs among p1..p4 seen from these three (p4's pairs once).
  expect(new Set(all).size).toBe(6);
  const other = p1!._pairwiseSeeds('test.2', 'unit');
  const otherPurpose = p1!._pairwiseSeeds('test.1', 'another');
  expect(hex(other.get('p2')!)).not.toBe(hex(s1.get('p2')!));
  expect(hex(otherPurpose.get('p2')!)).not.toBe(hex(s1.get('p2')!));
  let e: unknown;
  try {
    p1!._pairwiseSeeds('test.1', 'unit');
  } catch (err) {
    e = err;
  }
  expect(e).toBeInstanceOf(GroupError);
  expect((e as GroupError).code).toBe(ErrorCode.PROTOCOL_VIOLATION);
});

/** Record the round-2 digest messages every party sends (`<run>/shape/d`). */
function recordDigests(): { payload: PlainData; from: string }[] {
  const sent: { payload: PlainData; from: string }[] = [];
  for (const g of h.groups) {
    const sendToAll = g.sendToAll.bind(g);
    g.sendToAll = (round: string, payload: PlainData, to?: readonly string[]) => {
      if (round.endsWith('/shape/d')) sent.push({ payload, from: g.localId });
      return sendToAll(round, payload, to);
    };
  }
  return sent;
}

const hasOpening = (payload: PlainData): boolean => {
  const x = (payload as { x?: Record<string, unknown> }).x;
  return x !== undefined && x.o !== undefined;
};

test('a shape mismatch: every party fails with SHAPE_MISMATCH, and no party opens its masked input', async () => {
  const sent = recordDigests();
  const out = await settleAll(h.groups.map((g, i) => secureSum(g, i === 2 ? [1, 2] : [1])));
  for (const o of out) {
    expect(o.ok).toBe(false);
    expect((o as { error: CouplerError }).error.code).toBe(ErrorCode.SHAPE_MISMATCH);
  }
  // Every party sent its digest (so nobody is named for silence), none with an opening.
  expect(sent.map((s) => s.from).sort()).toEqual(['p1', 'p2', 'p3', 'p4']);
  expect(sent.filter((s) => hasOpening(s.payload))).toEqual([]);
  // The group stays usable, and an agreeing run opens at every party.
  sent.length = 0;
  const ok = await Promise.all(h.groups.map((g, i) => secureSum(g, i)));
  expect(ok.map((r) => r.sum)).toEqual([6, 6, 6, 6]);
  expect(sent.filter((s) => hasOpening(s.payload)).length).toBe(4);
}, 30_000);

test('one party across the fused limit (three-round form) and the others below it: SHAPE_MISMATCH at every party, naming the other side', async () => {
  const long = Float64Array.from({ length: FUSED_MAX_ELEMENTS }, () => 1);
  const short = Float64Array.from({ length: FUSED_MAX_ELEMENTS - 1 }, () => 1);
  const t0 = Date.now();
  const out = await settleAll(h.groups.map((g, i) => secureSum(g, i === 3 ? long : short, { opening: 'broadcast' })));
  expect(Date.now() - t0).toBeLessThan(10_000); // no round deadline ran out
  out.forEach((o, i) => {
    expect(o.ok).toBe(false);
    const e = (o as { error: CouplerError }).error;
    expect(e.code).toBe(ErrorCode.SHAPE_MISMATCH);
    expect(e.peers).toEqual(i === 3 ? ['p1', 'p2', 'p3'] : ['p4']);
  });
  const ok = await Promise.all(h.groups.map((g, i) => secureSum(g, i)));
  expect(ok.map((r) => r.sum)).toEqual([6, 6, 6, 6]);
}, 30_000);

test('progress: agree → open → done (the opening travels with the agreement, so there is no share phase)', async () => {
  const seen = new Map<string, string[]>();
  await Promise.all(h.groups.map((g, i) => secureSum(g, i, { onProgress: (p) => seen.set(g.localId, [...(seen.get(g.localId) ?? []), p.phase]) })));
  for (const g of h.groups) expect(seen.get(g.localId)!.filter((ph, i, a) => i === 0 || a[i - 1] !== ph)).toEqual(['agree', 'open', 'done']);
});

test('the pair secret is HKDF-SHA256 (RFC 5869) of the link secret: the written-out form equals node:crypto hkdfSync, for one salt and after a change of salt', () => {
  const secret = new Uint8Array(randomBytes(32));
  const channel = { transcript: new Uint8Array(32), _exporter: () => Uint8Array.from(secret) } as unknown as SecureChannel;
  const link = new PeerLink('p2', channel, false);
  for (const salt of [randomBytes(32), randomBytes(32)]) {
    for (const len of [0, 5, 64, 300]) {
      const info = randomBytes(len);
      expect(hex(link.pairwiseSeed(salt, info))).toBe(hex(new Uint8Array(hkdfSync('sha256', secret, salt, info, 32))));
    }
  }
  link.dispose();
});

/**
 * Make p3 deviate in secureSum's fused form, consistently (as a real adversary would: its round-2
 * digest covers the statement it actually sent, so the echo check passes): `statement` rewrites
 * its echoed statement (validly re-signed with p3's roster key, the same to every peer),
 * `opening` its round-2 attachment.
 */
function deviate(g: Group, change: { statement?: (st: Record<string, PlainData>, round: string) => void; opening?: (x: Record<string, PlainData>, round: string) => void }): () => void {
  const { sendToAll, gather } = { sendToAll: g.sendToAll.bind(g), gather: g.gather.bind(g) };
  const sha = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
  const sign = (body: Record<string, PlainData>): Uint8Array => ed25519Sign(encodeMessage(body), g.identity.secretKey);
  let sent: { h: Uint8Array; sig: Uint8Array } | undefined;
  let received = new Map<string, PlainData>();
  g.gather = async (round: string, options?: Parameters<Group['gather']>[1]) => {
    const got = await gather(round, options);
    if (round.endsWith('/shape/v')) received = got;
    return got;
  };
  g.sendToAll = (round: string, payload: PlainData, to?: readonly string[]) => {
    const msg = payload as Record<string, PlainData>;
    const r = round.slice(0, -2);
    if (round.endsWith('/shape/v') && change.statement) {
      const st = decodeMessage(msg.v as Uint8Array, 1 << 20) as Record<string, PlainData>;
      change.statement(st, r);
      const v = encodeMessage(st);
      const h = sha(v);
      sent = { h, sig: sign({ t: ECHO_STATEMENT.broadcast, s: g.sessionId, e: g.epoch, r, from: g.localId, h }) };
      return sendToAll(round, { v, sig: sent.sig }, to);
    }
    if (round.endsWith('/shape/d')) {
      const out = { ...msg };
      if (sent !== undefined) {
        const view = g.parties.map((p) => (p === g.localId ? { from: p, ...sent! } : { from: p, h: sha((received.get(p) as { v: Uint8Array }).v), sig: (received.get(p) as { sig: Uint8Array }).sig }));
        out.d = echoDigest(g.sessionId, g.epoch, r, view);
        out.sig = sign({ t: ECHO_STATEMENT.digest, s: g.sessionId, e: g.epoch, r, from: g.localId, d: out.d });
      }
      if (change.opening && out.x !== undefined) change.opening(out.x as Record<string, PlainData>, r);
      return sendToAll(round, out, to);
    }
    return sendToAll(round, payload, to);
  };
  return () => {
    g.sendToAll = sendToAll;
    g.gather = gather;
  };
}

describe('what a party sends in the fused form, and what it may send instead: typed errors naming it, never a sum', () => {
  const cases: [string, Parameters<typeof deviate>[1], string][] = [
    ['a statement without the commitment (the same shape)', { statement: (st) => void delete st.t }, ErrorCode.PROTOCOL_VIOLATION],
    ['a commitment of the wrong size', { statement: (st) => void (st.t = new Uint8Array(1000)) }, ErrorCode.FRAME_MALFORMED],
    ['no opening although every statement agreed', { opening: (x) => void delete x.o }, ErrorCode.PROTOCOL_VIOLATION],
    ['an opening of another value', { opening: (x) => void ((x.o as Record<string, PlainData>).v = new Uint8Array(8)) }, ErrorCode.COMMITMENT_MISMATCH],
    ['a huge opening (1 MiB, not the committed one)', { opening: (x) => void ((x.o as Record<string, PlainData>).v = new Uint8Array(1 << 20)) }, ErrorCode.COMMITMENT_MISMATCH],
  ];
  test.each(cases)('%s', async (_what, change, code) => {
    const restore = deviate(h.groups[2]!, change);
    try {
      const out = await settleAll(h.groups.map((g, i) => secureSum(g, i, { roundTimeoutMs: 5_000 })));
      for (const i of [0, 1, 3]) {
        expect(out[i]!.ok).toBe(false);
        const e = (out[i] as { error: CouplerError }).error;
        expect(e.code).toBe(code);
        expect(e.peers).toEqual(['p3']);
      }
    } finally {
      restore();
    }
    // The group stays usable.
    const ok = await Promise.all(h.groups.map((g, i) => secureSum(g, i)));
    expect(ok.map((r) => r.sum)).toEqual([6, 6, 6, 6]);
  }, 30_000);
});

test('a party of another release (other protocol revision in its parameters, a field this release does not know): SHAPE_MISMATCH, not a malformed statement naming it', async () => {
  // Before, the statement was parsed strictly first: FRAME_MALFORMED naming p3 (review finding:
  // two releases named each other instead of reporting a mismatch). p3's own side is not what a
  // real other release would do (it still believes its old parameters), so only the others count.
  const restore = deviate(h.groups[2]!, {
    statement: (st) => {
      st.params = JSON.stringify({ ...(JSON.parse(st.params as string) as Record<string, unknown>), rev: PROTOCOL_REVISION + 1 });
      st.later = 'a field of a later release';
    },
  });
  try {
    const out = await settleAll(h.groups.map((g, i) => secureSum(g, i, { roundTimeoutMs: 5_000 })));
    for (const i of [0, 1, 3]) {
      const e = (out[i] as { error: CouplerError }).error;
      expect(e.code).toBe(ErrorCode.SHAPE_MISMATCH);
      expect(e.peers).toEqual(['p3']);
      expect(e.message).toContain(`protocol revision is ${PROTOCOL_REVISION} here and ${PROTOCOL_REVISION + 1} at party "p3"`);
    }
  } finally {
    restore();
  }
  const ok = await Promise.all(h.groups.map((g, i) => secureSum(g, i)));
  expect(ok.map((r) => r.sum)).toEqual([6, 6, 6, 6]);
}, 30_000);

test('a committed opening of the wrong length (p3 commits to 16 bytes at L = 1 and opens them): every honest party fails naming p3 and its run ends as failed (progress and abort notice), not left open', async () => {
  const g3 = h.groups[2]!;
  const v = new Uint8Array(randomBytes(16));
  const n = new Uint8Array(randomBytes(32));
  const restore = deviate(g3, {
    statement: (st, round) => void (st.t = commitment(g3.sessionId, g3.epoch, `${round.slice(0, -'/shape'.length)}/partial`, g3.localId, n, v)),
    opening: (x) => void (x.o = { v, n }),
  });
  const last = new Map<string, string>();
  try {
    const out = await settleAll(h.groups.map((g, i) => secureSum(g, i, { roundTimeoutMs: 5_000, onProgress: (p) => last.set(g.localId, p.phase) })));
    for (const i of [0, 1, 3]) {
      expect(out[i]!.ok).toBe(false);
      const e = (out[i] as { error: CouplerError }).error;
      expect(e.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
      expect(e.peers).toEqual(['p3']);
      // The run ended: its last report says so (before the fix it stayed 'open', its timer running).
      expect(last.get(h.groups[i]!.localId)).toBe('failed');
    }
  } finally {
    restore();
  }
  const ok = await Promise.all(h.groups.map((g, i) => secureSum(g, i)));
  expect(ok.map((r) => r.sum)).toEqual([6, 6, 6, 6]);
}, 30_000);

describe('a wiped pair secret is never used', () => {
  /** HMAC-SHA256 under an all-zero key of info ‖ 0x01: what a wiped extracted key gives — no secret in it. */
  const publicMask = (info: Uint8Array): string => hex(new Uint8Array(createHmac('sha256', Buffer.alloc(32)).update(info).update(Uint8Array.of(1)).digest()));

  test('a disposed link (its group closed) refuses to derive instead of deriving from zeros', () => {
    const channel = { transcript: new Uint8Array(32), _exporter: () => new Uint8Array(randomBytes(32)) } as unknown as SecureChannel;
    const link = new PeerLink('p2', channel, false);
    const salt = randomBytes(32);
    const info = randomBytes(40);
    link.pairwiseSeed(salt, info); // extracts and caches the key for this salt
    link.dispose();
    let got: string | undefined;
    let e: unknown;
    try {
      got = hex(link.pairwiseSeed(salt, info));
    } catch (err) {
      e = err;
    }
    expect(got === undefined ? undefined : got === publicMask(info)).toBeUndefined();
    expect(e).toBeInstanceOf(GroupError);
  });

  test('a link made on a channel that had already closed (all-zero exporter) refuses to derive', () => {
    const channel = { transcript: new Uint8Array(32), _exporter: () => new Uint8Array(32) } as unknown as SecureChannel;
    const link = new PeerLink('p2', channel, false);
    expect(() => link.pairwiseSeed(randomBytes(32), randomBytes(8))).toThrow(GroupError);
    link.dispose();
  });

  test('a group that is closing: a run started now gets no mask anyone could compute (the links are disposed, not yet down)', async () => {
    const g2 = await createTestGroups(2, { roundTimeoutMs: 5_000 });
    const [a] = g2.groups;
    a!._pairwiseSeeds('sum.98', 'secureSum mask'); // a run before: the link's extracted key is cached
    const closing = g2.close(); // synchronously up to its first await: links disposed, channels still closing
    let seeds: Map<string, Uint8Array> | undefined;
    let e: unknown;
    try {
      seeds = a!._pairwiseSeeds('sum.99', 'secureSum mask');
    } catch (err) {
      e = err;
    }
    await closing;
    if (seeds !== undefined) {
      const info = encodeMessage(['coupler/1 pairwise', 'secureSum mask', a!.sessionId, 'sum.99', 'p1', 'p2']);
      // Neither the all-zero extracted key nor an all-zero link secret under the epoch (which every member knows).
      expect(hex(seeds.get('p2')!)).not.toBe(publicMask(info));
      expect(hex(seeds.get('p2')!)).not.toBe(hex(new Uint8Array(hkdfSync('sha256', new Uint8Array(32), a!.epoch, info, 32))));
    } else {
      expect(e).toBeInstanceOf(CouplerError);
    }
  });
});
