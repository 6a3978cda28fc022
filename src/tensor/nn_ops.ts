/**
 * Differentiable neural-network ops, each a thin wrapper over one forward and one backward kernel of the
 * backend (llm.c style). Weight gradients of leaf parameters are accumulated straight into `.grad` by the
 * kernels (no temporary weight-sized buffer); for non-leaf weights a temporary is returned to the engine.
 */
import type { AttnView, Buf } from './backend.js';
import { backendFor } from './backends.js';
import { isGradEnabled, noGrad, record, type BackwardContext } from './autograd.js';
import { bf16ToF32 } from './half.js';
import { autocastMode, roundBf16, withAutocast } from './autocast.js';
import { attentionUnfused, crossEntropyUnfused, fusedKernels, geluUnfused, layerNormUnfused } from './unfused.js';
import { isFloat } from './dtype.js';
import { newStorageUnscoped } from './storage.js';
import { slice as sliceOp } from './ops.js';
import { firstArgmax } from './ts_backend/reduce.js';
import type { Philox } from './rng.js';
import {
  contiguousStrides,
  empty,
  fmtShape,
  indexArray,
  numel,
  sameFloat,
  Tensor,
} from './tensor.js';

// ---- gradient buffers ----------------------------------------------------------------------------------------

/**
 * Where a weight's gradient goes: a leaf's own `.grad` (allocated on first use, outside any scope) that kernels
 * accumulate into; or, for a non-leaf weight, a temporary handed back to the engine. A new buffer is zeroed,
 * unless the caller overwrites all of it (`overwrite`: a GEMM with beta = 0 when `fresh`), which saves a pass
 * writing zeros and one reading them back over every weight-sized gradient of a step.
 */
function weightGradTarget(w: Tensor, overwrite = false): { buf: Buf; ret: Tensor | null; fresh: boolean } | null {
  if (!w.requiresGrad) return null;
  if (w.isLeaf) {
    const fresh = !w.grad;
    if (!w.grad) {
      w.grad = new Tensor(newStorageUnscoped(w.dtype, w.size, !overwrite), [...w.shape], contiguousStrides(w.shape), 0);
    }
    return { buf: w.grad.flatBuf(), ret: null, fresh: fresh && overwrite };
  }
  const t = empty(w.shape, w.dtype, !overwrite);
  return { buf: t.buf, ret: t, fresh: overwrite };
}

function requireFloat(t: Tensor, op: string): void {
  if (!isFloat(t.dtype)) throw new Error(`${op}: needs a float tensor, got ${t.describe()}`);
}

function lastDim(t: Tensor): number {
  return t.shape[t.ndim - 1] ?? 1;
}

// ---- linear --------------------------------------------------------------------------------------------------

/** [in, out] features of a linear layer, after checking that x, W and b fit together. */
function linearDims(x: Tensor, w: Tensor, b: Tensor | null, layout: 'out_in' | 'in_out'): [number, number] {
  if (w.ndim !== 2) throw new Error(`linear: weight must be 2-D, got ${w.describe()}`);
  const [inF, outF] = layout === 'out_in' ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
  if (lastDim(x) !== inF) {
    throw new Error(`linear: input ${x.describe()} has ${lastDim(x)} features, weight ${w.describe()} (${layout}) takes ${inF}`);
  }
  if (b && (b.ndim !== 1 || b.shape[0] !== outF)) {
    throw new Error(`linear: bias ${b.describe()} does not match ${outF} output features`);
  }
  return [inF, outF];
}

/**
 * y = x · W (+ b). `layout` says how W is stored: 'out_in' [out, in] as torch.nn.Linear (y = x·Wᵀ), or
 * 'in_out' [in, out] as GPT-2's Conv1D (y = x·W). Neither case copies or transposes W.
 */
