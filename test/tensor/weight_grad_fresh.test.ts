import { describe, expect, it } from 'vitest';
import { addLinear, fromArray, linear, pool } from '../../src/tensor/index.js';

// A new weight gradient is written by its GEMM (beta = 0) instead of zero-filled and accumulated into: the
// buffer comes unzeroed from the pool, so garbage left there must never reach the gradient, and a second
// backward must still accumulate.
function poisonPool(...sizes: number[]): void {
  for (const n of sizes) for (let i = 0; i < 4; i++) pool.put('f32', new Float32Array(n).fill(Number.NaN));
}

describe('fresh weight gradients', () => {
  for (const layout of ['out_in', 'in_out'] as const) {
    it(`linear (${layout}): exact gradients from a pool full of NaN, accumulated on a second backward`, () => {
      const x = fromArray(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
      const wData = Float32Array.of(0.5, -1, 2, 0.25, 1, -0.5);
      const w = fromArray(wData, layout === 'out_in' ? [2, 3] : [3, 2]).requiresGrad_();
      const b = fromArray(Float32Array.of(0.1, -0.2), [2]).requiresGrad_();
      poisonPool(6, 2);
      linear(x, w, b, layout).sum().backward();
      // d(sum)/dW[o][i] = Σ_rows x[r][i]: 5, 7, 9 for every output; d/db = number of rows.
      const colSums = [5, 7, 9];
      const expectW = layout === 'out_in' ? [...colSums, ...colSums] : colSums.flatMap((v) => [v, v]);
      expect([...(w.grad!.toFlat() as Float32Array)]).toEqual(expectW);
      expect([...(b.grad!.toFlat() as Float32Array)]).toEqual([2, 2]);
      linear(x, w, b, layout).sum().backward();
      expect([...(w.grad!.toFlat() as Float32Array)]).toEqual(expectW.map((v) => 2 * v));
      expect([...(b.grad!.toFlat() as Float32Array)]).toEqual([4, 4]);
    });
  }

  it('addLinear: the same for its weight', () => {
    const acc = fromArray(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const x = fromArray(Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
    const w = fromArray(Float32Array.of(0.5, -1, 2, 0.25, 1, -0.5), [2, 3]).requiresGrad_();
    poisonPool(6);
    addLinear(acc, x, w, 2).sum().backward();
    expect([...(w.grad!.toFlat() as Float32Array)]).toEqual([10, 14, 18, 10, 14, 18]);
    addLinear(acc, x, w, 2).sum().backward();
    expect([...(w.grad!.toFlat() as Float32Array)]).toEqual([20, 28, 36, 20, 28, 36]);
  });
});
