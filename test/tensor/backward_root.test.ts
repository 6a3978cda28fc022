import { describe, expect, it } from 'vitest';
import { linear, ones, tensor } from '../../src/tensor/index.js';

describe('backward() from its root', () => {
  it('a second backward through a used graph is an error even when the root sits right on the leaves', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const y = x.sum();
    y.backward();
    expect(() => y.backward()).toThrow(/already used.*sum/);
    expect(x.grad!.toArray()).toEqual([1, 1, 1]);
  });
  it('backward on a leaf gives it its gradient, as PyTorch does', () => {
    const x = tensor(3, { requiresGrad: true });
    x.backward();
    expect(x.grad!.item()).toBe(1);
    const v = tensor([1, 2], { requiresGrad: true });
    v.backward(tensor([0.5, -2]));
    v.backward(tensor([0.5, 1]));
    expect(v.grad!.toArray()).toEqual([1, -1]);
  });
  it('a gradient of another dtype than the root is a clear error before anything runs', () => {
    const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    expect(() => x.reshape(4).backward(ones([4], { dtype: 'f64' }))).toThrow(/gradient f64 \[4\] does not match f32 \[4\]/);
    expect(x.grad).toBeNull();
    const w = tensor([[1, 0], [0, 1]], { requiresGrad: true });
    expect(() => linear(x, w, null).backward(ones([2, 2], { dtype: 'f64' }))).toThrow(/gradient f64 \[2, 2\] does not match f32 \[2, 2\]/);
    expect(w.grad).toBeNull();
  });
});