export function linear(x: Tensor, w: Tensor, b: Tensor | null, layout: 'out_in' | 'in_out' = 'out_in'): Tensor {
  if (w.dtype === 'bf16') return linearBf16Weight(x, w, b, layout);
  if (autocastMode() === 'bf16' && x.dtype === 'f32' && w.dtype === 'f32') {
    // bf16 autocast: bf16 operands, f32 accumulation, bf16 result (see autocast.ts).
    return withAutocast(null, () => roundBf16(linear(roundBf16(x), roundBf16(w), b ? roundBf16(b) : null, layout)));
  }
  const dtype = sameFloat(x, w, 'linear');
  const [inF, outF] = linearDims(x, w, b, layout);
  const wc = w.contiguous();
  const xc = x.contiguous();
  const N = x.size / inF;
  const outShape = [...x.shape.slice(0, -1), outF];
  const out = empty(outShape, dtype);
  const be = backendFor(out.buf);
  const wT = layout === 'out_in';
  // The bias goes in with the product (added as C is first written), not as a pass filling C beforehand; in
  // the output's dtype, as filling C with it converted it.
  const bc = b ? (b.dtype === dtype ? b : b.to(dtype)).contiguous() : undefined;
  be.gemm({
    transA: false, transB: wT, M: N, N: outF, K: inF, alpha: 1, beta: 0,
    a: xc.buf, aOff: xc.offset, lda: inF, strideA: 0,
    b: wc.buf, bOff: wc.offset, ldb: wT ? inF : outF, strideB: 0,
    c: out.buf, cOff: 0, ldc: outF, strideC: 0, batch: 1,
    ...(bc ? { bias: bc.buf, biasOff: bc.offset } : {}),
  });
  return record(
    out,
    'linear',
    [x, w, b],
    (g) => {
      const gc = g.contiguous();
      const gx = x.requiresGrad ? linearInputGrad(gc, wc, layout) : null;
      const wt = weightGradTarget(w, true);
      if (wt) {
        const beta = wt.fresh ? 0 : 1; // a new gradient is written, not accumulated into
        if (wT) {
          // dW [out, in] += dYᵀ · X
          be.gemm({
            transA: true, transB: false, M: outF, N: inF, K: N, alpha: 1, beta,
            a: gc.buf, aOff: gc.offset, lda: outF, strideA: 0,
            b: xc.buf, bOff: xc.offset, ldb: inF, strideB: 0,
            c: wt.buf, cOff: 0, ldc: inF, strideC: 0, batch: 1,
          });
        } else {
          // dW [in, out] += Xᵀ · dY
          be.gemm({
            transA: true, transB: false, M: inF, N: outF, K: N, alpha: 1, beta,
            a: xc.buf, aOff: xc.offset, lda: inF, strideA: 0,
            b: gc.buf, bOff: gc.offset, ldb: outF, strideB: 0,
            c: wt.buf, cOff: 0, ldc: outF, strideC: 0, batch: 1,
          });
        }
      }
      let gbRet: Tensor | null = null;
      const bt = b ? weightGradTarget(b, true) : null;
      if (bt) {
        if (bt.fresh) {
          be.reduceSum(1, N, outF, gc.buf, gc.offset, bt.buf, 0);
        } else {
          const tmp = empty([outF], dtype);
          be.reduceSum(1, N, outF, gc.buf, gc.offset, tmp.buf, 0);
          be.axpy(outF, 1, tmp.buf, 0, bt.buf, 0);
          tmp.dispose();
        }
        gbRet = bt.ret;
      }
      return [gx, wt?.ret ?? null, gbRet];
    },
    [xc, wc],
  );
}

/**
 * The greedy pick of every row of x·Wᵀ (W [out, in], as an LM head) without the product: out[r] = the index of
 * row r's first largest value, as argmax over linear(x, w, null)'s rows would find it (Backend.gemmArgmax; the
 * native backend fuses the scan into its matrix-vector kernel when decoding). No autograd: for generation.
 */
export function linearArgmax(x: Tensor, w: Tensor): Int32Array {
  const [inF, outF] = linearDims(x, w, null, 'out_in');
  const M = x.size / inF;
  const out = new Int32Array(M);
  if (autocastMode() === 'bf16' || (w.dtype !== 'bf16' && x.dtype !== w.dtype)) {
    // Rounded logits (autocast) or mixed types: the written product, then the same scan.
    const logits = linear(x, w, null, 'out_in').contiguous();
    const buf = logits.buf;
    for (let r = 0; r < M; r++) out[r] = firstArgmax(buf, logits.offset + r * outF, outF);
    return out;
  }
  if (w.dtype === 'bf16' && x.dtype !== 'f32') throw new Error(`linearArgmax: a bf16 weight ${w.describe()} needs an f32 input, got ${x.describe()}`);
  const wc = w.contiguous();
  const xc = x.contiguous();
  const bq = w.dtype === 'bf16' ? { format: 'bf16' as const, data: wc.data as Uint16Array, off: wc.offset } : undefined;
  backendFor(xc.buf).gemmArgmax(
    {
      transA: false, transB: true, M, N: outF, K: inF, alpha: 1,
      a: xc.buf, aOff: xc.offset, lda: inF,
      b: bq ? xc.buf : wc.buf, bOff: bq ? 0 : wc.offset, ldb: inF, bq,
    },
    out,
  );
  return out;
}

/**
 * A frozen bf16 weight: the GEMM reads the bf16 storage itself (`bq`), widening each element as it loads it, with
 * f32 accumulation — forward and the input gradient alike, so no f32 copy of the weight is made (the native
 * kernels convert in registers or while packing; the TS backend widens into a temporary inside its gemm).
 * bf16 weights take no gradient. Under bf16 autocast the input, bias and output are rounded as linear() rounds
 * them (the weight already is bf16).
 */
