/**
 * Child process of the channel benchmark. Role `receiver`: listens with coupler (native and
 * tweetnacl suites) and with two raw `ws` servers, counts bulk bytes, acks, echoes pings.
 * Role `sender`: dials them, sends bulk volumes and runs handshakes on request from the parent.
 * Everything is on 127.0.0.1.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { connectChannel, listenChannels, type SecureChannel } from '../../src/channel/index.js';
import { maxFrameBytes, DEFAULT_SEND_HIGH_WATER_BYTES } from '../../src/channel/channel.js';
import { parseIdentity } from '../../src/identity/identity.js';
import { parseRoster } from '../../src/identity/roster.js';
import { emit, serve, workerConfig } from '../lib/worker.js';

/** Config of a peer process (identities are throwaway keys made for this run). */
export interface PeerConfig {
  role: 'receiver' | 'sender';
  senderIdentity: string;
  receiverIdentity: string;
  roster: string;
  sessionId: string;
  chunkBytes: number;
  maxMessageBytes: number;
}

/** Throughput variants. */
export type BulkVariant = 'coupler-native' | 'coupler-tweetnacl' | 'raw-ws' | 'raw-ws-whole';
/** Handshake variants. */
export type HandshakeVariant = 'coupler-native' | 'coupler-tweetnacl' | 'raw-ws';

/** Ports the receiver listens on. */
export interface ReceiverPorts {
  native: number;
  tweetnacl: number;
  raw: number;
  rawWhole: number;
}

const HOST = '127.0.0.1';
const cfg = workerConfig<PeerConfig>();
const roster = parseRoster(cfg.roster);
const enc = new TextEncoder();
const dec = new TextDecoder();
const wsOpts = { binary: true, compress: false } as const;

/** Bulk counter shared by all transports: idle → control message → count bytes → ack. */
function makeSink(reply: (text: string) => void): (data: Uint8Array, isText: boolean) => void {
  let expect = 0;
  let got = 0;
  return (data, isText) => {
    if (expect === 0) {
      let ctl: { op?: string; bytes?: number };
      try {
        ctl = JSON.parse(isText ? data.toString() : dec.decode(data)) as { op?: string; bytes?: number };
      } catch {
        process.stderr.write('receiver: unexpected data while idle\n');
        return;
      }
      if (ctl.op === 'bulk' && typeof ctl.bytes === 'number' && ctl.bytes > 0) {
        expect = ctl.bytes;
        got = 0;
      } else if (ctl.op === 'ping') reply('pong');
      return;
    }
    got += data.length;
    if (got >= expect) {
      expect = 0;
      reply(JSON.stringify({ op: 'ack', bytes: got }));
    }
  };
}

async function receiver(): Promise<void> {
  const identity = parseIdentity(cfg.receiverIdentity);
  const common = { identity, roster, sessionId: cfg.sessionId, chunkBytes: cfg.chunkBytes, maxMessageBytes: cfg.maxMessageBytes, host: HOST, port: 0 };
  const onChannel = (ch: SecureChannel): void => {
    const sink = makeSink((t) => void ch.send(enc.encode(t)).catch(() => undefined));
    ch.setMessageHandler((m) => sink(m, false));
  };
  const native = await listenChannels({ ...common, suite: 'native', onChannel });
  const tweet = await listenChannels({ ...common, suite: 'tweetnacl', onChannel });
  const rawServer = async (maxPayload: number): Promise<WebSocketServer> => {
    const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false, maxPayload, clientTracking: false });
    wss.on('connection', (ws) => {
      ws.on('error', () => undefined);
      const sink = makeSink((t) => ws.send(t));
      ws.on('message', (data: Buffer, isBinary: boolean) => sink(data, !isBinary));
    });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return wss;
  };
  const raw = await rawServer(maxFrameBytes(cfg.chunkBytes));
  const rawWhole = await rawServer(cfg.maxMessageBytes + 1024);
  const portOf = (w: WebSocketServer): number => (w.address() as { port: number }).port;
  const ports: ReceiverPorts = { native: native.port, tweetnacl: tweet.port, raw: portOf(raw), rawWhole: portOf(rawWhole) };
  serve({});
  emit({ event: 'ready', ports });
}

function nextMessage(ws: WebSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onMsg = (d: Buffer): void => {
      ws.off('close', onClose);
      resolve(d);
    };
    const onClose = (): void => {
      ws.off('message', onMsg);
      reject(new Error('raw ws closed'));
    };
    ws.once('message', onMsg);
    ws.once('close', onClose);
  });
}

