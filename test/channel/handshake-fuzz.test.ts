/**
 * fast-check fuzzing of the handshake parsers: random bytes and randomly-typed fields only ever
 * produce CouplerErrors (or, for well-formed input, a result).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CouplerError } from '../../src/errors';
import { encodeMessage, type PlainData } from '../../src/wire';
import { Initiator, PROTOCOL_VERSION, Responder, sessionTag, type HandshakeConfig } from '../../src/channel/handshake';
import { SUITES } from '../../src/channel';
import { SESSION, parties } from './_helpers';

const { ids, roster } = parties('a', 'b');
const cfg = (id: 'a' | 'b', suite: (typeof SUITES)[number] = 'native'): HandshakeConfig => ({ identity: ids[id]!, localId: id, roster, sessionId: SESSION, suite });

function onlyCoupler(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CouplerError)) throw new Error(`not a CouplerError: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

const anyPlain: fc.Arbitrary<PlainData> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 300 }),
  fc.double(),
  fc.string({ maxLength: 70 }),
  fc.constantFrom('a', 'b', 'c', SESSION, 'native', 'tweetnacl', 'hello', 'reply', 'finish', 'ok', 'refuse', 'busy', 'self'),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.uint8Array({ minLength: 0, maxLength: 70 }),
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fc.uint8Array({ minLength: 64, maxLength: 64 }),
  fc.constant(new Uint8Array(32)), // all-zero (low-order) X25519 key
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.bigInt({ min: -1n, max: 2n ** 64n - 1n }),
);
const msgOf = (keys: string[]): fc.Arbitrary<Uint8Array> =>
  fc.dictionary(fc.constantFrom(...keys), anyPlain, { maxKeys: keys.length }).map((o) => encodeMessage(o));

describe.each(SUITES)('%s', (suite) => {
  it('Responder.onHello(random bytes) only throws CouplerErrors', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyCoupler(() => new Responder(cfg('b', suite)).onHello(b))), { numRuns: suite === 'native' ? 2000 : 400 });
  });

  it('Responder.onHello(random fields) only throws CouplerErrors', () => {
    fc.assert(
      fc.property(msgOf(['t', 'v', 'suite', 'eph', 'nonce', 'st', 'reason', 'extra']), (b) => onlyCoupler(() => new Responder(cfg('b', suite)).onHello(b))),
      { numRuns: suite === 'native' ? 1500 : 300 },
    );
  });

  it('Initiator.onReply(random bytes / random fields) only throws CouplerErrors', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), msgOf(['t', 'eph', 'nonce', 'box', 'reason'])), (b) => {
        const ini = new Initiator(cfg('a', suite), 'b');
        ini.hello();
        onlyCoupler(() => ini.onReply(b));
      }),
      { numRuns: suite === 'native' ? 1000 : 200 },
    );
  });

  it('Responder.onFinish(random) after a real hello only throws CouplerErrors', () => {
    const hello = new Initiator(cfg('a', suite)).hello();
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), msgOf(['t', 'box', 'reason'])), (b) => {
        const r = new Responder(cfg('b', suite));
        r.onHello(hello);
        onlyCoupler(() => r.onFinish(b));
      }),
      // Each run is a real handshake first: ~0.3 s with the pure-JS suite, so fewer there.
      { numRuns: suite === 'native' ? 300 : 60 },
    );
  });

  it('Initiator.onOk(random) after a real reply only throws CouplerErrors', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), msgOf(['t', 'mac', 'reason'])), (b) => {
        const ini = new Initiator(cfg('a', suite), 'b');
        const r = new Responder(cfg('b', suite));
        const { reply } = r.onHello(ini.hello());
        ini.onReply(reply);
        onlyCoupler(() => ini.onOk(b));
      }),
      { numRuns: suite === 'native' ? 200 : 40 },
    );
  });

  it('a low-order (all-zero) ephemeral key with a valid session tag is refused', () => {
    const r = new Responder(cfg('b', suite));
    const eph = new Uint8Array(32);
    const nonce = new Uint8Array(randomBytes(32));
    const hello = encodeMessage({ t: 'hello', v: PROTOCOL_VERSION, suite, eph, nonce, st: sessionTag(SESSION, eph, nonce) });
    let err: unknown;
    try {
      r.onHello(hello);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CouplerError);
    expect((err as Error).message).toMatch(/ephemeral key/);
  });
});

it('onReply before hello and onFinish before hello are CouplerErrors', () => {
  expect(() => new Initiator(cfg('a')).onReply(new Uint8Array([0x80]))).toThrow(CouplerError);
  expect(() => new Responder(cfg('b')).onFinish(new Uint8Array([0x80]))).toThrow(CouplerError);
});