function linearBf16Weight(x: Tensor, w: Tensor, b: Tensor | null, layout: 'out_in' | 'in_out'): Tensor {
  if (w.requiresGrad) throw new Error(`linear: bf16 weight ${w.describe()} cannot be trained; keep trainable weights in f32`);
  if (autocastMode() === 'bf16' && x.dtype === 'f32') {
    return withAutocast(null, () => roundBf16(linearBf16Weight(roundBf16(x), w, b ? roundBf16(b) : null, layout)));
  }
  if (x.dtype !== 'f32') throw new Error(`linear: a bf16 weight ${w.describe()} needs an f32 input, got ${x.describe()}`);
  const [inF, outF] = linearDims(x, w, b, layout);
  const wc = w.contiguous();
  const bits = { format: 'bf16' as const, data: wc.data as Uint16Array, off: wc.offset };
  const xc = x.contiguous();
  const N = x.size / inF;
  const out = empty([...x.shape.slice(0, -1), outF], 'f32');
  const wT = layout === 'out_in';
  const bc = b ? (b.dtype === 'f32' ? b : b.to('f32')).contiguous() : undefined;
  backendFor(out.buf).gemm({
    transA: false, transB: wT, M: N, N: outF, K: inF, alpha: 1, beta: 0,
    a: xc.buf, aOff: xc.offset, lda: inF, strideA: 0,
    b: out.buf, bOff: 0, ldb: wT ? inF : outF, strideB: 0,
    c: out.buf, cOff: 0, ldc: outF, strideC: 0, batch: 1, bq: bits,
    ...(bc ? { bias: bc.buf, biasOff: bc.offset } : {}),
  });
  return record(out, 'linear_bf16', [x, null, b], (g) => {
    let xg: Tensor | null = null;
    if (x.requiresGrad) {
      // dX = dY · op(W)ᵀ, reading the bf16 weight in place.
      const gc = g.contiguous();
      xg = empty([...g.shape.slice(0, -1), inF], 'f32');
      backendFor(xg.buf).gemm({
        transA: false, transB: !wT, M: N, N: inF, K: outF, alpha: 1, beta: 0,
        a: gc.buf, aOff: gc.offset, lda: outF, strideA: 0,
        b: xg.buf, bOff: 0, ldb: wT ? inF : outF, strideB: 0,
        c: xg.buf, cOff: 0, ldc: inF, strideC: 0, batch: 1, bq: bits,
      });
    }
    let gb: Tensor | null = null;
    if (b?.requiresGrad) {
      const C = g.shape[g.ndim - 1]!;
      gb = g.contiguous().reshape(g.size / C, C).sum(0);
    }
    return [xg, null, gb];
  });
}

/** dX = dY · op(W)ᵀ for y = x·op(W). */
function linearInputGrad(g: Tensor, w: Tensor, layout: 'out_in' | 'in_out'): Tensor {
  const gc = g.contiguous();
  const [inF, outF] = layout === 'out_in' ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
  const N = gc.size / outF;
  const gx = empty([...g.shape.slice(0, -1), inF], gc.dtype);
  backendFor(gx.buf).gemm({
    transA: false, transB: layout === 'in_out', M: N, N: inF, K: outF, alpha: 1, beta: 0,
    a: gc.buf, aOff: gc.offset, lda: outF, strideA: 0,
    b: w.buf, bOff: w.offset, ldb: layout === 'out_in' ? inF : outF, strideB: 0,
    c: gx.buf, cOff: 0, ldc: inF, strideC: 0, batch: 1,
  });
  return gx;
}

/**
 * acc + alpha · x · wᵀ (w [out, in]), with the product accumulated by the GEMM (beta = 1) into the result's
 * buffer: LoRA's up-projection added to the base layer's output with no product tensor, no scaled copy and no
 * separate sum (and, backward, no scaled gradient copy: alpha goes into the GEMMs).
 *
 * With `inPlace`, the sum is written over acc's own buffer. Only a caller that created acc and drops it may ask
 * (LoRA passes the base layer's fresh output); even then acc is copied when the engine can see another reader:
 * a node saved it, it is kept, it wraps caller-owned memory, it is a leaf that requires a gradient, or it is a
 * view into a larger buffer. Under bf16 autocast this is linear() (bf16 operands and product) plus a sum, as
 * before the fusion.
 */
