/**
 * The handshake over real sockets: success under both suites, and every refusal with its typed
 * error on both sides (class, code, and the peer where it is known).
 */
import WebSocket from 'ws';
import { CouplerError, ErrorCode, HandshakeError } from '../../src/errors';
import { generateIdentity, type Identity } from '../../src/identity';
import { SUITES, connectChannel } from '../../src/channel';
import { decodeMessage } from '../../src/wire';
import { Initiator, MAX_HANDSHAKE_MESSAGE } from '../../src/channel/handshake';
import { startProxy, flipBit } from '../support/proxy';
import { Cleanup, HOST, SESSION, closedCode, connect, expectCoupler, listen, nextMessage, parties, rawClient, rawServer, rosterOf } from './_helpers';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const refuseReason = (err: unknown): unknown => (err as { refuseReason?: unknown }).refuseReason;
const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
/** Listener deadlines far beyond a test's run: a connection closed in the test was evicted. */
const NO_DEADLINES = { handshakeTimeoutMs: 60_000, firstMessageTimeoutMs: 60_000, finishTimeoutMs: 60_000 };

describe.each(SUITES)('success (%s)', (suite) => {
  it('authenticates both sides, agrees on the transcript, and carries messages both ways', async () => {
    const { ids, roster } = parties('a', 'b', 'c');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, suite });
    const client = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION, suite, expectedPeer: 'b' });
    const server = await l.channels.next();
    expect(client.peerId).toBe('b');
    expect(server.peerId).toBe('a');
    expect(client.localId).toBe('a');
    expect(client.initiator).toBe(true);
    expect(server.initiator).toBe(false);
    expect(client.sessionId).toBe(SESSION);
    expect(Buffer.from(client.transcript).equals(Buffer.from(server.transcript))).toBe(true);
    await client.send(text('ping'));
    expect(Buffer.from(await server.receive()).toString()).toBe('ping');
    await server.send(text('pong'));
    expect(Buffer.from(await client.receive()).toString()).toBe('pong');
    expect(l.errors.items).toEqual([]);
  });

  it('each channel has a fresh transcript (same parties, same session)', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, suite });
    const c1 = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION, suite });
    const c2 = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION, suite });
    expect(Buffer.from(c1.transcript).equals(Buffer.from(c2.transcript))).toBe(false);
  });
});

