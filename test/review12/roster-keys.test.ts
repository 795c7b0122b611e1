/**
 * review12 R12-1: hostile roster keys. A roster pins one Ed25519 public key per party id; the
 * handshake proves a party by a signature under that key. For a small-order public key (the
 * identity point, the point of order 2, the two of order 4, the four of order 8) — or a
 * non-canonical encoding of one — a signature can be made without any secret: for the identity
 * point `A = 01 00…00`, `R = A, S = 0` verifies for every message (S·B = R + h·A holds for every
 * h). Whoever can put such a key into a roster (a key-exchange subtask's result, a roster file)
 * makes that party a seat any outsider on the network can take.
 *
 * The points are checked here independently of the code under test: each listed key decodes to a
 * point P with 8·P = identity (BigInt Edwards arithmetic below).
 */
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';
import { createRoster, parseRoster, Roster } from '../../src/identity/roster';
import { ed25519Verify } from '../../src/crypto/ed25519';
import { getSuite } from '../../src/channel/suite';
import { Initiator } from '../../src/channel/handshake';
import { listenChannels, CHANNEL_PATH, SUBPROTOCOL, type SecureChannel } from '../../src/channel';
import { CouplerError, ErrorCode } from '../../src/errors';
import { testIdentity } from '../support/identity';

const P = 2n ** 255n - 19n;
const mod = (a: bigint): bigint => ((a % P) + P) % P;
const pow = (b: bigint, e: bigint): bigint => {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = mod(r * b);
    b = mod(b * b);
    e >>= 1n;
  }
  return r;
};
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** Decode a 32-byte Edwards encoding to affine (x, y); undefined when not on the curve. */
function decode(enc: Uint8Array): [bigint, bigint] | undefined {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? enc[i]! & 0x7f : enc[i]!);
  const sign = enc[31]! >> 7;
  y = mod(y); // a non-canonical y (>= p) decodes to y - p, as lenient decoders do
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  if (mod(v * x * x) !== u) x = mod(x * SQRT_M1);
  if (mod(v * x * x) !== u) return undefined;
  if (Number(x & 1n) !== sign) x = mod(-x);
  return [x, y];
}
function add([x1, y1]: [bigint, bigint], [x2, y2]: [bigint, bigint]): [bigint, bigint] {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + y1 * x2) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))];
}
function hasSmallOrder(enc: Uint8Array): boolean {
  let p = decode(enc);
  if (p === undefined) return false;
  for (let i = 0; i < 3; i++) p = add(p, p);
  return p[0] === 0n && p[1] === 1n;
}
function encodeY(y: bigint, sign = 0): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((y >> BigInt(8 * i)) & 0xffn);
  out[31]! |= sign << 7;
  return out;
}

/** The y coordinates of the 8 points of small order (order 1, 2, 4, 8), sign bit aside. */
const Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_Y = [1n, P - 1n, 0n, Y8, P - Y8];
/** Every canonical encoding of a small-order point, and the non-canonical ones (y + p, or x = 0 with the sign bit set). */
const WEAK: { name: string; key: Uint8Array }[] = [
  ...SMALL_Y.flatMap((y) => [0, 1].map((s) => ({ name: `y=${y === P - 1n ? 'p-1' : y === P - Y8 ? 'p-y8' : y === Y8 ? 'y8' : String(y)} sign=${s}`, key: encodeY(y, s) }))),
  { name: 'y=p+1 (identity, non-canonical)', key: encodeY(P + 1n) },
  { name: 'y=p (order 4, non-canonical)', key: encodeY(P) },
].filter((w) => decode(w.key) !== undefined);

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

test('the weak keys of this test are small-order points (8·P = identity); real keys are not', () => {
  expect(WEAK.length).toBeGreaterThanOrEqual(10);
  for (const w of WEAK) expect([w.name, hasSmallOrder(w.key)]).toEqual([w.name, true]);
  for (let i = 0; i < 4; i++) expect(hasSmallOrder(testIdentity('x').publicKey)).toBe(false);
});

test('R12-1: for the identity point as a public key, one signature verifies for every message (both backends)', () => {
  const identityPoint = encodeY(1n);
  const forged = new Uint8Array(64);
  forged.set(identityPoint, 0); // R = identity, S = 0
  for (const backend of ['native', 'tweetnacl'] as const) {
    for (const msg of ['hello', 'another message', 'coupler/2 initiator signature']) {
      expect([backend, msg, ed25519Verify(Buffer.from(msg), forged, identityPoint, backend)]).toEqual([backend, msg, false]);
    }
  }
});

