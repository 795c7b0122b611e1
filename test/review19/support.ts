/**
 * review19: a malicious roster peer at the frame level. The attacker runs the real handshake by
 * hand over a raw WebSocket to a real listener (listenChannels: its ws options, caps and deadlines),
 * then holds its own frame keys and writes whatever frames it likes; the victim is the
 * SecureChannel the listener hands out.
 */
import type WebSocket from 'ws';
import type { SecureChannel, SuiteName, ChannelLimits } from '../../src/channel';
import { Initiator, type HandshakeResult } from '../../src/channel/handshake';
import { FrameSealer } from '../../src/channel/frames';
import { getSuite } from '../../src/channel/suite';
import { Cleanup, SESSION, listen, nextMessage, parties, rawClient } from '../channel/_helpers';

export interface FrameAttacker {
  /** The victim's channel (party b), from the real listener. */
  victim: SecureChannel;
  /** The attacker's raw socket (party a). */
  ws: WebSocket;
  /** The attacker's handshake result (its frame keys). */
  result: HandshakeResult;
  /** Seals frames a → b with a's real key and binding, any type and sequence the test wants. */
  sealer: FrameSealer;
}

export async function frameAttacker(cleanup: Cleanup, opts: { suite?: SuiteName; limits?: ChannelLimits } = {}): Promise<FrameAttacker> {
  const { ids, roster } = parties('a', 'b');
  const suite = opts.suite ?? 'native';
  const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, suite, ...opts.limits });
  const ws = await rawClient(cleanup, l.listener.port);
  const ini = new Initiator({ identity: ids.a!, localId: 'a', roster, sessionId: SESSION, suite });
  const replyP = nextMessage(ws);
  ws.send(ini.hello());
  const { finish } = ini.onReply(await replyP);
  const okP = nextMessage(ws);
  ws.send(finish);
  const result = ini.onOk(await okP);
  const victim = await l.channels.next(10_000, 'channel');
  const sealer = new FrameSealer(getSuite(suite), Uint8Array.from(result.sendKey), result.sendBinding, 'b');
  return { victim, ws, result, sealer };
}

/** Send every frame, waiting for the socket to take one every `batch` frames (bounded memory at the attacker). */
export async function sendFrames(ws: WebSocket, frames: Iterable<Uint8Array>, batch = 4096): Promise<void> {
  let n = 0;
  for (const f of frames) {
    if (++n % batch !== 0) {
      ws.send(f, { binary: true, compress: false });
      continue;
    }
    await new Promise<void>((resolve, reject) => ws.send(f, { binary: true, compress: false }, (e) => (e ? reject(e) : resolve())));
  }
}
