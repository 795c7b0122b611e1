/**
 * Review 23 W2: a round deadline whose missing links are all resuming through the relay waits for
 * the resume dials in flight to settle (`Mesh.resumeSettled`, up to the peer's grace and more)
 * before it asks anyone — so as not to blame the relay for a peer that broke its own channels
 * (review14 R14-1). During that wait the party's receive has ended, its trace has not started, and
 * its probe answers said it waited for nobody: a party a round ahead, whose deadline passed then,
 * named it TIMEOUT — an honest party named because p3 broke its channel to it and stayed away.
 *
 * Three parties through a real relay on 127.0.0.1; p3 reaches the relay over a userspace
 * forwarder (test/support/forwarder.ts). p3 sends p2 a frame the relay's hook flips (what p3 could
 * send itself: it holds the channel's keys) and, in that instant, p3's path freezes: its links do
 * not come back, its channels to p1 answer nothing.
 */
import { CouplerError, ErrorCode } from '../../src/errors';
import { encodeMessage } from '../../src/wire/codec';
import { forwarder } from '../support/forwarder';
import { flipLastBit, withRelayGroup } from '../support/relay-group';

jest.setTimeout(60_000);

const outcome = (p: Promise<unknown>): Promise<{ code: string; peers: string[] } | 'ok'> =>
  p.then(
    () => 'ok' as const,
    (e: unknown) => ({ code: (e as CouplerError).code, peers: [...(e as CouplerError).peers] }),
  );

test('W2: a party waiting for its resuming link to p3 to settle says it waits for p3 — the party ahead names p3, not it', async () => {
  let armed = false;
  let frozen: (() => void) | undefined;
  const forward = (_s: string, from: string, to: string, data: Uint8Array): Uint8Array[] => {
    if (!armed || from !== 'p3' || to !== 'p2') return [data];
    armed = false;
    frozen?.();
    return [flipLastBit(data)];
  };
  // Round deadline 12 s: the resume window is the round deadline, the peer's grace half of it (6 s).
  await withRelayGroup({ roundTimeoutMs: 12_000, path: { via: 'p3', open: forwarder }, relay: { _hooks: { forward } } }, async ({ groups, path }) => {
    const [p1, p2, p3] = groups;
    frozen = () => path.freeze();
    const run = p1!.nextRunId('x');
    p2!.nextRunId('x');
    p3!.nextRunId('x');
    // p2 waits for p3 (a receive, as the echo's rounds do); p1, a round ahead, waits for p2.
    const behind = outcome(p2!.receive('p3', `${run}/a`, { timeoutMs: 2_000 }));
    const ahead = outcome(p1!.gather(`${run}/b`, { from: ['p2'], timeoutMs: 3_000 }));
    armed = true;
    await p3!._sendRaw('p2', encodeMessage({ r: 'r23.junk', p: 1 }));
    // p2's deadline (2 s) finds only p3's link, resuming: it waits for its admitted dial's grace
    // (6 s from the admission) before asking. p1's deadline (3 s) falls inside that wait. Before:
    // p2 answered "waiting for nobody", and p1 named p2.
    expect(await ahead).toEqual({ code: ErrorCode.TIMEOUT, peers: ['p3'] });
    expect(await behind).toMatchObject({ peers: ['p3'] });
  });
});
