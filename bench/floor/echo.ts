/**
 * Child process of the `floor` benchmark: the echoing end of every layer (see `layers.ts`), for
 * the `cross` placement. Started by `index.ts` with `spawnWorker`; answers:
 *
 * - `start` → `{ tcp, ws, channel }` ports of its echo servers (channel party `p2`);
 * - `groupListen` → the port its group party (`p2`) listens on; `groupPeer { port }` tells it
 *   where the parent's party `p1` listens; `groupReady` waits for the two-party group;
 * - `expect { layer, run, count }`: the next `count` round trips of `run` (group round names);
 * - `mark` / `since`: this process's CPU time (user + system, µs) since the last `mark`.
 *
 * @module
 */
import { parseIdentity } from '../../src/identity/identity.js';
import { parseRoster } from '../../src/identity/roster.js';
import type { Group } from '../../src/group/group.js';
import { AddressBook, joinLocal, type TestParties } from '../../test/support/group-harness.js';
import { emit, serve, workerConfig } from '../lib/worker.js';
import { channelEcho, groupEcho, tcpEcho, wsEcho, type EchoEnd, type Layer } from './layers.js';
import type { EchoConfig } from './shared.js';

const cfg = workerConfig<EchoConfig>();
const roster = parseRoster(cfg.roster);
const echoIdentity = parseIdentity(cfg.echoIdentity);
const echoId = cfg.echoId;
const ends = new Map<Layer, EchoEnd>();
const book = new AddressBook();
let joined: Promise<Group[]> | undefined;
let mark = process.cpuUsage();

const fail = (err: unknown): void => {
  process.stderr.write(`floor echo: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(5);
};

serve({
  async start(): Promise<Record<string, number>> {
    if (cfg.layers.includes('tcp')) ends.set('tcp', await tcpEcho());
    if (cfg.layers.includes('ws')) ends.set('ws', await wsEcho());
    if (cfg.layers.includes('channel')) ends.set('channel', await channelEcho({ identity: echoIdentity, roster, sessionId: cfg.sessionId }));
    return Object.fromEntries([...ends].map(([l, e]) => [l, e.port]));
  },
  groupListen(): Promise<number> {
    const parties: TestParties = { ids: [cfg.pingId, echoId], identities: new Map([[echoId, echoIdentity]]), roster, sessionId: cfg.sessionId };
    return new Promise<number>((resolve, reject) => {
      joined = joinLocal(parties, [echoId], book, {
        roundTimeoutMs: cfg.roundTimeoutMs,
        onEvent: (e) => {
          if (e.type === 'listening') resolve(e.port);
        },
      });
      joined.catch(reject);
    });
  },
  groupPeer(params: { port: number }): void {
    book.add(cfg.pingId, params.port);
  },
  async groupReady(): Promise<void> {
    if (joined === undefined) throw new Error('groupListen first');
    const [g] = await joined;
    ends.set('group', groupEcho(g!, fail));
  },
  expect(params: { layer: Layer; run: string; count: number }): void {
    const e = ends.get(params.layer);
    if (e === undefined) throw new Error(`no echo for layer ${params.layer}`);
    e.expect(params.run, params.count);
  },
  mark(): void {
    mark = process.cpuUsage();
  },
  since(): number {
    const c = process.cpuUsage(mark);
    return c.user + c.system;
  },
  async close(): Promise<void> {
    for (const e of ends.values()) await e.close().catch(() => undefined);
    ends.clear();
  },
});
emit({ event: 'ready' });
