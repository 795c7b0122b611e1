/**
 * The epoch of a group formation (src/group/epoch.ts), parties over real channels in this process:
 *
 * - every party of a formation holds the same fresh 32-byte epoch; a new formation with the same
 *   session id gets another one;
 * - a failed agreement fails joinGroup, and the peers learn who stopped (an abort naming it);
 * - blame on a mismatch is exact: a second agreement (its own round name) on formed groups, with
 *   one party deviating through the group API: a party misreporting the victim's own contribution,
 *   or sending a list that contradicts its digest, is named; a party that sends different
 *   contributions to different parties makes the honest parties abort naming NOBODY, the undecidable
 *   pairs in `suspects` (an honest reporter cannot be told from the equivocator without signatures);
 *   a party silent in the fallback is named by a timeout.
 *
 * The replay across formations that the epoch prevents is tested in echo.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { AddressBook, joinLocal, makeParties, settleAll } from '../support/group-harness';
import { joinGroup, type Group } from '../../src/group/group';
import { agreeEpoch, epochDigest, EPOCH_BYTES } from '../../src/group/epoch';
import { CheatingDetectedError, CouplerError, ErrorCode, TimeoutError } from '../../src/errors';

jest.setTimeout(30_000);

const open: Group[][] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).flat().map((g) => g.close()));
});

async function formed(n: number, roundTimeoutMs = 5000): Promise<Group[]> {
  const p = makeParties(n);
  const gs = await joinLocal(p, p.ids, new AddressBook(), { roundTimeoutMs });
  open.push(gs);
  return gs;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('every party of a formation holds the same 32-byte epoch; a new formation with the same session id gets a fresh one', async () => {
  const p = makeParties(4);
  const first = await joinLocal(p, p.ids, new AddressBook());
  open.push(first);
  const e1 = first.map((g) => hex(g.epoch));
  expect(new Set(e1).size).toBe(1);
  expect(first[0]!.epoch).toHaveLength(EPOCH_BYTES);
  await Promise.all(open.splice(0).flat().map((g) => g.close()));
  const second = await joinLocal(p, p.ids, new AddressBook());
  open.push(second);
  const e2 = second.map((g) => hex(g.epoch));
  expect(new Set(e2).size).toBe(1);
  expect(e2[0]).not.toBe(e1[0]);
  // The group hands out copies: a caller cannot change the epoch its statements are bound to.
  second[0]!.epoch.fill(0);
  expect(hex(second[0]!.epoch)).toBe(e2[0]);
});

test('a party that stops right after its mesh is complete: joinGroup fails at the others, naming it', async () => {
  const p = makeParties(4);
  const book = new AddressBook();
  const stopper = new AbortController();
  let quitter: Promise<unknown> | undefined;
  const joins = joinLocal(p, ['p1', 'p2', 'p4'], book, {
    onListening: () => {
      quitter = joinGroup({
        identity: p.identities.get('p3')!,
        roster: p.roster,
        sessionId: p.sessionId,
        discovery: book.discoveryFor('p3'),
        listen: { host: '127.0.0.1', port: 0 },
        timeoutMs: 20_000,
        discoveryIntervalMs: 20,
        dialBackoff: { initialMs: 20, maxMs: 200 },
        signal: stopper.signal,
        onEvent: (e) => {
          if (e.type === 'listening') book.add('p3', e.port);
          if (e.type === 'connected' && e.connected === e.expected) stopper.abort();
        },
      }).catch((err: unknown) => err);
    },
  });
  const err = await joins.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CouplerError);
  expect((err as CouplerError).peers).toEqual(['p3']);
  expect((err as CouplerError).code).toBe(ErrorCode.PEER_ABORTED);
  expect(await quitter).toMatchObject({ code: ErrorCode.ABORTED });
});

/** Deviations of one party in a second epoch agreement on round `round`. */
interface Deviation {
  /** The contribution sent to `peer` (default: one for everyone). */
  contribution?: (peer: string, own: Uint8Array) => Uint8Array;
  /** The view whose digest (and list) it reports to `peer` (default: its true view of `peer`). */
  claimed?: (peer: string, view: Map<string, Uint8Array>) => Map<string, Uint8Array>;
  /** The digest sent to `peer` (default: the digest of the claimed view). */
  digest?: (peer: string, honest: Uint8Array) => Uint8Array;
  /** Whether it answers the fallback (default true). */
  answer?: boolean;
}

