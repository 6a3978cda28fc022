/**
 * The attention step shared by every model: an optional trainable key/value prefix (prefix tuning), an
 * optional preallocated KV cache (generation), an additive mask (padding, packed documents), then fused
 * scaled-dot-product attention.
 */
import { noGrad } from '../tensor/autograd.js';
import { backendFor } from '../tensor/backends.js';
import { cat, scaledDotProductAttention } from '../tensor/nn_ops.js';
import { newStorageUnscoped } from '../tensor/storage.js';
import { contiguousStrides, fmtShape, Tensor } from '../tensor/tensor.js';
import type { FloatDType } from '../tensor/dtype.js';

/**
 * One layer's key/value cache: [B, Hkv, maxLen, D] buffers filled left to right. New keys are copied in place
 * at `length` (no re-copying of the past), and attention reads the filled part as a strided view.
 */
export class KVCache {
  readonly k: Tensor;
  readonly v: Tensor;
  length = 0;

  constructor(
    readonly batch: number,
    readonly kvHeads: number,
    readonly maxLen: number,
    readonly headDim: number,
    dtype: FloatDType = 'f32',
  ) {
    const shape = [batch, kvHeads, maxLen, headDim];
    const n = batch * kvHeads * maxLen * headDim;
    this.k = new Tensor(newStorageUnscoped(dtype, n, true), shape, contiguousStrides(shape), 0).keep();
    this.v = new Tensor(newStorageUnscoped(dtype, n, true), shape, contiguousStrides(shape), 0).keep();
  }

  /** Copy new keys/values [B, Hkv, T, D] in at the current length; returns views of everything cached. */
  append(k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const T = k.shape[2]!;
    if (k.shape[0] !== this.batch || k.shape[1] !== this.kvHeads || k.shape[3] !== this.headDim) {
      throw new Error(`KVCache: keys ${k.describe()} do not fit a cache of [${this.batch}, ${this.kvHeads}, ${this.maxLen}, ${this.headDim}]`);
    }
    if (v.ndim !== 4 || v.shape.some((d, i) => d !== k.shape[i]) || k.dtype !== this.k.dtype || v.dtype !== this.k.dtype) {
      throw new Error(`KVCache: keys ${k.describe()} and values ${v.describe()} must have one shape and the cache's dtype ${this.k.dtype}`);
    }
    this.ensureRoom(T);
    noGrad(() => {
      for (const [src, dst] of [
        [k, this.k],
        [v, this.v],
      ] as const) {
        const at = dst.slice(2, this.length, this.length + T);
        backendFor(dst.buf).copyStrided(src.shape, src.stridedView(), at.stridedView());
      }
    });
    this.length += T;
    return this.view();
  }

  /** Throws unless T more positions fit (append's check; also for one-call decode steps, which write natively). */
  ensureRoom(T: number): void {
    if (this.length + T > this.maxLen) {
      throw new Error(`KVCache: ${this.length} cached + ${T} new positions exceed the cache length ${this.maxLen}`);
    }
  }

  view(): { k: Tensor; v: Tensor } {
    return { k: this.k.slice(2, 0, this.length), v: this.v.slice(2, 0, this.length) };
  }

  /** Forget everything (the buffers are reused). */
  reset(): void {
    this.length = 0;
  }

  /** Drop the last n positions (speculative or constrained decoding roll-back). */
  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new Error(`KVCache.truncate(${length}): cache holds ${this.length}`);
    this.length = length;
  }

  dispose(): void {
    this.k.dispose();
    this.v.dispose();
  }
}

/** Trainable key/value prefix of one layer: [Hkv, P, D] (shared by the batch) or [B, Hkv, P, D]. */
export interface KVPrefix {
  k: Tensor;
  v: Tensor;
}

export interface AttendOptions {
  cache?: KVCache | null;
  /** Prefix keys/values; ignored when a cache is given (generation writes the prefix into the cache first). */
  prefix?: KVPrefix | null;
  /** Additive mask over all key positions (prefix + cached + new): [B, S], [B, T, S] or [B, 1, T, S]. */
  mask?: Tensor | null;
  /** Sliding-window size (Mistral); 0 = none. */
  window?: number;
}

/** q [B, H, T, D], k/v [B, Hkv, T, D] for the new positions → [B, H, T, D]. */
export function attend(q: Tensor, k: Tensor, v: Tensor, opts: AttendOptions = {}): Tensor {
  let keys = k,
    values = v;
  if (opts.cache) {
    ({ k: keys, v: values } = opts.cache.append(k, v));
  } else if (opts.prefix) {
    const B = k.shape[0]!;
    const expand = (p: Tensor): Tensor => {
      if (p.ndim === 3) return p.unsqueeze(0).expand(B, -1, -1, -1);
      if (p.ndim === 4) return p;
      throw new Error(`prefix must be [Hkv, P, D] or [B, Hkv, P, D], got ${fmtShape(p.shape)}`);
    };
    keys = cat([expand(opts.prefix.k), k], 2);
    values = cat([expand(opts.prefix.v), v], 2);
  }
  let mask = opts.mask ?? null;
  if (mask && mask.ndim === 2) mask = mask.unsqueeze(1); // [B, S] key-padding mask → [B, 1, S]
  return scaledDotProductAttention(q, keys, values, { causal: true, window: opts.window ?? 0, mask });
}
