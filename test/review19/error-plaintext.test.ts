/**
 * review19 R19-3: an error never carries plaintext — also not in its `cause`, which Node prints
 * with the error (util.inspect, console.error, an uncaught rejection). A payload holding a bigint
 * outside msgpack's 64-bit range failed `encodeMessage` / `encodeRoundMessage` with a clean
 * message, but the cause was msgpackr's RangeError, which starts with the value itself.
 */
import { inspect } from 'node:util';
import { CouplerError, ErrorCode } from '../../src/errors';
import { encodeMessage, encodeRoundMessage, type PlainData } from '../../src/wire/codec';

const SECRET = 123456789012345678901234567890n;
const NEG = -(2n ** 64n) - 987654321n;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** Every message text of the error and its causes, as Node would print them. */
function everything(err: unknown): string {
  let out = inspect(err, { depth: 10 });
  for (let e: unknown = err; e instanceof Error; e = e.cause) out += '\n' + e.message + '\n' + String(e.stack);
  return out;
}

describe('R19-3: a value that cannot be encoded is not written into the error (nor its cause)', () => {
  for (const [name, value] of [
    ['a bigint above 2^64 - 1', SECRET],
    ['a bigint below -2^63', NEG],
  ] as const) {
    for (const [fn, encode] of [
      ['encodeMessage', (p: PlainData) => encodeMessage({ r: 'x.1/r', p })],
      ['encodeRoundMessage', (p: PlainData) => encodeRoundMessage('x.1/r', p)],
    ] as const) {
      it(`${fn}: ${name} in a payload`, () => {
        const err = thrown(() => encode({ input: [1, { v: value }] }));
        expect(err).toBeInstanceOf(CouplerError);
        expect((err as CouplerError).code).toBe(ErrorCode.FRAME_MALFORMED);
        const text = everything(err);
        expect(text).not.toContain(String(value));
        expect(text).not.toContain(String(value).slice(1, 12));
      });
    }
  }

  it('the largest and smallest 64-bit integers still encode', () => {
    expect(() => encodeMessage({ a: 2n ** 64n - 1n, b: -(2n ** 63n) })).not.toThrow();
  });
});
