/**
 * The listener's known-source check compares a connection's remote address with the hosts
 * discovery returned, by `sourceKey` (src/discovery/_ip.ts, used by src/group/mesh.ts for both).
 * Review 12 (d) / review 22: a AAAA answer `::ffff:10.0.0.5` was remembered canonically as
 * `::ffff:a00:5`, while the check stripped a leading `::ffff:` from the remote address, so that
 * peer got the stranger cap (8 pending handshakes, evictable) instead of the known one (32).
 */
import { sourceKey } from '../../src/discovery/_ip';

describe('sourceKey', () => {
  it('maps every spelling of an IPv4-mapped IPv6 address to its dotted IPv4 address', () => {
    for (const spelling of ['::ffff:10.0.0.5', '::ffff:a00:5', '::FFFF:A00:5', '0:0:0:0:0:ffff:a00:5', '0:0:0:0:0:FFFF:10.0.0.5', '10.0.0.5']) {
      expect(sourceKey(spelling)).toBe('10.0.0.5');
    }
  });

  it('leaves other addresses distinct and canonical', () => {
    expect(sourceKey('2001:DB8::1')).toBe('2001:db8::1');
    expect(sourceKey('::a00:5')).toBe('::a00:5'); // IPv4-compatible (deprecated), not mapped
    expect(sourceKey('::1')).toBe('::1');
    expect(sourceKey('64:ff9b::a00:5')).toBe('64:ff9b::a00:5'); // NAT64: another host
    expect(sourceKey('fe80::1%eth0')).toBe('fe80::1%eth0');
    expect(sourceKey('Peer.Example.')).toBe('peer.example');
  });
});
