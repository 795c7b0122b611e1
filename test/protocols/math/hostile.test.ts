/**
 * A shared table of hostile values run against every public function of the math layer, in
 * every argument position and nested inside containers: each call must return normally or throw
 * a typed CouplerError — never a TypeError/RangeError, a crash, a hang or a giant allocation.
 */
import * as math from '../../../src/protocols/math/index';
import { CouplerError } from '../../../src/errors';

const throwingGetter = Object.defineProperty({}, 'a', {
  get() {
    throw new Error('getter');
  },
  enumerable: true,
});
const arrayWithGetter: unknown[] = [1, 2];
Object.defineProperty(arrayWithGetter, 1, {
  get() {
    throw new Error('index getter');
  },
});
const trap = () => {
  throw new Error('trap');
};
const proxyHandler: ProxyHandler<object> = { get: trap, getPrototypeOf: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, has: trap };
const nullProto = Object.create(null) as Record<string, unknown>;
nullProto['x'] = 1;

const HOSTILE: [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-1', -1],
  ['1.5', 1.5],
  ['2^53', 2 ** 53],
  ['1e12', 1e12],
  ['-0', -0],
  ['empty object', {}],
  ['fake array-like {length: 1e12}', { length: 1e12 }],
  ['fake Uint8Array', { length: 1e12, byteLength: 1e12, byteOffset: 0, buffer: new ArrayBuffer(8), BYTES_PER_ELEMENT: 1 }],
  ['fake Uint32Array', Object.create(Uint32Array.prototype) as object],
  ['huge sparse array', new Array(2 ** 32 - 1)],
  ['sparse array', [, 1n] as unknown[]],
  ['empty array', []],
  ['[NaN]', [NaN]],
  ['array of objects', [{}, {}]],
  ['Symbol', Symbol('s')],
  ['function', () => 1],
  ['Proxy (throwing traps)', new Proxy({}, proxyHandler)],
  ['Proxy of array', new Proxy([1n, 2n], {})],
  ['Proxy of Uint32Array', new Proxy(new Uint32Array(4), {})],
  ['Proxy of Uint8Array', new Proxy(new Uint8Array(32), {})],
  ['Object.create(null) record', nullProto],
  ['throwing getter', throwingGetter],
  ['array with throwing index getter', arrayWithGetter],
  ['empty string', ''],
  ['long string', 'x'.repeat(100_000)],
  ['bigint -1', -1n],
  ['bigint huge', 1n << 300n],
  ['Uint8Array(7)', new Uint8Array(7)],
  ['Uint32Array(3)', new Uint32Array(3)],
  ['Float32Array', new Float32Array(2)],
  ['Map', new Map([['a', 5]])],
  ['Date', new Date(0)],
  ['BigNumber-lookalike', { _isBigNumber: true, s: 1, e: 1e15, c: [1] }],
  ['BigNumber-lookalike throwing', { _isBigNumber: true, toFixed: trap, s: 1, e: 0, c: null }],
];

const seed = new Uint8Array(32).fill(1);
const shape = math.describeShape({ a: [1, 2], b: 3n });
const ringParams: math.EncodingParams = { parties: 3, modulus: 'ring64' };
const fieldParams: math.EncodingParams = { parties: 3, modulus: 'p127' };
const pts = (): math.ShamirPoint[] => [
  { x: 1n, y: [1n] },
  { x: 2n, y: [2n] },
  { x: 3n, y: [3n] },
];
const graph = () => math.shareGraph(['a', 'b', 'c'], 2, seed);

