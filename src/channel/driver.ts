/**
 * One driver for the channel handshake, over a small message I/O interface that each transport
 * supplies: the direct WebSocket transport (`transport.ts`) and the relay client
 * (`../relay/client.ts`) both run the same script, with the same deadline, the same accept policy
 * and the same `refuse {reason}` on failure. The handshake itself (`handshake.ts`) has no I/O.
 *
 * @module
 */
import type WebSocket from 'ws';
import { AbortedError, CouplerError, ErrorCode, HandshakeError } from '../errors.js';
import { MAX_TIMER_MS, SecureChannel, type ResolvedLimits } from './channel.js';
import { Initiator, MAX_HANDSHAKE_MESSAGE, Responder, isRefusedByPeer, refusal, refuseReasonOf, type HandshakeConfig, type HelloReplayGuard, type RefuseReason } from './handshake.js';
import { getSuite } from './suite.js';

/**
 * Decides which authenticated connections a party keeps (the group's tie-break between two
 * connections of one pair). Every hook is optional; a missing one accepts.
 */
export interface AcceptPolicy {
  /**
   * Initiator: the reply proved the responder is `peer`. Return a reason to stop (the connection is
   * not wanted), or undefined to go on; the attempt then counts as in flight to `peer` until
   * {@link AcceptPolicy.release} (failure) or the channel is handed out.
   */
  reply?(peer: string): RefuseReason | undefined;
  /** Initiator: an attempt that passed {@link AcceptPolicy.reply} ended without a channel. */
  release?(peer: string): void;
  /**
   * Responder: the finish proved the initiator is `peer`. Return a reason to refuse, or undefined
   * to keep it: the confirmation is sent and the channel handed out in the same event-loop turn.
   */
  finish?(peer: string): RefuseReason | undefined;
}

/** One connection as the handshake driver sees it. */
export interface HandshakeIO {
  /** Send one binary message. */
  send(bytes: Uint8Array): void;
  /** The next binary message; rejects with a {@link CouplerError} when the connection fails or closes. */
  next(): Promise<Uint8Array>;
  /** Stop reading for the driver: returns the messages that arrived after the handshake (channel frames, in order). */
  detach(): Uint8Array[];
  /** End a failed handshake: tell the other side why (when there is a reason) and close. */
  refuse(reason: RefuseReason | undefined): void;
  /** The underlying WebSocket the channel will run on. */
  readonly ws: WebSocket;
  /** Set once the far end proved (or claimed) an id, for error messages. */
  peer: string | undefined;
}

/** What one handshake run needs besides the connection. */
export interface DriveOptions {
  readonly cfg: HandshakeConfig;
  readonly limits: ResolvedLimits;
  /** Deadline of the whole handshake, ms. */
  readonly timeoutMs: number;
  readonly policy?: AcceptPolicy | undefined;
  /** Initiator: refuse unless this party answers. */
  readonly expectedPeer?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Responder: the first message must arrive within this many ms (a silent connection is cheap to hold). */
  readonly firstMessageMs?: number;
  /** Responder: called once the first message arrived (the connection is no longer silent). */
  readonly onFirstMessage?: () => void;
  /** Responder: called with the time the finish must arrive by, once the reply is sent. */
  readonly onReplySent?: () => void;
  /** Responder: the listener's memory of answered hellos; a replayed hello is refused before any public-key work. */
  readonly replays?: HelloReplayGuard;
  /** How the finished channel is told apart in stats (e.g. the relay path). */
  readonly onChannel?: (channel: SecureChannel) => void;
}

/**
 * Run `work` under a deadline and an optional abort signal.
 * @internal
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => CouplerError, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      reject(onTimeout());
    }, Math.min(Math.max(1, ms), MAX_TIMER_MS));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError('handshake aborted'));
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The error, naming `peer` when it names nobody yet (the transport knew whom it dialled). */
function naming(err: unknown, peer: string | undefined): unknown {
  if (peer === undefined || !(err instanceof HandshakeError) || err.peer !== undefined) return err;
  const named = new HandshakeError(err.code as typeof ErrorCode.HANDSHAKE_FAILED, err.message, { peer, cause: err.cause });
  const r = refuseReasonOf(err);
  if (r !== undefined) (named as { refuseReason?: RefuseReason }).refuseReason = r;
  if (isRefusedByPeer(err)) (named as { refusedByPeer?: boolean }).refusedByPeer = true;
  return named;
}

