/**
 * A send to a peer that left with a notice waits for the notice's verdict (the blamed party is
 * asked; d36ef10 made the batch flush do the same). That wait took half of the GROUP's round
 * deadline, whatever the run asked for, and the caller's signal did not end it: a run with a 1 s
 * round deadline, aborted by its caller after 300 ms, hung for half the group's default deadline
 * (up to 30 s at the default 60 s) when the notice blamed a party that stays connected but does
 * not answer (frozen, or a colluder ignoring probes). In-process parties, real channels; p3 is
 * frozen towards p1 behind a userspace TCP forwarder.
 */
import { CouplerError, ErrorCode } from '../../src/errors';
import { secureSum } from '../../src/protocols';
import { setup } from '../support/left-blaming-frozen';

test('the caller\'s signal ends a run whose first send waits for a notice\'s verdict', async () => {
  const { g1, g2, g3, via } = await setup();
  try {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const started = Date.now();
    const e = (await secureSum(g1, 1, { roundTimeoutMs: 1_000, signal: stop.signal }).then(
      () => undefined,
      (err: unknown) => err,
    )) as CouplerError;
    const elapsed = Date.now() - started;
    expect(e).toBeInstanceOf(CouplerError);
    expect(e.code).toBe(ErrorCode.ABORTED);
    // Before: about 6 000 ms (half the group's deadline), the signal ignored.
    expect(elapsed).toBeLessThan(2_000);
  } finally {
    await via.close();
    await Promise.all([g1, g2, g3].map((g) => g.close()));
  }
}, 30_000);

test('a run\'s own round deadline bounds that wait, and the verdict still names the party that does not answer', async () => {
  const { g1, g2, g3, via } = await setup();
  try {
    const started = Date.now();
    const e = (await secureSum(g1, 1, { roundTimeoutMs: 1_000 }).then(
      () => undefined,
      (err: unknown) => err,
    )) as CouplerError;
    const elapsed = Date.now() - started;
    expect({ code: e.code, peer: e.peer, peers: e.peers }).toEqual({ code: ErrorCode.PEER_ABORTED, peer: 'p2', peers: ['p3'] });
    // Before: about 6 000 ms (half the group's deadline, not the run's).
    expect(elapsed).toBeLessThan(2_000);
  } finally {
    await via.close();
    await Promise.all([g1, g2, g3].map((g) => g.close()));
  }
}, 30_000);

test('the signal of a receive ends its wait for the verdict on the peer\'s notice too', async () => {
  const { g1, g2, g3, via } = await setup();
  try {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const started = Date.now();
    const e = (await g1.receive('p2', 'x.1/r', { timeoutMs: 8_000, signal: stop.signal }).then(
      () => undefined,
      (err: unknown) => err,
    )) as CouplerError;
    expect(e.code).toBe(ErrorCode.ABORTED);
    // Before: about 4 000 ms (half the receive's deadline), the signal ignored.
    expect(Date.now() - started).toBeLessThan(2_000);
  } finally {
    await via.close();
    await Promise.all([g1, g2, g3].map((g) => g.close()));
  }
}, 30_000);