describe('refusals', () => {
  it('unknown initiator: PEER_UNKNOWN on both sides', async () => {
    const { ids, roster } = parties('a', 'b');
    const c = generateIdentity('c');
    const rosterC = rosterOf({ b: ids.b!, c }); // c believes it belongs; b's roster has no c
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: c, roster: rosterC, sessionId: SESSION, expectedPeer: 'b' }),
      HandshakeError,
      ErrorCode.PEER_UNKNOWN,
    );
    expect(err.peer).toBe('b');
    expect(refuseReason(err)).toBe('unknown-peer');
    const serverErr = await l.errors.next();
    expect(serverErr).toBeInstanceOf(HandshakeError);
    expect(serverErr.code).toBe(ErrorCode.PEER_UNKNOWN);
    expect(serverErr.peer).toBe('c');
  });

  it('unknown responder: PEER_UNKNOWN on both sides', async () => {
    const { ids, roster } = parties('a', 'b');
    const c = generateIdentity('c');
    const l = await listen(cleanup, { identity: c, roster: rosterOf({ a: ids.a!, c }), sessionId: SESSION });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION }),
      HandshakeError,
      ErrorCode.PEER_UNKNOWN,
    );
    expect(err.peer).toBe('c');
    const serverErr = await l.errors.next();
    expect(serverErr.code).toBe(ErrorCode.PEER_UNKNOWN);
    // The initiator refused at the reply, before it revealed anything about itself.
    expect(serverErr.peer).toBeUndefined();
  });

  it('key substitution, initiator side: mallory claims "b" with her own key', async () => {
    const { ids, roster } = parties('a', 'b');
    const mallory = generateIdentity('b');
    const malloryRoster = rosterOf({ a: ids.a!, b: mallory });
    const l = await listen(cleanup, { identity: ids.a!, roster, sessionId: SESSION });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: mallory, roster: malloryRoster, sessionId: SESSION }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(refuseReason(err)).toBe('auth');
    const serverErr = await l.errors.next();
    expect(serverErr).toBeInstanceOf(HandshakeError);
    expect(serverErr.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    // Mallory's signature does not verify under b's pinned key: a's listener never hands out a
    // channel, and does not name "b" either — the id is mallory's unproven claim (review7 A5;
    // before, the error named the impersonated party).
    expect(serverErr.peer).toBeUndefined();
    expect(serverErr.message).toContain('claiming to be "b"');
    expect(l.channels.items).toEqual([]);
  });

  it('key substitution, responder side: mallory listens as "b"', async () => {
    const { ids, roster } = parties('a', 'b');
    const mallory = generateIdentity('b');
    const l = await listen(cleanup, { identity: mallory, roster: rosterOf({ a: ids.a!, b: mallory }), sessionId: SESSION });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION, expectedPeer: 'b' }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(err.peer).toBe('b');
    expect(err.message).toMatch(/"b"/);
    // Mallory learns the refusal too, and never gets a channel.
    const mErr = await l.errors.next();
    expect(mErr.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(l.channels.items).toEqual([]);
  });

  it('wrong session id', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: `${SESSION}-old`, expectedPeer: 'b' }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(refuseReason(err)).toBe('session');
    expect(err.peer).toBe('b');
    const serverErr = await l.errors.next();
    expect(serverErr.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(refuseReason(serverErr)).toBe('session');
    // Neither the session id nor the initiator's id is on the wire: the responder never learns who.
    expect(serverErr.peer).toBeUndefined();
  });

  it('cipher suite mismatch', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, suite: 'tweetnacl' });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION, suite: 'native', expectedPeer: 'b' }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(refuseReason(err)).toBe('suite');
    expect(err.peer).toBe('b');
    const serverErr = await l.errors.next();
    expect(serverErr.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(serverErr.peer).toBeUndefined();
  });

  it('connecting to itself', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.a!, roster, sessionId: SESSION });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(refuseReason(err)).toBe('self');
    const serverErr = await l.errors.next();
    expect(serverErr.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    // The initiator saw its own id in the sealed reply and stopped there.
    expect(refuseReason(serverErr)).toBe('self');
  });

  it('a different roster party answers than expected', async () => {
    const { ids, roster } = parties('a', 'b', 'c');
    const l = await listen(cleanup, { identity: ids.c!, roster, sessionId: SESSION });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION, expectedPeer: 'b' }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(err.peer).toBe('c');
  });

  it('acceptPeer can refuse at each stage', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, acceptPeer: (_id, stage) => (stage === 'finish' ? 'duplicate' : undefined) });
    // Refused at finish: the responder never confirms, so the initiator never holds a channel and
    // learns the reason.
    const refused = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(refuseReason(refused)).toBe('duplicate');
    expect(refused.peer).toBe('b');
    const serverErr = await l.errors.next();
    expect(serverErr.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(serverErr.peer).toBe('a');

    const l2 = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, acceptPeer: () => 'order' });
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l2.listener.port }, { identity: ids.a!, roster, sessionId: SESSION }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(refuseReason(err)).toBe('order');
    const err2 = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION, acceptPeer: () => 'duplicate' }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(err2.peer).toBe('b');
  });
});

