/**
 * `coupler relay`: run the relay until SIGTERM/SIGINT.
 * @module
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { loadRoster } from '../identity/roster.js';
import { startRelay, type RelayServer } from './server.js';

/** Help text of `coupler relay`. */
export const RELAY_HELP = `Usage: coupler relay (--roster FILE [--roster FILE ...] | --roster-bound-sessions) [options]

The egress-only relay: parties that cannot accept inbound connections dial out to it; it admits a
party only with a signature by its key in one of the rosters (bound to the session and to one of
the --public-url values), pairs the two directions of each channel and forwards ciphertext. The
channel handshake and encryption stay end to end between the parties.

Options:
  --roster FILE             roster JSON of a task whose parties may use the relay (repeat; or
                            COUPLER_RELAY_ROSTERS=comma list of files)
  --roster-bound-sessions   also admit sessions whose id commits to the roster the parties
                            present (id "<label>#<roster digest>": vantage6 key subtasks, keys
                            made per task); anyone who reaches the relay can then relay between
                            keys of their own, within the limits (COUPLER_RELAY_ROSTER_BOUND=1)
  --max-bound-per-source N  live roster-bound sessions one source address may open (default 32)
  --host ADDR               interface to bind (default 0.0.0.0)
  --port N                  port (default 8889)
  --public-url URL          ws:// or wss:// URL parties use to reach the relay (repeat); parties
                            sign it. Default ws://<host>:<port>. With TLS terminated in front of
                            the relay, give the wss:// URL.
  --max-sessions N          live sessions at once (default 256)
  --max-per-session N       connections per session (default 19800)
  --max-per-source N        connections per source address (default 1024)
  --max-bytes-per-session N bytes forwarded per session (default 64 GiB)
  --pair-timeout SECONDS    how long an admitted connection waits for its peer (default 120)
  --stats-interval SECONDS  print counters every SECONDS (default 0: only at exit)`;

function int(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a non-negative integer`);
  return n;
}

/** Run `coupler relay` with its arguments; resolves with the exit code when stopped by a signal. */
export async function relayCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      roster: { type: 'string', multiple: true },
      'roster-bound-sessions': { type: 'boolean' },
      'max-bound-per-source': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'public-url': { type: 'string', multiple: true },
      'max-sessions': { type: 'string' },
      'max-per-session': { type: 'string' },
      'max-per-source': { type: 'string' },
      'max-bytes-per-session': { type: 'string' },
      'pair-timeout': { type: 'string' },
      'stats-interval': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${RELAY_HELP}\n`);
    return 0;
  }
  const files = [...((values.roster as string[] | undefined) ?? []), ...(env.COUPLER_RELAY_ROSTERS ?? '').split(',')].map((f) => f.trim()).filter((f) => f !== '');
  const rosterBound = values['roster-bound-sessions'] === true || env.COUPLER_RELAY_ROSTER_BOUND === '1' || env.COUPLER_RELAY_ROSTER_BOUND === 'true';
  if (files.length === 0 && !rosterBound) throw new InvalidArgumentError('coupler relay needs at least one --roster FILE, or --roster-bound-sessions');
  const rosters = await Promise.all(files.map((f) => loadRoster(f)));
  const pairTimeout = int(values['pair-timeout'], '--pair-timeout');
  const opt = <K extends string>(k: K, v: number | undefined): Partial<Record<K, number>> => (v === undefined ? {} : ({ [k]: v } as Record<K, number>));
  const relay: RelayServer = await startRelay({
    rosters,
    rosterBoundSessions: rosterBound,
    host: (values.host as string | undefined) ?? '0.0.0.0',
    port: int(values.port, '--port') ?? 8889,
    ...(values['public-url'] ? { publicUrls: values['public-url'] as string[] } : {}),
    ...opt('maxSessions', int(values['max-sessions'], '--max-sessions')),
    ...opt('maxConnectionsPerSession', int(values['max-per-session'], '--max-per-session')),
    ...opt('maxConnectionsPerSource', int(values['max-per-source'], '--max-per-source')),
    ...opt('maxSessionsPerSource', int(values['max-bound-per-source'], '--max-bound-per-source')),
    ...opt('maxBytesPerSession', int(values['max-bytes-per-session'], '--max-bytes-per-session')),
    ...opt('pairTimeoutMs', pairTimeout === undefined ? undefined : pairTimeout * 1000),
    onRefused: (reason, remote) => process.stderr.write(`[coupler relay] refused ${remote ?? '?'} (${reason})\n`),
  });
  const print = (): void => {
    process.stdout.write(`[coupler relay] stats ${JSON.stringify(relay.stats())}\n`);
  };
  process.stdout.write(`[coupler relay] listening on ${relay.host}:${relay.port} as ${relay.publicUrls.join(', ')} for ${rosters.length} roster(s)${rosterBound ? ' and roster-bound sessions' : ''}\n`);
  const every = int(values['stats-interval'], '--stats-interval') ?? 0;
  const timer = every > 0 ? setInterval(print, every * 1000) : undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  if (timer) clearInterval(timer);
  print();
  await relay.close();
  return 0;
}
