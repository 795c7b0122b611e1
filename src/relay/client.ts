/**
 * The party side of the relay: dial out to a relay, get admitted and paired with one peer, then run
 * the ordinary channel handshake end to end over the relayed WebSocket and hand out a
 * {@link SecureChannel}, exactly as a direct connection would. The relay sees ciphertext only.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { encodeBase64 } from '../crypto/bytes.js';
import { ed25519Sign } from '../crypto/ed25519.js';
import { AbortedError, ErrorCode, HandshakeError, InvalidArgumentError } from '../errors.js';
import { assertIdentity, isValidPartyId } from '../identity/identity.js';
import { Roster, compareIds, rosterDigest, sessionRosterDigest } from '../identity/roster.js';
import { MAX_TIMER_MS, isAbortSignal, maxFrameBytes, type SecureChannel } from '../channel/channel.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, maxHeldBytes, policyOf, prepareChannel, type ChannelOptions } from '../channel/transport.js';
import { driveInitiator, driveResponder, withDeadline, type AcceptPolicy } from '../channel/driver.js';
import { WsIO } from '../channel/ws-io.js';
import { dialRelay } from './dial.js';
import { rosterJson } from './aggregate-client.js';
import { RELAY_REFUSE_REASONS, RelayError, admissionTranscript, normalizeRelayUrl, type RelayRefuseReason } from './protocol.js';

/** Default wait for the peer to show up at the relay: 120 s. */
export const DEFAULT_PAIR_TIMEOUT_MS = 120_000;

/** Options of {@link relayChannel}. */
export interface RelayChannelOptions extends ChannelOptions {
  /** Run the handshake as initiator. Default: this party's id sorts before the peer's (the group's tie-break). */
  readonly initiator?: boolean;
  /** How long to wait for the peer to reach the relay (ms). Default {@link DEFAULT_PAIR_TIMEOUT_MS}. */
  readonly pairTimeoutMs?: number;
  /** Aborts with {@link AbortedError}. */
  readonly signal?: AbortSignal;
  /**
   * @internal Called when the relay admits this connection (it is up, reachable and holds the
   * slot; the peer has not reached it yet unless `paired` follows at once).
   */
  readonly _onAdmitted?: () => void;
}

/**
 * Open a channel to `peer` through a relay: admission, pairing, then the end-to-end handshake.
 *
 * @param relayUrl - the relay's URL as the relay knows it (`ws://host:port` or `wss://...`).
 * @param peer - the roster id of the peer.
 * @returns an open channel to the authenticated `peer`.
 * @throws {@link RelayError} (`RELAY_REFUSED`, with `reason`) when the relay refuses;
 *   {@link HandshakeError} (`HANDSHAKE_FAILED`, `PEER_UNKNOWN`, `TIMEOUT`) naming `peer`;
 *   {@link InvalidArgumentError}; {@link AbortedError}.
 * @example
 * const ch = await relayChannel('wss://relay.example.org', 'org-7', { identity, roster, sessionId });
 */
