/**
 * Testbed child: a userspace TCP forwarder, in its own namespace. Three uses:
 *
 * - **delay proxy**: every chunk read from one side is written to the other `delayMs` later
 *   (both directions, order preserved). What it emulates: a fixed one-way propagation delay
 *   added to every byte between the two endpoints (a "slow host" or a WAN RTT). What it does NOT
 *   emulate: packet loss (a TCP proxy cannot lose bytes: it would corrupt the stream; loss would
 *   need netem, which this kernel lacks), jitter, reordering, or the WAN's effect on TCP
 *   congestion control (the proxy terminates TCP, so each endpoint's congestion window sees the
 *   short hop to the proxy, not the added delay). Bandwidth is capped separately by tbf.
 * - **relay** (`delayMs` 0, no tamper): a central server that forwards opaque bytes; one listen
 *   port per destination party. Used by the relay benchmark.
 * - **on-path attacker** (`tamper`): parses the WebSocket framing of the forwarded stream and,
 *   in one direction, modifies (flips one bit of the last payload byte), drops, or replays (sends
 *   twice) the `atMessage`-th binary WebSocket message of each connection. WebSocket framing is
 *   kept valid, so what reaches coupler is a well-formed frame whose content or sequence is wrong.
 *
 * Configuration: `CPL_FWD` = JSON `{ routes: [{ listenPort, host, port }], delayMs?, tamper? }`.
 */
import { createServer, connect, type Socket } from 'node:net';
import { childSetup, emit } from './child';

interface Route {
  listenPort: number;
  host: string;
  port: number;
}
interface Tamper {
  mode: 'modify' | 'drop' | 'replay';
  /** c2s: dialer → listener (masked client frames); s2c: the other way. */
  direction: 'c2s' | 's2c';
  /** 1-based index of the binary WebSocket message to attack on each connection. */
  atMessage: number;
}
interface Config {
  routes: Route[];
  delayMs?: number;
  tamper?: Tamper;
}

const HIGH_WATER = 8 * 1024 * 1024;

/** Writes chunks to `dst` after a fixed delay, in order, pausing `src` when too much is queued. */
function delayedWriter(src: Socket, dst: Socket, delayMs: number): (chunk: Buffer) => void {
  if (delayMs <= 0) return (chunk) => {
    if (!dst.write(chunk)) {
      src.pause();
      dst.once('drain', () => src.resume());
    }
  };
  let pending = 0;
  return (chunk) => {
    pending += chunk.length;
    if (pending > HIGH_WATER) src.pause();
    // Timers of equal duration fire in insertion order, so order is preserved.
    setTimeout(() => {
      pending -= chunk.length;
      if (!dst.destroyed) dst.write(chunk);
      if (pending <= HIGH_WATER / 2 && src.isPaused()) src.resume();
    }, delayMs);
  };
}

/** Splits a byte stream into: the HTTP upgrade head (passed through), then whole WebSocket frames. */
class WsFramer {
  #buf: Buffer = Buffer.alloc(0);
  #inHttp = true;
  #binaryCount = 0;
  constructor(readonly onUnit: (unit: Buffer, binaryIndex: number | undefined) => void) {}

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      if (this.#inHttp) {
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        this.onUnit(this.#buf.subarray(0, end + 4), undefined);
        this.#buf = this.#buf.subarray(end + 4);
        this.#inHttp = false;
        continue;
      }
      if (this.#buf.length < 2) return;
      const b1 = this.#buf[1]!;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.#buf.length < 4) return;
        len = this.#buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.#buf.length < 10) return;
        len = Number(this.#buf.readBigUInt64BE(2));
        off = 10;
      }
      if (b1 & 0x80) off += 4;
      if (this.#buf.length < off + len) return;
      const frame = Buffer.from(this.#buf.subarray(0, off + len));
      this.#buf = this.#buf.subarray(off + len);
      const opcode = frame[0]! & 0x0f;
      this.onUnit(frame, opcode === 2 ? ++this.#binaryCount : undefined);
    }
  }
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.CPL_FWD ?? '{}') as Config;
  const delayMs = cfg.delayMs ?? 0;
  let connections = 0;
  childSetup();
  const servers = await Promise.all(
    cfg.routes.map(
      (route) =>
        new Promise<void>((resolve, reject) => {
          const server = createServer((client) => {
            const conn = ++connections;
            client.setNoDelay(true);
            const upstream = connect({ host: route.host, port: route.port });
            upstream.setNoDelay(true);
            emit('connection', { conn, listenPort: route.listenPort, from: client.remoteAddress });
            const toUp = delayedWriter(client, upstream, delayMs);
            const toDown = delayedWriter(upstream, client, delayMs);
            const wire = (src: Socket, write: (b: Buffer) => void, direction: 'c2s' | 's2c'): void => {
              const t = cfg.tamper;
              if (t === undefined || t.direction !== direction) {
                src.on('data', write);
                return;
              }
              const framer = new WsFramer((unit, idx) => {
                if (idx !== t.atMessage) return write(unit);
                emit('tampered', { conn, mode: t.mode, direction, message: idx, bytes: unit.length });
                if (t.mode === 'drop') return;
                if (t.mode === 'replay') {
                  write(unit);
                  write(Buffer.from(unit));
                  return;
                }
                const copy = Buffer.from(unit);
                copy[copy.length - 1]! ^= 0x01;
                write(copy);
              });
              src.on('data', (c: Buffer) => framer.push(c));
            };
            wire(client, toUp, 'c2s');
            wire(upstream, toDown, 's2c');
            const end = (): void => {
              setTimeout(() => {
                client.destroy();
                upstream.destroy();
              }, delayMs);
            };
            client.on('close', end);
            upstream.on('close', end);
            client.on('error', () => undefined);
            upstream.on('error', () => undefined);
          });
          server.once('error', reject);
          server.listen(route.listenPort, '0.0.0.0', () => resolve());
        }),
    ),
  );
  emit('listening', { routes: servers.length, delayMs, tamper: cfg.tamper ?? null });
}

main().catch((err: unknown) => {
  emit('fatal', { message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
