/**
 * review22 R22-7 child, run by gai-starve.test.ts inside its own network and mount namespace
 * (`unshare -n -m`: only `lo`, and /etc/resolv.conf bind-mounted to `nameserver 127.0.0.1`).
 * A DNS server on 127.0.0.1:53 that swallows every query stands for a hostile overlay resolver.
 * Twelve dials to host names it never answers (what a hostile SRV answer leaves as names), then
 * one dial to `localhost` (answered from /etc/hosts, no DNS needed) of a real listener.
 * Prints one JSON line: how long the `localhost` dial took, and its outcome.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { startDevDnsServer } from '../../src/discovery/dev-dns-server';
import { connectChannel, listenChannels } from '../../src/channel';
import { createRoster } from '../../src/identity/roster';
import { testIdentity } from '../support/identity';

async function main(): Promise<void> {
  // The hostile overlay resolver: answers `real.test`, swallows every query about the junk names.
  const dns = await startDevDnsServer({ host: '127.0.0.1', port: 53 });
  dns.setA('real.test', ['127.0.0.1']);
  for (let i = 0; i < 12; i++) dns.setOverride(`junk${i}.example`, { action: 'drop' });
  const a = testIdentity('a');
  const b = testIdentity('b');
  const roster = createRoster([
    { id: 'a', publicKey: a.publicKey },
    { id: 'b', publicKey: b.publicKey },
  ]);
  const sessionId = `review22-${randomBytes(4).toString('hex')}`;
  const listener = await listenChannels({ identity: b, roster, sessionId, host: '127.0.0.1', port: 0, onChannel: (ch) => ch.destroy() });
  const junk = Array.from({ length: 12 }, (_, i) =>
    connectChannel({ host: `junk${i}.example`, port: 7000 }, { identity: a, roster, sessionId, handshakeTimeoutMs: 3_000 }).then(
      () => 'connected',
      (e: unknown) => (e as { code?: string }).code,
    ),
  );
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  const outcome = await connectChannel({ host: 'localhost', port: listener.port }, { identity: a, roster, sessionId, handshakeTimeoutMs: 30_000 }).then(
    (ch) => {
      ch.destroy();
      return 'connected';
    },
    (e: unknown) => (e as { code?: string }).code,
  );
  const ms = Date.now() - t0;
  // Another part of the process (the vantage6 proxy's client, a relay URL) looking up a name the
  // resolver answers, and a peer dial to such a name, both behind the junk dials.
  const t1 = Date.now();
  const [other, real] = await Promise.all([
    lookup('real.test', { family: 4 }).then(
      () => Date.now() - t1,
      (e: unknown) => String((e as { code?: string }).code),
    ),
    connectChannel({ host: 'real.test', port: listener.port }, { identity: a, roster, sessionId, handshakeTimeoutMs: 30_000 }).then(
      (ch) => {
        ch.destroy();
        return { outcome: 'connected', ms: Date.now() - t1 };
      },
      (e: unknown) => ({ outcome: (e as { code?: string }).code, ms: Date.now() - t1 }),
    ),
  ]);
  process.stdout.write(`${JSON.stringify({ ms, outcome, other, real, junk: await Promise.all(junk) })}\n`);
  await listener.close();
  await dns.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: String(err) })}\n`);
  process.exit(1);
});
