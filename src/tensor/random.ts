/** Random tensors drawn from a Philox stream (rng.ts), so every draw is reproducible from seed and stream. */
import type { Philox } from './rng.js';
import { empty, type CreateOptions, type Shape, type Tensor } from './tensor.js';

/** Standard normal (or N(mean, std²)) values. */
export function randn(shape: Shape, rng: Philox, opts: CreateOptions & { mean?: number; std?: number } = {}): Tensor {
  const dtype = opts.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f64') throw new Error(`randn: dtype must be f32 or f64, got ${dtype}`);
  const t = empty(shape, dtype);
  rng.fillNormal(t.buf, opts.mean ?? 0, opts.std ?? 1);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Uniform values in [low, high) (default [0, 1)). */
export function rand(shape: Shape, rng: Philox, opts: CreateOptions & { low?: number; high?: number } = {}): Tensor {
  const dtype = opts.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f64') throw new Error(`rand: dtype must be f32 or f64, got ${dtype}`);
  const t = empty(shape, dtype);
  rng.fillUniform(t.buf, opts.low ?? 0, opts.high ?? 1);
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Integers in [low, high) as i32 (default) or i64. */
export function randint(low: number, high: number, shape: Shape, rng: Philox, opts: { dtype?: 'i32' | 'i64' } = {}): Tensor {
  if (!(high > low)) throw new Error(`randint: high (${high}) must exceed low (${low})`);
  const t = empty(shape, 'i32');
  rng.fillRandint(t.data as Int32Array, low, high);
  return opts.dtype === 'i64' ? t.to('i64') : t;
}
