import { expect } from 'vitest';
import { createRng, fromArray, noGrad, type Tensor } from '../../src/tensor/index.js';

/**
 * Central finite-difference check in float64 of every input's gradient for loss = Σ f(inputs) ⊙ W, W a fixed
 * random weighting (so every output element matters with a different weight).
 */
export function gradcheck(
  name: string,
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { h?: number; tol?: number; seed?: number } = {},
): void {
  const h = opts.h ?? 1e-6;
  const tol = opts.tol ?? 1e-6;
  const rng = createRng(opts.seed ?? 7, 'gradcheck');
  for (const x of inputs) if (x.dtype !== 'f64') throw new Error(`gradcheck ${name}: inputs must be f64`);
  const out0 = f(...inputs);
  const w = fromArray(rng.fillUniform(new Float64Array(out0.size), -1, 1), out0.shape);
  const lossOf = (): number => noGrad(() => (f(...inputs).mul(w).sum().item()));
  for (const x of inputs) x.grad = null;
  out0.mul(w).sum().backward();
  for (const [k, x] of inputs.entries()) {
    if (!x.requiresGrad) continue;
    const analytic = x.grad ? (x.grad.toFlat() as Float64Array) : new Float64Array(x.size);
    const data = x.data as Float64Array;
    // Walk the tensor's own elements (it may be a view).
    const flatIdx: number[] = [];
    const walk = (d: number, off: number): void => {
      if (d === x.ndim) return void flatIdx.push(off);
      for (let i = 0; i < x.shape[d]!; i++) walk(d + 1, off + i * x.strides[d]!);
    };
    walk(0, x.offset);
    let num = 0,
      den = 0;
    flatIdx.forEach((off, i) => {
      const keep = data[off]!;
      data[off] = keep + h;
      const up = lossOf();
      data[off] = keep - h;
      const down = lossOf();
      data[off] = keep;
      const fd = (up - down) / (2 * h);
      num += (fd - analytic[i]!) ** 2;
      den += fd ** 2;
    });
    const rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
    expect(rel, `${name}: gradient of input ${k} (${x.describe()}) relative error`).toBeLessThan(tol);
  }
}

/** A random f64 leaf requiring grad. */
export function rnd(shape: number[], seed: number, opts: { low?: number; high?: number; grad?: boolean } = {}): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = fromArray(createRng(seed, 'test').fillUniform(new Float64Array(n), opts.low ?? -1, opts.high ?? 1), shape);
  if (opts.grad ?? true) t.requiresGrad_(true);
  return t;
}
