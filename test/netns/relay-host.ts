/**
 * Testbed child: the relay. Env `CPL_RELAY` = JSON { roster | rosters, port, publicUrl }. Emits `listening`,
 * answers `{"op":"stats"}` with the relay's counters and its process CPU time.
 */
import { parseRoster } from '../../src/identity/roster';
import { startRelay } from '../../src/relay/server';
import { childSetup, emit } from './child';

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.CPL_RELAY ?? '{}') as { roster?: string; rosters?: string[]; port: number; publicUrl: string };
  const rosters = (cfg.rosters ?? [cfg.roster!]).map((r) => parseRoster(r));
  const relay = await startRelay({ rosters, host: '0.0.0.0', port: cfg.port, publicUrls: [cfg.publicUrl] });
  childSetup((cmd) => {
    if (cmd.op === 'stats') {
      const cpu = process.cpuUsage();
      emit('stats', { id: cmd.id, stats: relay.stats(), cpuMs: (cpu.user + cpu.system) / 1000 });
    }
  });
  emit('listening', { port: relay.port });
}

main().catch((err: unknown) => {
  emit('error', { message: String((err as Error)?.message ?? err) });
  process.exit(1);
});