/** Each public function with valid default arguments. */
const FUNCTIONS: [string, (...args: never[]) => unknown, () => unknown[]][] = [
  ['r64Zeros', math.r64Zeros, () => [3]],
  ['r64Random', math.r64Random, () => [3]],
  ['r64AddInPlace', math.r64AddInPlace, () => [math.r64Zeros(2), math.r64Zeros(2)]],
  ['r64SubInPlace', math.r64SubInPlace, () => [math.r64Zeros(2), math.r64Zeros(2)]],
  ['r64Add', math.r64Add, () => [math.r64Zeros(2), math.r64Zeros(2)]],
  ['r64Sub', math.r64Sub, () => [math.r64Zeros(2), math.r64Zeros(2)]],
  ['r64Length', math.r64Length, () => [math.r64Zeros(2)]],
  ['r64FromBytes', math.r64FromBytes, () => [new Uint8Array(16)]],
  ['r64ToBytes', math.r64ToBytes, () => [math.r64Zeros(2)]],
  ['r64FromBigInts', math.r64FromBigInts, () => [[1n, 2n]]],
  ['r64ToBigInts', math.r64ToBigInts, () => [math.r64Zeros(2)]],
  ['r64Equal', math.r64Equal, () => [math.r64Zeros(2), math.r64Zeros(2)]],
  ['expandSeed', math.expandSeed, () => [seed, 3, 'd']],
  ['expandSeedField', math.expandSeedField, () => [seed, 3, 'd']],
  ['isFieldElement', math.isFieldElement, () => [1n]],
  ['fReduce', math.fReduce, () => [5n]],
  ['fAdd', math.fAdd, () => [1n, 2n]],
  ['fSub', math.fSub, () => [1n, 2n]],
  ['fMul', math.fMul, () => [1n, 2n]],
  ['fNeg', math.fNeg, () => [1n]],
  ['fInv', math.fInv, () => [3n]],
  ['fRandom', math.fRandom, () => []],
  ['fRandomVector', math.fRandomVector, () => [3]],
  ['fVecAdd', math.fVecAdd, () => [[1n], [2n]]],
  ['fVecAddInPlace', math.fVecAddInPlace, () => [[1n], [2n]]],
  ['fVecSub', math.fVecSub, () => [[1n], [2n]]],
  ['fVecScale', math.fVecScale, () => [[1n], 2n]],
  ['shamirShare', math.shamirShare, () => [[1n, 2n], 2, [1n, 2n, 3n]]],
  ['lagrangeAtZero', math.lagrangeAtZero, () => [pts()]],
  ['checkDegree', math.checkDegree, () => [pts(), 2]],
  ['evaluationPoints', math.evaluationPoints, () => [3]],
  ['describeShape', math.describeShape, () => [{ a: [1, 2] }, 100]],
  ['shapeLength', math.shapeLength, () => [shape]],
  ['assertShape', math.assertShape, () => [JSON.parse(JSON.stringify(shape)), 100]],
  ['shapeDigest', math.shapeDigest, () => [shape]],
  ['assertShapesEqual', math.assertShapesEqual, () => [shape, shape]],
  ['checkParams', math.checkParams, () => [{ ...ringParams }]],
  ['encodeRing64', math.encodeRing64, () => [{ a: [1, 2], b: 3n }, { ...ringParams }]],
  ['decodeRing64', math.decodeRing64, () => [shape, math.r64Zeros(3), { ...ringParams }]],
  ['encodeField', math.encodeField, () => [{ a: [1, 2], b: 3n }, { ...fieldParams }]],
  ['decodeField', math.decodeField, () => [shape, [0n, 0n, 0n], { ...fieldParams }]],
  ['shareGraph', math.shareGraph, () => [['a', 'b', 'c'], 2, seed]],
  ['receivers', math.receivers, () => [graph(), 'a']],
  ['senders', math.senders, () => [graph(), 'a']],
  ['exposedParties', math.exposedParties, () => [graph(), ['b']]],
  ['collusionThreshold', math.collusionThreshold, () => [5, 3]],
];

