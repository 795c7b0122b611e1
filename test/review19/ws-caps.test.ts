/**
 * review19 T7 (held): what bounds a peer at the WebSocket level, below the frame checks — ws's own
 * caps, which coupler relies on without setting them (ws 8.23 defaults): a message in more than
 * 16 384 fragments (`maxFragments`) ends the connection, and so do more than 60 automatic pongs
 * not yet written (`maxPendingAutoPongs`: a peer that pings and never reads). Regression guards
 * for a change of ws or of the options coupler passes it.
 */
import { ErrorCode } from '../../src/errors';
import { Cleanup, until } from '../channel/_helpers';
import { frameAttacker } from './support';

jest.setTimeout(60_000);
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

it('a frame sent as 20 000 one-byte fragments ends the connection (ws maxFragments), the victim closed with a typed error', async () => {
  const { victim, ws } = await frameAttacker(cleanup);
  victim.setMessageHandler(() => undefined);
  const one = new Uint8Array(1);
  for (let i = 0; i < 20_000 && !victim.isClosed; i++) {
    ws.send(one, { binary: true, compress: false, fin: false });
    if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
  }
  await until(() => victim.isClosed, 30_000, 'the victim closed');
  expect(victim.closeError?.code).toBe(ErrorCode.CHANNEL_CLOSED);
  expect(victim.closeError?.peer).toBe('a');
});

it('a peer that pings and never reads the pongs is cut (ws maxPendingAutoPongs), not answered into the victim\'s memory', async () => {
  const { victim, ws } = await frameAttacker(cleanup);
  victim.setMessageHandler(() => undefined);
  ws.pause(); // never read: the victim's pongs pile up in its socket
  const payload = new Uint8Array(125);
  let sent = 0;
  while (!victim.isClosed && sent < 400_000) {
    for (let i = 0; i < 1000; i++) ws.ping(payload);
    sent += 1000;
    await new Promise((r) => setTimeout(r, 1));
  }
  await until(() => victim.isClosed, 30_000, 'the victim closed');
  // 400 000 pongs of 127 bytes would be 50 MB queued at the victim; it is cut long before (measured:
  // after the first burst of 1 000 — ws counts a pong pending until its write callback).
  expect(sent).toBeLessThan(400_000);
  expect(victim.closeError?.code).toBe(ErrorCode.CHANNEL_CLOSED);
});
