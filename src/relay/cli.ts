/**
 * `coupler relay`: run the relay until SIGTERM/SIGINT.
 * @module
 */
import { readBoundedFile } from '../files.js';
import { MAX_PEM_FILE_BYTES } from './dial.js';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { loadRoster } from '../identity/roster.js';
import { startRelay, type RelayLimits, type RelayServer } from './server.js';
import { relayLogger } from './log.js';

/** Default port of `coupler relay`. */
export const DEFAULT_RELAY_CLI_PORT = 8889;
/** Default interface of `coupler relay` (every interface; requires --public-url). */
export const DEFAULT_RELAY_CLI_HOST = '0.0.0.0';

/** Help text of `coupler relay`. */
export const RELAY_HELP = `Usage: coupler relay (--roster FILE [--roster FILE ...] | --roster-bound-sessions) --public-url URL [options]

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
  --public-url URL          ws:// or wss:// URL parties use to reach the relay (repeat; or
                            COUPLER_RELAY_PUBLIC_URL=comma list); parties sign it. Required when
                            --host is a wildcard (the default 0.0.0.0), which no party can dial.
                            With TLS terminated in front of the relay, give the wss:// URL.
  --host ADDR               interface to bind (default 0.0.0.0)
  --port N                  port (default 8889)
  --tls-cert FILE           serve wss:// with this PEM certificate chain (with --tls-key; or
                            COUPLER_RELAY_TLS_CERT / COUPLER_RELAY_TLS_KEY)
  --tls-key FILE            the PEM private key of --tls-cert
  --max-sessions N          live sessions (default 128)
  --max-sessions-per-source N  live sessions one source address (IPv6: /64) opens (default 16)
  --max-sessions-per-roster N  live sessions of one roster digest (default 32)
  --max-connections N       admitted connections in all (default 256)
  --max-per-source N        admitted connections per source address (default 128)
  --max-per-session N       connections per session (default 19800)
  --max-pending N           connections not admitted yet, in all (default 64)
  --max-pending-per-source N  the same per source address (default 16)
  --max-bytes-per-session N bytes forwarded per session (default 64 GiB)
  --max-aggregations N      live relayed openings (opening 'relay': the relay adds the parties'
                            masked vectors), 1 MiB each at most (default 4)
  --max-aggregations-per-session N  the same per session (default 2)
  --max-aggregations-per-roster N  the same per roster digest (default 2)
  --max-aggregations-per-source N  the same per source address of the first member (default 2);
                            a full source or relay evicts one still missing members of a heavier
                            roster (or source)
  --aggregate-join-timeout SECONDS  wait for the next member of a relayed opening (default 60)
  --max-aggregate-elements N  elements of one relayed opening's vectors (default 16777216)
  --admission-timeout SECONDS  deadline for the admission request (default 10)
  --pair-timeout SECONDS    how long an admitted connection waits for its peer (default 120)
  --idle-timeout SECONDS    a session without traffic ends after (default 600)
  --stats-interval SECONDS  print counters every SECONDS (default 0: only at exit)
  --log-admissions          log every admitted connection (default: the first of each session)

Logs: one line per new session and per session end (id, roster digest, sources, bytes, duration);
refusals at most once per 10 s per (reason, source) with the count held back. HTTP on the same
port: GET /healthz (200 ok), GET /metrics (Prometheus text).`;