describe('truncated and stalled handshakes', () => {
  it('half a hello from a raw client: listener reports HANDSHAKE_FAILED and refuses', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const ws = await rawClient(cleanup, l.listener.port);
    const hello = new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' }).hello();
    const answer = nextMessage(ws).catch(() => undefined);
    const code = closedCode(ws);
    ws.send(hello.subarray(0, hello.length >> 1));
    const err = await l.errors.next();
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    const refusal = await answer;
    expect(refusal).toBeDefined();
    expect(decodeMessage(refusal!, MAX_HANDSHAKE_MESSAGE)).toEqual({ t: 'refuse', reason: 'malformed' });
    expect(await code).toBe(1008);
  });

  it('hello then close: HANDSHAKE_FAILED, and the responder never learned who it was', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const ws = await rawClient(cleanup, l.listener.port);
    const reply = nextMessage(ws);
    ws.send(new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' }).hello());
    await reply; // the responder answered; now vanish
    ws.close();
    const err = await l.errors.next();
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(err.peer).toBeUndefined();
  });

  it('a text message or an oversized message during the handshake is refused', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const ws = await rawClient(cleanup, l.listener.port);
    ws.send('hello as text');
    expect((await l.errors.next()).code).toBe(ErrorCode.HANDSHAKE_FAILED);
    const ws2 = await rawClient(cleanup, l.listener.port);
    ws2.send(new Uint8Array(MAX_HANDSHAKE_MESSAGE * 2 + 1));
    const e2 = await l.errors.next();
    expect(e2).toBeInstanceOf(CouplerError);
    expect([ErrorCode.HANDSHAKE_FAILED, ErrorCode.FRAME_TOO_LARGE]).toContain(e2.code);
  });

  it('half a reply from a raw server: connectChannel fails with HANDSHAKE_FAILED', async () => {
    const { ids, roster } = parties('a', 'b');
    const srv = await rawServer(cleanup);
    const p = connectChannel({ host: HOST, port: srv.port }, { identity: ids.a!, roster, sessionId: SESSION, expectedPeer: 'b', handshakeTimeoutMs: 5000 });
    const ws = await srv.sockets.next();
    await nextMessage(ws);
    ws.send(new Uint8Array([0x84, 0xa1, 0x74]));
    const err = await expectCoupler(p, HandshakeError, ErrorCode.HANDSHAKE_FAILED);
    expect(err.peer).toBe('b');
  });

  it('a raw server that accepts and never replies: TIMEOUT within handshakeTimeoutMs', async () => {
    const { ids, roster } = parties('a', 'b');
    const srv = await rawServer(cleanup);
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: srv.port }, { identity: ids.a!, roster, sessionId: SESSION, expectedPeer: 'b', handshakeTimeoutMs: 300 }),
      HandshakeError,
      ErrorCode.TIMEOUT,
    );
    expect(err.peer).toBe('b');
    // The dialler hung up on the stalled server.
    const ws = await srv.sockets.next();
    await closedCode(ws);
  });

  it('a raw client that connects and never sends: onHandshakeError gets TIMEOUT', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, handshakeTimeoutMs: 300 });
    const ws = await rawClient(cleanup, l.listener.port);
    const err = await l.errors.next();
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err.code).toBe(ErrorCode.TIMEOUT);
    await closedCode(ws);
  });

  it('a raw client that sends hello and never finishes: TIMEOUT after finishTimeoutMs, however long the handshake deadline', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, handshakeTimeoutMs: 60_000, finishTimeoutMs: 300 });
    const ws = await rawClient(cleanup, l.listener.port);
    ws.send(new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' }).hello());
    const err = await l.errors.next();
    expect(err.code).toBe(ErrorCode.TIMEOUT);
    expect(err.message).toMatch(/finish/);
    expect(err.peer).toBeUndefined();
    await closedCode(ws);
  });

  it('busy: with maxPendingHandshakes 2, both pending connections past their hello and from a known source, a third from an unknown source is refused; capacity returns afterwards', async () => {
    const { ids, roster } = parties('a', 'b');
    let known = true;
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, maxPendingHandshakes: 2, handshakeTimeoutMs: 1000, isKnownSource: () => known });
    // Two connections that say hello and then stall: talking, so not evicted.
    const stalled = [await rawClient(cleanup, l.listener.port), await rawClient(cleanup, l.listener.port)];
    for (const ws of stalled) {
      ws.send(new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' }).hello());
      await nextMessage(ws); // the reply: the hello was taken
    }
    known = false;
    const third = await rawClient(cleanup, l.listener.port);
    const refusal = await nextMessage(third);
    expect(decodeMessage(refusal, MAX_HANDSHAKE_MESSAGE)).toEqual({ t: 'refuse', reason: 'busy' });
    expect(await closedCode(third)).toBe(1008);
    // A real client is refused too, with the reason.
    const err = await expectCoupler(
      connectChannel({ host: HOST, port: l.listener.port }, { identity: ids.a!, roster, sessionId: SESSION, expectedPeer: 'b' }),
      HandshakeError,
      ErrorCode.HANDSHAKE_FAILED,
    );
    expect(refuseReason(err)).toBe('busy');
    // The stalled ones time out, which frees the slots.
    expect((await l.errors.next()).code).toBe(ErrorCode.TIMEOUT);
    expect((await l.errors.next()).code).toBe(ErrorCode.TIMEOUT);
    await Promise.all(stalled.map(closedCode));
    known = true;
    const ok = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION });
    expect(ok.peerId).toBe('b');
  });

  it('at the cap, a new connection evicts the oldest SILENT one (no handshake message yet) instead of being refused', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, maxPendingHandshakes: 2 });
    const silent = [await rawClient(cleanup, l.listener.port), await rawClient(cleanup, l.listener.port)];
    const ok = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION });
    expect(ok.peerId).toBe('b');
    expect(silent[0]!.readyState === WebSocket.CLOSED || silent[0]!.readyState === WebSocket.CLOSING).toBe(true);
  });

  it('a talking flood from many sources fills the cap: a fresh connection is not evicted before it could say hello; the oldest stranger goes instead', async () => {
    // Issue 17 item 3 (bench formation, 8 sources): strangers that send a valid hello and never
    // finish hold every slot; each new one evicted the NEWEST connection when it was still silent —
    // a real peer between its upgrade and its hello — so the peer lost every race it ran.
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, maxPendingHandshakes: 3, maxPendingPerSource: 1, ...NO_DEADLINES, silentGraceMs: 60_000 });
    const hello = (): Uint8Array => new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' }).hello();
    const stranger = async (source: string): Promise<WebSocket> => {
      const ws = await rawClient(cleanup, l.listener.port, '/coupler/1', source);
      ws.send(hello());
      await nextMessage(ws); // the reply: it is talking, and holds its slot until evicted
      return ws;
    };
    const strangers = [await stranger('127.0.0.21'), await stranger('127.0.0.22')];
    const peer = await rawClient(cleanup, l.listener.port, '/coupler/1', '127.0.0.23'); // upgraded, hello not sent yet
    const next = await stranger('127.0.0.24'); // the listener is full: someone goes
    // Eviction is synchronous with the newcomer's admission, which precedes its reply.
    expect(peer.readyState).toBe(WebSocket.OPEN);
    expect(await closedCode(strangers[0]!)).not.toBe(0);
    expect([strangers[1]!.readyState, next.readyState]).toEqual([WebSocket.OPEN, WebSocket.OPEN]);
    // The peer is still there and completes its handshake.
    const init = new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' }, 'b');
    peer.send(init.hello());
    const { finish, peerId } = init.onReply(await nextMessage(peer));
    expect(peerId).toBe('b');
    peer.send(finish);
    expect(init.onOk(await nextMessage(peer)).peerId).toBe('b');
    expect((await l.channels.next(10_000, 'channel')).peerId).toBe('a');
  });

  it('a connection still silent after silentGraceMs is evicted before talking ones', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, maxPendingHandshakes: 2, maxPendingPerSource: 1, ...NO_DEADLINES, silentGraceMs: 1 });
    const talking = await rawClient(cleanup, l.listener.port, '/coupler/1', '127.0.0.21');
    talking.send(new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' }).hello());
    await nextMessage(talking);
    const silent = await rawClient(cleanup, l.listener.port, '/coupler/1', '127.0.0.22');
    await new Promise((r) => setTimeout(r, 20)); // past the 1 ms grace
    const ok = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION });
    expect(ok.peerId).toBe('b');
    expect(await closedCode(silent)).not.toBe(0);
    expect(talking.readyState).toBe(WebSocket.OPEN);
  });

  it('a connection without the coupler subprotocol is cut', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const ws = new WebSocket(`ws://${HOST}:${l.listener.port}/coupler/1`);
    ws.on('error', () => undefined);
    cleanup.add(() => ws.terminate());
    await closedCode(ws);
    expect(l.channels.items).toEqual([]);
  });
});

