/**
 * The relay's counters in the Prometheus text exposition format (version 0.0.4), served at
 * `/metrics` on the relay's own port.
 *
 * @module
 */
import { RELAY_REFUSE_REASONS } from './protocol.js';
import type { RelayStats } from './server.js';

/** Prefix of every metric name. */
export const RELAY_METRIC_PREFIX = 'coupler_relay_';

/**
 * Render `stats` as Prometheus text: gauges for what is live now, counters for totals, refusals
 * by `reason` (every reason listed, zero included, so a dashboard sees a stable series set).
 *
 * @example
 * res.end(relayMetrics(relay.stats()));
 */
export function relayMetrics(stats: RelayStats): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number): void => {
    out.push(`# HELP ${RELAY_METRIC_PREFIX}${name} ${help}`, `# TYPE ${RELAY_METRIC_PREFIX}${name} ${type}`, `${RELAY_METRIC_PREFIX}${name} ${value}`);
  };
  metric('pending_connections', 'gauge', 'Connections accepted and not admitted yet.', stats.pending);
  metric('connections', 'gauge', 'Admitted connections.', stats.connections);
  metric('pairs', 'gauge', 'Pairs of connections forwarding.', stats.pairs);
  metric('sessions', 'gauge', 'Live sessions.', stats.sessions);
  metric('nonces', 'gauge', 'Remembered admission nonces (the replay set).', stats.nonces);
  metric('queued_bytes', 'gauge', 'Bytes held on their way to a connection.', stats.queuedBytes);
  metric('memory_bound_bytes', 'gauge', 'The most connections, sessions and nonces can hold at the configured limits.', stats.memoryBoundBytes);
  metric('admissions_total', 'counter', 'Connections admitted.', stats.admitted);
  metric('sessions_ended_total', 'counter', 'Sessions ended.', stats.sessionsEnded);
  metric('forwarded_bytes_total', 'counter', 'Payload bytes forwarded.', stats.bytesForwarded);
  metric('forwarded_messages_total', 'counter', 'Messages forwarded.', stats.messagesForwarded);
  metric('aggregations', 'gauge', 'Live aggregations (relayed openings).', stats.aggregations.live);
  metric('aggregations_completed_total', 'counter', 'Aggregations answered.', stats.aggregations.completed);
  metric('aggregations_failed_total', 'counter', 'Aggregations ended without an answer.', stats.aggregations.failed);
  metric('aggregated_bytes_total', 'counter', 'Bytes uploaded to and answered from aggregations.', stats.aggregations.bytes);
  const name = `${RELAY_METRIC_PREFIX}refusals_total`;
  out.push(`# HELP ${name} Connections refused or ended by the relay, by reason.`, `# TYPE ${name} counter`);
  for (const reason of RELAY_REFUSE_REASONS) out.push(`${name}{reason="${reason}"} ${stats.refused[reason] ?? 0}`);
  return `${out.join('\n')}\n`;
}
