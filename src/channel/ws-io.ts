/**
 * {@link HandshakeIO} over a `ws` WebSocket: an ordered queue of the socket's messages with one
 * waiter, a sticky error, and a byte cap on what is held before the channel takes over (counted in
 * bytes for both binary and text messages). Used by the direct transport and the relay client.
 *
 * @module
 */
import WebSocket from 'ws';
import { CouplerError, ErrorCode, HandshakeError } from '../errors.js';
import { encodeRefuse, type RefuseReason } from './handshake.js';
import type { HandshakeIO } from './driver.js';

/** One message as it arrived: binary (a handshake message or a frame) or text (relay control). */
export type WsItem = { readonly kind: 'bin'; readonly data: Uint8Array } | { readonly kind: 'text'; readonly text: string };

/** How long a refused or failed connection may take to close before it is destroyed, ms. */
const REFUSE_CLOSE_GRACE_MS = 1_000;

/** Options of {@link WsIO}. */
export interface WsIOOptions {
  /** Cap on bytes held while nobody reads (handshake messages plus early channel frames). */
  readonly maxHeldBytes: number;
  /** The peer id, when known before the handshake (error messages). */
  readonly peer?: string | undefined;
  /** Map a close before the handshake completed to an error (default: HANDSHAKE_FAILED). */
  readonly closeError?: (code: number, reason: string, io: WsIO) => CouplerError | undefined;
  /** Map a socket error to an error (default: HANDSHAKE_FAILED "connection error"). */
  readonly socketError?: (err: Error, io: WsIO) => CouplerError | undefined;
}

/** The message pump of one WebSocket during the handshake (and the relay's admission). */
export class WsIO implements HandshakeIO {
  readonly ws: WebSocket;
  peer: string | undefined;
  readonly #items: WsItem[] = [];
  #heldBytes = 0;
  readonly #cap: number;
  #waiter: { resolve: (i: WsItem) => void; reject: (e: CouplerError) => void } | undefined;
  #error: CouplerError | undefined;
  #detached = false;
  #onFail: ((e: CouplerError) => void) | undefined;
  readonly #options: WsIOOptions;
  /** Rejects with the first failure (connection error, close, refusal). */
  readonly failed: Promise<never> = new Promise<never>((_resolve, reject) => (this.#onFail = reject));

  readonly #onMessage = (data: Buffer, isBinary: boolean): void => {
    const item: WsItem = isBinary ? { kind: 'bin', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) } : { kind: 'text', text: data.toString('utf8') };
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve(item);
      return;
    }
    this.#heldBytes += data.length;
    if (this.#heldBytes > this.#cap) {
      this.fail(new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'too much data before the handshake completed', this.#peerOpt()));
      return;
    }
    this.#items.push(item);
  };
  readonly #onClose = (code: number, reason: Buffer): void => {
    const mapped = this.#options.closeError?.(code, reason.toString('utf8'), this);
    this.fail(mapped ?? new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'connection closed during the handshake', this.#peerOpt()));
  };
  readonly #onError = (err: Error): void => {
    const mapped = this.#options.socketError?.(err, this);
    this.fail(mapped ?? new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `connection error during the handshake (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { ...this.#peerOpt(), cause: err }));
  };

  constructor(ws: WebSocket, options: WsIOOptions) {
    this.ws = ws;
    this.#cap = options.maxHeldBytes;
    this.peer = options.peer;
    this.#options = options;
    this.failed.catch(() => undefined);
    ws.on('message', this.#onMessage);
    ws.on('close', this.#onClose);
    ws.on('error', this.#onError);
  }

  #peerOpt(): { peer?: string } {
    return this.peer === undefined ? {} : { peer: this.peer };
  }

  /** The next message of either kind. */
  nextItem(): Promise<WsItem> {
    if (this.#error) return Promise.reject(this.#error);
    const i = this.#items.shift();
    if (i !== undefined) {
      this.#heldBytes -= i.kind === 'bin' ? i.data.length : Buffer.byteLength(i.text, 'utf8');
      return Promise.resolve(i);
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  async next(): Promise<Uint8Array> {
    const i = await this.nextItem();
    if (i.kind !== 'bin') throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed handshake message (text)', this.#peerOpt());
    return i.data;
  }

  send(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** Fail every present and future read with `err` (the first failure sticks). */
  fail(err: CouplerError): void {
    if (this.#error) return;
    this.#error = err;
    this.#onFail?.(err);
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }

  detach(): Uint8Array[] {
    if (this.#detached) return [];
    this.#detached = true;
    this.ws.off('message', this.#onMessage);
    this.ws.off('close', this.#onClose);
    this.ws.off('error', this.#onError);
    const out: Uint8Array[] = [];
    for (const i of this.#items.splice(0)) {
      // Text after the handshake is not a channel frame: hand it on as bytes, and the channel's
      // frame check refuses it (FRAME_MALFORMED) — never silently dropped.
      out.push(i.kind === 'bin' ? i.data : new Uint8Array(Buffer.from(i.text, 'utf8')));
    }
    this.#heldBytes = 0;
    return out;
  }

  refuse(reason: RefuseReason | undefined): void {
    refuseAndClose(this.ws, reason);
  }
}

/** Send `refuse {reason}` (when there is one) and close; destroy the socket if it does not close soon. */
export function refuseAndClose(ws: WebSocket, reason: RefuseReason | undefined): void {
  ws.on('error', () => undefined);
  try {
    if (reason !== undefined && ws.readyState === WebSocket.OPEN) ws.send(encodeRefuse(reason));
  } catch {
    /* best effort */
  }
  if (ws.readyState === WebSocket.OPEN) ws.close(1008);
  else ws.terminate();
  setTimeout(() => ws.terminate(), REFUSE_CLOSE_GRACE_MS).unref();
}
