/**
 * review15 — the aggregated opening's long-vector paths (pieces and chunk answers streamed in parts
 * of 2^17 elements, dispute openings in parts) attacked by one party that rewrites only its own
 * messages, re-signing with its own key (docs/reviews/review15-dk-aggregate.md). n = 4, chunks
 * of 2^17 + 1 elements: two parts each.
 */
import { changeAnswer, expectAllNamed, vec } from './support';
import { createTestGroups, settleAll } from '../support/group-harness';
import { dkSecureSum } from '../../src/protocols';
import { _rebuildPolicy } from '../../src/protocols/additive';
import { AGGREGATE_PART_ELEMENTS } from '../../src/protocols/aggregate';
import { ErrorCode } from '../../src/errors';

const policy = _rebuildPolicy.minElements;
afterEach(() => {
  _rebuildPolicy.minElements = policy;
});

const LONG = 4 * (AGGREGATE_PART_ELEMENTS + 1);

describe('a changed chunk answer, partial sums rebuilt from seeds (_rebuildPolicy lowered to 1)', () => {
  test('long vectors (streamed pieces and answers, dispute in parts), to everyone: TAMPERING_DETECTED naming the aggregator', async () => {
    _rebuildPolicy.minElements = 1;
    const c = await createTestGroups(4, { roundTimeoutMs: 8000 });
    try {
      changeAnswer(c.byId.get('p3')!, LONG, ['p1', 'p2', 'p4']);
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, LONG))));
      expectAllNamed(c.ids, out, 'p3', ErrorCode.TAMPERING_DETECTED);
    } finally {
      await c.close();
    }
  }, 60_000);
});

describe('long vectors: streamed chunk answers (partial sums kept)', () => {
  test('an aggregator streams p1 a different (signed) answer than the others: EQUIVOCATION naming it at every honest party', async () => {
    const c = await createTestGroups(4, { roundTimeoutMs: 8000 });
    try {
      changeAnswer(c.byId.get('p3')!, LONG, ['p1']);
      const out = await settleAll(c.groups.map((g, i) => dkSecureSum(g, vec(i, LONG))));
      expectAllNamed(c.ids, out, 'p3', ErrorCode.EQUIVOCATION);
    } finally {
      await c.close();
    }
  }, 60_000);
});
