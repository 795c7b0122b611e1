/**
 * The compliance suite every {@link Discovery} implementation must pass.
 *
 * Use it from a `*.test.ts` file:
 *
 * ```ts
 * runDiscoveryCompliance('my-method', async ({ initial }) => {
 *   // start whatever backs the discovery, make `initial` known, and return:
 *   return { discovery, supportsLatePublish: true, publish: async (addrs) => {...}, maxLookupMs: 2000, close };
 * });
 * ```
 *
 * The fixture contract, kept small on purpose:
 * - `makeFixture({ initial })` builds a fresh discovery that knows exactly the addresses in
 *   `initial` (possibly none, possibly with duplicates). All addresses the suite uses are IPv4
 *   loopback literals and share one port, {@link COMPLIANCE_PORT}, so that DNS-like methods (which
 *   learn the port from configuration, not from the record) can take part.
 * - `publish(addrs)` replaces what the backing store announces (duplicates allowed). Methods that
 *   cannot learn addresses after creation (a static list) set `supportsLatePublish: false` and
 *   omit `publish`; the late-publish test then logs that it does not apply.
 * - `maxLookupMs` is the method's own per-lookup bound; every `discover()` must settle within it
 *   (plus a small scheduling margin).
 * - `close()` releases what the fixture started (servers, sockets). Called after every test.
 *
 * Checked: well-formed results with the right addresses; deduplication; stable order and fresh
 * arrays; empty before and non-empty after a late publish; AbortedError on an aborted signal;
 * no lookup outlives its bound, also with concurrent calls.
 */
import { CouplerError, ErrorCode } from '../../src/errors';
import type { Discovery, PeerAddress } from '../../src/discovery/types';

/** The one port of every address the suite publishes. */
export const COMPLIANCE_PORT = 7411;
/** Scheduling margin added to `maxLookupMs`, milliseconds. */
const MARGIN_MS = 500;

/** An address as the suite publishes it. */
export interface ComplianceAddress {
  readonly host: string;
  readonly port: number;
}

/** What a fixture factory receives. */
export interface ComplianceFixtureInit {
  /** Addresses the discovery must know from the start (may contain duplicates, may be empty). */
  readonly initial: readonly ComplianceAddress[];
}

/** One discovery under test, with the means to change what it should find. */
export interface DiscoveryFixture {
  /** The discovery under test. */
  readonly discovery: Discovery;
  /** Whether addresses can appear after creation. */
  readonly supportsLatePublish: boolean;
  /** Replace the announced addresses (required when `supportsLatePublish`). */
  publish?(addrs: readonly ComplianceAddress[]): void | Promise<void>;
  /** The method's per-lookup bound, milliseconds. */
  readonly maxLookupMs: number;
  /** Release resources. */
  close?(): void | Promise<void>;
}

/** Builds a fresh fixture per test. */
export type MakeDiscoveryFixture = (init: ComplianceFixtureInit) => DiscoveryFixture | Promise<DiscoveryFixture>;

const A: ComplianceAddress = { host: '127.0.0.21', port: COMPLIANCE_PORT };
const B: ComplianceAddress = { host: '127.0.0.22', port: COMPLIANCE_PORT };
const C: ComplianceAddress = { host: '127.0.0.23', port: COMPLIANCE_PORT };

function key(a: ComplianceAddress): string {
  return `${a.host}|${a.port}`;
}

/** Await `promise`, failing the test if it does not settle within `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function expectWellFormed(peers: readonly PeerAddress[]): void {
  expect(Array.isArray(peers)).toBe(true);
  for (const p of peers) {
    expect(typeof p.host).toBe('string');
    expect(p.host.length).toBeGreaterThan(0);
    expect(p.host.startsWith('[')).toBe(false);
    expect(Number.isInteger(p.port)).toBe(true);
    expect(p.port).toBeGreaterThanOrEqual(1);
    expect(p.port).toBeLessThanOrEqual(65535);
    expect(typeof p.source).toBe('string');
    expect(p.source.length).toBeGreaterThan(0);
    if (p.partyHint !== undefined) expect(typeof p.partyHint).toBe('string');
  }
}

/**
 * Register the compliance tests for one implementation.
 *
 * @param name - shown in the test names
 * @param makeFixture - builds a fresh fixture for each test
 */