async function deviantEpoch(g: Group, round: string, dev: Deviation): Promise<void> {
  const own = new Uint8Array(randomBytes(32));
  const sent = new Map(g.peers.map((q) => [q, dev.contribution ? dev.contribution(q, own) : own]));
  await Promise.all(g.peers.map((q) => g.send(q, `${round}/r`, sent.get(q)!)));
  const got = await g.gather(`${round}/r`);
  // What `peer` would hold if everyone else were honest: this party's entry as sent to it.
  const viewOf = (q: string): Map<string, Uint8Array> => new Map(g.parties.map((x) => [x, x === g.localId ? sent.get(q)! : (got.get(x) as Uint8Array)]));
  const claimedOf = (q: string): Map<string, Uint8Array> => (dev.claimed ? dev.claimed(q, viewOf(q)) : viewOf(q));
  const digestOf = (view: Map<string, Uint8Array>): Uint8Array => epochDigest(g.sessionId, g.parties.map((x) => [x, view.get(x)!] as const));
  await Promise.all(
    g.peers.map((q) => {
      const honest = digestOf(claimedOf(q));
      return g.send(q, `${round}/h`, dev.digest ? dev.digest(q, honest) : honest);
    }),
  );
  await g.gatherSome(`${round}/h`, 0, { timeoutMs: 2000 });
  if (dev.answer === false) return;
  // Answer every peer (an honest party answers only those whose digest differs; extra lists are
  // never read).
  await Promise.all(g.peers.map((q) => g.send(q, `${round}/l`, g.parties.map((x) => claimedOf(q).get(x)!)).catch(() => undefined)));
}

async function withDeviant(gs: Group[], bad: string, dev: Deviation) {
  const round = 'test:epoch';
  const honest = gs.filter((g) => g.localId !== bad);
  const [results] = await Promise.all([settleAll(honest.map((g) => agreeEpoch(g, { round }))), deviantEpoch(gs.find((g) => g.localId === bad)!, round, dev)]);
  return new Map(honest.map((g, i) => [g.localId, results[i]!]));
}

function errorOf(r: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined): CouplerError {
  expect(r?.ok).toBe(false);
  const e = (r as { error: unknown }).error;
  expect(e).toBeInstanceOf(CouplerError);
  return e as CouplerError;
}

test('a party that misreports the victim’s own contribution is named by the victim; the others agree', async () => {
  const gs = await formed(4);
  const out = await withDeviant(gs, 'p3', {
    claimed: (q, view) => (q === 'p1' ? new Map([...view, ['p1', new Uint8Array(32).fill(1)]]) : view),
  });
  const e = errorOf(out.get('p1'));
  expect(e).toBeInstanceOf(CheatingDetectedError);
  expect(e.code).toBe(ErrorCode.EQUIVOCATION);
  expect(e.peers).toEqual(['p3']);
  expect(e.suspects).toEqual([]);
  expect(e.message).toContain("misreported this party's own contribution");
  const agreed = ['p2', 'p4'].map((id) => out.get(id)!);
  for (const r of agreed) expect(r.ok).toBe(true);
  expect(hex((agreed[0] as { value: Uint8Array }).value)).toBe(hex((agreed[1] as { value: Uint8Array }).value));
});

test('a list that does not match the sender’s digest names the sender', async () => {
  const gs = await formed(4);
  const out = await withDeviant(gs, 'p4', { digest: (q, d) => (q === 'p2' ? new Uint8Array(randomBytes(32)) : d) });
  const e = errorOf(out.get('p2'));
  expect(e.peers).toEqual(['p4']);
  expect(e.message).toContain('does not match the digest');
  for (const id of ['p1', 'p3']) expect(out.get(id)!.ok).toBe(true);
});

test('a party sending different contributions to different parties: the honest parties abort naming nobody, the undecidable pairs in `suspects`', async () => {
  // p2 sends p1 one contribution and p3, p4 another, and tells each the digest it expects. p1 sees
  // p3's report of p2's contribution differ from what p2 sent it: p2 equivocated, or p3 lies. No
  // verdict is possible without signatures, so nobody is named — least of all p3 or p4.
  const gs = await formed(4);
  const other = new Uint8Array(randomBytes(32));
  const out = await withDeviant(gs, 'p2', { contribution: (q, own) => (q === 'p1' ? own : other) });
  const at = (id: string): CouplerError => errorOf(out.get(id));
  for (const id of ['p1', 'p3', 'p4']) {
    const e = at(id);
    expect(e).toBeInstanceOf(CheatingDetectedError);
    expect(e.code).toBe(ErrorCode.EQUIVOCATION);
    expect(e.peers).toEqual([]);
    expect(e.suspects).toContain('p2');
    expect(e.message).toContain('nobody is named');
  }
  expect(at('p1').suspects).toEqual(['p2', 'p3', 'p4']);
  expect(at('p3').suspects).toEqual(['p1', 'p2']);
  expect(at('p4').suspects).toEqual(['p1', 'p2']);
});

test('a mismatching party that sends no list is named by a timeout, within the deadline', async () => {
  const gs = await formed(4, 1500);
  const t0 = Date.now();
  const out = await withDeviant(gs, 'p4', { digest: (q, d) => (q === 'p1' ? new Uint8Array(32) : d), answer: false });
  const e = errorOf(out.get('p1'));
  expect(e).toBeInstanceOf(TimeoutError);
  expect(e.peers).toEqual(['p4']);
  expect(e.message).toContain('test:epoch/l');
  expect(Date.now() - t0).toBeLessThan(1500 + 5000);
});

test('a malformed contribution names its sender', async () => {
  const gs = await formed(3, 1500);
  const out = await withDeviant(gs, 'p3', { contribution: (q, own) => (q === 'p1' ? own.subarray(0, 31) : own), answer: false });
  const e = errorOf(out.get('p1'));
  expect(e.code).toBe(ErrorCode.FRAME_MALFORMED);
  expect(e.peers).toEqual(['p3']);
});
