/**
 * review7: the channel handshake and the listener under a network attacker. Real WebSockets on
 * 127.0.0.1 (test/channel/_helpers.ts).
 */
import { Initiator, type HandshakeConfig } from '../../src/channel/handshake';
import { decodeMessage } from '../../src/wire/codec';
import { Cleanup, SESSION, closedCode, listen, nextMessage, parties, rawClient } from './_helpers';

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