/**
 * Run a side's script under the handshake deadline; on any failure `cleanup` runs, the connection
 * is refused (with our reason; a refusal that came from the other side gets no answer) and the
 * error is thrown naming the peer the transport asked for where it names nobody.
 */
async function underDeadline(io: HandshakeIO, o: DriveOptions, script: () => Promise<SecureChannel>, cleanup: () => void): Promise<SecureChannel> {
  try {
    return await withDeadline(
      script(),
      o.timeoutMs,
      () => new HandshakeError(ErrorCode.TIMEOUT, `handshake did not complete within ${o.timeoutMs} ms`, io.peer === undefined ? {} : { peer: io.peer }),
      o.signal,
    );
  } catch (err) {
    cleanup();
    io.detach();
    io.refuse(isRefusedByPeer(err) ? undefined : refuseReasonOf(err));
    throw naming(err, io.peer);
  }
}

function handshakeMessage(m: Uint8Array, io: HandshakeIO): Uint8Array {
  if (m.length > MAX_HANDSHAKE_MESSAGE * 2) {
    throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed handshake message', io.peer === undefined ? {} : { peer: io.peer });
  }
  return m;
}

/**
 * Run the initiator's side of the handshake over `io` and return the channel.
 *
 * @throws {@link HandshakeError} (with the refuse reason where there is one), {@link AbortedError};
 *   on failure the connection is refused/closed and an attempt reserved by the policy is released.
 */
export async function driveInitiator(io: HandshakeIO, o: DriveOptions): Promise<SecureChannel> {
  const hs = new Initiator(o.cfg, o.expectedPeer);
  let reserved: string | undefined;
  let failed = false;
  const script = async (): Promise<SecureChannel> => {
    io.send(hs.hello());
    const { finish, peerId } = hs.onReply(handshakeMessage(await io.next(), io));
    io.peer = peerId;
    const no = o.policy?.reply?.(peerId);
    if (no !== undefined) throw refusal(no, `connection to "${peerId}" not wanted (${no})`, peerId);
    reserved = peerId;
    io.send(finish);
    const result = hs.onOk(handshakeMessage(await io.next(), io));
    if (failed) throw new AbortedError('handshake abandoned');
    const channel = new SecureChannel(io.ws, result, getSuite(o.cfg.suite), { localId: o.cfg.localId, sessionId: o.cfg.sessionId, initiator: true }, o.limits, io.detach());
    reserved = undefined;
    return channel;
  };
  return underDeadline(io, o, script, () => {
    failed = true;
    hs.dispose();
    if (reserved !== undefined) o.policy?.release?.(reserved);
  });
}

/**
 * Run the responder's side of the handshake over `io` and return the channel. The accept policy's
 * `finish` hook, the confirmation and the channel's creation happen in one event-loop turn.
 *
 * @throws {@link HandshakeError} (with the refuse reason where there is one); on failure the
 *   connection is refused/closed.
 */
export async function driveResponder(io: HandshakeIO, o: DriveOptions): Promise<SecureChannel> {
  const hs = new Responder(o.cfg, o.replays);
  let failed = false;
  const script = async (): Promise<SecureChannel> => {
    const first = o.firstMessageMs === undefined
      ? io.next()
      : withDeadline(io.next(), o.firstMessageMs, () => new HandshakeError(ErrorCode.TIMEOUT, `no handshake message within ${o.firstMessageMs} ms of connecting`));
    const hello = handshakeMessage(await first, io);
    o.onFirstMessage?.();
    const { reply } = hs.onHello(hello);
    io.send(reply);
    o.onReplySent?.();
    const { peerId } = hs.onFinish(handshakeMessage(await io.next(), io));
    io.peer = peerId;
    if (failed) throw new AbortedError('handshake abandoned');
    const no = o.policy?.finish?.(peerId);
    if (no !== undefined) throw refusal(no, `connection from "${peerId}" not wanted (${no})`, peerId);
    const { ok, result } = hs.accept();
    io.send(ok);
    const channel = new SecureChannel(io.ws, result, getSuite(o.cfg.suite), { localId: o.cfg.localId, sessionId: o.cfg.sessionId, initiator: false }, o.limits, io.detach());
    o.onChannel?.(channel);
    return channel;
  };
  return underDeadline(io, o, script, () => {
    failed = true;
    hs.dispose();
  });
}