export function addLinear(acc: Tensor, x: Tensor, w: Tensor, alpha: number, opts: { inPlace?: boolean } = {}): Tensor {
  if (autocastMode() === 'bf16' && x.dtype === 'f32' && w.dtype === 'f32') return acc.add(linear(x, w, null, 'out_in').mul(alpha));
  const dtype = sameFloat(acc, x, 'addLinear');
  sameFloat(x, w, 'addLinear');
  if (w.ndim !== 2) throw new Error(`addLinear: weight must be 2-D, got ${w.describe()}`);
  const [outF, inF] = w.shape as [number, number];
  const N = x.size / inF;
  if (lastDim(x) !== inF || lastDim(acc) !== outF || acc.size !== N * outF) {
    throw new Error(`addLinear: ${acc.describe()} + ${x.describe()} · ${w.describe()}ᵀ do not fit`);
  }
  const st = acc.storage;
  const owned =
    opts.inPlace === true &&
    st.savedRefs === 0 &&
    !st.kept &&
    !st.borrowed &&
    !(acc.isLeaf && acc.requiresGrad) &&
    acc.offset === 0 &&
    acc.isContiguous() &&
    st.length === acc.size;
  const out = owned ? new Tensor(st, [...acc.shape], contiguousStrides(acc.shape), 0) : noGrad(() => acc.contiguous().clone());
  const xc = x.contiguous();
  const wc = w.contiguous();
  const be = backendFor(out.buf);
  be.gemm({
    transA: false, transB: true, M: N, N: outF, K: inF, alpha, beta: 1,
    a: xc.buf, aOff: xc.offset, lda: inF, strideA: 0,
    b: wc.buf, bOff: wc.offset, ldb: inF, strideB: 0,
    c: out.buf, cOff: 0, ldc: outF, strideC: 0, batch: 1,
  });
  return record(
    out,
    'addLinear',
    [acc, x, w],
    (g) => {
      const gc = g.contiguous();
      let gx: Tensor | null = null;
      if (x.requiresGrad) {
        gx = empty([...x.shape.slice(0, -1), inF], dtype);
        be.gemm({
          transA: false, transB: false, M: N, N: inF, K: outF, alpha, beta: 0,
          a: gc.buf, aOff: gc.offset, lda: outF, strideA: 0,
          b: wc.buf, bOff: wc.offset, ldb: inF, strideB: 0,
          c: gx.buf, cOff: 0, ldc: inF, strideC: 0, batch: 1,
        });
      }
      const wt = weightGradTarget(w, true);
      if (wt) {
        // dW [out, in] += alpha · dYᵀ · X (written, not accumulated, when the gradient is new)
        be.gemm({
          transA: true, transB: false, M: outF, N: inF, K: N, alpha, beta: wt.fresh ? 0 : 1,
          a: gc.buf, aOff: gc.offset, lda: outF, strideA: 0,
          b: xc.buf, bOff: xc.offset, ldb: inF, strideB: 0,
          c: wt.buf, cOff: 0, ldc: inF, strideC: 0, batch: 1,
        });
      }
      if (gc !== g) gc.dispose();
      return [acc.requiresGrad ? g : null, gx, wt?.ret ?? null];
    },
    [xc, wc],
  );
}

// ---- embedding -----------------------------------------------------------------------------------------------

/** Rows of `weight` [V, C] picked by integer ids of any shape → [...ids.shape, C]. */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  if (weight.dtype === 'bf16') return embeddingBf16(ids, weight);
  requireFloat(weight, 'embedding');
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be [vocab, dim], got ${weight.describe()}`);
  const [V, C] = weight.shape as [number, number];
  const idx = indexArray(ids, 'embedding ids');
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    if (v < 0 || v >= V) {
      throw new Error(`embedding: id ${v} at position ${i} is out of range for a vocabulary of ${V} (${weight.describe()})`);
    }
  }
  const wc = weight.contiguous();
  const out = empty([...ids.shape, C], weight.dtype);
  const be = backendFor(out.buf);
  be.embeddingForward(idx.length, C, idx, wc.flatBuf(), out.buf);
  return record(out, 'embedding', [null, weight], (g) => {
    const t = weightGradTarget(weight)!;
    be.embeddingBackward(idx.length, C, idx, g.contiguous().flatBuf(), t.buf);
    return [null, t.ret];
  });
}

/** Rows of a frozen bf16 table, widened to f32. */
function embeddingBf16(ids: Tensor, weight: Tensor): Tensor {
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be [vocab, dim], got ${weight.describe()}`);
  const [V, C] = weight.shape as [number, number];
  const idx = indexArray(ids, 'embedding ids');
  const w = weight.contiguous().data as Uint16Array;
  const out = empty([...ids.shape, C], 'f32');
  const o = out.buf as Float32Array;
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    if (v < 0 || v >= V) throw new Error(`embedding: id ${v} at position ${i} is out of range for a vocabulary of ${V} (${weight.describe()})`);
    bf16ToF32(w.subarray(v * C, (v + 1) * C), o.subarray(i * C, (i + 1) * C));
  }
  return out;
}

// ---- norms ---------------------------------------------------------------------------------------------------

