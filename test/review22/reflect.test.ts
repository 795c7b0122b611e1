/**
 * review22 (held): a roster member's hello, captured on the overlay, reflected to its own listener
 * and to a third party's. Each listener answers once (a reply costs it one X25519 and one
 * signature), cannot get a finish (only the sender's key makes one), closes the connection by the
 * finish deadline, names nobody in its refusal, and still takes the real peer afterwards. The same
 * hello sent again to the same listener is refused before any public-key work (review7 A1).
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { connectChannel, listenChannels, type ChannelListener } from '../../src/channel';
import { Initiator } from '../../src/channel/handshake';
import { SUBPROTOCOL } from '../../src/channel/transport';
import type { CouplerError } from '../../src/errors';
import { createRoster } from '../../src/identity/roster';
import { testIdentity } from '../support/identity';

const ids = ['p1', 'p2', 'p3'];
const identities = new Map(ids.map((id) => [id, testIdentity(id)]));
const roster = createRoster(ids.map((id) => ({ id, publicKey: identities.get(id)!.publicKey })));
const sessionId = `review22-${randomBytes(4).toString('hex')}`;

/** Send `hello` on a fresh connection; resolve with what came back and when the listener closed. */
function reflect(port: number, hello: Uint8Array): Promise<{ messages: number; closedMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/coupler/1`, SUBPROTOCOL);
    let messages = 0;
    ws.on('error', () => undefined);
    ws.on('open', () => ws.send(hello));
    ws.on('message', () => messages++);
    ws.on('close', () => resolve({ messages, closedMs: Date.now() - t0 }));
  });
}

test('held: a captured hello reflected to its sender and to a third party is answered once, never finished, names nobody', async () => {
  const refused: { listener: string; err: CouplerError }[] = [];
  const listeners = new Map<string, ChannelListener>();
  for (const id of ['p1', 'p3']) {
    listeners.set(
      id,
      await listenChannels({
        identity: identities.get(id)!,
        roster,
        sessionId,
        host: '127.0.0.1',
        port: 0,
        onChannel: (ch) => ch.destroy(),
        onHandshakeError: (err) => refused.push({ listener: id, err }),
      }),
    );
  }
  try {
    // p1's hello as it went out to p2 (captured).
    const hello = new Initiator({ identity: identities.get('p1')!, localId: 'p1', roster, sessionId, suite: 'native' }).hello();
    const toSelf = await reflect(listeners.get('p1')!.port, hello);
    const toThird = await reflect(listeners.get('p3')!.port, hello);
    const again = await reflect(listeners.get('p3')!.port, hello);
    console.log(`reflect: to its sender ${JSON.stringify(toSelf)}, to a third ${JSON.stringify(toThird)}, again ${JSON.stringify(again)}; refusals ${JSON.stringify(refused.map((r) => [r.listener, r.err.code, r.err.peer]))}`);
    // One reply each, then closed by the finish deadline (3 s) plus the close grace.
    expect(toSelf.messages).toBe(1);
    expect(toThird.messages).toBe(1);
    expect(toSelf.closedMs).toBeLessThan(6_000);
    expect(toThird.closedMs).toBeLessThan(6_000);
    // The replay: no reply (a refusal at most), closed at once.
    expect(again.closedMs).toBeLessThan(2_000);
    expect(refused.every((r) => r.err.peer === undefined)).toBe(true);
    const ch = await connectChannel({ host: '127.0.0.1', port: listeners.get('p3')!.port }, { identity: identities.get('p2')!, roster, sessionId, handshakeTimeoutMs: 5_000 });
    expect(ch.peerId).toBe('p3');
    ch.destroy();
  } finally {
    await Promise.all([...listeners.values()].map((l) => l.close()));
  }
}, 30_000);