export async function relayChannel(relayUrl: string, peer: string, options: RelayChannelOptions): Promise<SecureChannel> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  const identity = assertIdentity(options.identity);
  if (!(options.roster instanceof Roster)) throw new InvalidArgumentError('"roster" must be a Roster');
  const localId = options.localId ?? identity.id;
  if (!isValidPartyId(localId)) throw new InvalidArgumentError('"localId" (or identity.id) must be a valid party id');
  if (!isValidPartyId(peer) || peer === localId || !options.roster.has(peer)) throw new InvalidArgumentError('"peer" must be another roster party');
  let base: string;
  try {
    base = normalizeRelayUrl(relayUrl);
  } catch {
    throw new InvalidArgumentError('"relayUrl" must be a ws:// or wss:// URL');
  }
  const { cfg, limits } = prepareChannel(options);
  const hsTimeout = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const pairTimeout = options.pairTimeoutMs ?? DEFAULT_PAIR_TIMEOUT_MS;
  if (!Number.isSafeInteger(pairTimeout) || pairTimeout <= 0 || pairTimeout > MAX_TIMER_MS) throw new InvalidArgumentError(`"pairTimeoutMs" must be an integer in 1..${MAX_TIMER_MS}`);
  if (options.signal !== undefined && !isAbortSignal(options.signal)) throw new InvalidArgumentError('"signal" must be an AbortSignal');
  if (options.signal?.aborted) throw new AbortedError();
  const initiator = options.initiator ?? compareIds(localId, peer) < 0;
  // A roster-bound session id commits to the roster: present it (ids and keys only), after checking
  // that it is the roster this party holds.
  const boundDigest = sessionRosterDigest(cfg.sessionId);
  if (boundDigest !== undefined && rosterDigest(options.roster) !== boundDigest) {
    throw new InvalidArgumentError('the session id is bound to a different roster than the one given (its "#<digest>" suffix does not match)');
  }
  const rosterText = boundDigest === undefined ? undefined : rosterJson(options.roster);

  const ts = Date.now();
  const nonce = randomBytes(16).toString('hex');
  const body = { session: cfg.sessionId, from: localId, to: peer, ts, nonce };
  const sig = encodeBase64(ed25519Sign(admissionTranscript(base, body), identity.secretKey));
  const ws = dialRelay(base, { maxPayload: maxFrameBytes(limits.chunkBytes), handshakeTimeout: hsTimeout });
  // The relay's close code, for the group: 1001 means the partner left the relay; anything else
  // after pairing means the relay connection itself was lost.
  ws.once('close', (code: number) => relayCloseCodes.set(ws, code));
  const io = new WsIO(ws, {
    maxHeldBytes: maxHeldBytes(limits),
    peer,
    closeError: (code, reason) => {
      const r = reason as RelayRefuseReason;
      if (code === RELAY_REFUSE_CLOSE_CODE && RELAY_REFUSE_REASONS.includes(r)) return new RelayError(r, `relay refused the connection to "${peer}" (${r})`, { peer });
      return new HandshakeError(ErrorCode.HANDSHAKE_FAILED, `relayed connection to "${peer}" closed before the handshake completed (close code ${code})`, { peer });
    },
    socketError: (err) => new RelayUnreachableError(base, (err as NodeJS.ErrnoException).code ?? 'error', peer, err),
  });

  // Admission: wait for `paired` (the peer reached the relay), under the pair deadline.
  const admission = async (): Promise<void> => {
    await Promise.race([new Promise<void>((resolve) => ws.once('open', () => resolve())), io.failed]);
    // `url` (unsigned) tells the relay which URL this party signed, so a mismatch is answered
    // `url-mismatch` rather than `bad-signature`.
    io.send(JSON.stringify({ v: 1, ...body, sig, url: base, digest: rosterDigest(options.roster), ...(rosterText === undefined ? {} : { roster: rosterText }) }));
    for (;;) {
      const i = await io.nextItem();
      if (i.kind !== 'text') throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'relay sent data before pairing', { peer });
      let msg: { t?: unknown; reason?: unknown };
      try {
        msg = JSON.parse(i.text) as typeof msg;
      } catch {
        throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed relay message', { peer });
      }
      if (msg.t === 'admitted') {
        options._onAdmitted?.();
        continue;
      }
      if (msg.t === 'paired') return;
      if (msg.t === 'refused' && RELAY_REFUSE_REASONS.includes(msg.reason as RelayRefuseReason)) {
        throw new RelayError(msg.reason as RelayRefuseReason, `relay refused the connection to "${peer}" (${String(msg.reason)})`, { peer });
      }
      throw new HandshakeError(ErrorCode.HANDSHAKE_FAILED, 'malformed relay message', { peer });
    }
  };
  try {
    await withDeadline(admission(), pairTimeout + hsTimeout, () => new HandshakeError(ErrorCode.TIMEOUT, `"${peer}" did not reach the relay within ${pairTimeout} ms`, { peer }), options.signal);
  } catch (err) {
    io.detach();
    ws.on('error', () => undefined);
    ws.terminate();
    throw err;
  }
  // From here on the relay speaks only to end a pair (`refused` with its reason, then 4403 — e.g.
  // `bytes-limit`, `evicted`, `idle-timeout`). The channel reads any text message as a malformed
  // frame; registered before the channel's own listener, this one notes first that the relay, not
  // the peer, ended the pair (review13 R13-3: the peer was named for it).
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary || relayRefusals.has(ws)) return;
    let reason: RelayRefuseReason | 'unknown' = 'unknown';
    try {
      const msg = JSON.parse(data.toString('utf8')) as { t?: unknown; reason?: unknown };
      if (msg.t === 'refused' && RELAY_REFUSE_REASONS.includes(msg.reason as RelayRefuseReason)) reason = msg.reason as RelayRefuseReason;
    } catch {
      /* not the relay's JSON: still nothing the peer sent (its frames are binary) */
    }
    relayRefusals.set(ws, reason);
  });
  const policy: AcceptPolicy | undefined = policyOf(options);
  const drive = {
    cfg,
    limits,
    timeoutMs: hsTimeout,
    expectedPeer: peer,
    signal: options.signal,
    policy: {
      ...policy,
      // The relay pairs by (session, from, to): whoever answers must be the peer asked for.
      finish: (p: string) => (p !== peer ? 'auth' : policy?.finish?.(p)),
    },
  } as const;
  const channel = initiator ? await driveInitiator(io, drive) : await driveResponder(io, drive);
  relayedChannels.set(channel, { url: base, closeCode: () => relayCloseCodes.get(ws), refused: () => relayRefusals.get(ws) });
  // Keep the relay from ending an idle pair (a group between sums sends nothing): a WebSocket ping
  // now and then counts as traffic there, and the relay's pong shows the path is alive.
  const keepalive = setInterval(() => {
    try {
      ws.ping();
    } catch {
      /* closing */
    }
  }, RELAY_KEEPALIVE_MS);
  keepalive.unref();
  ws.once('close', () => clearInterval(keepalive));
  return channel;
}

