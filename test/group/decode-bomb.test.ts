/**
 * One authenticated message must not take an honest process down. Before the structural scan,
 * msgpackr decoded whatever a roster peer sent: a 16 MiB message of one-byte empty maps took
 * 3.1 GB of heap and 25 s, 64 MiB aborted the process (`FATAL ERROR: Reached heap limit`) and the
 * sender was never named. Now the bytes are scanned before decoding (depth, value count, declared
 * lengths, types) and the peer is dropped with a typed error naming it.
 * In-process parties on 127.0.0.1, real channels.
 */
import { createTestGroups, type TestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';

let h: TestGroups;
beforeAll(async () => {
  h = await createTestGroups(3, { roundTimeoutMs: 20_000 });
});
afterAll(async () => h.close());

/** An array of `n` empty maps: 5 + n bytes that msgpackr would turn into n objects. */
function emptyMapBomb(n: number): Uint8Array {
  const bytes = new Uint8Array(5 + n);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, n);
  bytes.fill(0x80, 5);
  return bytes;
}

test('a 64 MiB message of empty maps from a roster peer: the receiver drops that peer with FRAME_MALFORMED naming it; heap stays bounded', async () => {
  const [victim, attacker] = [h.byId.get('p1')!, h.byId.get('p2')!];
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 5);
  const t0 = Date.now();
  await attacker._sendRaw('p1', emptyMapBomb(64 * 1024 * 1024 - 5));
  const err = await victim.receive('p2', 'never.1/x').then(
    () => undefined,
    (e: unknown) => e,
  );
  clearInterval(sampler);
  const elapsed = Date.now() - t0;
  expect(err).toBeInstanceOf(CouplerError);
  const e = err as CouplerError;
  expect(e.code).toBe(ErrorCode.FRAME_MALFORMED);
  expect(e.peers).toEqual(['p2']);
  expect(e.message).toMatch(/more than \d+ values/);
  const growthMb = (peak - before) / 1e6;
  process.stderr.write(`decode bomb (64 MiB of empty maps): rejected in ${elapsed} ms, peak heap growth ${growthMb.toFixed(1)} MB\n`);
  // The 64 MiB of message bytes live outside the heap (Buffers); decoding allocates nothing.
  expect(growthMb).toBeLessThan(200);
  // The other channels are unaffected.
  await h.byId.get('p3')!.send('p1', 'still.1/x', 42);
  expect(await victim.receive('p3', 'still.1/x')).toBe(42);
}, 60_000);

test('deep nesting, a length past the end and an extension type are refused the same way, each naming the sender', async () => {
  const deep = new Uint8Array(40).fill(0x91); // 40 nested one-element arrays
  for (const [bytes, pattern] of [
    [deep, /nesting deeper than 16/],
    [Uint8Array.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0x01]), /runs past the end/],
    [Uint8Array.from([0xd4, 0x01, 0x02]), /type byte 0xd4 is not plain data/],
  ] as const) {
    const g = await createTestGroups(2, { roundTimeoutMs: 5000 });
    try {
      const [a, b] = g.groups;
      await b!._sendRaw(a!.localId, bytes);
      const err = (await a!.receive(b!.localId, 'never.1/x').catch((e: unknown) => e)) as CouplerError;
      expect(err.code).toBe(ErrorCode.FRAME_MALFORMED);
      expect(err.peers).toEqual([b!.localId]);
      expect(err.message).toMatch(pattern);
    } finally {
      await g.close();
    }
  }
}, 60_000);