describe('on-path tampering with the handshake', () => {
  async function tampered(rule: Parameters<typeof startProxy>[1]): Promise<{ clientErr: unknown; serverErr: CouplerError | undefined; ids: Record<string, Identity> }> {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, handshakeTimeoutMs: 2000 });
    const proxy = await startProxy({ host: HOST, port: l.listener.port }, rule);
    cleanup.add(() => proxy.close());
    let clientErr: unknown;
    try {
      const ch = await connect(cleanup, proxy.port, { identity: ids.a!, roster, sessionId: SESSION, expectedPeer: 'b', handshakeTimeoutMs: 2000 });
      // The initiator finishes first; a refused finish then closes its channel.
      clientErr = await ch.closed;
    } catch (e) {
      clientErr = e;
    }
    const serverErr = await l.errors.next(5000).catch(() => undefined);
    expect(proxy.fired()).toBe(1);
    return { clientErr, serverErr, ids };
  }

  it('a bit flipped in the hello (inside the nonce) fails the responder signature check', async () => {
    const { clientErr } = await tampered([{ direction: 'c2s', index: 0, action: { type: 'flip', byte: -1 } }]);
    expect(clientErr).toBeInstanceOf(HandshakeError);
    expect((clientErr as CouplerError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect((clientErr as CouplerError).peer).toBe('b');
  });

  it('a bit flipped in the hello structure is refused as malformed', async () => {
    const { clientErr, serverErr } = await tampered([{ direction: 'c2s', index: 0, action: { type: 'flip', byte: 0, bit: 0 } }]);
    expect(serverErr).toBeInstanceOf(HandshakeError);
    expect(serverErr!.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(clientErr).toBeInstanceOf(HandshakeError);
    expect((clientErr as CouplerError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
  });

  it('a bit flipped in the sealed reply: the initiator refuses before revealing itself', async () => {
    const { clientErr, serverErr } = await tampered([{ direction: 's2c', index: 0, action: { type: 'flip', byte: -1, bit: 3 } }]);
    expect(clientErr).toBeInstanceOf(HandshakeError);
    expect((clientErr as CouplerError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect((clientErr as CouplerError).peer).toBe('b');
    expect(serverErr).toBeInstanceOf(HandshakeError);
    expect(refuseReason(serverErr)).toBe('auth');
    expect(serverErr!.peer).toBeUndefined();
  });

  it('a bit flipped in the sealed finish: the responder refuses, and the initiator never holds a channel', async () => {
    const { clientErr, serverErr } = await tampered([{ direction: 'c2s', index: 1, action: { type: 'flip', byte: -5, bit: 7 } }]);
    expect(serverErr).toBeInstanceOf(HandshakeError);
    expect(serverErr!.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(clientErr).toBeInstanceOf(HandshakeError);
    expect(refuseReason(clientErr)).toBe('auth');
    expect((clientErr as CouplerError).peer).toBe('b');
  });

  it('a bit flipped in the confirmation: the initiator refuses it', async () => {
    const { clientErr } = await tampered([{ direction: 's2c', index: 1, action: { type: 'flip', byte: -3, bit: 1 } }]);
    expect(clientErr).toBeInstanceOf(HandshakeError);
    expect((clientErr as CouplerError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect((clientErr as CouplerError).peer).toBe('b');
  });

  it('no party id and no session id appear in cleartext on the wire', async () => {
    const { ids, roster } = parties('alice-org', 'bob-org');
    const l = await listen(cleanup, { identity: ids['bob-org']!, roster, sessionId: SESSION });
    const proxy = await startProxy({ host: HOST, port: l.listener.port });
    cleanup.add(() => proxy.close());
    await connect(cleanup, proxy.port, { identity: ids['alice-org']!, roster, sessionId: SESSION });
    await l.channels.next();
    const rec = proxy.recorded[0]!;
    const wire = Buffer.concat([...rec.c2s, ...rec.s2c].map((m) => Buffer.from(m)));
    for (const secret of ['alice-org', 'bob-org', SESSION]) expect(wire.includes(Buffer.from(secret))).toBe(false);
  });

  it('a handshake replayed from an earlier session is refused (the old finish does not sign the new transcript)', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const proxy = await startProxy({ host: HOST, port: l.listener.port });
    cleanup.add(() => proxy.close());
    await connect(cleanup, proxy.port, { identity: ids.a!, roster, sessionId: SESSION });
    await l.channels.next();
    const [hello, finish] = proxy.recorded[0]!.c2s;
    const ws = await rawClient(cleanup, l.listener.port);
    const reply = nextMessage(ws);
    ws.send(hello!);
    await reply;
    ws.send(finish!);
    const err = await l.errors.next();
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    // The old finish was sealed under the old handshake keys: it does not even open.
    expect(refuseReason(err)).toBe('auth');
    expect(l.channels.items).toEqual([]);
    // flipBit is exported for tests that build their own tampering.
    expect(flipBit(new Uint8Array([1]), 0)[0]).toBe(0);
  });
});