export function layerNorm(x: Tensor, w: Tensor | null, b: Tensor | null, eps = 1e-5): Tensor {
  requireFloat(x, 'layerNorm');
  const C = lastDim(x);
  for (const p of [w, b]) {
    if (p && (p.ndim !== 1 || p.shape[0] !== C)) {
      throw new Error(`layerNorm: parameter ${p.describe()} does not match ${C} features of ${x.describe()}`);
    }
  }
  if (!fusedKernels()) return layerNormUnfused(x, w, b, eps);
  const xc = x.contiguous();
  const N = x.size / C;
  const out = empty(x.shape, x.dtype);
  const mean = empty([N], x.dtype);
  const rstd = empty([N], x.dtype);
  const be = backendFor(out.buf);
  const wc = w ? w.contiguous() : null;
  const wb = wc ? wc.flatBuf() : null;
  be.layerNormForward(N, C, eps, xc.flatBuf(), wb, b ? b.contiguous().flatBuf() : null, out.buf, mean.buf, rstd.buf);
  if (!isGradEnabled() || !(x.requiresGrad || w?.requiresGrad || b?.requiresGrad)) {
    mean.dispose();
    rstd.dispose();
    return out;
  }
  return record(
    out,
    'layerNorm',
    [x, w, b],
    (g) => {
      const dx = empty(x.shape, x.dtype);
      const tw = w ? weightGradTarget(w) : null;
      const tb = b ? weightGradTarget(b) : null;
      be.layerNormBackward(N, C, g.contiguous().flatBuf(), xc.flatBuf(), wb, mean.buf, rstd.buf, dx.buf, tw?.buf ?? null, tb?.buf ?? null);
      return [x.requiresGrad ? dx : (dx.dispose(), null), tw?.ret ?? null, tb?.ret ?? null];
    },
    // The backward reads the weight too: save it so backward does not release it early (a non-leaf weight).
    wc ? [xc, wc, mean, rstd] : [xc, mean, rstd],
  );
}

export function rmsNorm(x: Tensor, w: Tensor | null, eps = 1e-6): Tensor {
  requireFloat(x, 'rmsNorm');
  const C = lastDim(x);
  if (w && (w.ndim !== 1 || w.shape[0] !== C)) {
    throw new Error(`rmsNorm: weight ${w.describe()} does not match ${C} features of ${x.describe()}`);
  }
  const xc = x.contiguous();
  const N = x.size / C;
  const out = empty(x.shape, x.dtype);
  const rstd = empty([N], x.dtype);
  const be = backendFor(out.buf);
  const wc = w ? w.contiguous() : null;
  const wb = wc ? wc.flatBuf() : null;
  be.rmsNormForward(N, C, eps, xc.flatBuf(), wb, out.buf, rstd.buf);
  if (!isGradEnabled() || !(x.requiresGrad || w?.requiresGrad)) {
    rstd.dispose();
    return out;
  }
  return record(
    out,
    'rmsNorm',
    [x, w],
    (g) => {
      const dx = empty(x.shape, x.dtype);
      const tw = w ? weightGradTarget(w) : null;
      be.rmsNormBackward(N, C, g.contiguous().flatBuf(), xc.flatBuf(), wb, rstd.buf, dx.buf, tw?.buf ?? null);
      return [x.requiresGrad ? dx : (dx.dispose(), null), tw?.ret ?? null];
    },
    wc ? [xc, wc, rstd] : [xc, rstd],
  );
}

// ---- activations ---------------------------------------------------------------------------------------------

/** GELU; `approximate` = the tanh form GPT-2 uses (HF's gelu_new), else the exact erf form. */
export function gelu(x: Tensor, approximate = true): Tensor {
  requireFloat(x, 'gelu');
  if (!fusedKernels()) {
    const y = geluUnfused(x, approximate);
    if (y) return y;
  }
  const xc = x.contiguous();
  const out = empty(x.shape, x.dtype);
  const be = backendFor(out.buf);
  be.geluForward(x.size, approximate, xc.flatBuf(), out.buf);
  return record(
    out,
    'gelu',
    [x],
    (g) => {
      const dx = empty(x.shape, x.dtype);
      be.geluBackward(x.size, approximate, xc.flatBuf(), g.contiguous().flatBuf(), dx.buf);
      return [dx];
    },
    [xc],
  );
}

export function silu(x: Tensor): Tensor {
  requireFloat(x, 'silu');
  const xc = x.contiguous();
  const out = empty(x.shape, x.dtype);
  const be = backendFor(out.buf);
  be.siluForward(x.size, xc.flatBuf(), out.buf);
  return record(
    out,
    'silu',
    [x],
    (g) => {
      const dx = empty(x.shape, x.dtype);
      be.siluBackward(x.size, xc.flatBuf(), g.contiguous().flatBuf(), dx.buf);
      return [dx];
    },
    [xc],
  );
}

/** Softmax along the last dim. */
export function softmax(x: Tensor): Tensor {
  requireFloat(x, 'softmax');
  const C = lastDim(x);
  const N = x.size / Math.max(C, 1);
  const xc = x.contiguous();
  const out = empty(x.shape, x.dtype);
  const be = backendFor(out.buf);
  be.softmaxForward(N, C, xc.flatBuf(), out.buf);
  return record(
    out,
    'softmax',
    [x],
    (g) => {
      const dx = empty(x.shape, x.dtype);
      be.softmaxBackward(N, C, out.buf, g.contiguous().flatBuf(), dx.buf);
      return [dx];
    },
    [out],
  );
}

