/**
 * Tensor memory and its lifetime.
 *
 * A Storage owns one typed array over an ArrayBuffer (outside the V8 heap, so the native backend reads the same
 * memory without copying). Tensors are views onto a Storage (shape, strides, offset); several tensors can share
 * one Storage.
 *
 * Lifetime contract:
 *  - By default memory is reclaimed by the garbage collector, like any JS object.
 *  - `release()` returns the buffer at once to a size-keyed pool, so the next allocation of the same dtype and
 *    length reuses it instead of waiting for the GC. A training step allocates the same sizes every time, so
 *    after the first step it allocates nothing. Any later access to a released storage throws (a use-after-free
 *    is a clear error, never silent garbage).
 *  - Who releases: `Tensor.dispose()` (explicit), the end of a `tidy()` scope (everything created inside and not
 *    returned or kept), and backward (gradients of intermediate tensors once consumed, and — inside a `tidy()` —
 *    the activations a node saved once every node that saved them has run).
 *  - Buffers from the pool are NOT zeroed: kernels overwrite their outputs; callers that accumulate ask for
 *    `zeroed = true`.
 */
import { allocTyped, DTYPE_BYTES, type AnyTypedArray, type DType } from './dtype.js';

let nextStorageId = 1;

export class Storage {
  readonly id = nextStorageId++;
  private _data: AnyTypedArray | null;
  /** The tidy scope that created this storage (null = created outside any scope, never auto-released). */
  scope: Scope | null = null;
  /** Pending uses by autograd nodes' saved tensors (see autograd.ts); 0 when none. */
  savedRefs = 0;
  /** Kept by the user (Tensor.keep / returned from tidy): never auto-released. */
  kept = false;
  /** Wraps memory the caller owns (fromArray): release() drops it but never hands it to the pool for reuse. */
  borrowed = false;

  constructor(
    readonly dtype: DType,
    data: AnyTypedArray,
  ) {
    this._data = data;
  }

  get length(): number {
    return this.data.length;
  }

  get released(): boolean {
    return this._data === null;
  }

  get data(): AnyTypedArray {
    if (this._data === null) {
      throw new Error(
        `tensor memory was released (dispose(), the end of a tidy() scope, or backward() freeing an intermediate); ` +
          `keep() a tensor you need afterwards`,
      );
    }
    return this._data;
  }

  /**
   * Hand the memory to a new Storage and mark this one released (without pooling): used when a backward
   * overwrites a saved activation with its gradient, so stale readers of the activation get a clear error.
   */
  transfer(): Storage {
    const d = this.data;
    this._data = null;
    const s = new Storage(this.dtype, d);
    s.borrowed = this.borrowed;
    return s;
  }

  /** Return the buffer to the pool. Idempotent. */
  release(): void {
    if (this._data === null) return;
    if (!this.borrowed) pool.put(this.dtype, this._data);
    this._data = null;
  }
}

/**
 * Exact-size free lists keyed by dtype and element count. Exact sizes (no rounding up) keep peak memory at what
 * the model needs; a training step repeats the same sizes, so reuse is near-total after the first step.
 * The pool holds at most `limitBytes`; beyond that released buffers are left to the GC.
 */
export class BufferPool {
  private free = new Map<string, AnyTypedArray[]>();
  private bytes = 0;
  limitBytes = 8 * 1024 ** 3;
  hits = 0;
  misses = 0;

  take(dtype: DType, n: number, zeroed: boolean): AnyTypedArray {
    const list = this.free.get(key(dtype, n));
    const buf = list?.pop();
    if (buf) {
      this.hits++;
      this.bytes -= n * DTYPE_BYTES[dtype];
      if (zeroed) buf.fill(dtype === 'i64' ? (0n as never) : (0 as never));
      return buf;
    }
    this.misses++;
    return allocTyped(dtype, n); // fresh ArrayBuffers are zero-filled
  }

