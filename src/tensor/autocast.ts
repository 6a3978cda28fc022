/**
 * bf16 autocast, as PyTorch's CPU autocast treats linear layers: their inputs and weights are rounded to bf16
 * and their outputs rounded back, the product itself accumulating in f32. Everything else (attention, norms,
 * the loss, the optimizer and master weights) stays f32. Gradients pass through the roundings unchanged (the
 * backward of a cast), so weight gradients and updates are f32.
 *
 * This reproduces bf16 training's numerics; it is not faster here until the bf16 GEMM kernels exist.
 */
import { record } from './autograd.js';
import { roundToBf16 } from './half.js';
import { empty, type Tensor } from './tensor.js';

let mode: 'bf16' | null = null;

export function autocastMode(): 'bf16' | null {
  return mode;
}

/** Run fn with bf16 autocast on (or off with null); restores the previous mode. */
export function withAutocast<T>(m: 'bf16' | null, fn: () => T): T {
  const prev = mode;
  mode = m;
  try {
    return fn();
  } finally {
    mode = prev;
  }
}

/** Values rounded to the nearest bf16 (kept in f32); the gradient passes through unchanged. */
export function roundBf16(x: Tensor): Tensor {
  if (x.dtype !== 'f32') throw new Error(`roundBf16: needs an f32 tensor, got ${x.describe()}`);
  const out = empty(x.shape, 'f32');
  roundToBf16(x.contiguous().flatBuf() as Float32Array, out.buf as Float32Array);
  return record(out, 'round_bf16', [x], (g) => [g]);
}
