/**
 * The relay's side of review22 R22-1 (the class, found at the party's listener): a connection the
 * relay refuses (a malformed admission, `busy`, an admission timeout) is ended with a refusal and a
 * close grace of 1 s, in which `ws` still reads and buffers up to `maxMessageBytes` of a frame —
 * outside every cap, since the connection left the pending table. A stranger whose every
 * connection is refused at once held as many sockets, with a cut frame each, as it could open in a
 * second (242 of 300 at once). Real relay on 127.0.0.1, raw TCP sockets from 127.0.0.2–127.0.0.41
 * that upgrade, send a binary admission (refused `malformed`) and a cut frame in one write, then
 * never answer the close.
 */
import { startRelay, type RelayServer } from '../../src/relay';
import { DEFAULT_RELAY_MAX_PENDING } from '../../src/relay/table';
import { RELAY_PATH, RELAY_SUBPROTOCOL } from '../../src/relay/protocol';
import { CUT, CUT_FRAME, frameHead, refusedFlood, upgradeRequest } from '../support/refused-flood';

let relay: RelayServer;
beforeAll(async () => {
  relay = await startRelay({ host: '127.0.0.1', port: 0, rosters: [], rosterBoundSessions: true });
});
afterAll(() => relay.close());

const BINARY_ADMISSION = Buffer.concat([frameHead(4), Buffer.from([0xc1, 1, 2, 3])]);
const ATTACK = Buffer.concat([Buffer.from(upgradeRequest(RELAY_PATH, RELAY_SUBPROTOCOL)), BINARY_ADMISSION, CUT_FRAME]);

test('sockets the relay refused stay within its pending cap (a stranger cannot hold hundreds for the close grace)', async () => {
  const { max, ms } = await refusedFlood(relay.port, ATTACK);
  console.log(`relay: 300 strangers in ${Math.round(ms)} ms; at most ${max} refused sockets held open at once (~${Math.round((max * CUT) / 2 ** 20)} MiB of cut frames)`);
  expect(max).toBeLessThanOrEqual(2 * DEFAULT_RELAY_MAX_PENDING);
});
