/**
 * One authenticated message must not take an honest process down. Before the structural scan,
 * msgpackr decoded whatever a roster peer sent: a 16 MiB message of one-byte empty maps took
 * 3.1 GB of heap and 25 s, 64 MiB aborted the process (`FATAL ERROR: Reached heap limit`) and the
 * sender was never named. Now the bytes are scanned before decoding (depth, value count, declared
 * lengths, types) and the peer is dropped with a typed error naming it.
 * In-process parties on 127.0.0.1, real channels.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createTestGroups, type TestGroups } from '../support/group-harness';
import { CouplerError, ErrorCode } from '../../src/errors';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

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

/**
 * A round message `{r: round, p: [n empty byte strings]}`: 2n + 20 bytes, each empty byte string a
 * Buffer view of about 100 bytes of heap once decoded. At n = 2^18 − 5 (the value cap) it is a
 * 512 KiB message.
 */
function emptyBytesBomb(round: string, n: number): Uint8Array {
  const head = [0x82, 0xa1, 0x72, 0xa0 + round.length, ...Buffer.from(round, 'latin1'), 0xa1, 0x70, 0xdd, 0, 0, 0, 0];
  const bytes = new Uint8Array(head.length + 2 * n);
  bytes.set(head);
  new DataView(bytes.buffer).setUint32(head.length - 4, n);
  for (let i = head.length; i < bytes.length; i += 2) bytes[i] = 0xc4;
  return bytes;
}

// Issue 17 item 2: the mailbox counted wire bytes (512 MiB per peer), so 167 messages of 512 KiB
// (83 MiB sent) held ~4.4 GB of heap and crashed the receiver, and the others then named it. A
// 512 KiB one is now refused before decoding (more heap than a peer may hold); 64 KiB ones (3.5 MiB
// of heap each) are filed until the peer's heap budget is spent.
test.each([
  ['512 KiB', (1 << 18) - 5],
  ['64 KiB', 1 << 15],
])('heap amplification: %s messages of empty byte strings to rounds nobody takes — the sender is dropped and named, heap stays below 2x the peak of an honest exchange', async (_size, items) => {
  const g = await createTestGroups(3, { roundTimeoutMs: 20_000 });
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 2);
  try {
    const [victim, attacker, other] = [g.byId.get('p1')!, g.byId.get('p2')!, g.byId.get('p3')!];
    // Honest exchange first: two rounds of 1 MiB vectors from both peers, the victim taking them.
    collectGarbage();
    peak = process.memoryUsage().heapUsed;
    for (const round of ['honest.1/a', 'honest.1/b']) {
      await Promise.all([attacker.send('p1', round, new Uint8Array(1 << 20)), other.send('p1', round, new Uint8Array(1 << 20))]);
      const got = await victim.gather(round, { from: ['p2', 'p3'] });
      expect(got.size).toBe(2);
    }
    const honestPeak = peak;

    collectGarbage();
    peak = process.memoryUsage().heapUsed;
    const messages = 24; // before the fix: 84 MiB (64 KiB ones) or 670 MiB (512 KiB ones) of heap held by the victim
    const bomb = emptyBytesBomb('bomb.1/x00', items);
    expect(bomb.length).toBeLessThanOrEqual(2 * items + 32);
    for (let i = 0; i < messages; i++) {
      const round = `bomb.1/x${String(i).padStart(2, '0')}`;
      bomb.set(Buffer.from(round, 'latin1'), 4);
      await attacker._sendRaw('p1', bomb).catch(() => undefined); // the victim may hang up first
    }
    const err = (await victim.receive('p2', 'never.1/x').catch((e: unknown) => e)) as CouplerError;
    const attackPeak = peak;
    process.stderr.write(
      `heap bomb (${_size}): honest peak ${(honestPeak / 1e6).toFixed(0)} MB, under attack ${(attackPeak / 1e6).toFixed(0)} MB (${(attackPeak / honestPeak).toFixed(2)}x); ${err?.code}: ${err?.message}\n`,
    );
    expect(err).toBeInstanceOf(CouplerError);
    expect(err.peers).toEqual(['p2']);
    expect([ErrorCode.FRAME_TOO_LARGE, ErrorCode.PROTOCOL_VIOLATION]).toContain(err.code);
    expect(attackPeak).toBeLessThan(2 * honestPeak);
    // The honest peer is unaffected.
    await other.send('p1', 'after.1/x', 7);
    expect(await victim.receive('p3', 'after.1/x')).toBe(7);
  } finally {
    clearInterval(sampler);
    await g.close();
  }
}, 60_000);
