/**
 * Test support: a minimal HTTP CONNECT proxy on 127.0.0.1 (an institution's egress proxy, a
 * vantage6 node's squid), recording the targets it was asked for. It dials out from
 * `localAddress` when given, so the far side sees the proxy's address, not the client's.
 */
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';

/** A running proxy: its URL, the `host:port` targets asked for, and how to stop it. */
export interface ConnectProxy {
  readonly url: string;
  readonly targets: string[];
  close(): Promise<void>;
}

/** Start a CONNECT proxy on a free port of 127.0.0.1. */
export async function startConnectProxy(o: { localAddress?: string } = {}): Promise<ConnectProxy> {
  const targets: string[] = [];
  const server = createServer((_req, res) => res.writeHead(405).end());
  const open = new Set<Socket>();
  server.on('connect', (req, client: Socket, head: Buffer) => {
    targets.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect({ host: host!, port: Number(port), ...(o.localAddress === undefined ? {} : { localAddress: o.localAddress }) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const bye = (): void => {
      upstream.destroy();
      client.destroy();
    };
    for (const s of [upstream, client]) {
      open.add(s);
      s.on('error', bye);
      s.on('close', () => {
        open.delete(s);
        bye();
      });
    }
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    targets,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise((res) => server.close(res));
    },
  };
}