// ---- loss ----------------------------------------------------------------------------------------------------

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of logits [..., V] against integer targets [...] (target-aligned: targets[i] is the label of
 * logits[i]; shift labels yourself when building them from inputs). Rows whose target is `ignoreIndex`
 * (default -100) count for nothing; 'mean' divides by the number of counted rows.
 *
 * Memory: no softmax is stored. In backward, when the logits were created inside a tidy() scope and nothing
 * else needs them, the gradient is written over the logits buffer itself (reading them afterwards is an error).
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  requireFloat(logits, 'crossEntropy');
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  const V = lastDim(logits);
  const N = logits.size / V;
  const expected = logits.shape.slice(0, -1);
  if (targets.size !== N || numel(expected) !== targets.size) {
    throw new Error(
      `crossEntropy: targets ${targets.describe()} do not match logits ${logits.describe()} (expected ${fmtShape(expected)})`,
    );
  }
  const tgt = indexArray(targets, 'crossEntropy targets');
  let count = 0;
  for (let i = 0; i < N; i++) {
    const t = tgt[i]!;
    if (t === ignoreIndex) continue;
    if (t < 0 || t >= V) {
      throw new Error(`crossEntropy: target ${t} at position ${i} is out of range for ${V} classes (ignoreIndex ${ignoreIndex})`);
    }
    count++;
  }
  if (!fusedKernels()) {
    const y = crossEntropyUnfused(logits, tgt, ignoreIndex, reduction);
    if (y) return y;
  }
  const lc = logits.contiguous();
  const losses = empty([N], logits.dtype);
  const lse = empty([N], logits.dtype);
  const be = backendFor(losses.buf);
  be.crossEntropyForward(N, V, ignoreIndex, lc.flatBuf(), tgt, losses.buf, lse.buf);

  let out: Tensor;
  if (reduction === 'none') {
    out = losses.reshape(expected);
  } else {
    let s = 0;
    for (let i = 0; i < N; i++) s += losses.buf[i]!;
    out = empty([], logits.dtype);
    out.buf[0] = reduction === 'mean' ? s / count : s;
    losses.dispose();
  }
  return record(
    out,
    'crossEntropy',
    [lc],
    (g, ctx: BackwardContext) => {
      const scale = empty([N], logits.dtype);
      const gb = g.contiguous().flatBuf();
      for (let i = 0; i < N; i++) {
        scale.buf[i] = reduction === 'none' ? gb[i]! : reduction === 'mean' ? gb[0]! / count : gb[0]!;
      }
      const st = lc.storage;
      // Only an intermediate's buffer (never a leaf's, whose values the user owns) may be overwritten.
      const inPlace = !lc.isLeaf && st.savedRefs === 1 && st.scope !== null && !st.kept && lc.offset === 0 && st.length === lc.size;
      let dl: Tensor;
      if (inPlace) {
        // Overwrite the logits with their gradient: no second logits-sized buffer.
        ctx.saved = ctx.saved.filter((t) => t !== lc);
        st.savedRefs--;
        dl = new Tensor(st.transfer(), [...lc.shape], contiguousStrides(lc.shape), 0);
        be.crossEntropyBackward(N, V, ignoreIndex, dl.buf, tgt, lse.buf, scale.buf, dl.buf);
      } else {
        dl = empty(lc.shape, logits.dtype);
        be.crossEntropyBackward(N, V, ignoreIndex, lc.flatBuf(), tgt, lse.buf, scale.buf, dl.buf);
      }
      scale.dispose();
      return [dl];
    },
    [lc, lse],
  );
}

// ---- attention -----------------------------------------------------------------------------------------------

export interface AttentionOptions {
  /** Causal masking with queries as the last T of S key positions (default true). */
  causal?: boolean;
  /** Sliding window size (Mistral); 0 = none. */
  window?: number;
  /** Additive mask broadcastable to [B, T, S] (0 = keep, -Infinity = drop); a [B,1,T,S] head dim of 1 is accepted. */
  mask?: Tensor | null;
  /** Multiplier of q·k; default 1/sqrt(D). */
  scale?: number;
}

function attnView(t: Tensor): AttnView {
  return { data: t.buf, off: t.offset, sb: t.strides[0]!, sh: t.strides[1]!, st: t.strides[2]! };
}

/** A view whose last dim has stride 1 (the kernel's requirement), copying only if needed. */
function lastDimContiguous(t: Tensor): Tensor {
  return t.strides[t.ndim - 1] === 1 || t.shape[t.ndim - 1] === 1 ? t : t.contiguous();
}

