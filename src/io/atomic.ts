/**
 * Atomic file writes: the data goes to a temporary file in the destination's own folder, is flushed to disk, and
 * is then renamed over the destination. A rename within one file system is atomic, so a reader (or a run resumed
 * after a crash or a kill) sees either the old complete file or the new complete file, never a half-written one.
 * The temporary file must live in the same folder: a rename across file systems is a copy, which is not atomic.
 *
 * API:
 *  - `writeFileAtomic(path, data)`            — whole contents at once (configs, small tensors files).
 *  - `new AtomicFileWriter(path)`             — streaming: `write(chunk)` as many times as needed, then `commit()`;
 *                                               `abort()` (or any failure) removes the temporary file.
 *  - `withAtomicFile(path, (w) => { ... })`   — the streaming writer with commit/abort handled: commits when the
 *                                               callback returns, aborts and rethrows when it throws.
 *
 * Everything is synchronous: checkpoints are written between training steps, where blocking is what we want
 * (the next step must not mutate tensors that are still being written).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** writeSync takes at most ~2 GiB per call on some platforms; large tensors go out in pieces of this size. */
const MAX_WRITE_CHUNK = 1 << 30;

function tempPathFor(dest: string): string {
  const dir = path.dirname(dest);
  const base = path.basename(dest);
  // Dot-prefixed so directory listings and globbing (e.g. `*.safetensors` shard discovery) ignore it; pid plus
  // random suffix so two writers of the same destination never share a temporary file.
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function asBytes(data: string | ArrayBufferView): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Writes all of `bytes` to `fd`, looping over short writes and splitting very large buffers. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    const n = Math.min(bytes.byteLength - done, MAX_WRITE_CHUNK);
    done += fs.writeSync(fd, bytes, done, n);
  }
}

/** Flushes the folder entry so the rename itself survives a power loss. Not supported everywhere (Windows). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Best effort only: the file contents are already durable, and some platforms refuse fsync on folders.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A streaming atomic writer. The destination is untouched until `commit()` succeeds. */
export class AtomicFileWriter {
  readonly path: string;
  readonly tempPath: string;
  private fd: number | undefined;
  private written = 0;

  constructor(dest: string, options: { mode?: number } = {}) {
    this.path = dest;
    this.tempPath = tempPathFor(dest);
    // 'wx': fail rather than clobber if the (random) temporary name somehow exists.
    this.fd = fs.openSync(this.tempPath, 'wx', options.mode ?? 0o644);
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.written;
  }

  write(chunk: string | ArrayBufferView): void {
    if (this.fd === undefined) throw new Error(`${this.path}: write after commit() or abort()`);
    const bytes = asBytes(chunk);
    try {
      writeAll(this.fd, bytes);
    } catch (err) {
      this.abort();
      throw err;
    }
    this.written += bytes.byteLength;
  }

  /** Flushes to disk, closes, and renames over the destination. */
  commit(): void {
    if (this.fd === undefined) throw new Error(`${this.path}: commit() after commit() or abort()`);
    const fd = this.fd;
    try {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      this.fd = undefined;
      fs.renameSync(this.tempPath, this.path);
    } catch (err) {
      this.abort();
      throw err;
    }
    fsyncDir(path.dirname(this.path));
  }

  /** Discards the temporary file. Safe to call more than once and after a failed commit. */
  abort(): void {
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // Already closed or invalid: nothing left to release.
      }
      this.fd = undefined;
    }
    try {
      fs.unlinkSync(this.tempPath);
    } catch {
      // Already renamed or never created.
    }
  }
}

/** Runs `fn` with a streaming atomic writer; commits if it returns, aborts (and rethrows) if it throws. */
export function withAtomicFile<T>(dest: string, fn: (w: AtomicFileWriter) => T): T {
  const w = new AtomicFileWriter(dest);
  let result: T;
  try {
    result = fn(w);
  } catch (err) {
    w.abort();
    throw err;
  }
  w.commit();
  return result;
}

/** Replaces `dest` with `data` atomically. Strings are written as UTF-8. */
export function writeFileAtomic(dest: string, data: string | ArrayBufferView): void {
  withAtomicFile(dest, (w) => w.write(data));
}
