/**
 * The hostile-value table against connectChannel / listenChannels options (each field, the
 * options object, the target) and SecureChannel.send.
 */
import { CouplerError } from '../../src/errors';
import { SecureChannel, connectChannel, listenChannels, type ChannelListener, type ConnectOptions, type ListenOptions } from '../../src/channel';
import { hostileSweep, secretSpellings, HOSTILE_THROW, type HostileCase } from '../support/hostile';
import { Cleanup, HOST, SESSION, channelPair, listen, parties } from './_helpers';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

const { ids, roster } = parties('a', 'b');
const secrets = secretSpellings([ids.a!.secretKey, ids.b!.secretKey]);
const as = <T>(v: unknown): T => v as T;

const CONNECT_FIELDS = [
  'identity', 'roster', 'sessionId', 'localId', 'suite', 'handshakeTimeoutMs', 'acceptPeer', 'maxMessageBytes', 'chunkBytes',
  'sendHighWaterBytes', 'receiveHighWaterBytes', 'expectedPeer', 'signal',
] as const;
const LISTEN_FIELDS = [
  'identity', 'roster', 'sessionId', 'localId', 'suite', 'handshakeTimeoutMs', 'acceptPeer', 'maxMessageBytes', 'chunkBytes',
  'sendHighWaterBytes', 'receiveHighWaterBytes', 'host', 'port', 'maxPendingHandshakes', 'silentGraceMs', 'onChannel', 'onHandshakeError',
] as const;

const release = async (v: unknown): Promise<void> => {
  if (v instanceof SecureChannel) v.destroy();
  else if (v && typeof (v as ChannelListener).close === 'function' && typeof (v as ChannelListener).port === 'number') await (v as ChannelListener).close();
};

/** Options with one field replaced by a hostile value, or by a getter that throws. */
function withField<T extends object>(base: T, field: string, value: unknown): T {
  return { ...base, [field]: value };
}
function withThrowingGetter<T extends object>(base: T, field: string): T {
  const o = { ...base };
  Object.defineProperty(o, field, {
    enumerable: true,
    get: () => {
      throw HOSTILE_THROW;
    },
  });
  return o;
}

let port = 0;
beforeAll(async () => {
  const l = await listen(cleanup, { identity: ids.b!, roster, sessionId: SESSION, onChannel: (ch) => ch.destroy() });
  port = l.listener.port;
});

function connectBase(): ConnectOptions {
  return { identity: ids.a!, roster, sessionId: SESSION, handshakeTimeoutMs: 2000 };
}
function listenBase(): ListenOptions {
  return { identity: ids.b!, roster, sessionId: SESSION, host: HOST, port: 0, onChannel: (ch) => ch.destroy(), handshakeTimeoutMs: 2000 };
}

it('connectChannel survives hostile targets, options and option fields', async () => {
  const cases: HostileCase[] = [
    { name: 'connectChannel(h, options)', call: (h) => connectChannel(as(h), connectBase()) },
    { name: 'connectChannel({host: h, port}, options)', call: (h) => connectChannel({ host: as(h), port }, connectBase()) },
    { name: 'connectChannel({host, port: h}, options)', call: (h) => connectChannel({ host: HOST, port: as(h) }, connectBase()) },
    { name: 'connectChannel(target, h)', call: (h) => connectChannel({ host: HOST, port }, as(h)) },
    ...CONNECT_FIELDS.map((f) => ({ name: `connectChannel options.${f}`, call: (h: unknown) => connectChannel({ host: HOST, port }, withField(connectBase(), f, h)) })),
  ];
  const { violations, tally } = await hostileSweep(cases, { secrets, onOk: release });
  expect(violations).toEqual([]);
  expect(tally.ok).toBeGreaterThan(0); // some hostile values are legitimately "not given"
});

it('connectChannel: a getter that throws on any option field', async () => {
  const violations: string[] = [];
  for (const f of CONNECT_FIELDS) {
    try {
      await release(await connectChannel({ host: HOST, port }, withThrowingGetter(connectBase(), f)));
    } catch (e) {
      if (e !== HOSTILE_THROW && !(e instanceof CouplerError)) violations.push(`${f}: ${(e as Error).constructor.name} ${(e as Error).message}`);
    }
  }
  expect(violations).toEqual([]);
});

it('listenChannels survives hostile options and option fields', async () => {
  const cases: HostileCase[] = [
    { name: 'listenChannels(h)', call: (h) => listenChannels(as(h)) },
    ...LISTEN_FIELDS.map((f) => ({ name: `listenChannels options.${f}`, call: (h: unknown) => listenChannels(withField(listenBase(), f, h)) })),
  ];
  const { violations } = await hostileSweep(cases, { secrets, onOk: release });
  expect(violations).toEqual([]);
});

it('listenChannels never binds beyond loopback because of a hostile host', async () => {
  // '' and other falsy hosts must not silently mean "all interfaces".
  for (const host of ['', null]) {
    let bound: ChannelListener | undefined;
    try {
      bound = await listenChannels(withField(listenBase(), 'host', host));
    } catch (e) {
      expect(e).toBeInstanceOf(CouplerError);
    }
    if (bound) {
      const h = bound.host;
      await bound.close();
      expect(h).toBe('127.0.0.1');
    }
  }
});

it('SecureChannel.send survives the hostile table and the channel stays usable', async () => {
  const { client, server } = await channelPair(cleanup);
  const { violations, tally } = await hostileSweep([{ name: 'SecureChannel.send(h)', call: (h) => client.send(as(h)) }], { secrets });
  expect(violations).toEqual([]);
  // Only real Uint8Arrays are sent (0, 31, 33, 63, 65 bytes: 5 of them).
  expect(tally.ok).toBe(5);
  for (const len of [0, 31, 33, 63, 65]) expect((await server.receive()).length).toBe(len);
  await client.send(new Uint8Array([42]));
  expect([...(await server.receive())]).toEqual([42]);
  expect(client.isClosed).toBe(false);
});

it('SecureChannel.receive survives hostile options', async () => {
  const { client, server } = await channelPair(cleanup);
  const { violations } = await hostileSweep(
    [
      { name: 'receive(h)', call: async (h) => { void client.send(new Uint8Array([1])); return server.receive(as(h)); } },
      { name: 'receive({timeoutMs: h})', call: async (h) => { void client.send(new Uint8Array([1])); return server.receive({ timeoutMs: as(h) }); } },
      { name: 'receive({signal: h})', call: async (h) => { void client.send(new Uint8Array([1])); return server.receive({ signal: as(h) }); } },
    ],
    { secrets },
  );
  expect(violations).toEqual([]);
});