/**
 * Scaled-dot-product attention. q [B, H, T, D]; k, v [B, Hkv, S, D] with H a multiple of Hkv (grouped-query).
 * Views (slices of a fused qkv projection, a KV cache's filled part) are read in place.
 * Returns [B, H, T, D], stored as [B, T, H, D] (so `.transpose(1, 2)` is contiguous).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const dtype = sameFloat(q, k, 'attention');
  sameFloat(q, v, 'attention');
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new Error(`attention: q, k, v must be 4-D [B, heads, len, dim]; got ${q.describe()}, ${k.describe()}, ${v.describe()}`);
  }
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const [Bk, Hkv, S, Dk] = k.shape as [number, number, number, number];
  if (Bk !== B || Dk !== D || v.shape[0] !== B || v.shape[1] !== Hkv || v.shape[2] !== S || v.shape[3] !== D) {
    throw new Error(`attention: shapes do not agree: q ${q.describe()}, k ${k.describe()}, v ${v.describe()}`);
  }
  if (H % Hkv !== 0) throw new Error(`attention: ${H} query heads are not a multiple of ${Hkv} key/value heads`);
  if (S < T && (opts.causal ?? true)) throw new Error(`attention: causal attention needs at least as many keys (${S}) as queries (${T})`);
  if (!fusedKernels()) {
    const o = { causal: opts.causal ?? true, window: opts.window ?? 0, scale: opts.scale ?? 1 / Math.sqrt(D), hasMask: !!opts.mask };
    const y = attentionUnfused(q, k, v, o);
    if (y) return y;
  }
  const qv = lastDimContiguous(q),
    kv = lastDimContiguous(k),
    vv = lastDimContiguous(v);
  let mask: { data: Buf; off: number; sb: number; st: number } | null = null;
  let maskT: Tensor | null = null;
  if (opts.mask) {
    let m = opts.mask;
    if (m.ndim === 4) {
      if (m.shape[1] !== 1) throw new Error(`attention: a 4-D mask must have 1 head dim, got ${m.describe()}`);
      m = m.squeeze(1);
    }
    while (m.ndim < 3) m = m.unsqueeze(0);
    sameFloat(q, m, 'attention mask');
    const ok = (m.shape[0] === B || m.shape[0] === 1) && (m.shape[1] === T || m.shape[1] === 1) && m.shape[2] === S;
    if (!ok) throw new Error(`attention: mask ${opts.mask.describe()} does not broadcast to [B=${B}, T=${T}, S=${S}]`);
    m = lastDimContiguous(m);
    maskT = m;
    mask = {
      data: m.buf,
      off: m.offset,
      sb: m.shape[0] === 1 ? 0 : m.strides[0]!,
      st: m.shape[1] === 1 ? 0 : m.strides[1]!,
    };
  }
  const p = {
    B, H, Hkv, T, S, D,
    scale: opts.scale ?? 1 / Math.sqrt(D),
    causal: opts.causal ?? true,
    window: opts.window ?? 0,
    q: attnView(qv), k: attnView(kv), v: attnView(vv), mask,
  };
  // The output is laid out [B, T, H, D] and shown as [B, H, T, D]: transposing back to merge heads is then free.
  const out = new Tensor(empty([B, T, H, D], dtype).storage, [B, H, T, D], [T * H * D, D, H * D, 1], 0);
  const lse = empty([B, H, T], dtype);
  const be = backendFor(out.buf);
  be.attentionForward(p, attnView(out), lse.buf);
  if (!isGradEnabled() || !(q.requiresGrad || k.requiresGrad || v.requiresGrad)) {
    lse.dispose();
    return out;
  }
  const saved = [qv, kv, vv, out, lse];
  if (maskT) saved.push(maskT);
  return record(
    out,
    'attention',
    [qv, kv, vv],
    (g) => {
      const dq = empty([B, H, T, D], dtype);
      const dk = empty([B, Hkv, S, D], dtype);
      const dv = empty([B, Hkv, S, D], dtype);
      be.attentionBackward(p, attnView(out), lse.buf, attnView(lastDimContiguous(g)), attnView(dq), attnView(dk), attnView(dv));
      return [dq, dk, dv];
    },
    saved,
  );
}

// ---- rotary embeddings ---------------------------------------------------------------------------------------

/**
 * Rotary position embedding (rotate-half convention) of x [B, T, H, D] at positions pos (Int32Array of B*T, or
 * of T shared by the batch); cos/sin tables [P, D/2] (f32 or f64, matching x).
 */
