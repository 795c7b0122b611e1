/**
 * Encrypted frames. One WebSocket binary message carries one frame:
 *
 * ```
 * byte 0      type: 0x10 data (more chunks follow), 0x11 data (last chunk), 0x12 close
 * bytes 1..8  sequence number, unsigned big-endian, starts at 0, +1 per frame, never wraps
 * bytes 9..   AEAD(key_dir, nonce = 0x00000000 || seq, aad = type || seq || binding_dir) of the chunk
 * ```
 *
 * `binding_dir` is a hash of the handshake transcript and the direction, so every frame is bound
 * to the session, the sender and the receiver without sending them. The receiver accepts only the
 * next sequence number: a replayed, duplicated, reordered or dropped frame is a sequence error,
 * a modified frame an authentication error, and either closes the channel.
 *
 * @module
 */
import { ChannelError, ErrorCode } from '../errors.js';
import type { Suite } from './suite.js';

/** Frame types. */
export const FrameType = { MORE: 0x10, LAST: 0x11, CLOSE: 0x12 } as const;
/** Bytes of frame header (type + sequence). */
export const FRAME_HEADER = 9;
/** Highest sequence number used; the next frame is refused (COUNTER_EXHAUSTED). */
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;

/**
 * The `generateMask` option of every WebSocket this package dials (a channel's and the relay
 * link's): an all-zero masking key, which ws recognises and then skips the masking pass (a copy
 * of every frame it sends) and, at the receiver, the unmasking pass.
 *
 * Why leaving the frames unmasked is safe here: RFC 6455 masks client frames so that bytes an
 * attacker chooses (a script in a browser) cannot appear verbatim on the wire and be read as an
 * HTTP request by a transparent proxy that does not understand WebSockets (cache poisoning,
 * Huang et al. 2011). Nothing an attacker chooses reaches the wire in clear on these sockets:
 * channel frames are AEAD ciphertext under keys only the two parties hold, the channel handshake
 * is random keys, nonces, MACs and ciphertext, and the relay admission message is JSON of the
 * party's own configuration (JSON escapes every control character, so it holds no CR LF line).
 * The frame header still says "masked" with a zero key, so peers and the relay (also ws) accept
 * it unchanged.
 *
 * @param mask - the 4-byte key buffer ws fills before each frame.
 * @internal
 */
export function zeroMaskKey(mask: Uint8Array): void {
  mask.fill(0);
}

/** Write `seq` as 8 bytes big-endian at `at`. */
function putSequence(out: Uint8Array, at: number, seq: number): void {
  const hi = Math.floor(seq / 2 ** 32);
  const lo = seq >>> 0;
  out[at] = hi >>> 24;
  out[at + 1] = (hi >>> 16) & 0xff;
  out[at + 2] = (hi >>> 8) & 0xff;
  out[at + 3] = hi & 0xff;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 0xff;
  out[at + 6] = (lo >>> 8) & 0xff;
  out[at + 7] = lo & 0xff;
}

/**
 * The per-frame inputs of the AEAD, in buffers reused frame after frame (the suite copies both
 * before it returns): nonce = 0x00000000 ‖ seq, aad = type ‖ seq ‖ binding.
 */
class FrameInputs {
  readonly nonce = new Uint8Array(12);
  readonly aad: Uint8Array;

  constructor(binding: Uint8Array) {
    this.aad = new Uint8Array(FRAME_HEADER + binding.length);
    this.aad.set(binding, FRAME_HEADER);
  }

  set(type: number, seq: number): void {
    putSequence(this.nonce, 4, seq);
    this.aad[0] = type;
    putSequence(this.aad, 1, seq);
  }
}

/** Seals outgoing frames for one direction. */
export class FrameSealer {
  #seq: number;
  readonly #suite: Suite;
  readonly #key: Uint8Array;
  readonly #inputs: FrameInputs;
  readonly #peer: string;

  constructor(suite: Suite, key: Uint8Array, binding: Uint8Array, peer: string, startSequence = 0) {
    this.#suite = suite;
    this.#key = key;
    this.#inputs = new FrameInputs(binding);
    this.#peer = peer;
    this.#seq = startSequence;
  }

