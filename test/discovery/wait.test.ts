/**
 * waitForPeers: union across polls, deadlines, aborts, transient vs fatal errors, no leaked timers.
 * The discoveries here are real (env, static) or small hand-written implementations of the
 * interface that misbehave on purpose (hang, throw).
 */
import { CouplerError, DiscoveryError, ErrorCode, InvalidArgumentError } from '../../src/errors';
import { envDiscovery } from '../../src/discovery/env';
import { staticDiscovery } from '../../src/discovery/static';
import type { Discovery, PeerAddress } from '../../src/discovery/types';
import { waitForPeers } from '../../src/discovery/wait';
import { timed } from '../support/dns-udp';
import { createHook } from 'node:async_hooks';

/**
 * Run `fn` and report how many timers created by `src/discovery` code are still pending
 * afterwards. Uses an async hook (creation/destruction of `Timeout` resources) and the creation
 * stack, so the test runner's own timers (its reporter ticks during the run) do not count.
 */
async function leakedTimers(fn: () => Promise<unknown>): Promise<number> {
  const live = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout' && /[\\/]src[\\/]discovery[\\/]/.test(new Error().stack ?? '')) live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();
  try {
    await fn().catch(() => undefined);
    // destroy hooks of cleared timers run asynchronously: let them through.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    hook.disable();
  }
  return live.size;
}

/** A discovery whose answers follow a script, one per call (the last repeats). */
function scripted(steps: readonly (PeerAddress[] | Error)[]): Discovery & { calls: number } {
  const d = {
    kind: 'scripted',
    calls: 0,
    discover(): Promise<PeerAddress[]> {
      const step = steps[Math.min(d.calls, steps.length - 1)];
      d.calls++;
      return step instanceof Error ? Promise.reject(step) : Promise.resolve(step ?? []);
    },
  };
  return d;
}
const peer = (host: string, port = 7000, source = 'scripted'): PeerAddress => ({ host, port, source });

