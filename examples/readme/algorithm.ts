import { checkSumInput, secureSum } from 'coupler';
import { joinPeerGroup, numericColumn, readStationTable, type AlgorithmContext } from 'coupler/vantage6';

export async function partial(kwargs: Record<string, unknown>, ctx: AlgorithmContext) {
  const { values } = numericColumn(await readStationTable(ctx), 'age'); // this station's data
  const mine = { total: values.reduce((a, x) => a + x, 0), count: BigInt(values.length) };
  checkSumInput(mine);                                          // refuse bad data before joining
  const group = await joinPeerGroup(kwargs, ctx);               // discover, authenticate, connect
  try {
    const { sum } = await secureSum(group, mine);               // one run sums the whole record
    return { mean: sum.total / Number(sum.count) };             // sum: { total: number; count: bigint }
  } finally {
    await group.close();
  }
}
