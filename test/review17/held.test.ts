/**
 * review17: attacks on the echo and commit-then-open that HELD (so later reviews need not repeat
 * them). Real groups over real channels on 127.0.0.1; the cheater speaks the group API with its own
 * roster key.
 *
 * 1. Replay across runs of one formation (same session, same epoch): a cheater keeps an honest
 *    party's signed round-1 statement of an earlier echo round and presents it in its fallback list
 *    of a later round as that party's "second" statement. The statement binds the round name, so it
 *    does not verify there: the forwarder is named, never the signer. (Across formations the epoch
 *    does the same: test/group/echo.test.ts.)
 * 2. Copying a commitment (rushing both rounds): the cheater waits for an honest party's commitment,
 *    echoes it as its own, waits for that party's opening and attaches it as its own. The commitment
 *    binds the committer's id: the opening does not open it for the cheater, who is named
 *    COMMITMENT_MISMATCH; the honest party is not.
 */
import { createHash } from 'node:crypto';
import { partiesWith, join, closeAll, sha256 } from './support';
import { settleAll } from '../support/group-harness';
import { echoBroadcast, echoDigest, ECHO_STATEMENT } from '../../src/group/echo';
import { commitThenOpen } from '../../src/group/commit';
import { ed25519Sign } from '../../src/crypto/ed25519';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire/codec';
import { CheatingDetectedError, CouplerError, ErrorCode } from '../../src/errors';
import type { Group } from '../../src/group/group';

jest.setTimeout(60_000);
afterEach(closeAll);

type Entry = { from: string; h: Uint8Array; sig: Uint8Array };
const broadcastStatement = (g: Group, r: string, h: Uint8Array): Uint8Array => encodeMessage({ t: ECHO_STATEMENT.broadcast, s: g.sessionId, e: g.epoch, r, from: g.localId, h });
const digestStatement = (g: Group, r: string, d: Uint8Array): Uint8Array => encodeMessage({ t: ECHO_STATEMENT.digest, s: g.sessionId, e: g.epoch, r, from: g.localId, d });

test('a statement of an earlier round of the same formation, replayed in a fallback list, names the forwarder, not its signer', async () => {
  const p = partiesWith(['h1', 'h2', 'h3', 'h4']);
  const gs = await join(p, 2000);
  const [victim, framed, , m] = gs as [Group, Group, Group, Group];
  // Run 1: all honest; the cheater keeps what h2 sent it.
  let kept: { v: Uint8Array; sig: Uint8Array } | undefined;
  const gatherOrig = m.gather.bind(m);
  m.gather = async (round, options) => {
    const got = await gatherOrig(round, options);
    if (round === 'x.1/e/v') kept = got.get(framed.localId) as { v: Uint8Array; sig: Uint8Array };
    return got;
  };
  await Promise.all(gs.map((g) => echoBroadcast(g, 'x.1/e', { run: 1, from: g.localId })));
  expect(kept).toBeDefined();
  m.gather = gatherOrig;

  // Run 2: the cheater sends a value like everyone, then to the victim a digest of a view in which
  // h2's entry is the kept run-1 statement, and backs it with that list.
  const round = 'x.2/e';
  const sk = m.identity.secretKey;
  const cheater = (async () => {
    const v = encodeMessage({ run: 2, from: m.localId } as PlainData);
    const mine: Entry = { from: m.localId, h: sha256(v), sig: ed25519Sign(broadcastStatement(m, round, sha256(v)), sk) };
    await m.sendToAll(`${round}/v`, { v, sig: mine.sig });
    const got = await m.gather(`${round}/v`);
    const truth: Entry[] = m.parties.map((q) => (q === m.localId ? mine : { from: q, h: sha256((got.get(q) as { v: Uint8Array }).v), sig: (got.get(q) as { sig: Uint8Array }).sig }));
    const forged = truth.map((e) => (e.from === framed.localId ? { from: e.from, h: sha256(kept!.v), sig: kept!.sig } : e));
    for (const q of m.peers) {
      const view = q === victim.localId ? forged : truth;
      const d = echoDigest(m.sessionId, m.epoch, round, view);
      await m.send(q, `${round}/d`, { d, sig: ed25519Sign(digestStatement(m, round, d), sk) });
    }
    await m.gatherSome(`${round}/d`, 0, { timeoutMs: 1500 });
    const stmt = encodeMessage({ t: ECHO_STATEMENT.list, s: m.sessionId, e: m.epoch, r: round, from: m.localId, list: forged });
    await m.send(victim.localId, `${round}/f`, { stmt, sig: ed25519Sign(stmt, sk) });
  })();
  const [results] = await Promise.all([settleAll(gs.slice(0, 3).map((g) => echoBroadcast(g, round, { run: 2, from: g.localId }))), cheater]);
  const e = (results[0] as { error: unknown }).error as CheatingDetectedError;
  expect(e).toBeInstanceOf(CheatingDetectedError);
  expect(e.peers).toEqual([m.localId]);
  expect(e.message).toContain('never signed');
  for (const bytes of e.evidence.statements) expect((decodeMessage(bytes, 1 << 16) as { signer: string }).signer).toBe(m.localId);
  // The others complete with the same values.
  expect(results[1]!.ok && results[2]!.ok).toBe(true);
});

test('a cheater that copies an honest commitment and its opening is named COMMITMENT_MISMATCH; the copied party is not', async () => {
  const p = partiesWith(['c1', 'c2', 'c3', 'c4']);
  const gs = await join(p, 3000);
  const m = gs[3]!;
  const copied = gs[0]!;
  const base = 'co.1';
  const round = `${base}/c`;
  const sk = m.identity.secretKey;
  const cheater = (async () => {
    // Rushing round 1: the others' commitments first, then c1's as its own.
    const got = await m.gather(`${round}/v`);
    const v = (got.get(copied.localId) as { v: Uint8Array }).v;
    const mine: Entry = { from: m.localId, h: sha256(v), sig: ed25519Sign(broadcastStatement(m, round, sha256(v)), sk) };
    await m.sendToAll(`${round}/v`, { v, sig: mine.sig });
    // Rushing round 2: c1's digest and opening first, then the same opening as its own.
    const opening = ((await m.receive(copied.localId, `${round}/d`)) as { x: PlainData }).x;
    const view: Entry[] = m.parties.map((q) => (q === m.localId ? mine : { from: q, h: sha256((got.get(q) as { v: Uint8Array }).v), sig: (got.get(q) as { sig: Uint8Array }).sig }));
    const d = echoDigest(m.sessionId, m.epoch, round, view);
    await m.sendToAll(`${round}/d`, { d, sig: ed25519Sign(digestStatement(m, round, d), sk), x: opening });
  })();
  const [results] = await Promise.all([settleAll(gs.slice(0, 3).map((g) => commitThenOpen(g, base, new Uint8Array(createHash('sha256').update(g.localId).digest())))), cheater]);
  for (const r of results) {
    const e = (r as { error: unknown }).error as CouplerError;
    expect(e).toBeInstanceOf(CheatingDetectedError);
    expect(e.code).toBe(ErrorCode.COMMITMENT_MISMATCH);
    expect(e.peers).toEqual([m.localId]);
  }
});