  /** The sequence number the next frame will carry. */
  get nextSequence(): number {
    return this.#seq;
  }

  /**
   * Seal one chunk into a frame.
   * @throws {@link ChannelError} `COUNTER_EXHAUSTED` when the sequence would pass {@link MAX_SEQUENCE}.
   */
  seal(type: number, chunk: Uint8Array): Uint8Array {
    const seq = this.#seq;
    if (seq > MAX_SEQUENCE - 1) {
      throw new ChannelError(ErrorCode.COUNTER_EXHAUSTED, 'frame counter exhausted; open a new channel', { peer: this.#peer });
    }
    this.#seq = seq + 1;
    const inputs = this.#inputs;
    inputs.set(type, seq);
    // Header and sealed chunk written straight into the frame (one copy of the ciphertext).
    const frame = Buffer.allocUnsafe(FRAME_HEADER + chunk.length + this.#suite.overhead);
    frame.set(inputs.aad.subarray(0, FRAME_HEADER), 0);
    this.#suite.sealInto(this.#key, inputs.nonce, inputs.aad, chunk, frame, FRAME_HEADER);
    return frame;
  }

  /** Forget the key. */
  destroy(): void {
    this.#key.fill(0);
  }
}

/** An opened frame. */
export interface OpenedFrame {
  readonly type: number;
  readonly chunk: Uint8Array;
}

/** Opens incoming frames for one direction, enforcing strict sequence order. */
export class FrameOpener {
  #expected = 0;
  readonly #suite: Suite;
  readonly #key: Uint8Array;
  readonly #inputs: FrameInputs;
  readonly #peer: string;
  readonly #maxFrame: number;

  constructor(suite: Suite, key: Uint8Array, binding: Uint8Array, peer: string, maxFrameBytes: number) {
    this.#suite = suite;
    this.#key = key;
    this.#inputs = new FrameInputs(binding);
    this.#peer = peer;
    this.#maxFrame = maxFrameBytes;
  }

  /**
   * Check and open one frame.
   * @throws {@link ChannelError} `FRAME_TOO_LARGE`, `FRAME_MALFORMED`, `FRAME_SEQUENCE` or `FRAME_AUTH_FAILED`.
   */
  open(frame: Uint8Array): OpenedFrame {
    const peer = this.#peer;
    if (frame.length > this.#maxFrame) {
      throw new ChannelError(ErrorCode.FRAME_TOO_LARGE, `frame of ${frame.length} bytes exceeds the cap of ${this.#maxFrame}`, { peer });
    }
    if (frame.length < FRAME_HEADER + this.#suite.overhead) throw new ChannelError(ErrorCode.FRAME_MALFORMED, 'frame is too short', { peer });
    const type = frame[0]!;
    if (type !== FrameType.MORE && type !== FrameType.LAST && type !== FrameType.CLOSE) {
      throw new ChannelError(ErrorCode.FRAME_MALFORMED, 'unknown frame type', { peer });
    }
    const hi = ((frame[1]! << 24) | (frame[2]! << 16) | (frame[3]! << 8) | frame[4]!) >>> 0;
    const seq = hi * 2 ** 32 + (((frame[5]! << 24) | (frame[6]! << 16) | (frame[7]! << 8) | frame[8]!) >>> 0);
    if (seq !== this.#expected) {
      const what = seq < this.#expected ? 'replayed or duplicated' : 'out of order (a frame was dropped or reordered)';
      throw new ChannelError(ErrorCode.FRAME_SEQUENCE, `frame ${what}: expected sequence ${this.#expected}, got ${seq}`, { peer });
    }
    const inputs = this.#inputs;
    inputs.set(type, seq);
    const chunk = this.#suite.open(this.#key, inputs.nonce, inputs.aad, frame.subarray(FRAME_HEADER));
    if (chunk === undefined) throw new ChannelError(ErrorCode.FRAME_AUTH_FAILED, 'frame failed authentication', { peer });
    this.#expected = seq + 1;
    return { type, chunk };
  }

  /** Forget the key. */
  destroy(): void {
    this.#key.fill(0);
  }
}
