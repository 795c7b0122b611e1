/**
 * A party that stops on purpose says why. Before, the others saw "closed its channel" and then
 * PEER_LOST — a party refusing its own input looked like a normal shutdown. Now an authenticated
 * abort message carrying only the error code comes first, and every other party reports
 * PEER_ABORTED naming the party and its code, at once. In-process parties, real channels.
 */
import { createTestGroups, makeParties, AddressBook, joinLocal } from '../support/group-harness';
import { secureSum } from '../../src/protocols';
import { CouplerError, ErrorCode } from '../../src/errors';
import { encodeMessage, type PlainData } from '../../src/wire/codec';
import { abortNoticeFor, relayCaused } from '../../src/group/inbound';

test('a party refuses its own input (NaN) and closes its group: the others fail with PEER_ABORTED naming it and VALUE_INVALID, before their deadline', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 20_000 });
  try {
    const [p1, p2, p3] = h.groups;
    const t0 = Date.now();
    const refusing = secureSum(p2!, Number.NaN).finally(() => p2!.close());
    const others = [secureSum(p1!, 1), secureSum(p3!, 3)].map((p) => p.then(() => undefined, (e: unknown) => e as CouplerError));
    await expect(refusing).rejects.toMatchObject({ code: ErrorCode.VALUE_INVALID });
    for (const e of await Promise.all(others)) {
      expect(e).toBeInstanceOf(CouplerError);
      expect(e!.code).toBe(ErrorCode.PEER_ABORTED);
      expect(e!.peers).toEqual(['p2']);
      expect(e!.message).toContain('COUPLER_ERR_VALUE_INVALID');
    }
    expect(Date.now() - t0).toBeLessThan(10_000); // not the 20 s round deadline
  } finally {
    await h.close();
  }
}, 40_000);

test('a refused input leaves the group in step if the party carries on: nothing is sent until it closes', async () => {
  const h = await createTestGroups(3, { roundTimeoutMs: 5_000 });
  try {
    await expect(secureSum(h.groups[0]!, Number.NaN)).rejects.toMatchObject({ code: ErrorCode.VALUE_INVALID });
    const out = await Promise.all(h.groups.map((g, i) => secureSum(g, i + 1)));
    for (const r of out) expect(r.sum).toBe(6);
  } finally {
    await h.close();
  }
}, 40_000);

test('the caller’s signal after joining (SIGTERM in `coupler run`) aborts the group: the others get PEER_ABORTED with COUPLER_ERR_ABORTED', async () => {
  const parties = makeParties(3);
  const stop = new AbortController();
  const book = new AddressBook();
  const groups = await joinLocal(parties, parties.ids, book, { roundTimeoutMs: 20_000, signalFor: (id: string) => (id === 'p3' ? stop.signal : undefined) });
  try {
    const waiting = groups[0]!.receive('p3', 'never.1/x').then(() => undefined, (e: unknown) => e as CouplerError);
    stop.abort();
    const e = await waiting;
    expect(e!.code).toBe(ErrorCode.PEER_ABORTED);
    expect(e!.peers).toEqual(['p3']);
    expect(e!.message).toContain('COUPLER_ERR_ABORTED');
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}, 40_000);

test('a hostile abort message (not an error code, or extra fields) is a protocol violation naming the sender, not an abort', async () => {
  for (const p of [{ code: 'rm -rf /' }, { code: 'COUPLER_ERR_X', why: 'data' }, null] as PlainData[]) {
    const h = await createTestGroups(2, { roundTimeoutMs: 5_000 });
    try {
      const [a, b] = h.groups;
      await b!._sendRaw('p1', encodeMessage({ r: 'coupler abort', p }));
      const e = (await a!.receive('p2', 'never.1/x').catch((err: unknown) => err)) as CouplerError;
      expect(e.code).toBe(ErrorCode.FRAME_MALFORMED);
      expect(e.peers).toEqual(['p2']);
    } finally {
      await h.close();
    }
  }
}, 40_000);

test('a notice saying the relay stopped the sender names nobody, and blames nobody either; a non-boolean "relay" is a violation', async () => {
  // Before: the field did not exist (an unknown field: FRAME_MALFORMED naming p2), and a relay
  // failure at one party (a RelayOpeningError, peers empty) went out as a notice blaming nobody,
  // which the others read as "my own doing" and named that honest party.
  const h = await createTestGroups(2, { roundTimeoutMs: 5_000 });
  try {
    const [a, b] = h.groups;
    await b!._sendRaw('p1', encodeMessage({ r: 'coupler abort', p: { code: ErrorCode.TIMEOUT, blame: ['p1'], relay: true } }));
    const e = (await a!.receive('p2', 'never.1/x').catch((err: unknown) => err)) as CouplerError;
    expect(e.code).toBe(ErrorCode.PEER_ABORTED);
    expect(e.peers).toEqual([]);
    expect(e.message).toMatch(/because of the relay/);
  } finally {
    await h.close();
  }
  const h2 = await createTestGroups(2, { roundTimeoutMs: 5_000 });
  try {
    const [a, b] = h2.groups;
    await b!._sendRaw('p1', encodeMessage({ r: 'coupler abort', p: { code: ErrorCode.TIMEOUT, blame: [], relay: 'yes' } }));
    const e = (await a!.receive('p2', 'never.1/x').catch((err: unknown) => err)) as CouplerError;
    expect(e.code).toBe(ErrorCode.PROTOCOL_VIOLATION);
    expect(e.peers).toEqual(['p2']);
  } finally {
    await h2.close();
  }
}, 40_000);

test('relayCaused / abortNoticeFor: the relay lost, refusing, or named by a relayed-opening error (its URL, no party) — never an error naming a party', () => {
  const relayed = Object.assign(new CouplerError(ErrorCode.TIMEOUT, 'the relay did not answer'), { relayUrl: 'ws://127.0.0.1:1' });
  const relayedNamingParty = Object.assign(new CouplerError(ErrorCode.TAMPERING_DETECTED, 'p2 signed a wrong chunk', { peers: ['p2'] }), { relayUrl: 'ws://127.0.0.1:1' });
  expect(relayCaused(new CouplerError(ErrorCode.RELAY_LOST, 'x'))).toBe(true);
  expect(relayCaused(new CouplerError(ErrorCode.RELAY_REFUSED, 'x'))).toBe(true);
  expect(relayCaused(relayed)).toBe(true);
  expect(relayCaused(relayedNamingParty)).toBe(false);
  expect(relayCaused(new CouplerError(ErrorCode.TIMEOUT, 'x', { peers: ['p3'] }))).toBe(false);
  expect(relayCaused(new Error('x'))).toBe(false);
  expect(abortNoticeFor(relayed, 'p1', 'r.1')).toEqual({ code: ErrorCode.TIMEOUT, blame: [], run: 'r.1', relay: true });
  expect(abortNoticeFor(relayedNamingParty, 'p1')).toEqual({ code: ErrorCode.TAMPERING_DETECTED, blame: ['p2'] });
});