export function runDiscoveryCompliance(name: string, makeFixture: MakeDiscoveryFixture): void {
  describe(`Discovery compliance: ${name}`, () => {
    let fixture: DiscoveryFixture | undefined;
    const make = async (initial: readonly ComplianceAddress[]): Promise<DiscoveryFixture> => {
      fixture = await makeFixture({ initial });
      return fixture;
    };
    const lookup = (f: DiscoveryFixture, signal?: AbortSignal): Promise<PeerAddress[]> =>
      within(f.maxLookupMs + MARGIN_MS, f.discovery.discover(signal === undefined ? {} : { signal }), `${name}.discover()`);

    afterEach(async () => {
      await fixture?.close?.();
      fixture = undefined;
    });

    it('has a kind and a sane lookup bound', async () => {
      const f = await make([A]);
      expect(typeof f.discovery.kind).toBe('string');
      expect(f.discovery.kind.length).toBeGreaterThan(0);
      expect(f.maxLookupMs).toBeGreaterThan(0);
      expect(f.supportsLatePublish ? typeof f.publish : 'n/a').toBe(f.supportsLatePublish ? 'function' : 'n/a');
    });

    it('returns well-formed PeerAddress objects for exactly the known addresses', async () => {
      const f = await make([A, B, C]);
      const peers = await lookup(f);
      expectWellFormed(peers);
      expect(peers.map(key).sort()).toEqual([A, B, C].map(key).sort());
    });

    it('returns each address once', async () => {
      const f = await make([A, B, A, B, A]);
      const peers = await lookup(f);
      expectWellFormed(peers);
      expect(peers.map(key).sort()).toEqual([A, B].map(key).sort());
      expect(new Set(peers.map(key)).size).toBe(peers.length);
    });

    it('returns the same order every time, in a fresh array', async () => {
      const f = await make([C, A, B]);
      const first = await lookup(f);
      first.pop();
      const second = await lookup(f);
      const third = await lookup(f);
      expect(second.length).toBe(3);
      expect(third).toEqual(second);
    });

    it('is empty while nothing is known and finds peers published later', async () => {
      const f = await make([]);
      if (!f.supportsLatePublish || f.publish === undefined) {
        // eslint-disable-next-line no-console
        console.info(`[compliance] ${name}: late publish not applicable (supportsLatePublish: false)`);
        return;
      }
      expect(await lookup(f)).toEqual([]);
      await f.publish([A]);
      const one = await lookup(f);
      expectWellFormed(one);
      expect(one.map(key)).toEqual([key(A)]);
      await f.publish([A, B, B]);
      expect((await lookup(f)).map(key).sort()).toEqual([A, B].map(key).sort());
    });

    it('rejects with AbortedError when the signal is already aborted', async () => {
      const f = await make([A]);
      const controller = new AbortController();
      controller.abort();
      const error = await lookup(f, controller.signal).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(CouplerError);
      expect((error as CouplerError).code).toBe(ErrorCode.ABORTED);
    });

    it('never outlives its bound, also with concurrent lookups', async () => {
      const f = await make([A, B]);
      const start = Date.now();
      const results = await Promise.all([lookup(f), lookup(f), lookup(f), lookup(f)]);
      for (const r of results) expect(r.length).toBe(2);
      expect(Date.now() - start).toBeLessThan(f.maxLookupMs + MARGIN_MS);
      if (f.supportsLatePublish && f.publish !== undefined) {
        await f.publish([]);
        expect(await lookup(f)).toEqual([]);
      }
    });
  });
}
