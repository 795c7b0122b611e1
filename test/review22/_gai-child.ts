/**
 * review22 R22-7 child, run by gai-starve.test.ts inside its own network and mount namespace
 * (`unshare -n -m`: only `lo`, and /etc/resolv.conf bind-mounted to `nameserver 127.0.0.1`).
 * A DNS server on 127.0.0.1:53 that swallows every query stands for a hostile overlay resolver.
 * Twelve dials to host names it never answers (what a hostile SRV answer leaves as names), then
 * one dial to `localhost` (answered from /etc/hosts, no DNS needed) of a real listener.
 * Prints one JSON line: how long the `localhost` dial took, and its outcome.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { connectChannel, listenChannels } from '../../src/channel';
import { createRoster } from '../../src/identity/roster';
import { testIdentity } from '../support/identity';

async function main(): Promise<void> {
  const dns = createSocket('udp4');
  await new Promise<void>((r) => dns.bind(53, '127.0.0.1', r));
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
  process.stdout.write(`${JSON.stringify({ ms, outcome, junk: await Promise.all(junk) })}\n`);
  await listener.close();
  dns.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: String(err) })}\n`);
  process.exit(1);
});
