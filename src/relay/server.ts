/**
 * The relay server (`coupler relay`): parties dial out to it; it admits a connection only with a
 * signature by a roster key bound to the session and the relay's public URL, pairs the two
 * directions of one channel by (session, from, to) and forwards binary messages between them
 * without looking inside. Stateless apart from live connections.
 *
 * What the relay can do to traffic (delay, drop, flip, replay, reorder, splice) the channel layer
 * detects end to end: the handshake binds session and both roster keys, and every frame is
 * AEAD-sealed with a per-direction counter.
 *
 * @module
 */
import { createServer, type IncomingMessage } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { decodeBase64Strict } from '../crypto/bytes.js';
import { ed25519Verify } from '../crypto/ed25519.js';
import { InvalidArgumentError } from '../errors.js';
import { isValidPartyId } from '../identity/identity.js';
import { Roster, parseRoster, rosterDigest, sessionRosterDigest } from '../identity/roster.js';
import { SESSION_ID_PATTERN } from '../channel/handshake.js';
import { maxFrameBytes, DEFAULT_CHUNK_BYTES } from '../channel/channel.js';
import {
  ADMISSION_SKEW_MS,
  MAX_ADMISSION_BYTES,
  RELAY_PATH,
  RELAY_SUBPROTOCOL,
  admissionTranscript,
  normalizeRelayUrl,
  type AdmissionRequest,
  type RelayRefuseReason,
} from './protocol.js';

/** Limits of a relay. Every one has a default. */
export interface RelayLimits {
  /** Live sessions at once. Default 256. */
  readonly maxSessions?: number;
  /** Connections per session (both directions of every pair count). Default 2·100·99. */
  readonly maxConnectionsPerSession?: number;
  /** Connections per source address. Default 1024. */
  readonly maxConnectionsPerSource?: number;
  /** Live roster-bound sessions one source address may open (see `rosterBoundSessions`). Default 32. */
  readonly maxBoundSessionsPerSource?: number;
  /** Bytes forwarded per session before further traffic is cut. Default 64 GiB. */
  readonly maxBytesPerSession?: number;
  /** How long an admitted connection waits for its partner (ms). Default 120 000. */
  readonly pairTimeoutMs?: number;
  /** Deadline for the admission request after the WebSocket opens (ms). Default 10 000. */
  readonly admissionTimeoutMs?: number;
  /** Largest forwarded message (bytes). Default: the channel's frame size at the default chunk. */
  readonly maxMessageBytes?: number;
  /** Bytes queued towards one side before the other side is paused. Default 8 MiB. */
  readonly highWaterBytes?: number;
}

/** Options of {@link startRelay}. */
export interface RelayOptions extends RelayLimits {
  /** Rosters whose parties may use this relay (one per task, or one shared). May be empty with `rosterBoundSessions`. */
  readonly rosters: readonly Roster[];
  /**
   * Also admit roster-bound sessions (a session id `<label>#<roster digest>`, from
   * `rosterBoundSessionId`) on the roster the parties present, after checking its digest against
   * the id: for tasks whose keys are made per task (vantage6 key subtasks), which no operator can
   * list in advance. Nobody can join such a session without a key of its roster, or take its id
   * over with another roster; but anyone who can reach the relay can make a roster of their own
   * keys and relay between them, within the limits (`maxBoundSessionsPerSource`, bytes and
   * connection caps). Default false.
   */
  readonly rosterBoundSessions?: boolean;
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port. Default 0 (any free port). */
  readonly port?: number;
  /**
   * URLs under which parties reach this relay (`ws://` or `wss://`, e.g. behind a TLS proxy); the
   * admission signature must name one of them. Default: `ws://<host>:<bound port>`.
   */
  readonly publicUrls?: readonly string[];
  /** Called on every refusal (for logging; never with secrets). */
  readonly onRefused?: (reason: RelayRefuseReason, remoteAddress: string | undefined) => void;
  /** @internal test hooks (a deliberately malicious relay). */
  readonly _hooks?: RelayHooks;
}