export function rope(x: Tensor, pos: Int32Array, cos: Tensor, sin: Tensor): Tensor {
  requireFloat(x, 'rope');
  if (x.ndim !== 4) throw new Error(`rope: x must be [B, T, heads, dim], got ${x.describe()}`);
  const [B, T, H, D] = x.shape as [number, number, number, number];
  if (D % 2 !== 0) throw new Error(`rope: head dim ${D} must be even`);
  if (pos.length !== B * T && pos.length !== T) {
    throw new Error(`rope: ${pos.length} positions for B=${B}, T=${T} (need ${B * T} or ${T})`);
  }
  if (cos.ndim !== 2 || cos.shape[1] !== D / 2 || sin.ndim !== 2 || sin.shape[0] !== cos.shape[0] || sin.shape[1] !== D / 2) {
    throw new Error(`rope: cos ${cos.describe()} and sin ${sin.describe()} must both be [positions, ${D / 2}] (half the head dim of ${x.describe()})`);
  }
  const P = cos.shape[0]!;
  const rowPos = new Int32Array(B * T * H);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const p = pos.length === T ? pos[t]! : pos[b * T + t]!;
      if (p < 0 || p >= P) throw new Error(`rope: position ${p} outside the table of ${P} positions`);
      rowPos.fill(p, (b * T + t) * H, (b * T + t + 1) * H);
    }
  }
  const xc = x.contiguous();
  const out = empty(x.shape, x.dtype);
  const be = backendFor(out.buf);
  const cb = cos.contiguous().flatBuf(),
    sb = sin.contiguous().flatBuf();
  be.rope(B * T * H, D, xc.buf, xc.offset, rowPos, cb, sb, false, out.buf, 0);
  return record(out, 'rope', [x], (g) => {
    const gc = g.contiguous();
    const dx = empty(x.shape, x.dtype);
    be.rope(B * T * H, D, gc.buf, gc.offset, rowPos, cb, sb, true, dx.buf, 0);
    return [dx];
  });
}

// ---- dropout -------------------------------------------------------------------------------------------------

/** Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p). Identity when p = 0. */
export function dropout(x: Tensor, p: number, rng: Philox): Tensor {
  requireFloat(x, 'dropout');
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const mask = empty(x.shape, x.dtype);
  rng.fillDropoutMask(mask.buf, p);
  const out = empty(x.shape, x.dtype);
  const be = backendFor(out.buf);
  be.binary('mul', x.shape, x.stridedView(), mask.stridedView(), out.buf, 0);
  return record(
    out,
    'dropout',
    [x],
    (g) => {
      const dx = empty(x.shape, x.dtype);
      be.binary('mul', x.shape, g.stridedView(), mask.stridedView(), dx.buf, 0);
      return [dx];
    },
    [mask],
  );
}

// ---- joining and indexing ------------------------------------------------------------------------------------

/** Concatenate along a dim (all other dims equal). */
export function cat(tensors: Tensor[], dim: number): Tensor {
  if (tensors.length === 0) throw new Error('cat: no tensors');
  const first = tensors[0]!;
  const nd = first.ndim;
  const d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd) throw new Error(`cat: dim ${dim} out of range for ${first.describe()}`);
  let total = 0;
  for (const t of tensors) {
    sameFloat(first, t, 'cat');
    if (t.ndim !== nd || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(`cat: shapes differ outside dim ${d}: ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`);
    }
    total += t.shape[d]!;
  }
  const shape = [...first.shape];
  shape[d] = total;
  const out = empty(shape, first.dtype);
  const be = backendFor(out.buf);
  let at = 0;
  const starts: number[] = [];
  for (const t of tensors) {
    starts.push(at);
    const dst = sliceOp(out.detach(), d, at, at + t.shape[d]!, 1);
    be.copyStrided(t.shape, t.stridedView(), dst.stridedView());
    at += t.shape[d]!;
  }
  return record(out, 'cat', tensors, (g) =>
    tensors.map((t, i) => (t.requiresGrad ? sliceOp(g, d, starts[i]!, starts[i]! + t.shape[d]!, 1) : null)),
  );
}

/** Pick entries along a dim by integer indices: out.shape = x.shape with dim replaced by idx.size. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  requireFloat(x, 'indexSelect');
  const d = dim < 0 ? dim + x.ndim : dim;
  if (d < 0 || d >= x.ndim) throw new Error(`indexSelect: dim ${dim} out of range for ${x.describe()}`);
  const idx = indexArray(index, 'indexSelect index');
  const n = x.shape[d]!;
  for (let i = 0; i < idx.length; i++) {
    if (idx[i]! < -n || idx[i]! >= n) throw new Error(`indexSelect: index ${idx[i]} out of range for dim ${d} of ${x.describe()}`);
  }
  const norm = Int32Array.from(idx, (v) => (v < 0 ? v + n : v));
  const xc = x.contiguous();
  const outer = numel(x.shape.slice(0, d)),
    inner = numel(x.shape.slice(d + 1));
  const shape = [...x.shape];
  shape[d] = norm.length;
  const out = empty(shape, x.dtype);
  const src = xc.buf,
    dst = out.buf;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < norm.length; i++) {
      const from = xc.offset + (o * n + norm[i]!) * inner;
      dst.set(src.subarray(from, from + inner), (o * norm.length + i) * inner);
    }
  }
  return record(out, 'indexSelect', [x], (g) => {
    const gc = g.contiguous().flatBuf();
    const gx = empty(x.shape, x.dtype, true);
    const gb = gx.buf;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < norm.length; i++) {
        const to = (o * n + norm[i]!) * inner,
          from = (o * norm.length + i) * inner;
        for (let j = 0; j < inner; j++) gb[to + j]! += gc[from + j]!;
      }
    }
    return [gx];
  });
}
