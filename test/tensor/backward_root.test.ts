import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/tensor/index.js';

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
});
