/**
 * review22 R22-1: a connection whose handshake failed leaves the listener's unfinished-handshake
 * caps at once, but its socket stays open for the close grace (1 s) — with whatever the stranger
 * sends meanwhile: a WebSocket frame declared ~200 KiB long and cut short is buffered by `ws`
 * until the socket is destroyed. The per-source cap (8) and the total cap (64) bound only what is
 * still in its handshake, so a stranger that makes each connection fail at once holds as many
 * sockets (and ~200 KiB each) as it can open in a second.
 *
 * Real listener on 127.0.0.1, raw TCP sockets from 127.0.0.2–127.0.0.41 that upgrade, send a
 * garbage hello and a cut frame in one write, then never answer the close and never close.
 * Measured on the client side: how many refused sockets the listener still holds open at once.
 */
import { randomBytes } from 'node:crypto';
import { connectChannel, listenChannels, type ChannelListener } from '../../src/channel';
import { DEFAULT_MAX_PENDING_HANDSHAKES } from '../../src/channel/transport';
import { createRoster } from '../../src/identity/roster';
import { testIdentity } from '../support/identity';
import { CUT, CUT_FRAME, frameHead, refusedFlood, upgradeRequest } from '../support/refused-flood';

const a = testIdentity('a');
const b = testIdentity('b');
const roster = createRoster([
  { id: 'a', publicKey: a.publicKey },
  { id: 'b', publicKey: b.publicKey },
]);
const sessionId = `review22-${randomBytes(4).toString('hex')}`;
let listener: ChannelListener;

beforeAll(async () => {
  listener = await listenChannels({ identity: b, roster, sessionId, host: '127.0.0.1', port: 0, onChannel: (ch) => ch.destroy() });
});
afterAll(() => listener.close());

const GARBAGE_HELLO = Buffer.concat([frameHead(4), Buffer.from([0xc1, 1, 2, 3])]);
const ATTACK = Buffer.concat([Buffer.from(upgradeRequest('/coupler/1', 'coupler.1')), GARBAGE_HELLO, CUT_FRAME]);

test('R22-1: sockets of failed handshakes stay within the pending cap (a stranger cannot hold hundreds for the close grace)', async () => {
  const { max, ms } = await refusedFlood(listener.port, ATTACK);
  // The listener's own bound is the pending cap (64); allow the same again for sockets between stages.
  console.log(`R22-1: 300 strangers in ${Math.round(ms)} ms; at most ${max} refused sockets held open at once (~${Math.round((max * CUT) / 2 ** 20)} MiB of cut frames)`);
  expect(max).toBeLessThanOrEqual(2 * DEFAULT_MAX_PENDING_HANDSHAKES);
});

test('after the flood, a real peer connects at once', async () => {
  const ch = await connectChannel({ host: '127.0.0.1', port: listener.port }, { identity: a, roster, sessionId, handshakeTimeoutMs: 5_000 });
  expect(ch.peerId).toBe('b');
  ch.destroy();
});
