/**
 * review17 R17-3: a message filed from a batch keeps the whole batch alive. Decoded byte strings
 * are views on the bytes they were decoded from (`copyBuffers: false`), and a batch item is a view
 * on the batch: a message filed for later (a round of a run that has not started here) with a
 * one-byte payload is charged its own ~40 bytes, while it holds the batch's ~1 MiB — the other 63
 * items of which the mailbox never filed (rounds of a run that ended here: dropped). 256 such
 * messages (the round cap) hold 256 MiB against any `maxPendingBytes`.
 *
 * The test sets `maxPendingBytes` to 4 MiB, has the peer send 100 such batches (with its own
 * channel: `_sendRaw`, what any roster peer can put on its channel) and measures what the filed
 * messages hold: the distinct buffers under their payloads. It must stay within the cap.
 */
import { partiesWith, join, closeAll } from './support';
import { BATCH_ROUND } from '../../src/group/inbound';
import { encodeBytesList, encodeMessage } from '../../src/wire/codec';

jest.setTimeout(60_000);
afterEach(closeAll);

const CAP = 4 * 1024 * 1024;
const BATCHES = 100;

test('messages filed from batches hold no more than they are charged: 100 one-byte messages from ~1 MiB batches stay within a 4 MiB maxPendingBytes', async () => {
  const p = partiesWith(['b1', 'b2']);
  const [victim, peer] = await join(p, 5000, (id) => (id === 'b1' ? { mailbox: { maxPendingBytes: CAP } } : {}));
  victim!.endRun('old'); // a run that ended here: its late messages are dropped, not filed
  const filler = new Uint8Array(16_000);
  for (let k = 0; k < BATCHES; k++) {
    const items = [encodeMessage({ r: `fut${k}.1/a`, p: Uint8Array.of(k) })];
    for (let j = 0; j < 63; j++) items.push(encodeMessage({ r: `old/f${k}.${j}`, p: filler }));
    await peer!._sendRaw(victim!.localId, encodeBytesList(BATCH_ROUND, items));
  }
  const held = new Set<ArrayBufferLike>();
  for (let k = 0; k < BATCHES; k++) {
    const payload = (await victim!.receive(peer!.localId, `fut${k}.1/a`, { timeoutMs: 5000 })) as Uint8Array;
    expect(Array.from(payload)).toEqual([k]);
    held.add(payload.buffer);
  }
  const heldBytes = [...held].reduce((s, b) => s + b.byteLength, 0);
  console.log(`[R17-3] ${BATCHES} filed one-byte messages held ${(heldBytes / 2 ** 20).toFixed(1)} MiB in ${held.size} buffers (maxPendingBytes ${CAP / 2 ** 20} MiB)`);
  expect(heldBytes).toBeLessThanOrEqual(CAP);
  // The peer was not dropped: it stayed within what it is charged.
  expect(victim!.lostPeers).toEqual([]);
});
