/**
 * Reading a file named by a path someone else controls (an identity, a roster, the relay's CA or
 * TLS files, a container token, a station's data) without waiting for ever or reading without end:
 * the file is opened without blocking (a FIFO with no writer opens at once instead of waiting for
 * one), checked on the open descriptor (a regular file, within the cap: no window in which a FIFO
 * or a larger file can be swapped in between the check and the read), and read from that same
 * descriptor, at most the cap.
 *
 * Failures are plain errors with a `code`: the system's (`ENOENT`, `EACCES`, ...), or
 * `ENOTREG` (not a regular file), `EFBIG` (larger than the cap), `ECHANGED` (it grew while read).
 * A file whose size reads 0 (procfs, sysfs: the size is not known before the read) is read in
 * pieces up to the cap.
 * Callers turn them into their own typed errors.
 *
 * @module
 * @internal
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** What {@link readBoundedFile} returns. */
export interface BoundedFile {
  /** The file's bytes (at most the cap). */
  readonly bytes: Buffer;
  /** The descriptor's status when it was checked (mode, owner, size). */
  readonly stat: Stats;
}

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;
/** Bytes read at a time from a file whose size reads 0 (see {@link readBoundedFile}). */
const PSEUDO_PIECE = 64 * 1024;

/** A failure of this module: `code` as described above; `size` the file's size for `EFBIG`. */
export type FileReadError = NodeJS.ErrnoException & { size?: number };

function fileError(code: 'ENOTREG' | 'EFBIG' | 'ECHANGED', message: string, size?: number): FileReadError {
  return Object.assign(new Error(message), size === undefined ? { code } : { code, size });
}

function check(st: Stats, maxBytes: number): void {
  if (!st.isFile()) throw fileError('ENOTREG', 'not a regular file');
  if (st.size > maxBytes) throw fileError('EFBIG', `larger than ${maxBytes} bytes`, st.size);
}

/**
 * Open `path` for reading as a regular file of at most `maxBytes` (checked on the descriptor).
 * The caller closes the handle.
 */
export async function openRegularFile(path: string, maxBytes: number): Promise<{ handle: FileHandle; stat: Stats }> {
  const handle = await open(path, FLAGS);
  try {
    const stat = await handle.stat();
    check(stat, maxBytes);
    return { handle, stat };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** One read: into `buffer` at `offset`, `length` bytes from file position `position`. */
type ReadRequest = readonly [buffer: Buffer, offset: number, length: number, position: number];

/**
 * The reads of a checked file, as requests answered with the bytes each read (so the synchronous
 * and the asynchronous reader share them); returns the file's bytes.
 */
function* reads(stat: Stats, maxBytes: number): Generator<ReadRequest, Buffer, number> {
  if (stat.size === 0) {
    // Sized 0 by the kernel yet maybe not empty (procfs, sysfs, some FUSE mounts): read in pieces, to the cap.
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const piece = Buffer.alloc(Math.min(PSEUDO_PIECE, maxBytes + 1 - total));
      const bytesRead = yield [piece, 0, piece.length, total];
      if (bytesRead === 0) break;
      parts.push(piece.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw fileError('EFBIG', `larger than ${maxBytes} bytes`, total);
    }
    return Buffer.concat(parts, total);
  }
  const buffer = Buffer.alloc(stat.size + 1);
  let filled = 0;
  for (;;) {
    const bytesRead = yield [buffer, filled, buffer.length - filled, filled];
    if (bytesRead === 0) break;
    filled += bytesRead;
    if (filled > stat.size) throw fileError('ECHANGED', 'the file grew while it was read');
  }
  return buffer.subarray(0, filled);
}

/** Read a regular file of at most `maxBytes` (see the module's description). */
export async function readBoundedFile(path: string, maxBytes: number): Promise<BoundedFile> {
  const { handle, stat } = await openRegularFile(path, maxBytes);
  try {
    const plan = reads(stat, maxBytes);
    let step = plan.next();
    while (!step.done) step = plan.next((await handle.read(...step.value)).bytesRead);
    return { bytes: step.value, stat };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** {@link readBoundedFile}, synchronously (for paths read inside a synchronous call). */
export function readBoundedFileSync(path: string, maxBytes: number): BoundedFile {
  const fd = openSync(path, FLAGS);
  try {
    const stat = fstatSync(fd);
    check(stat, maxBytes);
    const plan = reads(stat, maxBytes);
    let step = plan.next();
    while (!step.done) step = plan.next(readSync(fd, ...step.value));
    return { bytes: step.value, stat };
  } finally {
    closeSync(fd);
  }
}
