/**
 * Child process of the channel benchmark: single-thread primitive costs, one measurement per
 * request so the parent can interleave variants. Each request runs its operation for about
 * `ms` milliseconds (at least `minOps` times) and returns operations per second.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import nacl from 'tweetnacl';
import { generateIdentity } from '../../src/identity/identity.js';
import { ed25519Sign, ed25519Verify } from '../../src/crypto/ed25519.js';
import { getSuite, type SuiteName } from '../../src/channel/suite.js';
import { FrameOpener, FrameSealer, FrameType } from '../../src/channel/frames.js';
import { maxFrameBytes } from '../../src/channel/channel.js';
import { serve, emit, workerConfig } from '../lib/worker.js';
import type { MicroVariant } from './variants.js';


workerConfig<Record<string, never>>();

const identity = generateIdentity('micro');
const msg = new Uint8Array(randomBytes(200)); // about the size of a handshake transcript to sign
const sigNative = ed25519Sign(msg, identity.secretKey, 'native');
const key = new Uint8Array(randomBytes(32));
const nonce12 = new Uint8Array(12);
const nonce24 = new Uint8Array(24);
const aad = new Uint8Array(41);

function timeLoop(ms: number, minOps: number, op: () => void): { ops: number; seconds: number } {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (n < minOps || t - t0 < ms) {
    op();
    n++;
    if ((n & 3) === 0 || n < minOps + 4) t = performance.now();
  }
  t = performance.now();
  return { ops: n, seconds: (t - t0) / 1000 };
}

function chachaSeal(pt: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce12, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  const body = c.update(pt);
  c.final();
  return Buffer.concat([body, c.getAuthTag()]);
}

function chachaOpen(sealed: Uint8Array): Uint8Array {
  const n = sealed.length - 16;
  const d = createDecipheriv('chacha20-poly1305', key, nonce12, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: n });
  d.setAuthTag(sealed.subarray(n));
  const body = d.update(sealed.subarray(0, n));
  d.final();
  return body;
}

const payloads = new Map<number, { pt: Uint8Array; chacha: Uint8Array; box: Uint8Array }>();
function payload(size: number): { pt: Uint8Array; chacha: Uint8Array; box: Uint8Array } {
  let p = payloads.get(size);
  if (!p) {
    const pt = new Uint8Array(randomBytes(size));
    p = { pt, chacha: chachaSeal(pt), box: nacl.secretbox(pt, nonce24, key) };
    payloads.set(size, p);
  }
  return p;
}

/** One frame seal and open through the channel's own code path (header, AAD, copies). */
function frameRoundTrip(suiteName: SuiteName, chunk: number): () => void {
  const suite = getSuite(suiteName);
  const binding = new Uint8Array(32);
  const pt = payload(chunk).pt;
  let sealer = new FrameSealer(suite, new Uint8Array(key), binding, 'peer');
  let opener = new FrameOpener(suite, new Uint8Array(key), binding, 'peer', maxFrameBytes(chunk));
  let n = 0;
  return () => {
    if (++n % 100_000 === 0) {
      sealer = new FrameSealer(suite, new Uint8Array(key), binding, 'peer');
      opener = new FrameOpener(suite, new Uint8Array(key), binding, 'peer', maxFrameBytes(chunk));
    }
    opener.open(sealer.seal(FrameType.MORE, pt));
  };
}

serve({
  measure(p: { variant: MicroVariant; ms: number; size: number; chunk: number }) {
    const { pt, chacha, box } = payload(p.size);
    let op: () => void;
    let bytesPerOp = 0;
    switch (p.variant) {
      case 'ed25519-sign/native':
        op = () => ed25519Sign(msg, identity.secretKey, 'native');
        break;
      case 'ed25519-sign/tweetnacl':
        op = () => ed25519Sign(msg, identity.secretKey, 'tweetnacl');
        break;
      case 'ed25519-verify/native':
        op = () => {
          if (!ed25519Verify(msg, sigNative, identity.publicKey, 'native')) throw new Error('verify failed');
        };
        break;
      case 'ed25519-verify/tweetnacl':
        op = () => {
          if (!ed25519Verify(msg, sigNative, identity.publicKey, 'tweetnacl')) throw new Error('verify failed');
        };
        break;
      case 'x25519-keygen+dh/native':
      case 'x25519-keygen+dh/tweetnacl': {
        const s = getSuite(p.variant.endsWith('native') ? 'native' : 'tweetnacl');
        const peer = s.ephemeral().publicKey;
        op = () => {
          if (s.dh(s.ephemeral(), peer) === undefined) throw new Error('dh failed');
        };
        break;
      }
      case 'aead-seal/chacha20-poly1305':
        op = () => chachaSeal(pt);
        bytesPerOp = p.size;
        break;
      case 'aead-seal/secretbox':
        op = () => nacl.secretbox(pt, nonce24, key);
        bytesPerOp = p.size;
        break;
      case 'aead-open/chacha20-poly1305':
        op = () => chachaOpen(chacha);
        bytesPerOp = p.size;
        break;
      case 'aead-open/secretbox':
        op = () => {
          if (nacl.secretbox.open(box, nonce24, key) === null) throw new Error('open failed');
        };
        bytesPerOp = p.size;
        break;
      case 'frame-seal+open/native':
        op = frameRoundTrip('native', p.chunk);
        bytesPerOp = p.chunk;
        break;
      case 'frame-seal+open/tweetnacl':
        op = frameRoundTrip('tweetnacl', p.chunk);
        bytesPerOp = p.chunk;
        break;
      default:
        throw new Error(`unknown micro variant ${String(p.variant)}`);
    }
    const { ops, seconds } = timeLoop(p.ms, 3, op);
    return bytesPerOp ? (ops * bytesPerOp) / seconds / 1e6 : ops / seconds;
  },
});
emit({ event: 'ready' });
