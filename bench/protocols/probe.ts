/**
 * The physical-limit probe of the protocols benchmark (issue 18): the same all-to-all exchange a
 * plainSum does (8·L bytes from every party to every other), with nothing but TCP, and with TCP
 * plus ChaCha20-Poly1305 (node:crypto) on every 64 KiB chunk, sealed by the sender and opened by
 * the receiver into a buffer. It runs in the protocol party processes, over persistent loopback
 * connections (one per pair, Nagle off) set up once per group, and is timed exactly like a
 * protocol run (after the same barrier round, until this party has sent and received everything).
 *
 * Child side only (imported by `party.ts`).
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { PartyAddress } from './shared.js';

/** Plaintext bytes per sealed chunk. */
export const PROBE_CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
const NONCE_BYTES = 12;
/** Frame of the AEAD probe: 4-byte length of the ciphertext, ciphertext, 16-byte tag. */
const FRAME_HEADER_BYTES = 4;

/** Where a party's probe listener is. */
export interface ProbeAddress {
  id: string;
  host: string;
  port: number;
}

interface Link {
  socket: Socket;
  /** Bytes (plain) or opened plaintext bytes (aead) still expected in the current exchange. */
  expected: number;
  /** Unparsed received bytes (aead framing). */
  pending: Buffer[];
  pendingBytes: number;
  onDone: (() => void) | undefined;
  onError: ((err: Error) => void) | undefined;
  /** Nonce counters; the key is shared by the whole probe (a benchmark, not a protocol). */
  sendCounter: number;
  receiveCounter: number;
}

/** The probe's side of one party. */
export class Probe {
  readonly #id: string;
  readonly #links = new Map<string, Link>();
  #server: Server | undefined;
  #aead = false;
  #received: Uint8Array = new Uint8Array(0);
  #receiving: Promise<unknown> = Promise.resolve();
  /** One key for every pair (sent by the parent): the probe measures cost, not secrecy. */
  #key: Buffer = randomBytes(32);

  constructor(id: string) {
    this.#id = id;
  }

  /** Listen on `host`, port 0; returns the port. */
  async listen(host: string): Promise<number> {
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('probe: no port');
    return address.port;
  }