/** How often a relayed channel pings the relay (well inside the relay's idle timeout), ms. */
export const RELAY_KEEPALIVE_MS = 30_000;

/** The close code the relay sent when it parts a pair because the other side left. */
export const RELAY_PARTNER_GONE_CLOSE_CODE = 1001;
/** The close code of a relay refusal (with the reason as the close reason). */
export const RELAY_REFUSE_CLOSE_CODE = 4403;

const relayCloseCodes = new WeakMap<WebSocket, number>();
/** A text message from the relay after pairing: its refusal reason (`unknown` when it gave none). */
const relayRefusals = new WeakMap<WebSocket, RelayRefuseReason | 'unknown'>();
const relayedChannels = new WeakMap<SecureChannel, { url: string; closeCode: () => number | undefined; refused: () => RelayRefuseReason | 'unknown' | undefined }>();

/** What {@link relayedChannelInfo} says about a channel through a relay. */
export interface RelayedChannelInfo {
  /** The relay's URL (normalised). */
  readonly url: string;
  /**
   * Whether its connection to the relay was lost: closed by anything but the relay's "your partner
   * left" close (1001) or a clean close (1000), or ended by a relay refusal after pairing.
   */
  readonly relayLost: boolean;
  /** Whether the relay closed it saying the partner's connection ended (1001). */
  readonly partnerGone: boolean;
  /** The relay's refusal reason, when it ended the pair with one after pairing. */
  readonly refused: RelayRefuseReason | 'unknown' | undefined;
}

/** For a channel opened through a relay, what is known of its relay connection (see {@link RelayedChannelInfo}); undefined for a direct channel. */
export function relayedChannelInfo(channel: SecureChannel): RelayedChannelInfo | undefined {
  const info = relayedChannels.get(channel);
  if (info === undefined) return undefined;
  const code = info.closeCode();
  const refused = info.refused();
  return {
    url: info.url,
    relayLost: refused !== undefined || (code !== undefined && code !== RELAY_PARTNER_GONE_CLOSE_CODE && code !== 1000),
    partnerGone: refused === undefined && code === RELAY_PARTNER_GONE_CLOSE_CODE,
    refused,
  };
}

/** The relay could not be reached (connection refused, reset, DNS failure, TLS error). */
export class RelayUnreachableError extends HandshakeError {
  /** The relay's URL. */
  readonly relayUrl: string;
  /** The socket error code (`ECONNREFUSED`, …). */
  readonly socketCode: string;
  constructor(relayUrl: string, socketCode: string, peer: string | undefined, cause?: unknown) {
    super(ErrorCode.HANDSHAKE_FAILED, `cannot reach the relay at ${relayUrl} (${socketCode})`, { ...(peer === undefined ? {} : { peer }), cause });
    this.relayUrl = relayUrl;
    this.socketCode = socketCode;
  }
}
