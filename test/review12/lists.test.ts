/**
 * review12: hostile static and environment peer lists (`COUPLER_PEERS`), and R12-6: addresses that
 * are never a peer's — unspecified (0.0.0.0/8, ::), broadcast, multicast, reserved (240.0.0.0/4) —
 * were accepted from every discovery; 0.0.0.0 and :: dial this very host.
 */
import { staticDiscovery } from '../../src/discovery/static';
import { envDiscovery } from '../../src/discovery/env';
import { CouplerError, ErrorCode } from '../../src/errors';

function outcome(list: string): string[] | string {
  try {
    const d = staticDiscovery(list);
    let out: string[] = [];
    void d.discover().then((p) => (out = p.map((x) => `${x.host}|${x.port}`)));
    return out;
  } catch (err) {
    if (!(err instanceof CouplerError)) throw err;
    return `${err.code}: ${err.message}`;
  }
}

async function peersOf(list: string): Promise<string[]> {
  return (await staticDiscovery(list).discover()).map((x) => `${x.host}|${x.port}`);
}

test.each([
  ['10.0.0.1:+80', /port expected an integer/],
  ['10.0.0.1:0', /port expected an integer/],
  ['10.0.0.1:65536', /port expected an integer/],
  ['10.0.0.1:80,', /entry 1 .*empty entry/],
  ['[::1]', /missing ":port" after "]"/],
  ['[::1]:80x', /port expected/],
  ['::1:80', /must be written in brackets/],
  ['[1.2.3.4]:80', /not a valid IPv6/],
  ['[fe80::1%]:80', /not a valid IPv6/],
  ['[fe80::1%eth0/../x]:80', /not a valid IPv6/],
  ['１０.0.0.1:80', /neither an IPv4 address nor a valid host name/],
  ['127.000.000.001:80', /neither an IPv4 address nor a valid host name/],
  ['a..b:80', /neither/],
  ['-a:80', /neither/],
  [`${'a'.repeat(301)}:1`, /at most 300 characters/],
  ['x:1,'.repeat(4097) + 'x:1', /at most 4096 entries/],
])('refused with INVALID_ARGUMENT naming the problem: %s', (list, why) => {
  const r = outcome(list);
  expect(typeof r).toBe('string');
  expect(r).toMatch(/^COUPLER_ERR_INVALID_ARGUMENT: /);
  expect(r).toMatch(why);
});

test('trimmed, deduplicated and canonical: Unicode spaces around entries, equal IPv6 spellings, leading zeros in ports', async () => {
  expect(await peersOf('\u00a010.0.0.1:80\u3000, 10.0.0.1:0080 ,[::1]:7,[0:0:0:0:0:0:0:1]:7')).toEqual(['10.0.0.1|80', '::1|7']);
});

test('envDiscovery reads only the environment object\'s own variable, and refuses an over-long list', async () => {
  expect(await envDiscovery({ env: Object.create({ COUPLER_PEERS: '10.0.0.1:80' }) as Record<string, string> }).discover()).toEqual([]);
  await expect(envDiscovery({ env: { COUPLER_PEERS: 'x'.repeat(70_000) } }).discover()).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
});

const NEVER_A_PEER = ['0.0.0.0:80', '0.1.2.3:80', '255.255.255.255:80', '224.0.0.1:80', '239.255.255.250:80', '240.0.0.1:80', '[::]:80', '[ff02::1]:80', '[::ffff:0.0.0.0]:80', '[::ffff:224.0.0.1]:80'];

test.each(NEVER_A_PEER)('R12-6: %s is refused as a peer address, naming the entry', (entry) => {
  const r = outcome(`10.0.0.1:80,${entry}`);
  expect(r).toMatch(/^COUPLER_ERR_INVALID_ARGUMENT: staticDiscovery: entry 1 /);
  expect(r).toMatch(/not a unicast address/);
});

test('R12-6: unicast neighbours of those ranges are still peers', async () => {
  expect(await peersOf('1.0.0.1:80,223.255.255.255:80,[fe80::1]:80,[fd00::1]:80,[::1]:80,127.0.0.1:80')).toEqual([
    '1.0.0.1|80',
    '127.0.0.1|80',
    '223.255.255.255|80',
    '::1|80',
    'fd00::1|80',
    'fe80::1|80',
  ]);
});
