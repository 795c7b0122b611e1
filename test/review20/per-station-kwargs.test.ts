/**
 * Review 20, R20-5: every station's kwargs come separately from whoever creates the task — one
 * task may give each organization its own input (4.14 `POST /task` `organizations: [{id, input}]`,
 * one run per organization with its own input: `vantage6-server/vantage6/server/resource/task.py:834-850`;
 * 5.0.0rc2 `[{id, arguments}]`: `vantage6-hq/vantage6/hq/resource/common/task_post_base.py:451-456`) — and a compute
 * subtask did nothing to check that the stations compute the same statistic. The central example's
 * `partial` takes `threshold` from its kwargs: a researcher who gives two stations a threshold no
 * value reaches and the third the real one reads that third station's own count from the "pooled"
 * result.
 *
 * Runs the example as `coupler simulate --input` does, per-party kwargs (`perParty`), 3 stations,
 * vantage6 4.x environment, real processes on 127.0.0.1. Needs the built CLI (`dist/cli.js`).
 */
import { join } from 'node:path';
import { joinPeerGroup } from '../../src/vantage6';
import { EXAMPLES, csvColumn, runExample, stationFiles } from '../../examples/_support/harness';

jest.setTimeout(120_000);

const ALGORITHM = join(EXAMPLES, 'central', 'algorithm.ts');
const DATA = stationFiles('central', 3);

test('R20-5: stations given different thresholds do not give away one station\'s count', async () => {
  const values = csvColumn(DATA[1]!, 'hba1c').filter((c) => c !== '' && c !== 'NA').map(Number);
  const stationTwoAlone = values.filter((x) => x >= 48).length;
  const { results, lines } = await runExample({
    algorithm: ALGORITHM,
    method: 'partial',
    dataFiles: DATA,
    perParty: [{ threshold: 1e9 }, { threshold: 48 }, { threshold: 1e9 }],
  });
  const leaked = results.filter((r) => (r as { atOrAbove?: number } | undefined)?.atOrAbove === stationTwoAlone);
  expect({ leaked: leaked.length, stationTwoAlone }).toEqual({ leaked: 0, stationTwoAlone });
  // Every station stops, saying why (the inputs differ), rather than returning a sum.
  expect(results.every((r) => r === undefined)).toBe(true);
  expect(lines.join('\n')).toMatch(/different/);
});

test('R20-5: agreeOn is checked before anything else (typed)', async () => {
  const ctx = { logger: { info() {}, warn() {}, error() {} }, env: undefined } as never;
  for (const agreeOn of ['column', [''], [5], Array.from({ length: 257 }, (_, i) => `k${i}`), ['x'.repeat(129)]]) {
    await expect(joinPeerGroup({}, ctx, {}, { agreeOn } as never)).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
  }
  await expect(joinPeerGroup({}, ctx, {}, null as never)).rejects.toMatchObject({ code: 'COUPLER_ERR_INVALID_ARGUMENT' });
});
