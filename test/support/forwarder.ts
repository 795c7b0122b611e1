/**
 * A userspace TCP forwarder on 127.0.0.1 (the "userspace forwarder" of the test rules: this
 * machine has no `tc netem`). `freeze()` stops it: no byte moves either way and neither side's end
 * is passed on, so a party behind it looks like a frozen process (its socket open, nothing
 * answered), to the parties that reach it through the forwarder only.
 */
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';

/** A running forwarder to `target` (a port on 127.0.0.1). */
export interface Forwarder {
  /** Where it listens (127.0.0.1). */
  readonly port: number;
  /** Stop moving bytes and passing on closes, both ways, for every connection. */
  freeze(): void;
  /**
   * Stop reading, both ways, for every connection (bytes stay in the kernel's buffers): a party
   * behind it looks like a stopped process (SIGSTOP, a paused VM) — once the buffers toward it are
   * full, a sender's writes to it no longer complete.
   */
  stall(): void;
  /** Move at most `bytesPerSecond` per connection and direction (a slow link that still moves bytes); 0 lifts it. */
  throttle(bytesPerSecond: number): void;
  /** Destroy every connection and stop listening. */
  close(): Promise<void>;
}

/** Start a forwarder to 127.0.0.1:`target`. */
export async function forwarder(target: number): Promise<Forwarder> {
  const sockets: Socket[] = [];
  let frozen = false;
  let rate = 0;
  const server = createServer((a) => {
    const b = connect(target, '127.0.0.1');
    sockets.push(a, b);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      from.on('data', (d) => {
        if (frozen) return;
        to.write(d);
        if (rate > 0) {
          from.pause();
          setTimeout(() => {
            if (!frozen) from.resume();
          }, Math.ceil((1000 * d.length) / rate));
        }
      });
      from.on('error', () => undefined);
      from.on('close', () => {
        if (!frozen) to.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => {
      frozen = true;
    },
    throttle: (bytesPerSecond: number) => {
      rate = bytesPerSecond;
    },
    stall: () => {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
