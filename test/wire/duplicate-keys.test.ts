/**
 * A msgpack map with the same key twice has two readings: msgpackr keeps the last value, other
 * decoders the first. A peer's signed statement with a duplicated key (`r`: another round's name,
 * then this round's) was read one way here and kept, as signed, as evidence another verifier reads
 * the other way (review17 R17-6, fixed for the echo's fallback lists only). Every other signed
 * statement kept as evidence (aggregate, threshold, relay opening) and every message went through
 * the same codec: the class is closed where everything is decoded. An honest encoder never writes
 * a duplicate key (a JavaScript object has none), so refusing one costs an honest peer nothing.
 */
import { ErrorCode, ProtocolError } from '../../src/errors';
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire';
import { decodeMessageCost, decodeRoundMessage } from '../../src/wire/codec';

const str = (s: string): number[] => [0xa0 + s.length, ...Buffer.from(s)];

function refused(bytes: number[]): void {
  const b = Uint8Array.from(bytes);
  expect(() => decodeMessage(b, 1 << 20, { peer: 'p2' })).toThrow(ProtocolError);
  try {
    decodeMessageCost(b, 1 << 20, { peer: 'p2' });
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ErrorCode.FRAME_MALFORMED);
    expect((err as ProtocolError).peers).toEqual(['p2']);
    expect((err as Error).message).toMatch(/key/);
    // The group's fast path for round messages ({r, p}) refuses it too, or leaves it to the above.
    let fast: unknown;
    try {
      fast = decodeRoundMessage(b, 1 << 20, { peer: 'p2' });
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).code).toBe(ErrorCode.FRAME_MALFORMED);
      return;
    }
    expect(fast).toBeUndefined();
    return;
  }
  throw new Error('accepted');
}

describe('a map with a duplicated key is refused, at any depth', () => {
  test('top level: {a: 1, a: 2}', () => refused([0x82, ...str('a'), 1, ...str('a'), 2]));
  test('as a statement would carry it: {r: "x/1", from: "p3", r: "x/2"}', () => refused([0x83, ...str('r'), ...str('x/1'), ...str('from'), ...str('p3'), ...str('r'), ...str('x/2')]));
  test('nested in an array in a map: {p: [{k: 1, k: 1}]}', () => refused([0x81, ...str('p'), 0x91, 0x82, ...str('k'), 1, ...str('k'), 1]));
  test('map 16 with a duplicate among 20 keys', () => {
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    keys[19] = 'k3';
    refused([0xde, 0, 20, ...keys.flatMap((k, i) => [...str(k), i])]);
  });
  test('round-message envelope: {r: "a", r: "b", p: 1} and {r: "a", p: {x: 1, x: 2}}', () => {
    refused([0x83, ...str('r'), ...str('a'), ...str('r'), ...str('b'), ...str('p'), 1]);
    refused([0x82, ...str('r'), ...str('a'), ...str('p'), 0x82, ...str('x'), 1, ...str('x'), 2]);
  });
  test('"__proto__" beside "__proto_" (msgpackr renames the first to the second)', () => refused([0x82, ...str('__proto_'), 1, ...str('__proto__'), 2]));
});

test('a round message whose payload holds a key twice is refused by the fast path itself', () => {
  const b = Uint8Array.from([0x82, ...str('r'), ...str('sum.1/x'), ...str('p'), 0x82, ...str('k'), 1, ...str('k'), 2]);
  expect(() => decodeRoundMessage(b, 1 << 20, { peer: 'p2' })).toThrow(/key twice/);
  const ok = Uint8Array.from([0x82, ...str('r'), ...str('sum.1/x'), ...str('p'), 0x82, ...str('k'), 1, ...str('j'), 2]);
  expect(decodeRoundMessage(ok, 1 << 20)).toMatchObject({ round: 'sum.1/x', payload: { k: 1, j: 2 } });
});

test('the same keys in different maps, and every honest encoding, still decode', () => {
  const v: { r: string; p: { [k: string]: PlainData }; a: string } = { r: 'sum.1/shape/v', p: { a: 1, b: [{ a: 2 }, { a: 3, b: { a: 4 } }], c: new Uint8Array([1, 2]) }, a: 'x' };
  expect(decodeMessage(encodeMessage(v), 1 << 20)).toEqual({ ...v, p: { ...v.p, c: Buffer.from([1, 2]) } });
  const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, i]));
  expect(decodeMessage(encodeMessage(wide), 1 << 20)).toEqual(wide);
  const indexed = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [String(i), i]));
  expect(decodeMessage(encodeMessage(indexed), 1 << 20)).toEqual(indexed);
});
