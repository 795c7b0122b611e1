/**
 * Testbed child: an HTTP CONNECT proxy, the only way out of an institution's network. Env
 * `CPL_PROXY` = JSON { port }. Emits `listening`; answers `{"op":"stats"}` with the CONNECT
 * targets it tunnelled and the source addresses they came from.
 */
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { childSetup, emit } from './child';

function main(): void {
  const cfg = JSON.parse(process.env.CPL_PROXY ?? '{}') as { port: number };
  const tunnels: { target: string; from: string }[] = [];
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    tunnels.push({ target, from: client.remoteAddress ?? '' });
    const [host, port] = target.split(':');
    const upstream = connect({ host: host!, port: Number(port) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [upstream, client]) {
      s.on('error', () => undefined);
      s.on('close', () => {
        upstream.destroy();
        client.destroy();
      });
    }
  });
  childSetup((cmd) => {
    if (cmd.op === 'stats') emit('stats', { id: cmd.id, tunnels });
  });
  server.listen(cfg.port, '0.0.0.0', () => emit('listening', { port: cfg.port }));
}

main();
