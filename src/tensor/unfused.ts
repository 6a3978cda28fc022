/**
 * Unfused twins of the fused NN kernels, built only from the primitive ops (elementwise, reductions, matmul),
 * the way a framework without fused kernels runs them: every intermediate is a tensor of its own, written out
 * and read back. They exist for one question — what the fused kernels are worth — which `fintune bench
 * --ablation` answers by running the same training step with `FINTUNE_UNFUSED=1` (or `setFusedKernels(false)`).
 *
 * Each function covers the cases GPT-2 training uses and returns null for anything else, so the caller falls
 * back to the fused kernel (the ablation then measures slightly less than everything, never something wrong).
 */
import { indexSelect } from './nn_ops.js';
import { fromArray, type Tensor } from './tensor.js';
import type { Backend, Buf } from './backend.js';

let fused = process.env.FINTUNE_UNFUSED !== '1';

/** Whether layer norm, GELU, cross-entropy, attention and AdamW use their fused kernels (default true). */
export function fusedKernels(): boolean {
  return fused;
}

/** Switch the fused kernels off (for the ablation) or back on; returns the previous setting. */
export function setFusedKernels(on: boolean): boolean {
  const prev = fused;
  fused = on;
  return prev;
}

/** mean, centre, variance, rsqrt, scale, shift: six passes where the fused kernel makes one. */
export function layerNormUnfused(x: Tensor, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  const xc = x.sub(x.mean(-1, true));
  let y = xc.mul(xc.square().mean(-1, true).add(eps).rsqrt());
  if (w) y = y.mul(w);
  if (b) y = y.add(b);
  return y;
}

/** The tanh approximation written out term by term (GPT-2's gelu_new); null for the exact erf form. */
export function geluUnfused(x: Tensor, approximate: boolean): Tensor | null {
  if (!approximate) return null;
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(inner.tanh().add(1));
}

/**
 * log-softmax materialized over the whole vocabulary, then the target entries picked and averaged: two extra
 * logits-sized tensors (and their gradients) where the fused kernel keeps none. Mean or sum reduction only.
 */
export function crossEntropyUnfused(
  logits: Tensor,
  targets: Int32Array,
  ignoreIndex: number,
  reduction: 'mean' | 'sum' | 'none',
): Tensor | null {
  if (reduction === 'none') return null;
  const V = logits.shape[logits.ndim - 1]!;
  const N = logits.size / V;
  const flat = logits.reshape([N, V]);
  const m = flat.max(-1, true).detach(); // the shift cancels in the gradient
  const lse = flat.sub(m).exp().sum(-1, true).log().add(m);
  const logp = flat.sub(lse);
  const picks: number[] = [];
  for (let i = 0; i < N; i++) if (targets[i] !== ignoreIndex) picks.push(i * V + targets[i]!);
  const picked = indexSelect(logp.reshape([N * V]), 0, fromArray(Int32Array.from(picks), [picks.length]));
  const total = picked.sum().neg();
  return reduction === 'mean' ? total.div(picks.length) : total;
}

/**
 * Scores, mask, softmax and weighted sum as separate tensors ([B, H, T, S] twice, plus their gradients): the
 * classic attention. Plain multi-head causal or non-causal attention without a mask or window; null otherwise.
 * The result keeps the fused kernel's storage order ([B, T, H, D] shown as [B, H, T, D]).
 */
export function attentionUnfused(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: { causal: boolean; window: number; scale: number; hasMask: boolean },
): Tensor | null {
  const [, H, T] = q.shape as [number, number, number, number];
  const S = k.shape[2]!;
  if (k.shape[1] !== H || o.window > 0 || o.hasMask) return null;
  let scores = q.matmul(k.T).mul(o.scale);
  if (o.causal) {
    const mask = new Float32Array(T * S);
    for (let i = 0; i < T; i++) for (let j = i + S - T + 1; j < S; j++) mask[i * S + j] = -Infinity;
    scores = scores.add(fromArray(q.dtype === 'f64' ? Float64Array.from(mask) : mask, [T, S]));
  }
  const e = scores.sub(scores.max(-1, true).detach()).exp();
  const y = e.div(e.sum(-1, true)).matmul(v);
  return y.transpose(1, 2).contiguous().transpose(1, 2);
}

/**
 * torch.optim.AdamW's for-each path, one pass per term (decay, both moments, square root, division, update)
 * through the backend's elementwise kernels with two scratch buffers, instead of one fused pass.
 */
export function adamwUnfused(
  be: Backend,
  n: number,
  p: Buf,
  g: Buf,
  m: Buf,
  v: Buf,
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd: number,
  step: number,
): void {
  const shape = [n];
  const view = (data: Buf) => ({ data, offset: 0, strides: [1] });
  const t1 = p instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  const t2 = p instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  be.affine(shape, view(p), 1 - lr * wd, 0, p, 0); // decoupled weight decay
  be.affine(shape, view(m), b1, 0, m, 0);
  be.axpy(n, 1 - b1, g, 0, m, 0);
  be.binary('mul', shape, view(g), view(g), t1, 0);
  be.affine(shape, view(v), b2, 0, v, 0);
  be.axpy(n, 1 - b2, t1, 0, v, 0);
  const bc1 = 1 - b1 ** step,
    bc2 = 1 - b2 ** step;
  be.unary('sqrt', shape, view(v), t1, 0);
  be.affine(shape, view(t1), 1 / Math.sqrt(bc2), eps, t1, 0);
  be.binary('div', shape, view(m), view(t1), t2, 0);
  be.axpy(n, -lr / bc1, t2, 0, p, 0);
}
