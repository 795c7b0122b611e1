/**
 * thresholdSum tolerates parties that left: its sends to them fail and are ignored. But a send to
 * a peer that left with a notice first waits for that notice's verdict (the blamed party is
 * asked), at half the GROUP's round deadline, before failing: every step's sends of every later
 * run waited that long for an answer they then threw away, whatever the run's deadline. Here p2
 * left blaming p3, who does not answer p1 (test/support/left-blaming-frozen.ts); p1's run, with a
 * 1 s round deadline, took over 6 s (half the group's 12 s) before it even waited for a shape.
 */
import { CouplerError } from '../../src/errors';
import { thresholdSum } from '../../src/protocols';
import { setup } from '../support/left-blaming-frozen';

test('a thresholdSum run does not wait on verdicts about a peer that already left', async () => {
  const { g1, g2, g3, via } = await setup();
  try {
    const started = Date.now();
    const out = await thresholdSum(g1, 1, { t: 2, roundTimeoutMs: 1_000 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(out).toBeInstanceOf(CouplerError); // p3 is out of reach: the run fails, promptly
    // Before: over 6 000 ms.
    expect(Date.now() - started).toBeLessThan(3_500);
  } finally {
    await via.close();
    await Promise.all([g1, g2, g3].map((g) => g.close()));
  }
}, 30_000);
