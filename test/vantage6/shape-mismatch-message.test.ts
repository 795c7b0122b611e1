/**
 * What a station sees when another station's input has another shape (issue 19): the
 * SHAPE_MISMATCH message says "party" for one, and names this party's shape (public: field
 * names, types, lengths — never values); the other party sends only a digest of its shape.
 * Three real parties over loopback (test/support/group-harness).
 */
import { secureSum } from '../../src/protocols';
import { ErrorCode } from '../../src/errors';
import { createTestGroups } from '../support/group-harness';

test('a vector of another length at one party: the others name it, as "party", with their own shape', async () => {
  const tg = await createTestGroups(3);
  try {
    const outcomes = await Promise.allSettled(
      tg.groups.map((g, i) => secureSum(g, { count: 3n, mean: i === 2 ? [1, 2, 3] : [1, 2] })),
    );
    const messages = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code: string; message: string }) : undefined));
    expect(messages[0]).toMatchObject({ code: ErrorCode.SHAPE_MISMATCH });
    expect(messages[0]!.message).toBe(
      'party "p3" disagrees with this party: the shape of the values differs (this party: {count: int scalar, mean: float vector of 2}; party "p3" sends only a digest of its shape)',
    );
    expect(messages[2]!.message).toMatch(/^parties "p1", "p2" disagree with this party: the shape of the values differs \(this party: \{count: int scalar, mean: float vector of 3\}/);
  } finally {
    await tg.close();
  }
});
