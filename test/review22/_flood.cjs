// review22: a stranger's flood of failed handshakes (run as its own process by flood-join.test.ts).
// argv: comma-separated ports, number of loopback sources (127.0.0.2 …), concurrent loops per port.
// Each loop: connect, upgrade, a garbage hello and a frame declared 200 KiB and cut short, in one
// write; never answer the close; reconnect as soon as the listener closes. Loopback only.
'use strict';
const net = require('node:net');
const ports = process.argv[2].split(',').map(Number);
const sources = Number(process.argv[3]);
const conc = Number(process.argv[4]);
const UPGRADE =
  'GET /coupler/1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: coupler.1\r\n\r\n';
const head = (len) => {
  if (len < 126) return Buffer.from([0x82, 0x80 | len, 0, 0, 0, 0]);
  const h = Buffer.alloc(14);
  h[0] = 0x82;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(len), 2);
  return h;
};
const CUT = 200 * 1024;
const ATTACK = Buffer.concat([Buffer.from(UPGRADE), head(4), Buffer.from([0xc1, 1, 2, 3]), head(CUT), Buffer.alloc(CUT - 16)]);
let opened = 0;
function loop(port) {
  const s = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${2 + (opened++ % sources)}` });
  s.on('error', () => undefined);
  s.on('connect', () => s.write(ATTACK));
  s.on('data', () => undefined);
  s.on('close', () => setImmediate(() => loop(port)));
}
for (const port of ports) for (let i = 0; i < conc; i++) loop(port);
setInterval(() => process.stdout.write(`opened ${opened}\n`), 1000);
process.on('SIGTERM', () => process.exit(0));