  /** Dial every party after this one in `all` (the others dial this one); resolves when every link is up. */
  async connect(all: readonly ProbeAddress[], keyHex: string): Promise<void> {
    this.#key = Buffer.from(keyHex, 'hex');
    const me = all.findIndex((a) => a.id === this.#id);
    for (const peer of all.slice(me + 1)) {
      const socket = connect({ host: peer.host, port: peer.port, noDelay: true });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      });
      socket.write(`${this.#id}\n`);
      this.#add(peer.id, socket);
    }
    const deadline = Date.now() + 30_000;
    while (this.#links.size < all.length - 1) {
      if (Date.now() > deadline) throw new Error(`probe: only ${this.#links.size} of ${all.length - 1} links after 30 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      const id = head.slice(0, nl);
      const rest = Buffer.from(head.slice(nl + 1), 'latin1');
      this.#add(id, socket);
      if (rest.length > 0) this.#onData(this.#links.get(id)!, rest);
    };
    socket.on('data', onData);
  }

  #add(peer: string, socket: Socket): void {
    const link: Link = { socket, expected: 0, pending: [], pendingBytes: 0, onDone: undefined, onError: undefined, sendCounter: 0, receiveCounter: 0 };
    this.#links.set(peer, link);
    socket.on('data', (d: Buffer) => this.#onData(link, d));
    socket.on('error', (err) => link.onError?.(err));
  }

  #onData(link: Link, data: Buffer): void {
    if (!this.#aead) {
      link.expected -= data.length;
      if (link.expected < 0) link.onError?.(new Error('probe: more bytes than expected'));
      else if (link.expected === 0) link.onDone?.();
      return;
    }
    link.pending.push(data);
    link.pendingBytes += data.length;
    for (;;) {
      if (link.pendingBytes < FRAME_HEADER_BYTES) return;
      if (link.pending[0]!.length < FRAME_HEADER_BYTES) link.pending = [Buffer.concat(link.pending)];
      const ctLength = link.pending[0]!.readUInt32BE(0);
      const frameBytes = FRAME_HEADER_BYTES + ctLength + TAG_BYTES;
      if (link.pendingBytes < frameBytes) return;
      const all = link.pending.length === 1 ? link.pending[0]! : Buffer.concat(link.pending, link.pendingBytes);
      const frame = all.subarray(0, frameBytes);
      const rest = all.subarray(frameBytes);
      link.pending = rest.length > 0 ? [rest] : [];
      link.pendingBytes = rest.length;
      const nonce = Buffer.alloc(NONCE_BYTES);
      nonce.writeUInt32BE(link.receiveCounter++, NONCE_BYTES - 4);
      const decipher = createDecipheriv('chacha20-poly1305', this.#key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(frame.subarray(FRAME_HEADER_BYTES + ctLength));
      const plain = decipher.update(frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + ctLength));
      decipher.final();
      // Keep the plaintext, as a protocol would (one buffer per party, overwritten per chunk).
      const at = this.#received.length - link.expected;
      if (at >= 0 && at + plain.length <= this.#received.length) this.#received.set(plain, at);
      link.expected -= plain.length;
      if (link.expected < 0) {
        link.onError?.(new Error('probe: more bytes than expected'));
        return;
      }
      if (link.expected === 0) {
        link.onDone?.();
        return;
      }
    }
  }

  #seal(link: Link, chunk: Uint8Array): Buffer {
    const nonce = Buffer.alloc(NONCE_BYTES);
    nonce.writeUInt32BE(link.sendCounter++, NONCE_BYTES - 4);
    const cipher = createCipheriv('chacha20-poly1305', this.#key, nonce, { authTagLength: TAG_BYTES });
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + chunk.length + TAG_BYTES);
    frame.writeUInt32BE(chunk.length, 0);
    const ct = cipher.update(chunk);
    ct.copy(frame, FRAME_HEADER_BYTES);
    cipher.final();
    cipher.getAuthTag().copy(frame, FRAME_HEADER_BYTES + chunk.length);
    return frame;
  }

  /**
   * Get ready to receive `bytes` from every peer (plain or sealed): call before the barrier round
   * that precedes {@link Probe.exchange}, so no peer's data can arrive first.
   */
  expect(bytes: number, aead: boolean): void {
    this.#aead = aead;
    this.#received = new Uint8Array(bytes);
    this.#receiving = Promise.all(
      [...this.#links.values()].map(
        (link) =>
          new Promise<void>((resolve, reject) => {
            link.expected = bytes;
            link.onDone = resolve;
            link.onError = reject;
          }),
      ),
    );
    this.#receiving.catch(() => undefined);
  }

  /**
   * Send `data` to every peer (sealed if {@link Probe.expect} said so) and wait until as many bytes
   * have come from each.
   * @returns bytes written to the sockets.
   */
  async exchange(data: Uint8Array, timeoutMs: number): Promise<number> {
    const aead = this.#aead;
    const links = [...this.#links.values()];
    const receiving = this.#receiving;
    let written = 0;
    const sending = Promise.all(
      links.map(async (link) => {
        for (let off = 0; off < data.length; off += PROBE_CHUNK_BYTES) {
          const chunk = data.subarray(off, Math.min(off + PROBE_CHUNK_BYTES, data.length));
          const out = aead ? this.#seal(link, chunk) : chunk;
          written += out.length;
          if (!link.socket.write(out)) await new Promise<void>((r) => link.socket.once('drain', () => r()));
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([sending, receiving]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`probe: exchange not done within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      for (const link of links) {
        link.onDone = undefined;
        link.onError = undefined;
      }
    }
    return written;
  }

  /** Close every link and the listener. */
  close(): void {
    for (const link of this.#links.values()) link.socket.destroy();
    this.#links.clear();
    this.#server?.close();
  }
}

/** The probe listener addresses, as the parent hands them to every party. */
export function probeAddresses(listen: readonly PartyAddress[], ports: readonly number[]): ProbeAddress[] {
  return listen.map((a, i) => ({ id: a.id, host: a.host, port: ports[i]! }));
}
