/**
 * Testbed child: the DNS host. Runs coupler's development DNS server (a real UDP DNS server) on
 * `CPL_DNS_HOST:53` inside its namespace, like Docker Swarm's embedded DNS answering
 * `tasks.<service>`. Commands on stdin: `{"op":"setA","id":1,"name":"tasks.sum","ips":[...]}`.
 */
import { startDevDnsServer } from '../../src/discovery/index';
import { childSetup, emit } from './child';

async function main(): Promise<void> {
  const server = await startDevDnsServer({ host: process.env.CPL_DNS_HOST ?? '10.77.0.2', port: Number(process.env.CPL_DNS_PORT ?? 53) });
  childSetup((cmd) => {
    if (cmd.op === 'setA') {
      server.setA(String(cmd.name), cmd.ips as string[]);
      emit('ack', { id: cmd.id });
    } else if (cmd.op === 'stats') emit('stats', { id: cmd.id, ...server.stats() });
  });
  emit('listening', { server: server.server });
}

main().catch((err: unknown) => {
  emit('fatal', { message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
