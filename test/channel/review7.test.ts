/**
 * review7: the channel handshake and the listener under a network attacker. Real WebSockets on
 * 127.0.0.1 (test/channel/_helpers.ts).
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { Initiator, Responder, type HandshakeConfig } from '../../src/channel/handshake';
import { connectChannel } from '../../src/channel';
import { CouplerError } from '../../src/errors';
import { decodeMessage } from '../../src/wire/codec';
import { Cleanup, SESSION, closedCode, connect, listen, nextMessage, parties, rawClient, rawServer } from './_helpers';

jest.setTimeout(30_000);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('A1: a replayed hello', () => {
  it('is refused before any public-key work (a captured hello cannot make the responder sign again)', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    // A genuine hello of party a for this session, as an eavesdropper on the overlay captures it.
    const cfg: HandshakeConfig = { identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite: 'native' };
    const hello = new Initiator(cfg).hello();
    const first = await rawClient(cleanup, l.listener.port);
    first.send(hello);
    const reply = decodeMessage(await nextMessage(first), 1 << 16) as Record<string, unknown>;
    expect(reply.t).toBe('reply');
    first.terminate();
    // Replayed on fresh connections: each must be refused (no reply: no keygen, X25519, signature).
    for (let i = 0; i < 3; i++) {
      const ws = await rawClient(cleanup, l.listener.port);
      ws.send(hello);
      const m = decodeMessage(await nextMessage(ws), 1 << 16) as Record<string, unknown>;
      expect(m.t).toBe('refuse');
      await closedCode(ws);
    }
    // The real party still connects (its own hellos are fresh).
    const err = await l.errors.next(5_000, 'handshake error');
    expect(err.code).toBe('COUPLER_ERR_HANDSHAKE_FAILED');
  });
});

describe('A4: TCP connections that never complete the WebSocket upgrade', () => {
  const openRaw = (port: number, trickle: boolean): { socket: Socket; closed: Promise<number> } => {
    const t0 = Date.now();
    const socket = connectTcp(port, '127.0.0.1', () => {
      if (trickle) socket.write('GET /coupler/1 HTTP/1.1\r\nHost: x\r\n');
    });
    socket.on('error', () => undefined);
    const iv = trickle ? setInterval(() => socket.write('X-a: b\r\n'), 200) : undefined;
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
    void closed.then(() => clearInterval(iv));
    cleanup.add(() => {
      clearInterval(iv);
      socket.destroy();
    });
    return { socket, closed };
  };
  const within = <T>(p: Promise<T>, ms: number): Promise<T | 'open'> => Promise.race([p, new Promise<'open'>((r) => setTimeout(() => r('open'), ms))]);

  it('an idle socket and one trickling headers are closed by the first-message deadline (before: idle ones never, trickling ones after ~30 s)', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, firstMessageTimeoutMs: 500 });
    const idle = openRaw(l.listener.port, false);
    const trickle = openRaw(l.listener.port, true);
    expect(await within(idle.closed, 4_000)).not.toBe('open');
    expect(await within(trickle.closed, 4_000)).not.toBe('open');
  });

  it('sockets not yet upgraded are capped per source: a flood of them leaves at most the cap open, and a real peer still connects', async () => {
    const { ids, roster } = parties('a', 'b');
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, maxPendingPerSource: 4, firstMessageTimeoutMs: 10_000 });
    const flood = Array.from({ length: 40 }, () => openRaw(l.listener.port, false));
    await new Promise((r) => setTimeout(r, 500));
    const open = flood.filter((f) => !f.socket.destroyed && f.socket.readyState === 'open');
    // (The client side sees the close a moment later; allow for that with a second look.)
    await new Promise((r) => setTimeout(r, 300));
    const stillOpen = flood.filter((f) => f.socket.readyState === 'open' && !f.socket.destroyed).length;
    expect(Math.min(open.length, stillOpen)).toBeLessThanOrEqual(4);
    const ch = await connect(cleanup, l.listener.port, { identity: ids.a!, roster, sessionId: SESSION });
    expect(ch.peerId).toBe('b');
  });
});

describe('A5: an impostor claiming a roster id', () => {
  it('is not reported as that roster party (the claimed id is unproven: no `peer`, no `peers`)', async () => {
    const { ids, roster } = parties('a', 'b');
    const evil = parties('b').ids.b!; // the id "b", but not b's roster key
    const server = await rawServer(cleanup);
    void (async () => {
      const ws = await server.sockets.next();
      const hs = new Responder({ identity: evil, localId: 'b', roster, sessionId: SESSION, suite: 'native' });
      ws.send(hs.onHello(await nextMessage(ws)).reply);
    })();
    const err = await connectChannel({ host: '127.0.0.1', port: server.port }, { identity: ids.a!, roster, sessionId: SESSION, handshakeTimeoutMs: 5_000 }).then(
      () => undefined,
      (e: unknown) => e as CouplerError,
    );
    expect(err).toBeInstanceOf(CouplerError);
    expect(err!.code).toBe('COUPLER_ERR_HANDSHAKE_FAILED');
    expect(err!.peer).toBeUndefined();
    expect(err!.peers).toEqual([]);
  });

  it('on the responder side neither (a finish signed with another key than the claimed id\'s)', async () => {
    const { ids, roster } = parties('a', 'b');
    const evil = parties('a').ids.a!;
    const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION });
    const ws = await rawClient(cleanup, l.listener.port);
    const hs = new Initiator({ identity: evil, localId: 'a', roster, sessionId: SESSION, suite: 'native' });
    ws.send(hs.hello());
    ws.send(hs.onReply(await nextMessage(ws)).finish);
    const err = await l.errors.next(5_000, 'handshake error');
    expect(err.code).toBe('COUPLER_ERR_HANDSHAKE_FAILED');
    expect(err.peer).toBeUndefined();
    expect(err.peers).toEqual([]);
  });
});
