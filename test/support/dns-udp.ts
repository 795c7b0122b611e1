/**
 * UDP helpers for discovery tests: send raw bytes to a DNS server and wait (bounded) for one
 * reply, and a "black hole" server that reads queries and never answers. Loopback only.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * Send one datagram and resolve with the first reply, or `undefined` after `timeoutMs`.
 * The socket and timer are always released.
 */
export async function sendRaw(address: string, port: number, bytes: Uint8Array, timeoutMs = 500): Promise<Buffer | undefined> {
  const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<Buffer | undefined>((resolve, reject) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
      socket.once('message', (msg) => resolve(msg));
      socket.once('error', reject);
      socket.send(bytes, port, address);
    });
  } finally {
    clearTimeout(timer);
    socket.close();
  }
}

/** A UDP socket on loopback that swallows every query. */
export interface BlackholeServer {
  /** `ip:port`, for `dnsDiscovery({ servers })`. */
  readonly server: string;
  /** How many datagrams were swallowed so far. */
  received(): number;
  close(): Promise<void>;
}

/** Start a DNS "server" that never answers. */
export async function startBlackhole(host = '127.0.0.1'): Promise<BlackholeServer> {
  const socket: Socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  let count = 0;
  socket.on('message', () => {
    count++;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  const { port } = socket.address();
  return {
    server: isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    received: () => count,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** Whether a UDP socket can bind to ::1 here. */
export async function ipv6LoopbackWorks(): Promise<boolean> {
  const socket = createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '::1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      socket.close();
    } catch {
      /* never bound */
    }
  }
}

/** Resolve with how long `promise` took to settle, and its outcome. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = Date.now();
  try {
    const value = await promise;
    return { ms: Date.now() - start, value };
  } catch (error) {
    return { ms: Date.now() - start, error };
  }
}
