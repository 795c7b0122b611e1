/**
 * The slowloris of `bench/formation`, in its own process (as an attacker elsewhere on the network
 * would be): every `1000 / perSecond` ms, one WebSocket to each target that sends one valid hello
 * and never finishes; on SIGTERM it prints `{"cpuShare": …}` (its CPU time ÷ wall time) and exits. Config: env `CPL_ATTACK` = JSON `{ targets: [{host, port}], sources: [ip],
 * perSecond, hello: base64 of a roster party's identity JSON..., session, roster }`. Stops on SIGTERM.
 *
 * @module
 */
import WebSocket from 'ws';
import { Initiator } from '../../src/channel/handshake.js';
import { CHANNEL_PATH, SUBPROTOCOL } from '../../src/channel/transport.js';
import { parseIdentity } from '../../src/identity/identity.js';
import { parseRoster } from '../../src/identity/roster.js';

interface AttackConfig {
  targets: { host: string; port: number }[];
  sources: string[];
  perSecond: number;
  identity: string;
  localId: string;
  roster: string;
  sessionId: string;
}

const cfg = JSON.parse(process.env.CPL_ATTACK ?? '{}') as AttackConfig;
const identity = parseIdentity(cfg.identity);
const roster = parseRoster(cfg.roster);
const sockets = new Set<WebSocket>();
let k = 0;
const parent = process.ppid;
const timer = setInterval(() => {
  // The bench died without stopping it (killed, crashed): stop too rather than attack on.
  if (process.ppid !== parent) process.exit(0);
  for (const target of cfg.targets) {
    const ws = new WebSocket(`ws://${target.host}:${target.port}${CHANNEL_PATH}`, SUBPROTOCOL, { localAddress: cfg.sources[k++ % cfg.sources.length]!, perMessageDeflate: false });
    sockets.add(ws);
    ws.on('error', () => undefined);
    ws.on('open', () => ws.send(new Initiator({ identity, localId: cfg.localId, roster, sessionId: cfg.sessionId, suite: 'native' }).hello()));
    ws.on('close', () => sockets.delete(ws));
  }
}, Math.round(1000 / cfg.perSecond));
const started = performance.now();
process.on('SIGTERM', () => {
  clearInterval(timer);
  for (const s of sockets) s.terminate();
  // The parent reports how much of a CPU the attack itself took on the shared machine.
  const cpu = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuShare: (cpu.user + cpu.system) / 1000 / (performance.now() - started) })}\n`, () => process.exit(0));
});
process.stdout.write('ready\n');