function openRaw(port: number, maxPayload: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://${HOST}:${port}/`, { perMessageDeflate: false, maxPayload });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function sender(): Promise<void> {
  const identity = parseIdentity(cfg.senderIdentity);
  const receiverId = parseIdentity(cfg.receiverIdentity).id!;
  const common = { identity, roster, sessionId: cfg.sessionId, chunkBytes: cfg.chunkBytes, maxMessageBytes: cfg.maxMessageBytes, expectedPeer: receiverId };
  let ports: ReceiverPorts | undefined;
  const channels = new Map<string, SecureChannel>();
  const raws = new Map<string, WebSocket>();
  const buffers = new Map<number, Uint8Array>();
  const bufferOf = (size: number): Uint8Array => {
    let b = buffers.get(size);
    if (!b) {
      b = new Uint8Array(randomBytes(size));
      buffers.set(size, b);
    }
    return b;
  };

  async function couplerBulk(ch: SecureChannel, size: number, count: number, pipeline: boolean): Promise<number> {
    const buf = bufferOf(size);
    const ack = ch.receive({ timeoutMs: 300_000 });
    await ch.send(enc.encode(JSON.stringify({ op: 'bulk', bytes: size * count })));
    const t0 = performance.now();
    if (pipeline) {
      const sends: Promise<void>[] = [];
      for (let i = 0; i < count; i++) sends.push(ch.send(buf));
      await Promise.all(sends);
    } else {
      for (let i = 0; i < count; i++) await ch.send(buf);
    }
    await ack;
    return (performance.now() - t0) / 1000;
  }

  async function rawBulk(ws: WebSocket, size: number, count: number, piece: number): Promise<number> {
    const buf = bufferOf(size);
    const ack = nextMessage(ws);
    ws.send(JSON.stringify({ op: 'bulk', bytes: size * count }));
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      for (let off = 0; off < size; off += piece) {
        const p = buf.subarray(off, Math.min(off + piece, size));
        // Same backpressure rule as the channel: wait for the write when above the high-water mark.
        if (ws.bufferedAmount > DEFAULT_SEND_HIGH_WATER_BYTES) {
          await new Promise<void>((resolve, reject) => ws.send(p, wsOpts, (e) => (e ? reject(e) : resolve())));
        } else ws.send(p, wsOpts);
      }
    }
    await ack;
    return (performance.now() - t0) / 1000;
  }

  serve({
    async connect(p: { ports: ReceiverPorts }) {
      ports = p.ports;
      channels.set('coupler-native', await connectChannel({ host: HOST, port: ports.native }, { ...common, suite: 'native' }));
      channels.set('coupler-tweetnacl', await connectChannel({ host: HOST, port: ports.tweetnacl }, { ...common, suite: 'tweetnacl' }));
      raws.set('raw-ws', await openRaw(ports.raw, maxFrameBytes(cfg.chunkBytes)));
      raws.set('raw-ws-whole', await openRaw(ports.rawWhole, cfg.maxMessageBytes + 1024));
      return { ok: true };
    },
    async bulk(p: { variant: BulkVariant; size: number; count: number; pipeline?: boolean }) {
      const ch = channels.get(p.variant);
      if (ch) return couplerBulk(ch, p.size, p.count, p.pipeline === true);
      const ws = raws.get(p.variant);
      if (!ws) throw new Error(`unknown variant ${p.variant}`);
      return rawBulk(ws, p.size, p.count, p.variant === 'raw-ws' ? cfg.chunkBytes : p.size);
    },
    async handshake(p: { variant: HandshakeVariant }) {
      if (!ports) throw new Error('connect first');
      if (p.variant === 'raw-ws') {
        const t0 = performance.now();
        const ws = await openRaw(ports.raw, maxFrameBytes(cfg.chunkBytes));
        const t1 = performance.now();
        const pong = nextMessage(ws);
        ws.send(JSON.stringify({ op: 'ping' }));
        await pong;
        const t2 = performance.now();
        const closed = new Promise((r) => ws.once('close', r));
        ws.close(1000);
        await closed;
        return { connectMs: t1 - t0, echoMs: t2 - t0 };
      }
      const suite = p.variant === 'coupler-native' ? 'native' : 'tweetnacl';
      const t0 = performance.now();
      const ch = await connectChannel({ host: HOST, port: suite === 'native' ? ports.native : ports.tweetnacl }, { ...common, suite });
      const t1 = performance.now();
      const pong = ch.receive({ timeoutMs: 10_000 });
      await ch.send(enc.encode(JSON.stringify({ op: 'ping' })));
      await pong;
      const t2 = performance.now();
      await ch.close();
      return { connectMs: t1 - t0, echoMs: t2 - t0 };
    },
    async close() {
      for (const ch of channels.values()) await ch.close();
      for (const ws of raws.values()) ws.close(1000);
      return { ok: true };
    },
  });
  emit({ event: 'ready' });
}

if (cfg.role === 'receiver') void receiver();
else void sender();
