/**
 * Where thresholdSum's received share pieces wait until the dealer set is agreed.
 *
 * thresholdSum adds every share piece to a running sum as it arrives; a dealer that step 2 then
 * leaves out of the dealer set Q (its share reached this party but not another one, or it
 * vanished while dealing) must be subtracted again, so each piece is also kept — in a
 * {@link ShareSpill}: a temporary file, or memory when that is turned off or fails. The file
 * trades (n − 1)·8L bytes of memory for as many bytes written and, only when a dealer is left out,
 * read back.
 *
 * The file, privacy. It holds one Shamir share per dealer (below the threshold, as this party's
 * memory did), and still nothing of it rests in plaintext: every piece is sealed with
 * ChaCha20-Poly1305 under a key drawn fresh for the spill, kept only in this process's memory, with
 * its record number as the nonce (so a record cannot be replaced by another one, nor altered,
 * without failing its tag). The file is created with mode 0600 under a random name and unlinked
 * right after it is opened (POSIX: it lives on through the open descriptor, so no exit path — an
 * error, a kill, a crash — leaves it behind); where unlinking an open file is refused (Windows) it
 * is unlinked when the spill closes.
 *
 * Failures. A directory that cannot hold the file (missing, not writable) or a write that fails
 * (disk full) does not fail the run: the spill warns once (`process.emitWarning`, code
 * `COUPLER_SPILL_FALLBACK`) and keeps the pieces from then on in memory (the pieces already
 * written stay readable in the file). A record that does not read back intact (the file changed
 * under the process) throws `VALUE_INVALID`.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, ValueError } from '../errors.js';

/** Where a spill keeps its pieces: a directory for the encrypted file, or `false` for memory. */
export type SpillTarget = string | false;

/** The AEAD of the file's records. */
const AEAD = 'chacha20-poly1305';
const TAG_BYTES = 16;

/** One stored piece: at `offset` in the file (`bytes` + tag), or a copy in memory. */
type SpillRecord = { readonly offset: number; readonly bytes: number; readonly nonce: number } | { readonly copy: Uint8Array };

/** How the spill's file went: the path while it exists, and why it was given up (if it was). */
export interface SpillState {
  /** True while pieces go to the file. */
  readonly onDisk: boolean;
  /** Bytes written to the file so far (ciphertext and tags). */
  readonly bytesWritten: number;
  /** Pieces read back (from the file or memory). */
  readonly piecesRead: number;
  /** True once closed: every piece forgotten, the file gone. */
  readonly closed: boolean;
  /** Why the file was given up (no path, no key: the error's code and message), if it was. */
  readonly fallback?: string;
}

/**
 * Pieces of share vectors, by dealer and piece number, stored encrypted in a temporary file (or in
 * memory, see the module notes). Synchronous: a piece is stored before `put` returns, so the
 * caller may overwrite its bytes right after.
 */
export class ShareSpill {
  /** The file's descriptor while pieces are written to it. */
  #fd: number | undefined;
  /** The descriptor kept for reading after writing failed. */
  #readFdOrUndefined: number | undefined;
  /** The file's path while it still has a name (only where it could not be unlinked at once). */
  #path: string | undefined;
  #key: Buffer | undefined;
  #end = 0;
  #nonce = 0;
  #fallback: string | undefined;
  #read = 0;
  #closed = false;
  readonly #records = new Map<string, SpillRecord[]>();

  /**
   * @param target - a directory for the file (`undefined`: the OS temporary directory), or
   *   `false` to keep every piece in memory.
   */
  constructor(target: SpillTarget | undefined) {
    if (target === false) return;
    const dir = target ?? tmpdir();
    const path = join(dir, `coupler-spill-${process.pid}-${randomBytes(12).toString('hex')}`);
    try {
      this.#fd = openSync(path, 'wx+', 0o600);
    } catch (err) {
      this.#giveUp(err, `cannot create a spill file in ${dir}`);
      return;
    }
    try {
      unlinkSync(path);
    } catch {
      this.#path = path; // unlinked at close
    }
    this.#key = randomBytes(32);
  }