  put(dtype: DType, buf: AnyTypedArray): void {
    const size = buf.length * DTYPE_BYTES[dtype];
    // Subarray views are not whole buffers: never pool them (their ArrayBuffer may be larger).
    if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength) return;
    if (this.bytes + size > this.limitBytes) return;
    const k = key(dtype, buf.length);
    let list = this.free.get(k);
    if (!list) this.free.set(k, (list = []));
    list.push(buf);
    this.bytes += size;
  }

  /** Drop every pooled buffer (let the GC have them). */
  clear(): void {
    this.free.clear();
    this.bytes = 0;
  }

  get pooledBytes(): number {
    return this.bytes;
  }
}

function key(dtype: DType, n: number): string {
  return dtype + ':' + n;
}

export const pool = new BufferPool();

export function newStorage(dtype: DType, n: number, zeroed = false): Storage {
  const s = new Storage(dtype, pool.take(dtype, n, zeroed));
  if (currentScope) currentScope.track(s);
  return s;
}

/**
 * Model weights are read from memory whole, every training step and every generated token. The native backend
 * installs an advisor here that asks the OS to back such buffers with huge pages (native/src/pool.cpp,
 * ft_huge_pages): GPT-2 decoding measured ~35 % more tokens/s from them on a Zen 4 VM (a 4 KiB page is a TLB
 * miss and a stop for the hardware prefetcher every 4 KiB of a stream). `param()` calls adviseWeightMemory on
 * fresh parameter memory before writing it, which is when the advice takes effect without copying.
 */
let weightMemoryAdvisor: ((a: AnyTypedArray) => void) | null = null;

/** Buffers smaller than this are left alone: the advice covers whole aligned 2 MiB pages inside the buffer. */
export const WEIGHT_ADVICE_MIN_BYTES = 4 << 20;

export function setWeightMemoryAdvisor(fn: ((a: AnyTypedArray) => void) | null): void {
  weightMemoryAdvisor = fn;
}

export function adviseWeightMemory(a: AnyTypedArray): void {
  if (weightMemoryAdvisor && a.byteLength >= WEIGHT_ADVICE_MIN_BYTES) weightMemoryAdvisor(a);
}

/** Storage that no tidy scope tracks (parameter gradients, optimizer state). */
export function newStorageUnscoped(dtype: DType, n: number, zeroed = false): Storage {
  return new Storage(dtype, pool.take(dtype, n, zeroed));
}

/** Storage over an existing array; `borrowed` when the caller still owns it (never pooled on release). */
export function wrapStorage(dtype: DType, data: AnyTypedArray, borrowed = false): Storage {
  const s = new Storage(dtype, data);
  s.borrowed = borrowed;
  if (currentScope) currentScope.track(s);
  return s;
}

/**
 * A tidy scope: every storage allocated while it is the innermost scope is released when it ends, unless kept
 * (returned from the scope's function, or marked with Tensor.keep()).
 */
export class Scope {
  private storages: Storage[] = [];
  constructor(readonly parent: Scope | null) {}

  track(s: Storage): void {
    s.scope = this;
    this.storages.push(s);
  }

  /** Release everything not kept; kept storages move to the parent scope (so an outer tidy can free them). */
  end(keep: Set<Storage>): void {
    for (const s of this.storages) {
      if (keep.has(s) || s.kept) {
        s.scope = this.parent;
        if (this.parent && !s.kept) this.parent.track(s);
        continue;
      }
      s.release();
    }
    this.storages = [];
  }
}

let currentScope: Scope | null = null;

export function activeScope(): Scope | null {
  return currentScope;
}

export function enterScope(): Scope {
  currentScope = new Scope(currentScope);
  return currentScope;
}

export function exitScope(scope: Scope, keep: Set<Storage>): void {
  if (currentScope !== scope) throw new Error('tidy scopes must end in the order they began');
  currentScope = scope.parent;
  scope.end(keep);
}
