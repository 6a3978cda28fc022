/**
 * The tensor library's public surface: Tensor and its creation functions, autograd controls, neural-network
 * ops, memory scopes and backend selection.
 */
import { enterScope, exitScope, type Storage } from './storage.js';
import { Tensor } from './tensor.js';

export {
  Tensor,
  tensor,
  fromArray,
  empty,
  zeros,
  ones,
  full,
  zerosLike,
  arange,
  indexArray,
  numel,
  contiguousStrides,
  fmtShape,
  type Shape,
  type NestedArray,
} from './tensor.js';
export { noGrad, isGradEnabled, setGradEnabled } from './autograd.js';
export {
  linear,
  addLinear,
  embedding,
  layerNorm,
  rmsNorm,
  gelu,
  silu,
  softmax,
  crossEntropy,
  scaledDotProductAttention,
  rope,
  dropout,
  cat,
  indexSelect,
  type AttentionOptions,
  type CrossEntropyOptions,
} from './nn_ops.js';
export { fusedKernels, setFusedKernels } from './unfused.js';
export { pool, Storage } from './storage.js';
export { randn, rand, randint } from './random.js';
export { createRng, Philox, type RngState } from './rng.js';
export { getBackend, setBackend, tsBackend } from './backends.js';
export { firstArgmax } from './ts_backend/reduce.js';
export type { Backend } from './backend.js';
export type { BackwardOptions } from './autograd.js';
export type { DType, FloatDType } from './dtype.js';

/**
 * Run fn in a memory scope: every tensor created inside and not returned (or kept with .keep()) has its memory
 * returned to the pool when fn ends. Inside a scope, backward() also frees saved activations as soon as they
 * are used — so read what you need (e.g. logits) before backward, or keep() it. Returned tensors may be a
 * Tensor, or arrays / plain objects holding Tensors.
 */
export function tidy<T>(fn: () => T): T {
  const scope = enterScope();
  let result: T;
  try {
    result = fn();
  } catch (err) {
    exitScope(scope, new Set());
    throw err;
  }
  const keep = new Set<Storage>();
  collectStorages(result, keep, 0);
  exitScope(scope, keep);
  return result;
}

function collectStorages(v: unknown, into: Set<Storage>, depth: number): void {
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (v instanceof Tensor) {
    into.add(v.storage);
    if (v.grad) into.add(v.grad.storage);
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) collectStorages(x, into, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(v) === Object.prototype || v instanceof Map) {
    const vals = v instanceof Map ? [...v.values()] : Object.values(v);
    for (const x of vals) collectStorages(x, into, depth + 1);
  }
}