/** @internal hooks that let tests turn the relay malicious. */
export interface RelayHooks {
  /** Map the slot a connection's partner is looked up under (cross-wiring). */
  partnerOf?(session: string, from: string, to: string): { session: string; from: string; to: string };
  /** Decide what to forward for one message: return the messages to send (none = drop). */
  forward?(session: string, from: string, to: string, data: Uint8Array): Uint8Array[];
}

/** Counters of a relay. */
export interface RelayStats {
  /** Connections open now. */
  readonly connections: number;
  /** Pairs currently forwarding. */
  readonly pairs: number;
  /** Sessions with at least one connection. */
  readonly sessions: number;
  /** Bytes forwarded since start (payload of binary messages). */
  readonly bytesForwarded: number;
  /** Messages forwarded since start. */
  readonly messagesForwarded: number;
  /** Refusals since start, by reason. */
  readonly refused: Readonly<Partial<Record<RelayRefuseReason, number>>>;
}

/** A running relay. */
export interface RelayServer {
  /** The bound port. */
  readonly port: number;
  /** The bound address. */
  readonly host: string;
  /** The URLs admission signatures may name. */
  readonly publicUrls: readonly string[];
  /** Counters. */
  stats(): RelayStats;
  /** Stop: refuse new connections and drop every live one. */
  close(): Promise<void>;
}

interface Conn {
  ws: WebSocket;
  source: string;
  session: string;
  digest: string;
  from: string;
  to: string;
  partner: Conn | undefined;
  queued: number;
  paused: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface Session {
  roster: Roster;
  conns: number;
  bytes: number;
  /** Roster-bound sessions: the source address that opened it (counted against its limit). */
  boundBy: string | undefined;
}

function posInt(v: number | undefined, d: number, name: string): number {
  if (v === undefined) return d;
  if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`"${name}" must be a positive integer`);
  return v;
}

const sessionKey = (session: string, digest: string): string => `${session}\n${digest}`;
const slotKey = (sKey: string, from: string, to: string): string => `${sKey}\n${from}\n${to}`;

/**
 * Start a relay.
 *
 * @throws {@link InvalidArgumentError} for bad options; a `net` error if the port cannot be bound.
 * @example
 * const relay = await startRelay({ rosters: [roster], host: '0.0.0.0', port: 8889, publicUrls: ['wss://relay.example.org'] });
 */