/** Hostile values nested inside otherwise valid structures. */
const NESTED: [string, (h: unknown) => () => unknown][] = [
  ['encodeRing64 record field', (h) => () => math.encodeRing64({ a: h } as never, ringParams)],
  ['encodeRing64 vector element', (h) => () => math.encodeRing64([1, h] as never, ringParams)],
  ['encodeRing64 bigint vector element', (h) => () => math.encodeRing64([1n, h] as never, ringParams)],
  ['encodeRing64 decimal vector element', (h) => () => math.encodeRing64(['1', h] as never, ringParams)],
  ['encodeField record field', (h) => () => math.encodeField({ a: [1, 2], b: h } as never, fieldParams)],
  ['params.bound', (h) => () => math.encodeRing64(1, { ...ringParams, bound: h } as never)],
  ['params.fractionalBits', (h) => () => math.checkParams({ ...ringParams, fractionalBits: h } as never)],
  ['params.parties', (h) => () => math.checkParams({ ...ringParams, parties: h } as never)],
  ['params.maxElements', (h) => () => math.checkParams({ ...ringParams, maxElements: h } as never)],
  ['shape.entries', (h) => () => math.assertShape({ kind: 'record', entries: h })],
  ['shape entry', (h) => () => math.assertShape({ kind: 'record', entries: [h] })],
  ['shape entry length', (h) => () => math.assertShape({ kind: 'vector', entries: [{ name: '', type: 'float', kind: 'vector', length: h }] })],
  ['shape entry name', (h) => () => math.assertShape({ kind: 'record', entries: [{ name: h, type: 'float', kind: 'scalar', length: 1 }] })],
  ['shamir point', (h) => () => math.lagrangeAtZero([pts()[0]!, h] as never)],
  ['shamir point.x', (h) => () => math.checkDegree([...pts(), { x: h, y: [1n] }] as never, 2)],
  ['shamir point.y', (h) => () => math.checkDegree([...pts(), { x: 9n, y: h }] as never, 2)],
  ['shamir secret element', (h) => () => math.shamirShare([1n, h] as never, 2, [1n, 2n])],
  ['shamir xs element', (h) => () => math.shamirShare([1n], 1, [1n, h] as never)],
  ['r64FromBigInts element', (h) => () => math.r64FromBigInts([1n, h] as never)],
  ['fVecAdd element', (h) => () => math.fVecAdd([1n, h] as never, [1n, 2n])],
  ['partyIds element', (h) => () => math.shareGraph(['a', h] as never, 2, seed)],
  ['graph value', (h) => () => math.receivers(new Map([['a', h]]) as never, 'a')],
  ['graph value (exposedParties)', (h) => () => math.exposedParties(new Map([['a', h]]) as never, ['b'])],
  ['coalition element', (h) => () => math.exposedParties(graph(), ['a', h] as never)],
];

function expectTyped(label: string, fn: () => unknown): void {
  const t0 = performance.now();
  try {
    fn();
  } catch (err) {
    if (!(err instanceof CouplerError)) {
      throw new Error(`${label}: threw a non-coupler ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    }
  }
  const ms = performance.now() - t0;
  if (ms > 2000) throw new Error(`${label}: took ${ms.toFixed(0)} ms`);
}

describe('hostile values against every public function', () => {
  test.each(FUNCTIONS)('%s: valid defaults work', (_name, fn, args) => {
    expect(() => (fn as (...a: unknown[]) => unknown)(...args())).not.toThrow();
  });

  test.each(FUNCTIONS)('%s: every argument position', (name, fn, args) => {
    const base = args();
    const positions = Math.max(base.length, 1) + 1; // also one extra argument
    for (let pos = 0; pos < positions; pos++) {
      for (const [hname, h] of HOSTILE) {
        const a = args();
        a[pos] = h;
        expectTyped(`${name} arg ${pos} = ${hname}`, () => (fn as (...x: unknown[]) => unknown)(...a));
      }
    }
  });

  test.each(NESTED)('%s', (name, make) => {
    for (const [hname, h] of HOSTILE) expectTyped(`${name} = ${hname}`, make(h));
  });

  test('messages never contain the offending value', () => {
    const secret = 123456.789;
    for (const input of [[1, secret], { w: secret }, secret, new Float64Array([secret])]) {
      try {
        math.encodeRing64(input as math.SumInput, { parties: 3, bound: 1000, modulus: 'ring64' });
        throw new Error('expected refusal');
      } catch (e) {
        expect(e).toBeInstanceOf(CouplerError);
        expect((e as Error).message).not.toMatch(/123456/);
      }
    }
    try {
      math.encodeRing64(['1', '98765.4321x'], { parties: 3, modulus: 'ring64' });
    } catch (e) {
      expect((e as Error).message).not.toMatch(/98765/);
    }
  });
});
