/**
 * The secure channel: an authenticated, encrypted, ordered message pipe to one roster peer over
 * one WebSocket. Messages of any size up to `maxMessageBytes` are split into frames of at most
 * `chunkBytes`; a sender that outpaces the network waits (send buffer high-water mark), and a
 * receiver whose application does not keep up pauses the socket (receive queue high-water mark),
 * so memory per peer stays bounded at about the two high-water marks plus one message.
 *
 * @module
 */
import type WebSocket from 'ws';
import { ChannelError, CouplerError, ErrorCode, TimeoutError, AbortedError, InvalidArgumentError, describeType } from '../errors.js';
import { isBytes } from '../crypto/bytes.js';
import { FRAME_HEADER, FrameOpener, FrameSealer, FrameType } from './frames.js';
import type { HandshakeResult } from './handshake.js';
import type { Suite } from './suite.js';

/** Tunables of a channel; every field has a documented default. */
export interface ChannelLimits {
  /** Largest message accepted or sent, bytes. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
  /** Plaintext bytes per frame, at least {@link MIN_CHUNK_BYTES}. Default {@link DEFAULT_CHUNK_BYTES}. */
  readonly chunkBytes?: number;
  /** Sender waits while more than this many bytes are buffered in the socket. Default 8 MiB. */
  readonly sendHighWaterBytes?: number;
  /**
   * Socket is paused while more than this many received bytes wait for the application (each
   * message counted as its bytes, at least {@link QUEUED_MESSAGE_COST}). Default 64 MiB.
   */
  readonly receiveHighWaterBytes?: number;
}

/** Default largest message: 256 MiB (a vector of 32M ring elements). */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/**
 * Smallest `chunkBytes`: every frame of a message but its last carries exactly the sender's
 * `chunkBytes`, so a receiver refuses a non-last frame with fewer bytes — each part of a message
 * is held as an object of its own (~200 bytes of heap), and parts of 0 or 1 bytes let a peer grow
 * a channel's memory without bound within `maxMessageBytes` (review19 R19-1).
 */
export const MIN_CHUNK_BYTES = 1024;
/**
 * The least a message waiting in the receive queue is counted, whatever its length (the heap of
 * the queued object, measured ~190 bytes on Node 20): empty messages counted as 0 bytes never
 * paused the socket (review19 R19-2).
 */
export const QUEUED_MESSAGE_COST = 256;
/** Default plaintext bytes per frame: 256 KiB. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
/** Default send buffer high-water mark: 8 MiB. */
export const DEFAULT_SEND_HIGH_WATER_BYTES = 8 * 1024 * 1024;
/** Default receive queue high-water mark: 64 MiB. */
export const DEFAULT_RECEIVE_HIGH_WATER_BYTES = 64 * 1024 * 1024;
/** How long {@link SecureChannel.close} waits for queued sends before cutting the connection. */
export const CLOSE_FLUSH_TIMEOUT_MS = 5_000;
/**
 * How long {@link SecureChannel.close} waits for the peer's WebSocket close reply before it
 * destroys the socket (ws waits 30 s by default: a peer whose host was cut off kept the process
 * alive that long after the run had already failed on time).
 */
export const CLOSE_REPLY_TIMEOUT_MS = 1_000;

/** What every frame is sent with (one object, not one per frame: ws only reads it). */
const SEND_OPTIONS = { binary: true, compress: false } as const;

/** Longest delay a Node timer honours; longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** True for an AbortSignal (checked by shape, so signals from other realms pass). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<AbortSignal>;
  return typeof v.aborted === 'boolean' && typeof v.addEventListener === 'function' && typeof v.removeEventListener === 'function';
}

/** Byte and message counters of one channel (wire bytes include framing and tags). */
export interface ChannelStats {
  /** Wire bytes sent: sealed frames (header, ciphertext, tag), without WebSocket/TCP headers. */
  bytesSent: number;
  /** Wire bytes received, counted like {@link ChannelStats.bytesSent}. */
  bytesReceived: number;
  /** Messages sent (a chunked message counts once). */
  messagesSent: number;
  /** Messages received and delivered. */
  messagesReceived: number;
}