export async function startRelay(options: RelayOptions): Promise<RelayServer> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
  if (options.rosterBoundSessions !== undefined && typeof options.rosterBoundSessions !== 'boolean') throw new InvalidArgumentError('"rosterBoundSessions" must be a boolean');
  const rosterBound = options.rosterBoundSessions === true;
  if (!Array.isArray(options.rosters) || (options.rosters.length === 0 && !rosterBound) || !options.rosters.every((r) => r instanceof Roster)) {
    throw new InvalidArgumentError('"rosters" must be a non-empty array of Roster (or empty with "rosterBoundSessions")');
  }
  const maxSessions = posInt(options.maxSessions, 256, 'maxSessions');
  const maxPerSession = posInt(options.maxConnectionsPerSession, 2 * 100 * 99, 'maxConnectionsPerSession');
  const maxPerSource = posInt(options.maxConnectionsPerSource, 1024, 'maxConnectionsPerSource');
  const maxBoundPerSource = posInt(options.maxBoundSessionsPerSource, 32, 'maxBoundSessionsPerSource');
  const maxBytesPerSession = posInt(options.maxBytesPerSession, 64 * 2 ** 30, 'maxBytesPerSession');
  const pairTimeoutMs = posInt(options.pairTimeoutMs, 120_000, 'pairTimeoutMs');
  const admissionTimeoutMs = posInt(options.admissionTimeoutMs, 10_000, 'admissionTimeoutMs');
  const maxMessageBytes = posInt(options.maxMessageBytes, maxFrameBytes(DEFAULT_CHUNK_BYTES), 'maxMessageBytes');
  const highWater = posInt(options.highWaterBytes, 8 * 2 ** 20, 'highWaterBytes');
  const host = options.host ?? '127.0.0.1';
  const hooks = options._hooks;

  const waiting = new Map<string, Conn>();
  const slots = new Map<string, Conn>();
  const live = new Set<Conn>();
  const sessions = new Map<string, Session>();
  const perSource = new Map<string, number>();
  const boundPerSource = new Map<string, number>();
  const digestOf = new Map(options.rosters.map((ro) => [ro, rosterDigest(ro)] as const));
  const refused: Partial<Record<RelayRefuseReason, number>> = {};
  let bytesForwarded = 0;
  let messagesForwarded = 0;
  let pairs = 0;
  let accepted: Set<string> = new Set();

  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('coupler relay: WebSocket required\n');
  });
  server.headersTimeout = admissionTimeoutMs;
  server.requestTimeout = admissionTimeoutMs;
  const wss = new WebSocketServer({
    server,
    path: RELAY_PATH,
    perMessageDeflate: false,
    maxPayload: maxMessageBytes,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(RELAY_SUBPROTOCOL) ? RELAY_SUBPROTOCOL : false),
  });
  wss.on('error', () => undefined);

  const refuse = (ws: WebSocket, reason: RelayRefuseReason, remote: string | undefined): void => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    try {
      options.onRefused?.(reason, remote);
    } catch {
      /* logging must not break the relay */
    }
    try {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'refused', reason }));
    } catch {
      /* best effort */
    }
    if (ws.readyState === WebSocket.OPEN) ws.close(4403, reason);
    setTimeout(() => ws.terminate(), 1000).unref();
  };

  const release = (c: Conn): void => {
    if (!live.delete(c)) return;
    if (c.timer) clearTimeout(c.timer);
    const sKey = sessionKey(c.session, c.digest);
    const key = slotKey(sKey, c.from, c.to);
    if (waiting.get(key) === c) waiting.delete(key);
    if (slots.get(key) === c) slots.delete(key);
    const s = sessions.get(sKey);
    if (s && --s.conns === 0) {
      sessions.delete(sKey);
      if (s.boundBy !== undefined) {
        const b = (boundPerSource.get(s.boundBy) ?? 1) - 1;
        if (b <= 0) boundPerSource.delete(s.boundBy);
        else boundPerSource.set(s.boundBy, b);
      }
    }
    const n = (perSource.get(c.source) ?? 1) - 1;
    if (n <= 0) perSource.delete(c.source);
    else perSource.set(c.source, n);
    const p = c.partner;
    if (p) {
      pairs--;
      c.partner = undefined;
      p.partner = undefined;
      // One side gone: the other learns it as a closed connection (the channel names the peer).
      p.ws.close(1001);
      setTimeout(() => p.ws.terminate(), 1000).unref();
    }
  };

  const forward = (src: Conn, data: Buffer): void => {
    const dst = src.partner;
    if (!dst) return;
    const s = sessions.get(sessionKey(src.session, src.digest));
    const out = hooks?.forward ? hooks.forward(src.session, src.from, src.to, new Uint8Array(data)) : [data];
    for (const m of out) {
      if (s) {
        s.bytes += m.length;
        if (s.bytes > maxBytesPerSession) {
          refuse(src.ws, 'bytes-limit', src.source);
          refuse(dst.ws, 'bytes-limit', dst.source);
          return;
        }
      }
      bytesForwarded += m.length;
      messagesForwarded++;
      dst.queued += m.length;
      dst.ws.send(m, { binary: true }, () => {
        dst.queued -= m.length;
        if (src.paused && dst.queued <= highWater / 2) {
          src.paused = false;
          src.ws.resume();
        }
      });
    }
    if (dst.queued > highWater && !src.paused) {
      src.paused = true;
      src.ws.pause();
    }
  };

  const admit = (ws: WebSocket, source: string, text: string): void => {
    let r: AdmissionRequest;
    try {
      r = JSON.parse(text) as AdmissionRequest;
    } catch {
      refuse(ws, 'malformed', source);
      return;
    }
    if (
      typeof r !== 'object' ||
      r === null ||
      r.v !== 1 ||
      typeof r.session !== 'string' ||
      !SESSION_ID_PATTERN.test(r.session) ||
      !isValidPartyId(r.from) ||
      !isValidPartyId(r.to) ||
      r.from === r.to ||
      !Number.isSafeInteger(r.ts) ||
      typeof r.nonce !== 'string' ||
      !/^[0-9a-f]{32}$/.test(r.nonce) ||
      typeof r.sig !== 'string' ||
      r.sig.length > 128 ||
      (r.roster !== undefined && typeof r.roster !== 'string')
    ) {
      refuse(ws, 'malformed', source);
      return;
    }
    const sig = decodeBase64Strict(r.sig);
    if (sig === undefined || sig.length !== 64) {
      refuse(ws, 'malformed', source);
      return;
    }
    if (Math.abs(Date.now() - r.ts) > ADMISSION_SKEW_MS) {
      refuse(ws, 'stale', source);
      return;
    }
    // A session belongs to what its parties prove: the id and the roster they are admitted on,
    // keyed together (`sessionKey`), so nobody can hold another task's id with another roster.
    // A roster-bound id (`<label>#<digest>`) names its roster: it is admitted only on a roster with
    // that digest, presented by the party (`rosterBoundSessions`) or listed at the relay.
    const boundDigest = sessionRosterDigest(r.session);
    let candidates: readonly Roster[];
    if (boundDigest !== undefined) {
      const listed = options.rosters.filter((ro) => digestOf.get(ro) === boundDigest);
      if (listed.length > 0) candidates = listed;
      else if (r.roster === undefined) {
        refuse(ws, 'roster-digest', source);
        return;
      } else if (!rosterBound) {
        refuse(ws, 'not-in-roster', source);
        return;
      } else {
        let presented: Roster;
        try {
          presented = parseRoster(r.roster);
        } catch {
          refuse(ws, 'malformed', source);
          return;
        }
        if (rosterDigest(presented) !== boundDigest) {
          refuse(ws, 'roster-digest', source);
          return;
        }
        candidates = [presented];
      }
    } else candidates = options.rosters;
    candidates = candidates.filter((ro) => ro.has(r.from) && ro.has(r.to));
    if (candidates.length === 0) {
      refuse(ws, 'not-in-roster', source);
      return;
    }
    let roster: Roster | undefined;
    for (const url of publicUrls) {
      const msg = admissionTranscript(url, r);
      const verified = candidates.filter((ro) => ed25519Verify(msg, sig, ro.get(r.from)!.publicKey));
      // Several rosters with the same key: join the live session of one of them, else the first.
      roster = verified.find((ro) => sessions.has(sessionKey(r.session, digestOf.get(ro) ?? rosterDigest(ro)))) ?? verified[0];
      if (roster) break;
    }
    if (!roster) {
      refuse(ws, 'bad-signature', source);
      return;
    }
    const digest = digestOf.get(roster) ?? rosterDigest(roster);
    const sKey = sessionKey(r.session, digest);
    const existing = sessions.get(sKey);
    const presented = boundDigest !== undefined && !options.rosters.includes(roster);
    // A signed request is good for one connection only (a recorded one cannot be replayed).
    const replayKey = `${r.from}\n${r.nonce}`;
    if (accepted.has(replayKey)) {
      refuse(ws, 'duplicate', source);
      return;
    }
    const key = slotKey(sKey, r.from, r.to);
    if (slots.has(key)) {
      refuse(ws, 'duplicate', source);
      return;
    }
    if (!existing && sessions.size >= maxSessions) {
      refuse(ws, 'relay-full', source);
      return;
    }
    if ((existing?.conns ?? 0) >= maxPerSession) {
      refuse(ws, 'session-limit', source);
      return;
    }
    if ((perSource.get(source) ?? 0) >= maxPerSource || (!existing && presented && (boundPerSource.get(source) ?? 0) >= maxBoundPerSource)) {
      refuse(ws, 'source-limit', source);
      return;
    }
    accepted.add(replayKey);
    if (accepted.size > 1_000_000) accepted = new Set([replayKey]); // bounded; `stale` covers older ones
    const s = existing ?? { roster, conns: 0, bytes: 0, boundBy: presented ? source : undefined };
    if (!existing && s.boundBy !== undefined) boundPerSource.set(source, (boundPerSource.get(source) ?? 0) + 1);
    s.conns++;
    sessions.set(sKey, s);
    perSource.set(source, (perSource.get(source) ?? 0) + 1);
    const c: Conn = { ws, source, session: r.session, digest, from: r.from, to: r.to, partner: undefined, queued: 0, paused: false, timer: undefined };
    live.add(c);
    slots.set(key, c);
    ws.on('close', () => release(c));
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || !c.partner) {
        // Only opaque binary frames after pairing; anything else ends the connection.
        ws.terminate();
        return;
      }
      forward(c, data);
    });
    ws.send(JSON.stringify({ t: 'admitted' }));
    const want = hooks?.partnerOf ? hooks.partnerOf(r.session, r.to, r.from) : { session: r.session, from: r.to, to: r.from };
    const p = waiting.get(slotKey(sessionKey(want.session, digest), want.from, want.to));
    if (p) {
      waiting.delete(slotKey(sessionKey(p.session, p.digest), p.from, p.to));
      if (p.timer) clearTimeout(p.timer);
      p.timer = undefined;
      p.partner = c;
      c.partner = p;
      pairs++;
      p.ws.send(JSON.stringify({ t: 'paired' }));
      ws.send(JSON.stringify({ t: 'paired' }));
    } else {
      waiting.set(key, c);
      c.timer = setTimeout(() => {
        if (!c.partner) refuse(ws, 'pair-timeout', source);
      }, pairTimeoutMs);
      c.timer.unref();
    }
  };

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const source = req.socket.remoteAddress ?? 'unknown';
    ws.on('error', () => undefined);
    if (ws.protocol !== RELAY_SUBPROTOCOL) {
      ws.terminate();
      return;
    }
    const timer = setTimeout(() => refuse(ws, 'malformed', source), admissionTimeoutMs);
    ws.once('message', (data: Buffer, isBinary: boolean) => {
      clearTimeout(timer);
      if (isBinary || data.length > MAX_ADMISSION_BYTES) {
        refuse(ws, 'malformed', source);
        return;
      }
      admit(ws, source, data.toString('utf8'));
    });
    ws.once('close', () => clearTimeout(timer));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    server.listen(options.port ?? 0, host);
  });
  server.on('error', () => undefined);
  const addr = server.address();
  const bound = typeof addr === 'object' && addr !== null ? addr : { port: options.port ?? 0, address: host };
  const hostForUrl = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  const publicUrls = (options.publicUrls ?? [`ws://${hostForUrl}:${bound.port}`]).map((u) => {
    try {
      return normalizeRelayUrl(u);
    } catch {
      throw new InvalidArgumentError('"publicUrls" must be ws:// or wss:// URLs');
    }
  });
  let closing: Promise<void> | undefined;
  return {
    port: bound.port,
    host: bound.address,
    publicUrls,
    stats: () => ({ connections: live.size, pairs, sessions: sessions.size, bytesForwarded, messagesForwarded, refused: { ...refused } }),
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const c of [...live]) c.ws.terminate();
        wss.close();
        server.close();
        server.closeAllConnections();
        resolve();
      });
      return closing;
    },
  };
}
