/**
 * Benchmark child: the JIFF server (coordinator and message relay of JIFF), on 127.0.0.1.
 * `CPL_JIFF` = JSON `{ port }`. Prints `{"event":"listening"}`.
 */
import { createServer } from 'node:http';
import { childSetup, emit } from '../../test/netns/child';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { JIFFServer } = require('jiff-mpc') as { JIFFServer: new (http: unknown, options: Record<string, unknown>) => unknown };

function main(): void {
  const cfg = JSON.parse(process.env.CPL_JIFF ?? '{}') as { port: number };
  childSetup();
  const http = createServer();
  new JIFFServer(http, { logs: false });
  http.listen(cfg.port, '127.0.0.1', () => emit('listening', { port: cfg.port }));
}

main();
