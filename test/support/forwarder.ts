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
  /** Destroy every connection and stop listening. */
  close(): Promise<void>;
}

/** Start a forwarder to 127.0.0.1:`target`. */
export async function forwarder(target: number): Promise<Forwarder> {
  const sockets: Socket[] = [];
  let frozen = false;
  const server = createServer((a) => {
    const b = connect(target, '127.0.0.1');
    sockets.push(a, b);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      from.on('data', (d) => {
        if (!frozen) to.write(d);
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
