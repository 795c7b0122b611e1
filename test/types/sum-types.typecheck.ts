/**
 * Type test (checked by `npm run typecheck`, which `npm test` runs first; not a jest suite): the
 * sum functions' results mirror their inputs, so an algorithm needs no `as any`. Each line
 * asserts exact type equality; the `@ts-expect-error` lines must NOT compile.
 */
import BigNumber from 'bignumber.js';
import { checkSumInput, dkSecureSum, plainSum, ringSecureSum, secureSum, thresholdSum, type Group, type SumInput, type SumOutput, type SumResult } from '../../src';

interface Stats {
  total: number;
  count: bigint;
  readonly hist: readonly number[];
}
interface WithOptional {
  total: number;
  count?: bigint;
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}
type SumOf<P> = P extends Promise<SumResult<infer T>> ? T : never;

export async function typeChecks(g: Group): Promise<void> {
  // Scalars.
  assertType<Equal<SumOf<ReturnType<typeof secureSum<number>>>, number>>();
  const a = await secureSum(g, 1.5);
  assertType<Equal<typeof a.sum, number>>();
  const b = await secureSum(g, 3n);
  assertType<Equal<typeof b.sum, bigint>>();
  const c = await secureSum(g, '12.25');
  assertType<Equal<typeof c.sum, string>>();
  const d = await secureSum(g, new BigNumber('1.5'));
  assertType<Equal<typeof d.sum, BigNumber>>();

  // Vectors: every array of numbers gives a Float64Array; readonly arrays are accepted.
  const v1 = await secureSum(g, [1, 2, 3]);
  assertType<Equal<typeof v1.sum, Float64Array>>();
  const n0: number = v1.sum[0]!;
  const ro: readonly number[] = [1, 2];
  assertType<Equal<(typeof v1)['sum'], SumOf<ReturnType<typeof secureSum<typeof ro>>>>>();
  const v2 = await dkSecureSum(g, new Int32Array([1, 2]));
  assertType<Equal<typeof v2.sum, Float64Array>>();
  const v3 = await thresholdSum(g, new Float32Array([1, 2]));
  assertType<Equal<typeof v3.sum, Float64Array>>();
  const v4 = await secureSum(g, [1n, 2n]);
  assertType<Equal<typeof v4.sum, bigint[]>>();
  const v5 = await secureSum(g, new BigInt64Array([1n]));
  assertType<Equal<typeof v5.sum, bigint[]>>();
  const v6 = await secureSum(g, ['1.5', '2']);
  assertType<Equal<typeof v6.sum, string[]>>();
  const v7 = await secureSum(g, [new BigNumber(1)]);
  assertType<Equal<typeof v7.sum, BigNumber[]>>();

  // Records: the same record of mapped fields.
  const r = await secureSum(g, { total: 12.5, count: 3n, hist: [1, 2, 3], money: '10.01' });
  assertType<Equal<typeof r.sum, { total: number; count: bigint; hist: Float64Array; money: string }>>();
  const mean: number = r.sum.total / Number(r.sum.count);
  const first: number = r.sum.hist[0]!;
  // @ts-expect-error count is a bigint, not a number
  const wrong: number = r.sum.count;
  // @ts-expect-error no such field
  void r.sum.missing;

  // A record typed by an interface (no index signature) is a record too, and so is a const one.
  const stats: Stats = { total: 12.5, count: 3n, hist: [1, 2] };
  checkSumInput(stats);
  const i1 = await secureSum(g, stats);
  assertType<Equal<typeof i1.sum, { total: number; count: bigint; hist: Float64Array }>>();
  const i2 = await thresholdSum(g, { n: 1, v: new Uint8Array([1]) } as const);
  assertType<Equal<typeof i2.sum, { n: number; v: Float64Array }>>();
  // @ts-expect-error a field that is not a sum field (a Date) is refused by the types, not only at run time
  void secureSum(g, { when: new Date() });
  // @ts-expect-error an interface with an optional field: undefined is not a sum field
  void dkSecureSum(g, {} as WithOptional);
  // @ts-expect-error a DataView is not a vector the sums accept
  void secureSum(g, new DataView(new ArrayBuffer(8)));

  // Baselines too.
  const p = await plainSum(g, { n: 1n }, { acknowledgeInsecure: true });
  assertType<Equal<typeof p.sum, { n: bigint }>>();
  const q = await ringSecureSum(g, 2, { acknowledgeInsecure: true });
  assertType<Equal<typeof q.sum, number>>();

  // An input only known as SumInput still type-checks, as the union of outputs.
  const any: SumInput = Math.random() > 0.5 ? 1 : [1];
  const u = await secureSum(g, any);
  const asOutput: SumOutput = u.sum;
  void [n0, mean, first, wrong, asOutput];
}
