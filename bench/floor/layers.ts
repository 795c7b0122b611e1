/**
 * The four layers of the `floor` benchmark, each as an echoing end ({@link EchoEnd}) and a pinging
 * end ({@link PingEnd}) that can live in the same process or in two processes (the echoing end in
 * `echo.ts`'s child). Side-effect free: imported by the parent (`index.ts`) and by the child.
 *
 * - `tcp`: `node:net` with `setNoDelay(true)` on both ends; the echo writes back every chunk as it
 *   arrives, the pinger counts bytes until the whole message is back.
 * - `ws`: `ws` binary messages with the channel's socket options (client `generateMask:
 *   zeroMaskKey`, `perMessageDeflate: false`, `compress: false` per send), no crypto.
 * - `channel`: a `SecureChannel` pair (`connectChannel` / `listenChannels`, native suite); the echo
 *   sends back every message it gets (`setMessageHandler`).
 * - `group`: a two-party `Group`; the pinger does `send(peer, "<run>/<i>", bytes)` then
 *   `receive(peer, "<run>/<i>r")`, the echo `receive` then `send` — a fresh round name per
 *   message, the rounds of one repetition under one run that both ends end afterwards.
 *
 * @module
 */
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { connectChannel, listenChannels, type SecureChannel } from '../../src/channel/index.js';
import { zeroMaskKey } from '../../src/channel/frames.js';
import type { Group } from '../../src/group/group.js';
import type { Identity } from '../../src/identity/identity.js';
import type { Roster } from '../../src/identity/roster.js';

/** The layers, bottom up; each one's increment is measured against the one before it. */
export const LAYERS = ['tcp', 'ws', 'channel', 'group'] as const;
/** One layer of {@link LAYERS}. */
export type Layer = (typeof LAYERS)[number];

/** What a channel end needs: its own identity, the roster of both parties and the session id. */
export interface ChannelEndOptions {
  readonly identity: Identity;
  readonly roster: Roster;
  readonly sessionId: string;
}

/** The echoing end of a layer. */
export interface EchoEnd {
  /** Where the pinging end connects (tcp, ws, channel); 0 for `group` (formed separately). */
  readonly port: number;
  /** Announce the next `count` round trips of exchange `run` (only `group` needs it: its round names). */
  expect(run: string, count: number): void;
  close(): Promise<void>;
}

/** The pinging end of a layer. */
export interface PingEnd {
  /** One round trip: send the message, resolve when the echo is back. `run` and `i` name the group's rounds. */
  trip(run: string, i: number): Promise<void>;
  /** After the last trip of exchange `run` (`group`: `endRun`). */
  endRun(run: string): void;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// tcp

/** A `node:net` server that writes back every chunk it reads. */
export async function tcpEcho(): Promise<EchoEnd> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    expect: () => undefined,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A `node:net` client; a trip ends when `size` bytes came back. */
export async function tcpPing(port: number, size: number): Promise<PingEnd> {
  const payload = Buffer.alloc(size, 7);
  const c = net.connect(port, HOST);
  c.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  let got = 0;
  let done: (() => void) | undefined;
  c.on('data', (d) => {
    got += d.length;
    if (got >= size) {
      got -= size;
      const f = done;
      done = undefined;
      f?.();
    }
  });
  return {
    trip: () =>
      new Promise<void>((r) => {
        done = r;
        c.write(payload);
      }),
    endRun: () => undefined,
    close: async () => {
      c.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ws

const WS_SEND = { binary: true, compress: false } as const;

/** A `ws` server (no compression) that sends back every binary message. */
export async function wsEcho(): Promise<EchoEnd> {
  const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (s) => {
    s.on('error', () => undefined);
    s.on('message', (d: Buffer) => s.send(d, WS_SEND));
  });
  return {
    port: (wss.address() as net.AddressInfo).port,
    expect: () => undefined,
    close: async () => {
      for (const s of wss.clients) s.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** A `ws` client as the channel opens it (`generateMask: zeroMaskKey`, no compression). */
export async function wsPing(port: number, size: number): Promise<PingEnd> {
  const payload = Buffer.alloc(size, 7);
  const c = new WebSocket(`ws://${HOST}:${port}`, { generateMask: zeroMaskKey, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    c.once('open', () => resolve());
    c.once('error', reject);
  });
  c.on('error', () => undefined);
  let done: (() => void) | undefined;
  c.on('message', () => {
    const f = done;
    done = undefined;
    f?.();
  });
  return {
    trip: () =>
      new Promise<void>((r) => {
        done = r;
        c.send(payload, WS_SEND);
      }),
    endRun: () => undefined,
    close: async () => {
      c.terminate();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// channel

/** A channel listener whose channels send back every message. */
export async function channelEcho(p: ChannelEndOptions): Promise<EchoEnd> {
  const channels = new Set<SecureChannel>();
  const listener = await listenChannels({
    host: HOST,
    port: 0,
    identity: p.identity,
    roster: p.roster,
    sessionId: p.sessionId,
    suite: 'native',
    onChannel: (ch) => {
      channels.add(ch);
      ch.setMessageHandler((m) => void ch.send(m).catch(() => undefined));
    },
  });
  return {
    port: listener.port,
    expect: () => undefined,
    close: async () => {
      for (const ch of channels) ch.destroy();
      await listener.close();
    },
  };
}

/** A channel to the echo's listener, which must be party `peer`. */
export async function channelPing(port: number, size: number, p: ChannelEndOptions & { readonly peer: string }): Promise<PingEnd> {
  const payload = new Uint8Array(size).fill(7);
  const ch = await connectChannel({ host: HOST, port }, { identity: p.identity, roster: p.roster, sessionId: p.sessionId, suite: 'native', expectedPeer: p.peer });
  let done: (() => void) | undefined;
  ch.setMessageHandler(() => {
    const f = done;
    done = undefined;
    f?.();
  });
  return {
    trip: () =>
      new Promise<void>((r) => {
        done = r;
        void ch.send(payload).catch(() => undefined);
      }),
    endRun: () => undefined,
    close: async () => {
      ch.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// group

/** Round name of the i-th message of exchange `run` (`reply`: the echo's answer). */
const roundOf = (run: string, i: number, reply: boolean): string => `${run}/${i}${reply ? 'r' : ''}`;

/** The echoing end on a formed two-party group: per {@link EchoEnd.expect}, receive then send back, `count` times. */
export function groupEcho(g: Group, onError: (err: unknown) => void): EchoEnd {
  const peer = g.peers[0]!;
  return {
    port: 0,
    expect: (run, count) => {
      void (async () => {
        for (let i = 0; i < count; i++) {
          const m = await g.receive(peer, roundOf(run, i, false));
          await g.send(peer, roundOf(run, i, true), m);
        }
        g.endRun(run);
      })().catch(onError);
    },
    close: () => g.close(),
  };
}

/** The pinging end on a formed two-party group: `send` a `size`-byte array, `receive` the answer. */
export function groupPing(g: Group, size: number): PingEnd {
  const peer = g.peers[0]!;
  const payload = new Uint8Array(size).fill(7);
  return {
    trip: async (run, i) => {
      await g.send(peer, roundOf(run, i, false), payload);
      await g.receive(peer, roundOf(run, i, true));
    },
    endRun: (run) => g.endRun(run),
    close: () => g.close(),
  };
}
