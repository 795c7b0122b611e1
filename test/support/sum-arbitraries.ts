/**
 * fast-check generators of secure-sum inputs shared by the protocol property tests: every party
 * gets a value of one common layout (scalar, vector or record; float, bigint or decimal), |x| ≤ B.
 */
import fc from 'fast-check';
import BigNumber from 'bignumber.js';
import type { SumInput } from '../../src/protocols/math/index';

/** The default bound B of the encodings. */
export const DEFAULT_BOUND = 2 ** 31;
const BI = 2n ** 31n;

/** Element kinds. */
export type Kind = 'float' | 'int' | 'decimal';

/** A layout every party shares. */
export type Layout = { kind: 'scalar'; type: Kind } | { kind: 'vector'; type: Kind; length: number; f64: boolean } | { kind: 'record'; length: number };

/** Options of {@link sumInputs}. */
export interface SumArbitraryOptions {
  /** Longest vector (and histogram in a record). */
  readonly maxVectorLength: number;
  /** Longest histogram in a record. */
  readonly maxRecordLength: number;
  /** Mix in the edge values ±B, −1, 0, −0.5 and small floats. */
  readonly edges?: boolean;
  /** Records also carry an exact decimal field `total`. */
  readonly decimalInRecord?: boolean;
}

/** One element of `kind`; decimals have 0..4 places (the default d = 4). */
export function element(kind: Kind, edges = false): fc.Arbitrary<number | bigint | string> {
  const B = DEFAULT_BOUND;
  if (kind === 'float') {
    const plain = fc.double({ min: -B, max: B, noNaN: true });
    return edges ? fc.oneof(plain, fc.double({ min: -1, max: 1, noNaN: true }), fc.constantFrom(-B, B, -0.5, 0)) : plain;
  }
  if (kind === 'int') {
    const plain = fc.bigInt({ min: -BI, max: BI });
    return edges ? fc.oneof(plain, fc.constantFrom(-BI, BI, -1n)) : plain;
  }
  return fc.tuple(fc.bigInt({ min: -BI * 10_000n, max: BI * 10_000n }), fc.integer({ min: 0, max: 4 })).map(([m, places]) => {
    const scaled = (m / 10n ** BigInt(4 - places)) * 10n ** BigInt(4 - places);
    return new BigNumber(scaled.toString()).shiftedBy(-4).toFixed(places);
  });
}

/** A layout. */
export function layoutArb(o: SumArbitraryOptions): fc.Arbitrary<Layout> {
  return fc.oneof(
    fc.record({ kind: fc.constant('scalar' as const), type: fc.constantFrom<Kind>('float', 'int', 'decimal') }),
    fc.record({ kind: fc.constant('vector' as const), type: fc.constantFrom<Kind>('float', 'int', 'decimal'), length: fc.integer({ min: 1, max: o.maxVectorLength }), f64: fc.boolean() }),
    fc.record({ kind: fc.constant('record' as const), length: fc.integer({ min: 1, max: o.maxRecordLength }) }),
  );
}

/** One party's value of `layout`. */
export function valueArb(layout: Layout, o: SumArbitraryOptions): fc.Arbitrary<SumInput> {
  const edges = o.edges === true;
  if (layout.kind === 'scalar') return element(layout.type, edges) as fc.Arbitrary<SumInput>;
  if (layout.kind === 'vector') {
    const arr = fc.array(element(layout.type, edges), { minLength: layout.length, maxLength: layout.length });
    return (layout.type === 'float' && layout.f64 ? arr.map((a) => Float64Array.from(a as number[])) : arr) as fc.Arbitrary<SumInput>;
  }
  const histogram = fc.array(element('float', edges) as fc.Arbitrary<number>, { minLength: layout.length, maxLength: layout.length });
  const sum = element('float', edges) as fc.Arbitrary<number>;
  const count = element('int', edges) as fc.Arbitrary<bigint>;
  return (o.decimalInRecord === true ? fc.record({ sum, count, total: element('decimal') as fc.Arbitrary<string>, histogram }) : fc.record({ sum, count, histogram })) as fc.Arbitrary<SumInput>;
}

/** n values of one common layout, one per party. */
export function sumInputs(n: number, o: SumArbitraryOptions): fc.Arbitrary<SumInput[]> {
  return layoutArb(o).chain((layout) => fc.array(valueArb(layout, o), { minLength: n, maxLength: n }));
}
