/**
 * static/env peer-list parsing: good inputs, and a table of hostile ones that must each give a
 * typed error with a stable code and a message naming the place.
 */
import fc from 'fast-check';
import { CouplerError, ErrorCode, InvalidArgumentError } from '../../src/errors';
import { envDiscovery } from '../../src/discovery/env';
import { staticDiscovery } from '../../src/discovery/static';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('staticDiscovery parsing', () => {
  it('parses host:port, IPv4, bracketed IPv6, whitespace, arrays', async () => {
    const d = staticDiscovery(' node-1.sum:7000 , 10.0.0.2:7001,[FD00::0:4]:7002,[::1]:443');
    expect(d.kind).toBe('static');
    expect(await d.discover()).toEqual([
      { host: '10.0.0.2', port: 7001, source: 'static' },
      { host: '::1', port: 443, source: 'static' },
      { host: 'fd00::4', port: 7002, source: 'static' },
      { host: 'node-1.sum', port: 7000, source: 'static' },
    ]);
    expect(await staticDiscovery(['a.b:1', 'A.B:1', 'a.b.:1']).discover()).toEqual([{ host: 'a.b', port: 1, source: 'static' }]);
  });

  it('dedupes equal IPv6 spellings', async () => {
    const peers = await staticDiscovery('[::1]:80,[0:0:0:0:0:0:0:1]:80,[::ffff:127.0.0.1]:80').discover();
    expect(peers.map((p) => p.host)).toEqual(['::1', '::ffff:7f00:1']);
  });

  const bad: [string, unknown, RegExp][] = [
    ['null', null, /expected a string or an array of strings, got null/],
    ['undefined', undefined, /got undefined/],
    ['NaN', NaN, /got NaN/],
    ['number', 80, /got number/],
    ['object', { host: 'a', port: 1 }, /got object/],
    ['empty string', '', /entry 0 \(""\): empty entry/],
    ['empty array', [], /at least one/],
    ['host only', 'host', /entry 0 \("host"\): missing ":port"/],
    ['port 0', 'host:0', /entry 0 .*port expected an integer in 1\.\.65535, got "0"/],
    ['port 70000', 'host:70000', /port expected an integer in 1\.\.65535, got "70000"/],
    ['port not digits', 'host:8o', /port expected an integer/],
    ['negative port', 'host:-1', /port expected an integer/],
    ['missing port', 'host:', /missing port/],
    ['missing host', ':80', /entry 0 \(":80"\): missing host/],
    ['unclosed bracket', '[::1', /unclosed "\["/],
    ['bracket without port', '[::1]', /missing ":port" after "\]"/],
    ['bracketed non-IPv6', '[host]:80', /not a valid IPv6/],
    ['bare IPv6', '::1:80', /must be written in brackets/],
    ['bad host chars', 'ho st:80', /host is neither/],
    ['numeric non-IP', '999.1.1.1:80', /host is neither/],
    ['second entry bad', 'a:1,b', /entry 1 \("b"\): missing ":port"/],
    ['trailing comma', 'a:1,', /entry 1 \(""\): empty entry/],
    ['non-string element', ['a:1', 7], /entry 1: expected a string, got number/],
    ['null element', [null], /entry 0: expected a string, got null/],
    ['huge string', 'a:1,'.repeat(20_000), /at most 65536 characters/],
    ['too many entries', Array.from({ length: 5000 }, () => 'a:1'), /at most 4096 entries/],
    ['long entry', `${'a'.repeat(400)}:1`, /at most 300 characters/],
  ];
  it.each(bad)('rejects %s with COUPLER_ERR_INVALID_ARGUMENT', (_label, input, message) => {
    const err = errorOf(() => staticDiscovery(input as string));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toBeInstanceOf(CouplerError);
    expect((err as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect((err as Error).message).toMatch(/^staticDiscovery: /);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message.length).toBeLessThan(300);
  });

  it('never throws anything but InvalidArgumentError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string()), fc.anything()), (input) => {
        try {
          staticDiscovery(input as string);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('envDiscovery', () => {
  it('reads the variable at each lookup; unset or blank is an empty snapshot', async () => {
    const env: Record<string, string | undefined> = {};
    const d = envDiscovery({ env });
    expect(d.kind).toBe('env');
    expect(await d.discover()).toEqual([]);
    env.COUPLER_PEERS = '   ';
    expect(await d.discover()).toEqual([]);
    env.COUPLER_PEERS = '10.0.0.3:7000,10.0.0.2:7000,10.0.0.3:7000';
    expect(await d.discover()).toEqual([
      { host: '10.0.0.2', port: 7000, source: 'env:COUPLER_PEERS' },
      { host: '10.0.0.3', port: 7000, source: 'env:COUPLER_PEERS' },
    ]);
  });

  it('uses another variable and process.env by default', async () => {
    const name = `COUPLER_TEST_PEERS_${process.pid}`;
    const d = envDiscovery({ variable: name });
    expect(await d.discover()).toEqual([]);
    process.env[name] = 'x.y:9';
    try {
      expect(await d.discover()).toEqual([{ host: 'x.y', port: 9, source: `env:${name}` }]);
    } finally {
      delete process.env[name];
    }
  });

  it('rejects a malformed value at lookup, naming the variable and entry', async () => {
    const d = envDiscovery({ env: { PEERS: 'a:1,[::1' }, variable: 'PEERS' });
    await expect(d.discover()).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: expect.stringMatching(/^envDiscovery PEERS: entry 1 \("\[::1"\): unclosed/),
    });
  });

  const badInit: [string, unknown][] = [
    ['null options', null],
    ['number options', 5],
    ['empty variable', { variable: '' }],
    ['variable with =', { variable: 'A=B' }],
    ['variable NaN', { variable: NaN }],
    ['variable null', { variable: null }],
    ['env null', { env: null }],
    ['env string', { env: 'COUPLER_PEERS=a:1' }],
  ];
  it.each(badInit)('rejects %s at creation', (_label, init) => {
    const err = errorOf(() => envDiscovery(init as never));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as CouplerError).code).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});