/** Options of {@link SecureChannel.receive}. */
export interface ReceiveOptions {
  /** Give up after this many milliseconds with a {@link TimeoutError}. */
  readonly timeoutMs?: number;
  /** Aborts the wait with {@link AbortedError}. */
  readonly signal?: AbortSignal;
}

interface Waiter {
  resolve(message: Uint8Array): void;
  reject(err: CouplerError): void;
}

/** Normalised limits. */
export interface ResolvedLimits {
  maxMessageBytes: number;
  chunkBytes: number;
  sendHighWaterBytes: number;
  receiveHighWaterBytes: number;
}

/** Fill in defaults and validate limits. */
export function resolveLimits(limits: ChannelLimits = {}): ResolvedLimits {
  const pick = (v: number | undefined, d: number, name: string, min: number): number => {
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw new ChannelError(ErrorCode.MESSAGE_TOO_LARGE, `"${name}" must be an integer >= ${min}`);
    }
    return v;
  };
  const chunkBytes = pick(limits.chunkBytes, DEFAULT_CHUNK_BYTES, 'chunkBytes', MIN_CHUNK_BYTES);
  return {
    maxMessageBytes: pick(limits.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes', 1),
    chunkBytes,
    sendHighWaterBytes: pick(limits.sendHighWaterBytes, DEFAULT_SEND_HIGH_WATER_BYTES, 'sendHighWaterBytes', chunkBytes),
    receiveHighWaterBytes: pick(limits.receiveHighWaterBytes, DEFAULT_RECEIVE_HIGH_WATER_BYTES, 'receiveHighWaterBytes', 1),
  };
}

/** Largest frame on the wire for a given chunk size. */
export function maxFrameBytes(chunkBytes: number): number {
  return chunkBytes + FRAME_HEADER + 64;
}

/**
 * An authenticated encrypted channel to one peer. Obtain one from `connectChannel` or
 * `listenChannels`; the group layer manages them for you.
 */
