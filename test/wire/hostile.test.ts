/**
 * The hostile-value table against the public functions of wire/.
 */
import { decodeMessage, encodeMessage, type PlainData } from '../../src/wire';
import { hostileSweep } from '../support/hostile';

const valid = encodeMessage({ a: 1 });
const as = <T>(v: unknown): T => v as T;

it('encodeMessage and decodeMessage survive the hostile table', async () => {
  const { violations } = await hostileSweep([
    { name: 'encodeMessage(h)', call: (h) => encodeMessage(as<PlainData>(h)) },
    { name: 'encodeMessage({a: [h]})', call: (h) => encodeMessage(as<PlainData>({ a: [h] })) },
    { name: 'decodeMessage(h, 1024)', call: (h) => decodeMessage(as(h), 1024) },
    { name: 'decodeMessage(valid, h)', call: (h) => decodeMessage(valid, as(h)) },
    { name: 'decodeMessage(valid, 1024, h)', call: (h) => decodeMessage(valid, 1024, as(h)) },
    { name: 'decodeMessage(bad, 1024, h)', call: (h) => decodeMessage(new Uint8Array([0xc1]), 1024, as(h)) },
  ]);
  expect(violations).toEqual([]);
});

it('decodeMessage never decodes past a cap it cannot understand', () => {
  // A cap that is not a non-negative number must not silently disable the size check.
  const big = new Uint8Array(encodeMessage('x'.repeat(10_000)));
  for (const cap of [NaN, undefined, null, '100', {}, -1]) {
    let decoded = false;
    try {
      decodeMessage(big, as(cap));
      decoded = true;
    } catch {
      /* refused: good */
    }
    expect({ cap: String(cap), decoded }).toEqual({ cap: String(cap), decoded: false });
  }
});