test('R12-1: createRoster and parseRoster refuse every small-order key and every non-canonical encoding, naming the entry', () => {
  const honest = testIdentity('1');
  for (const w of WEAK) {
    const entries = [
      { id: '1', publicKey: honest.publicKey },
      { id: '2', publicKey: w.key },
    ];
    let caught: unknown;
    try {
      createRoster(entries);
    } catch (err) {
      caught = err;
    }
    expect([w.name, (caught as CouplerError | undefined)?.code]).toEqual([w.name, ErrorCode.ROSTER_INVALID]);
    expect((caught as Error).message).toMatch(/"2"/);
    expect(() => parseRoster({ version: 1, parties: [{ id: '1', publicKey: b64(honest.publicKey) }, { id: '2', publicKey: b64(w.key) }] })).toThrow(
      expect.objectContaining({ code: ErrorCode.ROSTER_INVALID }),
    );
  }
  // Two parties with two different small-order keys are not "the same key" byte for byte.
  expect(() => createRoster([{ id: 'a', publicKey: encodeY(1n) }, { id: 'b', publicKey: encodeY(P - 1n) }])).toThrow(
    expect.objectContaining({ code: ErrorCode.ROSTER_INVALID }),
  );
  // Real keys still pass.
  expect(createRoster([{ id: '1', publicKey: honest.publicKey }, { id: '2', publicKey: testIdentity('2').publicKey }]).size).toBe(2);
});

test('R12-1: an outsider with no key at all completes a handshake as a roster party whose key is the identity point', async () => {
  // A roster built past the checks (as one from before the fix, or any other code path that
  // skips createRoster): the handshake itself must not accept a weak key either.
  const honest = testIdentity('1');
  const identityPoint = encodeY(1n);
  const roster = new Roster([
    { id: '1', publicKey: honest.publicKey },
    { id: '2', publicKey: identityPoint },
  ]);
  const sessionId = `review12-${randomBytes(6).toString('hex')}`;
  const outcome = new Promise<{ channel?: SecureChannel; error?: CouplerError }>((resolve) => {
    void listenChannels({
      identity: honest,
      roster,
      sessionId,
      host: '127.0.0.1',
      port: 0,
      onChannel: (channel) => resolve({ channel }),
      onHandshakeError: (error) => resolve({ error }),
    }).then((l) => {
      listener = l;
      started(l.port);
    });
  });
  let listener: { close(): Promise<void> } | undefined;
  let started!: (port: number) => void;
  const port = await new Promise<number>((r) => (started = r));

  // The outsider: the real initiator script, whose "signature" is the forged one (no secret key).
  const outsiderSecret = new Uint8Array(64);
  const suite = getSuite('native');
  const realSign = suite.sign;
  const forged = new Uint8Array(64);
  forged.set(identityPoint, 0);
  (suite as { sign: typeof realSign }).sign = (m, sk) => (sk === outsiderSecret ? forged : realSign(m, sk));
  const ws = new WebSocket(`ws://127.0.0.1:${port}${CHANNEL_PATH}`, SUBPROTOCOL);
  ws.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const messages: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (d: Buffer) => {
      messages.push(new Uint8Array(d));
      wake?.();
    });
    const next = async (): Promise<Uint8Array | undefined> => {
      const deadline = Date.now() + 5_000;
      while (messages.length === 0 && Date.now() < deadline && ws.readyState === WebSocket.OPEN) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      return messages.shift();
    };
    const init = new Initiator({ identity: { publicKey: identityPoint, secretKey: outsiderSecret }, localId: '2', roster, sessionId, suite: 'native' });
    ws.send(init.hello());
    const reply = await next();
    expect(reply).toBeDefined();
    ws.send(init.onReply(reply!).finish);
    const result = await outcome;
    result.channel?.destroy();
    // The honest party must refuse: no channel from "2", and the error does not name "2".
    expect(result.channel?.peerId).toBeUndefined();
    expect(result.error?.code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(result.error?.peer).toBeUndefined();
  } finally {
    (suite as { sign: typeof realSign }).sign = realSign;
    ws.terminate();
    await listener?.close();
  }
});