export class SecureChannel {
  /** The authenticated roster id of the peer. */
  readonly peerId: string;
  /** This party's id. */
  readonly localId: string;
  /** The session id both sides proved in the handshake. */
  readonly sessionId: string;
  /** Unique id of this channel (the handshake transcript hash). */
  readonly transcript: Uint8Array;
  /** Which side opened the connection. */
  readonly initiator: boolean;
  /** Counters. */
  readonly stats: ChannelStats = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0 };
  /**
   * @internal When the socket last took a frame of this channel (`Date.now()`; when the channel
   * was made, before any): a send still pending long after it is held by a peer that stopped
   * reading, one pending while this moves only by a slow link (see the group's send deadline).
   */
  tookAt = Date.now();
  /** @internal Bytes of frames the socket has taken so far (see {@link SecureChannel.tookAt}). */
  takenBytes = 0;

  readonly #ws: WebSocket;
  readonly #sealer: FrameSealer;
  readonly #opener: FrameOpener;
  readonly #limits: ResolvedLimits;
  readonly #exporter: Uint8Array;
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #paused = false;
  #waiters: Waiter[] = [];
  #handler: ((message: Uint8Array) => void) | undefined;
  #closeHandlers: ((error: CouplerError | undefined) => void)[] = [];
  #sendChain: Promise<void> = Promise.resolve();
  /** Messages in {@link SecureChannel.send}'s chain, not yet fully handed to the socket. */
  #chained = 0;
  #closed = false;
  #closeError: CouplerError | undefined;
  #resolveClosed!: (error: CouplerError | undefined) => void;
  /** Resolves (never rejects) when the channel closes: with undefined for a clean close, else the error. */
  readonly closed: Promise<CouplerError | undefined>;

  /** @internal created by the transport after a successful handshake. */
  constructor(
    ws: WebSocket,
    hs: HandshakeResult,
    suite: Suite,
    info: { localId: string; sessionId: string; initiator: boolean },
    limits: ResolvedLimits,
    leftover: readonly Uint8Array[] = [],
  ) {
    this.#ws = ws;
    this.peerId = hs.peerId;
    this.localId = info.localId;
    this.sessionId = info.sessionId;
    this.initiator = info.initiator;
    this.transcript = hs.transcript;
    this.#limits = limits;
    this.#exporter = Uint8Array.from(hs.exporter);
    this.#sealer = new FrameSealer(suite, hs.sendKey, hs.sendBinding, hs.peerId);
    this.#opener = new FrameOpener(suite, hs.receiveKey, hs.receiveBinding, hs.peerId, maxFrameBytes(limits.chunkBytes));
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onFrame(data, isBinary));
    ws.on('close', () => this.#finish(new ChannelError(ErrorCode.CHANNEL_CLOSED, 'connection lost', { peer: this.peerId })));
    ws.on('error', (err) => this.#finish(new ChannelError(ErrorCode.CHANNEL_CLOSED, 'connection error', { peer: this.peerId, cause: err })));
    for (const frame of leftover) this.#onFrame(Buffer.from(frame), true);
  }

  /**
   * @internal A copy of the channel's exporter secret (see `HandshakeResult.exporter`), for the
   * group's link; all zeros once the channel has closed.
   */
  _exporter(): Uint8Array {
    return Uint8Array.from(this.#exporter);
  }

  /** True once the channel has closed (cleanly or not). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * @internal Whether bytes of this party's messages wait to leave toward the peer: a message queued
   * behind others, or frames the socket has not taken yet (what a liveness probe's answer counts as
   * waiting for the peer — a party blocked in a send to a peer that reads slowly is not idle).
   */
  get sending(): boolean {
    return !this.#closed && (this.#chained > 0 || this.#ws.bufferedAmount > 0);
  }

  /** The error that closed the channel, if it did not close cleanly. */
  get closeError(): CouplerError | undefined {
    return this.#closeError;
  }

  /**
   * Send one message. Resolves when its last frame has been handed to the socket; waits while the
   * socket's send buffer is above the high-water mark. Messages are delivered in order.
   *
   * @throws {@link ChannelError} `CHANNEL_CLOSED`, `MESSAGE_TOO_LARGE`, `COUNTER_EXHAUSTED`.
   */
  send(message: Uint8Array): Promise<void> {
    if (!isBytes(message)) {
      return Promise.reject(new InvalidArgumentError(`"message" must be a Uint8Array, got ${describeType(message)}`, { peer: this.peerId }));
    }
    if (message.length > this.#limits.maxMessageBytes) {
      return Promise.reject(
        new ChannelError(ErrorCode.MESSAGE_TOO_LARGE, `message of ${message.length} bytes exceeds maxMessageBytes ${this.#limits.maxMessageBytes}`, {
          peer: this.peerId,
        }),
      );
    }
    if (this.#chained === 0 && message.length <= this.#limits.chunkBytes && this.#ws.bufferedAmount <= this.#limits.sendHighWaterBytes) {
      // Nothing queued, one frame, socket not backed up: sealed and handed to the socket now (the
      // order is kept, as every earlier message already went to the socket), without a turn
      // through the chain.
      if (this.#closed) return Promise.reject(this.#closedError());
      let frame: Uint8Array;
      try {
        frame = this.#seal(FrameType.LAST, message);
      } catch (err) {
        return Promise.reject(err);
      }
      // The message is counted in the socket's callback itself: no second promise per message.
      return this.#write(frame, true);
    }
    this.#chained++;
    const run = this.#sendChain.then(() => this.#sendNow(message)).finally(() => this.#chained--);
    this.#sendChain = run.catch(() => undefined);
    return run;
  }

  async #sendNow(message: Uint8Array): Promise<void> {
    if (this.#closed) throw this.#closedError();
    const chunk = this.#limits.chunkBytes;
    let offset = 0;
    do {
      const end = Math.min(offset + chunk, message.length);
      const last = end === message.length;
      const frame = this.#seal(last ? FrameType.LAST : FrameType.MORE, message.subarray(offset, end));
      const written = this.#write(frame);
      // Not every frame's write is awaited; a failure of one that is not surfaces through the
      // closed state below, so it must never become an unhandled rejection.
      written.catch(() => undefined);
      offset = end;
      if (this.#ws.bufferedAmount > this.#limits.sendHighWaterBytes || last) await written;
      if (this.#closed) throw this.#closedError();
    } while (offset < message.length);
    this.stats.messagesSent++;
  }

  #seal(type: number, chunk: Uint8Array): Uint8Array {
    return this.#sealer.seal(type, chunk);
  }

  /** Hand `frame` to the socket; resolves once it took it (and counts a message then when `lastOfMessage`). */
  #write(frame: Uint8Array, lastOfMessage = false): Promise<void> {
    this.stats.bytesSent += frame.length;
    return new Promise((resolve, reject) => {
      this.#ws.send(frame, SEND_OPTIONS, (err) => {
        if (err) reject(this.#closedError(err));
        else {
          this.tookAt = Date.now();
          this.takenBytes += frame.length;
          if (lastOfMessage) this.stats.messagesSent++;
          resolve();
        }
      });
    });
  }

  /** Error for use after close: always CHANNEL_CLOSED; the error that closed the channel is the `cause`. */
  #closedError(cause?: unknown): ChannelError {
    const why = this.#closeError ?? cause;
    const message = this.#closeError === undefined ? 'channel is closed' : `channel is closed (${this.#closeError.code})`;
    return new ChannelError(ErrorCode.CHANNEL_CLOSED, message, why === undefined ? { peer: this.peerId } : { peer: this.peerId, cause: why });
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    this.stats.bytesReceived += data.length;
    try {
      if (!isBinary) throw new ChannelError(ErrorCode.FRAME_MALFORMED, 'text frame on a binary channel', { peer: this.peerId });
      const { type, chunk } = this.#opener.open(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (type === FrameType.CLOSE) {
        this.#finish(undefined);
        this.#ws.close(1000);
        return;
      }
      // An honest sender fills every frame of a message but the last (its chunkBytes, at least
      // MIN_CHUNK_BYTES): shorter ones only make this side hold one part per frame (R19-1).
      if (type === FrameType.MORE && chunk.length < MIN_CHUNK_BYTES) {
        throw new ChannelError(ErrorCode.FRAME_MALFORMED, `a frame that does not end its message carries ${chunk.length} bytes, fewer than ${MIN_CHUNK_BYTES}`, { peer: this.peerId });
      }
      if (this.#partBytes + chunk.length > this.#limits.maxMessageBytes) {
        throw new ChannelError(ErrorCode.MESSAGE_TOO_LARGE, `incoming message exceeds maxMessageBytes ${this.#limits.maxMessageBytes}`, {
          peer: this.peerId,
        });
      }
      if (type === FrameType.LAST && this.#parts.length === 0) {
        // A message of one frame (nearly all of them): the opened chunk as it is, a Uint8Array
        // of its own, without the parts list.
        this.stats.messagesReceived++;
        this.#deliver(chunk);
        return;
      }
      this.#parts.push(chunk);
      this.#partBytes += chunk.length;
      if (type === FrameType.LAST) {
        const message = Buffer.concat(this.#parts, this.#partBytes);
        this.#parts = [];
        this.#partBytes = 0;
        this.stats.messagesReceived++;
        this.#deliver(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
      }
    } catch (err) {
      this.#fail(err instanceof CouplerError ? err : new ChannelError(ErrorCode.FRAME_MALFORMED, 'bad frame', { peer: this.peerId, cause: err }));
    }
  }

  #deliver(message: Uint8Array): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(message);
      return;
    }
    if (this.#handler !== undefined && this.#queue.length === 0) {
      this.#handler(message);
      return;
    }
    this.#queue.push(message);
    this.#queuedBytes += Math.max(message.length, QUEUED_MESSAGE_COST);
    if (!this.#paused && this.#queuedBytes > this.#limits.receiveHighWaterBytes) {
      this.#paused = true;
      this.#ws.pause();
    }
  }

  #dequeue(): Uint8Array | undefined {
    const message = this.#queue.shift();
    if (message === undefined) return undefined;
    this.#queuedBytes -= Math.max(message.length, QUEUED_MESSAGE_COST);
    if (this.#paused && this.#queuedBytes <= this.#limits.receiveHighWaterBytes / 2) {
      this.#paused = false;
      this.#ws.resume();
    }
    return message;
  }

  /**
   * Deliver every message (queued ones first) to `handler` instead of {@link SecureChannel.receive}.
   * The handler must not throw; it runs synchronously in the socket's event.
   */
  setMessageHandler(handler: (message: Uint8Array) => void): void {
    this.#handler = handler;
    for (let m = this.#dequeue(); m !== undefined; m = this.#dequeue()) handler(m);
  }

  /** Call `handler` once when the channel closes (immediately if it already has). */
  onClose(handler: (error: CouplerError | undefined) => void): void {
    if (this.#closed) queueMicrotask(() => handler(this.#closeError));
    else this.#closeHandlers.push(handler);
  }

  /**
   * The next message.
   * @throws {@link ChannelError} when the channel closes first, {@link TimeoutError}, {@link AbortedError}.
   */
  receive(options: ReceiveOptions = {}): Promise<Uint8Array> {
    if (typeof options !== 'object' || options === null) return Promise.reject(new InvalidArgumentError(`"options" must be an object, got ${describeType(options)}`));
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs > MAX_TIMER_MS)) {
      return Promise.reject(new InvalidArgumentError(`"timeoutMs" must be a number in 0..${MAX_TIMER_MS}`));
    }
    if (signal !== undefined && !isAbortSignal(signal)) return Promise.reject(new InvalidArgumentError('"signal" must be an AbortSignal'));
    const queued = this.#dequeue();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(new AbortedError());
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        resolve: (m) => {
          cleanup();
          resolve(m);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      const onAbort = (): void => waiter.reject(new AbortedError());
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => waiter.reject(new TimeoutError(`no message from "${this.peerId}" within ${timeoutMs} ms`, { peer: this.peerId })),
          timeoutMs,
        );
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Close cleanly: flush queued sends (up to {@link CLOSE_FLUSH_TIMEOUT_MS}), send an authenticated
   * close frame, close the socket. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const flushed = await Promise.race([
      this.#sendChain.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), CLOSE_FLUSH_TIMEOUT_MS).unref()),
    ]);
    if (this.#closed) return;
    if (flushed) {
      try {
        const frame = this.#seal(FrameType.CLOSE, new Uint8Array(0));
        this.#ws.send(frame, { binary: true });
      } catch {
        /* counter exhausted: close without the frame */
      }
      this.#finish(undefined);
      this.#ws.close(1000);
      // The socket, not this timer, keeps the process alive; the timer only ends a wait for a
      // close reply that may never come (the peer's host is gone).
      const ws = this.#ws;
      setTimeout(() => ws.terminate(), CLOSE_REPLY_TIMEOUT_MS).unref();
    } else {
      this.#fail(new ChannelError(ErrorCode.CHANNEL_CLOSED, 'closed before queued messages were sent', { peer: this.peerId }));
    }
  }

  /** Close immediately after an error; the error is what `closed` resolves with. */
  #fail(error: CouplerError): void {
    if (this.#closed) return;
    this.#finish(error);
    this.#ws.terminate();
  }

  /** Abort the channel immediately (no close frame). */
  destroy(error?: CouplerError): void {
    this.#fail(error ?? new ChannelError(ErrorCode.CHANNEL_CLOSED, 'channel destroyed', { peer: this.peerId }));
  }

  #finish(error: CouplerError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#sealer.destroy();
    this.#opener.destroy();
    this.#exporter.fill(0);
    this.#parts = [];
    const pendingError = error ?? new ChannelError(ErrorCode.CHANNEL_CLOSED, 'channel closed by peer', { peer: this.peerId });
    for (const w of this.#waiters.splice(0)) w.reject(pendingError);
    for (const h of this.#closeHandlers.splice(0)) {
      try {
        h(error);
      } catch {
        /* handlers must not throw */
      }
    }
    this.#resolveClosed(error);
  }
}