function int(value: unknown, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer of at least ${min}`);
  return n;
}

const list = (flag: unknown, env: string | undefined): string[] =>
  [...((flag as string[] | undefined) ?? []), ...(env ?? '').split(',')].map((f) => f.trim()).filter((f) => f !== '');

/** Run `coupler relay` with its arguments; resolves with the exit code when stopped by a signal. */
export async function relayCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (args.some((a) => a === '--max-bound-per-source' || a.startsWith('--max-bound-per-source='))) {
    throw new InvalidArgumentError('--max-bound-per-source is now --max-sessions-per-source (it counts every session a source opens)');
  }
  const { values } = parseArgs({
    args,
    options: {
      roster: { type: 'string', multiple: true },
      'roster-bound-sessions': { type: 'boolean' },
      host: { type: 'string' },
      port: { type: 'string' },
      'public-url': { type: 'string', multiple: true },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'max-sessions': { type: 'string' },
      'max-sessions-per-source': { type: 'string' },
      'max-sessions-per-roster': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-per-session': { type: 'string' },
      'max-per-source': { type: 'string' },
      'max-pending': { type: 'string' },
      'max-pending-per-source': { type: 'string' },
      'max-bytes-per-session': { type: 'string' },
      'max-aggregations': { type: 'string' },
      'max-aggregations-per-session': { type: 'string' },
      'max-aggregations-per-roster': { type: 'string' },
      'max-aggregations-per-source': { type: 'string' },
      'aggregate-join-timeout': { type: 'string' },
      'max-aggregate-elements': { type: 'string' },
      'admission-timeout': { type: 'string' },
      'pair-timeout': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'stats-interval': { type: 'string' },
      'log-admissions': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${RELAY_HELP}\n`);
    return 0;
  }
  const files = list(values.roster, env.COUPLER_RELAY_ROSTERS);
  const rosterBound = values['roster-bound-sessions'] === true || env.COUPLER_RELAY_ROSTER_BOUND === '1' || env.COUPLER_RELAY_ROSTER_BOUND === 'true';
  if (files.length === 0 && !rosterBound) throw new InvalidArgumentError('coupler relay needs at least one --roster FILE, or --roster-bound-sessions');
  const host = (values.host as string | undefined) ?? DEFAULT_RELAY_CLI_HOST;
  const port = int(values.port, '--port') ?? DEFAULT_RELAY_CLI_PORT;
  const publicUrls = list(values['public-url'], env.COUPLER_RELAY_PUBLIC_URL);
  if (publicUrls.length === 0 && (host === '0.0.0.0' || host === '::')) {
    throw new InvalidArgumentError(
      `coupler relay needs --public-url: parties sign the URL they dial, and ws://${host}:${port} is not one they can dial (e.g. --public-url ws://relay.example.org:${port}, or --host with a reachable address)`,
    );
  }
  const certFile = (values['tls-cert'] as string | undefined) ?? env.COUPLER_RELAY_TLS_CERT;
  const keyFile = (values['tls-key'] as string | undefined) ?? env.COUPLER_RELAY_TLS_KEY;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  const pem = async (file: string, flag: string): Promise<Buffer> => {
    try {
      return (await readBoundedFile(file, MAX_PEM_FILE_BYTES)).bytes;
    } catch (err) {
      throw new InvalidArgumentError(`${flag}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const tls = certFile !== undefined && keyFile !== undefined ? { cert: await pem(certFile, '--tls-cert'), key: await pem(keyFile, '--tls-key') } : undefined;
  const rosters = await Promise.all(files.map((f) => loadRoster(f)));
  const seconds = (flag: string): number | undefined => {
    const v = int(values[flag as keyof typeof values], `--${flag}`, 1);
    return v === undefined ? undefined : v * 1000;
  };
  const limits: Record<string, number | undefined> = {
    maxSessions: int(values['max-sessions'], '--max-sessions', 1),
    maxSessionsPerSource: int(values['max-sessions-per-source'], '--max-sessions-per-source', 1),
    maxSessionsPerDigest: int(values['max-sessions-per-roster'], '--max-sessions-per-roster', 1),
    maxConnections: int(values['max-connections'], '--max-connections', 1),
    maxConnectionsPerSession: int(values['max-per-session'], '--max-per-session', 1),
    maxConnectionsPerSource: int(values['max-per-source'], '--max-per-source', 1),
    maxPending: int(values['max-pending'], '--max-pending', 1),
    maxPendingPerSource: int(values['max-pending-per-source'], '--max-pending-per-source', 1),
    maxBytesPerSession: int(values['max-bytes-per-session'], '--max-bytes-per-session', 1),
    maxAggregations: int(values['max-aggregations'], '--max-aggregations', 1),
    maxAggregationsPerSession: int(values['max-aggregations-per-session'], '--max-aggregations-per-session', 1),
    maxAggregationsPerDigest: int(values['max-aggregations-per-roster'], '--max-aggregations-per-roster', 1),
    maxAggregationsPerSource: int(values['max-aggregations-per-source'], '--max-aggregations-per-source', 1),
    aggregateJoinTimeoutMs: seconds('aggregate-join-timeout'),
    maxAggregateElements: int(values['max-aggregate-elements'], '--max-aggregate-elements', 1),
    admissionTimeoutMs: seconds('admission-timeout'),
    pairTimeoutMs: seconds('pair-timeout'),
    idleTimeoutMs: seconds('idle-timeout'),
  };
  const given = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as RelayLimits;
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const relay: RelayServer = await startRelay({
    rosters,
    rosterBoundSessions: rosterBound,
    host,
    port,
    ...(publicUrls.length > 0 ? { publicUrls } : {}),
    ...(tls ? { tls } : {}),
    ...given,
    onEvent: relayLogger({ write: log, verbose: values['log-admissions'] === true }),
  });
  const print = (): void => {
    process.stdout.write(`[coupler relay] stats ${JSON.stringify(relay.stats())}\n`);
  };
  process.stdout.write(
    `[coupler relay] listening on ${relay.host}:${relay.port}${tls ? ' (TLS)' : ''} as ${relay.publicUrls.join(', ')} for ${rosters.length} roster(s)${rosterBound ? ' and roster-bound sessions' : ''}; memory bound ${Math.round(relay.stats().memoryBoundBytes / 2 ** 20)} MiB + runtime\n`,
  );
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