  /** The state of the file (for tests and diagnostics). */
  get state(): SpillState {
    return { onDisk: this.#fd !== undefined, bytesWritten: this.#end, piecesRead: this.#read, closed: this.#closed, ...(this.#fallback === undefined ? {} : { fallback: this.#fallback }) };
  }

  /** Pieces stored for `dealer` (numbered 0, 1, … in the order they were put). */
  count(dealer: string): number {
    return this.#records.get(dealer)?.length ?? 0;
  }

  /** Store the next piece of `dealer` (its pieces are numbered in the order they are put). */
  put(dealer: string, bytes: Uint8Array): void {
    if (this.#closed) throw new RangeError('the spill is closed');
    let list = this.#records.get(dealer);
    if (list === undefined) this.#records.set(dealer, (list = []));
    if (this.#fd !== undefined) {
      const nonce = this.#nonce++;
      const cipher = createCipheriv(AEAD, this.#key!, nonceBytes(nonce), { authTagLength: TAG_BYTES });
      const body = cipher.update(bytes);
      cipher.final();
      try {
        writeAll(this.#fd, body, this.#end);
        writeAll(this.#fd, cipher.getAuthTag(), this.#end + body.length);
        list.push({ offset: this.#end, bytes: bytes.length, nonce });
        this.#end += body.length + TAG_BYTES;
        return;
      } catch (err) {
        this.#giveUp(err, 'cannot write the spill file');
      }
    }
    list.push({ copy: Uint8Array.from(bytes) });
  }

  /** Piece `i` of `dealer`, as stored (a fresh buffer). */
  read(dealer: string, i: number): Uint8Array {
    const rec = this.#records.get(dealer)?.[i];
    if (rec === undefined) throw new RangeError(`no piece ${i} of this dealer in the spill`);
    this.#read++;
    if ('copy' in rec) return rec.copy;
    const fd = this.#readFd();
    const sealed = Buffer.allocUnsafe(rec.bytes + TAG_BYTES);
    try {
      let done = 0;
      while (done < sealed.length) {
        const got = readSync(fd, sealed, done, sealed.length - done, rec.offset + done);
        if (got === 0) throw new Error('short read');
        done += got;
      }
      const decipher = createDecipheriv(AEAD, this.#key!, nonceBytes(rec.nonce), { authTagLength: TAG_BYTES });
      decipher.setAuthTag(sealed.subarray(rec.bytes));
      return new Uint8Array(Buffer.concat([decipher.update(sealed.subarray(0, rec.bytes)), decipher.final()]));
    } catch {
      throw new ValueError(ErrorCode.VALUE_INVALID, 'a share piece kept in the spill file did not read back intact (the file was changed, truncated or unreadable)');
    }
  }

  /** Forget every piece and remove the file. Idempotent. */
  close(): void {
    this.#closed = true;
    const fd = this.#fd ?? this.#readFdOrUndefined;
    this.#fd = undefined;
    this.#readFdOrUndefined = undefined;
    this.#key = undefined;
    this.#records.clear();
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    if (this.#path !== undefined) {
      try {
        unlinkSync(this.#path);
      } catch {
        /* gone already */
      }
      this.#path = undefined;
    }
  }

  #readFd(): number {
    const fd = this.#fd ?? this.#readFdOrUndefined;
    if (fd === undefined) throw new RangeError('the spill is closed');
    return fd;
  }

  #giveUp(err: unknown, what: string): void {
    const code = typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'error';
    this.#fallback = `${what} (${code})`;
    if (this.#fd !== undefined) {
      // Written pieces stay readable; nothing more is written.
      this.#readFdOrUndefined = this.#fd;
      this.#fd = undefined;
    }
    process.emitWarning(`thresholdSum: ${this.#fallback}; keeping the received shares in memory instead`, { code: 'COUPLER_SPILL_FALLBACK' });
  }
}

/** Write all of `bytes` at `position`. */
function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** The 12-byte nonce of record `n`. */
function nonceBytes(n: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32LE(n >>> 0, 0);
  iv.writeUInt32LE(Math.floor(n / 2 ** 32), 4);
  return iv;
}