describe('waitForPeers', () => {
  it('(self-test) the timer-leak detector sees a wait still pending', async () => {
    const controller = new AbortController();
    let pending: Promise<unknown> = Promise.resolve();
    const leaked = await leakedTimers(async () => {
      pending = waitForPeers(scripted([[]]), { expected: 1, timeoutMs: 5000, signal: controller.signal }).catch(() => undefined);
    });
    expect(leaked).toBeGreaterThan(0);
    controller.abort();
    await pending;
  });

  it('returns at once when enough peers are known', async () => {
    let peers: PeerAddress[] = [];
    const leaked = await leakedTimers(async () => {
      peers = await waitForPeers(staticDiscovery('10.0.0.2:1,10.0.0.1:1'), { expected: 2, timeoutMs: 1000 });
    });
    expect(peers.map((p) => p.host)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(leaked).toBe(0);
  });

  it('unions results across polls (a peer seen once stays known) and dedupes', async () => {
    const d = scripted([[peer('10.0.0.1')], [peer('10.0.0.2'), peer('10.0.0.1')], [peer('10.0.0.3')]]);
    const peers = await waitForPeers(d, { expected: 3, timeoutMs: 2000, initialDelayMs: 5 });
    expect(peers.map((p) => p.host)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(d.calls).toBe(3);
  });

  it('waits for a variable that appears later', async () => {
    const env: Record<string, string | undefined> = {};
    const set = setTimeout(() => (env.COUPLER_PEERS = '[::1]:9,127.0.0.1:9'), 100);
    try {
      const peers = await waitForPeers(envDiscovery({ env }), { expected: 2, timeoutMs: 3000, initialDelayMs: 10, maxDelayMs: 40 });
      expect(peers).toEqual([
        { host: '127.0.0.1', port: 9, source: 'env:COUPLER_PEERS' },
        { host: '::1', port: 9, source: 'env:COUPLER_PEERS' },
      ]);
    } finally {
      clearTimeout(set);
    }
  });

  it('backs off exponentially up to maxDelayMs', async () => {
    const d = scripted([[]]);
    await waitForPeers(d, { expected: 1, timeoutMs: 700, initialDelayMs: 10, maxDelayMs: 80 }).catch(() => undefined);
    // Pauses of (0.5..1) x 10, 20, 40, 80, 80, ... over 700 ms: between about 9 and 20 lookups.
    expect(d.calls).toBeGreaterThanOrEqual(8);
    expect(d.calls).toBeLessThanOrEqual(22);
  });

  it('throws DiscoveryError at the deadline saying found X of Y, without leaking timers', async () => {
    const d = scripted([[peer('10.0.0.1', 7000, 'dns:tasks.sum')]]);
    let outcome: Awaited<ReturnType<typeof timed>> = { ms: 0 };
    const leaked = await leakedTimers(async () => {
      outcome = await timed(waitForPeers(d, { expected: 4, timeoutMs: 250, initialDelayMs: 10 }));
    });
    const { ms, error } = outcome;
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as CouplerError).code).toBe(ErrorCode.DISCOVERY_FAILED);
    expect((error as Error).message).toMatch(/^waitForPeers: found 1 of 4 expected peer addresses via scripted within 250 ms/);
    expect((error as Error).message).toMatch(/found 10\.0\.0\.1:7000 from dns:tasks\.sum/);
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(250 + 200);
    expect(leaked).toBe(0);
  });

  it('returns at the deadline even if a lookup hangs and ignores its signal', async () => {
    let sawSignal: AbortSignal | undefined;
    const hanging: Discovery = {
      kind: 'hanging',
      discover(options) {
        sawSignal = options?.signal;
        return new Promise<PeerAddress[]>(() => undefined);
      },
    };
    const { ms, error } = await timed(waitForPeers(hanging, { expected: 1, timeoutMs: 200 }));
    expect((error as CouplerError).code).toBe(ErrorCode.DISCOVERY_FAILED);
    expect(ms).toBeLessThan(200 + 200);
    expect(sawSignal?.aborted).toBe(true); // the lookup was told to stop
  });

  it('is abortable before and during the wait', async () => {
    const pre = new AbortController();
    pre.abort();
    await expect(waitForPeers(scripted([[]]), { expected: 1, timeoutMs: 1000, signal: pre.signal })).rejects.toMatchObject({
      code: ErrorCode.ABORTED,
    });
    const during = new AbortController();
    const abortSoon = setTimeout(() => during.abort(), 60);
    let outcome: Awaited<ReturnType<typeof timed>> = { ms: 0 };
    const leaked = await leakedTimers(async () => {
      outcome = await timed(waitForPeers(scripted([[]]), { expected: 1, timeoutMs: 10_000, signal: during.signal }));
    });
    clearTimeout(abortSoon);
    expect((outcome.error as CouplerError).code).toBe(ErrorCode.ABORTED);
    expect(outcome.ms).toBeLessThan(500);
    expect(leaked).toBe(0); // the 10 s deadline timer was cleared
  });

  it('retries transient errors and reports the last one; other errors are thrown at once', async () => {
    const flaky = scripted([new DiscoveryError('dns down'), new DiscoveryError('dns down'), [peer('10.0.0.1')]]);
    expect(await waitForPeers(flaky, { expected: 1, timeoutMs: 2000, initialDelayMs: 5 })).toHaveLength(1);

    const down = scripted([new DiscoveryError('server 127.0.0.1:53 not answering')]);
    const err = await waitForPeers(down, { expected: 1, timeoutMs: 150, initialDelayMs: 5 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/last lookup error: COUPLER_ERR_DISCOVERY_FAILED: server 127\.0\.0\.1:53 not answering$/);
    expect((err as Error).cause).toBeInstanceOf(DiscoveryError);

    const fatal = scripted([new InvalidArgumentError('bad config')]);
    await expect(waitForPeers(fatal, { expected: 1, timeoutMs: 5000 })).rejects.toThrow('bad config');
    expect(fatal.calls).toBe(1);
  });

  it('rejects a discovery that returns malformed addresses', async () => {
    const bad = scripted([[{ host: '', port: 0, source: 'x' }]]);
    await expect(waitForPeers(bad, { expected: 1, timeoutMs: 1000 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });

  const badOptions: [string, unknown, unknown, RegExp][] = [
    ['null discovery', null, { expected: 1, timeoutMs: 1 }, /"discovery"/],
    ['discovery without discover()', { kind: 'x' }, { expected: 1, timeoutMs: 1 }, /"discovery"/],
    ['no options', staticDiscovery('a:1'), undefined, /options expected an object/],
    ['expected 0', staticDiscovery('a:1'), { expected: 0, timeoutMs: 1 }, /"expected"/],
    ['expected NaN', staticDiscovery('a:1'), { expected: NaN, timeoutMs: 1 }, /"expected" .*NaN/],
    ['expected 1.5', staticDiscovery('a:1'), { expected: 1.5, timeoutMs: 1 }, /"expected"/],
    ['timeout missing', staticDiscovery('a:1'), { expected: 1 }, /"timeoutMs"/],
    ['timeout negative', staticDiscovery('a:1'), { expected: 1, timeoutMs: -5 }, /"timeoutMs"/],
    ['timeout Infinity', staticDiscovery('a:1'), { expected: 1, timeoutMs: Infinity }, /"timeoutMs"/],
    ['maxDelay < initial', staticDiscovery('a:1'), { expected: 1, timeoutMs: 10, initialDelayMs: 50, maxDelayMs: 10 }, /"maxDelayMs"/],
    ['signal not a signal', staticDiscovery('a:1'), { expected: 1, timeoutMs: 10, signal: {} }, /"signal"/],
  ];
  it.each(badOptions)('rejects %s with InvalidArgumentError', async (_label, discovery, options, message) => {
    const err = await waitForPeers(discovery as Discovery, options as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(message);
  });
});
